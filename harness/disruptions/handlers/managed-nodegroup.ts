/**
 * An EKS managed node group, as the EKS user guide describes it:
 * - spot capacity rebalancing ("Managed node groups", capacity types,
 *   https://docs.aws.amazon.com/eks/latest/userguide/managed-node-groups.html): on a rebalance
 *   recommendation EKS launches a replacement spot node and waits until it is Ready, then cordons
 *   and drains the node that got the recommendation; on the two-minute interruption notice it drains
 *   at once (cordon, evict), and EC2 terminates the instance at the end of the notice;
 * - a node group update (`node-replace`; "Understand each phase of node updates",
 *   https://docs.aws.amazon.com/eks/latest/userguide/managed-node-update-behavior.html): scale up
 *   (the replacement launched and Ready), the old node tainted
 *   `eks.amazonaws.com/nodegroup=unschedulable:NoSchedule`, its pods evicted — a budget that keeps a
 *   pod past 15 minutes fails the update unless it is forced, and the harness plays it forced: the
 *   instance goes with the pods still on it — then the node cordoned, 60 s, and the instance terminated.
 */
import { cordon, evictAll } from '../drain.ts';
import type { DisruptionContext, DisruptionOutcome } from '../types.ts';
import { drainEnded, drainUntilTermination, replacementReady, sleepUntil, taint, terminate, type NodeTarget } from './steps.ts';

/** The taint a managed node group update puts on the nodes it replaces. */
export const NODEGROUP_TAINT = { key: 'eks.amazonaws.com/nodegroup', value: 'unschedulable' } as const;
/** How long a node group update tries to evict a node's pods before it gives up on a blocking budget (model ms). */
export const NODEGROUP_EVICTION_LIMIT_MS = 15 * 60_000;
/** How long a node group update waits after cordoning a drained node before it terminates it (model ms). */
export const NODEGROUP_CORDON_WAIT_MS = 60_000;

/** The spot notice: cordon and evict at once; EC2 terminates the instance at the deadline. */
export async function nodegroupSpot(ctx: DisruptionContext, target: NodeTarget, deadline: number, noticeSeconds: number): Promise<DisruptionOutcome> {
  return drainUntilTermination(ctx, target, deadline, noticeSeconds, 'the spot interruption (managed node group)');
}

/** Capacity rebalancing: replacement Ready first, then cordon and drain; the instance is left running. */
export async function nodegroupRebalance(ctx: DisruptionContext, target: NodeTarget): Promise<DisruptionOutcome> {
  const { node, onNode } = target;
  const deadline = ctx.clock.now() + ctx.boundMs;
  const replacement = await replacementReady(ctx, target, 'managed-nodegroup', deadline);
  if (!replacement.ok) return { completed: false, reason: `EKS would not drain ${node}: ${replacement.reason}`, onNode };
  await cordon(ctx, node);
  const drained = await evictAll(ctx, node, deadline, 'the capacity rebalancing (managed node group)');
  drainEnded(ctx, node, drained);
  return drained.completed ? { completed: true, detail: `${node} drained after ${replacement.node} was Ready (its instance left running)`, actedOn: drained.actedOn, onNode } : { ...drained, onNode };
}

/** A node group update: replacement Ready, taint, evict (15 min, then forced), cordon, 60 s, terminate. */
export async function nodegroupReplace(ctx: DisruptionContext, target: NodeTarget): Promise<DisruptionOutcome> {
  const { node, onNode } = target;
  const bound = ctx.clock.now() + ctx.boundMs;
  const replacement = await replacementReady(ctx, target, 'managed-nodegroup', bound);
  if (!replacement.ok) return { completed: false, reason: `the node group update would not go on: ${replacement.reason}`, onNode };
  await taint(ctx, node, NODEGROUP_TAINT.key, NODEGROUP_TAINT.value, 'NoSchedule');
  const limit = Math.min(bound, ctx.clock.now() + NODEGROUP_EVICTION_LIMIT_MS);
  const drained = await evictAll(ctx, node, limit, 'the node group update');
  drainEnded(ctx, node, drained);
  if (ctx.signal.aborted) return { completed: false, reason: 'interrupted', actedOn: drained.actedOn, onNode };
  await cordon(ctx, node);
  if (!(await sleepUntil(ctx, ctx.clock.now() + NODEGROUP_CORDON_WAIT_MS))) return { completed: false, reason: 'interrupted', actedOn: drained.actedOn, onNode };
  const actedOn = await terminate(ctx, target, drained.actedOn);
  const forced = drained.completed ? '' : ` (forced: ${drained.reason})`;
  return { completed: true, detail: `${node} replaced by ${replacement.node}, ${target.instanceId} terminated${forced}`, actedOn, onNode };
}
