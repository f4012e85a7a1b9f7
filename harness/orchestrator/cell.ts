/**
 * One cell as a stage machine: configure → steady → traffic → warm-up → disrupt → settle →
 * cool-down → stop traffic → collect → verdict. The current stage is reported through `onStage`
 * (and checkpointed by the run); a cell interrupted mid-way is run again from the start on resume,
 * because its traffic cannot be resumed.
 */
import { readFileSync } from 'node:fs';
import { scaledClock } from '../core/clock.ts';
import { runDisruption } from '../disruptions/index.ts';
import type { ClusterChange, DisruptionOutcome } from '../disruptions/types.ts';
import { watchedPods } from './topology.ts';
import { observe, Timeline } from '../observe/timeline.ts';
import type { CellResult } from '../report/types.ts';
import { RESULTS_SCHEMA_VERSION } from '../report/types.ts';
import type { Cell } from '../matrix/expand.ts';
import type { Spec } from '../matrix/schema.ts';
import { trafficDrivers, type DriverName } from '../traffic/index.ts';
import { defaultK6Script } from '../traffic/k6/args.ts';
import { k6OperatorOf } from '../matrix/schema.ts';
import { runK6OperatorTraffic, type K6OperatorResult } from './k6-operator-traffic.ts';
import { EnvironmentError } from '../core/errors.ts';
import { trafficCellId, userAgentFor } from '../traffic/user-agent.ts';
import { packageVersion } from '../core/paths.ts';
import { bucketMsFor, latencyIn, rateBuckets, scheduleOf } from '../traffic/timing.ts';
import type { TrafficPlan, TrafficProgress, TrafficResult } from '../traffic/types.ts';
import { ensurePlacement } from './placement.ts';
import { configureCell, waitSteady, type OriginalSettings } from './settings.ts';
import type { Target } from './target.ts';
import { baselineBefore, MIN_BASELINE_2XX, verdictReasons, type Baseline } from './verdict.ts';

/** The Host header and TLS of the target's traffic address (a listener rule's host, the twin's CA, `traffic.insecureSkipTLSVerify`). */
export function routeOf(target: Pick<Target, 'url' | 'hostHeader' | 'servername' | 'caFile'>, spec: Spec): Pick<TrafficPlan, 'hostHeader' | 'tls'> {
  const https = target.url.startsWith('https:');
  const tls = { ...(target.servername ? { servername: target.servername } : {}), ...(target.caFile ? { caFile: target.caFile } : {}), ...(spec.traffic.insecureSkipTLSVerify ? { insecureSkipVerify: true } : {}) };
  return { ...(target.hostHeader ? { hostHeader: target.hostHeader } : {}), ...(https && Object.keys(tls).length ? { tls } : {}) };
}

/** Stages, in order. */
export const STAGES = ['configure', 'traffic', 'warmup', 'disrupt', 'settle', 'cooldown', 'collect', 'done'] as const;
/** A stage name. */
export type Stage = (typeof STAGES)[number];

/** Failed requests kept per cell file (counts stay exact). */
const MAX_FAILURES_KEPT = 500;

/** What a cell needs besides the target. */
export interface CellDeps {
  target: Target;
  spec: Spec;
  /** The run's recorded originals: a generic axis sets original-then-its-value (harness/settings/generic.ts). */
  original?: OriginalSettings;
  driver: DriverName;
  signal: AbortSignal;
  onStage(stage: Stage): void;
  onTraffic(progress: TrafficProgress): void;
  /** Records a cluster change to undo at restore; awaited before the change is made. */
  recordChange(change: ClusterChange): Promise<void>;
  /** Undoes this cell's cordons and taints (so the next cell starts from the same cluster). */
  undoChanges(): Promise<void>;
  log(line: string): void;
  env?: Record<string, string | undefined>;
  /** The run's id: with the cell's id it goes into every request's User-Agent. */
  runId?: string;
}

function sum(values: Record<string, number>): number {
  return Object.values(values).reduce((a, b) => a + b, 0);
}

/** The 5xx of counts by status. */
function fiveXXOf(byStatus: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(byStatus).filter(([s]) => Number(s) >= 500));
}

/**
 * A cell that failed because its environment did (the target died, an API kept failing): carries
 * the half-measured cell as an INVALID result, so the run can keep it before it stops.
 */
export class CellFailedError extends Error {
  constructor(
    readonly result: CellResult,
    cause: unknown,
  ) {
    super((cause as Error)?.message ?? String(cause), { cause });
  }
}

/** Runs one cell and returns its result (invalid cells are results too). */
export async function runCell(cell: Cell, deps: CellDeps): Promise<CellResult> {
  const { target, spec, signal } = deps;
  const clock = target.clock;
  const realClock = scaledClock(1);
  const timeline = new Timeline(clock);
  const realOrigin = realClock.now();
  const startedAt = new Date(realOrigin).toISOString();
  const marks: CellResult['marks'] = {};
  const stage = (s: Stage) => {
    timeline.add({ type: 'stage', stage: s });
    deps.onStage(s);
  };
  const base = {
    schemaVersion: RESULTS_SCHEMA_VERSION,
    id: cell.id,
    index: cell.index,
    disruption: cell.disruption,
    repeat: cell.repeat,
    config: cell.config,
    ...(target.registered ? { behindGateway: { namespace: target.registered.namespace, deployment: target.registered.deployment } } : {}),
    driver: deps.driver,
    startedAt,
    // The model time of t = 0: access-log times go onto the timeline with it (harness/explain/).
    modelOrigin: timeline.origin,
  };
  const invalid = (reason: string, extra: Partial<CellResult> = {}): CellResult => ({
    ...base,
    valid: false,
    invalidReason: reason,
    requests: { planned: 0, sent: 0, byStatus: {}, networkErrors: 0, networkErrorsByCode: {}, cutAtStop: { count: 0, t: [] }, achieved: 0 },
    fiveXX: 0,
    disruptionOutcome: { completed: false, reason: 'not started' },
    settled: false,
    marks,
    series: [],
    timeline: timeline.events,
    failures: [],
    durationSeconds: timeline.now(),
    realDurationSeconds: (realClock.now() - realOrigin) / 1000,
    ...extra,
  });

  // The readiness gate holds a pod until it is a healthy target: behind a gateway the targets are the
  // gateway's pods, not the app's this cell disrupts, so the gate would have nothing to act on.
  if (cell.config.readinessGate && target.registered) {
    return invalid(`not tested: the readiness gate acts on the ALB's targets, which are the gateway's pods (${target.registered.namespace}/${target.registered.deployment}), not those of ${target.namespace}/${target.deployment} that this cell disrupts; gate the gateway with target.topology.gateway.disrupt: gateway`);
  }
  stage('configure');
  let configured;
  try {
    configured = await configureCell(target, spec, cell.config, signal, deps.log, deps.original);
    // A drain or spot cell starts with pods on the node it disrupts, as every repetition of it does.
    if (configured.ok) configured = await ensurePlacement(target, cell.disruption, spec, signal, deps.log);
  } catch (error) {
    if (signal.aborted) return invalid('configure: interrupted');
    throw new CellFailedError(invalid(`configure failed: ${(error as Error).message}`), error);
  }
  if (!configured.ok) return invalid(`configure: ${configured.reason}`);

  // Behind a gateway both Deployments' pods are watched, the gateway's marked as such: explaining needs both.
  const { app, gateway } = watchedPods(target);
  const observer = observe({ k8s: target.k8s, elbv2: target.elbv2, targetGroupArn: target.targetGroupArn, ...app, clock, timeline, ...(gateway ? { gateway } : {}) });
  await observer.ready;
  let stopTraffic = new AbortController();
  const abortTraffic = new AbortController();
  const onAbort = () => abortTraffic.abort();
  signal.addEventListener('abort', onAbort, { once: true });
  const bound = spec.settleTimeoutSeconds * 1000;
  // The traffic's duration is only an upper bound: the cell stops it once cooled down.
  const maxRealSeconds = clock.toRealMs(((spec.traffic.warmupSeconds + spec.traffic.cooldownSeconds) * 1000 + 2 * bound)) / 1000 + 60;
  let traffic: Promise<TrafficResult> | undefined;
  let outcome: DisruptionOutcome = { completed: false, reason: 'not started' };
  let isSettled = false;
  let disruptedAtReal: number | undefined;
  // The disruption window's end (real): settled, else the traffic's stop.
  let windowEndReal: number | undefined;
  // driver: k6-operator's settings, defaults filled in.
  const operator = deps.driver === 'k6-operator' ? k6OperatorOf(spec.traffic) : undefined;
  // A driver that dies early (killed, crashed) must not leave the cell waiting: note it and carry on.
  let trafficEnded: string | undefined;
  // When the cell stopped the traffic (model ms).
  let stoppedAtModel: number | undefined;
  // Warm-ups abandoned before the disruption (their traffic stopped): recorded, counted nowhere else.
  const abandoned: NonNullable<CellResult['warmupsAbandoned']> = [];
  try {
    for (let attempt = 1; ; attempt++) {
      stage('traffic');
      marks.trafficStart = timeline.now();
      timeline.add({ type: 'traffic', action: 'start', detail: `${spec.traffic.rate} req/s with ${deps.driver}` });
      trafficEnded = undefined;
      const stopThis = new AbortController();
      stopTraffic = stopThis;
      let latest: TrafficProgress = { sent: 0, fiveXX: 0, networkErrors: 0 };
      const plan: TrafficPlan = { url: target.url, rate: spec.traffic.rate, durationSeconds: maxRealSeconds, timeoutSeconds: spec.traffic.timeoutSeconds, mix: spec.traffic.mix, ...(deps.runId ? { userAgent: userAgentFor(packageVersion, deps.runId, trafficCellId(cell.id, attempt)) } : {}), ...routeOf(target, spec) };
      const onProgress = (p: TrafficProgress) => {
        latest = p;
        deps.onTraffic(p);
      };
      const started: Promise<TrafficResult> =
        deps.driver === 'k6-operator'
          ? startOperatorTraffic(plan, trafficCellId(cell.id, attempt), stopThis.signal, onProgress)
          : trafficDrivers[deps.driver].run(plan, { clock: realClock, signal: abortTraffic.signal, stop: stopThis.signal, onProgress, env: deps.env, script: spec.traffic.script, cell: cell.id });
      traffic = started;
      started.then(
        (r) => traffic === started && (trafficEnded = r.incomplete ?? (stopThis.signal.aborted ? undefined : 'traffic ended before the cell stopped it')),
        (e) => traffic === started && (trafficEnded = `traffic failed: ${(e as Error).message}`),
      );

      if (operator) {
        // A TestRun's runners start after their pods do (initializer, images, scheduling): the
        // warm-up is timed from the first request, within traffic.k6Operator.startSeconds.
        const until = realClock.now() + operator.startSeconds * 1000;
        while (latest.sent === 0 && !trafficEnded && !signal.aborted && realClock.now() < until) await realClock.sleep(200, signal).catch(() => {});
      }
      stage('warmup');
      // The warm-up's second half is the baseline (verdict.ts): watched live, from the driver's counts.
      const halfMs = spec.traffic.warmupSeconds * 500;
      await clock.sleep(halfMs, signal).catch(() => {});
      // A copy: a driver may hand over the same object each time.
      const mid = { ...latest };
      await clock.sleep(spec.traffic.warmupSeconds * 1000 - halfMs, signal).catch(() => {});
      const sent = latest.sent - mid.sent;
      const failed = latest.fiveXX - mid.fiveXX + (latest.networkErrors - mid.networkErrors);
      // Only counts that show a failing baseline restart it (a driver that reports once a second, k6,
      // may show none in a short warm-up on a fast twin): the verdict judges the exact baseline.
      const failing = sent > 0 && failed > Math.max(1, Math.floor(sent * (1 - MIN_BASELINE_2XX)));
      if (signal.aborted || trafficEnded || !failing || attempt >= spec.traffic.warmupAttempts) break;
      // Nothing is disrupted yet: a failing warm-up is the data plane still converging (configure's
      // rollout, the ALB nodes' deregistration lag), not the cell's. Stop that traffic, keep its
      // counts apart, and warm up again with fresh traffic, so the cell counts only its own.
      stopThis.abort();
      const r = await started;
      abandoned.push({ sent: r.sent, fiveXX: sum(fiveXXOf(r.byStatus)), networkErrors: sum(r.networkErrors), t: timeline.now() });
      const why = `warm-up ${attempt} of at most ${spec.traffic.warmupAttempts} abandoned before any disruption: ${failed} of the ${sent} requests of its second half failed (5xx or no status); warming up again with fresh traffic`;
      timeline.add({ type: 'note', detail: why });
      deps.log(`${cell.id}: ${why}`);
    }

    if (!signal.aborted) {
      stage('disrupt');
      marks.disruptionStart = timeline.now();
      disruptedAtReal = realClock.now();
      outcome = await runDisruption(cell.disruption, {
        k8s: target.k8s,
        ec2: target.ec2,
        ...(target.fis ? { fis: target.fis } : {}),
        ...(deps.runId ? { runId: deps.runId } : {}),
        capacity: target.capacity,
        clock,
        timeline,
        namespace: target.namespace,
        deployment: target.deployment,
        labelSelector: target.labelSelector,
        boundMs: bound,
        signal,
        recordChange: deps.recordChange,
      });
    }
    if (!signal.aborted && outcome.completed) {
      stage('settle');
      isSettled = await waitSteady(target, bound, signal);
      if (isSettled) {
        windowEndReal = realClock.now();
        marks.settled = timeline.now();
        timeline.add({ type: 'note', detail: 'settled: rollout complete, no terminating pods, every target healthy' });
      }
    }
    if (!signal.aborted) {
      stage('cooldown');
      await clock.sleep(spec.traffic.cooldownSeconds * 1000, signal).catch(() => {});
    }
    windowEndReal ??= realClock.now();
    // Counts end here: what is in flight now is cut, so the twin's stalls after this moment (closing
    // the driver's connections is one) cannot change them.
    stoppedAtModel = clock.now();
    stopTraffic.abort();
    const result = await traffic;
    marks.trafficStop = timeline.now();
    await deps.undoChanges();
    timeline.add({ type: 'traffic', action: 'stop', detail: `${result.sent} sent` });
    stage('collect');
    const measured = collect(result);
    stage('done');
    return measured;
  } catch (error) {
    abortTraffic.abort();
    const result = await traffic?.catch(() => undefined);
    if (signal.aborted) throw error;
    // The environment failed mid-cell: keep what was measured, as INVALID with why.
    const why = `the cell failed at stage ${timeline.events.filter((e) => e.type === 'stage').at(-1)?.stage ?? 'configure'}: ${(error as Error).message}`;
    const partial = result ? collect(result, why) : invalid(why);
    throw new CellFailedError(partial, error);
  } finally {
    signal.removeEventListener('abort', onAbort);
    stopTraffic.abort();
    await observer.stop();
  }

  /** The cell's traffic as a TestRun on k6-operator, recorded for restore before it is created. */
  async function startOperatorTraffic(plan: TrafficPlan, trafficId: string, stop: AbortSignal, onProgress: (p: TrafficProgress) => void): Promise<TrafficResult> {
    const port = target.k6Operator;
    if (!port || !operator) throw new EnvironmentError('Expected a cluster connection for driver: k6-operator (the TestRun is created in the cluster), got none');
    const namespace = operator.namespace ?? target.namespace;
    const runId = deps.runId ?? 'run';
    await deps.recordChange({ kind: 'k6-testrun', runId, namespace });
    return runK6OperatorTraffic(plan, {
      port,
      clock: realClock,
      runId,
      cellId: trafficId,
      namespace,
      operator,
      script: readFileSync(spec.traffic.script ?? defaultK6Script, 'utf8'),
      cell: cell.id,
      signal: abortTraffic.signal,
      stop,
      onProgress,
      startBoundMs: operator.startSeconds * 1000,
      log: deps.log,
    });
  }

  /** Latency of the window and the baseline, the schedule check of the window, rate and latency over time. */
  function timingOf(result: TrafficResult, toModel: (realMs: number) => number): Pick<CellResult, 'latency' | 'schedule' | 'rates'> {
    const timings = result.timings;
    if (!timings) return {};
    const out: Pick<CellResult, 'latency' | 'schedule' | 'rates'> = {};
    if (disruptedAtReal !== undefined) {
      const windowEnd = Math.max(disruptedAtReal, windowEndReal ?? result.endedAt);
      // The baseline's window is the one the verdict's baseline counts: the warm-up's second half.
      const baselineFrom = result.startedAt + (disruptedAtReal - result.startedAt) / 2;
      const window = latencyIn(timings, disruptedAtReal, windowEnd);
      const before = latencyIn(timings, baselineFrom, disruptedAtReal);
      out.latency = { ...(window ? { window } : {}), ...(before ? { baseline: before } : {}) };
      const check = scheduleOf(result, spec.traffic.rate, disruptedAtReal, windowEnd);
      if (check) {
        const origin = result.scheduleOrigin ?? result.startedAt;
        out.schedule = {
          seconds: check.seconds,
          behindSeconds: check.behind.length,
          behind: check.behind.slice(0, 100).map((b) => ({ t: toModel(origin + b.second * 1000), due: b.due, onTime: b.onTime })),
          maxLateSeconds: Math.max(0, check.maxLateMs) / 1000,
        };
      }
    }
    const bucketMs = bucketMsFor(result.endedAt - result.startedAt, spec.traffic.rate);
    out.rates = {
      bucketSeconds: bucketMs / 1000,
      points: rateBuckets(timings, result.startedAt, bucketMs).map(({ at, ...rest }) => ({ t: toModel(at), ...rest })),
    };
    return out;
  }

  /** The cell's result from the traffic's counts and what happened, with the verdict. */
  function collect(result: TrafficResult, failure?: string): CellResult {
    const fiveXXByCode = fiveXXOf(result.byStatus);
    const fiveXX = sum(fiveXXByCode);
    const networkErrors = sum(result.networkErrors);
    const twoXX = sum(Object.fromEntries(Object.entries(result.byStatus).filter(([s]) => s.startsWith('2'))));
    // Requests cut at the stop were neither answered nor missed: out of both sides of the share.
    const cut = result.cutAtStop.count;
    const achieved = result.planned - cut > 0 ? (result.sent - cut) / (result.planned - cut) : 0;
    const toModel = (realMs: number) => Math.round(clock.toModelMs(realMs - realOrigin)) / 1000;
    const baseline: Baseline | undefined = disruptedAtReal === undefined ? undefined : baselineBefore(result, spec.traffic.rate, disruptedAtReal);
    const timing = timingOf(result, toModel);
    // From the disruption to the traffic's stop is what the cell counts (as for the driver's schedule): the warm-up has its own baseline check.
    const stalls = disruptedAtReal === undefined ? [] : (target.twinStalls?.(timeline.origin + (marks.disruptionStart ?? 0) * 1000, stoppedAtModel ?? clock.now()) ?? []);
    const longest = stalls.reduce<{ at: number; modelMs: number } | undefined>((a, b) => (!a || b.modelMs > a.modelMs ? b : a), undefined);
    const twinStall = longest && { seconds: longest.modelMs / 1000, t: Math.round(longest.at - longest.modelMs - timeline.origin) / 1000 };
    const reasons = verdictReasons({
      interrupted: signal.aborted,
      trafficProblem: result.incomplete ? `traffic incomplete: ${result.incomplete}` : trafficEnded,
      planned: result.planned,
      sent: result.sent,
      cutAtStop: cut,
      answeredByStatus: sum(result.byStatus),
      twoXX,
      fiveXX,
      networkErrors,
      baseline,
      warmupsAbandoned: abandoned.length,
      disruption: outcome,
      settled: isSettled,
      settleTimeoutSeconds: spec.settleTimeoutSeconds,
      behindSeconds: timing.schedule?.behindSeconds,
      ...(twinStall ? { twinStall } : {}),
    });
    if (failure) reasons.unshift(failure);
    const operated = (result as Partial<K6OperatorResult>).driver === 'k6-operator' ? (result as K6OperatorResult) : undefined;
    return {
      ...base,
      ...(operated ? { driver: { name: 'k6-operator' as const, version: operated.k6Version, testRun: operated.testRun, runners: operated.runners } } : {}),
      valid: reasons.length === 0,
      ...(reasons.length ? { invalidReason: reasons.join('; ') } : {}),
      requests: { planned: result.planned, sent: result.sent, byStatus: result.byStatus, networkErrors, networkErrorsByCode: result.networkErrors, cutAtStop: { count: cut, t: result.cutAtStop.sentAt.slice(0, MAX_FAILURES_KEPT).map((at) => toModel(at)) }, achieved: Math.round(achieved * 10000) / 10000 },
      fiveXX,
      disruptionOutcome: {
        ...(outcome.completed ? { completed: true, detail: outcome.detail, actedOn: outcome.actedOn } : { completed: false, reason: outcome.reason, ...(outcome.actedOn ? { actedOn: outcome.actedOn } : {}) }),
        ...(outcome.onNode ? { onNode: outcome.onNode } : {}),
      },
      settled: isSettled,
      marks,
      ...(baseline ? { baseline } : {}),
      ...(abandoned.length ? { warmupsAbandoned: abandoned } : {}),
      series: result.series.map((b) => ({ t: toModel(result.startedAt + b.second * 1000), byStatus: b.byStatus, networkErrors: b.networkErrors })),
      ...timing,
      ...(twinStall ? { twinStall } : {}),
      timeline: timeline.events,
      failures: result.failures
        .filter((f) => f.status === undefined || f.status >= 500)
        .slice(0, MAX_FAILURES_KEPT)
        .map((f) => ({ t: toModel(f.sentAt), path: f.path, ...(f.status !== undefined ? { status: f.status } : { error: f.error }) })),
      durationSeconds: timeline.now(),
      realDurationSeconds: (realClock.now() - realOrigin) / 1000,
    };
  }
}
