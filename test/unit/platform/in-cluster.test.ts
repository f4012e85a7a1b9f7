/**
 * In-cluster configuration: without a kubeconfig, a harness in a pod reaches the API from
 * KUBERNETES_SERVICE_HOST/PORT with its ServiceAccount token (from the env-named file, as the twin's
 * pods have it), re-read when the kubelet rotates it; with a kubeconfig nothing changes.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { scaledClock } from '../../../harness/core/clock.ts';
import { EnvironmentError } from '../../../harness/core/errors.ts';
import { createKubernetesAdapter, loadKubeConfig } from '../../../harness/platform/kubernetes/adapter.ts';
import { CA_FILE_ENV, inClusterConfig, IN_CLUSTER_CONTEXT, SERVICE_ACCOUNT_DIR } from '../../../harness/platform/kubernetes/in-cluster.ts';
import { openCertificateAuthority } from '../../../harness/twin/tls.ts';

let dir: string;
let server: Server;
let seen: IncomingHttpHeaders[];
let caFile: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'rh-in-cluster-'));
  seen = [];
  // A stand-in API on loopback over HTTPS with a certificate of the twin's CA (as the twin's API is
  // for its pods): answers any namespace GET, recording the request's headers.
  const ca = await openCertificateAuthority(dir);
  caFile = ca.caFile;
  server = createServer(await ca.issue([]), (req, res) => {
    seen.push(req.headers);
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop', labels: {} } }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
});
afterEach(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await rm(dir, { recursive: true, force: true });
});

/** The env of a twin pod: the API's address and the token file, no KUBECONFIG, a home without ~/.kube. */
async function podEnv(token = 'sa-token'): Promise<Record<string, string>> {
  const tokenFile = path.join(dir, 'token');
  await writeFile(tokenFile, token);
  return { HOME: dir, KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String((server.address() as AddressInfo).port), KUBERNETES_SERVICE_ACCOUNT_TOKEN_FILE: tokenFile, [CA_FILE_ENV]: caFile };
}

describe('in-cluster configuration', () => {
  it('reaches the API named by KUBERNETES_SERVICE_HOST/PORT with the ServiceAccount token, as context in-cluster', async () => {
    const env = await podEnv();
    const kc = loadKubeConfig(undefined, IN_CLUSTER_CONTEXT, env);
    expect(kc.getCurrentCluster()?.server).toBe(`https://127.0.0.1:${env.KUBERNETES_SERVICE_PORT}`);
    const ns = await createKubernetesAdapter(kc, scaledClock(1)).getNamespace('shop');
    expect(ns.metadata?.name).toBe('shop');
    expect(seen.map((h) => h.authorization)).toEqual(['Bearer sa-token']);
  });

  it('names only the context in-cluster: a spec naming another is refused with what there is', async () => {
    const env = await podEnv();
    expect(() => loadKubeConfig(undefined, 'staging', env)).toThrow(new EnvironmentError('The kubeconfig has no context "staging" (it has: in-cluster)'));
  });

  it('takes HTTPS with the kubelet\'s files off loopback, and refuses a missing token or a bad port with what it expected', () => {
    expect(() => inClusterConfig({ KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: '443' })).toThrow(`expected the ServiceAccount token at ${SERVICE_ACCOUNT_DIR}/token, got no file`);
    expect(() => inClusterConfig({ KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: 'x' })).toThrow('expected KUBERNETES_SERVICE_PORT to be a port (1–65535) with KUBERNETES_SERVICE_HOST=127.0.0.1, got "x"');
    expect(inClusterConfig({})).toBeUndefined();
    // Plain HTTP only on the ports client-node takes as such.
    const tokenFile = path.join(dir, 'plain-token');
    return writeFile(tokenFile, 't').then(() => expect(inClusterConfig({ KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: '8001', KUBERNETES_SERVICE_ACCOUNT_TOKEN_FILE: tokenFile })?.server).toBe('http://127.0.0.1:8001'));
  });

  it('leaves a kubeconfig given in charge', async () => {
    const env = await podEnv();
    const file = path.join(dir, 'kubeconfig');
    await writeFile(file, JSON.stringify({ apiVersion: 'v1', kind: 'Config', clusters: [{ name: 'c', cluster: { server: 'http://127.0.0.1:1' } }], users: [{ name: 'u', user: {} }], contexts: [{ name: 'twin', context: { cluster: 'c', user: 'u' } }], 'current-context': 'twin' }));
    expect(loadKubeConfig(file, 'twin', env).getCurrentCluster()?.server).toBe('http://127.0.0.1:1');
  });
});
