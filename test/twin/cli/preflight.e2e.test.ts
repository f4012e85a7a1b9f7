/**
 * `preflight` against `twin up` as a restricted identity (issue: know the missing permission before
 * the night): the default world's `twin-restricted` user may read but not change, so preflight
 * exits 3 and names each permission it lacks; once the rules `permissions --format rbac` prints are
 * bound to that user, the same preflight passes (exit 0). One list, checked and granted.
 */
import { execa, type ResultPromise } from 'execa';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, startTwinUp, twinUpTarget } from '../../helpers/twin-up.ts';

let dir: string;
let child: ResultPromise | undefined;
let env: Record<string, string>;
let spec: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'rh-preflight-'));
  const up = await startTwinUp(path.join(dir, 'state'));
  child = up.child;
  env = up.env;
  spec = path.join(dir, 'spec.yaml');
  await writeFile(
    spec,
    stringify({
      name: 'preflight',
      target: { ...twinUpTarget(env), context: 'twin-restricted', allowedContexts: ['twin-restricted'] },
      traffic: { driver: 'builtin', rate: 50, warmupSeconds: 5, cooldownSeconds: 5 },
      matrix: { readinessGate: [false], preStopSeconds: [0], terminationGracePeriodSeconds: [30], deregistrationDelaySeconds: [30] },
      disruptions: ['rollout', 'drain'],
    }),
  );
}, 120_000);

afterAll(async () => {
  if (child?.pid && child.exitCode === null) child.kill('SIGINT');
  await child?.catch(() => {});
  if (dir) await rm(dir, { recursive: true, force: true });
}, 60_000);

const cli = (...args: string[]) => execa(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, reject: false, timeout: 60_000 });

describe('preflight as a restricted user of twin up', () => {
  it('exits 3 naming each missing permission, then 0 once the rules from `permissions --format rbac` are bound', async () => {
    const before = await cli('preflight', spec);
    expect(before.exitCode, before.stdout + before.stderr).toBe(3);
    const failed = before.stdout.split('\n').filter((l) => l.startsWith('✗'));
    // The user reads but does not change: patching the Deployment and cordoning a node are refused.
    expect(failed.some((l) => /patch/.test(l) && /deployments/.test(l)), before.stdout).toBe(true);
    expect(failed.some((l) => /patch/.test(l) && /nodes/.test(l)), before.stdout).toBe(true);
    // Reading is allowed: no get/list/watch of pods is among the failures.
    expect(failed.filter((l) => /\b(get|list|watch)\b.*\bpods\b/.test(l)), before.stdout).toEqual([]);

    const rendered = await cli('permissions', spec, '--format', 'rbac', '--service-account', 'shop/unused');
    expect(rendered.exitCode, rendered.stderr).toBe(0);
    // Bound to the restricted user instead of a ServiceAccount, and applied as the twin's admin.
    const forUser = rendered.stdout.replaceAll('  - kind: ServiceAccount\n    name: unused\n    namespace: shop', '  - kind: User\n    name: restricted\n    apiGroup: rbac.authorization.k8s.io');
    expect(forUser).not.toContain('kind: ServiceAccount');
    const file = path.join(dir, 'rbac.yaml');
    await writeFile(file, forUser);
    const applied = await execa('kubectl', ['--context', 'twin', 'apply', '-f', file], { env: { ...process.env, ...env }, reject: false, timeout: 60_000 });
    expect(applied.exitCode, applied.stderr).toBe(0);

    const after = await cli('preflight', spec);
    expect(after.exitCode, after.stdout + after.stderr).toBe(0);
    expect(after.stdout.split('\n').filter((l) => l.startsWith('✗'))).toEqual([]);
  }, 240_000);
});
