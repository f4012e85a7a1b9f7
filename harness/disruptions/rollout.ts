/** `rollout`: restart the Deployment (as `kubectl rollout restart`) and wait for completion. */
import type { DisruptionRunner } from './types.ts';
import { pollUntil, rolloutComplete } from './wait.ts';

/** The restart annotation kubectl sets. */
export const RESTARTED_AT = 'kubectl.kubernetes.io/restartedAt';

/** Restarts the Deployment by annotating its pod template. */
export const rollout: DisruptionRunner<{ kind: 'rollout' }> = {
  kind: 'rollout',
  describe: (_d, { namespace, deployment }) => `restart deployment ${namespace}/${deployment} (annotation ${RESTARTED_AT}) and wait for the rollout to complete`,
  async run(_d, ctx) {
    const at = new Date(ctx.clock.now()).toISOString();
    await ctx.k8s.patchDeployment(ctx.namespace, ctx.deployment, { spec: { template: { metadata: { annotations: { [RESTARTED_AT]: at } } } } });
    ctx.timeline.add({ type: 'disruption', action: 'restart', detail: `${ctx.namespace}/${ctx.deployment}` });
    const done = await pollUntil(ctx.clock, ctx.boundMs, ctx.signal, async () => rolloutComplete(await ctx.k8s.getDeployment(ctx.namespace, ctx.deployment)));
    if (!done) return { completed: false, reason: ctx.signal.aborted ? 'interrupted' : `the rollout did not complete within ${ctx.boundMs / 1000} s` };
    ctx.timeline.add({ type: 'disruption', action: 'rollout-complete' });
    return { completed: true, detail: 'rollout complete' };
  },
};
