/**
 * The built-in traffic driver (used when k6 is absent): an open-model constant arrival rate over
 * undici. Request n is sent at start + n/rate whether or not earlier requests have answered, so a
 * hanging backend shows up as timeouts instead of a silently lower rate. Every request is counted
 * exactly once: by status, by network error, or as cut at the stop (in flight when the run was
 * stopped or aborted: cancelled then, as k6 does on SIGINT, and kept with its send time).
 *
 * Cheap per request, so that the driver is not what limits a run: undici's callback API
 * (`dispatch`) instead of a promise, a body stream and an AbortController per request; one
 * interval on the clock both sends what is due and times out what is overdue (no timer per
 * request); the per-second series and the status counts are derived from the compact timings at
 * the end instead of being counted into objects per request.
 */
import { createRequire } from 'node:module';
import type { Dispatcher, Agent as UndiciAgent } from 'undici';
import type { Clock } from '../../core/clock.ts';
import { tlsConnectOptions } from '../tls.ts';
import type { TrafficPlan, TrafficProgress, TrafficResult } from '../types.ts';
import { InFlight, RequestLedger, SendOrder } from './ledger.ts';

// Only undici's Agent: `import 'undici'` also loads fetch, WebSocket, the caches and the mocks,
// ~8 MB more RSS for a process that runs just the driver. undici is pinned; this path is its own.
const Agent = createRequire(import.meta.url)('undici/lib/dispatcher/agent.js') as typeof UndiciAgent;

/** What the driver needs besides the plan. */
export interface BuiltinDriverDeps {
  /** A real-time clock (scale 1): traffic rates are real. */
  clock: Clock;
  signal?: AbortSignal;
  /** Ends the run early as complete: planned becomes the requests due until then. */
  stop?: AbortSignal;
  onProgress?: (progress: TrafficProgress) => void;
  /** Keep at most this many failed-request records (counts stay exact). Default 100 000. */
  maxFailureRecords?: number;
  /** Keep the send times of at most this many requests cut at the stop (the count stays exact). Default 10 000. */
  maxCutRecords?: number;
}

/** Picks paths by weight, deterministically spread (no randomness needed for a fixed mix). */
export function mixPicker(mix: TrafficPlan['mix']): (n: number) => string {
  const total = mix.reduce((s, m) => s + m.weight, 0);
  if (!mix.length || !(total > 0)) return () => '/';
  // Smooth weighted round robin: request n gets the entry whose share is most behind.
  const current = mix.map(() => 0);
  const sequence: string[] = [];
  const period = Math.min(1000, Math.round(total * 100));
  for (let i = 0; i < period; i++) {
    let best = 0;
    for (let j = 0; j < mix.length; j++) {
      current[j] += mix[j].weight;
      if (current[j] > current[best]) best = j;
    }
    current[best] -= total;
    sequence.push(mix[best].path);
  }
  return (n) => sequence[n % sequence.length];
}

/** Runs the plan and resolves with exact counts when every request has finished. */
export async function runBuiltinTraffic(plan: TrafficPlan, deps: BuiltinDriverDeps): Promise<TrafficResult> {
  const { clock } = deps;
  let planned = Math.round(plan.rate * plan.durationSeconds);
  // The driver times requests out itself (the sweep below), so undici's own headers and body
  // timeouts are off: they would otherwise start and clear two timers per request, and end a
  // request whose timeout is above their 300 s with their error code instead of `timeout`.
  // undici closes a connection after one response when the server's Keep-Alive timeout is within
  // `keepAliveTimeoutThreshold` (2 s by default) — as the twin's ALB says at fast time scales (its 60 s
  // idle timeout is 2.4 real s at 0.04): a new connection per request. k6 (Go) keeps connections until
  // the server closes them; 250 ms is margin enough against the server's own close.
  const dispatcher = new Agent({
    connections: 512,
    pipelining: 1,
    keepAliveTimeout: 4000,
    keepAliveTimeoutThreshold: 250,
    headersTimeout: 0,
    bodyTimeout: 0,
    connect: { timeout: plan.timeoutSeconds * 1000, ...tlsConnectOptions(plan.tls) },
  });
  const pick = mixPicker(plan.mix);
  // A rule's host: undici also sends it as the TLS server name unless `tls.servername` says otherwise.
  const headers = plan.userAgent || plan.hostHeader ? { ...(plan.userAgent ? { 'user-agent': plan.userAgent } : {}), ...(plan.hostHeader ? { host: plan.hostHeader } : {}) } : undefined;
  const base = plan.url.replace(/\/$/, '');
  const target = requestTargets(base, headers);
  const ledger = new RequestLedger(deps.maxFailureRecords, deps.maxCutRecords);
  const { progress } = ledger;
  const timeoutMs = plan.timeoutSeconds * 1000;
  // Requests sent, in send order (so also in timeout order); finished ones leave when they reach
  // the head. Timed out and not yet finished (still waiting for a connection): `expired`.
  const pending = new SendOrder();
  const expired = new Set<InFlight>();
  const startedAt = clock.now();
  let sent = 0;
  let inFlight = 0;
  let incomplete: string | undefined;
  let scheduleDone = false;
  let drained: () => void = () => {};
  const allDone = new Promise<void>((resolve) => (drained = resolve));

  const finish = (request: InFlight, status: number | undefined, error: string | undefined) => {
    if (request.ended) expired.delete(request);
    inFlight--;
    ledger.record(request, clock.now(), status, error);
    if (inFlight === 0 && scheduleDone) drained();
  };

  const fire = (n: number) => {
    const path = pick(n);
    const request = new InFlight(clock.now(), path, finish);
    sent++;
    inFlight++;
    progress.sent = sent;
    pending.push(request);
    dispatcher.dispatch(target(path), request);
  };

  // Times out what is overdue: the oldest requests are at the head.
  const sweep = (now: number) => {
    for (let request = pending.oldest(); request; request = pending.oldest()) {
      if (!request.done) {
        if (request.sentAt + timeoutMs > now) break;
        request.end('timeout');
        if (!request.done) expired.add(request);
      }
      pending.shift();
    }
  };

  let ticker: { cancel(): void } | undefined;
  await new Promise<void>((resolve) => {
    let next = 0;
    const tick = () => {
      const now = clock.now();
      if (!scheduleDone) {
        if (deps.signal?.aborted) {
          incomplete = `aborted after ${next} of ${planned} requests`;
          scheduleDone = true;
          return resolve();
        }
        if (deps.stop?.aborted) {
          // Stopped on purpose: what was due until the last tick (at most 5 ms ago) is the plan.
          planned = next;
          scheduleDone = true;
          return resolve();
        }
        const due = Math.min(planned, Math.floor(((now - startedAt) / 1000) * plan.rate) + 1);
        while (next < due) fire(next++);
        deps.onProgress?.(progress);
        if (next >= planned) {
          scheduleDone = true;
          resolve();
        }
      }
      sweep(now);
      if (scheduleDone && inFlight === 0) ticker?.cancel();
    };
    // One interval sends what is due and times out what is overdue, until the last request ends.
    ticker = clock.setInterval(tick, 5);
    tick();
  });
  // Stopped or aborted: what is still in flight is cut now, not waited for (up to the timeout).
  if (deps.stop?.aborted || deps.signal?.aborted) {
    for (const request of [...pending.toArray(), ...expired]) if (!request.done) request.end('cut');
  }
  if (inFlight > 0) await allDone;
  ticker?.cancel();
  await dispatcher.close().catch(() => {});
  deps.onProgress?.(progress);
  return { driver: 'builtin', planned, sent, ...ledger.counts(startedAt), startedAt, endedAt: clock.now(), scheduleOrigin: startedAt, ...(incomplete ? { incomplete } : {}) };
}

/**
 * The request each mix path makes, worked out once per path (origin, path and query as undici's
 * `request` gets them from `base + path`) and shared by its requests: undici only reads it.
 */
function requestTargets(base: string, headers: Record<string, string> | undefined): (path: string) => Dispatcher.DispatchOptions {
  const known = new Map<string, Dispatcher.DispatchOptions>();
  return (path) => {
    let options = known.get(path);
    if (!options) {
      const url = URL.canParse(base + path) ? new URL(base + path) : undefined;
      // Not a URL: undici refuses it and the request counts as a network error, as before.
      const to = url ? { origin: url.origin, path: url.pathname + url.search } : { origin: base, path };
      options = { ...to, method: 'GET', ...(headers ? { headers } : {}) };
      known.set(path, options);
    }
    return options;
  };
}
