/**
 * `node-replace`: a voluntary node replacement — Karpenter's drift or consolidation, or an EKS
 * managed node group update — played in the handler's documented order
 * (harness/disruptions/handlers/): the replacement Ready first, then taint, drain and terminate.
 */
import type { Disruption } from '../matrix/schema.ts';
import { EVICTION_RETRY_SECONDS } from './drain.ts';
import { KARPENTER_TAINT, karpenterReplace } from './handlers/karpenter.ts';
import { NODEGROUP_TAINT, nodegroupReplace } from './handlers/managed-nodegroup.ts';
import { targetNode } from './handlers/steps.ts';
import type { DisruptionRunner } from './types.ts';

type NodeReplaceDisruption = Extract<Disruption, { kind: 'node-replace' }>;

/** What each handler does, for `plan`. */
const SEQUENCES = {
  karpenter: `Karpenter drift/consolidation: taint ${KARPENTER_TAINT}:NoSchedule, launch a replacement and wait until it is Ready, evict the pods through the Eviction API (retry 429 every ${EVICTION_RETRY_SECONDS} s), terminate the instance`,
  'managed-nodegroup': `EKS managed node group update: launch a replacement and wait until it is Ready, taint ${NODEGROUP_TAINT.key}=${NODEGROUP_TAINT.value}:NoSchedule, evict the pods (a blocking budget forced after 15 min), cordon, 60 s, terminate the instance`,
} as const;

/** Replaces one node. */
export const nodeReplace: DisruptionRunner<NodeReplaceDisruption> = {
  kind: 'node-replace',
  describe: (d) => `replacement of a node (${d.node}) by ${SEQUENCES[d.handler]}`,
  async run(d, ctx) {
    const chosen = await targetNode(ctx, d.node);
    if (!chosen.ok) return { completed: false, reason: chosen.reason };
    ctx.timeline.add({ type: 'disruption', action: 'node-replace', detail: `${chosen.target.node} (${chosen.target.instanceId}); handler ${d.handler}` });
    return d.handler === 'karpenter' ? karpenterReplace(ctx, chosen.target) : nodegroupReplace(ctx, chosen.target);
  },
};
