/**
 * Each node handler's sequence, in the order its documentation gives (harness/disruptions/handlers/),
 * against in-memory stand-ins for the Kubernetes, EC2 and capacity ports that log every write with
 * its model time on a manual clock: which taint (key, value, effect), whether a replacement is
 * launched and Ready before the first eviction, how a blocking budget is handled, when the instance
 * goes, and that each change is recorded before it is made.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../harness/core/clock.ts';
import { nodeReplace } from '../../../harness/disruptions/node-replace.ts';
import { rebalance } from '../../../harness/disruptions/rebalance.ts';
import { spot } from '../../../harness/disruptions/spot.ts';
import type { DisruptionContext, DisruptionOutcome } from '../../../harness/disruptions/types.ts';
import type { Disruption } from '../../../harness/matrix/schema.ts';
import { Timeline } from '../../../harness/observe/timeline.ts';
import { verdictReasons } from '../../../harness/orchestrator/verdict.ts';
import type { CapacityPort, Ec2Port, EvictionOutcome, KObject, KubernetesPort } from '../../../harness/platform/ports.ts';

interface WorldOptions {
  /** Nodes the Deployment's 3 pods run on, in order (default: all on the spot node node-b2). */
  placement?: string[];
  /** Pods whose eviction a budget blocks (429) until `blockedUntil` model ms (default: for ever). */
  blocked?: string[];
  blockedUntil?: number;
  /** Model ms from RunInstances to the replacement's Node being Ready. */
  joinMs?: number;
}

/** A cluster of three nodes and the Deployment's three pods; `calls` is every write, `t=<s> <what>`. */
function world(opts: WorldOptions = {}) {
  const clock = new ManualClock();
  const calls: string[] = [];
  const log = (what: string) => calls.push(`t=${clock.now() / 1000} ${what}`);
  const node = (name: string, spotNode: boolean, instanceId = `i-0${name.slice(-2)}`): KObject & { readyAt: number } => ({
    metadata: { name, labels: spotNode ? { 'karpenter.sh/capacity-type': 'spot', 'karpenter.sh/nodepool': 'default' } : {} },
    spec: { providerID: `aws:///us-east-1b/${instanceId}`, taints: [] },
    status: {},
    readyAt: 0,
  });
  const nodes = [node('node-a1', false), node('node-b1', false), node('node-b2', true)];
  let pods: KObject[] = (opts.placement ?? ['node-b2', 'node-b2', 'node-b2']).map((n, i) => ({ metadata: { name: `web-${i + 1}`, namespace: 'shop', uid: `uid-${i + 1}`, labels: { app: 'web' } }, spec: { nodeName: n } }));
  const withReady = (n: KObject & { readyAt: number }): KObject => {
    const { readyAt, ...rest } = structuredClone(n);
    return { ...rest, status: { conditions: [{ type: 'Ready', status: clock.now() >= readyAt ? 'True' : 'False' }] } };
  };
  const find = (name: string) => nodes.find((n) => n.metadata?.name === name)!;
  const k8s = {
    listPods: async () => structuredClone(pods),
    listPodsOnNode: async (n: string) => structuredClone(pods.filter((p) => p.spec?.nodeName === n)),
    listNodes: async () => nodes.map(withReady),
    getNode: async (name: string) => withReady(find(name)),
    getDeployment: async () => ({ spec: { replicas: 3 } }),
    setNodeUnschedulable: async (name: string, u: boolean) => {
      log(`cordon ${name}`);
      find(name).spec.unschedulable = u;
      return {};
    },
    setNodeTaint: async (name: string, key: string, taint: { value?: string; effect: string } | null) => {
      log(`taint ${name} ${key}=${taint?.value ?? ''}:${taint?.effect}`);
      find(name).spec.taints.push({ key, value: taint?.value, effect: taint?.effect });
      return {};
    },
    evictPod: async (_ns: string, name: string): Promise<EvictionOutcome> => {
      if (opts.blocked?.includes(name) && clock.now() < (opts.blockedUntil ?? Infinity)) return { kind: 'blocked', message: 'budget' };
      log(`evict ${name}`);
      pods = pods.filter((p) => p.metadata?.name !== name);
      return { kind: 'evicted' };
    },
  } as unknown as KubernetesPort;
  const ec2 = { terminateInstance: async (id: string) => void log(`terminate ${id}`) } as unknown as Ec2Port;
  let launched = 0;
  const capacity: CapacityPort = {
    async launchReplacement(like, handler) {
      log(`launch like ${like.nodeName} (${like.instanceId}) as ${handler}`);
      const n = node(`node-r${++launched}`, true, `i-0f${launched}`);
      n.readyAt = clock.now() + (opts.joinMs ?? 30_000);
      nodes.push(n);
      return { instanceId: `i-0f${launched}` };
    },
  };
  const ctx: DisruptionContext = {
    k8s,
    ec2,
    capacity,
    clock,
    timeline: new Timeline(clock),
    namespace: 'shop',
    deployment: 'web',
    labelSelector: 'app=web',
    boundMs: 30 * 60_000,
    signal: new AbortController().signal,
    recordChange: async (c) => void log(c.kind === 'fis-template' || c.kind === 'k6-testrun' ? `record ${c.kind} ${c.runId}` : `record ${c.kind} ${c.node}${c.kind === 'taint' ? ` ${c.key}=${c.value ?? 'true'}:${c.effect ?? 'NoSchedule'}` : ''}`),
  };
  return { ctx, clock, calls };
}

/** Runs a disruption to its end, moving the manual clock a second at a time (bounded: an hour). */
async function play(w: ReturnType<typeof world>, d: Disruption): Promise<DisruptionOutcome> {
  const runner = { spot, rebalance, 'node-replace': nodeReplace }[d.kind as 'spot'];
  let outcome: DisruptionOutcome | undefined;
  const running = runner.run(d as never, w.ctx).then((o) => (outcome = o));
  for (let i = 0; i < 3600 && !outcome; i++) {
    // Let every step due now run (each port call is a few promise turns) before time moves on.
    for (let j = 0; j < 20; j++) await new Promise((resolve) => setImmediate(resolve));
    if (!outcome) await w.clock.advance(1000);
  }
  await running;
  return outcome!;
}

const spotOf = (handler: 'nth' | 'karpenter' | 'managed-nodegroup'): Disruption => ({ kind: 'spot', handler, node: 'spot', noticeSeconds: 120 });
const verdictOf = (disruption: DisruptionOutcome) => verdictReasons({ interrupted: false, planned: 700, sent: 700, cutAtStop: 0, answeredByStatus: 700, twoXX: 700, fiveXX: 0, networkErrors: 0, disruption, settled: true, settleTimeoutSeconds: 900 });
/** The index of the first call that starts with `prefix` after the time stamp. */
const first = (calls: string[], prefix: string) => calls.findIndex((c) => c.replace(/^t=\S+ /, '').startsWith(prefix));

describe('spot', () => {
  it('nth: taints aws-node-termination-handler/spot-itn, cordons and evicts at the notice, launches nothing, terminates at the deadline', async () => {
    const w = world();
    const outcome = await play(w, spotOf('nth'));
    expect(w.calls).toEqual([
      't=0 record taint node-b2 aws-node-termination-handler/spot-itn=true:NoSchedule',
      't=0 taint node-b2 aws-node-termination-handler/spot-itn=true:NoSchedule',
      't=0 record cordon node-b2',
      't=0 cordon node-b2',
      't=0 evict web-1',
      't=0 evict web-2',
      't=0 evict web-3',
      't=120 terminate i-0b2',
    ]);
    expect(outcome).toMatchObject({ completed: true, actedOn: { pods: 3, needed: 1 }, onNode: { node: 'node-b2', podsOnNode: 3, replicas: 3 } });
  });

  it('karpenter: launches the replacement at once and in parallel taints karpenter.sh/disrupted:NoSchedule and evicts, terminates when drained; the replacement\'s Ready comes on the timeline', async () => {
    const w = world({ joinMs: 30_000 });
    const outcome = await play(w, spotOf('karpenter'));
    expect(w.calls).toEqual([
      't=0 launch like node-b2 (i-0b2) as karpenter',
      't=0 record taint node-b2 karpenter.sh/disrupted=:NoSchedule',
      't=0 taint node-b2 karpenter.sh/disrupted=:NoSchedule',
      't=0 evict web-1',
      't=0 evict web-2',
      't=0 evict web-3',
      't=0 terminate i-0b2',
    ]);
    const actions = w.ctx.timeline.events.flatMap((e) => (e.type === 'disruption' ? [`${e.t} ${e.action}`] : []));
    expect(actions).toEqual(['0 spot-notice', '0 replacement-launched', '0 taint', '0 evicted', '0 evicted', '0 evicted', '0 drained', '0 terminate-instance', '30 replacement-ready']);
    expect(outcome).toMatchObject({ completed: true, detail: 'i-0b2 terminated by Karpenter once drained, 120 s before the end of the 120 s notice' });
  });

  it('karpenter: a budget that holds a pod past the notice: EC2 terminates at the deadline and the pod ends with the instance', async () => {
    const w = world({ blocked: ['web-2'] });
    const outcome = await play(w, spotOf('karpenter'));
    expect(w.calls.at(-1)).toBe('t=120 terminate i-0b2');
    expect(w.calls.filter((c) => c.includes('evict'))).toEqual(['t=0 evict web-1', 't=0 evict web-3']);
    expect(outcome).toMatchObject({ completed: true, actedOn: { pods: 3, summary: 'the spot interruption (Karpenter) of node-b2 evicted 2 pod(s) of web; the termination of i-0b2 ended 1 pod(s) of web' } });
  });

  it('managed-nodegroup: cordons and evicts at the notice with no taint and no replacement, terminates at the deadline', async () => {
    const w = world();
    await play(w, spotOf('managed-nodegroup'));
    expect(w.calls).toEqual(['t=0 record cordon node-b2', 't=0 cordon node-b2', 't=0 evict web-1', 't=0 evict web-2', 't=0 evict web-3', 't=120 terminate i-0b2']);
  });
});

describe('rebalance', () => {
  it('nth: taints aws-node-termination-handler/rebalance-recommendation and cordons, evicts nothing: the cell is not tested', async () => {
    const w = world();
    const outcome = await play(w, { kind: 'rebalance', handler: 'nth', node: 'spot' });
    expect(w.calls).toEqual([
      't=0 record taint node-b2 aws-node-termination-handler/rebalance-recommendation=true:NoSchedule',
      't=0 taint node-b2 aws-node-termination-handler/rebalance-recommendation=true:NoSchedule',
      't=0 record cordon node-b2',
      't=0 cordon node-b2',
    ]);
    expect(verdictOf(outcome)).toEqual(['disruption acted on too few pods: not tested: NTH only cordons node-b2 on a rebalance recommendation and evicts no pod of web (it drains only with enableRebalanceDraining, off by default)']);
  });

  it('karpenter: changes nothing and says the cell is not tested', async () => {
    const w = world();
    const outcome = await play(w, { kind: 'rebalance', handler: 'karpenter', node: 'spot' });
    expect(w.calls).toEqual([]);
    expect(verdictOf(outcome)).toEqual(['disruption acted on too few pods: not tested: Karpenter does not act on rebalance recommendations (no pod of web moved)']);
  });

  it('managed-nodegroup: launches a replacement, waits until it is Ready, then cordons and evicts; the instance is left running', async () => {
    const w = world({ joinMs: 45_000 });
    const outcome = await play(w, { kind: 'rebalance', handler: 'managed-nodegroup', node: 'spot' });
    expect(w.calls).toEqual(['t=0 launch like node-b2 (i-0b2) as managed-nodegroup', 't=45 record cordon node-b2', 't=45 cordon node-b2', 't=45 evict web-1', 't=45 evict web-2', 't=45 evict web-3']);
    expect(outcome).toMatchObject({ completed: true, detail: 'node-b2 drained after node-r1 was Ready (its instance left running)', actedOn: { pods: 3 } });
  });
});

describe('a replacement that never joins', () => {
  it('managed-nodegroup rebalance: EKS does not drain the node; the cell says why, nothing cordoned', async () => {
    const w = world({ joinMs: Infinity });
    w.ctx.boundMs = 120_000;
    const outcome = await play(w, { kind: 'rebalance', handler: 'managed-nodegroup', node: 'spot' });
    expect(w.calls).toEqual(['t=0 launch like node-b2 (i-0b2) as managed-nodegroup']);
    expect(outcome).toEqual({ completed: false, reason: 'EKS would not drain node-b2: expected the replacement i-0f1 to join as a Ready Node within 120 s, got no Ready Node', onNode: { node: 'node-b2', podsOnNode: 3, replicas: 3 } });
  });
});

describe('node-replace', () => {
  it('karpenter: taints, waits for the replacement to be Ready, drains and terminates', async () => {
    const w = world({ placement: ['node-b2', 'node-a1', 'node-b1'] });
    const outcome = await play(w, { kind: 'node-replace', handler: 'karpenter', node: 'node:node-b2' });
    expect(w.calls).toEqual([
      't=0 record taint node-b2 karpenter.sh/disrupted=:NoSchedule',
      't=0 taint node-b2 karpenter.sh/disrupted=:NoSchedule',
      't=0 launch like node-b2 (i-0b2) as karpenter',
      't=30 evict web-1',
      't=30 terminate i-0b2',
    ]);
    expect(outcome).toMatchObject({ completed: true, onNode: { node: 'node-b2', podsOnNode: 1, replicas: 3 } });
  });

  it('karpenter: a budget that never allows the eviction keeps the node (no terminationGracePeriod): not completed, nothing terminated', async () => {
    const w = world({ blocked: ['web-1'] });
    const outcome = await play(w, { kind: 'node-replace', handler: 'karpenter', node: 'node:node-b2' });
    expect(first(w.calls, 'terminate')).toBe(-1);
    expect(outcome).toMatchObject({ completed: false, reason: 'could not evict web-1 before the bound (Karpenter keeps waiting for the disruption budget unless the NodePool sets terminationGracePeriod)' });
  });

  it('managed-nodegroup: replacement Ready, taint eks.amazonaws.com/nodegroup=unschedulable:NoSchedule, evicts, forces a blocking budget after 15 min, cordons, terminates 60 s later', async () => {
    const w = world({ blocked: ['web-3'] });
    const outcome = await play(w, { kind: 'node-replace', handler: 'managed-nodegroup', node: 'node:node-b2' });
    expect(w.calls).toEqual([
      't=0 launch like node-b2 (i-0b2) as managed-nodegroup',
      't=30 record taint node-b2 eks.amazonaws.com/nodegroup=unschedulable:NoSchedule',
      't=30 taint node-b2 eks.amazonaws.com/nodegroup=unschedulable:NoSchedule',
      't=30 evict web-1',
      't=30 evict web-2',
      't=930 record cordon node-b2',
      't=930 cordon node-b2',
      't=990 terminate i-0b2',
    ]);
    expect(outcome).toMatchObject({ completed: true, detail: 'node-b2 replaced by node-r1, i-0b2 terminated (forced: could not evict web-3 before the bound)', actedOn: { pods: 3 } });
  });
});
