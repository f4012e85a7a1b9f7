/**
 * The kubeconfig that points kubectl and @kubernetes/client-node at the twin's API: plain http on
 * loopback, no credentials (TLS verification marked off, which client-node requires for http);
 * cluster, user and context all share one name.
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
}

/** The kubeconfig document as YAML text. */
export function kubeconfigYaml(opts: KubeconfigOptions): string {
  const url = new URL(opts.server);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new RangeError(`Expected an http(s) server URL for the kubeconfig, got ${JSON.stringify(opts.server)}`);
  }
  const name = opts.context ?? 'twin';
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    // @kubernetes/client-node refuses plain http unless TLS verification is explicitly off.
    clusters: [{ name, cluster: { server: opts.server.replace(/\/+$/, ''), ...(url.protocol === 'http:' ? { 'insecure-skip-tls-verify': true } : {}) } }],
    users: [{ name, user: {} }],
    contexts: [{ name, context: { cluster: name, user: name, ...(opts.namespace ? { namespace: opts.namespace } : {}) } }],
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
