/**
 * aws-node-termination-handler (NTH), queue or IMDS mode, as its README describes it
 * (https://github.com/aws/aws-node-termination-handler, "Configuration"): on a spot interruption
 * notice it taints the node `aws-node-termination-handler/spot-itn`, cordons it and evicts every pod
 * at once; EC2 terminates the instance at the end of the notice. On a rebalance recommendation it
 * taints `aws-node-termination-handler/rebalance-recommendation` and cordons only
 * (`enableRebalanceMonitoring`); it drains too only with `enableRebalanceDraining`, off by default.
 */
import { podsOf, cordon } from '../drain.ts';
import type { DisruptionContext, DisruptionOutcome } from '../types.ts';
import { drainUntilTermination, taint, type NodeTarget } from './steps.ts';

/** The taint NTH puts on a node with a spot interruption notice. */
export const SPOT_TAINT = 'aws-node-termination-handler/spot-itn';
/** The taint NTH puts on a node with a rebalance recommendation. */
export const REBALANCE_TAINT = 'aws-node-termination-handler/rebalance-recommendation';

/** The spot notice: taint, cordon, evict everything; TerminateInstances at the deadline whatever the drain achieved. */
export async function nthSpot(ctx: DisruptionContext, target: NodeTarget, deadline: number, noticeSeconds: number): Promise<DisruptionOutcome> {
  await taint(ctx, target.node, SPOT_TAINT, 'true', 'NoSchedule');
  return drainUntilTermination(ctx, target, deadline, noticeSeconds, 'the spot interruption');
}

/** The rebalance recommendation: taint and cordon, no eviction (enableRebalanceDraining is off by default). */
export async function nthRebalance(ctx: DisruptionContext, target: NodeTarget): Promise<DisruptionOutcome> {
  const { node, onNode } = target;
  await taint(ctx, node, REBALANCE_TAINT, 'true', 'NoSchedule');
  await cordon(ctx, node);
  return {
    completed: true,
    detail: `${node} tainted ${REBALANCE_TAINT} and cordoned; no eviction`,
    actedOn: { pods: 0, needed: 1, summary: `not tested: NTH only cordons ${node} on a rebalance recommendation and evicts ${podsOf(0, ctx.deployment)} (it drains only with enableRebalanceDraining, off by default)` },
    onNode,
  };
}
