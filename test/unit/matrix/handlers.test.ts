/**
 * The node-handler forms of the spec: `spot: { handler }` (nth by default: today's cells and ids
 * unchanged), `rebalance` and `node-replace`; cells under different handlers are different cells
 * with readable ids, and `plan` says each handler's sequence.
 */
import { describe, expect, it } from 'vitest';
import { describeDisruption } from '../../../harness/disruptions/index.ts';
import { disruptionLabel, expandCells } from '../../../harness/matrix/expand.ts';
import { parseSpec } from '../../../harness/matrix/load.ts';
import { errorsOf } from '../../helpers/spec-errors.ts';

const matrix = { preStopSeconds: [15], terminationGracePeriodSeconds: [30], readinessGate: [true], deregistrationDelaySeconds: [30] };
const at = { namespace: 'shop', deployment: 'web' };

describe('node handler forms', () => {
  it('parses spot under each handler, rebalance and node-replace, with their defaults', () => {
    const { spec } = parseSpec({
      matrix,
      disruptions: ['spot', { spot: { handler: 'karpenter' } }, { spot: { handler: 'managed-nodegroup', noticeSeconds: 60 } }, 'rebalance', { rebalance: { handler: 'managed-nodegroup' } }, { 'node-replace': { handler: 'karpenter' } }],
    });
    expect(spec.disruptions).toEqual([
      { kind: 'spot', handler: 'nth', node: 'spot', noticeSeconds: 120 },
      { kind: 'spot', handler: 'karpenter', node: 'spot', noticeSeconds: 120 },
      { kind: 'spot', handler: 'managed-nodegroup', node: 'spot', noticeSeconds: 60 },
      { kind: 'rebalance', handler: 'nth', node: 'spot' },
      { kind: 'rebalance', handler: 'managed-nodegroup', node: 'spot' },
      { kind: 'node-replace', handler: 'karpenter', node: 'most-pods' },
    ]);
  });

  it('names each handler\'s cells apart, keeping today\'s ids for nth, and rejects the same handler twice', () => {
    const { spec } = parseSpec({ matrix, disruptions: ['spot', { spot: { handler: 'karpenter' } }, { spot: { handler: 'managed-nodegroup', node: 'node:node-b2' } }, { rebalance: { handler: 'karpenter' } }, { 'node-replace': { handler: 'managed-nodegroup' } }] });
    expect(expandCells(spec).map((c) => c.id)).toEqual([
      'spot.gate-on.prestop-15.grace-30.dereg-30.r1',
      'spot-karpenter.gate-on.prestop-15.grace-30.dereg-30.r1',
      'spot-managed-nodegroup-node-node-b2.gate-on.prestop-15.grace-30.dereg-30.r1',
      'rebalance-karpenter.gate-on.prestop-15.grace-30.dereg-30.r1',
      'node-replace-managed-nodegroup.gate-on.prestop-15.grace-30.dereg-30.r1',
    ]);
    expect(errorsOf({ matrix, disruptions: [{ spot: { handler: 'karpenter' } }, { spot: { handler: 'karpenter', noticeSeconds: 120 } }] })[0]).toMatch(/^disruptions\[0\], disruptions\[1\]: the same disruption \(spot-karpenter\) twice/);
  });

  it('says what handlers there are, and that node-replace needs one that replaces nodes', () => {
    expect(errorsOf({ matrix, disruptions: [{ spot: { handler: 'cluster-autoscaler' } }] })).toEqual(['disruptions[0].spot.handler: expected "nth", "karpenter", "managed-nodegroup", got "cluster-autoscaler"']);
    expect(errorsOf({ matrix, disruptions: [{ 'node-replace': { handler: 'nth' } }] })).toEqual(['disruptions[0].node-replace.handler: expected "karpenter", "managed-nodegroup", got "nth"']);
    expect(errorsOf({ matrix, disruptions: [{ 'node-replace': {} }] })).toEqual(['disruptions[0].node-replace.handler: expected "karpenter", "managed-nodegroup", got undefined']);
  });

  it('lets an expectation name the new kinds', () => {
    const { spec, warnings } = parseSpec({ matrix, disruptions: ['rebalance', { 'node-replace': { handler: 'karpenter' } }], expect: [{ where: { disruption: 'node-replace' }, max5xx: 0 }, { where: { disruption: 'rebalance' }, max5xx: 0 }] });
    expect(spec.expect.map((e) => e.where.disruption)).toEqual(['node-replace', 'rebalance']);
    expect(warnings).toEqual([]);
  });

  it('describes each handler\'s sequence for plan', () => {
    const { spec } = parseSpec({ matrix, disruptions: [{ spot: { handler: 'karpenter' } }, { rebalance: { handler: 'managed-nodegroup' } }, { 'node-replace': { handler: 'managed-nodegroup' } }, { rebalance: { handler: 'karpenter' } }] });
    expect(spec.disruptions.map((d) => `${disruptionLabel(d)}: ${describeDisruption(d, at)}`)).toEqual([
      'spot-karpenter: spot interruption of a node (spot) handled by Karpenter: launch a replacement at once and in parallel taint karpenter.sh/disrupted:NoSchedule and evict its pods through the Eviction API (retry 429 every 5 s), terminate when drained or 120 s after the notice',
      'rebalance-managed-nodegroup: rebalance recommendation for a node (spot) handled by EKS managed node group capacity rebalancing: launch a replacement, wait until its Node is Ready, then cordon and evict its pods (the instance is left running; the cordon undone when the cell ends)',
      'node-replace-managed-nodegroup: replacement of a node (most-pods) by EKS managed node group update: launch a replacement and wait until it is Ready, taint eks.amazonaws.com/nodegroup=unschedulable:NoSchedule, evict the pods (a blocking budget forced after 15 min), cordon, 60 s, terminate the instance',
      'rebalance-karpenter: rebalance recommendation for a node (spot) handled by Karpenter: no action (it does not act on rebalance recommendations); not tested',
    ]);
  });
});
