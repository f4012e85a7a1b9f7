/**
 * `spot`: a simulated spot interruption, played as the cluster's handler answers the notice
 * (harness/disruptions/handlers/): aws-node-termination-handler (the default), Karpenter, or an EKS
 * managed node group; EC2 ends it with TerminateInstances at the deadline (`noticeSeconds` after
 * the notice) unless the handler terminated the instance before.
 */
import type { Disruption, NodeHandler } from '../matrix/schema.ts';
import { EVICTION_RETRY_SECONDS } from './drain.ts';
import { KARPENTER_TAINT, karpenterSpot } from './handlers/karpenter.ts';
import { nodegroupSpot } from './handlers/managed-nodegroup.ts';
import { nthSpot, SPOT_TAINT } from './handlers/nth.ts';
import { targetNode } from './handlers/steps.ts';
import type { DisruptionRunner } from './types.ts';

export { SPOT_TAINT };

/** What each handler does at the notice, for `plan`. */
const SEQUENCES = {
  nth: (d: SpotDisruption) => `aws-node-termination-handler: taint ${SPOT_TAINT}, cordon and evict its pods at the notice, TerminateInstances ${d.noticeSeconds} s later`,
  karpenter: (d: SpotDisruption) => `Karpenter: launch a replacement at once and in parallel taint ${KARPENTER_TAINT}:NoSchedule and evict its pods through the Eviction API (retry 429 every ${EVICTION_RETRY_SECONDS} s), terminate when drained or ${d.noticeSeconds} s after the notice`,
  'managed-nodegroup': (d: SpotDisruption) => `EKS managed node group: cordon and evict its pods at the notice, TerminateInstances ${d.noticeSeconds} s later`,
} as const;

/** A spot interruption the harness plays (not one FIS sends: harness/disruptions/fis.ts). */
type SpotDisruption = Extract<Disruption, { kind: 'spot'; handler: NodeHandler }>;

/** Interrupts one spot node. */
export const spot: DisruptionRunner<SpotDisruption> = {
  kind: 'spot',
  describe: (d) => `spot interruption of a node (${d.node}) handled by ${SEQUENCES[d.handler](d)}`,
  async run(d, ctx) {
    const chosen = await targetNode(ctx, d.node);
    if (!chosen.ok) return { completed: false, reason: chosen.reason };
    const target = chosen.target;
    const deadline = ctx.clock.now() + d.noticeSeconds * 1000;
    ctx.timeline.add({ type: 'disruption', action: 'spot-notice', detail: `${target.node} (${target.instanceId}), termination in ${d.noticeSeconds} s; handler ${d.handler}` });
    if (d.handler === 'karpenter') return karpenterSpot(ctx, target, deadline, d.noticeSeconds);
    if (d.handler === 'managed-nodegroup') return nodegroupSpot(ctx, target, deadline, d.noticeSeconds);
    return nthSpot(ctx, target, deadline, d.noticeSeconds);
  },
};
