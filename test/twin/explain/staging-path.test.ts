/**
 * The staging code path, end to end: the real CLI with `target.context` against a standalone
 * `twin up` at time scale 1 (its clock is this machine's, as an ALB's is), every AWS client
 * overridden to it. The access logs come through S3 and the metrics through CloudWatch exactly as
 * in staging; the twin's ground truth (its state dir's access.log, `explain.groundTruth`) scores
 * the causes. The world is the default one with faster health checks and 10 s log files, so that
 * two real-time cells take a couple of minutes.
 */
import { execa, type ResultPromise } from 'execa';
import { readFile, mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readRun, type LoadedRun } from '../../../harness/cli/results.ts';
import { endAndRemove } from '../../helpers/processes.ts';
import { BIN, startTwinUp, twinUpTarget, writeQuietWorld } from '../../helpers/twin-up.ts';

let dir: string;
let twin: ResultPromise | undefined;
let run: ResultPromise | undefined;
let output = '';
let exitCode: number | undefined;
let loaded: LoadedRun;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'rh-staging-'));
  const world = await writeQuietWorld(path.join(dir, 'world.yaml'), (w) => {
    // The gate is on already (no restart for it), checks every 5 s, registration in 1–2 s; the
    // deregistration lags stay the twin's defaults: that is what a preStop of 0 loses to.
    const ns = w.objects.find((o) => o.kind === 'Namespace');
    ns!.metadata!.labels = { ...ns!.metadata!.labels, 'elbv2.k8s.aws/pod-readiness-gate-inject': 'enabled' };
    w.alb.healthCheck = { ...(w.alb.healthCheck as object), intervalSeconds: 5 };
    w.alb.registrationTime = { min: 1, max: 2, tailProbability: 0, tailMax: 2 };
    w.alb.accessLogs = { intervalSeconds: 10 };
    // The cells' grace period already: configuring them changes only the Ingress's deregistration
    // delay, without a rollout of the pods first (that rollout took 40 of the file's 180 s).
    const web = w.objects.find((o) => o.kind === 'Deployment' && o.metadata?.name === 'web');
    web!.spec!.template!.spec!.terminationGracePeriodSeconds = 10;
  });
  const stateDir = path.join(dir, 'twin');
  let env: Record<string, string>;
  ({ child: twin, env } = await startTwinUp(stateDir, 1, ['--config', world]));
  const spec = path.join(dir, 'staging.yaml');
  await writeFile(
    spec,
    stringify({
      name: 'staging-path',
      target: twinUpTarget(env),
      traffic: { driver: 'builtin', rate: 100, warmupSeconds: 5, cooldownSeconds: 5, timeoutSeconds: 10 },
      matrix: { readinessGate: [true], preStopSeconds: [0], terminationGracePeriodSeconds: [10], deregistrationDelaySeconds: [10] },
      disruptions: ['rollout', { drain: { node: 'node:node-a1' } }],
      // The world delivers its logs every 10 s, which the harness cannot tell from outside.
      explain: { waitSeconds: 120, pollSeconds: 2, logIntervalSeconds: 10, groundTruth: path.join(stateDir, 'access.log') },
    }),
  );
  run = execa(process.execPath, [BIN, 'run', spec, '--results-dir', path.join(dir, 'results'), '--run-id', 'staging'], {
    reject: false,
    all: true,
    timeout: 480_000,
    // Credentials from the default chain (env), as in staging; every endpoint is in the spec.
    env: { ...process.env, AWS_ACCESS_KEY_ID: 'twin', AWS_SECRET_ACCESS_KEY: 'twin', AWS_REGION: 'us-east-1' },
  });
  const done = await run;
  output = String(done.all ?? '');
  exitCode = done.exitCode;
  loaded = await readRun(path.join(dir, 'results', 'staging'));
}, 540_000);

afterAll(() => endAndRemove([run, twin], dir), 60_000);

describe('a spec with target.context against a standalone twin up (the staging code path)', () => {
  it('runs both cells and reads their access logs from S3', () => {
    expect(exitCode, output).toBe(0);
    expect(loaded.cells.map((c) => c.id)).toEqual(['rollout.gate-on.prestop-0.grace-10.dereg-10.r1', 'drain-node-node-a1.gate-on.prestop-0.grace-10.dereg-10.r1']);
    for (const c of loaded.cells) {
      expect(c.valid, `${c.id}: ${c.invalidReason}`).toBe(true);
      expect(c.explain?.logs, `${c.id}: ${c.explain?.why}`).toBe('complete');
      expect(c.explain?.source?.entries, c.id).toBeGreaterThan(1000);
    }
  });

  it('reports 5xx by cause for every cell, and they agree with the twin’s ground truth on the known-bad cells', () => {
    for (const c of loaded.cells) {
      const e = c.explain!;
      // preStop 0 under the default deregistration lags: both cells lose requests.
      expect(c.fiveXX, c.id).toBeGreaterThan(5);
      expect(e.crossCheck.accessLog, c.id).toBe(c.fiveXX);
      const explained = Object.values(e.causes).reduce((a, b) => a + b, 0);
      expect(explained, `${c.id}: ${JSON.stringify(e.causes)}`).toBe(e.crossCheck.accessLog);
      expect(e.causes['routed-to-gone-pod'] + e.causes['routed-after-sigterm'], `${c.id}: ${JSON.stringify(e.causes)}`).toBeGreaterThan(explained * 0.9);
      expect(e.causes.unknown, c.id).toBeLessThanOrEqual(explained * 0.02);
      // The logs' times are this machine's: no clock disagreement.
      expect(e.crossCheck.mismatches.join('\n'), c.id).not.toMatch(/clock/);
      expect(e.agreement, `${c.id}: ${e.why}`).toBeDefined();
      expect(e.agreement!.compared, c.id).toBeGreaterThanOrEqual(Math.min(c.fiveXX, 500) * 0.95);
      expect(e.agreement!.share, `${c.id}: ${JSON.stringify(e.agreement!.disagreements.slice(0, 5))}`).toBeGreaterThanOrEqual(0.95);
    }
  });

  it('shows the causes and the agreement in the report, and CloudWatch answers for the window', async () => {
    const md = await readFile(path.join(loaded.dir, 'report.md'), 'utf8');
    for (const c of loaded.cells) {
      const row = md.split('\n').find((l) => l.startsWith(`| ${c.id} | complete |`));
      expect(row, md).toBeDefined();
      expect(row).toMatch(/routed-to-gone-pod \d+/);
      expect(row).toMatch(/\d+(\.\d)? % of \d+ \|$/);
      expect(c.explain!.crossCheck.cloudWatch, c.explain!.crossCheck.cloudWatchError).toBeDefined();
      expect(c.explain!.crossCheck.cloudWatch!.elb5xx, c.id).toBeGreaterThanOrEqual(c.fiveXX);
    }
  });
});
