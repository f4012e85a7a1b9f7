/**
 * Karpenter v1, as its disruption.md describes it (https://karpenter.sh/docs/concepts/disruption/):
 * - interruption (a spot interruption warning through its SQS queue): "the NodePool will start a new
 *   node as soon as it sees the Spot interruption warning", and Karpenter "taints, drains, and
 *   terminates the node(s) ahead of the interruption event", draining "while in parallel
 *   provisioning a new node": a replacement launched at once, the node tainted
 *   `karpenter.sh/disrupted:NoSchedule` and its pods evicted through the Eviction API
 *   (PodDisruptionBudgets respected) without waiting for it, the instance terminated when the drain
 *   is done — or by EC2 at the end of the notice, whatever the drain achieved;
 * - drift and consolidation (`node-replace`): taint `karpenter.sh/disrupted:NoSchedule`, pre-spin
 *   the replacement and wait until it is Ready, then delete the node: drain with PDBs (bounded only
 *   by the NodePool's terminationGracePeriod) and terminate the instance;
 * - rebalance recommendations: Karpenter does not act on them (the docs point to NTH for that).
 * Before v1 the taint was `karpenter.sh/disruption=disrupting:NoSchedule`.
 */
import { evictAll, podsOf } from '../drain.ts';
import type { DisruptionContext, DisruptionOutcome } from '../types.ts';
import { drainEnded, replacementReady, sleepUntil, taint, terminate, type NodeTarget } from './steps.ts';

/** The taint Karpenter v1 puts on a node it disrupts (key only, no value). */
export const KARPENTER_TAINT = 'karpenter.sh/disrupted';

/**
 * The spot interruption: the replacement launched at once and, in parallel, the node tainted and
 * drained ("Once Karpenter has received this warning it will begin draining the node while in
 * parallel provisioning a new node"); the instance terminated when drained, else by EC2 at the end
 * of the notice. Whether the replacement was Ready before the pods left is on the timeline.
 */
export async function karpenterSpot(ctx: DisruptionContext, target: NodeTarget, deadline: number, noticeSeconds: number): Promise<DisruptionOutcome> {
  const { node, onNode } = target;
  // The replacement's wait has its own signal: it must not hold the termination back, and ends with the cell.
  const waiting = new AbortController();
  const stop = () => waiting.abort();
  ctx.signal.addEventListener('abort', stop, { once: true });
  const launching = replacementReady({ ...ctx, signal: waiting.signal }, target, 'karpenter', deadline);
  launching.catch(() => {}); // awaited below; a failed launch must not go unhandled meanwhile
  try {
    await taint(ctx, node, KARPENTER_TAINT, '', 'NoSchedule');
    const drained = await evictAll(ctx, node, deadline, 'the spot interruption (Karpenter)');
    drainEnded(ctx, node, drained);
    // Drained: Karpenter terminates the instance itself; else EC2 does at the end of the notice.
    if (!drained.completed) await sleepUntil(ctx, deadline);
    if (ctx.signal.aborted) return { completed: false, reason: 'interrupted', actedOn: drained.actedOn, onNode };
    const early = Math.max(0, Math.round((deadline - ctx.clock.now()) / 1000));
    const actedOn = await terminate(ctx, target, drained.actedOn);
    // The replacement joins on its own time (bounded by the notice's end): its Ready goes on the timeline.
    const replacement = await launching;
    if (!replacement.ok && !ctx.signal.aborted) ctx.timeline.add({ type: 'note', detail: `the replacement was not Ready by the end of the notice: ${replacement.reason}` });
    const when = drained.completed ? `by Karpenter once drained, ${early} s before the end of the ${noticeSeconds} s notice` : `at the end of the ${noticeSeconds} s notice (drain incomplete: ${drained.reason})`;
    return { completed: true, detail: `${target.instanceId} terminated ${when}`, actedOn, onNode };
  } finally {
    stop();
    ctx.signal.removeEventListener('abort', stop);
    await launching.catch(() => {});
  }
}

/** Drift or consolidation: taint, replacement Ready, drain with PDBs, terminate. */
export async function karpenterReplace(ctx: DisruptionContext, target: NodeTarget): Promise<DisruptionOutcome> {
  const { node, onNode } = target;
  const deadline = ctx.clock.now() + ctx.boundMs;
  await taint(ctx, node, KARPENTER_TAINT, '', 'NoSchedule');
  const replacement = await replacementReady(ctx, target, 'karpenter', deadline);
  // A replacement that does not initialize: Karpenter un-taints the node and tries again later.
  if (!replacement.ok) return { completed: false, reason: `Karpenter would not disrupt ${node}: ${replacement.reason}`, onNode };
  const drained = await evictAll(ctx, node, deadline, 'the Karpenter replacement');
  drainEnded(ctx, node, drained);
  // Without terminationGracePeriod Karpenter waits for a blocking budget as long as it takes: the node stays.
  if (!drained.completed) return { completed: false, reason: `${drained.reason} (Karpenter keeps waiting for the disruption budget unless the NodePool sets terminationGracePeriod)`, actedOn: drained.actedOn, onNode };
  const actedOn = await terminate(ctx, target, drained.actedOn);
  return { completed: true, detail: `${node} replaced by ${replacement.node}, drained and ${target.instanceId} terminated`, actedOn, onNode };
}

/** A rebalance recommendation: recorded, nothing done. */
export async function karpenterRebalance(ctx: DisruptionContext, target: NodeTarget): Promise<DisruptionOutcome> {
  ctx.timeline.add({ type: 'note', detail: `Karpenter does not act on rebalance recommendations: ${target.node} keeps its pods` });
  return {
    completed: true,
    detail: `no action on ${target.node}`,
    actedOn: { pods: 0, needed: 1, summary: `not tested: Karpenter does not act on rebalance recommendations (${podsOf(0, ctx.deployment)} moved)` },
    onNode: target.onNode,
  };
}
