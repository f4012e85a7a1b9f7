import { afterEach, describe, expect, it } from 'vitest';
import { evictPod } from '../../../../harness/twin/controllers/eviction.ts';
import { startClusterControllers } from '../../../../harness/twin/controllers/index.ts';
import type { ObjectStore } from '../../../../harness/twin/kube/store.ts';
import type { KubeObject } from '../../../../harness/twin/kube/types.ts';
import { THREE_NODES, advanceUntil, deploymentObject, makeStore, podsOf, rolloutComplete, startFakeKubelet } from './helpers.ts';

const cleanups: Array<() => void> = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

async function cluster(replicas: number, budget?: Record<string, unknown>) {
  const { clock, store } = makeStore(THREE_NODES);
  const controllers = startClusterControllers({ store, clock });
  const kubelet = startFakeKubelet(store, clock, { readyAfterMs: 2_000, terminateAfterMs: 3_000 });
  cleanups.push(() => controllers.stop(), () => kubelet.stop());
  store.create('deployments', deploymentObject('web', { replicas }));
  if (budget) store.create('poddisruptionbudgets', pdb('web-pdb', budget));
  expect(await advanceUntil(clock, () => rolloutComplete(store.require('deployments', 'default', 'web')), 10_000)).toBe(true);
  return { clock, store, kubelet };
}

function pdb(name: string, spec: Record<string, unknown>, app = 'web'): KubeObject {
  return { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: { name, namespace: 'default' }, spec: { selector: { matchLabels: { app } }, ...spec } };
}

const livePods = (store: ObjectStore) => podsOf(store, 'web').filter((p) => !p.metadata.deletionTimestamp);
const evict = (store: ObjectStore, name: string, body?: unknown) => evictPod(store, 'default', name, body ?? { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name, namespace: 'default' } });
const budget = (store: ObjectStore, name = 'web-pdb') => store.require('poddisruptionbudgets', 'default', name);

/** Evicts pods one by one until a 429; returns how many were evicted. */
function evictUntilRefused(store: ObjectStore): { evicted: number; refusal: ReturnType<typeof evictPod> | undefined } {
  let evicted = 0;
  for (const p of livePods(store)) {
    const answer = evict(store, p.metadata.name);
    if (answer.code === 429) return { evicted, refusal: answer };
    expect(answer.code).toBe(201);
    evicted++;
  }
  return { evicted, refusal: undefined };
}

describe('evictPod', () => {
  it('answers 404 for a missing pod and 400 for a mismatched name', async () => {
    const { store } = await cluster(1);
    expect(evict(store, 'nope')).toEqual({
      code: 404,
      body: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'pods "nope" not found', reason: 'NotFound', details: { name: 'nope', kind: 'pods' }, code: 404 },
    });
    const name = livePods(store)[0].metadata.name;
    expect(evict(store, name, { metadata: { name: 'other' } }).code).toBe(400);
  });

  it('without a budget deletes the pod with the eviction grace period and answers 201 Success', async () => {
    const { store } = await cluster(2);
    const name = livePods(store)[0].metadata.name;
    const answer = evict(store, name, { metadata: { name }, deleteOptions: { gracePeriodSeconds: 7 } });
    expect(answer).toEqual({ code: 201, body: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 } });
    const pod = store.require('pods', 'default', name);
    expect(pod.metadata.deletionTimestamp).toBeDefined();
    expect(pod.metadata.deletionGracePeriodSeconds).toBe(7);
    expect(pod.status.conditions).toEqual(expect.arrayContaining([expect.objectContaining({ type: 'DisruptionTarget', status: 'True', reason: 'EvictionByEvictionAPI' })]));
  });

  it('minAvailable (int): allows down to the minimum, then 429 with the DisruptionBudget cause; allows again once a replacement is Ready', async () => {
    const { clock, store } = await cluster(3, { minAvailable: 2 });
    expect(budget(store).status).toMatchObject({ currentHealthy: 3, desiredHealthy: 2, expectedPods: 3, disruptionsAllowed: 1, observedGeneration: 1 });
    expect(budget(store).status.conditions).toEqual([expect.objectContaining({ type: 'DisruptionAllowed', status: 'True', reason: 'SufficientPods' })]);
    const [first, second] = livePods(store).map((p) => p.metadata.name);
    expect(evict(store, first).code).toBe(201);
    // Recorded like the API server does, before the controller catches up.
    expect(budget(store).status.disruptionsAllowed).toBe(0);
    expect(Object.keys(budget(store).status.disruptedPods)).toEqual([first]);
    const refused = evict(store, second);
    expect(refused).toEqual({
      code: 429,
      body: {
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message: "Cannot evict pod as it would violate the pod's disruption budget.",
        reason: 'TooManyRequests',
        details: { causes: [{ reason: 'DisruptionBudget', message: 'The disruption budget web-pdb needs 2 healthy pods and has 2 currently' }] },
        code: 429,
      },
    });
    expect(store.require('pods', 'default', second).metadata.deletionTimestamp).toBeUndefined();
    await clock.advance(0);
    expect(budget(store).status).toMatchObject({ currentHealthy: 2, disruptionsAllowed: 0 });
    expect(budget(store).status.disruptedPods).toBeUndefined();
    expect(budget(store).status.conditions[0]).toMatchObject({ status: 'False', reason: 'InsufficientPods' });
    // The Deployment's replacement becomes Ready; the budget opens again.
    expect(await advanceUntil(clock, () => budget(store).status.currentHealthy === 3, 10_000)).toBe(true);
    expect(evict(store, second).code).toBe(201);
  });

  it('maxUnavailable (int) counts expected pods from the Deployment', async () => {
    const { store } = await cluster(4, { maxUnavailable: 1 });
    expect(budget(store).status).toMatchObject({ expectedPods: 4, desiredHealthy: 3, disruptionsAllowed: 1 });
    const { evicted, refusal } = evictUntilRefused(store);
    expect(evicted).toBe(1);
    expect(refusal?.body.details?.causes?.[0].message).toBe('The disruption budget web-pdb needs 3 healthy pods and has 3 currently');
  });

  it('minAvailable (%) rounds up: 50 % of 5 needs 3', async () => {
    const { store } = await cluster(5, { minAvailable: '50%' });
    expect(budget(store).status).toMatchObject({ expectedPods: 5, desiredHealthy: 3, disruptionsAllowed: 2 });
    expect(evictUntilRefused(store).evicted).toBe(2);
  });

  it('maxUnavailable (%) rounds up: 30 % of 4 allows 2', async () => {
    const { store } = await cluster(4, { maxUnavailable: '30%' });
    expect(budget(store).status).toMatchObject({ expectedPods: 4, desiredHealthy: 2, disruptionsAllowed: 2 });
    expect(evictUntilRefused(store).evicted).toBe(2);
  });

  it('answers 500 when two budgets select the pod', async () => {
    const { store } = await cluster(2, { minAvailable: 1 });
    store.create('poddisruptionbudgets', pdb('second', { maxUnavailable: 1 }));
    const name = livePods(store)[0].metadata.name;
    const answer = evict(store, name);
    expect(answer.code).toBe(500);
    expect(answer.body).toMatchObject({ status: 'Failure', message: 'This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.' });
    expect(store.require('pods', 'default', name).metadata.deletionTimestamp).toBeUndefined();
  });

  it('lets a terminating pod, or an unready one while the budget is met, go without spending the budget', async () => {
    const { clock, store, kubelet } = await cluster(3, { minAvailable: 1 });
    const [a, b] = livePods(store).map((p) => p.metadata.name);
    store.delete('pods', 'default', a);
    expect(evict(store, a).code).toBe(201);
    expect(budget(store).status.disruptedPods).toBeUndefined();
    // An unready pod (a failing gate) while the budget is met (1 healthy ≥ 1 desired) goes even
    // though no disruption is allowed, and the budget is untouched (IfHealthyBudget).
    store.modify('pods', 'default', b, (p) => void (p.spec.readinessGates = [{ conditionType: 'x/y' }]));
    kubelet.setCondition('default', b, 'x/y', 'False');
    await clock.advance(0);
    expect(store.require('pods', 'default', b).status.conditions).toEqual(expect.arrayContaining([expect.objectContaining({ type: 'Ready', status: 'False' })]));
    const allowedBefore = budget(store).status.disruptionsAllowed;
    expect(evict(store, b).code).toBe(201);
    expect(store.require('pods', 'default', b).metadata.deletionTimestamp).toBeDefined();
    expect(budget(store).status.disruptedPods?.[b]).toBeUndefined();
    expect(allowedBefore).toBe(0);
    // A Ready pod at the same moment is refused.
    const c = livePods(store).find((p) => p.status?.conditions?.some((x: { type: string; status: string }) => x.type === 'Ready' && x.status === 'True'))!;
    expect(evict(store, c.metadata.name).code).toBe(429);
  });
});
