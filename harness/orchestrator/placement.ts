/**
 * Before a drain or spot cell: the node it will disrupt must run pods of the Deployment, so that
 * every repetition starts from the same placement. After a spot cell the pods of the terminated
 * node run elsewhere and nothing brings them back to the replacement node; a rollout restart once
 * a candidate node is Ready lets the scheduler spread them again.
 */
import { isSpotNode, placement } from '../disruptions/drain.ts';
import { RESTARTED_AT } from '../disruptions/rollout.ts';
import { pollUntil, rolloutComplete } from '../disruptions/wait.ts';
import type { Disruption, Spec } from '../matrix/schema.ts';
import { instanceIdOf, type KObject } from '../platform/ports.ts';
import { isSchedulable } from './preconditions.ts';
import { waitSteady, type ConfigureOutcome } from './settings.ts';
import type { Target } from './target.ts';

const isReady = (n: KObject) => (n.status?.conditions ?? []).some((c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True');

/** False when the node's EC2 instance is not running (terminated, shutting down, gone); true without an instance or an answer. */
async function instanceRuns(t: Target, n: KObject): Promise<boolean> {
  const id = instanceIdOf(n.spec?.providerID);
  if (!id) return true;
  try {
    return (await t.ec2.describeInstance(id))?.state === 'running';
  } catch {
    return true;
  }
}

/** The nodes a choice can land on: the named node, the spot nodes, or any node for `most-pods`. */
function candidates(nodes: KObject[], choice: string): KObject[] {
  if (choice.startsWith('node:')) return nodes.filter((n) => n.metadata?.name === choice.slice(5));
  return choice === 'spot' ? nodes.filter(isSpotNode) : nodes;
}

/**
 * Makes sure a drain or spot cell's chosen node runs pods of the Deployment (the rule of
 * `placement`): when it does not, waits (bounded) for a Ready candidate node, restarts the
 * Deployment so the scheduler places pods there, and checks again. Not ok, with why, when no
 * candidate can take pods (cordoned, never Ready) or the pods still run elsewhere.
 */
export async function ensurePlacement(t: Target, disruption: Disruption, spec: Spec, signal: AbortSignal, log: (line: string) => void): Promise<ConfigureOutcome> {
  if (disruption.kind === 'rollout') return { ok: true, detail: 'a rollout acts on every pod' };
  const choice = disruption.node;
  const first = await placement(t, choice);
  if (first.ok) return { ok: true, detail: `${first.node} runs ${first.pods} pod(s) of ${t.deployment}` };
  const bound = spec.configure.steadyTimeoutSeconds * 1000;
  // Ready candidates whose instance runs: a terminated spot node reads Ready until the node
  // controller notices (40 s), and the cell's undo has uncordoned it.
  const live = async () => {
    const ready = candidates(await t.k8s.listNodes(), choice).filter(isReady);
    const running = await Promise.all(ready.map((n) => instanceRuns(t, n)));
    return ready.filter((_, i) => running[i]);
  };
  // A node group replaces a terminated spot node: wait (bounded) for a live candidate. A named node is not waited for.
  const named = choice.startsWith('node:');
  const waited = named || (await pollUntil(t.clock, bound, signal, async () => (await live()).length > 0));
  if (signal.aborted) return { ok: false, reason: 'interrupted' };
  const usable = (await live()).filter(isSchedulable);
  if (!usable.length) {
    const names = candidates(await t.k8s.listNodes(), choice).map((n) => n.metadata?.name);
    const why = !waited ? `no ${choice === 'spot' ? 'spot ' : ''}node was Ready within ${bound / 1000} s` : `${names.join(', ') || 'no such node'}: cordoned, tainted NoSchedule, not Ready or its instance gone`;
    return { ok: false, reason: `${first.reason}, and no pod can be placed there (${why})` };
  }
  await t.k8s.patchDeployment(t.namespace, t.deployment, { spec: { template: { metadata: { annotations: { [RESTARTED_AT]: new Date(t.clock.now()).toISOString() } } } } });
  log(`deployment ${t.namespace}/${t.deployment}: restarted so that the scheduler places pods on ${usable.map((n) => n.metadata?.name).join(', ')} (${first.reason})`);
  const rolled = await pollUntil(t.clock, bound, signal, async () => rolloutComplete(await t.k8s.getDeployment(t.namespace, t.deployment)));
  if (!rolled || !(await waitSteady(t, bound, signal))) return { ok: false, reason: signal.aborted ? 'interrupted' : `re-placing the pods: targets were not all healthy within ${bound / 1000} s` };
  const again = await placement(t, choice);
  if (again.ok) return { ok: true, detail: `re-placed: ${again.node} runs ${again.pods} pod(s) of ${t.deployment}` };
  const where = [...new Set((await t.k8s.listPods(t.namespace, t.labelSelector)).filter((p) => !p.metadata?.deletionTimestamp).map((p) => p.spec?.nodeName))].sort();
  return { ok: false, reason: `${again.reason} after re-placing the pods (they run on ${where.join(', ')})` };
}
