/** The API server as @kubernetes/client-node 1.4 sees it: the client the harness uses in staging (and, for PDBs, the harness's own adapter). */
import {
  ApiException,
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  PatchStrategy,
  Watch,
  makeInformer,
  setHeaderOptions,
  type V1Pod,
} from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { EvictionResponse } from '../../../harness/twin/kube/server.ts';
import { runningPod, startApiFixture, type ApiFixture } from './fixture.ts';
import { createKubernetesAdapter } from '../../../harness/platform/kubernetes/adapter.ts';
import { genericEntries, snapshotGeneric } from '../../../harness/settings/generic.ts';
import type { OriginalSettings, SettingTarget } from '../../../harness/settings/types.ts';
import type { Elbv2Port } from '../../../harness/platform/ports.ts';
import { parseSpec } from '../../../harness/matrix/load.ts';
import { expandConfigs } from '../../../harness/matrix/expand.ts';

let fx: ApiFixture;
let kc: KubeConfig;
let core: CoreV1Api;
let apps: AppsV1Api;
let custom: CustomObjectsApi;
let evictAnswer: (namespace: string, name: string) => EvictionResponse;
const cleanups: Array<() => unknown> = [];

beforeEach(async () => {
  evictAnswer = () => ({ code: 500, body: { kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 500, message: 'no evictor set' } });
  fx = await startApiFixture({ evict: (ns, name) => evictAnswer(ns, name) });
  kc = new KubeConfig();
  kc.loadFromFile(fx.kubeconfig);
  core = kc.makeApiClient(CoreV1Api);
  apps = kc.makeApiClient(AppsV1Api);
  custom = kc.makeApiClient(CustomObjectsApi);
});
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
  await fx.close();
});

async function apiError(promise: Promise<unknown>): Promise<ApiException<string>> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ApiException) return error as ApiException<string>;
    throw error;
  }
  throw new Error('expected the call to fail with an ApiException, got success');
}

const names = (items: Array<{ metadata?: { name?: string } }>) => items.map((i) => i.metadata?.name);

describe('CoreV1Api and AppsV1Api', () => {
  it('lists with label and field selectors and reads one object', async () => {
    const all = await core.listNamespacedPod({ namespace: 'default', labelSelector: 'app=web' });
    expect(names(all.items)).toEqual(['web-1', 'web-2']);
    expect(all.metadata?.resourceVersion).toBe(fx.store.resourceVersion);
    const onNode = await core.listPodForAllNamespaces({ fieldSelector: 'spec.nodeName=node-b1' });
    expect(names(onNode.items)).toEqual(['web-2']);
    expect((await core.listNamespacedPod({ namespace: 'default', labelSelector: 'app notin (web)' })).items).toEqual([]);
    const pod = await core.readNamespacedPod({ name: 'web-1', namespace: 'default' });
    expect(pod.spec?.nodeName).toBe('node-a1');
    expect(pod.status?.podIP).toBe('127.0.1.1');
    const nodes = await core.listNode();
    expect(names(nodes.items)).toEqual(['node-a1', 'node-b1']);
  });

  it('creates, then fails to replace with a stale resourceVersion (409)', async () => {
    const created = await core.createNamespacedPod({ namespace: 'default', body: { metadata: { name: 'api-1', labels: { app: 'api' } }, spec: { containers: [{ name: 'c', image: 'i' }] } } });
    expect(created.metadata?.uid).toBeTruthy();
    expect(fx.store.get('pods', 'default', 'api-1')?.metadata.labels).toEqual({ app: 'api' });
    const stale = structuredClone(created);
    const fresh = await core.replaceNamespacedPod({ name: 'api-1', namespace: 'default', body: { ...created, metadata: { ...created.metadata, labels: { app: 'api', v: '2' } } } });
    expect(fresh.metadata?.labels).toEqual({ app: 'api', v: '2' });
    const conflict = await apiError(core.replaceNamespacedPod({ name: 'api-1', namespace: 'default', body: stale }));
    expect(conflict.code).toBe(409);
    expect(JSON.parse(conflict.body)).toMatchObject({ kind: 'Status', reason: 'Conflict' });
    const missing = await apiError(core.readNamespacedPod({ name: 'nope', namespace: 'default' }));
    expect(missing.code).toBe(404);
  });

  it('patches with each content type via setHeaderOptions', async () => {
    await apps.patchNamespacedDeployment(
      { name: 'web', namespace: 'default', body: { spec: { template: { spec: { containers: [{ name: 'app', env: [{ name: 'B', value: '2' }] }] } } } } },
      setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
    );
    await apps.patchNamespacedDeployment(
      { name: 'web', namespace: 'default', body: { metadata: { annotations: { 'example.com/cell': 'c1' } } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    const result = await apps.patchNamespacedDeployment(
      { name: 'web', namespace: 'default', body: [{ op: 'replace', path: '/spec/replicas', value: 3 }] },
      setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
    );
    expect(result.spec?.replicas).toBe(3);
    const stored = fx.store.get('deployments', 'default', 'web')!;
    // Strategic merge kept env A and added B; merge patch added the annotation.
    expect(stored.spec.template.spec.containers[0].env).toEqual([
      { name: 'A', value: '1' },
      { name: 'B', value: '2' },
    ]);
    expect(stored.metadata.annotations).toEqual({ 'example.com/cell': 'c1' });
    const failedTest = await apiError(
      apps.patchNamespacedDeployment(
        { name: 'web', namespace: 'default', body: [{ op: 'test', path: '/spec/replicas', value: 99 }] },
        setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
      ),
    );
    expect(failedTest.code).toBe(422);
  });

  it('patches a node (cordon) and a pod status condition', async () => {
    await core.patchNode({ name: 'node-a1', body: { spec: { unschedulable: true } } }, setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch));
    expect(fx.store.get('nodes', undefined, 'node-a1')?.spec.unschedulable).toBe(true);
    const gate = { type: 'target-health.elbv2.k8s.aws/k8s-default-web', status: 'True' };
    const pod = await core.patchNamespacedPodStatus({ name: 'web-1', namespace: 'default', body: { status: { conditions: [gate] } } }, setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch));
    expect(pod.status?.conditions?.map((c) => c.type)).toEqual(['Ready', gate.type]);
  });
});

describe('eviction', () => {
  const eviction = (name: string) => ({ apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name, namespace: 'default' } });

  it('passes evictions to the hook: 201 when it allows, 429 when a PDB would be violated', async () => {
    const asked: string[] = [];
    evictAnswer = (ns, name) => {
      asked.push(`${ns}/${name}`);
      if (name === 'web-2') {
        return { code: 429, body: { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'TooManyRequests', code: 429, message: 'Cannot evict pod as it would violate the pod\'s disruption budget.' } };
      }
      fx.store.delete('pods', ns, name);
      return { code: 201, body: { kind: 'Status', apiVersion: 'v1', status: 'Success', code: 201 } };
    };
    await core.createNamespacedPodEviction({ name: 'web-1', namespace: 'default', body: eviction('web-1') });
    expect(fx.store.get('pods', 'default', 'web-1')?.metadata.deletionTimestamp).toBeTruthy();
    const refused = await apiError(core.createNamespacedPodEviction({ name: 'web-2', namespace: 'default', body: eviction('web-2') }));
    expect(refused.code).toBe(429);
    expect(JSON.parse(refused.body)).toMatchObject({ reason: 'TooManyRequests' });
    expect(fx.store.get('pods', 'default', 'web-2')?.metadata.deletionTimestamp).toBeUndefined();
    expect(asked).toEqual(['default/web-1', 'default/web-2']);
  });

  it('accepts a 200 answer from the hook', async () => {
    evictAnswer = () => ({ code: 200, body: { kind: 'Status', apiVersion: 'v1', status: 'Success', code: 200 } });
    await expect(core.createNamespacedPodEviction({ name: 'web-1', namespace: 'default', body: eviction('web-1') })).resolves.toBeDefined();
  });
});

describe('watch and informer', () => {
  it('delivers events and resumes from a resourceVersion', async () => {
    const seen: string[] = [];
    const list = await core.listNamespacedPod({ namespace: 'default' });
    const watch = new Watch(kc);
    let done: unknown = 'open';
    const ctl = await watch.watch(
      '/api/v1/namespaces/default/pods',
      { resourceVersion: list.metadata?.resourceVersion },
      (type, obj: V1Pod) => seen.push(`${type} ${obj.metadata?.name}`),
      (err) => (done = err),
    );
    cleanups.push(() => ctl.abort());
    fx.store.create('pods', runningPod('web-3', 'node-a1'));
    fx.store.modify('pods', 'default', 'web-1', (p) => void (p.metadata.labels!.v = '2'));
    await vi.waitFor(() => expect(seen).toEqual(['ADDED web-3', 'MODIFIED web-1']));
    const resumeFrom = fx.store.resourceVersion;
    ctl.abort();
    // Changes while no one watches are replayed on resume.
    fx.store.remove('pods', 'default', 'web-2');
    const replay: string[] = [];
    const ctl2 = await new Watch(kc).watch('/api/v1/namespaces/default/pods', { resourceVersion: resumeFrom }, (type, obj: V1Pod) => replay.push(`${type} ${obj.metadata?.name}`), () => undefined);
    cleanups.push(() => ctl2.abort());
    await vi.waitFor(() => expect(replay).toEqual(['DELETED web-2']));
    expect(done).not.toBe('open');
  });

  it('drives an informer through add, update and delete', async () => {
    const events: string[] = [];
    const informer = makeInformer(kc, '/api/v1/namespaces/default/pods', () => core.listNamespacedPod({ namespace: 'default' }));
    informer.on('add', (p: V1Pod) => events.push(`add ${p.metadata?.name}`));
    informer.on('update', (p: V1Pod) => events.push(`update ${p.metadata?.name} ${p.metadata?.labels?.v ?? ''}`));
    informer.on('delete', (p: V1Pod) => events.push(`delete ${p.metadata?.name}`));
    await informer.start();
    cleanups.push(() => informer.stop());
    await vi.waitFor(() => expect(events).toEqual(['add web-1', 'add web-2']));
    fx.store.create('pods', { ...runningPod('loose', ''), spec: { containers: [{ name: 'c' }] } });
    fx.store.modify('pods', 'default', 'web-1', (p) => void (p.metadata.labels!.v = '2'));
    fx.store.delete('pods', 'default', 'loose');
    await vi.waitFor(() => expect(events.slice(2)).toEqual(['add loose', 'update web-1 2', 'delete loose']));
    expect(informer.list().map((p) => p.metadata?.name).sort()).toEqual(['web-1', 'web-2']);
  });
});

describe('CustomObjectsApi on targetgroupbindings', () => {
  const target = { group: 'elbv2.k8s.aws', version: 'v1beta1', namespace: 'default', plural: 'targetgroupbindings' };

  it('creates, lists, patches and deletes a TargetGroupBinding', async () => {
    await custom.createNamespacedCustomObject({
      ...target,
      body: {
        apiVersion: 'elbv2.k8s.aws/v1beta1',
        kind: 'TargetGroupBinding',
        metadata: { name: 'k8s-default-web' },
        spec: { serviceRef: { name: 'web', port: 80 }, targetGroupARN: 'arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/web/1', targetType: 'ip' },
      },
    });
    const list = (await custom.listNamespacedCustomObject(target)) as { kind: string; items: Array<{ metadata: { name: string } }> };
    expect(list.kind).toBe('TargetGroupBindingList');
    expect(names(list.items)).toEqual(['k8s-default-web']);
    await custom.patchNamespacedCustomObject(
      { ...target, name: 'k8s-default-web', body: { spec: { serviceRef: { port: 8080 } } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    const got = (await custom.getNamespacedCustomObject({ ...target, name: 'k8s-default-web' })) as { spec: { serviceRef: { name: string; port: number } } };
    expect(got.spec.serviceRef).toEqual({ name: 'web', port: 8080 });
    await custom.deleteNamespacedCustomObject({ ...target, name: 'k8s-default-web' });
    expect(fx.store.get('targetgroupbindings', 'default', 'k8s-default-web')).toBeUndefined();
  });
});

describe('PolicyV1Api through the harness adapter: the generic pdb axis', () => {
  const pdb = (name: string, app: string) => ({ apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: { name, namespace: 'default' }, spec: { maxUnavailable: 1, selector: { matchLabels: { app } } } });

  it('finds the PDB selecting the pods, patches it (strategic merge, merge, dry run), and restores it', async () => {
    fx.store.create('poddisruptionbudgets', pdb('api', 'api'));
    fx.store.create('poddisruptionbudgets', pdb('web', 'web'));
    const k8s = createKubernetesAdapter(kc, fx.clock);
    expect(names(await k8s.listPodDisruptionBudgets('default'))).toEqual(['api', 'web']);
    // Merge patch and a dry run that stores nothing.
    await k8s.patchPodDisruptionBudget('default', 'api', { spec: { maxUnavailable: 2 } }, 'merge');
    await k8s.dryRun!().patchPodDisruptionBudget('default', 'api', { spec: { maxUnavailable: 5 } });
    expect((await k8s.getPodDisruptionBudget('default', 'api')).spec.maxUnavailable).toBe(2);
    const { spec } = parseSpec({
      matrix: { preStopSeconds: [5], terminationGracePeriodSeconds: [30], readinessGate: [false], deregistrationDelaySeconds: [30] },
      axes: { budget: { object: 'pdb', values: { half: { spec: { maxUnavailable: null, minAvailable: '50%' } } } } },
      disruptions: ['rollout'],
    });
    const t: SettingTarget = { k8s, elbv2: {} as Elbv2Port, clock: fx.clock, namespace: 'default', deployment: 'web', targetGroupArn: '', delayVia: 'api' };
    const generic = await snapshotGeneric(t, spec);
    const o = { generic } as OriginalSettings;
    const [entry] = genericEntries(spec);
    const config = expandConfigs(spec.matrix, spec.axes)[0];
    expect(await entry.apply!(t, config, spec, o)).toBe('the PodDisruptionBudget of deployment default/web: axis budget=half');
    expect(fx.store.get('poddisruptionbudgets', 'default', 'web')?.spec).toEqual({ minAvailable: '50%', selector: { matchLabels: { app: 'web' } } });
    expect(await entry.read(t, o)).toEqual(entry.wants(config, spec, o));
    await entry.restore(t, o, new AbortController().signal);
    expect(fx.store.get('poddisruptionbudgets', 'default', 'web')?.spec).toEqual({ maxUnavailable: 1, selector: { matchLabels: { app: 'web' } } });
    expect(await entry.read(t, o)).toEqual(entry.was(o));
    expect(fx.store.get('poddisruptionbudgets', 'default', 'api')?.spec.maxUnavailable).toBe(2);
  });
});
