import { afterEach, describe, expect, it } from 'vitest';
import { podsToDelete, startReplicaSetController } from '../../../../harness/twin/controllers/replicaset.ts';
import { startScheduler } from '../../../../harness/twin/controllers/scheduler.ts';
import type { ObjectStore } from '../../../../harness/twin/kube/store.ts';
import type { KubeObject } from '../../../../harness/twin/kube/types.ts';
import { T0, THREE_NODES, advanceUntil, makeStore, startFakeKubelet } from './helpers.ts';

const cleanups: Array<() => void> = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

function cluster(opts: { schedule?: boolean } = {}) {
  const { clock, store } = makeStore(THREE_NODES);
  const rsc = startReplicaSetController({ store, clock });
  cleanups.push(() => rsc.stop());
  if (opts.schedule !== false) {
    const scheduler = startScheduler({ store, clock });
    const kubelet = startFakeKubelet(store, clock, { readyAfterMs: 1_000, terminateAfterMs: 2_000 });
    cleanups.push(() => scheduler.stop(), () => kubelet.stop());
  }
  return { clock, store };
}

function replicaSet(name: string, replicas: number, minReadySeconds = 0): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: { name, namespace: 'default', labels: { app: name, 'pod-template-hash': 'abc12' } },
    spec: {
      replicas,
      minReadySeconds,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name }, annotations: { note: 'x' } }, spec: { containers: [{ name: 'c', image: 'i' }] } },
    },
  };
}

const live = (store: ObjectStore) => store.list('pods', { namespace: 'default' }).items.filter((p) => !p.metadata.deletionTimestamp);

describe('replicaset controller', () => {
  it('creates pods from the template with generateName, labels, owner and the pod-template-hash label', async () => {
    const { clock, store } = cluster({ schedule: false });
    const rs = store.create('replicasets', replicaSet('web', 3));
    await clock.advance(0);
    const pods = live(store);
    expect(pods).toHaveLength(3);
    for (const p of pods) {
      expect(p.metadata.name).toMatch(/^web-[a-z0-9]{5}$/);
      expect(p.metadata.labels).toEqual({ app: 'web', 'pod-template-hash': 'abc12' });
      expect(p.metadata.annotations).toEqual({ note: 'x' });
      expect(p.metadata.ownerReferences).toEqual([{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web', uid: rs.metadata.uid, controller: true, blockOwnerDeletion: true }]);
      expect(p.status.phase).toBe('Pending');
    }
    expect(store.require('replicasets', 'default', 'web').status).toEqual({ replicas: 3, fullyLabeledReplicas: 3, readyReplicas: 0, availableReplicas: 0, observedGeneration: 1 });
    const reasons = store.list('events', { namespace: 'default' }).items.map((e) => e.reason);
    expect(reasons.filter((r) => r === 'SuccessfulCreate')).toHaveLength(3);
    expect(store.list('events', { namespace: 'default' }).items.find((e) => e.reason === 'SuccessfulCreate')!.source).toEqual({ component: 'replicaset-controller' });
  });

  it('replaces a deleted pod, and does not count terminating pods', async () => {
    const { clock, store } = cluster();
    store.create('replicasets', replicaSet('web', 3));
    expect(await advanceUntil(clock, () => store.require('replicasets', 'default', 'web').status?.readyReplicas === 3, 10_000, 100)).toBe(true);
    const victim = live(store)[0];
    store.delete('pods', 'default', victim.metadata.name);
    await clock.advance(0);
    // The victim is still terminating (kubelet takes 2 s) and a replacement already exists.
    const all = store.list('pods', { namespace: 'default' }).items;
    expect(all).toHaveLength(4);
    expect(live(store)).toHaveLength(3);
    expect(live(store).map((p) => p.metadata.name)).not.toContain(victim.metadata.name);
    expect(store.require('replicasets', 'default', 'web').status.replicas).toBe(3);
    expect(await advanceUntil(clock, () => store.require('replicasets', 'default', 'web').status?.readyReplicas === 3, 10_000, 100)).toBe(true);
    await clock.advance(2_000);
    expect(store.list('pods', { namespace: 'default' }).items).toHaveLength(3);
    expect(store.get('pods', 'default', victim.metadata.name)).toBeUndefined();
  });

  it('scales down by deleting surplus pods, and counts availability with minReadySeconds', async () => {
    const { clock, store } = cluster();
    store.create('replicasets', replicaSet('web', 4, 5));
    await advanceUntil(clock, () => store.require('replicasets', 'default', 'web').status?.readyReplicas === 4, 10_000, 100);
    expect(store.require('replicasets', 'default', 'web').status.availableReplicas).toBe(0);
    await clock.advance(6_000);
    expect(store.require('replicasets', 'default', 'web').status.availableReplicas).toBe(4);
    store.modify('replicasets', 'default', 'web', (rs) => void (rs.spec.replicas = 1));
    await clock.advance(0);
    expect(live(store)).toHaveLength(1);
    expect(store.require('replicasets', 'default', 'web').status).toMatchObject({ replicas: 1, observedGeneration: 2 });
  });

  it('adopts a matching orphan instead of creating a pod, and releases a pod that stops matching', async () => {
    const { clock, store } = cluster({ schedule: false });
    store.create('pods', { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'stray', namespace: 'default', labels: { app: 'web' } }, spec: {} });
    const rs = store.create('replicasets', replicaSet('web', 2));
    await clock.advance(0);
    expect(live(store)).toHaveLength(2);
    expect(store.require('pods', 'default', 'stray').metadata.ownerReferences?.[0].uid).toBe(rs.metadata.uid);
    store.modify('pods', 'default', 'stray', (p) => void (p.metadata.labels = { app: 'other' }));
    await clock.advance(0);
    expect(store.require('pods', 'default', 'stray').metadata.ownerReferences).toEqual([]);
    expect(live(store).filter((p) => p.metadata.labels?.app === 'web')).toHaveLength(2);
  });
});

describe('podsToDelete', () => {
  const at = (s: number) => new Date(T0 + s * 1000).toISOString().replace('.000Z', 'Z');
  const pod = (name: string, o: { node?: string; phase?: string; ready?: boolean; readySince?: number; created?: number }): KubeObject => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, creationTimestamp: at(o.created ?? 0) },
    spec: o.node ? { nodeName: o.node } : {},
    status: { phase: o.phase ?? 'Running', conditions: o.ready ? [{ type: 'Ready', status: 'True', lastTransitionTime: at(o.readySince ?? 0) }] : [] },
  });

  it('ranks unscheduled, then pending, then not ready, then crowded nodes, then newest', () => {
    const pods = [
      pod('ready-old', { node: 'n1', ready: true, readySince: 1, created: 0 }),
      pod('ready-new', { node: 'n2', ready: true, readySince: 50, created: 40 }),
      pod('unready', { node: 'n1', ready: false }),
      pod('pending', { node: 'n3', phase: 'Pending' }),
      pod('unscheduled', { phase: 'Pending' }),
    ];
    const order = podsToDelete(pods, pods, 5, T0 + 100_000).map((p) => p.metadata.name);
    expect(order).toEqual(['unscheduled', 'pending', 'unready', 'ready-old', 'ready-new']);
    // Equal nodes: the one ready for less time goes first.
    const spread = [pods[0], pods[1]];
    expect(podsToDelete(spread, spread, 1, T0 + 100_000).map((p) => p.metadata.name)).toEqual(['ready-new']);
  });
});
