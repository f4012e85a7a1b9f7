/**
 * The kubeconfig that points kubectl and @kubernetes/client-node at the twin's API: plain http on
 * loopback (TLS verification marked off, which client-node requires for http); the first context's
 * cluster, user and context share one name, and each further user gets a context of its own name
 * on the same cluster. A user with a token sends it as a bearer token.
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { stringify } from 'yaml';

/** What the kubeconfig points at. */
export interface KubeconfigOptions {
  /** The API's base URL, e.g. http://127.0.0.1:6443. */
  server: string;
  /** Name of the cluster, user and context (default "twin"). */
  context?: string;
  /** Default namespace of the context. */
  namespace?: string;
  /** The bearer token of the first context's user (none: the user has no credentials). */
  token?: string;
  /** More users, each with a context of the same name on the same cluster and namespace. */
  users?: Array<{ context: string; token: string }>;
  /** The CA certificate file that verifies an https server (else TLS verification is off). */
  certificateAuthority?: string;
}

/** The kubeconfig document as YAML text. */
export function kubeconfigYaml(opts: KubeconfigOptions): string {
  const url = new URL(opts.server);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new RangeError(`Expected an http(s) server URL for the kubeconfig, got ${JSON.stringify(opts.server)}`);
  }
  const name = opts.context ?? 'twin';
  const extra = opts.users ?? [];
  const names = [name, ...extra.map((u) => u.context)];
  const duplicate = names.find((n, i) => names.indexOf(n) !== i);
  if (duplicate !== undefined) throw new RangeError(`Expected distinct context names in the kubeconfig, got ${JSON.stringify(duplicate)} twice`);
  const context = (user: string) => ({ name: user, context: { cluster: name, user, ...(opts.namespace ? { namespace: opts.namespace } : {}) } });
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    // @kubernetes/client-node refuses plain http unless TLS verification is explicitly off.
    clusters: [
      {
        name,
        cluster: {
          server: opts.server.replace(/\/+$/, ''),
          ...(url.protocol === 'http:' ? { 'insecure-skip-tls-verify': true } : opts.certificateAuthority ? { 'certificate-authority': opts.certificateAuthority } : {}),
        },
      },
    ],
    users: [{ name, user: opts.token ? { token: opts.token } : {} }, ...extra.map((u) => ({ name: u.context, user: { token: u.token } }))],
    contexts: [context(name), ...extra.map((u) => context(u.context))],
    'current-context': name,
    preferences: {},
  });
}

/** Writes the kubeconfig to `file` atomically (temp file + rename), readable by the owner only. */
export async function writeKubeconfig(file: string, opts: KubeconfigOptions): Promise<void> {
  const text = kubeconfigYaml(opts);
  await mkdir(path.dirname(file), { recursive: true });
  const temp = `${file}.${process.pid}.tmp`;
  await writeFile(temp, text, { mode: 0o600 });
  await rename(temp, file);
}
