/** Calibration: lags sampled from the twin's own lag distributions, seen through the harness's 1 s poll, fitted back. */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { calibratedConfig } from '../../../harness/cli/calibrate.ts';
import { seededRandom } from '../../../harness/core/random.ts';
import { calibrate, fitLag } from '../../../harness/explain/calibrate.ts';
import { distributionOf } from '../../../harness/explain/lags.ts';
import { sampleLagMs } from '../../../harness/twin/alb/lag.ts';
import { parseTwinConfig } from '../../../harness/twin/config.ts';
import { CAUSE_CLASSES } from '../../../harness/report/types.ts';
import { cellResult } from '../../helpers/results.ts';
import { parseSpec } from '../../../harness/matrix/load.ts';

/** The spec the runs' records hold (run.json is read back validated). */
const SPEC = parseSpec({ matrix: { preStopSeconds: [0], terminationGracePeriodSeconds: [30], readinessGate: [true, false], deregistrationDelaySeconds: [300] }, disruptions: ['rollout', 'drain'] }).spec;

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** What the harness measures of a true lag: the change is taken at the middle of a 1 s poll interval, so off by up to ±0.5 s. */
function measured(seed: number, lag: { min: number; max: number; tailProbability: number; tailMax: number }, n: number): number[] {
  const random = seededRandom(seed);
  return Array.from({ length: n }, () => Math.max(0, sampleLagMs(random, lag) / 1000 + random.next() - 0.5));
}

describe('fitLag', () => {
  it('recovers the twin\'s default deregistration lag (5–20 s, 3 % tail to 60 s) within 1 s / 1.5 s from 200 samples', () => {
    const truth = { min: 5, max: 20, tailProbability: 0.03, tailMax: 60 };
    const fit = fitLag(measured(7, truth, 200))!;
    expect(Math.abs(fit.min - truth.min)).toBeLessThanOrEqual(1);
    expect(Math.abs(fit.max - truth.max)).toBeLessThanOrEqual(1.5);
    expect(fit.tailProbability).toBeLessThanOrEqual(0.05);
    expect(fit.tailMax).toBeGreaterThan(fit.max);
    expect(fit.tailMax).toBeLessThanOrEqual(60.5);
  });

  it('recovers a narrow registration lag (1–5 s, no tail) within 1 s', () => {
    const fit = fitLag(measured(11, { min: 1, max: 5, tailProbability: 0, tailMax: 5 }, 60))!;
    expect(Math.abs(fit.min - 1)).toBeLessThanOrEqual(1);
    expect(Math.abs(fit.max - 5)).toBeLessThanOrEqual(1);
  });

  it('takes the extremes with few samples, percentiles with more, and nothing without samples', () => {
    expect(fitLag([3, 1, 2])).toEqual({ min: 1, max: 3, tailProbability: 0, tailMax: 3 });
    // 10–29 samples: the 10th and 90th percentiles bound the body; the odd one above is the tail.
    expect(fitLag([30, 1, 2, 3, 4, 5, 6, 7, 8, 9])).toEqual({ min: 1, max: 9, tailProbability: 0.1, tailMax: 30 });
    expect(fitLag([])).toBeUndefined();
    expect(calibrate([])).toEqual({ samples: { deregistration: 0, registration: 0 } });
  });
});

describe('twin calibrate', () => {
  const run = (name: string, cells: ReturnType<typeof cellResult>[]) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'calibrate-'));
    dirs.push(dir);
    const runDir = path.join(dir, name);
    mkdirSync(path.join(runDir, 'cells'), { recursive: true });
    writeFileSync(path.join(runDir, 'run.json'), JSON.stringify({ schemaVersion: 1, runId: name, specFile: 's.yaml', spec: SPEC, target: { kind: 'cluster', namespace: 'shop', deployment: 'web', targetGroupArn: 'arn' }, driver: { name: 'builtin', reason: 'r' }, versions: { rolloutHarness: '0', node: 'v20', platform: 'linux' }, startedAt: 'x', cells: cells.map((c) => ({ id: c.id, status: 'done' })) }));
    for (const c of cells) writeFileSync(path.join(runDir, 'cells', `${c.id}.json`), JSON.stringify(c));
    return runDir;
  };
  const withLags = (dereg: number[], reg: number[]) => {
    const c = cellResult({ gate: true, kind: 'rollout' });
    const d = distributionOf([]);
    c.explain = { logs: 'complete', causes: Object.fromEntries(CAUSE_CLASSES.map((k) => [k, 0])) as never, attributed: [], crossCheck: { client: 0, accessLog: 0, mismatches: [] }, lags: { deregistration: distributionOf(dereg), registration: distributionOf(reg), longestRequest: d } };
    return c;
  };

  it('writes a valid twin config with the fitted lags and a header naming the runs', async () => {
    const truth = { min: 8, max: 14, tailProbability: 0, tailMax: 14 };
    const a = run('staging-1', [withLags(measured(1, truth, 40), measured(2, { min: 2, max: 3, tailProbability: 0, tailMax: 3 }, 40))]);
    const b = run('staging-2', [withLags(measured(3, truth, 40), [])]);
    const text = await calibratedConfig([a, b], { resultsDir: '.' });
    expect(text.split('\n')[0]).toBe('# Twin config calibrated by rollout-harness twin calibrate from run(s) staging-1, staging-2, on fixtures/twin/default.yaml.');
    expect(text).toMatch(/# alb\.deregistrationLag from 80 measured lags \(target × LB node\): min \d/);
    const config = parseTwinConfig(parse(text));
    expect(Math.abs(config.alb.deregistrationLag.min - 8)).toBeLessThanOrEqual(1);
    expect(Math.abs(config.alb.deregistrationLag.max - 14)).toBeLessThanOrEqual(1.5);
    expect(config.alb.registrationLag.max).toBeLessThanOrEqual(4);
    // The rest of the base world is kept.
    expect(config.objects.some((o) => o.kind === 'Deployment')).toBe(true);
  });

  it('refuses runs without measured lags, naming them', async () => {
    const none = run('no-logs', [cellResult({ gate: true, kind: 'rollout' })]);
    await expect(calibratedConfig([none], { resultsDir: '.' })).rejects.toThrow('twin calibrate: expected runs whose cells measured lags from the ALB access logs (explain.lags), got none in no-logs (1 cells, 0 explained, 0 without logs)');
    await expect(calibratedConfig([], { resultsDir: '.' })).rejects.toThrow('expected at least one run');
  });
});
