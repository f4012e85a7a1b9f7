/**
 * In-cluster configuration, for a harness running in a pod (a CronJob, an Indexed Job) where there
 * is no kubeconfig: the API at `KUBERNETES_SERVICE_HOST`:`KUBERNETES_SERVICE_PORT`, the pod's
 * ServiceAccount token and the cluster's CA from files, as client-go's `rest.InClusterConfig` and
 * client-node's `loadFromCluster` read them. The files are the kubelet's
 * `/var/run/secrets/kubernetes.io/serviceaccount/{token,ca.crt}`, or those the env names with
 * `KUBERNETES_SERVICE_ACCOUNT_TOKEN_FILE` / `_CA_FILE` — the twin's pods get these, since a process
 * on the twin cannot have /var/run/secrets. The token is read again as the file changes (projected
 * tokens are rotated): client-node's tokenFile provider re-reads it every minute.
 */
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { EnvironmentError } from '../../core/errors.ts';

/** Where the kubelet mounts a pod's ServiceAccount token, CA and namespace. */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
/** The env variables naming the token and CA files instead (the twin's pods have them). */
export const TOKEN_FILE_ENV = 'KUBERNETES_SERVICE_ACCOUNT_TOKEN_FILE';
/** See TOKEN_FILE_ENV. */
export const CA_FILE_ENV = 'KUBERNETES_SERVICE_ACCOUNT_CA_FILE';
/** The context the in-cluster configuration is named as: a spec run in a pod says `context: in-cluster` (and allows it). */
export const IN_CLUSTER_CONTEXT = 'in-cluster';

/** Where the in-cluster API and credentials are. */
export interface InClusterConfig {
  server: string;
  tokenFile: string;
  caFile: string;
}

/**
 * The in-cluster configuration the env gives, or undefined when it gives none (no
 * KUBERNETES_SERVICE_HOST). HTTPS with the CA file, as client-go's in-cluster config (the twin's
 * pods get its HTTPS port and CA too), except on the plain-HTTP ports client-node also takes as such
 * (80, 8080, 8001).
 */
export function inClusterConfig(env: Record<string, string | undefined>): InClusterConfig | undefined {
  const host = env.KUBERNETES_SERVICE_HOST;
  if (!host) return undefined;
  const port = env.KUBERNETES_SERVICE_PORT ?? '';
  if (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535) {
    throw new EnvironmentError(`In-cluster configuration: expected KUBERNETES_SERVICE_PORT to be a port (1–65535) with KUBERNETES_SERVICE_HOST=${host}, got ${JSON.stringify(env.KUBERNETES_SERVICE_PORT ?? null)}`);
  }
  const plain = ['80', '8080', '8001'].includes(port);
  const hostPart = host.includes(':') ? `[${host}]` : host;
  const tokenFile = env[TOKEN_FILE_ENV] || path.join(SERVICE_ACCOUNT_DIR, 'token');
  const caFile = env[CA_FILE_ENV] || path.join(SERVICE_ACCOUNT_DIR, 'ca.crt');
  if (!existsSync(tokenFile)) throw new EnvironmentError(`In-cluster configuration (KUBERNETES_SERVICE_HOST=${host}): expected the ServiceAccount token at ${tokenFile}${env[TOKEN_FILE_ENV] ? ` (${TOKEN_FILE_ENV})` : ''}, got no file (is automountServiceAccountToken off?)`);
  return { server: `${plain ? 'http' : 'https'}://${hostPart}:${port}`, tokenFile, caFile };
}

/** True when a kubeconfig is there to load: `KUBECONFIG`, or `~/.kube/config`. */
export function kubeconfigPresent(env: Record<string, string | undefined>): boolean {
  return Boolean(env.KUBECONFIG) || existsSync(path.join(env.HOME || os.homedir(), '.kube', 'config'));
}

/** Loads the in-cluster configuration into `kc` as context `in-cluster` (the token read from its file at each request, re-read every minute). */
export function loadInCluster(kc: KubeConfig, config: InClusterConfig): void {
  const http = config.server.startsWith('http:');
  kc.loadFromOptions({
    clusters: [{ name: IN_CLUSTER_CONTEXT, server: config.server, ...(http ? { skipTLSVerify: true } : { caFile: config.caFile }) }],
    users: [{ name: IN_CLUSTER_CONTEXT, authProvider: { name: 'tokenFile', config: { tokenFile: config.tokenFile } } }],
    contexts: [{ name: IN_CLUSTER_CONTEXT, cluster: IN_CLUSTER_CONTEXT, user: IN_CLUSTER_CONTEXT }],
    currentContext: IN_CLUSTER_CONTEXT,
  });
}
