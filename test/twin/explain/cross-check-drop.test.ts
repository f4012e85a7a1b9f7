/**
 * The cross-check catching a log that misses requests: the twin leaves a share of its access-log
 * entries out of the delivered files (`alb.accessLogs.dropShare`, ALB's "best-effort basis"), so
 * the client counts more 5xx than the log has, and CloudWatch more than the log of the same minutes;
 * the cell's cross-check lists both differences, the unlogged 5xx are put down as before-alb, and
 * report.md shows the mismatch. The twin's ground truth keeps every 5xx.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectTarget } from '../../../harness/cli/connect.ts';
import { loadSpec } from '../../../harness/matrix/load.ts';
import { runMatrix, type RunOutcome } from '../../../harness/orchestrator/run.ts';
import { testTwinConfig } from '../../helpers/twin.ts';

let dir: string;
let outcome: RunOutcome;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'rh-drop-'));
  const config = await testTwinConfig({ timeScale: 0.1, seed: 5, replicas: 4, appEnv: { ON_SIGTERM: 'immediate' } });
  config.alb.accessLogs = { ...config.alb.accessLogs, dropShare: 0.5 };
  await writeFile(path.join(dir, 'twin.yaml'), stringify(config));
  await writeFile(
    path.join(dir, 'spec.yaml'),
    stringify({
      name: 'drop',
      target: { twin: { config: path.join(dir, 'twin.yaml') } },
      traffic: { driver: 'builtin', rate: 150, timeoutSeconds: 10, warmupSeconds: 5, cooldownSeconds: 5 },
      // preStop 0 with an app that exits at SIGTERM: the ALB keeps routing to gone pods (502s).
      matrix: { readinessGate: [true], preStopSeconds: [0], terminationGracePeriodSeconds: [30], deregistrationDelaySeconds: [300] },
      disruptions: ['rollout'],
      explain: { waitSeconds: 600, pollSeconds: 10 },
    }),
  );
  outcome = await runMatrix({
    loaded: await loadSpec(path.join(dir, 'spec.yaml')),
    resultsDir: dir,
    runId: 'drop',
    signal: new AbortController().signal,
    connect: connectTarget,
    progress: { info: () => {}, cellStart: () => {}, stage: () => {}, traffic: () => {}, cellDone: () => {} },
    env: { PATH: '' },
  });
}, 240_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('a log that misses entries (dropShare 0.5)', () => {
  it('makes the cross-check flag a cell whose client saw more 5xx than the ALB logged', () => {
    expect(outcome.results).toHaveLength(1);
    const r = outcome.results[0];
    const e = r.explain!;
    expect({ logs: e.logs, why: e.why }).toEqual({ logs: "complete", why: undefined });
    // Half the entries are gone: with ≥ 10 5xx the log all but surely has fewer than the client.
    expect(r.fiveXX).toBeGreaterThanOrEqual(10);
    expect(e.crossCheck.client).toBe(r.fiveXX);
    expect(e.crossCheck.accessLog).toBeLessThan(e.crossCheck.client);
    const missing = e.crossCheck.client - e.crossCheck.accessLog;
    expect(e.crossCheck.mismatches.join('\n')).toContain(`the client saw ${e.crossCheck.client} 5xx, the access log has ${e.crossCheck.accessLog}: ${missing} never reached the ALB's log`);
    // The client 5xx no entry matches are the before-alb ones; the logged ones keep their causes.
    expect(e.causes['before-alb']).toBeGreaterThanOrEqual(Math.min(missing, 1));
    // The ground truth is not dropped from: it has every 5xx the client saw.
    const truth = Object.values(r.fiveXXByReason ?? {}).reduce((a, b) => a + b, 0);
    expect(truth).toBeGreaterThanOrEqual(e.crossCheck.client);
    // CloudWatch counts every request; the log of the same minutes misses about half of the 5xx.
    const cw = e.crossCheck.cloudWatch!;
    expect(cw.accessLog, e.crossCheck.cloudWatchError).toBeDefined();
    expect(cw.elb5xx).toBeGreaterThan(cw.accessLog!.elb5xx);
    expect(e.crossCheck.mismatches.join('\n')).toContain(`CloudWatch's HTTPCode_ELB_5XX_Count summed ${cw.elb5xx} over`);
    expect(e.crossCheck.mismatches.join('\n')).toContain(`the access log has ${cw.accessLog!.elb5xx} such entries of the whole load balancer in the same minutes: ${cw.elb5xx - cw.accessLog!.elb5xx} missing from the log`);
    expect(outcome.report).toContain('Cross-check mismatches:');
    expect(outcome.report).toContain(`- ${r.id}: the client saw ${e.crossCheck.client} 5xx`);
  });
});
