/**
 * Bearer-token authentication for the twin's API: each kubeconfig user the twin writes and each
 * ServiceAccount whose pods run gets a random opaque token that maps to its identity (a real
 * cluster's service-account tokens are signed JWTs; the twin's are not, but name the same user and
 * groups). A request without a token is the anonymous user; a token the twin did not issue is
 * refused (401).
 */
import { randomBytes } from 'node:crypto';
import { ANONYMOUS, AUTHENTICATED, serviceAccountUser, type UserInfo } from './rbac.ts';

/** What a request's Authorization header names: a user, nobody (anonymous), or a token nobody has. */
export type Authentication = { kind: 'user'; user: UserInfo } | { kind: 'anonymous'; user: UserInfo } | { kind: 'invalid' };

/** The tokens the twin issued and whom each names. */
export class TokenAuthenticator {
  #users = new Map<string, UserInfo>();
  #serviceAccounts = new Map<string, string>();

  /** Issues a new token for `user` (who always gets system:authenticated, as every authenticated user does). */
  issue(user: UserInfo): string {
    const token = randomBytes(24).toString('base64url');
    const groups = user.groups.includes(AUTHENTICATED) ? user.groups : [...user.groups, AUTHENTICATED];
    this.#users.set(token, { name: user.name, groups });
    return token;
  }

  /** The token of a ServiceAccount (issued once per account). */
  serviceAccountToken(namespace: string, name: string): string {
    const key = `${namespace}/${name}`;
    let token = this.#serviceAccounts.get(key);
    if (!token) {
      token = this.issue(serviceAccountUser(namespace, name));
      this.#serviceAccounts.set(key, token);
    }
    return token;
  }

  /** Who an `Authorization` header names. Only `Bearer` is accepted; anything else is invalid. */
  authenticate(header: string | undefined): Authentication {
    if (header === undefined || header.trim() === '') return { kind: 'anonymous', user: ANONYMOUS };
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    const user = match ? this.#users.get(match[1]) : undefined;
    return user ? { kind: 'user', user } : { kind: 'invalid' };
  }
}
