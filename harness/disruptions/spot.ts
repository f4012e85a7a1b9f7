/**
 * `spot`: a simulated spot interruption, as aws-node-termination-handler handles the notice — taint
 * and cordon the node and evict its pods at once — and as EC2 ends it: TerminateInstances at the
 * deadline (`noticeSeconds` after the notice), whatever the drain achieved by then.
 */
import { instanceIdOf } from '../platform/ports.ts';
import { cordon, evictAll, placement, podsOf } from './drain.ts';
import type { DisruptionRunner } from './types.ts';

/** The taint aws-node-termination-handler puts on a node with a spot interruption notice. */
export const SPOT_TAINT = 'aws-node-termination-handler/spot-itn';

/** Interrupts one spot node. */
export const spot: DisruptionRunner<{ kind: 'spot'; node: string; noticeSeconds: number }> = {
  kind: 'spot',
  describe: (d) => `spot interruption of a node (${d.node}): taint ${SPOT_TAINT}, cordon and evict its pods at the notice, TerminateInstances ${d.noticeSeconds} s later`,
  async run(d, ctx) {
    const placed = await placement(ctx, d.node);
    if (!placed.ok) return { completed: false, reason: placed.reason };
    const node = placed.node;
    const instanceId = instanceIdOf((await ctx.k8s.getNode(node)).spec?.providerID);
    if (!instanceId) return { completed: false, reason: `node ${node} has no EC2 providerID` };
    const noticeAt = ctx.clock.now();
    const deadline = noticeAt + d.noticeSeconds * 1000;
    ctx.timeline.add({ type: 'disruption', action: 'spot-notice', detail: `${node} (${instanceId}), termination in ${d.noticeSeconds} s` });
    const tainted = ((await ctx.k8s.getNode(node)).spec?.taints ?? []).some((t: { key: string }) => t.key === SPOT_TAINT);
    if (!tainted) {
      await ctx.recordChange({ kind: 'taint', node, key: SPOT_TAINT });
      await ctx.k8s.setNodeTaint(node, SPOT_TAINT, { value: 'true', effect: 'NoSchedule' });
    }
    await cordon(ctx, node);
    const drained = await evictAll(ctx, node, deadline, 'the spot interruption');
    ctx.timeline.add({ type: 'disruption', action: drained.completed ? 'drained' : 'drain-incomplete', detail: drained.completed ? node : drained.reason });
    const wait = deadline - ctx.clock.now();
    if (wait > 0) await ctx.clock.sleep(wait, ctx.signal).catch(() => {});
    if (ctx.signal.aborted) return { completed: false, reason: 'interrupted', actedOn: drained.actedOn };
    // Pods of the Deployment the drain did not get off the node (a budget blocked them) end with the instance.
    const killed = (await ctx.k8s.listPods(ctx.namespace, ctx.labelSelector)).filter((p) => p.spec?.nodeName === node && !p.metadata?.deletionTimestamp).length;
    await ctx.ec2.terminateInstance(instanceId);
    ctx.timeline.add({ type: 'disruption', action: 'terminate-instance', detail: instanceId });
    const actedOn = killed ? { pods: drained.actedOn.pods + killed, needed: 1, summary: `${drained.actedOn.summary}; the termination of ${instanceId} ended ${podsOf(killed, ctx.deployment)}` } : drained.actedOn;
    return { completed: true, detail: `${instanceId} terminated ${d.noticeSeconds} s after the notice${drained.completed ? '' : ` (drain incomplete: ${drained.reason})`}`, actedOn };
  },
};
