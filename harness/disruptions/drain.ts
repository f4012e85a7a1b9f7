/**
 * `drain`: as `kubectl drain` does it — cordon the node, evict every pod on it in parallel through
 * the Eviction API, retry a 429 (PodDisruptionBudget) after 5 s, and wait until the pods are gone.
 * The node is uncordoned at restore.
 */
import type { KObject } from '../platform/ports.ts';
import type { ActedOn, DisruptionContext, DisruptionOutcome, DisruptionRunner } from './types.ts';
import { pollUntil } from './wait.ts';

/** Seconds between eviction retries after a 429 (kubectl drain's). */

/** What configure does first in a drain or spot cell (harness/orchestrator/placement.ts), as `plan` says it before the disruption. */
export const PLACEMENT_FIRST = 'first make sure the chosen node runs pods of the Deployment (a restart rollout re-places them when it runs none; INVALID when no pod can go there)';
export const EVICTION_RETRY_SECONDS = 5;

function isDaemonSetPod(pod: KObject): boolean {
  return ((pod.metadata as { ownerReferences?: Array<{ kind: string }> } | undefined)?.ownerReferences ?? []).some((o) => o.kind === 'DaemonSet');
}

/** True for a spot node, by the labels EKS managed node groups, Karpenter and self-managed groups set. */
export function isSpotNode(n: KObject): boolean {
  const l = n.metadata?.labels ?? {};
  return l['eks.amazonaws.com/capacityType'] === 'SPOT' || l['karpenter.sh/capacity-type'] === 'spot' || l['node.kubernetes.io/lifecycle'] === 'spot';
}

/** What choosing a node and counting the Deployment's pods on it needs (a disruption context or a target). */
export type PodScope = Pick<DisruptionContext, 'k8s' | 'namespace' | 'deployment' | 'labelSelector'>;

/** The Deployment's pods that are not terminating. */
async function runningPods(scope: PodScope): Promise<KObject[]> {
  return (await scope.k8s.listPods(scope.namespace, scope.labelSelector)).filter((p) => !p.metadata?.deletionTimestamp);
}

/** The node a choice names: `node:<name>`, `most-pods` (most of the Deployment's pods) or `spot`. */
export async function chooseNode(scope: PodScope, choice: string): Promise<string | undefined> {
  if (choice.startsWith('node:')) return choice.slice(5);
  const pods = await runningPods(scope);
  const nodes = await scope.k8s.listNodes();
  const candidates = nodes.filter((n) => !n.spec?.unschedulable && (choice !== 'spot' || isSpotNode(n)));
  const count = (name: string) => pods.filter((p) => p.spec?.nodeName === name).length;
  const ranked = candidates.map((n) => n.metadata?.name ?? '').sort((a, b) => count(b) - count(a) || a.localeCompare(b));
  return ranked.find((name) => count(name) > 0) ?? ranked[0];
}

/** The chosen node and the Deployment's pods on it, or why a drain or spot cell cannot act there. */
export type Placement = { ok: true; node: string; pods: number } | { ok: false; node?: string; reason: string };

/**
 * The one placement rule of drain and spot cells: the chosen node must run pods of the Deployment,
 * or the disruption would measure nothing. Configure checks it (and re-places the pods) before the
 * cell; the disruption checks it again before it acts.
 */
export async function placement(scope: PodScope, choice: string): Promise<Placement> {
  const node = await chooseNode(scope, choice);
  if (!node) return { ok: false, reason: `no node matches "${choice}"` };
  const pods = (await runningPods(scope)).filter((p) => p.spec?.nodeName === node).length;
  if (pods) return { ok: true, node, pods };
  return { ok: false, node, reason: `no pod of ${scope.deployment} runs on the chosen node ${node}${choice === 'spot' ? ' (nor on any other schedulable spot node)' : ''}` };
}

/** "<n> pod(s) of <deployment>", or "no pod of <deployment>". */
export function podsOf(n: number, deployment: string): string {
  return n ? `${n} pod(s) of ${deployment}` : `no pod of ${deployment}`;
}

/**
 * Evicts every pod on `node` (retrying 429s) and waits until they are gone. `actedOn` counts the
 * Deployment's pods this eviction removed; `what` names the disruption in its summary.
 */
export async function evictAll(ctx: DisruptionContext, node: string, deadline: number, what: string): Promise<DisruptionOutcome & { actedOn: ActedOn }> {
  const ours = new Set((await runningPods(ctx)).map((p) => p.metadata?.uid));
  const pods = (await ctx.k8s.listPodsOnNode(node)).filter((p) => !isDaemonSetPod(p) && !p.metadata?.deletionTimestamp);
  let evicted = 0;
  const results = await Promise.all(
    pods.map(async (pod) => {
      const ns = pod.metadata?.namespace ?? '';
      const name = pod.metadata?.name ?? '';
      for (let attempt = 1; !ctx.signal.aborted; attempt++) {
        const outcome = await ctx.k8s.evictPod(ns, name);
        if (outcome.kind === 'evicted' || outcome.kind === 'gone') {
          ctx.timeline.add({ type: 'disruption', action: 'evicted', detail: `${ns}/${name}${attempt > 1 ? ` after ${attempt} attempts` : ''}` });
          // A pod already gone was removed by someone else: not this disruption's doing.
          if (outcome.kind === 'evicted' && ours.has(pod.metadata?.uid)) evicted++;
          return true;
        }
        if (outcome.kind === 'failed') {
          ctx.timeline.add({ type: 'disruption', action: 'evict-failed', detail: `${ns}/${name}: ${outcome.code}` });
          return false;
        }
        if (attempt === 1) ctx.timeline.add({ type: 'disruption', action: 'evict-blocked', detail: `${ns}/${name}: disruption budget (429), retrying every ${EVICTION_RETRY_SECONDS} s` });
        if (ctx.clock.now() + EVICTION_RETRY_SECONDS * 1000 > deadline) return false;
        await ctx.clock.sleep(EVICTION_RETRY_SECONDS * 1000, ctx.signal).catch(() => {});
      }
      return false;
    }),
  );
  const actedOn: ActedOn = { pods: evicted, needed: 1, summary: `${what} of ${node} evicted ${podsOf(evicted, ctx.deployment)}` };
  if (ctx.signal.aborted) return { completed: false, reason: 'interrupted', actedOn };
  const failed = pods.filter((_, i) => !results[i]).map((p) => p.metadata?.name);
  if (failed.length) return { completed: false, reason: `could not evict ${failed.join(', ')} before the bound`, actedOn };
  const names = new Set(pods.map((p) => `${p.metadata?.namespace}/${p.metadata?.name}`));
  const gone = await pollUntil(ctx.clock, Math.max(0, deadline - ctx.clock.now()), ctx.signal, async () => {
    const left = (await ctx.k8s.listPodsOnNode(node)).filter((p) => names.has(`${p.metadata?.namespace}/${p.metadata?.name}`));
    return left.length === 0;
  });
  if (!gone) return { completed: false, reason: ctx.signal.aborted ? 'interrupted' : `evicted pods were still on ${node} at the bound`, actedOn };
  return { completed: true, detail: `evicted ${pods.length} pod(s) from ${node}`, actedOn };
}

/** Cordons a node, recording the change first; a node already cordoned (by someone else) stays as it is. */
export async function cordon(ctx: DisruptionContext, node: string): Promise<void> {
  if ((await ctx.k8s.getNode(node)).spec?.unschedulable) {
    ctx.timeline.add({ type: 'disruption', action: 'cordon', detail: `${node} (already cordoned; left so at the end)` });
    return;
  }
  await ctx.recordChange({ kind: 'cordon', node });
  await ctx.k8s.setNodeUnschedulable(node, true);
  ctx.timeline.add({ type: 'disruption', action: 'cordon', detail: node });
}

/** Drains one node. */
export const drain: DisruptionRunner<{ kind: 'drain'; node: string }> = {
  kind: 'drain',
  describe: (d) => `cordon the node (${d.node}) and evict its pods through the Eviction API (retry 429 every ${EVICTION_RETRY_SECONDS} s); uncordon when the cell ends`,
  async run(d, ctx) {
    const placed = await placement(ctx, d.node);
    if (!placed.ok) return { completed: false, reason: placed.reason };
    const node = placed.node;
    const deadline = ctx.clock.now() + ctx.boundMs;
    await cordon(ctx, node);
    const outcome = await evictAll(ctx, node, deadline, 'the drain');
    if (outcome.completed) ctx.timeline.add({ type: 'disruption', action: 'drained', detail: node });
    return outcome;
  },
};
