/**
 * `spot`: a simulated spot interruption, as aws-node-termination-handler handles the notice — taint
 * and cordon the node and evict its pods at once — and as EC2 ends it: TerminateInstances at the
 * deadline (`noticeSeconds` after the notice), whatever the drain achieved by then.
 */
import { instanceIdOf } from '../platform/ports.ts';
import { chooseNode, cordon, evictAll } from './drain.ts';
import type { DisruptionRunner } from './types.ts';

/** The taint aws-node-termination-handler puts on a node with a spot interruption notice. */
export const SPOT_TAINT = 'aws-node-termination-handler/spot-itn';

/** Interrupts one spot node. */
export const spot: DisruptionRunner<{ kind: 'spot'; node: string; noticeSeconds: number }> = {
  kind: 'spot',
  describe: (d) => `spot interruption of a node (${d.node}): taint ${SPOT_TAINT}, cordon and evict its pods at the notice, TerminateInstances ${d.noticeSeconds} s later`,
  async run(d, ctx) {
    const node = await chooseNode(ctx, d.node);
    if (!node) return { completed: false, reason: `no node matches "${d.node}"` };
    const onNode = (await ctx.k8s.listPods(ctx.namespace, ctx.labelSelector)).filter((p) => p.spec?.nodeName === node && !p.metadata?.deletionTimestamp);
    if (!onNode.length) return { completed: false, reason: `no pod of ${ctx.deployment} runs on the chosen node ${node}` };
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
    const drained = await evictAll(ctx, node, deadline);
    ctx.timeline.add({ type: 'disruption', action: drained.completed ? 'drained' : 'drain-incomplete', detail: drained.completed ? node : drained.reason });
    const wait = deadline - ctx.clock.now();
    if (wait > 0) await ctx.clock.sleep(wait, ctx.signal).catch(() => {});
    if (ctx.signal.aborted) return { completed: false, reason: 'interrupted' };
    await ctx.ec2.terminateInstance(instanceId);
    ctx.timeline.add({ type: 'disruption', action: 'terminate-instance', detail: instanceId });
    return { completed: true, detail: `${instanceId} terminated ${d.noticeSeconds} s after the notice${drained.completed ? '' : ` (drain incomplete: ${drained.reason})`}` };
  },
};
