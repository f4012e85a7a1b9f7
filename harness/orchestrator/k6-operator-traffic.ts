/**
 * The k6-operator traffic driver (here, beside the other code that speaks to the cluster; the pieces it builds on are in traffic/k6-operator): one TestRun per cell traffic, every runner's NDJSON read from its
 * pod's log as it is written, merged exactly (merge.ts). It creates the script's ConfigMap and the
 * TestRun (testrun.ts), follows `.status.stage` within a bound, follows each runner pod's log from
 * the moment it runs, and ends the traffic early (the cell's stop) by deleting the runner pods: k6
 * stops on SIGTERM as on SIGINT, and its requests in flight are cut, not failed. Whatever happens,
 * the TestRun (its runner Jobs and pods with it) and the ConfigMap are deleted before it returns.
 * A runner that failed, never started or whose log was lost makes the result incomplete with its
 * name and why; it is never "fewer requests".
 */
import type { Clock } from '../core/clock.ts';
import type { K6OperatorPort, KObject } from '../platform/ports.ts';
import { k6ExitCodes } from '../traffic/k6/driver.ts';
import { K6OutputAggregator, k6ScheduleOrigin } from '../traffic/k6/parse.ts';
import { operatorStripes, scaleInt } from '../traffic/k6/segments.ts';
import { dueUntil } from '../traffic/timing.ts';
import type { TrafficPlan, TrafficProgress } from '../traffic/types.ts';
import { mergeRunners, type MergedK6Result, type RunnerOutput } from '../traffic/k6-operator/merge.ts';
import { testRunObjects, type TestRunInput } from '../traffic/k6-operator/testrun.ts';

/** What the driver needs besides the plan: the TestRun's input, the cluster, a clock. */
export interface K6OperatorDeps extends TestRunInput {
  port: K6OperatorPort;
  /** A real-time clock (scale 1): polls and bounds. */
  clock: Clock;
  signal?: AbortSignal;
  /** Ends the traffic early as complete (the runners get SIGTERM). */
  stop?: AbortSignal;
  onProgress?: (progress: TrafficProgress) => void;
  /** Real ms the TestRun may take to reach `started` (initializer, images, scheduling). Default 300 000. */
  startBoundMs?: number;
  /** Poll period of `.status.stage`, real ms. Default 1 000. */
  pollMs?: number;
  log?: (line: string) => void;
}

/** The merged result, with the runners' k6 release. */
export type K6OperatorResult = MergedK6Result & { k6Version: string; testRun: string };

interface Runner {
  index: number;
  pod: string;
  aggregator: K6OutputAggregator;
  partial: string;
  stderr: string[];
  following: Promise<void>;
  /** Its log ended and how k6 ended is known. */
  ended: boolean;
  failed?: string;
}

/** Runs the plan on k6-operator; resolves with the runners' merged counts once every runner's log has ended and the TestRun is gone. */
export async function runK6OperatorTraffic(plan: TrafficPlan, deps: K6OperatorDeps): Promise<K6OperatorResult> {
  const { port, clock, namespace } = deps;
  const log = deps.log ?? (() => {});
  const { name, version, configMap, testRun } = testRunObjects(plan, { runId: deps.runId, cellId: deps.cellId, namespace, operator: deps.operator, script: deps.script, cell: deps.cell });
  const total = deps.operator.parallelism;
  const stripes = operatorStripes(total);
  const runnerPods = `app=k6,k6_cr=${name},runner=true`;
  const planned = Math.round(plan.rate * plan.durationSeconds);
  const runners = new Map<number, Runner>();
  const streams = new AbortController();
  let stoppedByUs = false;
  let problem: string | undefined;

  await port.createConfigMap(namespace, configMap as KObject);
  try {
    await port.createTestRun(namespace, testRun as KObject);
    const startBound = clock.now() + (deps.startBoundMs ?? 300_000);
    const endBound = () => startBound + (plan.durationSeconds + plan.timeoutSeconds + 60) * 1000;
    const progress = deps.onProgress ? clock.setInterval(() => deps.onProgress?.(sumProgress(runners)), 1000) : undefined;
    try {
      let started = false;
      for (;;) {
        if (deps.signal?.aborted) {
          problem = 'aborted';
          break;
        }
        const tr = await port.getTestRun(namespace, name);
        const stage = String(tr.status?.stage ?? '');
        const pods = await port.listPods(namespace, runnerPods);
        for (const pod of pods) follow(pod);
        if (['started', 'stopped', 'finished'].includes(stage)) started = true;
        // Every runner's k6 has ended (its log, then its pod, say so): nothing more will come, whatever
        // the stage says (a runner Job whose pod was deleted may be replaced by a pod that waits for a resume never sent).
        if (runners.size === total && [...runners.values()].every((r) => r.ended)) break;
        if (stage === 'finished') break;
        if (stage === 'error') {
          // Our own stop ends the runners with 105: their Jobs fail, and the operator says error.
          if (!stoppedByUs) problem = `the TestRun ${name} ended in stage error${conditionText(tr)}`;
          break;
        }
        if (!started && clock.now() > startBound) {
          problem = `the TestRun ${name} did not start within ${Math.round((deps.startBoundMs ?? 300_000) / 1000)} s (stage ${stage || 'none'})`;
          break;
        }
        if (clock.now() > endBound()) {
          problem = `the TestRun ${name} ran past its bound (stage ${stage})`;
          break;
        }
        if (deps.stop?.aborted && !stoppedByUs && runners.size) {
          stoppedByUs = true;
          log(`k6-operator: stopping the runners of ${name} (SIGTERM: requests in flight are cut)`);
          // All at once: a runner stopped later than the others sends more than its stripe's share.
          await Promise.all([...runners.values()].map((r) => port.deletePod(namespace, r.pod)));
        }
        await clock.sleep(deps.pollMs ?? 1000, deps.signal).catch(() => {});
      }
      // Every followed log to its end (bounded): the counts are complete only then.
      const drained = await Promise.race([Promise.all([...runners.values()].map((r) => r.following)).then(() => true), clock.sleep(30_000).then(() => false)]);
      if (!drained) problem ??= 'a runner log did not end within 30 s of the TestRun';
    } finally {
      progress?.cancel();
      streams.abort();
    }
  } finally {
    await port.deleteTestRun(namespace, name).catch((e: unknown) => log(`k6-operator: deleting the TestRun ${name} failed: ${(e as Error).message}`));
    await port.deleteConfigMap(namespace, name).catch((e: unknown) => log(`k6-operator: deleting the ConfigMap ${name} failed: ${(e as Error).message}`));
  }

  const outputs: RunnerOutput[] = [];
  for (let index = 1; index <= total; index++) {
    const r = runners.get(index);
    const stripe = stripes[index - 1];
    if (!r) {
      outputs.push({ name: `${name}-${index}`, stripe, aggregate: new K6OutputAggregator().result(), failed: problem ? `never ran (${problem})` : 'never ran' });
      continue;
    }
    r.aggregator.end();
    outputs.push({ name: r.pod, stripe, aggregate: r.aggregator.result(), ...(r.failed ? { failed: r.failed } : {}) });
  }
  // Ended early on purpose: each runner was due its stripe's iterations from the scenario's start
  // until its own stop (its last Point; the runners get SIGTERM together, each a little apart), as one k6 is until its stop.
  const origins = outputs.map((o) => k6ScheduleOrigin(o.aggregate)).filter((o): o is number => o !== undefined);
  const origin = origins.length ? Math.min(...origins) : undefined;
  const byStop = stoppedByUs && origin !== undefined && outputs.every((o) => !o.failed) ? outputs.map((o) => ({ ...o, planned: scaleInt(o.stripe, dueUntil(origin, o.aggregate.endedAt ?? origin, plan.rate, planned)) })) : outputs;
  const merged = mergeRunners(byStop, { planned, now: clock.now() });
  return { ...merged, ...(problem && !stoppedByUs ? { incomplete: [merged.incomplete, problem].filter(Boolean).join('; ') } : {}), k6Version: version.text, testRun: name };

  function follow(pod: KObject): void {
    const podName = String(pod.metadata?.name ?? '');
    const jobName = String(pod.metadata?.labels?.['job-name'] ?? pod.metadata?.labels?.['batch.kubernetes.io/job-name'] ?? '');
    const index = Number(jobName.slice(name.length + 1));
    const phase = String(pod.status?.phase ?? '');
    if (!Number.isInteger(index) || index < 1 || index > total || runners.has(index) || !['Running', 'Succeeded', 'Failed'].includes(phase)) return;
    const r: Runner = { index, pod: podName, aggregator: new K6OutputAggregator(), partial: '', stderr: [], following: Promise.resolve(), ended: false };
    runners.set(index, r);
    // A pod's log holds k6's stdout (the NDJSON) and stderr (its log lines) together: JSON lines to the parser, the rest kept for messages.
    const onText = (text: string) => {
      const lines = (r.partial + text).split('\n');
      r.partial = lines.pop() ?? '';
      for (const line of lines) route(r, line);
    };
    r.following = port
      .followPodLog(namespace, podName, 'k6', onText, streams.signal)
      .then(
        () => {
          if (r.partial) route(r, r.partial);
          r.partial = '';
        },
        (e: unknown) => {
          if (!stoppedByUs) r.failed = `its log could not be read: ${(e as Error).message}`;
        },
      )
      .then(async () => {
        if (r.failed || stoppedByUs) return;
        // The log ended: k6 exited. How, the pod's status says (the kubelet writes it just after; bounded wait).
        for (let attempt = 0; attempt < 25 && !stoppedByUs; attempt++) {
          const now = (await port.listPods(namespace, runnerPods).catch(() => undefined))?.find((p) => p.metadata?.name === podName);
          if (!now) {
            r.failed = 'its pod was deleted before k6 finished';
            return;
          }
          const exit = now.status?.containerStatuses?.[0]?.state?.terminated?.exitCode as number | undefined;
          if (exit !== undefined) {
            if (exit !== 0) r.failed = `k6 exited ${exit} (${k6ExitCodes[exit]?.name ?? 'killed or unknown'})${r.stderr.length ? `: ${r.stderr.slice(-3).join(' | ')}` : ''}`;
            return;
          }
          await clock.sleep(200);
        }
        if (!stoppedByUs) r.failed = 'its log ended but its pod never showed k6 exiting';
      })
      .finally(() => {
        r.ended = true;
      });
  }
}

function route(r: Runner, line: string): void {
  if (line.startsWith('{')) r.aggregator.line(line);
  else if (line.trim()) {
    r.stderr.push(line.slice(0, 300));
    if (r.stderr.length > 20) r.stderr.shift();
  }
}

function sumProgress(runners: Map<number, Runner>): TrafficProgress {
  const p = { sent: 0, fiveXX: 0, networkErrors: 0 };
  for (const r of runners.values()) {
    const q = r.aggregator.progress;
    p.sent += q.sent;
    p.fiveXX += q.fiveXX;
    p.networkErrors += q.networkErrors;
  }
  return p;
}

function conditionText(tr: KObject): string {
  const messages = ((tr.status?.conditions ?? []) as Array<{ message?: string }>).map((c) => c.message).filter(Boolean);
  return messages.length ? `: ${messages.join('; ')}` : '';
}
