/** Bad specs through the real CLI: every error with its path, exit code 2, nothing created or changed. */
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../../../harness/core/paths.ts';

const BIN = path.join(projectRoot, 'bin/rollout-harness.js');
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'rh-spec-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function cli(args: string[]) {
  return execa(process.execPath, [BIN, ...args], { reject: false, timeout: 30_000 });
}

describe('rollout-harness with a bad spec', () => {
  it('lists every problem with its path, exits 2 and creates no results', async () => {
    const spec = path.join(dir, 'bad.yaml');
    await writeFile(
      spec,
      [
        'matrix:',
        '  preStopSeconds: [ten, -5]',
        '  terminationGracePeriodSeconds: []',
        '  readinessGate: [yes please]',
        '  deregistrationDelaySeconds: [30]',
        'disruptions: [rollout, reboot]',
        'trafic: { rate: 5 }',
      ].join('\n'),
    );
    const results = path.join(dir, 'results');
    const r = await cli(['run', spec, '--results-dir', results]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(`Invalid ${spec}`);
    for (const p of ['matrix.preStopSeconds[0]', 'matrix.preStopSeconds[1]', 'matrix.terminationGracePeriodSeconds', 'matrix.readinessGate[0]', 'disruptions[1]', '(root): Unrecognized key: "trafic"']) {
      expect(r.stderr).toContain(p);
    }
    expect(existsSync(results)).toBe(false);
  });

  const MATRIX = 'matrix: { readinessGate: [true], preStopSeconds: [20], terminationGracePeriodSeconds: [40], deregistrationDelaySeconds: [30] }\ndisruptions: [rollout]';

  it('refuses a ground truth file that is not there before touching a cluster, and says it is ignored on the embedded twin', async () => {
    const spec = path.join(dir, 'truth.yaml');
    const truth = path.join(dir, 'no-twin', 'access.log');
    // The kubeconfig does not exist either: the check comes before any connection.
    await writeFile(
      spec,
      [
        'target: { kubeconfig: /nonexistent/kubeconfig, context: twin, allowedContexts: [twin], namespace: shop, deployment: web, ingress: web,',
        '          endpoints: { elbv2: "http://127.0.0.1:9", ec2: "http://127.0.0.1:9", s3: "http://127.0.0.1:9", cloudwatch: "http://127.0.0.1:9" } }',
        `explain: { groundTruth: ${JSON.stringify(truth)} }`,
        MATRIX,
      ].join('\n'),
    );
    const results = path.join(dir, 'truth-results');
    const r = await cli(['run', spec, '--results-dir', results]);
    expect(r.exitCode, r.stderr).toBe(2);
    expect(r.stderr).toContain(`explain.groundTruth: expected a readable file (a twin up's <state-dir>/access.log), got ${truth}: ENOENT`);
    expect(existsSync(results)).toBe(false);
    const embedded = path.join(dir, 'truth-embedded.yaml');
    await writeFile(embedded, `explain: { groundTruth: ${JSON.stringify(truth)} }\n${MATRIX}\n`);
    const plan = await cli(['plan', embedded]);
    expect(plan.exitCode, plan.stderr).toBe(0);
    expect(plan.stdout).toContain('warning: explain.groundTruth: ignored on the embedded twin, which scores against its own ground truth');
  });

  it('says what YAML is broken, and that a missing file is missing', async () => {
    const spec = path.join(dir, 'broken.yaml');
    await writeFile(spec, 'matrix: [unclosed\n');
    const broken = await cli(['plan', spec]);
    expect(broken.exitCode).toBe(2);
    expect(broken.stderr).toContain(`Invalid YAML in ${spec}`);
    const missing = await cli(['plan', path.join(dir, 'nope.yaml')]);
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toMatch(/Cannot read spec .*nope\.yaml: ENOENT/);
  });

  it('warns when the grace period is shorter than preStop, and plans without touching anything', async () => {
    const spec = path.join(dir, 'short-grace.yaml');
    await writeFile(
      spec,
      'matrix: { preStopSeconds: [40], terminationGracePeriodSeconds: [30], readinessGate: [true], deregistrationDelaySeconds: [300] }\ndisruptions: [drain]\n',
    );
    const r = await cli(['plan', spec]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('warning: matrix: terminationGracePeriodSeconds 30 < preStopSeconds 40');
    expect(r.stdout).toContain('1. drain.gate-on.prestop-40.grace-30.dereg-300.r1: first make sure the chosen node runs pods of the Deployment (a restart rollout re-places them when it runs none; INVALID when no pod can go there); cordon the node (most-pods)');
    expect(r.stdout).toContain('Nothing was changed by this command.');
  });
});

describe('rollout-harness plan piped into a reader that stops early', () => {
  it('exits 0 quietly instead of crashing on EPIPE', async () => {
    const r = await execa('bash', ['-c', `"${process.execPath}" "${BIN}" plan "${path.join(projectRoot, 'fixtures/matrices/default.yaml')}" | head -1; echo "status=\${PIPESTATUS[0]}"`], { reject: false, timeout: 30_000 });
    expect(r.stdout).toMatch(/^Target: the local twin/);
    expect(r.stdout).toContain('status=0');
    expect(r.stderr).not.toContain('EPIPE');
  });
});
