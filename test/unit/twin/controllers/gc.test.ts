import { afterEach, describe, expect, it } from 'vitest';
import { startClusterControllers } from '../../../../harness/twin/controllers/index.ts';
import { THREE_NODES, advanceUntil, deploymentObject, makeStore, podsOf, rolloutComplete, startFakeKubelet } from './helpers.ts';

const cleanups: Array<() => void> = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

async function runningDeployment(replicas = 3) {
  const { clock, store } = makeStore(THREE_NODES);
  const controllers = startClusterControllers({ store, clock });
  const kubelet = startFakeKubelet(store, clock, { readyAfterMs: 1_000, terminateAfterMs: 5_000 });
  cleanups.push(() => controllers.stop(), () => kubelet.stop());
  store.create('deployments', deploymentObject('web', { replicas, grace: 45 }));
  expect(await advanceUntil(clock, () => rolloutComplete(store.require('deployments', 'default', 'web')), 10_000)).toBe(true);
  return { clock, store };
}

describe('garbage collector', () => {
  it('cascades a Deployment deletion to its ReplicaSets and their pods, which terminate with their own grace', async () => {
    const { clock, store } = await runningDeployment();
    store.delete('deployments', 'default', 'web');
    await clock.advance(0);
    expect(store.list('replicasets', { namespace: 'default' }).items).toEqual([]);
    const pods = podsOf(store, 'web');
    expect(pods).toHaveLength(3);
    for (const p of pods) {
      expect(p.metadata.deletionTimestamp).toBeDefined();
      expect(p.metadata.deletionGracePeriodSeconds).toBe(45);
    }
    // Nothing recreates them; the kubelet finishes the termination.
    await clock.advance(6_000);
    expect(podsOf(store, 'web')).toEqual([]);
  });

  it('deletes the pods of a deleted ReplicaSet (and the Deployment replaces it)', async () => {
    const { clock, store } = await runningDeployment(2);
    const [rs] = store.list('replicasets', { namespace: 'default' }).items;
    const before = podsOf(store, 'web').map((p) => p.metadata.name);
    store.delete('replicasets', 'default', rs.metadata.name);
    await clock.advance(0);
    for (const name of before) expect(store.require('pods', 'default', name).metadata.deletionTimestamp).toBeDefined();
    const replacement = store.require('replicasets', 'default', rs.metadata.name);
    expect(replacement.metadata.uid).not.toBe(rs.metadata.uid);
    expect(await advanceUntil(clock, () => rolloutComplete(store.require('deployments', 'default', 'web')) && podsOf(store, 'web').length === 2, 20_000)).toBe(true);
  });

  it('removes pods of a vanished node after the 40 s quarantine, not before', async () => {
    const { clock, store } = await runningDeployment(3);
    const onA1 = podsOf(store, 'web').filter((p) => p.spec.nodeName === 'node-a1');
    expect(onA1).toHaveLength(1);
    store.remove('nodes', undefined, 'node-a1');
    await clock.advance(39_000);
    expect(store.get('pods', 'default', onA1[0].metadata.name)).toBeDefined();
    await clock.advance(1_500);
    expect(store.get('pods', 'default', onA1[0].metadata.name)).toBeUndefined();
    // The ReplicaSet replaced it on a node that exists.
    expect(await advanceUntil(clock, () => podsOf(store, 'web').filter((p) => p.status?.phase === 'Running').length === 3, 10_000)).toBe(true);
    expect(podsOf(store, 'web').every((p) => p.spec.nodeName !== 'node-a1')).toBe(true);
  });

  it('drops a dangling owner reference when another owner still exists', async () => {
    const { clock, store } = makeStore();
    const controllers = startClusterControllers({ store, clock });
    cleanups.push(() => controllers.stop());
    const live = store.create('deployments', { ...deploymentObject('keep', { replicas: 0 }) });
    store.create('pods', {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: 'shared',
        namespace: 'default',
        ownerReferences: [
          { apiVersion: 'apps/v1', kind: 'Deployment', name: 'keep', uid: live.metadata.uid! },
          { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'gone', uid: 'no-such-uid' },
        ],
      },
      spec: {},
    });
    await clock.advance(0);
    expect(store.require('pods', 'default', 'shared').metadata.ownerReferences).toEqual([expect.objectContaining({ name: 'keep' })]);
  });
});
