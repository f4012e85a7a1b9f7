/**
 * A streaming parser for k6's `--out json=-` NDJSON. k6 writes ~3.5 KB per request (a dozen
 * Points per request), so the output is split into lines as it arrives and only `http_reqs`
 * Points are aggregated; other metrics are counted by name and dropped. Memory stays bounded by
 * the number of seconds, distinct statuses and (capped) failure records, not by the output.
 */
import { StringDecoder } from 'node:string_decoder';
import { RequestTimings } from '../timing.ts';
import type { CutAtStop, FailedRequest, SecondBucket, TrafficProgress } from '../types.ts';

/** A metric declaration: k6 writes one just before the metric's first Point. */
export interface K6MetricLine {
  type: 'Metric';
  metric: string;
  data: { name: string; type: string; contains?: string; thresholds?: unknown; submetrics?: unknown };
}

/** One sample. `time` is RFC 3339 with nanoseconds, the moment the request *ended*. */
export interface K6PointLine {
  type: 'Point';
  metric: string;
  data: {
    time: string;
    value: number;
    tags: Record<string, string> | null;
    /** Per-sample metadata; our script puts the send time (epoch ms) in `sent_ms`. */
    metadata?: Record<string, string>;
  };
}

/** A line of k6's JSON output. */
export type K6Line = K6MetricLine | K6PointLine;

/** What the parser aggregated: the k6-specific pieces of a TrafficResult, plus parse health. */
export interface K6Aggregate {
  /** Requests sent: one per `http_reqs` Point, plus the requests cut at the stop. */
  sent: number;
  /**
   * Requests in flight when k6 stopped: on SIGINT k6 drops them from its request metrics, so they
   * have no `http_reqs` Point; each still has its iteration's `data_sent` Point carrying the
   * script's `sent_ms` metadata. Found as the `data_sent` Points whose `sent_ms` no `http_reqs`
   * Point matches (as a multiset: two iterations may share a millisecond).
   */
  cutAtStop: CutAtStop;
  byStatus: Record<string, number>;
  networkErrors: Record<string, number>;
  series: SecondBucket[];
  failures: FailedRequest[];
  /** Epoch ms the earliest request was sent; undefined when there was none. */
  startedAt?: number;
  /** Epoch ms of the last Point. */
  endedAt?: number;
  /**
   * Epoch ms the scenario started as k6 reports it: the earliest iteration start (`sent_ms`) or
   * dropped iteration; without `sent_ms` metadata, the earliest request end. Undefined when none.
   */
  scenarioStartedAt?: number;
  /** Non-empty lines read. */
  lines: number;
  /** Points read, by metric name. */
  pointsByMetric: Record<string, number>;
  /** Iterations k6 could not start on time (too few VUs): requests planned but never sent. */
  droppedIterations: number;
  malformed: { count: number; samples: string[] };
  /** Send time, duration (`http_req_duration`) and status of every answered or failed request. */
  timings: RequestTimings;
}

/** Parser options. */
export interface K6ParseOptions {
  /** Keep at most this many failed-request records (counts stay exact). Default 100 000. */
  maxFailureRecords?: number;
  /** Keep the send times of at most this many requests cut at the stop (the count stays exact). Default 10 000. */
  maxCutRecords?: number;
  /** A line longer than this many characters is malformed (and skipped without being held). Default 1 Mi. */
  maxLineChars?: number;
}

const MAX_MALFORMED_SAMPLES = 5;
const SAMPLE_CHARS = 200;
const SLICE_MS = 100;

// k6 error codes (lib/netext/httpext/error_codes.go) that have a name the built-in driver also uses.
const NAMED_ERRORS: Record<string, string> = {
  '1050': 'timeout',
  '1211': 'timeout',
  '1212': 'ECONNREFUSED',
  '1220': 'ECONNRESET',
  '1201': 'EPIPE',
};

/** The network-error key of a status-0 request: a shared name when there is one, else "<code> <error>". */
export function networkErrorKey(tags: Record<string, string>): string {
  const code = tags.error_code;
  if (code && NAMED_ERRORS[code]) return NAMED_ERRORS[code];
  const text = [code, tags.error].filter((s) => s !== undefined && s !== '').join(' ');
  return text || 'unknown';
}

function pathOf(tags: Record<string, string>): string {
  const name = tags.name ?? tags.url ?? '';
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(name)) return name || '/';
  try {
    const url = new URL(name);
    return url.pathname + url.search;
  } catch {
    return name;
  }
}

/** Parses an RFC 3339 time with up to nanosecond precision to epoch ms (fractional). */
export function parseK6Time(time: string): number {
  const m = /^(.*T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$/.exec(time);
  if (!m) return NaN;
  const whole = Date.parse(m[1] + m[3]);
  return whole + (m[2] ? Number(`0.${m[2]}`) * 1000 : 0);
}

function toLine(value: unknown): K6Line | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  const data = v.data as Record<string, unknown> | undefined;
  if (typeof v.metric !== 'string' || typeof data !== 'object' || data === null) return undefined;
  if (v.type === 'Metric') return typeof data.name === 'string' ? (v as unknown as K6MetricLine) : undefined;
  if (v.type === 'Point') {
    if (typeof data.time !== 'string' || typeof data.value !== 'number') return undefined;
    if (data.tags !== null && (typeof data.tags !== 'object' || Array.isArray(data.tags))) return undefined;
    return v as unknown as K6PointLine;
  }
  return undefined;
}

/** Aggregates k6 NDJSON fed to it line by line or in arbitrary chunks. */
export class K6OutputAggregator {
  readonly #maxFailures: number;
  readonly #maxLineChars: number;
  readonly #decoder = new StringDecoder('utf8');
  #partial = '';
  #skippingLongLine = false;
  #lines = 0;
  #sent = 0;
  #byStatus: Record<string, number> = {};
  #networkErrors: Record<string, number> = {};
  // Keyed by tenths of a second from the first request seen; may go negative (see `result`).
  #slices = new Map<number, { byStatus: Record<string, number>; networkErrors: number }>();
  #origin: number | undefined;
  #firstSent: number | undefined;
  #endedAt: number | undefined;
  #failures: FailedRequest[] = [];
  #points: Record<string, number> = {};
  #dropped = 0;
  readonly #maxCuts: number;
  // sent_ms → (http_reqs Points − data_sent Points) with it; only unbalanced keys are kept, so the
  // map holds the iterations in flight, not the run.
  #balance = new Map<string, number>();
  #scenarioStart: number | undefined;
  #malformed = { count: 0, samples: [] as string[] };
  #progress: TrafficProgress = { sent: 0, fiveXX: 0, networkErrors: 0 };
  #timings = new RequestTimings();

  constructor(opts: K6ParseOptions = {}) {
    this.#maxFailures = opts.maxFailureRecords ?? 100_000;
    this.#maxCuts = opts.maxCutRecords ?? 10_000;
    this.#maxLineChars = opts.maxLineChars ?? 1024 * 1024;
  }

  /** Live counters (the same object each time, updated in place). */
  get progress(): TrafficProgress {
    return this.#progress;
  }

  /** Feeds a chunk of output; lines may span chunks and a chunk may split a UTF-8 character. */
  write(chunk: string | Uint8Array): void {
    const text = typeof chunk === 'string' ? chunk : this.#decoder.write(chunk);
    let start = 0;
    for (let nl = text.indexOf('\n', start); nl !== -1; nl = text.indexOf('\n', start)) {
      const piece = text.slice(start, nl);
      start = nl + 1;
      if (this.#skippingLongLine) {
        this.#skippingLongLine = false;
        this.#partial = '';
        continue;
      }
      const line = this.#partial ? this.#partial + piece : piece;
      this.#partial = '';
      this.line(line);
    }
    if (this.#skippingLongLine) return;
    this.#partial += text.slice(start);
    if (this.#partial.length > this.#maxLineChars) {
      this.#lines++;
      this.#malformedLine(this.#partial);
      this.#partial = '';
      this.#skippingLongLine = true;
    }
  }

  /** Flushes a last line that had no trailing newline. */
  end(): void {
    const rest = this.#partial + this.#decoder.end();
    this.#partial = '';
    if (!this.#skippingLongLine) this.line(rest);
    this.#skippingLongLine = false;
  }

  /** Handles one complete line (without its newline). */
  line(raw: string): void {
    const text = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (!text.trim()) return;
    this.#lines++;
    if (text.length > this.#maxLineChars) return this.#malformedLine(text);
    let parsed: K6Line | undefined;
    try {
      parsed = toLine(JSON.parse(text));
    } catch {
      parsed = undefined;
    }
    if (!parsed) return this.#malformedLine(text);
    if (parsed.type === 'Metric') return;
    if (parsed.metric === 'http_reqs' && !this.#request(parsed)) return this.#malformedLine(text);
    if (parsed.metric === 'http_req_duration' && !this.#duration(parsed)) return this.#malformedLine(text);
    if (parsed.metric === 'data_sent') this.#iterationEnd(parsed);
    if (parsed.metric === 'dropped_iterations') {
      this.#dropped += parsed.data.value;
      this.#started(parseK6Time(parsed.data.time));
    }
    this.#points[parsed.metric] = (this.#points[parsed.metric] ?? 0) + 1;
  }

  #malformedLine(text: string): void {
    this.#malformed.count++;
    if (this.#malformed.samples.length < MAX_MALFORMED_SAMPLES) this.#malformed.samples.push(text.slice(0, SAMPLE_CHARS));
  }

  #started(at: number): void {
    if (!Number.isFinite(at) || at <= 0) return;
    if (this.#scenarioStart === undefined || at < this.#scenarioStart) this.#scenarioStart = at;
  }

  #pair(sentMs: string, delta: number): void {
    const n = (this.#balance.get(sentMs) ?? 0) + delta;
    if (n === 0) this.#balance.delete(sentMs);
    else this.#balance.set(sentMs, n);
  }

  /** One iteration's `data_sent` Point: pairs with its request's `http_reqs` Point by `sent_ms`. */
  #iterationEnd(point: K6PointLine): void {
    const sentMs = point.data.metadata?.sent_ms;
    if (sentMs === undefined) return;
    this.#pair(sentMs, -1);
    this.#started(Number(sentMs));
    const at = parseK6Time(point.data.time);
    if (Number.isFinite(at)) this.#endedAt = Math.max(this.#endedAt ?? at, at);
  }

  /**
   * One request's `http_req_duration` Point (one per `http_reqs` Point, same time and tags): its
   * latency, and its send time. k6 stamps every Point of a request with the Trail's `EndTime`, the
   * moment the request finished, and `http_req_duration` is Sending + Waiting + Receiving, without
   * the time blocked waiting for a connection or connecting (grafana/k6
   * lib/netext/httpext/tracer.go, `Tracer.Done`: `trail.EndTime = done`, `trail.Duration =
   * trail.Sending + trail.Waiting + trail.Receiving`; `Trail.SaveSamples` gives every sample
   * `Time: tr.EndTime`). So time − duration is when the request started to be written; our
   * script's `sent_ms` (the iteration's start, before the connection) is used when present, as the
   * time the open model's schedule speaks of.
   */
  #duration(point: K6PointLine): boolean {
    const endedAt = parseK6Time(point.data.time);
    if (!Number.isFinite(endedAt) || !Number.isFinite(point.data.value)) return false;
    const sentMs = Number(point.data.metadata?.sent_ms);
    const sentAt = Number.isFinite(sentMs) && sentMs > 0 ? sentMs : endedAt - point.data.value;
    const status = Number(point.data.tags?.status ?? 0);
    // The latency is k6's own http_req_duration, so the percentiles match what k6 users read.
    this.#timings.add(sentAt, point.data.value, Number.isInteger(status) && status > 0 && status < 65536 ? status : 0);
    return true;
  }

  /** Counts one request; false when its time is unreadable (the caller reports the line). */
  #request(point: K6PointLine): boolean {
    const tags = point.data.tags ?? {};
    const endedAt = parseK6Time(point.data.time);
    if (!Number.isFinite(endedAt)) return false;
    // Our script records the send time; without it (other scripts) the end time is the best we have.
    const sentMsText = point.data.metadata?.sent_ms;
    const sentMs = Number(sentMsText);
    const sentAt = Number.isFinite(sentMs) && sentMs > 0 ? sentMs : endedAt;
    if (sentMsText !== undefined) this.#pair(sentMsText, +1);
    this.#started(sentAt);
    this.#endedAt = Math.max(this.#endedAt ?? endedAt, endedAt);
    this.#origin ??= sentAt;
    this.#firstSent = Math.min(this.#firstSent ?? sentAt, sentAt);
    const slice = Math.floor((sentAt - this.#origin) / SLICE_MS);
    let bucket = this.#slices.get(slice);
    if (!bucket) this.#slices.set(slice, (bucket = { byStatus: {}, networkErrors: 0 }));

    this.#sent++;
    this.#progress.sent = this.#sent;
    const status = tags.status ?? '0';
    const path = pathOf(tags);
    if (status === '0' || status === '') {
      const key = networkErrorKey(tags);
      this.#networkErrors[key] = (this.#networkErrors[key] ?? 0) + 1;
      bucket.networkErrors++;
      this.#progress.networkErrors++;
      if (this.#failures.length < this.#maxFailures) this.#failures.push({ sentAt, endedAt, path, error: key });
      return true;
    }
    this.#byStatus[status] = (this.#byStatus[status] ?? 0) + 1;
    bucket.byStatus[status] = (bucket.byStatus[status] ?? 0) + 1;
    const code = Number(status);
    if (code >= 500) this.#progress.fiveXX++;
    if (!(code >= 200 && code < 300) && this.#failures.length < this.#maxFailures) {
      this.#failures.push({ sentAt, endedAt, path, status: code });
    }
    return true;
  }

  /**
   * The aggregate so far. Points arrive in completion order, so a request sent early may come
   * late (a timeout); requests are kept in tenth-of-a-second slices and folded into seconds
   * counted from the earliest send here, so the series starts at 0 (to within 100 ms) and has no gaps.
   */
  result(): K6Aggregate {
    const series: SecondBucket[] = [];
    if (this.#origin !== undefined && this.#firstSent !== undefined) {
      const first = Math.floor((this.#firstSent - this.#origin) / SLICE_MS);
      for (const [slice, counts] of this.#slices) {
        const second = Math.floor(((slice - first) * SLICE_MS) / 1000);
        while (series.length <= second) series.push({ second: series.length, byStatus: {}, networkErrors: 0 });
        const bucket = series[second];
        for (const [status, n] of Object.entries(counts.byStatus)) bucket.byStatus[status] = (bucket.byStatus[status] ?? 0) + n;
        bucket.networkErrors += counts.networkErrors;
      }
    }
    const cut: CutAtStop = { count: 0, sentAt: [] };
    for (const [sentMs, n] of this.#balance) {
      // Negative: data_sent Points without their http_reqs Point. (Positive, the other way round,
      // happens only when output was cut short; those requests are already counted.)
      if (n >= 0) continue;
      cut.count += -n;
      for (let i = 0; i < -n; i++) cut.sentAt.push(Number(sentMs));
    }
    cut.sentAt.sort((a, b) => a - b);
    if (cut.sentAt.length > this.#maxCuts) cut.sentAt.length = this.#maxCuts;
    return {
      sent: this.#sent + cut.count,
      cutAtStop: cut,
      byStatus: { ...this.#byStatus },
      networkErrors: { ...this.#networkErrors },
      series,
      failures: [...this.#failures].sort((a, b) => a.sentAt - b.sentAt),
      ...(this.#firstSent !== undefined ? { startedAt: this.#firstSent } : {}),
      ...(this.#endedAt !== undefined ? { endedAt: this.#endedAt } : {}),
      ...(this.#scenarioStart !== undefined ? { scenarioStartedAt: this.#scenarioStart } : {}),
      lines: this.#lines,
      pointsByMetric: { ...this.#points },
      droppedIterations: this.#dropped,
      malformed: { count: this.#malformed.count, samples: [...this.#malformed.samples] },
      timings: this.#timings,
    };
  }
}

/**
 * When k6's iteration 0 was due: the scenario's start as k6 reports it (`scenarioStartedAt`), or the
 * earliest send when that is earlier (output without `sent_ms`, where the start is a request's end).
 */
export function k6ScheduleOrigin(agg: Pick<K6Aggregate, 'scenarioStartedAt' | 'timings'>): number | undefined {
  let origin = agg.scenarioStartedAt ?? Infinity;
  for (const at of agg.timings.sentAt) if (at < origin) origin = at;
  return Number.isFinite(origin) ? origin : undefined;
}

/** Chunks of k6 output: a Readable, an async generator, or an array of buffers. */
export type K6OutputSource = AsyncIterable<string | Uint8Array> | Iterable<string | Uint8Array>;

/** Feeds every chunk of `source` to `aggregator`, then flushes its last line. */
export async function consumeK6Output(source: K6OutputSource, aggregator: K6OutputAggregator): Promise<void> {
  for await (const chunk of source) aggregator.write(chunk);
  aggregator.end();
}

/** Reads k6 NDJSON from a stream (or any async iterable of chunks) and aggregates it. */
export async function parseK6Output(source: K6OutputSource, opts: K6ParseOptions = {}): Promise<K6Aggregate> {
  const aggregator = new K6OutputAggregator(opts);
  await consumeK6Output(source, aggregator);
  return aggregator.result();
}
