/**
 * `spot: { via: fis }`: a real spot interruption, sent by AWS FIS (`aws:ec2:send-spot-instance-interruptions`
 * on the chosen node's instance, stop condition `none`). The harness only creates the experiment
 * template (tagged with the run's marker, recorded first so that restore, `rollout-harness restore`
 * and `--resume` delete it), starts the experiment and follows it; the cluster's own handler
 * (NTH, Karpenter, a managed node group) does the rest. The cell's evidence is what happened to the
 * Deployment's pods on the node. FIS: a duration over 2 minutes sends a rebalance recommendation
 * first, the interruption notice 2 minutes before the end, then the instance is interrupted.
 * Source: https://docs.aws.amazon.com/fis/latest/userguide/fis-actions-reference.html#send-spot-instance-interruptions
 */
import { RUN_MARKER } from '../core/labels.ts';
import type { FisExperimentState, KObject } from '../platform/ports.ts';
import { podsOf } from './drain.ts';
import { targetNode } from './handlers/steps.ts';
import type { DisruptionContext, DisruptionRunner } from './types.ts';
import { pollUntil } from './wait.ts';

/** Model seconds between GetExperiment calls (FIS's state changes take seconds; its API is rate-limited). */
export const FIS_POLL_SECONDS = 5;

/** Experiment states after which nothing more happens. */
const ENDED = new Set(['completed', 'stopped', 'failed', 'cancelled']);

/** A `spot` disruption sent through FIS. */
export type FisSpotDisruption = { kind: 'spot'; node: string; durationBeforeInterruption?: number };

/** FIS's default durationBeforeInterruption, seconds (PT2M). */
const DEFAULT_DURATION_SECONDS = 120;

/** Seconds as an ISO 8601 duration, as FIS takes durationBeforeInterruption: 120 → PT2M, 150 → PT2M30S. */
export function isoDuration(seconds: number): string {
  const m = Math.floor(seconds / 60);
  const s = seconds % 60;
  return `PT${m ? `${m}M` : ''}${s || !m ? `${s}S` : ''}`;
}

/** The instance's ARN in the role's partition and account: FIS targets instances of the account whose role it assumes. */
export function instanceArnOf(roleArn: string, region: string, instanceId: string): string | undefined {
  const m = /^arn:([a-z-]+):iam::(\d{12}):role\//.exec(roleArn);
  return m ? `arn:${m[1]}:ec2:${region}:${m[2]}:instance/${instanceId}` : undefined;
}

const stateText = (s: FisExperimentState) => `${s.id} ${s.status}${s.reason ? `: ${s.reason}` : ''}`;

/** The Deployment's running pods on `node`, by uid. */
async function podsOn(ctx: DisruptionContext, node: string): Promise<Set<string>> {
  const pods = await ctx.k8s.listPods(ctx.namespace, ctx.labelSelector);
  return new Set(pods.filter((p: KObject) => p.spec?.nodeName === node && !p.metadata?.deletionTimestamp).map((p) => p.metadata?.uid ?? ''));
}

/** What the cluster's handler did that the harness has seen so far: the node's taints and cordon, and the nodes that joined. */
interface Seen {
  taints: Set<string>;
  cordoned: boolean;
  nodes: Set<string>;
}

const taintText = (t: { key: string; value?: string; effect: string }) => `${t.key}${t.value ? `=${t.value}` : ''}:${t.effect}`;

/**
 * Puts on the timeline what the cluster's own handler did since the last look (at each poll of the
 * experiment, so to within FIS_POLL_SECONDS): a taint or a cordon on the node, a node that joined
 * (a replacement). The pods' own events are on the timeline already.
 */
async function observeCluster(ctx: DisruptionContext, node: string, seen: Seen): Promise<void> {
  const nodes = await ctx.k8s.listNodes();
  const mine = nodes.find((n) => n.metadata?.name === node);
  for (const t of (mine?.spec?.taints ?? []) as Array<{ key: string; value?: string; effect: string }>) {
    const text = taintText(t);
    if (seen.taints.has(text)) continue;
    seen.taints.add(text);
    ctx.timeline.add({ type: 'disruption', action: 'taint', detail: `${node} ${text} (by the cluster's handler)` });
  }
  if (mine?.spec?.unschedulable && !seen.cordoned) {
    seen.cordoned = true;
    ctx.timeline.add({ type: 'disruption', action: 'cordon', detail: `${node} (by the cluster's handler)` });
  }
  for (const n of nodes) {
    const name = n.metadata?.name ?? '';
    if (seen.nodes.has(name)) continue;
    seen.nodes.add(name);
    ctx.timeline.add({ type: 'disruption', action: 'node-joined', detail: `${name} (a replacement: the cluster's handler or its node group)` });
  }
}

/** Interrupts the chosen spot node's instance through FIS and follows the experiment to its end. */
export const fisSpot: DisruptionRunner<FisSpotDisruption> = {
  kind: 'spot',
  describe: ({ node, durationBeforeInterruption = DEFAULT_DURATION_SECONDS }) =>
    `spot interruption of a node (${node}) through AWS FIS: an experiment template (aws:ec2:send-spot-instance-interruptions, durationBeforeInterruption ${isoDuration(durationBeforeInterruption)}, tagged ${RUN_MARKER}) started and followed until it ends; the cluster's own handler drains the node; the template is deleted when the cell ends`,
  async run(d, ctx) {
    const duration = d.durationBeforeInterruption ?? DEFAULT_DURATION_SECONDS;
    if (!ctx.fis) return { completed: false, reason: 'spot via fis: not connected to AWS FIS' };
    const roleArn = ctx.fis.roleArn;
    if (!roleArn) return { completed: false, reason: 'spot via fis: expected target.fisRoleArn (the role FIS assumes), got none' };
    if (!ctx.runId) return { completed: false, reason: 'spot via fis: expected the run id for the template marker tag, got none' };
    const chosen = await targetNode(ctx, d.node);
    if (!chosen.ok) return { completed: false, reason: chosen.reason };
    const { node, instanceId, onNode } = chosen.target;
    const instance = await ctx.ec2.describeInstance(instanceId);
    if (!instance) return { completed: false, reason: `node ${node}: EC2 does not know its instance ${instanceId}`, onNode };
    if (instance.lifecycle !== 'spot') return { completed: false, reason: `node ${node}: its instance ${instanceId} is ${instance.lifecycle}; FIS interrupts spot instances only`, onNode };
    const instanceArn = instanceArnOf(roleArn, ctx.fis.region, instanceId);
    if (!instanceArn) return { completed: false, reason: `spot via fis: expected target.fisRoleArn to be an IAM role ARN (arn:aws:iam::<account>:role/<name>), got ${roleArn}`, onNode };

    const deadline = ctx.clock.now() + ctx.boundMs;
    const before = await podsOn(ctx, node);
    const nodeNow = await ctx.k8s.getNode(node);
    const seen: Seen = {
      taints: new Set(((nodeNow.spec?.taints ?? []) as Array<{ key: string; value?: string; effect: string }>).map(taintText)),
      cordoned: Boolean(nodeNow.spec?.unschedulable),
      nodes: new Set((await ctx.k8s.listNodes()).map((n) => n.metadata?.name ?? '')),
    };
    const tags = { [RUN_MARKER]: ctx.runId };
    // Recorded before the create: a harness killed in between still leaves a record, and restore finds the template by its tag.
    await ctx.recordChange({ kind: 'fis-template', runId: ctx.runId });
    const token = `${ctx.runId}-${node}-${ctx.clock.now()}`;
    const templateId = await ctx.fis.port.createSpotInterruptionTemplate({
      instanceArn,
      durationBeforeInterruption: isoDuration(duration),
      roleArn,
      description: `rollout-harness run ${ctx.runId}: spot interruption of ${node} (${instanceId})`,
      tags,
      clientToken: `${token}-template`,
    });
    let state = await ctx.fis.port.startExperiment(templateId, `${token}-start`, tags);
    const experimentId = state.id;
    ctx.timeline.add({ type: 'disruption', action: 'fis-experiment', detail: `${stateText(state)} (template ${templateId}, ${node} ${instanceId}, interruption in ${duration} s)` });
    const ended = await pollUntil(
      ctx.clock,
      Math.max(0, deadline - ctx.clock.now()),
      ctx.signal,
      async () => {
        const now = await ctx.fis!.port.getExperiment(experimentId);
        if (now.status !== state.status) ctx.timeline.add({ type: 'disruption', action: 'fis-experiment', detail: stateText(now) });
        await observeCluster(ctx, node, seen);
        state = now;
        return ENDED.has(now.status);
      },
      FIS_POLL_SECONDS * 1000,
    );
    const summary = (gone: number) => ({ pods: gone, needed: 1, summary: `the FIS experiment ${experimentId} on ${node} ended ${podsOf(gone, ctx.deployment)}` });
    const goneNow = async () => {
      const left = await podsOn(ctx, node);
      return [...before].filter((uid) => !left.has(uid)).length;
    };
    if (!ended) return { completed: false, reason: ctx.signal.aborted ? 'interrupted' : `the FIS experiment ${experimentId} was still ${state.status} at the bound`, actedOn: summary(await goneNow()), onNode };
    if (state.status !== 'completed') return { completed: false, reason: `the FIS experiment ${experimentId} ended ${state.status}${state.reason ? `: ${state.reason}` : ''}`, actedOn: summary(await goneNow()), onNode };
    // The instance is interrupted: its pods go with it (or went before, drained by the cluster's handler).
    const allGone = await pollUntil(ctx.clock, Math.max(0, deadline - ctx.clock.now()), ctx.signal, async () => {
      await observeCluster(ctx, node, seen);
      return (await goneNow()) === before.size;
    });
    const actedOn = summary(await goneNow());
    if (!allGone) return { completed: false, reason: ctx.signal.aborted ? 'interrupted' : `pods of ${ctx.deployment} were still running on ${node} at the bound after the experiment completed`, actedOn, onNode };
    return { completed: true, detail: `FIS experiment ${experimentId} completed; ${actedOn.summary}`, actedOn, onNode };
  },
};
