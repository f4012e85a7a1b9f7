/**
 * `rollout-harness run` against a twin started with `twin up`, reached like a real cluster (kubeconfig
 * context, endpoint overrides, safety label): SIGINT mid-cell restores every setting and keeps the
 * results so far; `--resume` finishes the rest. Settings are checked through the APIs afterwards.
 */
import { execa, type ResultPromise } from 'execa';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scaledClock } from '../../../harness/core/clock.ts';
import { createKubernetesAdapter, loadKubeConfig } from '../../../harness/platform/kubernetes/adapter.ts';
import type { KubernetesPort } from '../../../harness/platform/ports.ts';
import { endAndRemove } from '../../helpers/processes.ts';
import { BIN, startTwinUp, twinUpTarget, writeQuietWorld } from '../../helpers/twin-up.ts';

let dir: string;
let twin: ResultPromise | undefined;
let run: ResultPromise | undefined;
let env: Record<string, string>;
let k8s: KubernetesPort;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'rh-int-'));
  // Keep-alive above the ALB's idle timeout: the warm-up of every cell must be a clean baseline.
  ({ child: twin, env } = await startTwinUp(path.join(dir, 'twin'), 0.05, ['--config', await writeQuietWorld(path.join(dir, 'world.yaml'))]));
  k8s = createKubernetesAdapter(loadKubeConfig(env.KUBECONFIG, 'twin'), scaledClock(1));
  await writeFile(
    path.join(dir, 'spec.yaml'),
    stringify({
      name: 'interrupt',
      // No target.region: the region comes from AWS_REGION, as in a CI job (recorded in run.json).
      target: { ...twinUpTarget(env), url: env.ROLLOUT_HARNESS_ALB_URL },
      traffic: { driver: 'builtin', rate: 100, warmupSeconds: 3, cooldownSeconds: 2, timeoutSeconds: 10 },
      matrix: { readinessGate: [false], preStopSeconds: [5, 15], terminationGracePeriodSeconds: [30], deregistrationDelaySeconds: [30] },
      disruptions: ['rollout', 'drain'],
      // About interruption and restore; explaining 5xx over `twin up` has its own test (test/twin/explain/).
      explain: { enabled: false },
    }),
  );
}, 60_000);

afterAll(() => endAndRemove([run, twin], dir), 60_000);

// Credentials for the endpoint overrides come from the default chain (env), as in staging.
const harnessEnv = () => ({ ...process.env, AWS_ACCESS_KEY_ID: 'twin', AWS_SECRET_ACCESS_KEY: 'twin', AWS_REGION: 'us-east-1' });

function harness(args: string[]): ResultPromise {
  return execa(process.execPath, [BIN, 'run', path.join(dir, 'spec.yaml'), '--results-dir', path.join(dir, 'results'), ...args], { reject: false, all: true, env: harnessEnv() });
}

const runJson = (results = 'results') => JSON.parse(readFileSync(path.join(dir, results, 'x', 'run.json'), 'utf8')) as { target: { region?: string; regionSource?: string }; cells: Array<{ id: string; status: string; stage?: string }>; restored?: string[]; original: { preStop: unknown; terminationGracePeriodSeconds: number } };

describe('run against a cluster', () => {
  it('refuses a namespace without the opt-in label, changing nothing', async () => {
    await k8s.setNamespaceLabels('shop', { 'rollout-harness.io/allowed': null });
    try {
      const before = await k8s.getDeployment('shop', 'web');
      run = harness(['--run-id', 'refused']);
      const refused = await run;
      expect(refused.exitCode).toBe(3);
      // Refused by the preflight checks run first, with what to do about it.
      expect(refused.stderr).toMatch(/✗ namespace shop opted in\b.*rollout-harness\.io\/allowed=\(unset\)/);
      expect(refused.stderr).toContain('kubectl label namespace shop rollout-harness.io/allowed=true');
      expect(refused.stderr).toMatch(/refusing to run: \d+ preflight checks? failed/);
      expect(existsSync(path.join(dir, 'results', 'refused', 'run.json'))).toBe(false);
      // The spec is untouched (status may move on by itself: the controllers keep running).
      const after = await k8s.getDeployment('shop', 'web');
      expect(after.metadata?.generation).toBe(before.metadata?.generation);
      expect(after.spec).toEqual(before.spec);
    } finally {
      await k8s.setNamespaceLabels('shop', { 'rollout-harness.io/allowed': 'true' });
    }
  }, 60_000);
});

describe('plan --server-dry-run against a cluster', () => {
  it('sends every change with dryRun=All: a patch the API server refuses exits 2 naming the cell and the field, and nothing changes', async () => {
    const spec = path.join(dir, 'dry-run.yaml');
    await writeFile(
      spec,
      stringify({
        name: 'dry-run',
        target: twinUpTarget(env),
        // maxSurge 0 with maxUnavailable 0 is an invalid Deployment; maxSurge 1 is fine.
        matrix: { readinessGate: [true], preStopSeconds: [5], terminationGracePeriodSeconds: [30], deregistrationDelaySeconds: [30], maxSurge: [0, 1], maxUnavailable: [0] },
        disruptions: ['rollout'],
      }),
    );
    const before = { dep: await k8s.getDeployment('shop', 'web'), ns: await k8s.getNamespace('shop'), ing: await k8s.getIngress('shop', 'web') };
    run = execa(process.execPath, [BIN, 'plan', spec, '--server-dry-run'], { reject: false, all: true, env: harnessEnv() });
    const r = await run;
    expect(r.exitCode, String(r.all)).toBe(2);
    expect(r.all).toMatch(/rollout\.gate-on\.prestop-5\.grace-30\.dereg-30\.surge-0\.r1: .*spec\.strategy\.rollingUpdate\.maxUnavailable: Invalid value: 0: may not be 0 when `maxSurge` is 0/);
    expect(r.all).not.toMatch(/surge-1\.r1: .*Invalid/);
    const after = { dep: await k8s.getDeployment('shop', 'web'), ns: await k8s.getNamespace('shop'), ing: await k8s.getIngress('shop', 'web') };
    // Never written: the namespace and the Ingress keep their resource versions; the Deployment its
    // generation and spec (its status moves on by itself: the controllers keep running).
    for (const k of ['ns', 'ing'] as const) expect(after[k].metadata?.resourceVersion, k).toBe(before[k].metadata?.resourceVersion);
    for (const k of ['dep', 'ns', 'ing'] as const) expect(after[k].metadata?.annotations, k).toEqual(before[k].metadata?.annotations);
    expect(after.dep.metadata?.generation).toBe(before.dep.metadata?.generation);
    expect(after.dep.spec).toEqual(before.dep.spec);
    expect(after.ns.metadata?.labels).toEqual(before.ns.metadata?.labels);
  }, 60_000);
});

describe('plan --server-dry-run against an in-process twin', () => {
  it("keeps the twin's controller lines in the twin's own log, off the user's stderr", async () => {
    const cwd = path.join(dir, 'in-process');
    await mkdir(cwd);
    await writeFile(
      path.join(cwd, 'spec.yaml'),
      stringify({
        name: 'dry-run-twin',
        target: { twin: { config: await writeQuietWorld(path.join(cwd, 'world.yaml')), timeScale: 0.05 }, namespace: 'shop', deployment: 'web' },
        matrix: { readinessGate: [true], preStopSeconds: [5], terminationGracePeriodSeconds: [30], deregistrationDelaySeconds: [30] },
        disruptions: ['rollout'],
      }),
    );
    run = execa(process.execPath, [BIN, 'plan', 'spec.yaml', '--server-dry-run'], { cwd, reject: false, all: true, env: harnessEnv() });
    const r = await run;
    expect(r.exitCode, String(r.all)).toBe(0);
    expect(r.stdout).toContain('Server dry run (dryRun=All): the cluster admitted every change of every cell.');
    expect(r.stderr).toBe('');
    expect(readFileSync(path.join(cwd, 'results', 'twin', 'twin.log'), 'utf8')).toMatch(/^load balancer controller: created /m);
  }, 60_000);
});

describe('run, interrupted and resumed', () => {
  it('restores every setting on SIGINT mid-cell, keeps the cells done, and resumes the rest with the command it printed', async () => {
    const before = await k8s.getDeployment('shop', 'web');
    // As typed in a shell: the spec and a results directory other than the default, both relative.
    run = execa(process.execPath, [BIN, 'run', 'spec.yaml', '--results-dir', 'out', '--run-id', 'x'], { cwd: dir, reject: false, all: true, env: harnessEnv() });
    // Interrupt during the second cell's disruption (a drain) or just after it.
    const deadline = Date.now() + 120_000;
    for (;;) {
      const file = path.join(dir, 'out', 'x', 'run.json');
      if (existsSync(file)) {
        const cells = runJson('out').cells;
        if (cells[0]?.status === 'done' && ['disrupt', 'settle', 'cooldown'].includes(cells[1]?.stage ?? '')) break;
      }
      if (Date.now() > deadline || run.exitCode !== null) throw new Error(`never reached cell 2's disruption:\n${(await run).all}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    run.kill('SIGINT');
    const interrupted = await run;
    expect(interrupted.exitCode, String(interrupted.all)).toBe(130);
    const continueWith = /^Interrupted\. Continue with: (.+)$/m.exec(String(interrupted.stderr))?.[1];
    expect(continueWith).toBe(`rollout-harness run ${path.join(dir, 'spec.yaml')} --results-dir ${path.join(dir, 'out')} --resume x`);
    expect(interrupted.stderr).toContain(`Results: ${path.join(dir, 'out', 'x')}\n`);
    // Without a TTY (pipes, as in CI) every stage change is a plain line with the cell, the elapsed time and what it waits for.
    expect(interrupted.stderr).toMatch(/^\[1\/4\] rollout\.\S+ configure \+0s \(cell 0s\): waiting for /m);
    expect(interrupted.stderr).toMatch(/^\[1\/4\] rollout\.\S+ settle \+0s \(cell [\dms]+\): waiting for the rollout complete, no terminating pods and every target healthy/m);

    // Settings back, checked through the Kubernetes API.
    const after = await k8s.getDeployment('shop', 'web');
    expect(after.spec.template.spec.containers[0].lifecycle ?? null).toEqual(before.spec.template.spec.containers[0].lifecycle ?? null);
    expect(after.spec.template.spec.terminationGracePeriodSeconds).toBe(before.spec.template.spec.terminationGracePeriodSeconds);
    expect((await k8s.getIngress('shop', 'web')).metadata?.annotations?.['alb.ingress.kubernetes.io/target-group-attributes']).toBeUndefined();
    for (const node of await k8s.listNodes()) expect(node.spec?.unschedulable ?? false, node.metadata?.name).toBe(false);
    const record = runJson('out');
    expect(record.target).toMatchObject({ region: 'us-east-1', regionSource: 'AWS_REGION' });
    expect(interrupted.stderr).toContain('AWS region us-east-1 (AWS_REGION)\n');
    expect(record.restored).toEqual(expect.arrayContaining(['deployment shop/web: preStop restored']));
    // The first cell is on disk; the interrupted one will run again.
    const firstCell = path.join(dir, 'out', 'x', 'cells', `${record.cells[0].id}.json`);
    expect(existsSync(firstCell)).toBe(true);
    expect(record.cells.map((c) => c.status)).toEqual(['done', 'pending', 'pending', 'pending']);
    const firstMtime = (await stat(firstCell)).mtimeMs;

    // The printed command, run as printed by a shell, from another directory (`rollout-harness` on PATH).
    const bin = path.join(dir, 'bin');
    await mkdir(bin, { recursive: true });
    await writeFile(path.join(bin, 'rollout-harness'), `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} "$@"\n`, { mode: 0o755 });
    // Without AWS_REGION now: the resumed run keeps the region it recorded.
    const resumeEnv = { ...harnessEnv(), AWS_REGION: '', AWS_CONFIG_FILE: path.join(dir, 'no-aws-config'), PATH: `${bin}${path.delimiter}${process.env.PATH}` };
    run = execa('sh', ['-c', continueWith!], { cwd: bin, reject: false, all: true, env: resumeEnv });
    const resumed = await run;
    expect(resumed.exitCode, String(resumed.all)).toBe(0);
    expect(resumed.stderr).toContain('AWS region us-east-1 (AWS_REGION, recorded when the run started)\n');
    expect(runJson('out').target).toMatchObject({ region: 'us-east-1', regionSource: 'AWS_REGION' });
    expect(runJson('out').cells.map((c) => c.status)).toEqual(['done', 'done', 'done', 'done']);
    expect((await stat(firstCell)).mtimeMs).toBe(firstMtime);
    expect(resumed.stdout).toMatch(/\| off {2}\| 5 +\| 30 +\| 30 +\|/);
    expect(existsSync(path.join(dir, 'out', 'x', 'report.md'))).toBe(true);
    // A drain's cordon is undone when its cell ends, not only when the run does.
    const log = String(resumed.stderr);
    expect(log).toMatch(/node [\w-]+: uncordoned/);
    expect(log.indexOf('uncordoned')).toBeLessThan(log.indexOf('Restoring the original settings'));
    for (const node of await k8s.listNodes()) expect(node.spec?.unschedulable ?? false).toBe(false);
  }, 300_000);
});
