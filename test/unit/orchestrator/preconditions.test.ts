import { describe, expect, it } from 'vitest';
import { EnvironmentError } from '../../../harness/core/errors.ts';
import { preconditionProblems, refuseIfControllerRefuses } from '../../../harness/orchestrator/preconditions.ts';
import type { KEvent, KObject } from '../../../harness/platform/ports.ts';
import { parseSpec } from '../../../harness/matrix/load.ts';

const matrix = { preStopSeconds: [0], terminationGracePeriodSeconds: [30], readinessGate: [true], deregistrationDelaySeconds: [300] };
const deployment = (replicas: number): KObject => ({ metadata: { name: 'web', namespace: 'shop' }, spec: { replicas } });
const node = (name: string, opts: { spot?: boolean; cordoned?: boolean; providerID?: string } = {}): KObject => ({
  metadata: { name, labels: opts.spot ? { 'eks.amazonaws.com/capacityType': 'SPOT' } : {} },
  spec: { unschedulable: opts.cordoned, providerID: opts.providerID ?? `aws:///us-east-1a/i-0${name.length}abc` },
  status: { conditions: [{ type: 'Ready', status: 'True' }] },
});
const world = [node('node-a1'), node('node-b1'), node('node-b2', { spot: true })];
const problems = (disruptions: unknown[], d = deployment(3), nodes = world) => preconditionProblems(parseSpec({ matrix, disruptions }).spec, d, nodes);

describe('preconditionProblems', () => {
  it('finds none in the default world', () => {
    expect(problems(['rollout', 'drain', 'spot', { drain: { node: 'node:node-a1' } }])).toEqual([]);
  });

  it('names a node that does not exist, and the nodes there are', () => {
    expect(problems([{ drain: { node: 'node:ghost' } }])).toEqual(['disruptions[0] (drain node:ghost): expected a node named ghost, got only node-a1, node-b1, node-b2']);
  });

  it('refuses a Deployment scaled to 0 and a cluster with every node cordoned', () => {
    expect(problems(['rollout'], deployment(0))[0]).toMatch(/^deployment shop\/web: expected at least 1 replica, got 0/);
    const cordoned = world.map((n) => ({ ...n, spec: { ...n.spec, unschedulable: true } }));
    expect(problems(['rollout'], deployment(3), cordoned)[0]).toMatch(/^nodes: expected at least one schedulable node/);
  });

  it('refuses spot on a cluster with no spot node, and a spot node without an EC2 instance', () => {
    expect(problems(['spot'], deployment(3), [node('a'), node('b')])[0]).toMatch(/^disruptions\[0\] \(spot spot\): expected a spot node/);
    expect(problems(['spot'], deployment(3), [node('a'), node('s', { spot: true, providerID: 'kind://s' })])[0]).toMatch(/expected the node to carry an EC2 providerID/);
  });

  it('lets a handler that launches a replacement first act on a single node, and refuses a managed node group\'s replacement in a cluster', () => {
    const s = node('s', { spot: true });
    const single = [{ ...s, metadata: { name: 's', labels: { ...s.metadata?.labels, 'karpenter.sh/nodepool': 'default' } } }];
    const karpenter = parseSpec({ matrix, disruptions: [{ spot: { handler: 'karpenter' } }, { 'node-replace': { handler: 'karpenter' } }] }).spec;
    expect(preconditionProblems(karpenter, deployment(3), single)).toEqual([]);
    expect(preconditionProblems(parseSpec({ matrix, disruptions: ['spot'] }).spec, deployment(3), single)[0]).toMatch(/expected a schedulable node besides the one drained/);
    // A node of no NodePool cannot be replaced as Karpenter would.
    expect(preconditionProblems(karpenter, deployment(3), [s, node('a')])[0]).toBe(
      "disruptions[0] (spot spot): expected a node of the handler's group (label karpenter.sh/nodepool) to replace like karpenter does, got s without it (on the twin, cluster.spotHandler sets the nodes' labels)",
    );
    const mng = parseSpec({ matrix, disruptions: [{ spot: { handler: 'managed-nodegroup' } }, { rebalance: { handler: 'managed-nodegroup' } }, { 'node-replace': { handler: 'managed-nodegroup' } }] }).spec;
    const groups = world.map((n) => ({ ...n, metadata: { ...n.metadata, labels: { ...n.metadata?.labels, 'eks.amazonaws.com/nodegroup': 'ng' } } }));
    expect(preconditionProblems(mng, deployment(3), groups, 'twin')).toEqual([]);
    expect(preconditionProblems(mng, deployment(3), groups, 'cluster')).toEqual([
      'disruptions[1] (rebalance spot): expected a handler whose replacement the harness can launch in a cluster (karpenter, or nth for rebalance), got managed-nodegroup: its replacement would scale the node group\'s Auto Scaling group, which is not supported; run it on the twin',
      'disruptions[2] (node-replace most-pods): expected a handler whose replacement the harness can launch in a cluster (karpenter, or nth for rebalance), got managed-nodegroup: its replacement would scale the node group\'s Auto Scaling group, which is not supported; run it on the twin',
    ]);
  });

  it('needs somewhere for the drained pods to go', () => {
    expect(problems([{ drain: { node: 'node:a' } }], deployment(3), [node('a'), node('b', { cordoned: true })])[0]).toMatch(/expected a schedulable node besides the one drained/);
    expect(problems(['drain'], deployment(3), [node('a')])[0]).toMatch(/expected a schedulable node besides the one drained/);
  });
});

describe("the load balancer controller's verdict on the Ingress", () => {
  const events = (list: KEvent[]) => ({ listEvents: async (_ns: string, fieldSelector: string) => list.filter((e) => fieldSelector.includes(`involvedObject.name=${e.involvedObject?.name}`)) });

  it('refuses, in the controller\'s words, an Ingress whose latest reconcile failed; passes once a later one succeeded', async () => {
    const event = (type: string, reason: string, at: string, message: string): KEvent => ({ metadata: { name: `web.${at}` }, involvedObject: { kind: 'Ingress', name: 'web' }, type, reason, message, lastTimestamp: at });
    const refused = event('Warning', 'FailedBuildModel', '2026-12-03T08:00:10Z', 'Failed build model due to conflicting attributes idle_timeout.timeout_seconds: 60 | 30');
    const ok = event('Normal', 'SuccessfullyReconciled', '2026-12-03T08:00:05Z', 'Successfully reconciled');
    await expect(refuseIfControllerRefuses(events([ok, refused, event('Warning', 'FailedBuildModel', '2026-12-03T08:00:00Z', 'older')]), 'shop', 'web')).rejects.toThrow(
      new EnvironmentError(
        'Expected the AWS Load Balancer Controller to reconcile ingress shop/web, got its Warning FailedBuildModel at 2026-12-03T08:00:10Z: Failed build model due to conflicting attributes idle_timeout.timeout_seconds: 60 | 30 (the load balancer does not follow the Ingress until that is fixed; kubectl describe ingress web -n shop)',
      ),
    );
    await expect(refuseIfControllerRefuses(events([refused, { ...ok, lastTimestamp: '2026-12-03T08:00:20Z' }]), 'shop', 'web')).resolves.toBeUndefined();
  });
});
