/** The API server over raw HTTP: status codes, Status bodies, subresources, watches on the clock. */
import http from 'node:http';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ManualClock } from '../../../harness/core/clock.ts';
import { MAX_BODY_BYTES } from '../../../harness/twin/kube/server.ts';
import { openWatch, runningPod, startApiFixture, type ApiFixture, type WatchStream } from './fixture.ts';

let fx: ApiFixture;
let clock: ManualClock;
const streams: WatchStream[] = [];

beforeEach(async () => {
  clock = new ManualClock(Date.parse('2024-06-01T12:00:00Z'));
  fx = await startApiFixture({ clock });
});
afterEach(async () => {
  for (const s of streams.splice(0)) s.close();
  await fx.close();
});

async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${fx.api.url}${path}`, {
    method,
    headers: { ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}), ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, contentType: res.headers.get('content-type'), body: text ? JSON.parse(text) : undefined };
}

async function watch(path: string, headers?: Record<string, string>) {
  const s = await openWatch(`${fx.api.url}${path}`, headers);
  streams.push(s);
  return s;
}

describe('errors are Status objects', () => {
  it('answers 404 for a missing object and an unknown path', async () => {
    const missing = await call('GET', '/api/v1/namespaces/default/pods/nope');
    expect(missing.status).toBe(404);
    expect(missing.contentType).toBe('application/json');
    expect(missing.body).toMatchObject({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404 });
    expect(missing.body.message).toContain('"nope"');
    expect((await call('GET', '/api/v1/widgets')).body).toMatchObject({ kind: 'Status', code: 404 });
  });

  it('answers 400 for bad JSON, a wrong kind or a namespace mismatch, and keeps serving', async () => {
    const bad = await call('POST', '/api/v1/namespaces/default/pods', '{"metadata":');
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ kind: 'Status', reason: 'BadRequest' });
    const kind = await call('POST', '/api/v1/namespaces/default/pods', { kind: 'Service', metadata: { name: 'x' } });
    expect(kind.status).toBe(400);
    expect(kind.body.message).toMatch(/expected kind Pod.*got "Service"/);
    const ns = await call('POST', '/api/v1/namespaces/default/pods', { metadata: { name: 'x', namespace: 'other' } });
    expect(ns.status).toBe(400);
    expect((await call('POST', '/api/v1/namespaces/default/pods', [1, 2])).status).toBe(400);
    expect((await call('GET', '/api/v1/pods?labelSelector=a%20in%20(b')).status).toBe(400);
    expect((await call('GET', '/api/v1/namespaces/default/pods/web-1')).status).toBe(200);
  });

  it('answers 405, 406 and 415 where the method, Accept or Content-Type is not served', async () => {
    expect((await call('DELETE', '/api/v1/namespaces/default/pods')).body).toMatchObject({ reason: 'MethodNotAllowed', code: 405 });
    expect((await call('GET', '/api/v1/pods', undefined, { Accept: 'application/vnd.kubernetes.protobuf' })).status).toBe(406);
    const apply = await call('PATCH', '/apis/apps/v1/namespaces/default/deployments/web', 'spec: {}', { 'Content-Type': 'application/apply-patch+yaml' });
    expect(apply.body).toMatchObject({ reason: 'UnsupportedMediaType', code: 415 });
    const proto = await call('POST', '/api/v1/namespaces', 'k8s\u0000', { 'Content-Type': 'application/vnd.kubernetes.protobuf' });
    expect(proto.status).toBe(415);
  });

  it('rejects a body over 3 MiB with 413 and keeps serving', async () => {
    const huge = JSON.stringify({ metadata: { name: 'big', annotations: { a: 'x'.repeat(MAX_BODY_BYTES) } } });
    const res = await call('POST', '/api/v1/namespaces/default/pods', huge);
    expect(res.status).toBe(413);
    expect(res.body).toMatchObject({ kind: 'Status', reason: 'RequestEntityTooLarge' });
    expect(fx.store.get('pods', 'default', 'big')).toBeUndefined();
    expect((await call('GET', '/version')).body.gitVersion).toBe('v1.31.0-twin');
  });

  it('rejects a chunked body that grows over 3 MiB', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request(`${fx.api.url}/api/v1/namespaces/default/pods`, { method: 'POST', headers: { 'Content-Type': 'application/json' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      const chunk = 'x'.repeat(1024 * 1024);
      for (let i = 0; i < 4; i++) req.write(chunk);
      req.end();
    });
    expect(status).toBe(413);
  });
});

describe('create, replace and the status subresource', () => {
  it('creates in the namespace of the path, keeps status out of the client’s hands', async () => {
    const created = await call('POST', '/apis/apps/v1/namespaces/default/deployments', {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'api' },
      spec: { replicas: 1, selector: { matchLabels: { app: 'api' } }, template: { metadata: { labels: { app: 'api' } }, spec: { containers: [{ name: 'c', image: 'i' }] } } },
      status: { readyReplicas: 99 },
    });
    expect(created.status).toBe(201);
    expect(created.body.metadata).toMatchObject({ name: 'api', namespace: 'default', generation: 1 });
    expect(created.body.status).toBeUndefined();
    const pod = await call('POST', '/api/v1/namespaces/default/pods', { metadata: { name: 'p' }, spec: { containers: [{ name: 'c' }] }, status: { phase: 'Running' } });
    expect(pod.body.status).toEqual({ phase: 'Pending' });
    expect((await call('POST', '/apis/apps/v1/namespaces/default/deployments', { metadata: { name: 'api' } })).body).toMatchObject({ reason: 'AlreadyExists', code: 409 });
  });

  it('PUT on the main resource changes spec but not status; PUT on /status only status', async () => {
    const current = (await call('GET', '/apis/apps/v1/namespaces/default/deployments/web')).body;
    const changed = structuredClone(current);
    changed.spec.replicas = 5;
    changed.status.readyReplicas = 0;
    const put = await call('PUT', '/apis/apps/v1/namespaces/default/deployments/web', changed);
    expect(put.status).toBe(200);
    expect(put.body.spec.replicas).toBe(5);
    expect(put.body.status.readyReplicas).toBe(2);
    expect(put.body.metadata.generation).toBe(2);

    const statusWrite = structuredClone(put.body);
    statusWrite.spec.replicas = 1;
    statusWrite.status.readyReplicas = 5;
    const putStatus = await call('PUT', '/apis/apps/v1/namespaces/default/deployments/web/status', statusWrite);
    expect(putStatus.body.spec.replicas).toBe(5);
    expect(putStatus.body.status.readyReplicas).toBe(5);
    expect(fx.store.get('deployments', 'default', 'web')?.status.readyReplicas).toBe(5);
  });

  it('PUT with a stale resourceVersion is a 409 Conflict', async () => {
    const current = (await call('GET', '/api/v1/namespaces/default/pods/web-1')).body;
    fx.store.modify('pods', 'default', 'web-1', (p) => void (p.metadata.labels!.touched = 'yes'));
    current.metadata.labels.mine = 'yes';
    const res = await call('PUT', '/api/v1/namespaces/default/pods/web-1', current);
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({ reason: 'Conflict' });
    expect(fx.store.get('pods', 'default', 'web-1')?.metadata.labels).not.toHaveProperty('mine');
  });

  it('PATCH on /status sets a readiness-gate condition; PATCH on the pod cannot', async () => {
    const gate = { type: 'target-health.elbv2.k8s.aws/k8s-default-web', status: 'True' };
    const strategic = { 'Content-Type': 'application/strategic-merge-patch+json' };
    const viaMain = await call('PATCH', '/api/v1/namespaces/default/pods/web-1', { status: { conditions: [gate] } }, strategic);
    expect(viaMain.status).toBe(200);
    expect(viaMain.body.status.conditions).toEqual([{ type: 'Ready', status: 'True' }]);
    const viaStatus = await call('PATCH', '/api/v1/namespaces/default/pods/web-1/status', { metadata: { labels: { x: 'y' } }, status: { conditions: [gate] } }, strategic);
    expect(viaStatus.body.status.conditions).toEqual([{ type: 'Ready', status: 'True' }, gate]);
    expect(viaStatus.body.metadata.labels).not.toHaveProperty('x');
  });

  it('PATCH with a resourceVersion precondition conflicts when stale, and a failed test op is 422', async () => {
    const merge = { 'Content-Type': 'application/merge-patch+json' };
    const stale = await call('PATCH', '/api/v1/nodes/node-a1', { metadata: { resourceVersion: '1' }, spec: { unschedulable: true } }, merge);
    expect(stale.status).toBe(409);
    const failed = await call('PATCH', '/api/v1/nodes/node-a1', [{ op: 'test', path: '/spec/providerID', value: 'other' }], { 'Content-Type': 'application/json-patch+json' });
    expect(failed.status).toBe(422);
    expect(failed.body).toMatchObject({ kind: 'Status', reason: 'Invalid' });
    expect(fx.store.get('nodes', undefined, 'node-a1')?.spec.unschedulable).toBeUndefined();
  });
});

describe('delete, eviction and scale', () => {
  it('deletes a bound pod gracefully with the grace period of the query, returning the pod', async () => {
    const res = await call('DELETE', '/api/v1/namespaces/default/pods/web-1?gracePeriodSeconds=7', { propagationPolicy: 'Background' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ kind: 'Pod', metadata: { name: 'web-1', deletionGracePeriodSeconds: 7 } });
    expect(fx.store.get('pods', 'default', 'web-1')?.metadata.deletionTimestamp).toBe('2024-06-01T12:00:00Z');
  });

  it('checks a uid precondition and answers a Status for other kinds', async () => {
    const pre = await call('DELETE', '/apis/apps/v1/namespaces/default/deployments/web', { preconditions: { uid: 'not-it' } });
    expect(pre.status).toBe(409);
    expect(fx.store.get('deployments', 'default', 'web')).toBeDefined();
    const res = await call('DELETE', '/apis/apps/v1/namespaces/default/deployments/web');
    expect(res.body).toMatchObject({ kind: 'Status', status: 'Success', details: { name: 'web', group: 'apps', kind: 'deployments' } });
    expect(fx.store.get('deployments', 'default', 'web')).toBeUndefined();
  });

  it('evicts by deleting when no hook is installed, and 404s for a missing pod', async () => {
    const body = { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: 'web-2', namespace: 'default' }, deleteOptions: { gracePeriodSeconds: 0 } };
    const res = await call('POST', '/api/v1/namespaces/default/pods/web-2/eviction', body);
    expect(res.status).toBe(201);
    expect(fx.store.get('pods', 'default', 'web-2')).toBeUndefined();
    expect((await call('POST', '/api/v1/namespaces/default/pods/web-2/eviction', body)).status).toBe(404);
    expect((await call('POST', '/api/v1/namespaces/default/pods/web-1/eviction', { ...body, metadata: { name: 'other' } })).status).toBe(400);
  });

  it('reads and patches deployments/scale', async () => {
    const scale = await call('GET', '/apis/apps/v1/namespaces/default/deployments/web/scale');
    expect(scale.body).toMatchObject({ kind: 'Scale', apiVersion: 'autoscaling/v1', spec: { replicas: 2 }, status: { replicas: 2, selector: 'app=web' } });
    const patched = await call('PATCH', '/apis/apps/v1/namespaces/default/deployments/web/scale', { spec: { replicas: 4 } }, { 'Content-Type': 'application/merge-patch+json' });
    expect(patched.body.spec.replicas).toBe(4);
    expect(fx.store.get('deployments', 'default', 'web')?.spec.replicas).toBe(4);
    const bad = await call('PUT', '/apis/apps/v1/namespaces/default/deployments/web/scale', { spec: { replicas: -1 } });
    expect(bad.status).toBe(422);
  });
});

describe('lists and tables', () => {
  it('lists with the List kind, resourceVersion and selectors', async () => {
    const res = await call('GET', '/api/v1/pods?labelSelector=app%3Dweb&fieldSelector=spec.nodeName%3Dnode-b1');
    expect(res.body).toMatchObject({ kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: fx.store.resourceVersion } });
    expect(res.body.items.map((p: { metadata: { name: string } }) => p.metadata.name)).toEqual(['web-2']);
    const nodes = await call('GET', '/api/v1/nodes');
    expect(nodes.body.kind).toBe('NodeList');
    expect(nodes.body.items).toHaveLength(2);
  });

  it('serves a Table when kubectl asks for one', async () => {
    const accept = 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json';
    const res = await call('GET', '/api/v1/namespaces/default/pods', undefined, { Accept: accept });
    expect(res.body.kind).toBe('Table');
    expect(res.body.rows.map((r: { cells: unknown[] }) => r.cells.slice(0, 3))).toEqual([
      ['web-1', '1/1', 'Running'],
      ['web-2', '1/1', 'Running'],
    ]);
    const one = await call('GET', '/api/v1/nodes/node-a1?includeObject=Object', undefined, { Accept: accept });
    expect(one.body.rows[0].object).toMatchObject({ kind: 'Node', spec: { providerID: 'aws:///us-east-1a/i-node-a1' } });
  });
});

describe('watch', () => {
  it('starts with the current state without a resourceVersion, then streams changes', async () => {
    const w = await watch('/api/v1/namespaces/default/pods?watch=true&labelSelector=app%3Dweb');
    expect(w.status).toBe(200);
    await vi.waitFor(() => expect(w.events.map((e) => `${e.type} ${e.object.metadata.name}`)).toEqual(['ADDED web-1', 'ADDED web-2']));
    fx.store.create('pods', runningPod('web-3', 'node-a1'));
    fx.store.create('pods', runningPod('other', 'node-a1', { app: 'other' }));
    fx.store.modify('pods', 'default', 'web-1', (p) => void (p.status.phase = 'Failed'));
    fx.store.remove('pods', 'default', 'web-2');
    await vi.waitFor(() => expect(w.events.slice(2).map((e) => `${e.type} ${e.object.metadata.name}`)).toEqual(['ADDED web-3', 'MODIFIED web-1', 'DELETED web-2']));
  });

  it('resumes from a resourceVersion, also on the legacy /watch path for one object', async () => {
    const rv = fx.store.resourceVersion;
    fx.store.modify('pods', 'default', 'web-1', (p) => void (p.metadata.labels!.v = '2'));
    fx.store.modify('pods', 'default', 'web-2', (p) => void (p.metadata.labels!.v = '2'));
    const w = await watch(`/api/v1/watch/namespaces/default/pods/web-2?resourceVersion=${rv}`);
    await vi.waitFor(() => expect(w.events).toHaveLength(1));
    expect(w.events[0]).toMatchObject({ type: 'MODIFIED', object: { metadata: { name: 'web-2', labels: { v: '2' } } } });
  });

  it('sends BOOKMARK events on the clock and ends after timeoutSeconds of model time', async () => {
    const w = await watch(`/api/v1/namespaces/default/pods?watch=1&resourceVersion=${fx.store.resourceVersion}&allowWatchBookmarks=true&timeoutSeconds=150`);
    await clock.advance(59_000);
    expect(w.events).toHaveLength(0);
    await clock.advance(1_000);
    await vi.waitFor(() => expect(w.events).toHaveLength(1));
    expect(w.events[0]).toEqual({ type: 'BOOKMARK', object: { kind: 'Pod', apiVersion: 'v1', metadata: { resourceVersion: fx.store.resourceVersion } } });
    expect(w.isEnded()).toBe(false);
    await clock.advance(90_000);
    await w.ended;
    expect(w.events.filter((e) => e.type === 'BOOKMARK')).toHaveLength(2);
    expect(clock.pending).toBe(0);
  });

  it('answers a too old resourceVersion with an ERROR event carrying a 410 Status', async () => {
    for (let i = 0; i < 10_050; i++) fx.store.modify('namespaces', undefined, 'default', (ns) => void (ns.metadata.labels = { i: String(i) }));
    const w = await watch('/api/v1/namespaces?watch=true&resourceVersion=2');
    await w.ended;
    expect(w.events).toEqual([{ type: 'ERROR', object: expect.objectContaining({ kind: 'Status', code: 410, reason: 'Expired' }) }]);
  });

  it('streams Table rows, with column definitions only in the first event', async () => {
    const w = await watch(`/api/v1/namespaces/default/pods?watch=true&resourceVersion=${fx.store.resourceVersion}`, { Accept: 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json' });
    fx.store.create('pods', runningPod('web-3', 'node-a1'));
    fx.store.modify('pods', 'default', 'web-3', (p) => void (p.status.phase = 'Succeeded'));
    await vi.waitFor(() => expect(w.events).toHaveLength(2));
    expect(w.events[0].object.kind).toBe('Table');
    expect(w.events[0].object.columnDefinitions.length).toBeGreaterThan(4);
    expect(w.events[1].object.columnDefinitions).toEqual([]);
    expect(w.events[0].object.rows[0].cells[0]).toBe('web-3');
  });

  it('ends every watch when the server closes', async () => {
    const w = await watch('/api/v1/pods?watch=true');
    await vi.waitFor(() => expect(w.events).toHaveLength(2));
    await fx.api.close();
    await w.ended;
    await expect(fetch(`${fx.api.url}/version`)).rejects.toThrow();
  });
});
