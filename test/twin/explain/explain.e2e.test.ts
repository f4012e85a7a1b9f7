/**
 * The explain pipeline end to end on the twin, through `runMatrix` as `rollout-harness run` calls
 * it: the twin delivers its ALB access logs to its S3 API and serves CloudWatch; every cell's logs
 * come, the inferred causes agree with the twin's ground truth, the client and the log count the
 * same 5xx, and calibrating from the run recovers the twin's configured lags.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectTarget } from '../../../harness/cli/connect.ts';
import { calibrate } from '../../../harness/explain/calibrate.ts';
import { loadSpec } from '../../../harness/matrix/load.ts';
import { runMatrix, type RunOutcome } from '../../../harness/orchestrator/run.ts';
import { testTwinConfig } from '../../helpers/twin.ts';

// The twin's lags, known: every LB node stops routing to a deregistered target 8–12 s later and
// starts routing to a healthy one 2–4 s later.
const DEREG = { min: 8, max: 12, tailProbability: 0, tailMax: 12 };
const REG = { min: 2, max: 4, tailProbability: 0, tailMax: 4 };
/**
 * Stated tolerance, model seconds: the 1 s target-health poll, its call's own latency in model
 * time, and ~30 samples of each lag. Only the middle and the upper bound's floor are held to it:
 * on the twin (time scale 0.1, a loaded machine) a few target × node pairs, 1 in 10 or so, stop
 * getting requests seconds early or get their first seconds late, which moves the extremes.
 */
const TOLERANCE = 2;

let dir: string;
let outcome: RunOutcome;
const lines: string[] = [];

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'rh-explain-'));
  const config = await testTwinConfig({ timeScale: 0.1, seed: 3, replicas: 6, appEnv: { ON_SIGTERM: 'immediate' }, alb: { deregistrationLag: DEREG, registrationLag: REG } });
  await writeFile(path.join(dir, 'twin.yaml'), stringify(config));
  await writeFile(
    path.join(dir, 'spec.yaml'),
    stringify({
      name: 'explain',
      target: { twin: { config: path.join(dir, 'twin.yaml') } },
      traffic: { driver: 'builtin', rate: 200, timeoutSeconds: 10, warmupSeconds: 5, cooldownSeconds: 5 },
      matrix: { readinessGate: [true], preStopSeconds: [0], terminationGracePeriodSeconds: [30], deregistrationDelaySeconds: [300] },
      // Rollouts only: after a spot cell the next cell's pods on the replacement node hang on
      // connect in the twin (its truth: connect-timeout) with no termination in that cell's timeline.
      disruptions: ['rollout'],
      repeat: 3,
    }),
  );
  outcome = await runMatrix({
    loaded: await loadSpec(path.join(dir, 'spec.yaml')),
    resultsDir: dir,
    runId: 'explain',
    signal: new AbortController().signal,
    connect: connectTarget,
    progress: { info: (l) => lines.push(l), cellStart: () => {}, stage: () => {}, traffic: () => {}, cellDone: () => {} },
    env: { PATH: '' },
  });
}, 600_000);

afterAll(async () => {
  if (dir && !process.env.KEEP_EXPLAIN_DIR) await rm(dir, { recursive: true, force: true });
});

describe('explaining 5xx on the twin', () => {
  it('reads every cell\'s logs, with progress while they were due', () => {
    expect(outcome.results).toHaveLength(3);
    for (const r of outcome.results) expect({ id: r.id, logs: r.explain?.logs, why: r.explain?.why }).toEqual({ id: r.id, logs: 'complete', why: undefined });
    expect(lines.some((l) => /waiting for access logs past/.test(l))).toBe(true);
  });

  it('agrees with the twin\'s ground truth on ≥ 95 % of the 5xx, and the client and the log count the same 5xx', () => {
    let compared = 0;
    let agreed = 0;
    for (const r of outcome.results) {
      const e = r.explain!;
      // Nothing stands before the twin's ALB: the log has every 5xx the client saw, and more only
      // for requests the client cut at the stop (the ALB still answered them) — each one listed.
      expect(e.crossCheck.accessLog, r.id).toBeGreaterThanOrEqual(e.crossCheck.client);
      expect(e.crossCheck.accessLog - e.crossCheck.client, r.id).toBeLessThanOrEqual(r.requests.cutAtStop.count);
      if (e.crossCheck.accessLog !== e.crossCheck.client) expect(e.crossCheck.mismatches.join(' '), r.id).toMatch(/the client did not count/);
      // CloudWatch's minutes hold the neighbouring repeats too; the log of the same minutes and load balancer does as well: no mismatch.
      expect(e.crossCheck.cloudWatch?.accessLog, `${r.id}: ${e.crossCheck.cloudWatchError}`).toBeDefined();
      expect(e.crossCheck.mismatches.filter((m) => m.startsWith('CloudWatch')), r.id).toEqual([]);
      expect(e.crossCheck.cloudWatch!.accessLog!.ofCell, r.id).toBeLessThanOrEqual(e.crossCheck.accessLog);
      expect(Object.values(e.causes).reduce((a, b) => a + b, 0), r.id).toBe(e.crossCheck.accessLog);
      compared += e.agreement?.compared ?? 0;
      agreed += e.agreement?.agreed ?? 0;
    }
    expect(compared).toBe(outcome.results.reduce((s, r) => s + r.explain!.crossCheck.accessLog, 0));
    expect(compared).toBeGreaterThan(20);
    expect(agreed / compared).toBeGreaterThanOrEqual(0.95);
    expect(outcome.report).toContain('5xx by cause (ALB access log + timeline');
  });

  it(`recovers the twin's lags by calibrating from the run: the middle within ${TOLERANCE} s, the upper bound not under-read by more`, () => {
    const lags = outcome.results.map((r) => r.explain!.lags!);
    const fit = calibrate(lags);
    expect(fit.samples.deregistration).toBeGreaterThanOrEqual(20);
    expect(fit.samples.registration).toBeGreaterThanOrEqual(20);
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
    // The upper bound is not under-read; a few odd samples (see TOLERANCE) may push it up.
    const check = (fitted: { min: number; max: number }, values: number[], truth: { min: number; max: number }) => ({
      max: fitted.max >= truth.max - TOLERANCE,
      middle: Math.abs(median(values) - (truth.min + truth.max) / 2) <= TOLERANCE,
      ordered: fitted.min >= 0 && fitted.min <= fitted.max,
    });
    const ok = { max: true, middle: true, ordered: true };
    const dereg = lags.flatMap((l) => l.deregistration.values);
    const reg = lags.flatMap((l) => l.registration.values);
    expect(check(fit.deregistrationLag!, dereg, DEREG), JSON.stringify({ fit: fit.deregistrationLag, dereg })).toEqual(ok);
    expect(check(fit.registrationLag!, reg, REG), JSON.stringify({ fit: fit.registrationLag, reg })).toEqual(ok);
  });
});
