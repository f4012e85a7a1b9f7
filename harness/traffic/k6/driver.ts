/**
 * The k6 traffic driver: runs `k6 run` as a child process, streams its NDJSON stdout through the
 * parser while it runs, keeps the last stderr lines for error messages, and maps k6's exit code to
 * a result (0, 99, an abort) or a typed environment error (a broken script, config, or binary).
 */
import { execa } from 'execa';
import type { Clock, Timer } from '../../core/clock.ts';
import { EnvironmentError } from '../../core/errors.ts';
import { dueUntil } from '../timing.ts';
import type { TrafficPlan, TrafficProgress, TrafficResult } from '../types.ts';
import { buildK6Args, checkK6Version, parseK6Version, type K6Version } from './args.ts';
import { consumeK6Output, k6ScheduleOrigin, K6OutputAggregator } from './parse.ts';

/** What an exit code means for the harness: the counts are a result, or k6 failed to give any. */
export type K6ExitKind = 'result' | 'error';

/**
 * k6's exit codes (errext/exitcodes in the k6 source), by number. A result keeps its counts
 * (99: thresholds failed; 105: our own stop, or an interruption from outside; 103: someone
 * stopped k6 through its REST API; 110: the script marked the test failed); an error yields no
 * usable counts (a broken script or config, a crash, a k6 that cannot start).
 */
export const k6ExitCodes: Readonly<Record<number, { name: string; kind: K6ExitKind }>> = {
  0: { name: 'ok', kind: 'result' },
  97: { name: 'cloud test run failed', kind: 'error' },
  98: { name: 'cloud progress unavailable', kind: 'error' },
  99: { name: 'thresholds failed', kind: 'result' },
  100: { name: 'setup() timed out', kind: 'error' },
  101: { name: 'teardown() timed out', kind: 'error' },
  102: { name: 'timed out', kind: 'error' },
  103: { name: 'stopped through the REST API', kind: 'result' },
  104: { name: 'invalid config or script options', kind: 'error' },
  105: { name: 'aborted by a signal', kind: 'result' },
  106: { name: 'cannot start the REST API', kind: 'error' },
  107: { name: 'script exception', kind: 'error' },
  108: { name: 'script aborted (test.abort())', kind: 'error' },
  109: { name: 'k6 crashed (Go panic)', kind: 'error' },
  110: { name: 'marked as failed (exec.test.fail())', kind: 'result' },
  // An error without a code of its own (os.Exit(-1)): an unknown flag, an unknown command.
  255: { name: 'rejected its command line', kind: 'error' },
};

/** What the k6 driver needs besides the plan. */
export interface K6DriverDeps {
  /** The k6 binary (see `findK6`). */
  k6Path: string;
  /** The k6 script (see `defaultK6Script`). */
  script: string;
  /** The k6 release (see `readK6Version`); read from `k6 version` when not given. */
  version?: K6Version;
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
  /** Keep the send times of at most this many requests cut at the stop (the count stays exact). Default 10 000. */
  maxCutRecords?: number;
  /** Stderr lines kept for messages. Default 20. */
  stderrTailLines?: number;
  preAllocatedVUs?: number;
  maxVUs?: number;
}

/** A TrafficResult with what only k6 can tell. */
export interface K6TrafficResult extends TrafficResult {
  driver: 'k6';
  /** The k6 release that ran, e.g. `v0.48.0`. */
  k6Version: string;
  /** k6's exit code; undefined when it was killed by a signal. */
  exitCode?: number;
  /** What the exit code means (see `k6ExitCodes`). */
  exitReason?: string;
  /** k6 exited 99: a threshold in the script failed. The counts are still complete. */
  thresholdsFailed: boolean;
  /** k6 exited 110: the script called exec.test.fail(). The counts are still complete. */
  markedFailed: boolean;
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

/** What `readK6Version` needs besides the binary. */
export interface K6VersionDeps {
  clock: Clock;
  env?: Record<string, string | undefined>;
  /** Default 15 000 ms. */
  timeoutMs?: number;
}

/** Runs `k6 version` and parses it; throws an EnvironmentError when k6 is missing, broken or older than v0.45. */
export async function readK6Version(k6Path: string, deps: K6VersionDeps): Promise<K6Version> {
  const subprocess = execa(k6Path, ['version'], {
    env: deps.env ?? process.env,
    extendEnv: false,
    reject: false,
    stdin: 'ignore',
    forceKillAfterDelay: false,
  });
  const timer = deps.clock.setTimeout(() => subprocess.kill('SIGKILL'), deps.timeoutMs ?? 15_000);
  try {
    const outcome = await subprocess;
    if (outcome.failed && outcome.exitCode === undefined && !outcome.signal) {
      const code = (outcome.cause as NodeJS.ErrnoException | undefined)?.code ?? outcome.code;
      if (code === 'ENOENT') throw new EnvironmentError(`k6 not found at ${k6Path}; install k6 or use driver: builtin`, { cause: outcome.cause });
      if (code === 'EACCES') {
        throw new EnvironmentError(`k6 at ${k6Path} is not executable (EACCES); fix its permissions or use driver: builtin`, { cause: outcome.cause });
      }
      throw new EnvironmentError(`Expected k6 at ${k6Path} to start, got ${outcome.shortMessage}`, { cause: outcome.cause });
    }
    if (outcome.exitCode !== 0) {
      const stderr = String(outcome.stderr ?? '').trim().split('\n').slice(-5).join('\n');
      throw new EnvironmentError(
        `Expected \`${k6Path} version\` to exit 0, got ${outcome.signal ?? outcome.exitCode}${stderr ? `; stderr:\n  ${stderr}` : ''}`,
      );
    }
    const version = parseK6Version(String(outcome.stdout ?? ''));
    checkK6Version(version);
    return version;
  } finally {
    timer.cancel();
  }
}

/** Runs the plan with k6 and resolves with exact counts when k6 has exited. */
export async function runK6Traffic(plan: TrafficPlan, deps: K6DriverDeps): Promise<K6TrafficResult> {
  const { clock } = deps;
  let planned = Math.round(plan.rate * plan.durationSeconds);
  const aggregator = new K6OutputAggregator({ maxFailureRecords: deps.maxFailureRecords, maxCutRecords: deps.maxCutRecords });
  const stderrTail: string[] = [];
  const spawnedAt = clock.now();
  let version = deps.version;
  let stoppedByUs = false;
  const build = (exitCode: number | undefined, incomplete: string | undefined): K6TrafficResult => {
    const agg = aggregator.result();
    if (stoppedByUs && !incomplete) {
      // Ended early on purpose: the plan is what was due from the scenario's start (as k6 reports
      // it, so k6's start-up is not counted as missed traffic) to the stop (k6's last Point).
      const start = agg.scenarioStartedAt;
      const end = agg.endedAt;
      planned = start === undefined || end === undefined ? 0 : dueUntil(start, end, plan.rate, planned);
    }
    const origin = k6ScheduleOrigin(agg);
    return {
      driver: 'k6',
      k6Version: version?.text ?? 'unknown',
      planned,
      sent: agg.sent,
      byStatus: agg.byStatus,
      networkErrors: agg.networkErrors,
      cutAtStop: agg.cutAtStop,
      series: agg.series,
      failures: agg.failures,
      startedAt: agg.startedAt ?? spawnedAt,
      timings: agg.timings,
      ...(origin !== undefined ? { scheduleOrigin: origin } : {}),
      endedAt: agg.endedAt ?? clock.now(),
      ...(incomplete ? { incomplete } : {}),
      ...(exitCode !== undefined ? { exitCode, exitReason: k6ExitCodes[exitCode]?.name ?? 'unknown exit code' } : {}),
      thresholdsFailed: exitCode === 99,
      markedFailed: exitCode === 110,
      droppedIterations: agg.droppedIterations,
      malformedLines: agg.malformed,
      stderrTail: [...stderrTail],
    };
  };
  if (deps.signal?.aborted) return build(undefined, `aborted before k6 started (0 of ${planned} requests)`);
  version ??= await readK6Version(deps.k6Path, { clock, env: deps.env });

  const invocation = buildK6Args(plan, {
    version,
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
  const onStop = () => {
    if (stopReason || stoppedByUs || subprocess.exitCode !== null || subprocess.pid === undefined) return;
    stoppedByUs = true;
    // k6 ends a run on SIGINT (exit 105) and flushes its output; requests in flight are dropped
    // from its request metrics and found again as cutAtStop (see parse.ts).
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
    if (outcome.signal) {
      stoppedByUs = false;
      return build(undefined, `k6 was killed by ${outcome.signal} after ${sentSoFar}`);
    }
    const code = outcome.exitCode ?? -1;
    const meaning = k6ExitCodes[code];
    if (meaning?.kind === 'result') {
      // Our own SIGINT is the normal stop; the same code without it came from someone else.
      if (code === 105 && !stoppedByUs) return build(105, `k6 was interrupted from outside after ${sentSoFar}`);
      if (code === 103) return build(103, `k6 was stopped through its REST API after ${sentSoFar}`);
      return build(code, undefined);
    }
    stoppedByUs = false;
    throw new K6RunError(
      `Expected k6 (${version.text}) to exit with a result (0, 99, 110, or 105 after our stop), got ${outcome.exitCode} (${meaning?.name ?? 'unknown exit code'})${tailText(stderrTail)}`,
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
