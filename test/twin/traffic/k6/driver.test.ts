/**
 * The k6 driver against test/helpers/fake-k6.mjs: a real child process that takes k6's argv and
 * replays real k6 output, exits with a chosen code, or hangs on SIGTERM.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { scaledClock } from '../../../../harness/core/clock.ts';
import { EnvironmentError } from '../../../../harness/core/errors.ts';
import { trafficDrivers } from '../../../../harness/traffic/index.ts';
import { buildK6Args } from '../../../../harness/traffic/k6/args.ts';
import { K6RunError, runK6Traffic, type K6DriverDeps } from '../../../../harness/traffic/k6/driver.ts';
import type { TrafficPlan, TrafficProgress } from '../../../../harness/traffic/types.ts';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const FAKE_K6 = here('../../../helpers/fake-k6.mjs');
const MIXED = here('../../../../fixtures/k6/mixed-status-v0.48.ndjson.gz');
const SMOKE = here('../../../../fixtures/k6/smoke-200-v0.48.ndjson.gz');
const SCRIPT = '/scripts/constant-rate.js';

const plan: TrafficPlan = { url: 'http://127.0.0.1:18601', rate: 100, durationSeconds: 3, timeoutSeconds: 2, mix: [{ path: '/', weight: 1 }] };

let dir: string;
let argvFile: string;

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'fake-k6-'));
  argvFile = path.join(dir, 'argv.json');
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

function recorded(): { pid: number; argv: string[]; env: Record<string, string> } {
  return JSON.parse(readFileSync(argvFile, 'utf8'));
}

afterEach(() => {
  // Whatever a test did, no fake k6 outlives it.
  if (existsSync(argvFile)) {
    const { pid } = recorded();
    if (alive(pid)) process.kill(pid, 'SIGKILL');
  }
  rmSync(dir, { recursive: true, force: true });
});

function deps(fake: Record<string, string>, extra: Partial<K6DriverDeps> = {}): K6DriverDeps {
  return {
    k6Path: FAKE_K6,
    script: SCRIPT,
    clock: scaledClock(1),
    cell: 'demo',
    env: { ...process.env, FAKE_K6_ARGV_FILE: argvFile, ...fake },
    ...extra,
  };
}

/** Waits (bounded) until the fake has recorded its argv, and returns its pid. */
async function fakePid(): Promise<number> {
  for (let i = 0; i < 800 && !existsSync(argvFile); i++) await new Promise((r) => setTimeout(r, 25));
  return recorded().pid;
}

describe('runK6Traffic with a fake k6', () => {
  it('streams real k6 output into exact counts and passes k6 the argv buildK6Args builds', async () => {
    const progress: TrafficProgress[] = [];
    const result = await runK6Traffic(
      plan,
      deps({ FAKE_K6_FIXTURE: MIXED, FAKE_K6_CHUNK_BYTES: '8191', FAKE_K6_DELAY_MS: '5' }, { onProgress: (p) => progress.push({ ...p }) }),
    );
    expect(result.driver).toBe('k6');
    expect(result.planned).toBe(300);
    expect(result.sent).toBe(301);
    expect(result.byStatus).toEqual({ '200': 241, '502': 15, '503': 15, '504': 15 });
    expect(result.networkErrors).toEqual({ '1000 EOF': 15 });
    expect(result.failures).toHaveLength(60);
    expect(result.series.reduce((s, b) => s + Object.values(b.byStatus).reduce((a, c) => a + c, 0) + b.networkErrors, 0)).toBe(301);
    expect(result.exitCode).toBe(0);
    expect(result.thresholdsFailed).toBe(false);
    expect(result.incomplete).toBeUndefined();
    expect(result.malformedLines.count).toBe(0);
    expect(progress.at(-1)).toEqual({ sent: 301, fiveXX: 45, networkErrors: 15 });

    const { argv, env } = recorded();
    expect(argv).toEqual(buildK6Args(plan, { script: SCRIPT, cell: 'demo' }).args);
    expect(argv).toContain('--no-usage-report');
    expect(env.K6_NO_USAGE_REPORT).toBe('true');
  });

  it('returns the counts with a flag when thresholds failed (exit 99)', async () => {
    const result = await runK6Traffic(plan, deps({ FAKE_K6_FIXTURE: SMOKE, FAKE_K6_EXIT: '99', FAKE_K6_STDERR: 'thresholds on metrics http_req_failed have been crossed' }));
    expect(result.thresholdsFailed).toBe(true);
    expect(result.exitCode).toBe(99);
    expect(result.sent).toBe(251);
    expect(result.byStatus).toEqual({ '200': 251 });
    expect(result.incomplete).toBeUndefined();
    expect(result.stderrTail).toEqual(['thresholds on metrics http_req_failed have been crossed']);
  });

  it('throws a typed error with the stderr tail on a script exception (exit 107)', async () => {
    const stderr = Array.from({ length: 30 }, (_, i) => `line ${i}`).join('\n') + '\nReferenceError: TARGETT is not defined at default (file:///scripts/constant-rate.js:12:3)';
    const error = await runK6Traffic(plan, deps({ FAKE_K6_STDERR: stderr, FAKE_K6_EXIT: '107' })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(K6RunError);
    expect(error).toBeInstanceOf(EnvironmentError);
    const k6Error = error as K6RunError;
    expect(k6Error.exitCode).toBe(107);
    expect(k6Error.message).toMatch(/^Expected k6 to exit with 0 or 99, got 107 \(script exception\); last stderr lines:/);
    expect(k6Error.message).toContain('ReferenceError: TARGETT is not defined');
    expect(k6Error.stderrTail).toHaveLength(20);
    expect(k6Error.stderrTail[0]).toBe('line 11');
  });

  it('names an invalid config (exit 104) and says when stderr was empty', async () => {
    const error = (await runK6Traffic(plan, deps({ FAKE_K6_EXIT: '104' })).catch((e: unknown) => e)) as K6RunError;
    expect(error).toBeInstanceOf(K6RunError);
    expect(error.message).toBe('Expected k6 to exit with 0 or 99, got 104 (invalid config or script options); k6 wrote nothing to stderr');
  });

  it('says clearly when the binary is missing', async () => {
    const missing = path.join(dir, 'no-such-k6');
    const error = await runK6Traffic(plan, deps({}, { k6Path: missing })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EnvironmentError);
    expect((error as Error).message).toBe(`k6 not found at ${missing}; install k6 or use driver: builtin`);
  });

  it('stops k6 on abort with SIGTERM and returns what it measured, marked incomplete', async () => {
    const controller = new AbortController();
    const progress: TrafficProgress[] = [];
    const running = runK6Traffic(
      plan,
      deps({ FAKE_K6_FIXTURE: MIXED, FAKE_K6_CHUNK_BYTES: '4096', FAKE_K6_DELAY_MS: '40' }, { signal: controller.signal, onProgress: (p) => progress.push({ ...p }) }),
    );
    const pid = await fakePid();
    expect(alive(pid)).toBe(true);
    // Let some output through first (the fixture takes ~13 s at this pace).
    for (let i = 0; i < 200 && !progress.some((p) => p.sent > 0); i++) await new Promise((r) => setTimeout(r, 50));
    controller.abort();
    const result = await running;
    expect(alive(pid)).toBe(false);
    expect(result.incomplete).toMatch(/^aborted: k6 stopped after \d+ of 300 requests$/);
    expect(result.exitCode).toBe(105);
    expect(result.sent).toBeGreaterThan(0);
    expect(result.sent).toBeLessThan(301);
    const total = Object.values(result.byStatus).reduce((a, b) => a + b, 0) + Object.values(result.networkErrors).reduce((a, b) => a + b, 0);
    expect(total).toBe(result.sent);
  });

  it('ends k6 early with SIGINT on stop and returns a complete result planned up to the stop', async () => {
    const stop = new AbortController();
    const progress: TrafficProgress[] = [];
    const running = runK6Traffic(
      plan,
      deps({ FAKE_K6_FIXTURE: MIXED, FAKE_K6_CHUNK_BYTES: '4096', FAKE_K6_DELAY_MS: '40' }, { stop: stop.signal, onProgress: (p) => progress.push({ ...p }) }),
    );
    const pid = await fakePid();
    for (let i = 0; i < 200 && !progress.some((p) => p.sent > 0); i++) await new Promise((r) => setTimeout(r, 50));
    stop.abort();
    const result = await running;
    expect(alive(pid)).toBe(false);
    expect(result.incomplete).toBeUndefined();
    expect(result.exitCode).toBe(105);
    expect(result.planned).toBeLessThan(300);
    expect(result.sent).toBeGreaterThan(0);
    const total = Object.values(result.byStatus).reduce((a, b) => a + b, 0) + Object.values(result.networkErrors).reduce((a, b) => a + b, 0);
    expect(total).toBe(result.sent);
  });

  it('kills k6 with SIGKILL when it ignores SIGTERM past the grace', async () => {
    const controller = new AbortController();
    const running = runK6Traffic(
      plan,
      deps({ FAKE_K6_FIXTURE: MIXED, FAKE_K6_CHUNK_BYTES: '1024', FAKE_K6_DELAY_MS: '50', FAKE_K6_ON_SIGTERM: 'ignore' }, { signal: controller.signal, killGraceMs: 300 }),
    );
    const pid = await fakePid();
    const abortedAt = Date.now();
    controller.abort();
    const result = await running;
    expect(Date.now() - abortedAt).toBeGreaterThanOrEqual(250);
    expect(alive(pid)).toBe(false);
    expect(result.incomplete).toMatch(/^aborted: k6 stopped after \d+ of 300 requests$/);
    expect(result.exitCode).toBeUndefined();
  });

  it('stops a k6 that runs past duration + timeout + slack', async () => {
    const short = { ...plan, durationSeconds: 0.2, timeoutSeconds: 0.2 };
    const result = await runK6Traffic(short, deps({ FAKE_K6_FIXTURE: MIXED, FAKE_K6_CHUNK_BYTES: '1024', FAKE_K6_DELAY_MS: '50' }, { boundSlackMs: 0, killGraceMs: 500 }));
    expect(alive(recorded().pid)).toBe(false);
    expect(result.incomplete).toMatch(/^k6 ran past its bound of 1 s and was stopped after \d+ of 20 requests$/);
  });

  it('returns an incomplete result when k6 is killed by someone else', async () => {
    const running = runK6Traffic(plan, deps({ FAKE_K6_FIXTURE: MIXED, FAKE_K6_CHUNK_BYTES: '1024', FAKE_K6_DELAY_MS: '50' }));
    process.kill(await fakePid(), 'SIGKILL');
    const result = await running;
    expect(result.incomplete).toMatch(/^k6 was killed by SIGKILL after \d+ of 300 requests$/);
  });

  it('does not start k6 when already aborted', async () => {
    const result = await runK6Traffic(plan, deps({ FAKE_K6_FIXTURE: MIXED }, { signal: AbortSignal.abort() }));
    expect(result.incomplete).toBe('aborted before k6 started (0 of 300 requests)');
    expect(result.sent).toBe(0);
    expect(existsSync(argvFile)).toBe(false);
  });
});

describe('trafficDrivers.k6', () => {
  it('finds k6 through K6_BIN and runs the shipped script', async () => {
    const result = await trafficDrivers.k6.run(plan, {
      clock: scaledClock(1),
      cell: 'demo',
      env: { ...process.env, K6_BIN: FAKE_K6, FAKE_K6_ARGV_FILE: argvFile, FAKE_K6_FIXTURE: SMOKE },
    });
    expect(result.byStatus).toEqual({ '200': 251 });
    expect(recorded().argv.at(-1)).toMatch(/k6-scripts\/constant-rate\.js$/);
  });

  it('fails with the install hint when k6 is nowhere', async () => {
    const error = await trafficDrivers.k6.run(plan, { clock: scaledClock(1), env: { PATH: dir } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EnvironmentError);
    expect((error as Error).message).toBe('k6 not found at k6; install k6 or use driver: builtin');
  });
});
