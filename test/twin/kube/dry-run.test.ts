/**
 * dryRun=All and field validation on the wire: raw HTTP and kubectl --dry-run=server against the
 * twin's API server (1.31), and the preStop sleep action refused by a 1.29 one.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../harness/core/clock.ts';
import { writeKubeconfig } from '../../../harness/twin/kube/kubeconfig.ts';
import { startKubeApiServer, type KubeApiServer } from '../../../harness/twin/kube/server.ts';
import { ObjectStore } from '../../../harness/twin/kube/store.ts';
import type { KubeObject, WatchEvent } from '../../../harness/twin/kube/types.ts';
import { requirement } from '../../helpers/requirement.ts';
import { seed, T0 } from './fixture.ts';

const KUBECTL = process.env.KUBECTL ?? 'kubectl';
const available = await execa(KUBECTL, ['version', '--client'], { reject: false, timeout: 20_000 }).then(
  (r) => r.exitCode === 0,
  () => false,
);
const needsKubectl = requirement(`kubectl (${KUBECTL})`, available, 'apt-get install -y kubernetes-client, or set KUBECTL to its path; .ci/run installs it');

interface Api {
  store: ObjectStore;
  api: KubeApiServer;
  kubeconfig: string;
  /** Every watch event the store fired since the start. */
  events: WatchEvent[];
}

let dir: string;
let cacheDir: string;
const started: KubeApiServer[] = [];

beforeAll(async () => {
  cacheDir = await mkdtemp(path.join(os.tmpdir(), 'kubectl-cache-'));
});
afterAll(async () => {
  await rm(cacheDir, { recursive: true, force: true });
});
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'kube-dry-run-'));
});
afterEach(async () => {
  await Promise.all(started.splice(0).map((a) => a.close()));
  await rm(dir, { recursive: true, force: true });
});

async function startApi(kubernetesVersion?: string): Promise<Api> {
  const store = new ObjectStore(new ManualClock(T0));
  seed(store);
  const events: WatchEvent[] = [];
  for (const plural of ['deployments', 'pods']) store.watch(plural, {}, (e) => events.push(e));
  const api = await startKubeApiServer({ store, clock: store.clock, kubernetesVersion });
  started.push(api);
  const kubeconfig = path.join(dir, `kubeconfig-${started.length}`);
  await writeKubeconfig(kubeconfig, { server: api.url, namespace: 'default' });
  return { store, api, kubeconfig, events };
}

async function call(a: Api, method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE', urlPath: string, body?: unknown, contentType = 'application/json') {
  const res = await request(`${a.api.url}${urlPath}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': contentType },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- wire JSON, inspected field by field
  return { status: res.statusCode, body: (await res.body.json()) as any };
}

const DEPLOY = '/apis/apps/v1/namespaces/default/deployments';
const SMP = 'application/strategic-merge-patch+json';

describe('dryRun=All over raw HTTP', () => {
  it('patch: answers the patched object, stores nothing, fires no event; an invalid patch gets the same 422 as a real write', async () => {
    const a = await startApi();
    const before = a.store.require('deployments', 'default', 'web');
    const ok = await call(a, 'PATCH', `${DEPLOY}/web?dryRun=All`, { spec: { replicas: 5, template: { spec: { containers: [{ name: 'app', env: [{ name: 'B', value: '2' }] }] } } } }, SMP);
    expect(ok.status).toBe(200);
    expect(ok.body.spec.replicas).toBe(5);
    expect(ok.body.spec.template.spec.containers[0].env).toEqual([
      { name: 'A', value: '1' },
      { name: 'B', value: '2' },
    ]);
    expect(ok.body.metadata.generation).toBe(2);
    expect(ok.body.metadata.resourceVersion).toBe(before.metadata.resourceVersion);
    const bad = { spec: { strategy: { rollingUpdate: { maxSurge: 'lots' } } } };
    for (const query of ['?dryRun=All', '']) {
      const refused = await call(a, 'PATCH', `${DEPLOY}/web${query}`, bad, SMP);
      expect(refused.status, query).toBe(422);
      expect(refused.body).toMatchObject({ kind: 'Status', reason: 'Invalid', details: { name: 'web', kind: 'Deployment', causes: [{ field: 'spec.strategy.rollingUpdate.maxSurge' }] } });
      expect(refused.body.message).toContain('Deployment.apps "web" is invalid: spec.strategy.rollingUpdate.maxSurge: Invalid value: "lots"');
    }
    expect(a.store.require('deployments', 'default', 'web')).toEqual(before);
    expect(a.events).toEqual([]);
  });

  it('create, replace, delete, scale and eviction: answered as real writes, nothing changes', async () => {
    const a = await startApi();
    const rv = a.store.resourceVersion;
    const created = await call(a, 'POST', `${DEPLOY}?dryRun=All`, {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'api' },
      spec: { replicas: 1, selector: { matchLabels: { app: 'api' } }, template: { metadata: { labels: { app: 'api' } }, spec: { containers: [{ name: 'app', image: 'x' }] } } },
    });
    expect(created.status).toBe(201);
    expect(created.body.metadata).toMatchObject({ name: 'api', namespace: 'default', generation: 1 });
    expect(created.body.metadata.uid).toBeTruthy();
    expect(created.body.metadata.resourceVersion).toBeUndefined();
    expect(a.store.get('deployments', 'default', 'api')).toBeUndefined();

    const deletedPod = await call(a, 'DELETE', '/api/v1/namespaces/default/pods/web-1?dryRun=All');
    expect(deletedPod.status).toBe(200);
    expect(deletedPod.body.metadata.deletionTimestamp).toBeTruthy();
    const deletedDeploy = await call(a, 'DELETE', `${DEPLOY}/web`, { kind: 'DeleteOptions', apiVersion: 'v1', dryRun: ['All'] });
    expect(deletedDeploy.status).toBe(200);
    expect(deletedDeploy.body).toMatchObject({ kind: 'Status', status: 'Success', details: { name: 'web' } });
    const replaced = a.store.require('deployments', 'default', 'web');
    replaced.spec.minReadySeconds = 7;
    const put = await call(a, 'PUT', `${DEPLOY}/web?dryRun=All`, replaced);
    expect(put.status).toBe(200);
    expect(put.body.spec.minReadySeconds).toBe(7);
    replaced.spec.minReadySeconds = -1;
    expect((await call(a, 'PUT', `${DEPLOY}/web?dryRun=All`, replaced)).body.message).toContain('spec.minReadySeconds: Invalid value: -1: must be greater than or equal to 0');
    const scaled = await call(a, 'PATCH', `${DEPLOY}/web/scale?dryRun=All`, { spec: { replicas: 9 } }, 'application/merge-patch+json');
    expect(scaled.body.spec.replicas).toBe(9);
    const evicted = await call(a, 'POST', '/api/v1/namespaces/default/pods/web-2/eviction?dryRun=All', { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: 'web-2' } });
    expect(evicted.status).toBe(201);

    expect(a.store.resourceVersion).toBe(rv);
    expect(a.store.require('pods', 'default', 'web-1').metadata.deletionTimestamp).toBeUndefined();
    expect(a.store.require('pods', 'default', 'web-2').metadata.deletionTimestamp).toBeUndefined();
    expect(a.store.require('deployments', 'default', 'web').spec).toMatchObject({ replicas: 2 });
    expect(a.store.require('deployments', 'default', 'web').spec.minReadySeconds).toBeUndefined();
    expect(a.events).toEqual([]);
    const unsupported = await call(a, 'PATCH', `${DEPLOY}/web?dryRun=Some`, { spec: { replicas: 3 } }, SMP);
    expect(unsupported).toMatchObject({ status: 400, body: { message: 'dryRun: Unsupported value: "Some": supported values: "All"' } });
  });

  it('strategic merge on containers by name: a patch naming one container changes it and keeps the other; env merges by name', async () => {
    const a = await startApi();
    a.store.modify('deployments', 'default', 'web', (d) => {
      d.spec.template.spec.containers.push({ name: 'sidecar', image: 'side:1', env: [{ name: 'S', value: 's' }] });
    });
    const patch = { spec: { template: { spec: { containers: [{ name: 'app', env: [{ name: 'KEEPALIVE_TIMEOUT_MS', value: '65000' }] }] } } } };
    const res = await call(a, 'PATCH', `${DEPLOY}/web`, patch, SMP);
    expect(res.status).toBe(200);
    const containers = a.store.require('deployments', 'default', 'web').spec.template.spec.containers;
    expect(containers).toEqual([
      { name: 'app', image: 'fixtures/app', env: [{ name: 'A', value: '1' }, { name: 'KEEPALIVE_TIMEOUT_MS', value: '65000' }] },
      { name: 'sidecar', image: 'side:1', env: [{ name: 'S', value: 's' }] },
    ]);
    // A typo in the container name adds an image-less container: refused, as by a real API server.
    const typo = await call(a, 'PATCH', `${DEPLOY}/web`, { spec: { template: { spec: { containers: [{ name: 'ap', env: [{ name: 'K', value: '1' }] }] } } } }, SMP);
    expect(typo.status).toBe(422);
    expect(typo.body.message).toBe('Deployment.apps "web" is invalid: spec.template.spec.containers[2].image: Required value');
    const removed = await call(a, 'PATCH', `${DEPLOY}/web`, { spec: { template: { spec: { containers: [{ name: 'sidecar', $patch: 'delete' }] } } } }, SMP);
    expect(removed.body.spec.template.spec.containers.map((c: { name: string }) => c.name)).toEqual(['app']);
  });

  it('preStop sleep: a 1.29 server refuses it with the API server’s own error; a 1.31 one stores it', async () => {
    const sleepPatch = { spec: { template: { spec: { containers: [{ name: 'app', lifecycle: { preStop: { sleep: { seconds: 10 } } } }] } } } };
    const old = await startApi('1.29');
    expect((await call(old, 'GET', '/version')).body).toMatchObject({ major: '1', minor: '29', gitVersion: 'v1.29.0-twin' });
    const refused = await call(old, 'PATCH', `${DEPLOY}/web`, sleepPatch, SMP);
    expect(refused.status).toBe(422);
    expect(refused.body.message).toBe('Deployment.apps "web" is invalid: spec.template.spec.containers[0].lifecycle.preStop: Required value: must specify a handler type');
    const pod: KubeObject = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { containers: [{ name: 'app', image: 'x', lifecycle: { preStop: { sleep: { seconds: 10 } } } }] } };
    expect((await call(old, 'POST', '/api/v1/namespaces/default/pods', pod)).status).toBe(422);
    expect(old.events).toEqual([]);

    const current = await startApi();
    const stored = await call(current, 'PATCH', `${DEPLOY}/web`, sleepPatch, SMP);
    expect(stored.status).toBe(200);
    expect(current.store.require('deployments', 'default', 'web').spec.template.spec.containers[0].lifecycle).toEqual({ preStop: { sleep: { seconds: 10 } } });
    const tooLong = await call(current, 'PATCH', `${DEPLOY}/web`, { spec: { template: { spec: { containers: [{ name: 'app', lifecycle: { preStop: { sleep: { seconds: 31 } } } }] } } } }, SMP);
    expect(tooLong.body.message).toContain('preStop.sleep: Invalid value: 31: must be greater than 0 and less than terminationGracePeriodSeconds (30)');
    const negative = await call(current, 'PATCH', `${DEPLOY}/web`, { spec: { template: { spec: { containers: [{ name: 'app', lifecycle: { preStop: { sleep: { seconds: -1 } } } }] } } } }, SMP);
    expect(negative.status).toBe(422);
  });
});

describe.runIf(needsKubectl.run)('kubectl --dry-run=server', () => {
  beforeAll(() => needsKubectl.check());
  const kubectl = (a: Api, ...args: string[]) => execa(KUBECTL, ['--cache-dir', cacheDir, ...args], { env: { KUBECONFIG: a.kubeconfig }, timeout: 30_000, reject: false });

  it('patch, create and delete answer without changing anything; an invalid patch fails with the field', async () => {
    const a = await startApi();
    const rv = a.store.resourceVersion;
    const patched = await kubectl(a, 'patch', 'deployment', 'web', '--dry-run=server', '-p', '{"spec":{"replicas":7}}', '-o', 'json');
    expect(patched.stderr).toBe('');
    expect((JSON.parse(patched.stdout) as KubeObject).spec.replicas).toBe(7);
    const bad = await kubectl(a, 'patch', 'deployment', 'web', '--dry-run=server', '-p', '{"spec":{"strategy":{"rollingUpdate":{"maxSurge":"lots"}}}}');
    expect(bad.exitCode).not.toBe(0);
    expect(bad.stderr).toContain('spec.strategy.rollingUpdate.maxSurge: Invalid value: "lots"');
    const created = await kubectl(a, 'create', 'deployment', 'api', '--image=x', '--dry-run=server', '-o', 'name');
    expect(created.stdout.trim()).toBe('deployment.apps/api');
    const deleted = await kubectl(a, 'delete', 'pod', 'web-1', '--dry-run=server');
    expect(deleted.stdout).toContain('pod "web-1" deleted (server dry run)');
    expect(a.store.resourceVersion).toBe(rv);
    expect(a.store.get('deployments', 'default', 'api')).toBeUndefined();
    expect(a.store.require('pods', 'default', 'web-1').metadata.deletionTimestamp).toBeUndefined();
    expect(a.events).toEqual([]);
  });
});
