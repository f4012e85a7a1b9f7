/**
 * Configure's placement step against in-memory stand-ins: after a spot interruption the terminated
 * node still reads Ready (until the node controller notices) and has been uncordoned by the cell's
 * undo; re-placing the pods then would restart before the replacement node is there. The step
 * waits for a candidate whose instance runs, and refuses a cordoned named node at once.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../harness/core/clock.ts';
import type { Disruption, Spec } from '../../../harness/matrix/schema.ts';
import { ensurePlacement } from '../../../harness/orchestrator/placement.ts';
import type { Target } from '../../../harness/orchestrator/target.ts';
import type { ConfigureOutcome } from '../../../harness/orchestrator/settings.ts';
import type { Ec2Port, Elbv2Port, KObject, KubernetesPort } from '../../../harness/platform/ports.ts';

interface NodeState {
  name: string;
  spot: boolean;
  ready: boolean;
  cordoned?: boolean;
  instance: 'running' | 'terminated';
}

/**
 * Three pods on node-a1 and node-b1; node-b2 (spot) terminated but still Ready until `notReadyAt`;
 * its replacement node-b2-r1 joins Ready at `replacementAt`. A restart spreads the pods, one per
 * Ready schedulable node, as the scheduler does (it does not know about instances).
 */
function world(o: { notReadyAt: number; replacementAt: number; cordonA1?: boolean }) {
  const clock = new ManualClock();
  const nodes: NodeState[] = [
    { name: 'node-a1', spot: false, ready: true, cordoned: o.cordonA1, instance: 'running' },
    { name: 'node-b1', spot: false, ready: true, instance: 'running' },
    { name: 'node-b2', spot: true, ready: true, instance: 'terminated' },
  ];
  let pods = ['node-a1', 'node-b1', 'node-a1'];
  const restarts: number[] = [];
  const tick = () => {
    if (clock.now() >= o.notReadyAt) nodes[2].ready = false;
    if (clock.now() >= o.replacementAt && nodes.length === 3) nodes.push({ name: 'node-b2-r1', spot: true, ready: true, instance: 'running' });
  };
  const asNode = (n: NodeState): KObject => ({
    metadata: { name: n.name, labels: n.spot ? { 'eks.amazonaws.com/capacityType': 'SPOT' } : {} },
    spec: { providerID: `aws:///us-east-1b/i-0${nodes.indexOf(n)}`, ...(n.cordoned ? { unschedulable: true } : {}) },
    status: { conditions: [{ type: 'Ready', status: n.ready ? 'True' : 'Unknown' }] },
  });
  const podObjects = () => pods.map((node, i) => ({ metadata: { name: `web-${i}`, uid: `u${i}` }, spec: { nodeName: node } }));
  const k8s = {
    listNodes: async () => (tick(), nodes.map(asNode)),
    listPods: async () => podObjects(),
    getDeployment: async () => ({ metadata: { generation: 1 }, spec: { replicas: 3 }, status: { observedGeneration: 1, replicas: 3, updatedReplicas: 3, availableReplicas: 3 } }),
    patchDeployment: async () => {
      tick();
      restarts.push(clock.now());
      const placeable = nodes.filter((n) => n.ready && !n.cordoned).map((n) => n.name);
      pods = pods.map((_, i) => placeable[i % placeable.length]);
      return {};
    },
  } as unknown as KubernetesPort;
  const ec2 = { describeInstance: async (id: string) => ({ instanceId: id, state: nodes[Number(id.slice(3))].instance, lifecycle: 'spot' }) } as unknown as Ec2Port;
  const elbv2 = { describeTargetHealth: async () => pods.map((_, i) => ({ id: `10.0.0.${i}`, port: 8080, state: 'healthy' })) } as unknown as Elbv2Port;
  const target = { k8s, ec2, elbv2, clock, namespace: 'shop', deployment: 'web', labelSelector: 'app=web', targetGroupArn: 'arn:tg' } as unknown as Target;
  return { target, clock, restarts, pods: () => pods };
}

const spec = { configure: { steadyTimeoutSeconds: 300 } } as Spec;

async function place(w: ReturnType<typeof world>, d: Disruption): Promise<ConfigureOutcome> {
  let done: ConfigureOutcome | undefined;
  const running = ensurePlacement(w.target, d, spec, new AbortController().signal, () => {}).then((r) => (done = r));
  for (let i = 0; i < 400 && !done; i++) await w.clock.advance(1000);
  return running;
}

describe('ensurePlacement', () => {
  it('waits for the replacement spot node instead of restarting onto the terminated one that still reads Ready', async () => {
    const w = world({ notReadyAt: 40_000, replacementAt: 60_000 });
    const outcome = await place(w, { kind: 'spot', handler: 'nth', node: 'spot', noticeSeconds: 120 });
    expect(outcome).toEqual({ ok: true, detail: 're-placed: node-b2-r1 runs 1 pod(s) of web' });
    expect(w.restarts).toEqual([60_000]);
    expect(w.pods()).not.toContain('node-b2');
  });

  it('leaves a placement that holds alone', async () => {
    const w = world({ notReadyAt: 0, replacementAt: 0 });
    expect(await place(w, { kind: 'drain', node: 'node:node-a1' })).toEqual({ ok: true, detail: 'node-a1 runs 2 pod(s) of web' });
    expect(w.restarts).toEqual([]);
  });

  it('refuses at once a named node that runs none and cannot take one, without restarting', async () => {
    const w = world({ notReadyAt: 0, replacementAt: 0 });
    const outcome = await place(w, { kind: 'drain', node: 'node:node-b2' });
    expect(outcome).toEqual({ ok: false, reason: 'no pod of web runs on the chosen node node-b2, and no pod can be placed there (node-b2: cordoned, tainted NoSchedule, not Ready or its instance gone)' });
    expect(w.restarts).toEqual([]);
    expect(w.clock.now()).toBe(1000);
  });
});
