/**
 * deploy/ as a platform team applies it, on `twin up` with deploy/twin/world.yaml (two stacks):
 * `kubectl apply -k deploy/twin`, a Job made from the CronJob with `kubectl create job --from`, its
 * two Indexed pods each running a shard on its lane with the in-cluster configuration, the
 * ServiceAccount's token and the RBAC rules of deploy/base/rbac.yaml, the last one merging the run
 * in the twin's S3 — then read back with `report s3://…/latest`. Without a lane's RoleBinding the
 * shard refuses before it changes anything, naming the permission.
 */
import { execa, type ResultPromise } from 'execa';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../../../harness/core/paths.ts';
import { endAndRemove } from '../../helpers/processes.ts';
import { BIN, startTwinUp } from '../../helpers/twin-up.ts';

let dir: string;
let twin: ResultPromise | undefined;
let env: Record<string, string>;

const kubectl = (args: string[]) => execa('kubectl', args, { env: { ...process.env, ...env }, reject: false, cwd: projectRoot, timeout: 240_000 });
const harness = (args: string[]) => execa(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, reject: false, timeout: 60_000 });
const jobJson = async (name: string) => JSON.parse((await kubectl(['-n', 'rollout-harness', 'get', 'job', name, '-o', 'json'])).stdout);
const podsOf = async (job: string) => JSON.parse((await kubectl(['-n', 'rollout-harness', 'get', 'pods', '-l', `batch.kubernetes.io/job-name=${job}`, '-o', 'json'])).stdout).items as Array<{ metadata: { name: string; annotations: Record<string, string> }; status: { phase: string } }>;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'rh-deploy-'));
  ({ child: twin, env } = await startTwinUp(path.join(dir, 'twin'), 0.05, ['--config', path.join(projectRoot, 'deploy/twin/world.yaml')]));
  const applied = await kubectl(['apply', '-k', 'deploy/twin']);
  expect(applied.exitCode, applied.stderr).toBe(0);
}, 90_000);

afterAll(() => endAndRemove([twin], dir), 60_000);

describe('deploy/ on the twin', () => {
  it('runs the CronJob\'s Indexed Job to completion: one shard per pod and lane, merged in S3, readable with report', async () => {
    const before = await Promise.all(['shop', 'shop-2'].map(async (ns) => JSON.parse((await kubectl(['-n', ns, 'get', 'deployment', 'web', '-o', 'json'])).stdout).spec.template.spec));
    const made = await kubectl(['-n', 'rollout-harness', 'create', 'job', 'manual-1', '--from=cronjob/rollout-harness-nightly']);
    expect(made.exitCode, made.stderr).toBe(0);
    const waited = await kubectl(['-n', 'rollout-harness', 'wait', '--for=condition=complete', 'job/manual-1', '--timeout=200s']);
    const pods = await podsOf('manual-1');
    const logs = await Promise.all(pods.map(async (p) => (await kubectl(['-n', 'rollout-harness', 'logs', p.metadata.name])).stdout));
    expect(waited.exitCode, `${waited.stderr}\n${logs.join('\n---\n')}`).toBe(0);

    const job = await jobJson('manual-1');
    expect(job.status).toMatchObject({ succeeded: 2, failed: 0, completedIndexes: '0-1' });
    expect(pods.map((p) => [p.metadata.annotations['batch.kubernetes.io/job-completion-index'], p.status.phase]).sort()).toEqual([
      ['0', 'Succeeded'],
      ['1', 'Succeeded'],
    ]);
    const all = logs.join('\n');
    // Each pod checked its lane with its own identity, ran its shard, and uploaded it; one merged.
    expect(all).toMatch(/^Preflight \(context in-cluster, namespace shop\): \d+ checks passed/m);
    expect(all).toMatch(/^Preflight \(context in-cluster, namespace shop-2\): \d+ checks passed/m);
    expect(all).toMatch(/Uploaded: s3:\/\/rollout-harness-results\/nightly\/manual-1\.shard-1-of-2\//);
    expect(all).toMatch(/Uploaded: s3:\/\/rollout-harness-results\/nightly\/manual-1\.shard-2-of-2\//);
    expect(all).toContain('Uploaded: s3://rollout-harness-results/nightly/manual-1/ (and latest)');

    const report = await harness(['report', 's3://rollout-harness-results/nightly/latest']);
    expect(report.exitCode, report.stderr).toBe(0);
    expect(report.stdout).toContain('Run `manual-1` on context in-cluster');
    expect(report.stdout).toMatch(/\| off +\| 5 +\| 30 +\| 30 +\| (0|\d+ \(.*\)) +\|/);
    expect(report.stdout).toMatch(/\| off +\| 5 +\| 30 +\| 60 +\| (0|\d+ \(.*\)) +\|/);
    // Each lane is left as it was.
    const after = await Promise.all(['shop', 'shop-2'].map(async (ns) => JSON.parse((await kubectl(['-n', ns, 'get', 'deployment', 'web', '-o', 'json'])).stdout).spec.template.spec));
    expect(after).toEqual(before);
  }, 240_000);

  it('without its lane\'s RoleBinding a shard refuses before it changes anything, naming the permission, and the Job fails', async () => {
    const removed = await kubectl(['-n', 'shop-2', 'delete', 'rolebinding', 'rollout-harness']);
    expect(removed.exitCode, removed.stderr).toBe(0);
    const made = await kubectl(['-n', 'rollout-harness', 'create', 'job', 'manual-2', '--from=cronjob/rollout-harness-nightly']);
    expect(made.exitCode, made.stderr).toBe(0);
    const waited = await kubectl(['-n', 'rollout-harness', 'wait', '--for=condition=failed', 'job/manual-2', '--timeout=200s']);
    expect(waited.exitCode, waited.stderr).toBe(0);
    const job = await jobJson('manual-2');
    expect(job.status.conditions).toEqual(expect.arrayContaining([expect.objectContaining({ type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded' })]));
    const failed = (await podsOf('manual-2')).find((p) => p.status.phase === 'Failed')!;
    expect(failed.metadata.annotations['batch.kubernetes.io/job-completion-index']).toBe('1');
    const log = (await kubectl(['-n', 'rollout-harness', 'logs', failed.metadata.name])).stdout;
    expect(log).toMatch(/✗ kubernetes: patch deployments\.apps in namespace shop-2/);
    expect(log).toMatch(/refusing to run: \d+ preflight checks? failed/);
  }, 240_000);
});
