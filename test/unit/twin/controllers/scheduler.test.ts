import { afterEach, describe, expect, it } from 'vitest';
import { startScheduler, tolerates, type SchedulingPolicy } from '../../../../harness/twin/controllers/scheduler.ts';
import type { ObjectStore } from '../../../../harness/twin/kube/store.ts';
import type { KubeObject } from '../../../../harness/twin/kube/types.ts';
import { THREE_NODES, makeStore, nodeObject, type NodeSpec } from './helpers.ts';

const cleanups: Array<() => void> = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

function cluster(nodes: NodeSpec[], scheduling: SchedulingPolicy = 'spread') {
  const { clock, store } = makeStore(nodes);
  const scheduler = startScheduler({ store, clock, scheduling });
  cleanups.push(() => scheduler.stop());
  return { clock, store };
}

let seq = 0;
function pod(store: ObjectStore, owner: string | undefined, extra: Partial<KubeObject['spec']> = {}): string {
  const name = `p${String(++seq).padStart(3, '0')}`;
  store.create('pods', {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: 'default',
      ...(owner ? { ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: owner, uid: `uid-${owner}`, controller: true }] } : {}),
    },
    spec: { containers: [{ name: 'c', image: 'i' }], ...extra },
  });
  return name;
}

const nodeOf = (store: ObjectStore, name: string) => store.require('pods', 'default', name).spec.nodeName as string | undefined;
const perNode = (store: ObjectStore) => {
  const counts: Record<string, number> = {};
  for (const p of store.list('pods').items) if (p.spec.nodeName) counts[p.spec.nodeName] = (counts[p.spec.nodeName] ?? 0) + 1;
  return counts;
};

describe('scheduler', () => {
  it('spreads pods of one owner evenly and sets PodScheduled and a Scheduled event', async () => {
    const { clock, store } = cluster(THREE_NODES);
    const names = Array.from({ length: 6 }, () => pod(store, 'web'));
    await clock.advance(0);
    expect(perNode(store)).toEqual({ 'node-a1': 2, 'node-b1': 2, 'node-b2': 2 });
    const p = store.require('pods', 'default', names[0]);
    expect(p.status.conditions).toEqual([expect.objectContaining({ type: 'PodScheduled', status: 'True' })]);
    const event = store.list('events', { namespace: 'default' }).items.find((e) => e.reason === 'Scheduled' && (e.involvedObject as { name: string }).name === names[0]);
    expect(event?.message).toBe(`Successfully assigned default/${names[0]} to ${p.spec.nodeName}`);
    expect(event?.source).toEqual({ component: 'default-scheduler' });
  });

  it('spreads by the owner first: a busy node still gets the first pod of another owner', async () => {
    const { clock, store } = cluster(THREE_NODES);
    for (let i = 0; i < 2; i++) pod(store, 'other', { nodeName: 'node-b1' });
    pod(store, 'other', { nodeName: 'node-b2' });
    pod(store, 'other', { nodeName: 'node-a1' });
    const mine = [pod(store, 'web'), pod(store, 'web'), pod(store, 'web')];
    await clock.advance(0);
    expect(mine.map((n) => nodeOf(store, n)).sort()).toEqual(['node-a1', 'node-b1', 'node-b2']);
    // Within the same owner count, fewer pods wins: node-b1 (2 others) got the last one.
    expect(nodeOf(store, mine[2])).toBe('node-b1');
  });

  it('uses zone spread as a tie-breaker', async () => {
    const { clock, store } = cluster([
      { name: 'n1', zone: 'a' },
      { name: 'n2', zone: 'a' },
      { name: 'n3', zone: 'b' },
    ]);
    const first = pod(store, 'web');
    await clock.advance(0);
    const second = pod(store, 'web');
    await clock.advance(0);
    expect(nodeOf(store, first)).toBe('n1');
    // n2 and n3 tie on pods; n3 is in the zone without a pod of this owner.
    expect(nodeOf(store, second)).toBe('n3');
  });

  it('packs pods onto the fullest node until it is full', async () => {
    const { clock, store } = cluster(
      [
        { name: 'node-a1', zone: 'a', maxPods: 3 },
        { name: 'node-b1', zone: 'b', maxPods: 10 },
        { name: 'node-c1', zone: 'c', maxPods: 10 },
      ],
      'pack',
    );
    for (let i = 0; i < 5; i++) pod(store, 'web');
    await clock.advance(0);
    expect(perNode(store)).toEqual({ 'node-a1': 3, 'node-b1': 2 });
  });

  it('skips cordoned, not-ready and tainted nodes unless tolerated', async () => {
    const { clock, store } = cluster([
      { name: 'cordoned', zone: 'a', unschedulable: true },
      { name: 'notready', zone: 'a', ready: false },
      { name: 'tainted', zone: 'b', taints: [{ key: 'dedicated', value: 'db', effect: 'NoSchedule' }] },
      { name: 'soft', zone: 'b', taints: [{ key: 'x', effect: 'PreferNoSchedule' }] },
    ]);
    const names = [pod(store, 'web'), pod(store, 'web'), pod(store, 'web')];
    const tolerant = pod(store, 'db', { tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'db', effect: 'NoSchedule' }], nodeSelector: { 'kubernetes.io/hostname': 'tainted' } });
    await clock.advance(0);
    expect(names.map((n) => nodeOf(store, n))).toEqual(['soft', 'soft', 'soft']);
    expect(nodeOf(store, tolerant)).toBe('tainted');
  });

  it('marks a pod Unschedulable with the reasons, once, and binds it when a node becomes usable', async () => {
    const { clock, store } = cluster([
      { name: 'cordoned', zone: 'a', unschedulable: true },
      { name: 'tainted', zone: 'b', taints: [{ key: 'dedicated', value: 'db', effect: 'NoExecute' }] },
    ]);
    const name = pod(store, 'web');
    await clock.advance(0);
    const p = store.require('pods', 'default', name);
    expect(p.spec.nodeName).toBeUndefined();
    const message = '0/2 nodes are available: 1 node(s) had untolerated taint {dedicated: db}, 1 node(s) were unschedulable.';
    expect(p.status.conditions).toEqual([expect.objectContaining({ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message })]);
    const failed = () => store.list('events', { namespace: 'default' }).items.filter((e) => e.reason === 'FailedScheduling');
    expect(failed()).toHaveLength(1);
    expect(failed()[0]).toMatchObject({ type: 'Warning', message, count: 1 });

    // Unrelated pod churn does not rewrite the pod or repeat the event.
    const rv = store.require('pods', 'default', name).metadata.resourceVersion;
    pod(store, undefined, { nodeName: 'cordoned' });
    await clock.advance(1_000);
    expect(store.require('pods', 'default', name).metadata.resourceVersion).toBe(rv);
    expect(failed()[0].count).toBe(1);

    store.modify('nodes', undefined, 'cordoned', (n) => void (n.spec.unschedulable = false));
    await clock.advance(0);
    const bound = store.require('pods', 'default', name);
    expect(bound.spec.nodeName).toBe('cordoned');
    expect(bound.status.conditions).toEqual([expect.objectContaining({ type: 'PodScheduled', status: 'True' })]);
  });

  it('schedules pods that were pending before a node was added', async () => {
    const { clock, store } = cluster([]);
    const name = pod(store, 'web');
    await clock.advance(0);
    expect(store.require('pods', 'default', name).status.conditions[0].message).toBe('no nodes available to schedule pods');
    store.create('nodes', nodeObject({ name: 'late', zone: 'a' }));
    await clock.advance(0);
    expect(nodeOf(store, name)).toBe('late');
  });
});

describe('tolerates', () => {
  it('matches as core/v1 does', () => {
    const taint = { key: 'k', value: 'v', effect: 'NoSchedule' };
    expect(tolerates([{ key: 'k', operator: 'Equal', value: 'v' }], taint)).toBe(true);
    expect(tolerates([{ key: 'k', value: 'v' }], taint)).toBe(true);
    expect(tolerates([{ key: 'k', operator: 'Equal', value: 'w' }], taint)).toBe(false);
    expect(tolerates([{ key: 'k', operator: 'Exists', effect: 'NoExecute' }], taint)).toBe(false);
    expect(tolerates([{ operator: 'Exists' }], taint)).toBe(true);
    expect(tolerates([], taint)).toBe(false);
  });
});
