/**
 * What each disruption reports it did to the Deployment's pods (the evidence the verdict needs),
 * against an in-memory stand-in for the Kubernetes port: a drain that evicts only other workloads'
 * pods, a spot interruption whose pods end with the instance, and a rollout undone in its disrupt
 * stage (`kubectl rollout undo`), which ends complete with none of the old pods replaced.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../harness/core/clock.ts';
import { drain, placement } from '../../../harness/disruptions/drain.ts';
import { POD_TEMPLATE_HASH, replacedPods, rollout } from '../../../harness/disruptions/rollout.ts';
import { spot } from '../../../harness/disruptions/spot.ts';
import type { DisruptionContext } from '../../../harness/disruptions/types.ts';
import { Timeline } from '../../../harness/observe/timeline.ts';
import { verdictReasons } from '../../../harness/orchestrator/verdict.ts';
import type { Ec2Port, EvictionOutcome, KObject, KubernetesPort } from '../../../harness/platform/ports.ts';

const pod = (name: string, node: string, o: { ns?: string; hash?: string; app?: string } = {}): KObject => ({
  metadata: { name, namespace: o.ns ?? 'shop', uid: `uid-${name}`, labels: { app: o.app ?? 'web', [POD_TEMPLATE_HASH]: o.hash ?? 'old' } },
  spec: { nodeName: node },
});

/** A cluster of pods and nodes; `onRestart` plays what the Deployment controller (or a user) does after the restart patch. */
function cluster(pods: KObject[], opts: { evictBlocked?: string[]; onRestart?: (pods: KObject[]) => KObject[] } = {}) {
  const state = { pods: [...pods], evicted: [] as string[], terminated: [] as string[], patches: 0 };
  const nodes: KObject[] = ['node-a1', 'node-b1', 'node-b2'].map((name) => ({
    metadata: { name, labels: (name === 'node-b2' ? { 'eks.amazonaws.com/capacityType': 'SPOT' } : {}) as Record<string, string> },
    spec: { providerID: `aws:///us-east-1b/i-0${name.slice(-2)}` },
    status: { conditions: [{ type: 'Ready', status: 'True' }] },
  }));
  const k8s = {
    listPods: async (ns: string, selector?: string) => state.pods.filter((p) => p.metadata?.namespace === ns && (!selector || selector === `app=${p.metadata?.labels?.app}`)).map((p) => structuredClone(p)),
    listPodsOnNode: async (node: string) => state.pods.filter((p) => p.spec?.nodeName === node).map((p) => structuredClone(p)),
    listNodes: async () => structuredClone(nodes),
    getNode: async (name: string) => structuredClone(nodes.find((n) => n.metadata?.name === name)!),
    setNodeUnschedulable: async (name: string, u: boolean) => Object.assign(nodes.find((n) => n.metadata?.name === name)!.spec, { unschedulable: u }),
    setNodeTaint: async () => ({}),
    evictPod: async (_ns: string, name: string): Promise<EvictionOutcome> => {
      if (opts.evictBlocked?.includes(name)) return { kind: 'blocked', message: 'budget' };
      state.evicted.push(name);
      state.pods = state.pods.filter((p) => p.metadata?.name !== name);
      return { kind: 'evicted' };
    },
    patchDeployment: async () => {
      state.patches++;
      state.pods = opts.onRestart ? opts.onRestart(state.pods) : state.pods;
      return {};
    },
    getDeployment: async () => ({ metadata: { generation: 2 }, spec: { replicas: 3 }, status: { observedGeneration: 2, replicas: 3, updatedReplicas: 3, availableReplicas: 3 } }),
  } as unknown as KubernetesPort;
  const ec2 = {
    terminateInstance: async (id: string) => {
      state.terminated.push(id);
    },
  } as unknown as Ec2Port;
  const clock = new ManualClock();
  const ctx: DisruptionContext = {
    k8s,
    ec2,
    capacity: { launchReplacement: async () => Promise.reject(new Error('no replacement in these cells')) },
    clock,
    timeline: new Timeline(clock),
    namespace: 'shop',
    deployment: 'web',
    labelSelector: 'app=web',
    boundMs: 60_000,
    signal: new AbortController().signal,
    recordChange: async () => {},
  };
  return { ctx, state, clock };
}

describe('drain: pods of the Deployment evicted', () => {
  it('counts only the Deployment\'s pods: a node with other workloads\' pods alone is refused before it is drained', async () => {
    const { ctx, state } = cluster([pod('web-1', 'node-a1'), pod('web-2', 'node-b1'), pod('cache-1', 'node-b2', { ns: 'other', app: 'cache' })]);
    expect(await placement(ctx, 'spot')).toEqual({ ok: false, node: 'node-b2', reason: 'no pod of web runs on the chosen node node-b2 (nor on any other schedulable spot node)' });
    expect(await drain.run({ kind: 'drain', node: 'node:node-b2' }, ctx)).toEqual({ completed: false, reason: 'no pod of web runs on the chosen node node-b2' });
    expect(state.evicted).toEqual([]);
  });

  it('records each evicted pod of the Deployment, not the other workloads\' pods evicted with them', async () => {
    const { ctx } = cluster([pod('web-1', 'node-b2'), pod('web-2', 'node-b1'), pod('cache-1', 'node-b2', { ns: 'other', app: 'cache' }), pod('cache-2', 'node-b2', { ns: 'other', app: 'cache' })]);
    const outcome = await drain.run({ kind: 'drain', node: 'spot' }, ctx);
    expect(outcome).toEqual({ completed: true, detail: 'evicted 3 pod(s) from node-b2', actedOn: { pods: 1, needed: 1, summary: 'the drain of node-b2 evicted 1 pod(s) of web' } });
  });
});

describe('spot: pods of the Deployment evicted at the notice or ended with the instance', () => {
  it('counts a pod a budget kept on the node as ended by the termination', async () => {
    const { ctx, clock, state } = cluster([pod('web-1', 'node-b2'), pod('web-2', 'node-b2'), pod('web-3', 'node-a1')], { evictBlocked: ['web-2'] });
    const running = spot.run({ kind: 'spot', handler: 'nth', node: 'spot', noticeSeconds: 10 }, ctx);
    for (let i = 0; i < 20 && !state.terminated.length; i++) await clock.advance(1000);
    const outcome = await running;
    expect(state.terminated).toEqual(['i-0b2']);
    expect(outcome.completed && outcome.actedOn).toEqual({ pods: 2, needed: 1, summary: 'the spot interruption of node-b2 evicted 1 pod(s) of web; the termination of i-0b2 ended 1 pod(s) of web' });
  });
});

describe('rollout: old pods replaced by the new template', () => {
  const old = [pod('web-a', 'node-a1'), pod('web-b', 'node-b1'), pod('web-c', 'node-b2')];

  it('counts every old pod replaced when the new template\'s pods run in their place', async () => {
    const { ctx } = cluster(old, { onRestart: () => [pod('web-x', 'node-a1', { hash: 'new' }), pod('web-y', 'node-b1', { hash: 'new' }), pod('web-z', 'node-b2', { hash: 'new' })] });
    const outcome = await rollout.run({ kind: 'rollout' }, ctx);
    expect(outcome).toEqual({ completed: true, detail: 'rollout complete', actedOn: { pods: 3, needed: 3, summary: 'the rollout replaced 3 of 3 old pod(s) of web' } });
    expect(verdictReasons({ interrupted: false, planned: 703, sent: 703, cutAtStop: 0, answeredByStatus: 703, twoXX: 703, fiveXX: 0, networkErrors: 0, disruption: outcome, settled: true, settleTimeoutSeconds: 900 })).toEqual([]);
  });

  it('makes a rollout undone in its disrupt stage (none of the 3 old pods replaced) INVALID, not a valid 0 5xx of 703', async () => {
    // `kubectl rollout undo` lands before the controller replaced a pod: the rollout completes on the old template.
    const { ctx, state } = cluster(old, { onRestart: (pods) => pods });
    const outcome = await rollout.run({ kind: 'rollout' }, ctx);
    expect(state.patches).toBe(1);
    expect(outcome).toEqual({ completed: true, detail: 'rollout complete', actedOn: { pods: 0, needed: 3, summary: 'the rollout replaced 0 of 3 old pod(s) of web: web-a, web-b, web-c still run the old template' } });
    expect(verdictReasons({ interrupted: false, planned: 703, sent: 703, cutAtStop: 0, answeredByStatus: 703, twoXX: 703, fiveXX: 0, networkErrors: 0, disruption: outcome, settled: true, settleTimeoutSeconds: 900 })).toEqual([
      'disruption acted on too few pods: the rollout replaced 0 of 3 old pod(s) of web: web-a, web-b, web-c still run the old template',
    ]);
  });

  it('counts no pod an undo half-way restarted on the old template, and 2 of 3 when one old pod still runs', () => {
    // One old pod replaced, then undone: the new pod went, a pod of the old template came back.
    expect(replacedPods(old, [old[1], old[2], pod('web-d', 'node-a1')], 'web')).toEqual({ pods: 0, needed: 3, summary: 'the rollout replaced 0 of 3 old pod(s) of web: web-b, web-c, web-d still run the old template' });
    expect(replacedPods(old, [old[2], pod('web-x', 'node-a1', { hash: 'new' }), pod('web-y', 'node-b1', { hash: 'new' })], 'web')).toEqual({
      pods: 2,
      needed: 3,
      summary: 'the rollout replaced 2 of 3 old pod(s) of web: web-c still runs the old template',
    });
  });
});
