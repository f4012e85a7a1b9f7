/**
 * Trying to break a run, through the real CLI against a standalone `twin up` reached like staging:
 * leftovers of a killed run, a live run's lease, preconditions, bad flags, the twin env's loopback
 * guard, and interrupts, with the exit codes the README promises (the rest is in faults.test.ts).
 */
import { execa, type ResultPromise } from 'execa';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { scaledClock } from '../../../harness/core/clock.ts';
import { pollUntil } from '../../../harness/disruptions/wait.ts';
import { faultsTwinOfFile } from '../../helpers/cli-faults.ts';

let run: ResultPromise | undefined;
const twin = faultsTwinOfFile('rh-faults-left-');
const { results, specFile, cli, runJson, delay, markers, waitForCheckpoint } = twin;

describe('leftovers of a killed run', () => {
  afterEach(async () => {
    // Whatever a failed assertion left behind must not stop the next test.
    if (!(await markers()).length) return;
    for (const id of ['killed', 'configure-kill']) if (existsSync(path.join(results(), id, 'run.json'))) await cli(['restore', id, '--results-dir', results()]);
  }, 120_000);

  it('refuses a new run, names the restore command, and --resume undoes them before it measures', async () => {
    const spec = await specFile('killed', { disruptions: ['rollout', 'drain'] });
    run = cli(['run', spec, '--results-dir', results(), '--run-id', 'killed']);
    await waitForCheckpoint('killed', (r) => r.cells[0]?.status === 'done' && ['disrupt', 'settle', 'cooldown'].includes(r.cells[1]?.stage ?? ''));
    // Kill it once the drain has cordoned its node.
    const deadline = Date.now() + 60_000;
    while (!(await twin.f().k8s.listNodes()).some((n) => n.spec?.unschedulable)) {
      if (Date.now() > deadline) throw new Error('the drain never cordoned a node');
      await new Promise((r) => setTimeout(r, 20));
    }
    run.kill('SIGKILL');
    await run;
    const cordoned = (await twin.f().k8s.listNodes()).filter((n) => n.spec?.unschedulable).map((n) => n.metadata?.name);
    expect(cordoned).toHaveLength(1);
    expect(await markers()).toEqual(expect.arrayContaining(['shop=killed', 'web=killed', `${cordoned[0]}=killed`]));

    const fresh = await specFile('fresh', { disruptions: ['rollout'] });
    run = cli(['run', fresh, '--results-dir', results(), '--run-id', 'fresh']);
    const refused = await run;
    expect(refused.exitCode, String(refused.all)).toBe(3);
    expect(refused.stderr).toContain(`The run killed did not finish: its changes are still on`);
    expect(refused.stderr).toContain(`rollout-harness restore killed --results-dir ${results()}`);
    // The other way out, complete: the killed run's spec (from its record), the results directory, the id.
    expect(refused.stderr).toContain(`(or continue it with: rollout-harness run ${spec} --results-dir ${results()} --resume killed)`);
    expect(existsSync(path.join(results(), 'fresh', 'run.json'))).toBe(false);

    run = cli(['run', spec, '--results-dir', results(), '--resume', 'killed']);
    const resumed = await run;
    expect(resumed.exitCode, String(resumed.all)).toBe(0);
    const log = String(resumed.stderr);
    expect(log.indexOf('Undoing what the stopped run killed left changed')).toBeGreaterThan(-1);
    expect(log.indexOf(`node ${cordoned[0]}: uncordoned`)).toBeLessThan(log.indexOf('[2/2]'));
    const record = runJson('killed');
    expect(record.cells.map((c: { status: string }) => c.status)).toEqual(['done', 'done']);
    expect(record.restoreDifferences).toBeUndefined();
    expect(await markers()).toEqual([]);
    for (const n of await twin.f().k8s.listNodes()) expect(n.spec?.unschedulable ?? false, n.metadata?.name).toBe(false);
    expect(await delay()).toBe('300');

    // A finished run is not resumed: that would re-apply its old originals over whatever came since.
    run = cli(['run', spec, '--results-dir', results(), '--resume', 'killed']);
    const again = await run;
    expect(again.exitCode).toBe(2);
    expect(again.stderr).toContain('Cannot resume killed: it finished at');
  }, 300_000);

  it('`restore` puts back what a run killed mid-configure left, and removes its markers', async () => {
    const before = await twin.f().k8s.getDeployment('shop', 'web');
    const gateBefore = (await twin.f().k8s.getNamespace('shop')).metadata?.labels?.['elbv2.k8s.aws/pod-readiness-gate-inject'];
    const spec = await specFile('configure-kill', { matrix: { readinessGate: [false], preStopSeconds: [7], terminationGracePeriodSeconds: [33], deregistrationDelaySeconds: [45] } });
    run = cli(['run', spec, '--results-dir', results(), '--run-id', 'configure-kill']);
    await waitForCheckpoint('configure-kill', (r) => r.cells[0]?.stage === 'configure');
    // Wait until the Deployment carries the cell's settings, then kill.
    const deadline = Date.now() + 60_000;
    while ((await twin.f().k8s.getDeployment('shop', 'web')).spec.template.spec.terminationGracePeriodSeconds !== 33) {
      if (Date.now() > deadline) throw new Error('the cell never configured the Deployment');
      await new Promise((r) => setTimeout(r, 25));
    }
    run.kill('SIGKILL');
    await run;
    run = cli(['restore', 'configure-kill', '--results-dir', results()]);
    const restored = await run;
    expect(restored.exitCode, String(restored.all)).toBe(0);
    expect(restored.stdout).toContain('every setting verified against the record');
    const after = await twin.f().k8s.getDeployment('shop', 'web');
    expect(after.spec.template.spec.terminationGracePeriodSeconds).toBe(before.spec.template.spec.terminationGracePeriodSeconds);
    expect(after.spec.template.spec.containers[0].lifecycle ?? null).toEqual(before.spec.template.spec.containers[0].lifecycle ?? null);
    expect((await twin.f().k8s.getNamespace('shop')).metadata?.labels?.['elbv2.k8s.aws/pod-readiness-gate-inject']).toBe(gateBefore);
    expect(await markers()).toEqual([]);
    expect(await delay()).toBe('300');
  }, 180_000);
});

describe('a run that is still running', () => {
  it('holds a lease: restore, --resume and a run beside it are refused (exit 3) and told it is live, its settings untouched', async () => {
    // A long warm-up (100 real s at this time scale) keeps it running while the others try; it is stopped after.
    const spec = await specFile('live1', { traffic: { warmupSeconds: 2000 } });
    run = cli(['run', spec, '--results-dir', results(), '--run-id', 'live1']);
    await waitForCheckpoint('live1', (r) => r.cells[0]?.stage === 'warmup');
    const preStop = (await twin.f().k8s.getDeployment('shop', 'web')).spec.template.spec.containers[0].lifecycle?.preStop;
    expect(preStop).toEqual({ exec: { command: ['sleep', '20'] } });
    const live = /The run live1 is still running \(process \d+ on [^)]+\): its lease on namespace shop was renewed at \S+ and holds until \S+\. Wait for it to finish, or stop it/;

    // Each is refused within seconds; one that is not would run for minutes: cut short, it fails below.
    const besideSpec = await specFile('beside');
    const [restore, beside, resume] = await Promise.all([
      cli(['restore', 'live1', '--results-dir', results()], 90_000),
      cli(['run', besideSpec, '--results-dir', results(), '--run-id', 'beside'], 90_000),
      cli(['run', spec, '--results-dir', results(), '--resume', 'live1'], 90_000),
    ]);
    expect(restore.exitCode, String(restore.all)).toBe(3);
    expect(restore.stderr).toMatch(live);
    expect(restore.stdout).not.toContain('Restored');
    expect((await twin.f().k8s.getDeployment('shop', 'web')).spec.template.spec.containers[0].lifecycle?.preStop).toEqual(preStop);

    expect(beside.exitCode, String(beside.all)).toBe(3);
    expect(beside.stderr).toMatch(live);
    expect(beside.stderr).not.toContain('restore live1');
    expect(existsSync(path.join(results(), 'beside', 'run.json'))).toBe(false);

    expect(resume.exitCode, String(resume.all)).toBe(3);
    expect(resume.stderr).toMatch(live);

    // The live run never lost its settings: its lease was fresh throughout, and it ends cleanly.
    expect(run.exitCode).toBeNull();
    run.kill('SIGINT');
    const ended = await run;
    expect(ended.exitCode, String(ended.all)).toBe(130);
    expect(await markers()).toEqual([]);
    expect((await twin.f().k8s.getNamespace('shop')).metadata?.annotations?.['rollout-harness.io/lease']).toBeUndefined();
  }, 240_000);
});

describe('preconditions fail fast, before any change', () => {
  it('a drain of a node that does not exist, every node cordoned, a missing Deployment: exit 3 at once', async () => {
    const ghost = await specFile('ghost', { disruptions: [{ drain: { node: 'node:ghost' } }] });
    run = cli(['run', ghost, '--results-dir', results(), '--run-id', 'ghost']);
    const g = await run;
    expect(g.exitCode, String(g.all)).toBe(3);
    expect(g.stderr).toContain('disruptions[0] (drain node:ghost): expected a node named ghost, got only node-a1, node-b1, node-b2');
    expect(g.stderr).not.toMatch(/at \w+ \(/); // no stack trace
    expect(existsSync(path.join(results(), 'ghost', 'run.json'))).toBe(false);
    expect(await markers()).toEqual([]);

    const names = (await twin.f().k8s.listNodes()).map((n) => n.metadata?.name ?? '');
    for (const n of names) await twin.f().k8s.setNodeUnschedulable(n, true);
    try {
      const plain = await specFile('cordoned');
      run = cli(['run', plain, '--results-dir', results(), '--run-id', 'cordoned']);
      const c = await run;
      expect(c.exitCode, String(c.all)).toBe(3);
      expect(c.stderr).toContain('nodes: expected at least one schedulable node');
    } finally {
      for (const n of names) await twin.f().k8s.setNodeUnschedulable(n, false);
    }

    const missing = await specFile('missing', { target: { deployment: 'nope' } });
    run = cli(['run', missing, '--results-dir', results(), '--run-id', 'missing']);
    const m = await run;
    expect(m.exitCode, String(m.all)).toBe(3);
    expect(m.stderr).toMatch(/Expected deployment shop\/nope in context twin, got: it does not exist \(404\)/);
  }, 120_000);
});

describe('bad flags and arguments exit 2, promptly and clearly', () => {
  it('unknown flags and commands, bad values, run ids outside the results directory, an unusable results directory', async () => {
    const spec = await specFile('flags');
    const cases: Array<[string[], RegExp]> = [
      [['run', spec, '--no-such-flag'], /unknown option '--no-such-flag'/],
      [['frobnicate'], /unknown command 'frobnicate'/],
      [['twin', 'up', '--time-scale', 'fast'], /Expected a positive number, got "fast"/],
      [['run', spec, '--run-id', '../../x'], /--run-id: expected a run id/],
      [['report', 'x', '--format', 'pdf'], /--format: expected md, junit, json or html, got "pdf"/],
      [['compare', 'x', 'y', '--format', 'html'], /--format: expected md or json, got "html"/],
      [['plan', spec, '--format', 'yaml'], /--format: expected text or json, got "yaml"/],
      [['report', 'fixtures/results/report-fixture', '--format', 'html', '-o', '/proc/rollout-harness-test/r.html'], /-o \/proc\/rollout-harness-test\/r.html: expected a file that can be written, got ENOENT/],
      [['run', spec, '--results-dir', '/proc/rollout-harness-test'], /--results-dir \/proc\/rollout-harness-test: expected a writable directory/],
      // A truncated run.json: refused before anything connects, naming the file.
      [['restore', await truncatedRun()], /truncated\/run\.json: expected JSON, got /],
    ];
    for (const [args, message] of cases) {
      const started = Date.now();
      const r = await cli(args);
      expect(r.exitCode, `${args.join(' ')}:\n${r.all}`).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(Date.now() - started).toBeLessThan(20_000);
    }
  }, 120_000);
});

/** A run directory whose run.json was cut short (a disk that filled, a hand edit). */
async function truncatedRun(): Promise<string> {
  const runDir = path.join(results(), 'truncated');
  await mkdir(runDir, { recursive: true });
  await writeFile(path.join(runDir, 'run.json'), '{"schemaVersion": 1, "runId": "truncated", "spec": {"na');
  return runDir;
}

describe("the target group's own health check, as the harness reads it back", () => {
  it('follows the Ingress annotation (DescribeTargetGroups) and goes back to its default when the annotation is removed', async () => {
    const clock = scaledClock(1);
    const interval = async () => (await twin.f().elbv2.getHealthCheck(twin.f().tgArn)).intervalSeconds;
    const before = await interval();
    expect(before).not.toBe(5);
    const annotation = 'alb.ingress.kubernetes.io/healthcheck-interval-seconds';
    try {
      await twin.f().k8s.setIngressAnnotations('shop', 'web', { [annotation]: '5' });
      expect(await pollUntil(clock, 20_000, new AbortController().signal, async () => (await interval()) === 5, 200)).toBe(true);
    } finally {
      await twin.f().k8s.setIngressAnnotations('shop', 'web', { [annotation]: null });
    }
    expect(await pollUntil(clock, 20_000, new AbortController().signal, async () => (await interval()) === before, 200)).toBe(true);
  }, 60_000);
});

describe('the twin env keeps every AWS call on loopback', () => {
  it('answers services it does not serve with an error naming them; kubectl defaults to the opted-in namespace', async () => {
    const sourced = { ...process.env, ...twin.f().env, AWS_MAX_ATTEMPTS: '1' };
    // STS answers GetCallerIdentity (preflight's identity check) with the twin's account; IAM is not served.
    const sts = await execa('aws', ['sts', 'get-caller-identity', '--output', 'json'], { env: sourced, reject: false, timeout: 30_000 });
    expect(sts.exitCode, sts.stderr).toBe(0);
    expect(JSON.parse(sts.stdout)).toMatchObject({ Account: '123456789012', Arn: expect.stringMatching(/^arn:aws:iam::123456789012:user\//) });
    const iam = await execa('aws', ['iam', 'list-roles'], { env: sourced, reject: false, timeout: 30_000 });
    expect(iam.exitCode).not.toBe(0);
    expect(iam.stderr).toContain('this request is for "iam"');
    const sns = await execa('aws', ['sns', 'list-topics', '--endpoint-url', String(twin.f().env.AWS_ENDPOINT_URL)], { env: sourced, reject: false, timeout: 30_000 });
    expect(sns.exitCode).not.toBe(0);
    expect(sns.stderr).toContain('this request is for "sns"');
    // CloudWatch is served, but only its two read calls.
    const cw = await execa('aws', ['cloudwatch', 'list-metrics'], { env: sourced, reject: false, timeout: 30_000 });
    expect(cw.exitCode).not.toBe(0);
    expect(cw.stderr).toContain('serves GetMetricStatistics and GetMetricData, not ListMetrics');
    const pods = await execa('kubectl', ['get', 'pods', '-o', 'name'], { env: sourced, reject: false, timeout: 30_000 });
    expect(pods.stdout).toMatch(/^pod\/web-/m);
  }, 60_000);
});

describe('an interrupt before any cell was measured', () => {
  it('reports the cells as not measured, never "Every expectation held", and JUnit errors', async () => {
    const spec = await specFile('early', { expect: [{ where: {}, max5xx: 0 }] });
    run = cli(['run', spec, '--results-dir', results(), '--run-id', 'early']);
    await waitForCheckpoint('early', (r) => r.cells[0]?.stage === 'configure');
    run.kill('SIGINT');
    const r = await run;
    expect(r.exitCode, String(r.all)).toBe(130);
    expect(r.stdout).toContain('No cell was measured.');
    expect(r.stdout).toContain('was not measured, so at most 0 5xx cannot be confirmed');
    expect(r.stdout).not.toContain('Every expectation held');
    expect(readFileSync(path.join(results(), 'early', 'junit.xml'), 'utf8')).toContain('tests="1" failures="0" errors="1"');
  }, 120_000);
});

describe('a second Ctrl-C', () => {
  it('quits at once and says how to restore', async () => {
    const spec = await specFile('twice');
    run = cli(['run', spec, '--results-dir', results(), '--run-id', 'twice']);
    await waitForCheckpoint('twice', (r) => r.cells[0]?.stage === 'configure');
    run.kill('SIGINT');
    await new Promise((r) => setTimeout(r, 50));
    run.kill('SIGINT');
    const r = await run;
    expect(r.exitCode, String(r.all)).toBe(130);
    expect(r.stderr).toContain(`SIGINT again: quitting at once, without finishing the restore. Put the original settings back with:\n  rollout-harness restore twice --results-dir ${results()}`);
    const restored = await cli(['restore', 'twice', '--results-dir', results()]);
    expect(restored.exitCode, String(restored.all)).toBe(0);
    expect(await markers()).toEqual([]);
  }, 120_000);
});

