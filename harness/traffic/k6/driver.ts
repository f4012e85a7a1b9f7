/**
 * The k6 traffic driver: runs `k6 run` as a child process, streams its NDJSON stdout through the
 * parser while it runs, keeps the last stderr lines for error messages, and maps k6's exit code to
 * a result (0, 99, an abort) or a typed environment error (a broken script, config, or binary).
 */
import { execa } from 'execa';
import type { Clock, Timer } from '../../core/clock.ts';
import { EnvironmentError } from '../../core/errors.ts';
import type { TrafficPlan, TrafficProgress, TrafficResult } from '../types.ts';
import { buildK6Args } from './args.ts';
import { consumeK6Output, K6OutputAggregator } from './parse.ts';

/** k6's exit codes (errext/exitcodes in the k6 source), by number. */
export const k6ExitCodes: Readonly<Record<number, string>> = {
  0: 'ok',
  97: 'cloud test run failed',
  98: 'cloud progress unavailable',
  99: 'thresholds failed',
  100: 'setup timeout',
  101: 'teardown timeout',
  102: 'timeout',
  103: 'engine error',
  104: 'invalid config or script options',
  105: 'aborted from outside',
  106: 'cannot start the REST API',
  107: 'script exception',
  108: 'script aborted (test.abort())',
  109: 'k6 crashed',
  110: 'marked as failed',
};

/** What the k6 driver needs besides the plan. */
export interface K6DriverDeps {
  /** The k6 binary (see `findK6`). */
  k6Path: string;
  /** The k6 script (see `defaultK6Script`). */
  script: string;
  /** A real-time clock (scale 1): traffic rates are real; also runs the kill grace and the bound. */
  clock: Clock;
  signal?: AbortSignal;
  /** Ends the run early as complete (SIGINT; k6 finishes in-flight requests): planned becomes the requests due until then. */
  stop?: AbortSignal;
  onProgress?: (progress: TrafficProgress) => void;
  /** Value of the `cell` tag on every request. */
  cell?: string;
  /** The child's environment; default this process's. */
  env?: Record<string, string | undefined>;
  /** Time between SIGTERM and SIGKILL when stopping k6. Default 10 000 ms. */
  killGraceMs?: number;
  /** Extra time past duration + timeout before k6 is stopped as overrunning. Default 60 000 ms. */
  boundSlackMs?: number;
  /** Keep at most this many failed-request records (counts stay exact). Default 100 000. */
  maxFailureRecords?: number;
  /** Stderr lines kept for messages. Default 20. */
  stderrTailLines?: number;
  preAllocatedVUs?: number;
  maxVUs?: number;
}

/** A TrafficResult with what only k6 can tell. */
export interface K6TrafficResult extends TrafficResult {
  driver: 'k6';
  /** k6's exit code; undefined when it was killed by a signal. */
  exitCode?: number;
  /** k6 exited 99: a threshold in the script failed. The counts are still complete. */
  thresholdsFailed: boolean;
  /** Iterations k6 could not start for lack of VUs: planned, never sent. */
  droppedIterations: number;
  /** Output lines that were not k6 JSON (count and the first few). */
  malformedLines: { count: number; samples: string[] };
  /** The last lines k6 wrote to stderr. */
  stderrTail: string[];
}

/** k6 ran but failed in a way that yields no usable result (bad script, bad config, crash). */
export class K6RunError extends EnvironmentError {
  constructor(
    message: string,
    readonly exitCode: number | undefined,
    readonly stderrTail: readonly string[],
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** Keeps the last `max` lines of a stream without holding the rest. */
async function tailLines(source: AsyncIterable<string | Uint8Array> | null | undefined, max: number, into: string[]): Promise<void> {
  if (!source) return;
  const decoder = new TextDecoder();
  let partial = '';
  const push = (line: string) => {
    if (!line.trim()) return;
    into.push(line.length > 500 ? `${line.slice(0, 500)}…` : line);
    if (into.length > max) into.shift();
  };
  for await (const chunk of source) {
    const text = partial + (typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true }));
    const parts = text.split('\n');
    partial = parts.pop() ?? '';
    // A runaway line without newlines must not grow without bound either.
    if (partial.length > 64 * 1024) partial = partial.slice(-64 * 1024);
    for (const p of parts) push(p.replace(/\r$/, ''));
  }
  push(partial + decoder.decode());
}

function tailText(lines: readonly string[]): string {
  return lines.length ? `; last stderr lines:\n${lines.map((l) => `  ${l}`).join('\n')}` : '; k6 wrote nothing to stderr';
}

/** Runs the plan with k6 and resolves with exact counts when k6 has exited. */
export async function runK6Traffic(plan: TrafficPlan, deps: K6DriverDeps): Promise<K6TrafficResult> {
  const { clock } = deps;
  let planned = Math.round(plan.rate * plan.durationSeconds);
  const aggregator = new K6OutputAggregator({ maxFailureRecords: deps.maxFailureRecords });
  const stderrTail: string[] = [];
  const spawnedAt = clock.now();
  const build = (exitCode: number | undefined, incomplete: string | undefined, thresholdsFailed = false): K6TrafficResult => {
    const agg = aggregator.result();
    return {
      driver: 'k6',
      planned,
      sent: agg.sent,
      byStatus: agg.byStatus,
      networkErrors: agg.networkErrors,
      series: agg.series,
      failures: agg.failures,
      startedAt: agg.startedAt ?? spawnedAt,
      endedAt: agg.endedAt ?? clock.now(),
      ...(incomplete ? { incomplete } : {}),
      ...(exitCode !== undefined ? { exitCode } : {}),
      thresholdsFailed,
      droppedIterations: agg.droppedIterations,
      malformedLines: agg.malformed,
      stderrTail: [...stderrTail],
    };
  };
  if (deps.signal?.aborted) return build(undefined, `aborted before k6 started (0 of ${planned} requests)`);

  const invocation = buildK6Args(plan, {
    script: deps.script,
    cell: deps.cell,
    k6Path: deps.k6Path,
    preAllocatedVUs: deps.preAllocatedVUs,
    maxVUs: deps.maxVUs,
  });
  const subprocess = execa(invocation.file, invocation.args, {
    env: { ...(deps.env ?? process.env), ...invocation.env },
    extendEnv: false,
    reject: false,
    // Stream, never buffer: k6 writes ~3.5 KB of JSON per request.
    buffer: false,
    stdin: 'ignore',
    // Stopping goes through the injected clock (below), not execa's own timer.
    forceKillAfterDelay: false,
  });

  let stopReason: 'aborted' | 'overran' | undefined;
  let killTimer: Timer | undefined;
  const stop = (reason: 'aborted' | 'overran') => {
    if (stopReason || subprocess.exitCode !== null || subprocess.pid === undefined) return;
    stopReason = reason;
    // k6 stops gracefully on SIGTERM and still flushes its output; SIGKILL if it does not exit.
    subprocess.kill('SIGTERM');
    killTimer = clock.setTimeout(() => subprocess.kill('SIGKILL'), deps.killGraceMs ?? 10_000);
  };
  const onAbort = () => stop('aborted');
  deps.signal?.addEventListener('abort', onAbort, { once: true });
  let stoppedAt: number | undefined;
  const onStop = () => {
    if (stopReason || stoppedAt !== undefined || subprocess.exitCode !== null || subprocess.pid === undefined) return;
    stoppedAt = clock.now();
    // k6 ends a run gracefully on SIGINT (exit 105) and flushes its output.
    subprocess.kill('SIGINT');
    killTimer = clock.setTimeout(() => subprocess.kill('SIGKILL'), deps.killGraceMs ?? 10_000);
  };
  deps.stop?.addEventListener('abort', onStop, { once: true });
  const boundMs = (plan.durationSeconds + plan.timeoutSeconds + 1) * 1000 + (deps.boundSlackMs ?? 60_000);
  const bound = clock.setTimeout(() => stop('overran'), boundMs);
  const progress = deps.onProgress ? clock.setInterval(() => deps.onProgress?.(aggregator.progress), 1000) : undefined;

  try {
    const [outcome] = await Promise.all([
      subprocess,
      consumeK6Output(subprocess.stdout ?? [], aggregator),
      tailLines(subprocess.stderr, deps.stderrTailLines ?? 20, stderrTail),
    ]);
    deps.onProgress?.(aggregator.progress);
    const file = invocation.file;
    if (outcome.failed && outcome.exitCode === undefined && !outcome.signal) {
      const code = (outcome.cause as NodeJS.ErrnoException | undefined)?.code ?? outcome.code;
      if (code === 'ENOENT') {
        throw new EnvironmentError(`k6 not found at ${file}; install k6 or use driver: builtin`, { cause: outcome.cause });
      }
      if (code === 'EACCES') {
        throw new EnvironmentError(`k6 at ${file} is not executable (EACCES); fix its permissions or use driver: builtin`, { cause: outcome.cause });
      }
      throw new EnvironmentError(`Expected k6 at ${file} to start, got ${outcome.shortMessage}`, { cause: outcome.cause });
    }
    const sentSoFar = `${aggregator.progress.sent} of ${planned} requests`;
    if (stopReason === 'aborted') return build(outcome.exitCode, `aborted: k6 stopped after ${sentSoFar}`);
    if (stopReason === 'overran') {
      return build(outcome.exitCode, `k6 ran past its bound of ${Math.round(boundMs / 1000)} s and was stopped after ${sentSoFar}`);
    }
    if (stoppedAt !== undefined && (outcome.exitCode === 105 || outcome.exitCode === 0)) {
      planned = Math.min(planned, Math.round(((stoppedAt - spawnedAt) / 1000) * plan.rate));
      return build(outcome.exitCode, undefined);
    }
    if (outcome.signal) return build(undefined, `k6 was killed by ${outcome.signal} after ${sentSoFar}`);
    if (outcome.exitCode === 0) return build(0, undefined);
    if (outcome.exitCode === 99) return build(99, undefined, true);
    if (outcome.exitCode === 105) return build(105, `k6 was interrupted from outside after ${sentSoFar}`);
    const name = k6ExitCodes[outcome.exitCode ?? -1] ?? 'unknown exit code';
    throw new K6RunError(
      `Expected k6 to exit with 0 or 99, got ${outcome.exitCode} (${name})${tailText(stderrTail)}`,
      outcome.exitCode,
      [...stderrTail],
    );
  } finally {
    deps.signal?.removeEventListener('abort', onAbort);
    deps.stop?.removeEventListener('abort', onStop);
    bound.cancel();
    killTimer?.cancel();
    progress?.cancel();
    // Never leave k6 behind, whatever went wrong above.
    if (subprocess.exitCode === null && subprocess.signalCode === null && subprocess.pid !== undefined) subprocess.kill('SIGKILL');
  }
}
