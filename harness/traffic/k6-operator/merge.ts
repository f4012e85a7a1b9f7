/**
 * One cell's traffic from N k6 runners (a k6-operator TestRun), merged exactly. Each runner's pod
 * log is its own NDJSON stream, parsed as one k6's (parse.ts); the merge adds what adds up and keeps
 * what does not add up as raw values:
 * - counts (sent, by status, network errors, dropped iterations, malformed lines) are sums;
 * - requests cut at the stop are a multiset: every runner's send times, together, in order;
 * - latency percentiles come from every request's raw duration (RequestTimings), never from
 *   per-runner percentiles or summaries, which cannot be merged (the p99 of three p99s is no p99);
 * - the per-second series is counted again from the merged send times and statuses;
 * - the plan is the single-runner plan, split by the runners' execution segments (segments.ts):
 *   each runner's share is k6's ScaleInt64 of it, and the shares sum to it.
 * A runner that failed or never started is never "fewer requests": the merged result is incomplete
 * and names it (the cell is INVALID).
 */
import type { CutAtStop, FailedRequest, SecondBucket, TrafficResult } from '../types.ts';
import { RequestTimings } from '../timing.ts';
import type { K6Aggregate } from '../k6/parse.ts';
import { k6ScheduleOrigin } from '../k6/parse.ts';
import { scaleInt, segmentText, type Stripe } from '../k6/segments.ts';

/** One runner's output and how it ended. */
export interface RunnerOutput {
  /** The runner's pod (k6-operator: `<testrun>-<index>-<suffix>`). */
  name: string;
  stripe: Stripe;
  aggregate: K6Aggregate;
  /** Why the runner gave no complete result (failed, never started, killed); undefined when it finished. */
  failed?: string;
  /** Its share of the plan when it differs from k6's ScaleInt64 of the merged plan: a runner stopped early was due only its stripe's iterations until its own stop. */
  planned?: number;
}

/** What the cell records of each runner. */
export interface RunnerRecord {
  name: string;
  /** Its execution segment, e.g. `1/3:2/3`. */
  segment: string;
  /** Its share of the plan (k6's ScaleInt64 of the merged plan). */
  planned: number;
  sent: number;
  answered: number;
  networkErrors: number;
  cut: number;
  failed?: string;
}

/** The merged result: a TrafficResult (driver `k6-operator`) with each runner's part. */
export interface MergedK6Result extends TrafficResult {
  driver: 'k6-operator';
  runners: RunnerRecord[];
  droppedIterations: number;
  malformedLines: { count: number; samples: string[] };
}

export interface MergeOptions {
  /** The single-runner plan: requests due over the whole traffic (or until the stop). */
  planned: number;
  /** Keep at most this many failed-request records and cut send times (counts stay exact). Defaults 100 000 and 10 000. */
  maxFailureRecords?: number;
  maxCutRecords?: number;
  /** Used when no runner sent anything. */
  now: number;
}

const sum = (values: Iterable<number>) => {
  let s = 0;
  for (const v of values) s += v;
  return s;
};

function addInto(into: Record<string, number>, from: Record<string, number>): void {
  for (const [k, n] of Object.entries(from)) into[k] = (into[k] ?? 0) + n;
}

/** The runners' outputs as one traffic result; exact: sent = Σ byStatus + Σ networkErrors + cutAtStop.count. */
export function mergeRunners(runners: readonly RunnerOutput[], options: MergeOptions): MergedK6Result {
  const byStatus: Record<string, number> = {};
  const networkErrors: Record<string, number> = {};
  const timings = new RequestTimings();
  const cutSentAt: number[] = [];
  let cutCount = 0;
  let failures: FailedRequest[] = [];
  const malformed = { count: 0, samples: [] as string[] };
  for (const r of runners) {
    const a = r.aggregate;
    addInto(byStatus, a.byStatus);
    addInto(networkErrors, a.networkErrors);
    cutCount += a.cutAtStop.count;
    cutSentAt.push(...a.cutAtStop.sentAt);
    failures = failures.concat(a.failures);
    malformed.count += a.malformed.count;
    malformed.samples.push(...a.malformed.samples.slice(0, Math.max(0, 5 - malformed.samples.length)));
    const [sentAt, durations, statuses] = [a.timings.sentAt, a.timings.durations, a.timings.statuses];
    for (let i = 0; i < sentAt.length; i++) timings.add(sentAt[i], durations[i], statuses[i]);
  }
  cutSentAt.sort((x, y) => x - y);
  const cutAtStop: CutAtStop = { count: cutCount, sentAt: cutSentAt.slice(0, options.maxCutRecords ?? 10_000) };
  failures.sort((x, y) => x.sentAt - y.sentAt);
  if (failures.length > (options.maxFailureRecords ?? 100_000)) failures.length = options.maxFailureRecords ?? 100_000;

  const min = (values: Array<number | undefined>) => values.reduce<number | undefined>((m, v) => (v === undefined ? m : m === undefined ? v : Math.min(m, v)), undefined);
  const max = (values: Array<number | undefined>) => values.reduce<number | undefined>((m, v) => (v === undefined ? m : m === undefined ? v : Math.max(m, v)), undefined);
  const startedAt = min(runners.map((r) => r.aggregate.startedAt));
  const endedAt = max(runners.map((r) => r.aggregate.endedAt));
  const scenarioStartedAt = min(runners.map((r) => r.aggregate.scenarioStartedAt));
  const origin = k6ScheduleOrigin({ scenarioStartedAt, timings });

  const failed = runners.filter((r) => r.failed);
  const records: RunnerRecord[] = runners.map((r) => {
    const a = r.aggregate;
    const errors = sum(Object.values(a.networkErrors));
    return {
      name: r.name,
      segment: segmentText(r.stripe.segment),
      planned: r.planned ?? scaleInt(r.stripe, options.planned),
      sent: a.sent,
      answered: sum(Object.values(a.byStatus)),
      networkErrors: errors,
      cut: a.cutAtStop.count,
      ...(r.failed ? { failed: r.failed } : {}),
    };
  });
  return {
    driver: 'k6-operator',
    planned: runners.some((r) => r.planned !== undefined) ? sum(records.map((r) => r.planned)) : options.planned,
    sent: sum(runners.map((r) => r.aggregate.sent)),
    byStatus,
    networkErrors,
    cutAtStop,
    series: seriesOf(timings, startedAt),
    failures,
    startedAt: startedAt ?? options.now,
    endedAt: endedAt ?? options.now,
    timings,
    ...(origin !== undefined ? { scheduleOrigin: origin } : {}),
    ...(failed.length ? { incomplete: failed.map((r) => `runner ${r.name} (${segmentText(r.stripe.segment)}): ${r.failed}`).join('; ') } : {}),
    runners: records,
    droppedIterations: sum(runners.map((r) => r.aggregate.droppedIterations)),
    malformedLines: malformed,
  };
}

/** Requests per second of sending (from the first send), by status and network error: the merged timings counted again. */
export function seriesOf(timings: RequestTimings, startedAt: number | undefined): SecondBucket[] {
  const series: SecondBucket[] = [];
  if (startedAt === undefined) return series;
  const [sentAt, statuses] = [timings.sentAt, timings.statuses];
  for (let i = 0; i < sentAt.length; i++) {
    const second = Math.max(0, Math.floor((sentAt[i] - startedAt) / 1000));
    while (series.length <= second) series.push({ second: series.length, byStatus: {}, networkErrors: 0 });
    const bucket = series[second];
    if (statuses[i] === 0) bucket.networkErrors++;
    else bucket.byStatus[String(statuses[i])] = (bucket.byStatus[String(statuses[i])] ?? 0) + 1;
  }
  return series;
}
