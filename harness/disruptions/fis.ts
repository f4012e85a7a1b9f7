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
import { instanceIdOf, type FisExperimentState, type KObject } from '../platform/ports.ts';
import { placement, podsOf } from './drain.ts';
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
    const placed = await placement(ctx, d.node);
    if (!placed.ok) return { completed: false, reason: placed.reason };
    const node = placed.node;
    const instanceId = instanceIdOf((await ctx.k8s.getNode(node)).spec?.providerID);
    if (!instanceId) return { completed: false, reason: `node ${node} has no EC2 providerID` };
    const instance = await ctx.ec2.describeInstance(instanceId);
    if (!instance) return { completed: false, reason: `node ${node}: EC2 does not know its instance ${instanceId}` };
    if (instance.lifecycle !== 'spot') return { completed: false, reason: `node ${node}: its instance ${instanceId} is ${instance.lifecycle}; FIS interrupts spot instances only` };
    const instanceArn = instanceArnOf(roleArn, ctx.fis.region, instanceId);
    if (!instanceArn) return { completed: false, reason: `spot via fis: expected target.fisRoleArn to be an IAM role ARN (arn:aws:iam::<account>:role/<name>), got ${roleArn}` };

    const deadline = ctx.clock.now() + ctx.boundMs;
    const before = await podsOn(ctx, node);
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
    if (!ended) return { completed: false, reason: ctx.signal.aborted ? 'interrupted' : `the FIS experiment ${experimentId} was still ${state.status} at the bound`, actedOn: summary(await goneNow()) };
    if (state.status !== 'completed') return { completed: false, reason: `the FIS experiment ${experimentId} ended ${state.status}${state.reason ? `: ${state.reason}` : ''}`, actedOn: summary(await goneNow()) };
    // The instance is interrupted: its pods go with it (or went before, drained by the cluster's handler).
    const allGone = await pollUntil(ctx.clock, Math.max(0, deadline - ctx.clock.now()), ctx.signal, async () => (await goneNow()) === before.size);
    const actedOn = summary(await goneNow());
    if (!allGone) return { completed: false, reason: ctx.signal.aborted ? 'interrupted' : `pods of ${ctx.deployment} were still running on ${node} at the bound after the experiment completed`, actedOn };
    return { completed: true, detail: `FIS experiment ${experimentId} completed; ${actedOn.summary}`, actedOn };
  },
};
