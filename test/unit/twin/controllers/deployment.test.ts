import { afterEach, describe, expect, it } from 'vitest';
import type { ManualClock } from '../../../../harness/core/clock.ts';
import { startClusterControllers } from '../../../../harness/twin/controllers/index.ts';
import { podTemplateHash, resolveFenceposts, resolveStrategy } from '../../../../harness/twin/controllers/deployment.ts';
import type { ObjectStore } from '../../../../harness/twin/kube/store.ts';
import type { KubeObject } from '../../../../harness/twin/kube/types.ts';
import { THREE_NODES, advanceUntil, deploymentObject, makeStore, podsOf, restart, rolloutComplete, startFakeKubelet } from './helpers.ts';

const cleanups: Array<() => void> = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

function cluster(kubelet: { readyAfterMs?: number; terminateAfterMs?: number } = {}) {
  const { clock, store } = makeStore(THREE_NODES);
  const controllers = startClusterControllers({ store, clock });
  const fake = startFakeKubelet(store, clock, kubelet);
  cleanups.push(() => controllers.stop(), () => fake.stop());
  return { clock, store, kubelet: fake };
}

const deployment = (store: ObjectStore, name = 'web') => store.require('deployments', 'default', name);
const replicaSets = (store: ObjectStore) => store.list('replicasets', { namespace: 'default' }).items;

/** Ready for more than minReadySeconds, judged independently of the controllers' helpers. */
function available(pod: KubeObject, minReadySeconds: number, now: number): boolean {
  const ready = (pod.status?.conditions ?? []).find((c: { type: string }) => c.type === 'Ready');
  if (ready?.status !== 'True') return false;
  return minReadySeconds === 0 || Date.parse(ready.lastTransitionTime) + minReadySeconds * 1000 < now;
}

/** Checks the rollout bounds on every pod and ReplicaSet event; collects violations and extremes. */
function watchBounds(store: ObjectStore, clock: ManualClock, app: string, b: { replicas: number; surge: number; unavailable: number; minReadySeconds: number }) {
  const seen = { violations: [] as string[], peakPods: 0, lowestAvailable: Infinity, checks: 0 };
  const check = (what: string) => {
    seen.checks++;
    const live = podsOf(store, app).filter((p) => !p.metadata.deletionTimestamp);
    const avail = live.filter((p) => available(p, b.minReadySeconds, clock.now())).length;
    const specSum = replicaSets(store).reduce((n, rs) => n + (rs.spec.replicas ?? 0), 0);
    seen.peakPods = Math.max(seen.peakPods, live.length);
    seen.lowestAvailable = Math.min(seen.lowestAvailable, avail);
    if (live.length > b.replicas + b.surge) seen.violations.push(`${what}: ${live.length} pods > ${b.replicas}+${b.surge}`);
    if (specSum > b.replicas + b.surge) seen.violations.push(`${what}: ReplicaSets want ${specSum} > ${b.replicas}+${b.surge}`);
    if (avail < b.replicas - b.unavailable) seen.violations.push(`${what}: ${avail} available < ${b.replicas}-${b.unavailable}`);
  };
  const stops = [store.watch('pods', {}, (e) => check(`pod ${e.type} ${e.object.metadata.name}`)), store.watch('replicasets', {}, (e) => check(`rs ${e.type} ${e.object.metadata.name}`))];
  cleanups.push(() => stops.forEach((s) => s()));
  return seen;
}

describe('fenceposts and hashing', () => {
  it('rounds maxSurge up and maxUnavailable down, and never lets both be 0', () => {
    expect(resolveFenceposts('25%', '25%', 10)).toEqual({ surge: 3, unavailable: 2 });
    expect(resolveFenceposts('25%', '25%', 1)).toEqual({ surge: 1, unavailable: 0 });
    expect(resolveFenceposts(0, '10%', 5)).toEqual({ surge: 0, unavailable: 1 });
    expect(resolveFenceposts('ten', 0, 5)).toEqual({ error: expect.stringContaining('got "ten"') });
  });

  it('defaults a Deployment to RollingUpdate 25 %/25 %, 600 s deadline, history 10', () => {
    const r = resolveStrategy(deploymentObject('web', { replicas: 4 }));
    expect(r).toMatchObject({ replicas: 4, recreate: false, maxSurge: 1, maxUnavailable: 1, progressDeadlineSeconds: 600, revisionHistoryLimit: 10, minReadySeconds: 0 });
  });

  it('hashes a template stably over key order and differently after a restart annotation', () => {
    const a = { metadata: { labels: { app: 'x', tier: 'y' } }, spec: { containers: [{ name: 'c', image: 'i' }] } };
    const b = { spec: { containers: [{ image: 'i', name: 'c' }] }, metadata: { labels: { tier: 'y', app: 'x' } } };
    const restarted = { ...a, metadata: { ...a.metadata, annotations: { 'kubectl.kubernetes.io/restartedAt': 'now' } } };
    expect(podTemplateHash(a)).toBe(podTemplateHash(b));
    expect(podTemplateHash(a)).toMatch(/^[bcdfghjklmnpqrstvwxz2456789]+$/);
    expect(podTemplateHash(restarted)).not.toBe(podTemplateHash(a));
    expect(podTemplateHash(a, 1)).not.toBe(podTemplateHash(a));
  });
});

describe('deployment controller', () => {
  it('creates <name>-<hash>, brings the pods up and reports a complete rollout', async () => {
    const { clock, store } = cluster();
    const created = store.create('deployments', deploymentObject('web', { replicas: 3 }));
    expect(await advanceUntil(clock, () => rolloutComplete(deployment(store)), 30_000)).toBe(true);

    const [rs] = replicaSets(store);
    const hash = podTemplateHash(created.spec.template);
    expect(rs.metadata.name).toBe(`web-${hash}`);
    expect(rs.metadata.ownerReferences).toEqual([expect.objectContaining({ kind: 'Deployment', name: 'web', uid: created.metadata.uid, controller: true })]);
    expect(rs.spec.selector.matchLabels).toEqual({ app: 'web', 'pod-template-hash': hash });
    expect(rs.metadata.annotations!['deployment.kubernetes.io/revision']).toBe('1');
    const pods = podsOf(store, 'web');
    expect(pods).toHaveLength(3);
    for (const p of pods) {
      expect(p.metadata.name.startsWith(`web-${hash}-`)).toBe(true);
      expect(p.metadata.labels!['pod-template-hash']).toBe(hash);
      expect(p.spec.nodeName).toBeTruthy();
    }

    const d = deployment(store);
    expect(d.metadata.annotations?.['deployment.kubernetes.io/revision']).toBe('1');
    expect(d.status).toMatchObject({ observedGeneration: 1, replicas: 3, updatedReplicas: 3, readyReplicas: 3, availableReplicas: 3, unavailableReplicas: 0 });
    const conds = Object.fromEntries(d.status.conditions.map((c: { type: string }) => [c.type, c]));
    expect(conds.Available).toMatchObject({ status: 'True', reason: 'MinimumReplicasAvailable' });
    expect(conds.Progressing).toMatchObject({ status: 'True', reason: 'NewReplicaSetAvailable', message: `ReplicaSet "web-${hash}" has successfully progressed.` });
    const events = store.list('events', { namespace: 'default' }).items.map((e) => `${e.reason}: ${e.message}`);
    expect(events).toContain(`ScalingReplicaSet: Scaled up replica set web-${hash} from 0 to 3`);
  });

  it('rolls out within maxSurge=1/maxUnavailable=0 and deletes no old pod before a new one is available', async () => {
    const { clock, store } = cluster({ readyAfterMs: 3_000, terminateAfterMs: 2_000 });
    const strategy = { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } };
    store.create('deployments', deploymentObject('web', { replicas: 4, strategy, minReadySeconds: 5 }));
    expect(await advanceUntil(clock, () => rolloutComplete(deployment(store)), 60_000)).toBe(true);
    const oldHash = replicaSets(store)[0].metadata.labels!['pod-template-hash'];

    const bounds = watchBounds(store, clock, 'web', { replicas: 4, surge: 1, unavailable: 0, minReadySeconds: 5 });
    // Each old pod's deletion must be covered by a new pod that was already available.
    const deletionsVsAvailableNew: Array<[number, number]> = [];
    let oldDeleted = 0;
    const seenDeleting = new Set<string>();
    const stop = store.watch('pods', {}, (e) => {
      const p = e.object;
      if (p.metadata.labels?.['pod-template-hash'] !== oldHash || !p.metadata.deletionTimestamp || seenDeleting.has(p.metadata.name)) return;
      seenDeleting.add(p.metadata.name);
      oldDeleted++;
      const newAvailable = podsOf(store, 'web').filter((q) => q.metadata.labels?.['pod-template-hash'] !== oldHash && !q.metadata.deletionTimestamp && available(q, 5, clock.now())).length;
      deletionsVsAvailableNew.push([oldDeleted, newAvailable]);
    });
    cleanups.push(stop);

    restart(store, 'web', '2024-05-01T00:01:00Z');
    await clock.advance(0);
    expect(rolloutComplete(deployment(store))).toBe(false);
    expect(await advanceUntil(clock, () => rolloutComplete(deployment(store)) && podsOf(store, 'web').length === 4, 120_000)).toBe(true);

    expect(bounds.checks).toBeGreaterThan(20);
    expect(bounds.violations).toEqual([]);
    expect(bounds.peakPods).toBe(5);
    expect(deletionsVsAvailableNew).toHaveLength(4);
    for (const [deleted, newAvailable] of deletionsVsAvailableNew) expect(newAvailable).toBeGreaterThanOrEqual(deleted);

    const rss = replicaSets(store);
    expect(rss).toHaveLength(2);
    const newRS = rss.find((rs) => rs.metadata.labels!['pod-template-hash'] !== oldHash)!;
    const oldRS = rss.find((rs) => rs.metadata.labels!['pod-template-hash'] === oldHash)!;
    expect(newRS.spec.replicas).toBe(4);
    expect(oldRS.spec.replicas).toBe(0);
    expect(newRS.metadata.annotations!['deployment.kubernetes.io/revision']).toBe('2');
    expect(newRS.spec.template.metadata.annotations['kubectl.kubernetes.io/restartedAt']).toBe('2024-05-01T00:01:00Z');
    expect(newRS.spec.minReadySeconds).toBe(5);
    const d = deployment(store);
    expect(d.metadata.annotations!['deployment.kubernetes.io/revision']).toBe('2');
    expect(d.status).toMatchObject({ observedGeneration: 2, replicas: 4, updatedReplicas: 4, availableReplicas: 4 });
    expect(podsOf(store, 'web').every((p) => p.metadata.labels!['pod-template-hash'] === newRS.metadata.labels!['pod-template-hash'])).toBe(true);
  });

  it('rolls out within maxSurge=0/maxUnavailable=1 (never more pods than replicas)', async () => {
    const { clock, store } = cluster({ readyAfterMs: 2_000, terminateAfterMs: 3_000 });
    const strategy = { type: 'RollingUpdate', rollingUpdate: { maxSurge: 0, maxUnavailable: 1 } };
    store.create('deployments', deploymentObject('web', { replicas: 4, strategy }));
    expect(await advanceUntil(clock, () => rolloutComplete(deployment(store)), 30_000)).toBe(true);
    const bounds = watchBounds(store, clock, 'web', { replicas: 4, surge: 0, unavailable: 1, minReadySeconds: 0 });
    restart(store, 'web', 'r1');
    expect(await advanceUntil(clock, () => rolloutComplete(deployment(store)) && podsOf(store, 'web').length === 4, 120_000)).toBe(true);
    expect(bounds.violations).toEqual([]);
    expect(bounds.peakPods).toBe(4);
    expect(bounds.lowestAvailable).toBe(3);
  });

  it('uses the default 25 % bounds exactly: 10 replicas peak at 13 pods and never drop below 8 available', async () => {
    const { clock, store } = cluster({ readyAfterMs: 4_000, terminateAfterMs: 5_000 });
    store.create('deployments', deploymentObject('web', { replicas: 10 }));
    expect(await advanceUntil(clock, () => rolloutComplete(deployment(store)), 30_000)).toBe(true);
    const bounds = watchBounds(store, clock, 'web', { replicas: 10, surge: 3, unavailable: 2, minReadySeconds: 0 });
    restart(store, 'web', 'r1');
    expect(await advanceUntil(clock, () => rolloutComplete(deployment(store)) && podsOf(store, 'web').length === 10, 180_000)).toBe(true);
    expect(bounds.violations).toEqual([]);
    expect(bounds.peakPods).toBe(13);
    expect(bounds.lowestAvailable).toBe(8);
  });

  // Percent bounds round as the Kubernetes docs say: maxSurge up, maxUnavailable down. Each case
  // reaches its bounds exactly (so a wrong rounding shows), and minReadySeconds holds back the
  // count of available pods during the rollout.
  for (const c of [
    { replicas: 5, maxSurge: '30%', maxUnavailable: '30%', surge: 2, unavailable: 1, minReadySeconds: 0 },
    { replicas: 3, maxSurge: '50%', maxUnavailable: '50%', surge: 2, unavailable: 1, minReadySeconds: 3 },
    { replicas: 4, maxSurge: 2, maxUnavailable: '10%', surge: 2, unavailable: 0, minReadySeconds: 2 },
  ]) {
    it(`keeps a rollout of ${c.replicas} within maxSurge=${c.maxSurge} (${c.surge}) / maxUnavailable=${c.maxUnavailable} (${c.unavailable}), minReadySeconds ${c.minReadySeconds}`, async () => {
      const { clock, store } = cluster({ readyAfterMs: 2_000, terminateAfterMs: 3_000 });
      const strategy = { type: 'RollingUpdate', rollingUpdate: { maxSurge: c.maxSurge, maxUnavailable: c.maxUnavailable } };
      store.create('deployments', deploymentObject('web', { replicas: c.replicas, strategy, minReadySeconds: c.minReadySeconds }));
      expect(await advanceUntil(clock, () => rolloutComplete(deployment(store)), 60_000)).toBe(true);
      await clock.advance(c.minReadySeconds * 1000 + 1000);
      const bounds = watchBounds(store, clock, 'web', c);
      restart(store, 'web', 'r1');
      expect(await advanceUntil(clock, () => rolloutComplete(deployment(store)) && podsOf(store, 'web').length === c.replicas, 180_000)).toBe(true);
      expect(bounds.violations).toEqual([]);
      expect(bounds.peakPods).toBe(c.replicas + c.surge);
      expect(bounds.lowestAvailable).toBe(c.replicas - c.unavailable);
    });
  }

  it('a replicas change during a rollout scales both ReplicaSets and the rollout ends with the new count, all new pods', async () => {
    const { clock, store } = cluster({ readyAfterMs: 3_000, terminateAfterMs: 2_000 });
    const strategy = { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } };
    store.create('deployments', deploymentObject('web', { replicas: 4, strategy }));
    expect(await advanceUntil(clock, () => rolloutComplete(deployment(store)), 30_000)).toBe(true);
    const oldHash = replicaSets(store)[0].metadata.labels!['pod-template-hash'];
    restart(store, 'web', 'r1');
    await clock.advance(4_000);
    expect(rolloutComplete(deployment(store))).toBe(false);
    const bounds = watchBounds(store, clock, 'web', { replicas: 6, surge: 1, unavailable: 0, minReadySeconds: 0 });
    store.modify('deployments', 'default', 'web', (d) => void (d.spec.replicas = 6));
    expect(await advanceUntil(clock, () => rolloutComplete(deployment(store)) && podsOf(store, 'web').length === 6, 120_000)).toBe(true);
    expect(bounds.peakPods).toBeLessThanOrEqual(7);
    expect(bounds.violations.filter((v) => v.includes('pods >') || v.includes('want'))).toEqual([]);
    expect(podsOf(store, 'web').every((p) => p.metadata.labels!['pod-template-hash'] !== oldHash)).toBe(true);
    expect(deployment(store).status).toMatchObject({ replicas: 6, updatedReplicas: 6, availableReplicas: 6 });
  });

  it('waits minReadySeconds before counting a Ready pod as available', async () => {
    const { clock, store } = cluster({ readyAfterMs: 1_000 });
    store.create('deployments', deploymentObject('web', { replicas: 2, minReadySeconds: 10 }));
    await advanceUntil(clock, () => (deployment(store).status?.readyReplicas ?? 0) === 2, 10_000, 100);
    expect(deployment(store).status.availableReplicas).toBe(0);
    expect(replicaSets(store)[0].status.availableReplicas).toBe(0);
    await clock.advance(9_000);
    expect(deployment(store).status.availableReplicas).toBe(0);
    await clock.advance(2_000);
    expect(replicaSets(store)[0].status.availableReplicas).toBe(2);
    expect(deployment(store).status.availableReplicas).toBe(2);
    expect(rolloutComplete(deployment(store))).toBe(true);
  });

  it('holds old pods while new ones are not Ready (a readiness gate that is never satisfied), then times out', async () => {
    const { clock, store, kubelet } = cluster({ readyAfterMs: 1_000 });
    const strategy = { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } };
    store.create('deployments', deploymentObject('web', { replicas: 2, strategy, progressDeadlineSeconds: 30 }));
    expect(await advanceUntil(clock, () => rolloutComplete(deployment(store)), 30_000)).toBe(true);
    const oldPods = podsOf(store, 'web').map((p) => p.metadata.name);
    // New pods carry a gate nobody sets: they run but never become Ready.
    store.modify('deployments', 'default', 'web', (d) => {
      d.spec.template.spec.readinessGates = [{ conditionType: 'example.com/never' }];
    });
    await clock.advance(20_000);
    let d = deployment(store);
    expect(d.status.updatedReplicas).toBe(1);
    expect(podsOf(store, 'web').filter((p) => oldPods.includes(p.metadata.name) && !p.metadata.deletionTimestamp)).toHaveLength(2);
    expect(d.status.conditions.find((c: { type: string }) => c.type === 'Progressing')).toMatchObject({ status: 'True', reason: 'ReplicaSetUpdated' });
    expect(rolloutComplete(d)).toBe(false);

    await clock.advance(15_000);
    d = deployment(store);
    expect(d.status.conditions.find((c: { type: string }) => c.type === 'Progressing')).toMatchObject({ status: 'False', reason: 'ProgressDeadlineExceeded' });
    expect(podsOf(store, 'web').filter((p) => oldPods.includes(p.metadata.name) && !p.metadata.deletionTimestamp)).toHaveLength(2);

    // Satisfying the gate lets the rollout finish and clears the timeout.
    const stuck = podsOf(store, 'web').find((p) => !oldPods.includes(p.metadata.name))!;
    kubelet.setCondition('default', stuck.metadata.name, 'example.com/never', 'True');
    await clock.advance(3_000);
    const second = podsOf(store, 'web').find((p) => !oldPods.includes(p.metadata.name) && p.metadata.name !== stuck.metadata.name && !p.metadata.deletionTimestamp);
    expect(second).toBeDefined();
    kubelet.setCondition('default', second!.metadata.name, 'example.com/never', 'True');
    expect(await advanceUntil(clock, () => rolloutComplete(deployment(store)) && podsOf(store, 'web').length === 2, 30_000)).toBe(true);
    expect(deployment(store).status.conditions.find((c: { type: string }) => c.type === 'Progressing')).toMatchObject({ status: 'True', reason: 'NewReplicaSetAvailable' });
  });

  it('Recreate removes every old pod before creating a new one', async () => {
    const { clock, store } = cluster({ readyAfterMs: 1_000, terminateAfterMs: 4_000 });
    store.create('deployments', deploymentObject('web', { replicas: 3, strategy: { type: 'Recreate' } }));
    expect(await advanceUntil(clock, () => rolloutComplete(deployment(store)), 30_000)).toBe(true);
    const oldHash = replicaSets(store)[0].metadata.labels!['pod-template-hash'];
    const overlaps: string[] = [];
    const stop = store.watch('pods', {}, (e) => {
      if (e.type !== 'ADDED') return;
      const old = podsOf(store, 'web').filter((p) => p.metadata.labels!['pod-template-hash'] === oldHash);
      if (old.length > 0) overlaps.push(`${e.object.metadata.name} created while ${old.length} old pods exist`);
    });
    cleanups.push(stop);
    restart(store, 'web', 'r1');
    await clock.advance(2_000);
    expect(podsOf(store, 'web').every((p) => p.metadata.deletionTimestamp)).toBe(true);
    expect(await advanceUntil(clock, () => rolloutComplete(deployment(store)) && podsOf(store, 'web').length === 3, 60_000)).toBe(true);
    expect(overlaps).toEqual([]);
    expect(podsOf(store, 'web').every((p) => p.metadata.labels!['pod-template-hash'] !== oldHash)).toBe(true);
  });

  it('keeps at most revisionHistoryLimit old ReplicaSets', async () => {
    const { clock, store } = cluster({ readyAfterMs: 500, terminateAfterMs: 500 });
    store.create('deployments', deploymentObject('web', { replicas: 1, revisionHistoryLimit: 1 }));
    expect(await advanceUntil(clock, () => rolloutComplete(deployment(store)), 10_000)).toBe(true);
    for (const at of ['r1', 'r2', 'r3']) {
      restart(store, 'web', at);
      expect(await advanceUntil(clock, () => rolloutComplete(deployment(store)) && podsOf(store, 'web').length === 1, 30_000)).toBe(true);
      await clock.advance(1_000);
    }
    const revisions = replicaSets(store)
      .map((rs) => Number(rs.metadata.annotations!['deployment.kubernetes.io/revision']))
      .sort();
    expect(revisions).toEqual([3, 4]);
    expect(deployment(store).metadata.annotations!['deployment.kubernetes.io/revision']).toBe('4');
  });

  it('scales the ReplicaSet when replicas change, without a new revision', async () => {
    const { clock, store } = cluster({ readyAfterMs: 500 });
    store.create('deployments', deploymentObject('web', { replicas: 2 }));
    expect(await advanceUntil(clock, () => rolloutComplete(deployment(store)), 10_000)).toBe(true);
    store.modify('deployments', 'default', 'web', (d) => void (d.spec.replicas = 5));
    expect(await advanceUntil(clock, () => rolloutComplete(deployment(store)), 10_000)).toBe(true);
    expect(replicaSets(store)).toHaveLength(1);
    expect(replicaSets(store)[0].spec.replicas).toBe(5);
    expect(replicaSets(store)[0].metadata.annotations!['deployment.kubernetes.io/desired-replicas']).toBe('5');
    expect(podsOf(store, 'web')).toHaveLength(5);
    store.modify('deployments', 'default', 'web', (d) => void (d.spec.replicas = 1));
    expect(await advanceUntil(clock, () => rolloutComplete(deployment(store)) && podsOf(store, 'web').length === 1, 10_000)).toBe(true);
    expect(deployment(store).metadata.annotations!['deployment.kubernetes.io/revision']).toBe('1');
  });

  it('makes no writes once settled (no write storm)', async () => {
    const { clock, store } = cluster({ readyAfterMs: 500 });
    store.create('deployments', deploymentObject('web', { replicas: 3 }));
    expect(await advanceUntil(clock, () => rolloutComplete(deployment(store)), 10_000)).toBe(true);
    await clock.advance(5_000);
    const rv = store.resourceVersion;
    await clock.advance(60_000);
    expect(store.resourceVersion).toBe(rv);
  });
});
