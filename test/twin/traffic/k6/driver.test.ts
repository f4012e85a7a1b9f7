/**
 * The k6 driver against test/helpers/fake-k6.mjs: a real child process that takes k6's argv and
 * replays real k6 output, exits with a chosen code, or hangs on SIGTERM.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { scaledClock } from '../../../../harness/core/clock.ts';
import { EnvironmentError } from '../../../../harness/core/errors.ts';
import { trafficDrivers } from '../../../../harness/traffic/index.ts';
import { execa } from 'execa';
import { buildK6Args, k6RunFlags, parseK6Version } from '../../../../harness/traffic/k6/args.ts';
import { K6RunError, readK6Version, runK6Traffic, type K6DriverDeps } from '../../../../harness/traffic/k6/driver.ts';
import type { TrafficPlan, TrafficProgress } from '../../../../harness/traffic/types.ts';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const FAKE_K6 = here('../../../helpers/fake-k6.mjs');
const MIXED = here('../../../../fixtures/k6/mixed-status-v0.48.ndjson.gz');
const SMOKE = here('../../../../fixtures/k6/smoke-200-v0.48.ndjson.gz');
const SIGINT = here('../../../../fixtures/k6/sigint-inflight-v0.48.ndjson.gz');
const SCRIPT = '/scripts/constant-rate.js';
const V048 = parseK6Version('k6 v0.48.0 (go1.21.4, linux/amd64)');

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
    expect(result.k6Version).toBe('v0.48.0');
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
    expect(argv).toEqual(buildK6Args(plan, { version: V048, script: SCRIPT, cell: 'demo' }).args);
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
    expect(k6Error.message).toMatch(/^Expected k6 \(v0\.48\.0\) to exit with a result \(0, 99, 110, or 105 after our stop\), got 107 \(script exception\); last stderr lines:/);
    expect(k6Error.message).toContain('ReferenceError: TARGETT is not defined');
    expect(k6Error.stderrTail).toHaveLength(20);
    expect(k6Error.stderrTail[0]).toBe('line 11');
  });

  it('names an invalid config (exit 104) and says when stderr was empty', async () => {
    const error = (await runK6Traffic(plan, deps({ FAKE_K6_EXIT: '104' })).catch((e: unknown) => e)) as K6RunError;
    expect(error).toBeInstanceOf(K6RunError);
    expect(error.message).toBe('Expected k6 (v0.48.0) to exit with a result (0, 99, 110, or 105 after our stop), got 104 (invalid config or script options); k6 wrote nothing to stderr');
  });

  it('fails on the real v0.48 SyntaxError of a post-ES2015 script (exit 107) with k6\'s own message', async () => {
    const stderr = readFileSync(here('../../../../fixtures/k6/object-spread-v0.48.stderr.txt'), 'utf8');
    const error = (await runK6Traffic(plan, deps({ FAKE_K6_STDERR: stderr, FAKE_K6_EXIT: '107' })).catch((e: unknown) => e)) as K6RunError;
    expect(error).toBeInstanceOf(K6RunError);
    expect(error.exitCode).toBe(107);
    expect(error.message).toContain('got 107 (script exception)');
    expect(error.message).toContain('SyntaxError: file://./k6-scripts/constant-rate.js: Unexpected token (97:2)');
  });

  it.each([
    [110, { markedFailed: true, thresholdsFailed: false, exitReason: 'marked as failed (exec.test.fail())' }, undefined],
    [99, { markedFailed: false, thresholdsFailed: true, exitReason: 'thresholds failed' }, undefined],
    [103, { exitReason: 'stopped through the REST API' }, /^k6 was stopped through its REST API after 251 of 300 requests$/],
    [105, { exitReason: 'aborted by a signal' }, /^k6 was interrupted from outside after 251 of 300 requests$/],
  ])('keeps the counts of exit %i as a result', async (code, fields, incomplete) => {
    const result = await runK6Traffic(plan, deps({ FAKE_K6_FIXTURE: SMOKE, FAKE_K6_EXIT: String(code) }));
    expect(result.exitCode).toBe(code);
    expect(result).toMatchObject(fields);
    expect(result.sent).toBe(251);
    if (incomplete) expect(result.incomplete).toMatch(incomplete);
    else expect(result.incomplete).toBeUndefined();
  });

  it.each([
    [97, 'cloud test run failed'],
    [98, 'cloud progress unavailable'],
    [100, 'setup() timed out'],
    [101, 'teardown() timed out'],
    [102, 'timed out'],
    [106, 'cannot start the REST API'],
    [108, 'script aborted (test.abort())'],
    [109, 'k6 crashed (Go panic)'],
    [3, 'unknown exit code'],
  ])('throws on exit %i (%s) with the stderr tail', async (code, name) => {
    const error = (await runK6Traffic(plan, deps({ FAKE_K6_FIXTURE: SMOKE, FAKE_K6_EXIT: String(code), FAKE_K6_STDERR: `fatal ${code}` })).catch((e: unknown) => e)) as K6RunError;
    expect(error).toBeInstanceOf(K6RunError);
    expect(error.exitCode).toBe(code);
    expect(error.message).toBe(`Expected k6 (v0.48.0) to exit with a result (0, 99, 110, or 105 after our stop), got ${code} (${name}); last stderr lines:\n  fatal ${code}`);
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

  it('reproduces the real SIGINT stop exactly: 118 sent = 46 answered + 72 cut at the stop, planned from the scenario start', async () => {
    const stop = new AbortController();
    const ready = path.join(dir, 'ready');
    const running = runK6Traffic(
      { ...plan, rate: 50, durationSeconds: 30, timeoutSeconds: 10 },
      deps({ FAKE_K6_FIXTURE: SIGINT, FAKE_K6_UNTIL_SIGINT: '1', FAKE_K6_READY_FILE: ready }, { stop: stop.signal }),
    );
    for (let i = 0; i < 800 && !existsSync(ready); i++) await new Promise((r) => setTimeout(r, 25));
    const pid = Number(readFileSync(ready, 'utf8'));
    stop.abort();
    const result = await running;
    expect(alive(pid)).toBe(false);
    expect(result.exitCode).toBe(105);
    expect(result.incomplete).toBeUndefined();
    expect(result.sent).toBe(118);
    expect(result.byStatus).toEqual({ '200': 46 });
    expect(result.networkErrors).toEqual({});
    expect(result.cutAtStop.count).toBe(72);
    expect(result.cutAtStop.sentAt).toHaveLength(72);
    expect(result.cutAtStop.sentAt[0]).toBe(1796151156921);
    expect(46 + 0 + result.cutAtStop.count).toBe(result.sent);
    // Due from the first iteration (35.261) to k6's last Point (38.888) at 50/s: 182 = 118 sent + 64 dropped.
    expect(result.planned).toBe(182);
    expect(result.droppedIterations).toBe(64);
    expect(result.planned).toBe(result.sent + result.droppedIterations);
    expect(result.stderrTail).toEqual([expect.stringContaining("test run was aborted because k6 received a 'interrupt' signal")]);
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

describe('k6 across versions (the fake plays each major release)', () => {
  const releases = [
    ['0.45.0', ['--no-summary', '--address']],
    ['0.48.0', ['--no-summary', '--address']],
    ['1.2.3', ['--no-summary', '--address']],
    ['1.3.0', ['--summary-mode=disabled', '--address']],
    ['2.0.0', ['--summary-mode=disabled']],
  ] as const;

  it.each(releases)('reads k6 v%s and runs it with its own flags, cleanly', async (release, expected) => {
    const result = await runK6Traffic(plan, deps({ FAKE_K6_VERSION: release, FAKE_K6_FIXTURE: SMOKE }));
    expect(result.k6Version).toBe(`v${release}`);
    expect(result.exitCode).toBe(0);
    expect(result.byStatus).toEqual({ '200': 251 });
    // No "unknown flag", no deprecation warning.
    expect(result.stderrTail).toEqual([]);
    const { argv } = recorded();
    expect(argv.slice(1, 1 + k6RunFlags(parseK6Version(`k6 v${release}`)).length)).toEqual(k6RunFlags(parseK6Version(`k6 v${release}`)));
    for (const flag of expected) expect(argv).toContain(flag);
    if (release.startsWith('2.')) expect(argv).not.toContain('--address');
  });

  it.each([
    ['2.0.0', ['run', '--no-summary', 's.js'], 'unknown flag: --no-summary'],
    ['0.48.0', ['run', '--summary-mode=disabled', 's.js'], 'unknown flag: --summary-mode'],
    ['1.2.3', ['run', '--summary-mode=disabled', 's.js'], "invalid summary mode 'disabled'"],
    ['2.0.0', ['run', '--summary-mode', 'legacy', 's.js'], "invalid summary mode 'legacy'"],
  ])('the fake k6 v%s rejects %j as that release does (exit 255)', async (release, argv, message) => {
    const outcome = await execa(FAKE_K6, argv, { env: { ...process.env, FAKE_K6_VERSION: release, FAKE_K6_ARGV_FILE: argvFile }, reject: false, stdin: 'ignore' });
    expect(outcome.exitCode).toBe(255);
    expect(outcome.stderr).toMatch(/^time="[^"]+" level=error msg=/);
    expect(outcome.stderr).toContain(message);
  });

  it('the fake k6 v1.3 warns that --no-summary is deprecated', async () => {
    const outcome = await execa(FAKE_K6, ['run', '--no-summary', 's.js'], { env: { ...process.env, FAKE_K6_VERSION: '1.3.0', FAKE_K6_ARGV_FILE: argvFile }, reject: false, stdin: 'ignore' });
    expect(outcome.exitCode).toBe(0);
    expect(outcome.stderr).toBe('Flag --no-summary has been deprecated, use --summary-mode=disabled instead');
  });

  it('maps the argv of the wrong release to an error with k6\'s message (exit 255)', async () => {
    const error = (await runK6Traffic(plan, deps({ FAKE_K6_VERSION: '2.0.0', FAKE_K6_FIXTURE: SMOKE }, { version: V048 })).catch((e: unknown) => e)) as K6RunError;
    expect(error).toBeInstanceOf(K6RunError);
    expect(error.exitCode).toBe(255);
    expect(error.message).toMatch(/got 255 \(rejected its command line\); last stderr lines:\n {2}time="[^"]+" level=error msg="unknown flag: --no-summary"$/);
  });

  it.each([
    ['0.48.0', 'v0.48.0'],
    ['1.0.0-rc1', 'v1.0.0-rc1'],
    ['2.3.0', 'v2.3.0'],
  ])('readK6Version reads the fake k6 v%s', async (release, text) => {
    const version = await readK6Version(FAKE_K6, { clock: scaledClock(1), env: { ...process.env, FAKE_K6_VERSION: release } });
    expect(version.text).toBe(text);
  });

  it.each([
    ['k6-v0.48.0', '0.48.0', 'v0.48.0'],
    ['k6-linux-amd64', '1.2.3', 'v1.2.3'],
    ['k6-v2.0.0', '2.0.0', 'v2.0.0'],
  ])('readK6Version reads a k6 kept under another file name (%s), which prints that name first', async (name, release, text) => {
    // The binary under that name: it prints the name it was started as, as k6 does.
    const renamed = path.join(dir, name);
    writeFileSync(renamed, `#!/bin/sh\nFAKE_K6_NAME="$(basename "$0")" exec ${JSON.stringify(process.execPath)} ${JSON.stringify(FAKE_K6)} "$@"\n`, { mode: 0o755 });
    const printed = await execa(renamed, ['version'], { env: { ...process.env, FAKE_K6_VERSION: release } });
    expect(printed.stdout.startsWith(`${name} v${release} (`)).toBe(true);
    const version = await readK6Version(renamed, { clock: scaledClock(1), env: { ...process.env, FAKE_K6_VERSION: release } });
    expect(version.text).toBe(text);
  });

  it('refuses a k6 that is too old, or whose version it cannot read, before running it', async () => {
    const tooOld = await runK6Traffic(plan, deps({ FAKE_K6_VERSION: '0.44.0', FAKE_K6_FIXTURE: SMOKE })).catch((e: unknown) => e);
    expect(tooOld).toBeInstanceOf(EnvironmentError);
    expect((tooOld as Error).message).toBe('Expected k6 v0.45 or newer (the script records send times with exec.vu.metrics.metadata), got v0.44.0; upgrade k6 or use driver: builtin');
    const garbled = await runK6Traffic(plan, deps({ FAKE_K6_VERSION_OUTPUT: 'hello\n', FAKE_K6_FIXTURE: SMOKE })).catch((e: unknown) => e);
    expect((garbled as Error).message).toBe('Expected `k6 version` to print "<binary name> vMAJOR.MINOR.PATCH (…)" (e.g. "k6 v1.0.0 (commit/…, go1.24.2, linux/amd64)"), got "hello"');
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
