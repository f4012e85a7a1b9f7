/** Bearer tokens: whom each names, the anonymous user, and tokens nobody was issued. */
import { describe, expect, it } from 'vitest';
import { TokenAuthenticator } from '../../../../harness/twin/kube/authn.ts';

describe('TokenAuthenticator', () => {
  it('names the issued user, with system:authenticated added once', () => {
    const tokens = new TokenAuthenticator();
    const admin = tokens.issue({ name: 'twin', groups: ['system:masters'] });
    const other = tokens.issue({ name: 'restricted', groups: ['readers', 'system:authenticated'] });
    expect(admin).not.toBe(other);
    expect(tokens.authenticate(`Bearer ${admin}`)).toEqual({ kind: 'user', user: { name: 'twin', groups: ['system:masters', 'system:authenticated'] } });
    expect(tokens.authenticate(`bearer   ${other}`)).toEqual({ kind: 'user', user: { name: 'restricted', groups: ['readers', 'system:authenticated'] } });
  });

  it('treats no header as anonymous and anything else unknown as invalid', () => {
    const tokens = new TokenAuthenticator();
    const token = tokens.issue({ name: 'twin', groups: [] });
    expect(tokens.authenticate(undefined)).toEqual({ kind: 'anonymous', user: { name: 'system:anonymous', groups: ['system:unauthenticated'] } });
    expect(tokens.authenticate('')).toMatchObject({ kind: 'anonymous' });
    expect(tokens.authenticate('Bearer nope')).toEqual({ kind: 'invalid' });
    expect(tokens.authenticate(`Basic ${token}`)).toEqual({ kind: 'invalid' });
    expect(tokens.authenticate(`Bearer ${token} extra`)).toEqual({ kind: 'invalid' });
  });

  it('gives a ServiceAccount one token, naming the account and its groups', () => {
    const tokens = new TokenAuthenticator();
    const sa = tokens.serviceAccountToken('ingress-nginx', 'ingress-nginx');
    expect(tokens.serviceAccountToken('ingress-nginx', 'ingress-nginx')).toBe(sa);
    expect(tokens.serviceAccountToken('shop', 'ingress-nginx')).not.toBe(sa);
    expect(tokens.authenticate(`Bearer ${sa}`)).toEqual({
      kind: 'user',
      user: { name: 'system:serviceaccount:ingress-nginx:ingress-nginx', groups: ['system:serviceaccounts', 'system:serviceaccounts:ingress-nginx', 'system:authenticated'] },
    });
  });
});
