/**
 * The built-in traffic driver (used when k6 is absent): an open-model constant arrival rate over
 * undici. Request n is sent at start + n/rate whether or not earlier requests have answered, so a
 * hanging backend shows up as timeouts instead of a silently lower rate. Every request is counted
 * exactly once: by status, by network error, or as cut at the stop (in flight when the run was
 * stopped or aborted: cancelled then, as k6 does on SIGINT, and kept with its send time).
 */
import { Agent, request } from 'undici';
import type { Clock } from '../../core/clock.ts';
import { RequestTimings } from '../timing.ts';
import { tlsConnectOptions } from '../tls.ts';
import type { CutAtStop, FailedRequest, SecondBucket, TrafficPlan, TrafficProgress, TrafficResult } from '../types.ts';

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
  const dispatcher = new Agent({ connections: 512, pipelining: 1, keepAliveTimeout: 4000, connect: { timeout: plan.timeoutSeconds * 1000, ...tlsConnectOptions(plan.tls) } });
  const pick = mixPicker(plan.mix);
  // A rule's host: undici also sends it as the TLS server name unless `tls.servername` says otherwise.
  const headers = plan.userAgent || plan.hostHeader ? { ...(plan.userAgent ? { 'user-agent': plan.userAgent } : {}), ...(plan.hostHeader ? { host: plan.hostHeader } : {}) } : undefined;
  const base = plan.url.replace(/\/$/, '');
  const byStatus: Record<string, number> = {};
  const networkErrors: Record<string, number> = {};
  const series: SecondBucket[] = [];
  const failures: FailedRequest[] = [];
  const maxFailures = deps.maxFailureRecords ?? 100_000;
  const maxCuts = deps.maxCutRecords ?? 10_000;
  const cutAtStop: CutAtStop = { count: 0, sentAt: [] };
  const timings = new RequestTimings();
  // Requests sent and not finished, to cut at the stop: each one's send time and its canceller.
  const pending = new Set<{ sentAt: number; cut: () => void }>();
  const progress: TrafficProgress = { sent: 0, fiveXX: 0, networkErrors: 0 };
  const startedAt = clock.now();
  let sent = 0;
  let inFlight = 0;
  let incomplete: string | undefined;

  const bucket = (at: number) => {
    const second = Math.max(0, Math.floor((at - startedAt) / 1000));
    while (series.length <= second) series.push({ second: series.length, byStatus: {}, networkErrors: 0 });
    return series[second];
  };

  let drained: () => void = () => {};
  const allDone = new Promise<void>((resolve) => (drained = resolve));

  const fire = (n: number) => {
    const sentAt = clock.now();
    const path = pick(n);
    sent++;
    inFlight++;
    progress.sent = sent;
    const abort = new AbortController();
    const timer = clock.setTimeout(() => abort.abort(new Error('timeout')), plan.timeoutSeconds * 1000);
    let wasCut = false;
    const entry = {
      sentAt,
      cut: () => {
        wasCut = true;
        abort.abort(new Error('cut at the stop'));
      },
    };
    pending.add(entry);
    const finish = (status: number | undefined, error: string | undefined) => {
      timer.cancel();
      pending.delete(entry);
      if (wasCut) {
        // Neither an answer nor a failure of the target: the run ended under it.
        cutAtStop.count++;
        if (cutAtStop.sentAt.length < maxCuts) cutAtStop.sentAt.push(sentAt);
        inFlight--;
        if (inFlight === 0 && scheduleDone) drained();
        return;
      }
      const b = bucket(sentAt);
      const endedAt = clock.now();
      timings.add(sentAt, endedAt - sentAt, status ?? 0);
      if (status !== undefined) {
        const key = String(status);
        byStatus[key] = (byStatus[key] ?? 0) + 1;
        b.byStatus[key] = (b.byStatus[key] ?? 0) + 1;
        if (status >= 500) progress.fiveXX++;
      } else {
        const code = error ?? 'unknown';
        networkErrors[code] = (networkErrors[code] ?? 0) + 1;
        b.networkErrors++;
        progress.networkErrors++;
      }
      if ((status === undefined || status < 200 || status >= 300) && failures.length < maxFailures) {
        failures.push({ sentAt, endedAt, path, ...(status !== undefined ? { status } : { error }) });
      }
      inFlight--;
      if (inFlight === 0 && scheduleDone) drained();
    };
    request(base + path, { method: 'GET', dispatcher, signal: abort.signal, ...(headers ? { headers } : {}) })
      .then(async (res) => {
        // Read the whole body: a response cut mid-body is a network error, not a success.
        // With the signal, a timeout or a cut while the body is still coming rejects here.
        await res.body.dump({ limit: Infinity, signal: abort.signal });
        finish(res.statusCode, undefined);
      })
      .catch((error: Error & { code?: string }) => {
        const code = abort.signal.aborted ? 'timeout' : (error.code ?? error.name ?? 'error');
        finish(undefined, code);
      });
  };

  let scheduleDone = false;
  await new Promise<void>((resolve) => {
    let next = 0;
    const tick = () => {
      if (deps.signal?.aborted) {
        incomplete = `aborted after ${next} of ${planned} requests`;
        ticker.cancel();
        return resolve();
      }
      if (deps.stop?.aborted) {
        // Stopped on purpose: what was due until the last tick (at most 5 ms ago) is the plan.
        planned = next;
        ticker.cancel();
        return resolve();
      }
      const due = Math.min(planned, Math.floor(((clock.now() - startedAt) / 1000) * plan.rate) + 1);
      while (next < due) fire(next++);
      deps.onProgress?.(progress);
      if (next >= planned) {
        ticker.cancel();
        resolve();
      }
    };
    const ticker = clock.setInterval(tick, 5);
    tick();
  });
  scheduleDone = true;
  // Stopped or aborted: what is still in flight is cut now, not waited for (up to the timeout).
  if (deps.stop?.aborted || deps.signal?.aborted) for (const entry of [...pending]) entry.cut();
  if (inFlight > 0) await allDone;
  cutAtStop.sentAt.sort((a, b) => a - b);
  await dispatcher.close().catch(() => {});
  deps.onProgress?.(progress);
  return { driver: 'builtin', planned, sent, byStatus, networkErrors, cutAtStop, series, failures, startedAt, endedAt: clock.now(), timings, scheduleOrigin: startedAt, ...(incomplete ? { incomplete } : {}) };
}
