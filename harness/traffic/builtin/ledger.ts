/**
 * What the built-in driver keeps of each request, and how a request in flight ends. Every request
 * ends exactly once, as one of: answered (a status), failed (a network error code, `timeout` when
 * the driver timed it out) or cut at the stop (in flight when the run was stopped: neither). Per
 * request only the compact timings are kept (send time, duration, status; 0 = network error); the
 * per-second series and the status counts are derived from them at the end, the network errors
 * are counted by code, and objects are kept only for the bounded lists of failures and cut send times.
 */
import type { Dispatcher } from 'undici';
import { RequestTimings } from '../timing.ts';
import type { CutAtStop, FailedRequest, SecondBucket, TrafficProgress } from '../types.ts';

/** The counts of a run, as the traffic result carries them. */
export interface LedgerCounts {
  byStatus: Record<string, number>;
  networkErrors: Record<string, number>;
  cutAtStop: CutAtStop;
  series: SecondBucket[];
  failures: FailedRequest[];
  timings: RequestTimings;
}

/** The outcomes of a run's requests, each recorded once. */
export class RequestLedger {
  readonly timings = new RequestTimings();
  /** Live counters, for progress output. */
  readonly progress: TrafficProgress = { sent: 0, fiveXX: 0, networkErrors: 0 };
  readonly #networkErrors: Record<string, number> = {};
  readonly #failures: FailedRequest[] = [];
  readonly #cutAtStop: CutAtStop = { count: 0, sentAt: [] };

  /** Keeps at most `maxFailures` failed-request records and `maxCuts` cut send times (counts stay exact). */
  constructor(
    readonly maxFailures = 100_000,
    readonly maxCuts = 10_000,
  ) {}

  /** A request sent at `sentAt` (epoch ms) got `status` at `endedAt`. */
  answered(sentAt: number, endedAt: number, path: string, status: number): void {
    this.timings.add(sentAt, endedAt - sentAt, status);
    if (status >= 500) this.progress.fiveXX++;
    if ((status < 200 || status >= 300) && this.#failures.length < this.maxFailures) this.#failures.push({ sentAt, endedAt, path, status });
  }

  /** A request sent at `sentAt` failed with network error `error` (a code, e.g. ECONNRESET, timeout) at `endedAt`. */
  failed(sentAt: number, endedAt: number, path: string, error: string): void {
    this.timings.add(sentAt, endedAt - sentAt, 0);
    this.#networkErrors[error] = (this.#networkErrors[error] ?? 0) + 1;
    this.progress.networkErrors++;
    if (this.#failures.length < this.maxFailures) this.#failures.push({ sentAt, endedAt, path, error });
  }

  /** A request sent at `sentAt` was in flight when the run was stopped, and was cancelled. */
  cut(sentAt: number): void {
    // Neither an answer nor a failure of the target: the run ended under it.
    this.#cutAtStop.count++;
    if (this.#cutAtStop.sentAt.length < this.maxCuts) this.#cutAtStop.sentAt.push(sentAt);
  }

  /** Records how `request` ended at `endedAt`: cut when the driver cut it (whatever came after), else answered or failed. */
  record(request: InFlight, endedAt: number, status: number | undefined, error: string | undefined): void {
    if (request.ended === 'cut') this.cut(request.sentAt);
    else if (status !== undefined) this.answered(request.sentAt, endedAt, request.path, status);
    else this.failed(request.sentAt, endedAt, request.path, error ?? 'unknown');
  }

  /** The counts, with the series by second from `startedAt` (epoch ms). */
  counts(startedAt: number): LedgerCounts {
    const series = seriesOf(this.timings, startedAt);
    const byStatus: Record<string, number> = {};
    for (const b of series) for (const [status, n] of Object.entries(b.byStatus)) byStatus[status] = (byStatus[status] ?? 0) + n;
    const cutAtStop = { count: this.#cutAtStop.count, sentAt: [...this.#cutAtStop.sentAt].sort((a, b) => a - b) };
    return { byStatus, networkErrors: { ...this.#networkErrors }, cutAtStop, series, failures: [...this.#failures], timings: this.timings };
  }
}

/**
 * Each second of the run from `startedAt` (epoch ms) by send time: the finished requests' statuses
 * and network errors (status 0), from their timings. Seconds up to the last one with a finished
 * request are all there, empty ones included; requests cut at the stop are in none.
 */
export function seriesOf(timings: RequestTimings, startedAt: number): SecondBucket[] {
  const sent = timings.sentAt;
  const statuses = timings.statuses;
  const series: SecondBucket[] = [];
  for (let i = 0; i < sent.length; i++) {
    const second = Math.max(0, Math.floor((sent[i] - startedAt) / 1000));
    while (series.length <= second) series.push({ second: series.length, byStatus: {}, networkErrors: 0 });
    const b = series[second];
    const status = statuses[i];
    if (status === 0) b.networkErrors++;
    else b.byStatus[status] = (b.byStatus[status] ?? 0) + 1;
  }
  return series;
}

/** Why the driver ended a request itself. */
export type Ending = 'timeout' | 'cut';

/**
 * One request in flight, as undici's callback handler (`dispatch`): no promise, body stream or
 * AbortController per request. The body is read and dropped; a response cut mid-body ends in
 * `onError`, a network error. `finish` is called exactly once, with a status or an error code; a
 * request the driver ended is reported as ended so (`ended`), whatever undici says of it after.
 */
export class InFlight implements Dispatcher.DispatchHandler {
  status = 0;
  done = false;
  ended: Ending | undefined = undefined;
  abort: ((reason?: Error) => void) | undefined = undefined;

  constructor(
    readonly sentAt: number,
    readonly path: string,
    readonly finish: (request: InFlight, status: number | undefined, error: string | undefined) => void,
  ) {}

  /** Ends it from the driver's side: at once when it is on a connection, else as soon as undici gives it one. A cut overrides a timeout. */
  end(why: Ending): void {
    if (this.done) return;
    this.ended = why;
    this.abort?.(new Error(why === 'cut' ? 'cut at the stop' : 'timeout'));
  }

  onConnect(abort: (reason?: Error) => void): void {
    if (this.ended) abort(new Error(this.ended === 'cut' ? 'cut at the stop' : 'timeout'));
    else this.abort = abort;
  }

  onHeaders(statusCode: number): boolean {
    this.status = statusCode;
    return true;
  }

  onData(): boolean {
    return true;
  }

  onComplete(): void {
    this.#finish(this.status, undefined);
  }

  onError(error: Error & { code?: string }): void {
    this.#finish(undefined, this.ended ? 'timeout' : (error.code ?? error.name ?? 'error'));
  }

  #finish(status: number | undefined, error: string | undefined): void {
    if (this.done) return;
    this.done = true;
    // undici's abort closure holds its request and connection: a finished request must not keep them alive.
    this.abort = undefined;
    this.finish(this, status, error);
  }
}

/**
 * The requests in flight in send order (so also in timeout order, the timeout being one for all):
 * a ring that doubles when full and clears each slot as its request leaves, so that neither a
 * finished request nor undici's objects behind it stay reachable from here (kept, they would
 * outlive the young generation and cost old-generation garbage collections).
 */
export class SendOrder {
  #slots: (InFlight | undefined)[] = new Array<InFlight | undefined>(1024).fill(undefined);
  #head = 0;
  #size = 0;

  /** Requests in the ring. */
  get size(): number {
    return this.#size;
  }

  /** Adds the request sent last. */
  push(request: InFlight): void {
    if (this.#size === this.#slots.length) {
      // Unrolled so that the oldest is at 0 again.
      const slots = new Array<InFlight | undefined>(this.#slots.length * 2).fill(undefined);
      for (let i = 0; i < this.#size; i++) slots[i] = this.#slots[(this.#head + i) % this.#slots.length];
      this.#slots = slots;
      this.#head = 0;
    }
    this.#slots[(this.#head + this.#size) % this.#slots.length] = request;
    this.#size++;
  }

  /** The request sent first of those in the ring, or undefined when it is empty. */
  oldest(): InFlight | undefined {
    return this.#size ? this.#slots[this.#head] : undefined;
  }

  /** Takes the oldest request out (nothing when empty). */
  shift(): void {
    if (!this.#size) return;
    this.#slots[this.#head] = undefined;
    this.#head = (this.#head + 1) % this.#slots.length;
    this.#size--;
  }

  /** The requests in the ring, oldest first (a copy). */
  toArray(): InFlight[] {
    const out: InFlight[] = [];
    for (let i = 0; i < this.#size; i++) out.push(this.#slots[(this.#head + i) % this.#slots.length]!);
    return out;
  }
}
