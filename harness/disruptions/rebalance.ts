/**
 * `rebalance`: an EC2 rebalance recommendation for a spot node (a signal that it is at elevated
 * risk of interruption; no termination follows within the cell), played as the cluster's handler
 * answers it (harness/disruptions/handlers/): NTH cordons, an EKS managed node group replaces the
 * node first then drains it, Karpenter does nothing (the cell says so: not tested).
 */
import type { Disruption } from '../matrix/schema.ts';
import { karpenterRebalance } from './handlers/karpenter.ts';
import { nodegroupRebalance } from './handlers/managed-nodegroup.ts';
import { nthRebalance, REBALANCE_TAINT } from './handlers/nth.ts';
import { targetNode } from './handlers/steps.ts';
import type { DisruptionRunner } from './types.ts';

type RebalanceDisruption = Extract<Disruption, { kind: 'rebalance' }>;

/** What each handler does on the recommendation, for `plan`. */
const SEQUENCES = {
  nth: `aws-node-termination-handler: taint ${REBALANCE_TAINT} and cordon, no eviction (enableRebalanceDraining off), undone when the cell ends; not tested: no pod moves`,
  karpenter: 'Karpenter: no action (it does not act on rebalance recommendations); not tested',
  'managed-nodegroup': 'EKS managed node group capacity rebalancing: launch a replacement, wait until its Node is Ready, then cordon and evict its pods (the instance is left running; the cordon undone when the cell ends)',
} as const;

/** Sends one rebalance recommendation. */
export const rebalance: DisruptionRunner<RebalanceDisruption> = {
  kind: 'rebalance',
  describe: (d) => `rebalance recommendation for a node (${d.node}) handled by ${SEQUENCES[d.handler]}`,
  async run(d, ctx) {
    const chosen = await targetNode(ctx, d.node);
    if (!chosen.ok) return { completed: false, reason: chosen.reason };
    const target = chosen.target;
    ctx.timeline.add({ type: 'disruption', action: 'rebalance-recommendation', detail: `${target.node} (${target.instanceId}); handler ${d.handler}` });
    if (d.handler === 'karpenter') return karpenterRebalance(ctx, target);
    if (d.handler === 'managed-nodegroup') return nodegroupRebalance(ctx, target);
    return nthRebalance(ctx, target);
  },
};
