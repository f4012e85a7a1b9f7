// The cluster's own spot handler (cluster.spotHandler) as the twin plays it: for each handler, a
// spot interruption of 120 s and of 300 s gives the handler's documented order of Events (the
// timeline's actions), evictions go through the Eviction API's code (PDBs), and the instance is
// terminated at the end. A manual clock; a stand-in kubelet removes a pod 5 s after its deletion.
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../../harness/core/clock.ts';
import { seededRandom } from '../../../../harness/core/random.ts';
import { parseTwinConfig } from '../../../../harness/twin/config.ts';
import { startNodeLifecycle } from '../../../../harness/twin/controllers/nodes.ts';
import { KARPENTER_DISRUPTED_TAINT, NTH_SPOT_TAINT } from '../../../../harness/twin/controllers/spot-handler.ts';
import { ObjectStore } from '../../../../harness/twin/kube/store.ts';
import type { KubeObject } from '../../../../harness/twin/kube/types.ts';

const START = Date.parse('2026-01-01T00:00:00Z');
const LAUNCH_S = 30;
const POD_EXIT_MS = 5_000;

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const fn of cleanups.splice(0).reverse()) fn();
});

/** One Event the handler recorded, at the model second it appeared. */
interface Step {
  t: number;
  action: string;
  about: string;
  message: string;
}

function readyPod(name: string, nodeName: string): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'shop', labels: { app: 'web' } },
    spec: { nodeName, containers: [{ name: 'app', image: 'app' }] },
    status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
  };
}

function world(spotHandler: string, extra: { pdbMinAvailable?: number; spotNodeHandler?: string } = {}) {
  const clock = new ManualClock(START);
  const store = new ObjectStore(clock);
  store.create('namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } });
  const config = parseTwinConfig({
    cluster: {
      spotHandler,
      nodeNotReadySeconds: 10,
      nodeLaunchSeconds: LAUNCH_S,
      nodes: [
        { name: 'node-a1', zone: 'us-east-1a', lifecycle: 'on-demand' },
        { name: 'node-b2', zone: 'us-east-1b', instanceType: 'c5.xlarge', lifecycle: 'spot', ...(extra.spotNodeHandler ? { handler: extra.spotNodeHandler } : {}) },
      ],
    },
  });
  const killed: string[] = [];
  const nodes = startNodeLifecycle({ store, clock, random: seededRandom(5), config, kubelets: { killNode: (n) => void killed.push(n) } });
  cleanups.push(() => nodes.stop());

  const steps: Step[] = [];
  const seen = new Set<string>();
  const stopEvents = store.watch('events', {}, ({ object: e }) => {
    if (!e.action || seen.has(e.metadata.name)) return;
    seen.add(e.metadata.name);
    steps.push({ t: (clock.now() - START) / 1000, action: String(e.action), about: String((e.involvedObject as { name: string }).name), message: String(e.message) });
  });
  cleanups.push(stopEvents);
  // The kubelet's part: a pod marked for deletion exits POD_EXIT_MS later; each one gone is followed
  // by a new Ready pod on node-a1, as its ReplicaSet would make it.
  let made = 0;
  const stopPods = store.watch('pods', {}, ({ type, object: p }) => {
    if (type !== 'MODIFIED' || !p.metadata.deletionTimestamp || p.metadata.deletionGracePeriodSeconds === undefined) return;
    const uid = p.metadata.uid;
    clock.setTimeout(() => {
      if (store.get('pods', 'shop', p.metadata.name)?.metadata.uid !== uid) return;
      store.remove('pods', 'shop', p.metadata.name);
      store.create('pods', readyPod(`web-new-${++made}`, 'node-a1'));
    }, POD_EXIT_MS);
  });
  cleanups.push(stopPods);

  if (extra.pdbMinAvailable !== undefined) {
    store.create('poddisruptionbudgets', {
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      metadata: { name: 'web', namespace: 'shop' },
      spec: { minAvailable: extra.pdbMinAvailable, selector: { matchLabels: { app: 'web' } } },
    });
  }
  store.create('pods', readyPod('web-1', 'node-b2'));
  store.create('pods', readyPod('web-2', 'node-b2'));
  const spot = nodes.instances().find((i) => i.nodeName === 'node-b2')!;
  return { clock, store, nodes, killed, steps, spot };
}

const actions = (steps: Step[]) => steps.map((s) => `${s.t} ${s.action} ${s.about}`);
const first = (steps: Step[], action: string) => steps.find((s) => s.action === action);
const nodeNames = (store: ObjectStore) => store.list('nodes').items.map((n) => n.metadata.name).sort();
const taintsOf = (store: ObjectStore, node: string) =>
  ((store.get('nodes', undefined, node)?.spec?.taints ?? []) as Array<{ key: string; value?: string; effect: string }>).map((t) => `${t.key}${t.value ? `=${t.value}` : ''}:${t.effect}`);

/** Runs the interruption to its end and a little past it. */
async function interrupt(w: ReturnType<typeof world>, seconds: number): Promise<void> {
  expect(w.nodes.spotInterruption(w.spot.instanceId, seconds * 1000)).toBe(true);
  await w.clock.advance(seconds * 1000 - 1);
  expect(w.nodes.instances().find((i) => i.instanceId === w.spot.instanceId)?.state, 'running until the end').toBe('running');
  expect(w.killed).toEqual([]);
  await w.clock.advance(1);
  expect(w.nodes.instances().find((i) => i.instanceId === w.spot.instanceId)?.state, 'terminated at the end').toBe('terminated');
  expect(w.killed).toEqual(['node-b2']);
}

describe('spot handler: aws-node-termination-handler (nth)', () => {
  it('120 s: the notice at once: taint spot-itn, cordon, evict all; no replacement before the termination, the group replaces after', async () => {
    const w = world('nth');
    await interrupt(w, 120);
    expect(actions(w.steps)).toEqual([
      '0 spot-notice node-b2',
      '0 taint node-b2',
      '0 cordon node-b2',
      '0 evict web-1',
      '0 evict web-2',
      '5 drained node-b2',
      '120 terminate-instance node-b2',
    ]);
    expect(first(w.steps, 'taint')!.message).toBe(`node-b2 ${NTH_SPOT_TAINT}=spot-itn-${w.spot.instanceId}:NoSchedule`);
    // No node joined before the termination; the Auto Scaling group's replacement joins after.
    expect(w.nodes.instances().filter((i) => i.state === 'pending')).toEqual([]);
    await w.clock.advance(LAUNCH_S * 1000);
    expect(nodeNames(w.store)).toEqual(['node-a1', 'node-b2-r1']);
  });

  it('300 s: rebalance recommendation → cordon only; the notice at 180 s taints and evicts', async () => {
    const w = world('nth');
    expect(w.nodes.spotInterruption(w.spot.instanceId, 300_000)).toBe(true);
    await w.clock.advance(179_999);
    expect(actions(w.steps)).toEqual(['0 rebalance-recommendation node-b2', '0 cordon node-b2']);
    expect(w.store.get('nodes', undefined, 'node-b2')!.spec.unschedulable).toBe(true);
    expect(taintsOf(w.store, 'node-b2')).toEqual([]);
    await w.clock.advance(1);
    await w.clock.advance(120_000);
    expect(actions(w.steps).slice(2)).toEqual(['180 spot-notice node-b2', '180 taint node-b2', '180 evict web-1', '180 evict web-2', '185 drained node-b2', '300 terminate-instance node-b2']);
    expect(w.nodes.instances().find((i) => i.instanceId === w.spot.instanceId)?.state).toBe('terminated');
    expect(w.steps.some((s) => s.action === 'replacement-launched')).toBe(false);
  });
});

describe('spot handler: Karpenter', () => {
  it('labels the nodes of the world as a NodePool\'s, tags their instances', () => {
    const w = world('karpenter');
    expect(w.store.get('nodes', undefined, 'node-b2')!.metadata.labels).toMatchObject({ 'karpenter.sh/nodepool': 'default', 'karpenter.sh/capacity-type': 'spot', 'eks.amazonaws.com/capacityType': 'SPOT' });
    expect(w.store.get('nodes', undefined, 'node-a1')!.metadata.labels).toMatchObject({ 'karpenter.sh/nodepool': 'default', 'karpenter.sh/capacity-type': 'on-demand' });
    expect(w.spot.tags).toEqual({ 'karpenter.sh/nodepool': 'default' });
  });

  it('120 s: replacement launched at once, taint karpenter.sh/disrupted:NoSchedule, evict (no wait for the replacement), terminated at the end', async () => {
    const w = world('karpenter');
    await interrupt(w, 120);
    const replacement = first(w.steps, 'replacement-ready')!.about;
    expect(replacement).toMatch(/^default-[a-z0-9]{5}$/);
    expect(actions(w.steps)).toEqual([
      '0 spot-notice node-b2',
      '0 replacement-launched node-b2',
      '0 taint node-b2',
      '0 evict web-1',
      '0 evict web-2',
      '5 drained node-b2',
      `${LAUNCH_S} replacement-ready ${replacement}`,
      '120 terminate-instance node-b2',
    ]);
    expect(first(w.steps, 'taint')!.message).toBe(`node-b2 ${KARPENTER_DISRUPTED_TAINT}:NoSchedule`);
    // Karpenter taints; it does not cordon.
    expect(w.store.get('nodes', undefined, 'node-b2')!.spec.unschedulable).toBeUndefined();
    const node = w.store.get('nodes', undefined, replacement)!;
    expect(node.metadata.labels).toMatchObject({ 'karpenter.sh/nodepool': 'default', 'karpenter.sh/capacity-type': 'spot', 'topology.kubernetes.io/zone': 'us-east-1b', 'node.kubernetes.io/instance-type': 'c5.xlarge' });
    // Karpenter is no Auto Scaling group: nothing else replaces the instance after it is gone.
    await w.clock.advance(LAUNCH_S * 1000);
    expect(nodeNames(w.store)).toEqual([replacement, 'node-a1'].sort());
  });

  it('300 s: the rebalance recommendation is an Event only; everything happens at the notice (180 s)', async () => {
    const w = world('karpenter');
    await interrupt(w, 300);
    const replacement = first(w.steps, 'replacement-ready')!.about;
    expect(actions(w.steps)).toEqual([
      '0 rebalance-recommendation node-b2',
      '180 spot-notice node-b2',
      '180 replacement-launched node-b2',
      '180 taint node-b2',
      '180 evict web-1',
      '180 evict web-2',
      '185 drained node-b2',
      `${180 + LAUNCH_S} replacement-ready ${replacement}`,
      '300 terminate-instance node-b2',
    ]);
  });

  it('evicts through the Eviction API: a PDB refuses one pod (429) and the retry 5 s later gets it', async () => {
    const w = world('karpenter', { pdbMinAvailable: 1 });
    const warnings: string[] = [];
    w.store.watch('events', {}, ({ type, object: e }) => type === 'ADDED' && e.type === 'Warning' && warnings.push(`${e.reason} ${(e.involvedObject as { name: string }).name}`));
    await interrupt(w, 120);
    expect(warnings).toContain('EvictionBlocked web-2');
    expect(actions(w.steps).filter((a) => a.includes(' evict ') || a.includes('drained'))).toEqual(['0 evict web-1', '5 evict web-2', '10 drained node-b2']);
    // The budget recorded the evictions as the API server does.
    expect(Object.keys(w.store.get('poddisruptionbudgets', 'shop', 'web')!.status.disruptedPods ?? {})).toContain('web-2');
  });

  it('a drain a PDB blocks until the end is recorded as incomplete; the instance goes anyway', async () => {
    const w = world('karpenter', { pdbMinAvailable: 2 });
    // No new pods elsewhere: the stand-in kubelet never runs (nothing is evicted).
    await interrupt(w, 120);
    expect(actions(w.steps).filter((a) => !a.includes('replacement'))).toEqual(['0 spot-notice node-b2', '0 taint node-b2', '120 drain-incomplete node-b2', '120 terminate-instance node-b2']);
    expect(first(w.steps, 'drain-incomplete')!.message).toContain('shop/web-1, shop/web-2');
  });
});

describe('spot handler: EKS managed node group', () => {
  it('labels the nodes of the world with their node group and tags their instances', () => {
    const w = world('managed-nodegroup');
    expect(w.store.get('nodes', undefined, 'node-b2')!.metadata.labels).toMatchObject({ 'eks.amazonaws.com/nodegroup': 'ng-spot', 'eks.amazonaws.com/capacityType': 'SPOT' });
    expect(w.store.get('nodes', undefined, 'node-a1')!.metadata.labels).toMatchObject({ 'eks.amazonaws.com/nodegroup': 'ng-on-demand', 'eks.amazonaws.com/capacityType': 'ON_DEMAND' });
    expect(w.spot.tags).toEqual({ 'eks:nodegroup-name': 'ng-spot' });
  });

  it('120 s: no recommendation: cordon and drain at the notice; the group replaces the instance after it is gone', async () => {
    const w = world('managed-nodegroup');
    await interrupt(w, 120);
    expect(actions(w.steps)).toEqual(['0 spot-notice node-b2', '0 cordon node-b2', '0 evict web-1', '0 evict web-2', '5 drained node-b2', '120 terminate-instance node-b2']);
    await w.clock.advance(LAUNCH_S * 1000);
    expect(nodeNames(w.store)).toEqual(['node-a1', 'node-b2-r1']);
    expect(w.store.get('nodes', undefined, 'node-b2-r1')!.metadata.labels).toMatchObject({ 'eks.amazonaws.com/nodegroup': 'ng-spot' });
  });

  it('300 s: rebalance → replacement, wait until it is Ready, then cordon and drain; the notice finds the node drained; no second replacement', async () => {
    const w = world('managed-nodegroup');
    await interrupt(w, 300);
    const replacement = first(w.steps, 'replacement-ready')!.about;
    expect(replacement).toMatch(/^ng-spot-[a-z0-9]{5}$/);
    expect(actions(w.steps)).toEqual([
      '0 rebalance-recommendation node-b2',
      '0 replacement-launched node-b2',
      `${LAUNCH_S} replacement-ready ${replacement}`,
      `${LAUNCH_S} cordon node-b2`,
      `${LAUNCH_S} evict web-1`,
      `${LAUNCH_S} evict web-2`,
      `${LAUNCH_S + 5} drained node-b2`,
      '180 spot-notice node-b2',
      '300 terminate-instance node-b2',
    ]);
    expect(w.store.get('nodes', undefined, replacement)!.metadata.labels).toMatchObject({ 'eks.amazonaws.com/nodegroup': 'ng-spot', 'eks.amazonaws.com/capacityType': 'SPOT' });
    await w.clock.advance(LAUNCH_S * 1000);
    expect(nodeNames(w.store)).toEqual([replacement, 'node-a1'].sort());
  });

  it('a notice before the replacement is Ready drains at once', async () => {
    const w = world('managed-nodegroup');
    // 130 s: the recommendation at 0, the notice at 10 s, the replacement Ready only at 30 s.
    await interrupt(w, 130);
    expect(actions(w.steps).slice(0, 6)).toEqual([
      '0 rebalance-recommendation node-b2',
      '0 replacement-launched node-b2',
      '10 spot-notice node-b2',
      '10 cordon node-b2',
      '10 evict web-1',
      '10 evict web-2',
    ]);
    expect(w.steps.filter((s) => s.action === 'evict')).toHaveLength(2);
  });
});

describe('spotInterruption', () => {
  it('is false for an unknown, an on-demand, a terminated or an already interrupted instance', async () => {
    const w = world('nth');
    expect(w.nodes.spotInterruption('i-0000000000000000f', 120_000)).toBe(false);
    const onDemand = w.nodes.instances().find((i) => i.nodeName === 'node-a1')!;
    expect(w.nodes.spotInterruption(onDemand.instanceId, 120_000)).toBe(false);
    expect(w.nodes.spotInterruption(w.spot.instanceId, 300_000)).toBe(true);
    expect(w.nodes.spotInterruption(w.spot.instanceId, 120_000)).toBe(false);
    await w.clock.advance(300_000);
    expect(w.nodes.spotInterruption(w.spot.instanceId, 120_000)).toBe(false);
    expect(w.steps.filter((s) => s.action === 'spot-notice')).toHaveLength(1);
  });

  it('a TerminateInstances during the interruption ends it: the drain stops, no notice comes', async () => {
    const w = world('nth', { pdbMinAvailable: 2 });
    w.nodes.spotInterruption(w.spot.instanceId, 300_000);
    await w.clock.advance(60_000);
    expect(w.nodes.instanceTerminated(w.spot.instanceId)).toBe(true);
    await w.clock.advance(300_000);
    expect(actions(w.steps)).toEqual(['0 rebalance-recommendation node-b2', '0 cordon node-b2', '60 terminate-instance node-b2']);
  });
});

describe('RunInstances through the node lifecycle', () => {
  it('a Karpenter-tagged spot instance is pending, then joins as <pool>-<5 alnum> with its labels; the same client token gives the same instance', async () => {
    const w = world('nth');
    const launched = w.nodes.launchInstance({ instanceType: 'm5.large', zone: 'us-east-1b', lifecycle: 'spot', tags: { 'karpenter.sh/nodepool': 'spot-pool', team: 'web' }, clientToken: 'tok-1' });
    expect(launched).toMatchObject({ state: 'pending', zone: 'us-east-1b', lifecycle: 'spot', tags: { 'karpenter.sh/nodepool': 'spot-pool', team: 'web' } });
    expect(launched.nodeName).toMatch(/^spot-pool-[a-z0-9]{5}$/);
    expect(w.nodes.launchInstance({ instanceType: 'm5.large', zone: 'us-east-1b', lifecycle: 'spot', tags: {}, clientToken: 'tok-1' }).instanceId).toBe(launched.instanceId);
    await w.clock.advance(LAUNCH_S * 1000 - 1);
    expect(w.store.get('nodes', undefined, launched.nodeName)).toBeUndefined();
    await w.clock.advance(1);
    const node = w.store.get('nodes', undefined, launched.nodeName)!;
    expect(node.metadata.labels).toMatchObject({ 'karpenter.sh/nodepool': 'spot-pool', 'karpenter.sh/capacity-type': 'spot', 'eks.amazonaws.com/capacityType': 'SPOT', 'topology.kubernetes.io/zone': 'us-east-1b' });
    expect(node.spec.providerID).toBe(`aws:///us-east-1b/${launched.instanceId}`);
    expect(w.nodes.instances().find((i) => i.instanceId === launched.instanceId)?.state).toBe('running');
  });

  it('a node group-tagged on-demand instance joins as <group>-<5 alnum>; one terminated while pending never joins', async () => {
    const w = world('nth');
    const ng = w.nodes.launchInstance({ instanceType: 'm5.large', zone: 'us-east-1a', lifecycle: 'on-demand', tags: { 'eks:nodegroup-name': 'ng-web' } });
    const gone = w.nodes.launchInstance({ instanceType: 'm5.large', zone: 'us-east-1a', lifecycle: 'on-demand', tags: {} });
    expect(gone.nodeName).toMatch(/^node-[a-z0-9]{5}$/);
    expect(w.nodes.instanceTerminated(gone.instanceId)).toBe(true);
    await w.clock.advance(LAUNCH_S * 1000);
    expect(w.store.get('nodes', undefined, ng.nodeName)!.metadata.labels).toMatchObject({ 'eks.amazonaws.com/nodegroup': 'ng-web', 'eks.amazonaws.com/capacityType': 'ON_DEMAND' });
    expect(w.store.get('nodes', undefined, gone.nodeName)).toBeUndefined();
    expect(w.nodes.instances().find((i) => i.instanceId === gone.instanceId)?.state).toBe('terminated');
  });
});

describe("a node's own handler (cluster.nodes[].handler)", () => {
  it('in an nth world, a Karpenter node carries its labels and Karpenter answers its interruption; the self-managed node stays NTH\'s', async () => {
    const w = world('nth', { spotNodeHandler: 'karpenter' });
    expect(w.store.get('nodes', undefined, 'node-b2')!.metadata.labels).toMatchObject({ 'karpenter.sh/nodepool': 'default', 'karpenter.sh/capacity-type': 'spot' });
    expect(w.store.get('nodes', undefined, 'node-a1')!.metadata.labels?.['karpenter.sh/nodepool']).toBeUndefined();
    await interrupt(w, 120);
    expect(first(w.steps, 'taint')!.message).toBe(`node-b2 ${KARPENTER_DISRUPTED_TAINT}:NoSchedule`);
    expect(actions(w.steps).slice(0, 3)).toEqual(['0 spot-notice node-b2', '0 replacement-launched node-b2', '0 taint node-b2']);
    // Karpenter's node: no Auto Scaling group replaces it; Karpenter's own replacement is the only new node.
    await w.clock.advance(LAUNCH_S * 1000);
    expect(nodeNames(w.store)).toEqual(['node-a1', first(w.steps, 'replacement-ready')!.about].sort());
  });
});
