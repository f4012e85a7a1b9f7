/**
 * Per-request timing, kept compactly for the whole traffic run: each finished request's send time,
 * duration and status in growable typed arrays (18 bytes a request, no object per request), and
 * the pure questions asked of them afterwards — were the requests sent on schedule, what were the
 * latency percentiles of a window, how did rate and latency go over time. Exact percentiles need
 * every duration of a window, so the durations are kept; nothing else per request is.
 */

/** Send time, duration and status of every request that finished (answered or failed), in completion order. */
export class RequestTimings {
  #sentAt = new Float64Array(1024);
  #duration = new Float64Array(1024);
  #status = new Uint16Array(1024);
  #count = 0;

  /** Requests recorded. */
  get count(): number {
    return this.#count;
  }

  /** Records one request: epoch ms it was sent, ms it took, its status (0 = network error, no status). */
  add(sentAt: number, durationMs: number, status: number): void {
    if (this.#count === this.#sentAt.length) {
      const grow = <T extends Float64Array | Uint16Array>(a: T, b: T): T => (b.set(a), b);
      this.#sentAt = grow(this.#sentAt, new Float64Array(this.#count * 2));
      this.#duration = grow(this.#duration, new Float64Array(this.#count * 2));
      this.#status = grow(this.#status, new Uint16Array(this.#count * 2));
    }
    this.#sentAt[this.#count] = sentAt;
    this.#duration[this.#count] = Math.max(0, durationMs);
    this.#status[this.#count] = status;
    this.#count++;
  }

  /** Epoch ms each request was sent (a view: valid until the next `add`). */
  get sentAt(): Float64Array {
    return this.#sentAt.subarray(0, this.#count);
  }

  /** Ms each request took (a view: valid until the next `add`). */
  get durations(): Float64Array {
    return this.#duration.subarray(0, this.#count);
  }

  /** Each request's status, 0 for a network error (a view: valid until the next `add`). */
  get statuses(): Uint16Array {
    return this.#status.subarray(0, this.#count);
  }
}

/** Latency of a set of requests, ms: exact nearest-rank percentiles of the raw durations. */
export interface LatencyStats {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** Requests an open model at `rate` had due from `origin` until `at` (epoch ms; the one due at `origin` counts), at most `planned`: the plan of traffic stopped early. */
export function dueUntil(origin: number, at: number, rate: number, planned: number): number {
  return Math.min(planned, Math.max(0, Math.floor(((at - origin) / 1000) * rate) + 1));
}

/** The nearest-rank percentile `p` (0–100) of ascending `sorted` values: the smallest value with at least p % at or below it. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (!sorted.length) return NaN;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(sorted.length, rank) - 1];
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;

/** Latency of the requests sent in [from, to) (epoch ms); undefined when none was. */
export function latencyIn(timings: RequestTimings, from: number, to: number): LatencyStats | undefined {
  const sent = timings.sentAt;
  const durations = timings.durations;
  let n = 0;
  for (let i = 0; i < sent.length; i++) if (sent[i] >= from && sent[i] < to) n++;
  if (!n) return undefined;
  const window = new Float64Array(n);
  for (let i = 0, j = 0; i < sent.length; i++) if (sent[i] >= from && sent[i] < to) window[j++] = durations[i];
  window.sort();
  return { count: n, p50: round3(percentile(window, 50)), p95: round3(percentile(window, 95)), p99: round3(percentile(window, 99)), max: round3(window[n - 1]) };
}

/** A second of the schedule whose requests were not sent on time. */
export interface BehindSecond {
  /** Seconds since the schedule's start. */
  second: number;
  /** Requests due in that second (within the window). */
  due: number;
  /** Of those, sent within the tolerance of their due time. */
  onTime: number;
}

/** The schedule check of a window: how many seconds had their requests sent on time. */
export interface ScheduleCheck {
  /** Seconds of the window with at least one request due. */
  seconds: number;
  behind: BehindSecond[];
  /** The latest any request due in the window was sent, ms after its due time (unsent ones count to the window's end). */
  maxLateMs: number;
}

/** What `checkSchedule` looks at: the open model's schedule and every send time. */
export interface ScheduleInput {
  /** Epoch ms request 0 was due. */
  origin: number;
  /** Requests per second. */
  rate: number;
  /** Requests due in all (due times origin + n / rate, n < planned). */
  planned: number;
  /** Epoch ms of every request sent (any order; cut ones included). */
  sentAt: ArrayLike<number>;
}

/** Share of a second's due requests that must be sent on time. */
export const MIN_ON_TIME = 0.9;
/** How late a request may be sent and still count as on time, ms. */
export const ON_TIME_TOLERANCE_MS = 1000;

/**
 * Which seconds of the window [from, to) (epoch ms) had under `MIN_ON_TIME` of their due requests
 * sent within `ON_TIME_TOLERANCE_MS` of their due time. Both drivers send in schedule order (the
 * built-in driver fires request n at its tick; k6 starts iteration n at its time or drops it), so
 * the n-th earliest send is request n: a driver that stalls and then catches up in a burst shows
 * every request of the stall as late, and a dropped one leaves its second short.
 */
export function checkSchedule(input: ScheduleInput, from: number, to: number): ScheduleCheck {
  const { origin, rate, planned } = input;
  const sends = Float64Array.from(input.sentAt).sort();
  const bySecond = new Map<number, BehindSecond>();
  let maxLateMs = 0;
  const first = Math.max(0, Math.ceil(((from - origin) / 1000) * rate - 1e-9));
  for (let n = first; n < planned; n++) {
    const due = origin + (n / rate) * 1000;
    if (due >= to) break;
    if (due < from) continue;
    const second = Math.floor((due - origin) / 1000);
    let entry = bySecond.get(second);
    if (!entry) bySecond.set(second, (entry = { second, due: 0, onTime: 0 }));
    entry.due++;
    const late = n < sends.length ? sends[n] - due : to - due;
    if (n < sends.length && late <= ON_TIME_TOLERANCE_MS) entry.onTime++;
    maxLateMs = Math.max(maxLateMs, late);
  }
  const behind = [...bySecond.values()].filter((s) => s.onTime < MIN_ON_TIME * s.due);
  return { seconds: bySecond.size, behind, maxLateMs: Math.round(maxLateMs) };
}

/** One bucket of traffic over time: requests sent in it by outcome, and their latency (ms). */
export interface RateBucket {
  /** Epoch ms the bucket starts. */
  at: number;
  ok: number;
  fiveXX: number;
  net: number;
  other: number;
  p50?: number;
  p99?: number;
  max?: number;
}

const NICE_BUCKETS_MS = [100, 200, 250, 500, 1000, 2000, 5000, 10_000, 15_000, 30_000, 60_000, 300_000];

/**
 * A bucket width (real ms) for a traffic run of `spanMs` at `rate`: the smallest of 0.1 s, 0.2 s,
 * 0.25 s, 0.5 s, 1 s, 2 s, 5 s, … that gives at most 120 buckets and about 10 requests or more per
 * bucket (fewer make a noisy rate and a p99 that is just the maximum).
 */
export function bucketMsFor(spanMs: number, rate: number): number {
  const least = Math.max(spanMs / 120, rate > 0 ? 10_000 / rate : 1000);
  return NICE_BUCKETS_MS.find((b) => b >= least) ?? NICE_BUCKETS_MS.at(-1)!;
}

/** Requests by send-time bucket of `bucketMs` from `origin`, with each bucket's latency percentiles. */
export function rateBuckets(timings: RequestTimings, origin: number, bucketMs: number): RateBucket[] {
  const sent = timings.sentAt;
  const durations = timings.durations;
  const statuses = timings.statuses;
  const counts: number[] = [];
  let last = -1;
  for (let i = 0; i < sent.length; i++) {
    const b = Math.max(0, Math.floor((sent[i] - origin) / bucketMs));
    counts[b] = (counts[b] ?? 0) + 1;
    last = Math.max(last, b);
  }
  const buckets: RateBucket[] = [];
  const values: Float64Array[] = [];
  const filled: number[] = [];
  for (let b = 0; b <= last; b++) {
    buckets.push({ at: origin + b * bucketMs, ok: 0, fiveXX: 0, net: 0, other: 0 });
    values.push(new Float64Array(counts[b] ?? 0));
    filled.push(0);
  }
  for (let i = 0; i < sent.length; i++) {
    const b = Math.max(0, Math.floor((sent[i] - origin) / bucketMs));
    const bucket = buckets[b];
    const status = statuses[i];
    if (status === 0) bucket.net++;
    else if (status >= 200 && status < 300) bucket.ok++;
    else if (status >= 500) bucket.fiveXX++;
    else bucket.other++;
    values[b][filled[b]++] = durations[i];
  }
  for (let b = 0; b < buckets.length; b++) {
    const v = values[b].sort();
    if (!v.length) continue;
    buckets[b].p50 = round3(percentile(v, 50));
    buckets[b].p99 = round3(percentile(v, 99));
    buckets[b].max = round3(v[v.length - 1]);
  }
  return buckets;
}

/** The part of a traffic result (harness/traffic/types.ts `TrafficResult`) the schedule check reads; spelled out here so the two modules do not import each other. */
export interface ScheduledResult {
  timings?: RequestTimings;
  scheduleOrigin?: number;
  startedAt: number;
  planned: number;
  cutAtStop: { count: number; sentAt: number[] };
}

/**
 * The schedule check of a traffic result over [from, to) (epoch ms): every send time (finished
 * requests and those cut at the stop) against the open model's due times. Undefined when the
 * driver recorded no timings.
 */
export function scheduleOf(result: ScheduledResult, rate: number, from: number, to: number): ScheduleCheck | undefined {
  if (!result.timings || !(rate > 0)) return undefined;
  const sent = result.timings.sentAt;
  const all = new Float64Array(sent.length + result.cutAtStop.sentAt.length);
  all.set(sent);
  all.set(result.cutAtStop.sentAt, sent.length);
  return checkSchedule({ origin: result.scheduleOrigin ?? result.startedAt, rate, planned: result.planned, sentAt: all }, from, to);
}
