/**
 * The steps node handlers are made of — choose the node, taint it, launch a replacement and wait
 * until its Node is Ready, evict, terminate — each put on the timeline with the action names every
 * part of the harness uses (`replacement-launched`, `replacement-ready`, `taint`, `cordon`,
 * `evicted`, `drained`/`drain-incomplete`, `terminate-instance`). The handlers (nth.ts,
 * karpenter.ts, managed-nodegroup.ts) only put them in their documented order.
 */
import { instanceIdOf, type KObject } from '../../platform/ports.ts';
import { cordon, evictAll, placement, podsOf } from '../drain.ts';
import type { ActedOn, DisruptionContext, DisruptionOutcome, OnNode, TaintEffect } from '../types.ts';
import { pollUntil } from '../wait.ts';

/** The node a handler acts on: its name, its instance, and where the Deployment's pods were. */
export interface NodeTarget {
  node: string;
  instanceId: string;
  onNode: OnNode;
}

/**
 * The chosen node (it must run pods of the Deployment: the placement rule of drain and spot cells)
 * with its EC2 instance, and how many of the Deployment's pods it runs out of its replicas.
 */
export async function targetNode(ctx: DisruptionContext, choice: string): Promise<{ ok: true; target: NodeTarget } | { ok: false; reason: string }> {
  const placed = await placement(ctx, choice);
  if (!placed.ok) return { ok: false, reason: placed.reason };
  const instanceId = instanceIdOf((await ctx.k8s.getNode(placed.node)).spec?.providerID);
  if (!instanceId) return { ok: false, reason: `node ${placed.node} has no EC2 providerID` };
  const replicas = (await ctx.k8s.getDeployment(ctx.namespace, ctx.deployment)).spec?.replicas ?? 1;
  return { ok: true, target: { node: placed.node, instanceId, onNode: { node: placed.node, podsOnNode: placed.pods, replicas } } };
}

/** Taints a node, recording the change first; a taint the node already carries (someone else's) is left as it is. */
export async function taint(ctx: DisruptionContext, node: string, key: string, value: string, effect: TaintEffect): Promise<void> {
  const text = `${node} ${key}${value ? `=${value}` : ''}:${effect}`;
  if (((await ctx.k8s.getNode(node)).spec?.taints ?? []).some((t: { key: string }) => t.key === key)) {
    ctx.timeline.add({ type: 'disruption', action: 'taint', detail: `${text} (already tainted; left so at the end)` });
    return;
  }
  await ctx.recordChange({ kind: 'taint', node, key, value, effect });
  await ctx.k8s.setNodeTaint(node, key, { value, effect });
  ctx.timeline.add({ type: 'disruption', action: 'taint', detail: text });
}

/** True for a Node whose Ready condition is True. */
function isReady(n: KObject): boolean {
  return (n.status?.conditions ?? []).some((c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True');
}

/**
 * Launches a replacement like `target`'s node as `handler` would and waits (until `deadline`, model
 * ms) for its Node to be Ready. The replacement is not undone at restore: the handler would keep it.
 */
export async function replacementReady(ctx: DisruptionContext, target: NodeTarget, handler: 'karpenter' | 'managed-nodegroup', deadline: number): Promise<{ ok: true; node: string } | { ok: false; reason: string }> {
  const { instanceId } = await ctx.capacity.launchReplacement({ nodeName: target.node, instanceId: target.instanceId }, handler);
  ctx.timeline.add({ type: 'disruption', action: 'replacement-launched', detail: `${instanceId} like ${target.node} (${handler})` });
  let ready: string | undefined;
  const boundMs = Math.max(0, deadline - ctx.clock.now());
  const ok = await pollUntil(ctx.clock, boundMs, ctx.signal, async () => {
    const node = (await ctx.k8s.listNodes()).find((n) => instanceIdOf(n.spec?.providerID) === instanceId);
    ready = node && isReady(node) ? node.metadata?.name : undefined;
    return ready !== undefined;
  });
  if (!ok || !ready) return { ok: false, reason: ctx.signal.aborted ? 'interrupted' : `expected the replacement ${instanceId} to join as a Ready Node within ${Math.round(boundMs / 1000)} s, got no Ready Node` };
  ctx.timeline.add({ type: 'disruption', action: 'replacement-ready', detail: `${ready} (${instanceId})` });
  return { ok: true, node: ready };
}

/** Sleeps until `deadline` (model ms); false when aborted. */
export async function sleepUntil(ctx: DisruptionContext, deadline: number): Promise<boolean> {
  const wait = deadline - ctx.clock.now();
  if (wait > 0) await ctx.clock.sleep(wait, ctx.signal).catch(() => {});
  return !ctx.signal.aborted;
}

/**
 * Terminates the node's instance (TerminateInstances); the Deployment's pods still on the node end
 * with it and count as acted on, besides those `drained` evicted.
 */
export async function terminate(ctx: DisruptionContext, target: NodeTarget, drained: ActedOn): Promise<ActedOn> {
  const killed = (await ctx.k8s.listPods(ctx.namespace, ctx.labelSelector)).filter((p) => p.spec?.nodeName === target.node && !p.metadata?.deletionTimestamp).length;
  await ctx.ec2.terminateInstance(target.instanceId);
  ctx.timeline.add({ type: 'disruption', action: 'terminate-instance', detail: target.instanceId });
  return killed ? { pods: drained.pods + killed, needed: 1, summary: `${drained.summary}; the termination of ${target.instanceId} ended ${podsOf(killed, ctx.deployment)}` } : drained;
}

/** Puts a drain's end on the timeline: `drained`, or `drain-incomplete` with why. */
export function drainEnded(ctx: DisruptionContext, node: string, outcome: DisruptionOutcome): void {
  ctx.timeline.add({ type: 'disruption', action: outcome.completed ? 'drained' : 'drain-incomplete', detail: outcome.completed ? node : outcome.reason });
}

/**
 * A spot notice answered by draining at once (NTH's and a managed node group's): cordon, evict
 * everything (`what` names it), then EC2 terminates the instance at the deadline whatever the drain
 * achieved.
 */
export async function drainUntilTermination(ctx: DisruptionContext, target: NodeTarget, deadline: number, noticeSeconds: number, what: string): Promise<DisruptionOutcome> {
  const { node, onNode } = target;
  await cordon(ctx, node);
  const drained = await evictAll(ctx, node, deadline, what);
  drainEnded(ctx, node, drained);
  if (!(await sleepUntil(ctx, deadline))) return { completed: false, reason: 'interrupted', actedOn: drained.actedOn, onNode };
  const actedOn = await terminate(ctx, target, drained.actedOn);
  return { completed: true, detail: `${target.instanceId} terminated ${noticeSeconds} s after the notice${drained.completed ? '' : ` (drain incomplete: ${drained.reason})`}`, actedOn, onNode };
}
