import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { kubeconfigYaml, writeKubeconfig } from '../../../../harness/twin/kube/kubeconfig.ts';

let dir: string | undefined;
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('kubeconfig', () => {
  it('names cluster, user and context "twin" and points at the server', () => {
    const doc = parse(kubeconfigYaml({ server: 'http://127.0.0.1:6443/', namespace: 'demo' }));
    expect(doc['current-context']).toBe('twin');
    expect(doc.clusters).toEqual([{ name: 'twin', cluster: { server: 'http://127.0.0.1:6443', 'insecure-skip-tls-verify': true } }]);
    expect(doc.users).toEqual([{ name: 'twin', user: {} }]);
    expect(doc.contexts).toEqual([{ name: 'twin', context: { cluster: 'twin', user: 'twin', namespace: 'demo' } }]);
  });

  it('gives the first user its token and each further user a context of its own on the same cluster', () => {
    const doc = parse(kubeconfigYaml({ server: 'http://127.0.0.1:6443', namespace: 'shop', token: 'admin-token', users: [{ context: 'twin-restricted', token: 'r-token' }] }));
    expect(doc['current-context']).toBe('twin');
    expect(doc.users).toEqual([
      { name: 'twin', user: { token: 'admin-token' } },
      { name: 'twin-restricted', user: { token: 'r-token' } },
    ]);
    expect(doc.contexts).toEqual([
      { name: 'twin', context: { cluster: 'twin', user: 'twin', namespace: 'shop' } },
      { name: 'twin-restricted', context: { cluster: 'twin', user: 'twin-restricted', namespace: 'shop' } },
    ]);
    expect(() => kubeconfigYaml({ server: 'http://127.0.0.1:6443', users: [{ context: 'twin', token: 'x' }] })).toThrow(/distinct context names.*"twin" twice/);
  });

  it('rejects a server that is not an http(s) URL', () => {
    expect(() => kubeconfigYaml({ server: 'ftp://127.0.0.1' })).toThrow(/http\(s\) server URL/);
  });

  it('writes a file that @kubernetes/client-node loads', async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'kubeconfig-'));
    const file = path.join(dir, 'nested', 'kubeconfig');
    await writeKubeconfig(file, { server: 'http://127.0.0.1:6443', context: 'lab' });
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await readFile(file, 'utf8')).toContain('current-context: lab');
    const kc = new KubeConfig();
    kc.loadFromFile(file);
    expect(kc.getCurrentContext()).toBe('lab');
    expect(kc.getCurrentCluster()?.server).toBe('http://127.0.0.1:6443');
    expect(kc.getCurrentUser()?.name).toBe('lab');
    // client-node refuses plain http unless the cluster skips TLS verification.
    await expect(kc.applyToFetchOptions({})).resolves.toHaveProperty('agent');
  });
});
