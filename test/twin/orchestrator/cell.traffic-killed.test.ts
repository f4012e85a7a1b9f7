/**
 * Traffic that dies mid-cell makes the cell invalid, with the reason — never "0 errors". The k6
 * driver runs the fake k6 (a real child process); the test kills it by PID during the cell. So does
 * traffic that stalls in the disruption window and catches up later (every request sent, achieved
 * 100 %): the built-in driver's process is blocked for 2.5 s, as a Ctrl-Z … fg of the run would.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { connectTarget } from '../../../harness/cli/connect.ts';
import { runMatrix } from '../../../harness/orchestrator/run.ts';
import { loadSpec } from '../../../harness/matrix/load.ts';
import { renderCellDetails } from '../../../harness/report/markdown.ts';
import { stallsWithin } from '../../../harness/twin/thread/stall.ts';
import { testTwinConfig } from '../../helpers/twin.ts';
import type { Stage } from '../../../harness/orchestrator/cell.ts';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
let dir: string | undefined;
let fakePid: number | undefined;

afterAll(async () => {
  if (fakePid) {
    try {
      process.kill(fakePid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('a cell whose traffic is killed', () => {
  it('is invalid and says why', async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'rh-kill-'));
    await writeFile(path.join(dir, 'twin.yaml'), stringify(await testTwinConfig({ noPdb: true })));
    await writeFile(
      path.join(dir, 'spec.yaml'),
      stringify({
        name: 'kill',
        target: { twin: { config: path.join(dir, 'twin.yaml') } },
        traffic: { driver: 'k6', rate: 20, warmupSeconds: 5, cooldownSeconds: 5 },
        matrix: { readinessGate: [false], preStopSeconds: [5], terminationGracePeriodSeconds: [30], deregistrationDelaySeconds: [30] },
        disruptions: ['rollout'],
      }),
    );
    const argvFile = path.join(dir, 'k6-argv.json');
    const env = {
      ...process.env,
      K6_BIN: here('../../helpers/fake-k6.mjs'),
      FAKE_K6_FIXTURE: here('../../../fixtures/k6/mixed-status-v0.48.ndjson.gz'),
      FAKE_K6_CHUNK_BYTES: '2048',
      FAKE_K6_DELAY_MS: '100',
      FAKE_K6_ARGV_FILE: argvFile,
    };
    const killer = (async () => {
      for (let i = 0; i < 600 && !existsSync(argvFile); i++) await new Promise((r) => setTimeout(r, 50));
      fakePid = (JSON.parse(readFileSync(argvFile, 'utf8')) as { pid: number }).pid;
      await new Promise((r) => setTimeout(r, 300));
      process.kill(fakePid, 'SIGKILL');
    })();
    const outcome = await runMatrix({
      loaded: await loadSpec(path.join(dir, 'spec.yaml')),
      connect: connectTarget,
      resultsDir: dir,
      runId: 'kill',
      signal: new AbortController().signal,
      env,
      progress: { info: () => {}, cellStart: () => {}, stage: () => {}, traffic: () => {}, cellDone: () => {} },
    });
    await killer;
    const [cell] = outcome.results;
    expect(cell.driver).toBe('k6');
    expect(cell.valid).toBe(false);
    expect(cell.invalidReason).toMatch(/traffic incomplete: k6 was killed by SIGKILL after \d+ of \d+ requests/);
    expect(outcome.report).toContain('INVALID [1]');
    expect(outcome.report).toContain('Invalid cells (not counted as 0)');
  });
});

describe('a cell whose driver stalls in the disruption window', () => {
  it('is invalid: "the driver fell behind", though every request was sent; and a twin stall of 5 model s there is named too', async () => {
    const stallDir = await mkdtemp(path.join(os.tmpdir(), 'rh-stall-'));
    try {
      await writeFile(path.join(stallDir, 'twin.yaml'), stringify(await testTwinConfig({ noPdb: true })));
      await writeFile(
        path.join(stallDir, 'spec.yaml'),
        stringify({
          name: 'stall',
          target: { twin: { config: path.join(stallDir, 'twin.yaml') } },
          traffic: { driver: 'builtin', rate: 50, warmupSeconds: 5, cooldownSeconds: 5 },
          matrix: { readinessGate: [false], preStopSeconds: [0], terminationGracePeriodSeconds: [30], deregistrationDelaySeconds: [30] },
          disruptions: ['rollout'],
        }),
      );
      // 200 ms into the disrupt stage, the whole process (driver, twin, cell) stops for 2.5 s: the
      // driver's next tick sends the backlog in one burst.
      let disruptAt: number | undefined;
      let stalled = 0;
      // When the cell had stopped its traffic (its collect stage), in model ms.
      let collectAt: number | undefined;
      let modelNow: (() => number) | undefined;
      const stage = (s: Stage) => {
        if (s === 'disrupt') disruptAt = performance.now();
        if (s === 'collect') collectAt = modelNow?.();
      };
      const traffic = () => {
        if (disruptAt === undefined || stalled || performance.now() - disruptAt < 200) return;
        const from = performance.now();
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2500);
        stalled = performance.now() - from;
      };
      // The twin's own thread reports what it measured, and one stall of 5.5 model s, 1 s into the
      // disruption, as its watch would (harness/twin/thread/stall.ts tests the watch itself); and a
      // longer one that begins after the cell stopped the traffic, which cannot change its counts.
      let twinStall: { at: number; modelMs: number } | undefined;
      let afterStop: { at: number; modelMs: number } | undefined;
      const connect: typeof connectTarget = async (spec, opts) => {
        const target = await connectTarget(spec, opts);
        const measured = target.twinStalls!;
        modelNow = () => target.clock.now();
        return {
          ...target,
          twinStalls: (from, to) => {
            twinStall ??= { at: from + 6500, modelMs: 5500 };
            afterStop ??= { at: collectAt! + 9000, modelMs: 9000 };
            return [...measured(from, to), ...stallsWithin([twinStall, afterStop], from, to)];
          },
        };
      };
      const outcome = await runMatrix({
        loaded: await loadSpec(path.join(stallDir, 'spec.yaml')),
        connect,
        resultsDir: stallDir,
        runId: 'stall',
        signal: new AbortController().signal,
        progress: { info: () => {}, cellStart: () => {}, stage, traffic, cellDone: () => {} },
      });
      expect(stalled).toBeGreaterThanOrEqual(2400);
      const [cell] = outcome.results;
      // What the cell said before: every planned request sent, nothing lost.
      expect(cell.requests.achieved).toBeGreaterThanOrEqual(0.95);
      expect(cell.valid).toBe(false);
      expect(cell.invalidReason).toMatch(/the driver fell behind for \d+ s of the disruption window/);
      // The longest stall is named: the one reported above, or a real one of the busy machine's.
      const named = /the local twin stalled for (\d+(?:\.\d+)?) model s at t=\d+(\.\d+)? \(≥ 5 s\): its actions ran that much late/.exec(cell.invalidReason ?? '');
      expect(named, cell.invalidReason).not.toBeNull();
      expect(Number(named![1])).toBeGreaterThanOrEqual(5.5);
      expect(cell.twinStall?.seconds).toBe(Number(named![1]));
      expect(cell.twinStall?.seconds).not.toBe(afterStop!.modelMs / 1000);
      expect(renderCellDetails(cell)).toMatch(/- the twin stalled for \d+(\.\d+)? model s at t=\d+(\.\d+)?: its actions ran that much late/);
      expect(twinStall!.at - twinStall!.modelMs - outcome.results[0].modelOrigin!).toBeGreaterThanOrEqual(cell.marks.disruptionStart! * 1000);
      expect(cell.schedule?.behindSeconds).toBeGreaterThanOrEqual(1);
      expect(cell.schedule?.maxLateSeconds).toBeGreaterThan(1.4);
      expect(outcome.report).toContain('INVALID [1]');
    } finally {
      await rm(stallDir, { recursive: true, force: true });
    }
  }, 180_000);
});
