/** `rollout`: restart the Deployment (as `kubectl rollout restart`) and wait for completion. */
import type { KObject } from '../platform/ports.ts';
import type { ActedOn, DisruptionRunner } from './types.ts';
import { pollUntil, rolloutComplete } from './wait.ts';

/** The restart annotation kubectl sets. */
export const RESTARTED_AT = 'kubectl.kubernetes.io/restartedAt';
/** The label the Deployment controller puts on each pod: the hash of the template it was made from. */
export const POD_TEMPLATE_HASH = 'pod-template-hash';

const hashOf = (p: KObject) => p.metadata?.labels?.[POD_TEMPLATE_HASH];

/**
 * How many of the old pods the rollout replaced: gone, with as many pods of another template in
 * their place. A rollout undone half-way (`kubectl rollout undo`) ends complete on the old template
 * with none replaced, however many pods it restarted on the way.
 */
export function replacedPods(before: KObject[], after: KObject[], deployment: string): ActedOn {
  const oldHashes = new Set(before.map(hashOf));
  const running = new Set(after.map((p) => p.metadata?.uid));
  const gone = before.filter((p) => !running.has(p.metadata?.uid)).length;
  const stillOld = after.filter((p) => oldHashes.has(hashOf(p)));
  const pods = Math.min(gone, after.length - stillOld.length);
  const left = stillOld.length ? `: ${stillOld.map((p) => p.metadata?.name).join(', ')} still run${stillOld.length === 1 ? 's' : ''} the old template` : '';
  return { pods, needed: before.length, summary: `the rollout replaced ${pods} of ${before.length} old pod(s) of ${deployment}${pods < before.length ? left : ''}` };
}

/** Restarts the Deployment by annotating its pod template. */
export const rollout: DisruptionRunner<{ kind: 'rollout' }> = {
  kind: 'rollout',
  describe: (_d, { namespace, deployment }) => `restart deployment ${namespace}/${deployment} (annotation ${RESTARTED_AT}) and wait for the rollout to complete`,
  async run(_d, ctx) {
    const running = async () => (await ctx.k8s.listPods(ctx.namespace, ctx.labelSelector)).filter((p) => !p.metadata?.deletionTimestamp);
    const before = await running();
    const at = new Date(ctx.clock.now()).toISOString();
    await ctx.k8s.patchDeployment(ctx.namespace, ctx.deployment, { spec: { template: { metadata: { annotations: { [RESTARTED_AT]: at } } } } });
    ctx.timeline.add({ type: 'disruption', action: 'restart', detail: `${ctx.namespace}/${ctx.deployment}` });
    const done = await pollUntil(ctx.clock, ctx.boundMs, ctx.signal, async () => rolloutComplete(await ctx.k8s.getDeployment(ctx.namespace, ctx.deployment)));
    if (!done) return { completed: false, reason: ctx.signal.aborted ? 'interrupted' : `the rollout did not complete within ${ctx.boundMs / 1000} s` };
    ctx.timeline.add({ type: 'disruption', action: 'rollout-complete' });
    return { completed: true, detail: 'rollout complete', actedOn: replacedPods(before, await running(), ctx.deployment) };
  },
};
