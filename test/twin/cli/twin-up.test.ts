/**
 * `rollout-harness twin up` as users run it: a real child process; kubectl and the aws CLI pointed
 * at it through the env file it writes; and no process left behind after SIGINT, SIGTERM or even
 * SIGKILL of the twin (checked by PID).
 */
import { execa, type ResultPromise } from 'execa';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { KubeObject } from '../../../harness/twin/kube/types.ts';
import { isAlive as alive } from '../../helpers/processes.ts';
import { startTwinUp } from '../../helpers/twin-up.ts';

let child: ResultPromise | undefined;
let dir: string | undefined;
let follower: ResultPromise | undefined;

afterEach(async () => {
  if (follower?.pid && follower.exitCode === null) follower.kill('SIGKILL');
  await follower?.catch(() => {});
  follower = undefined;
  if (child?.pid && child.exitCode === null) child.kill('SIGKILL');
  await child?.catch(() => {});
  child = undefined;
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

/** Starts `twin up` in a fresh state dir and returns its env file's variables. */
async function twinUp(): Promise<Record<string, string>> {
  dir = await mkdtemp(path.join(os.tmpdir(), 'rh-up-'));
  const up = await startTwinUp(dir);
  child = up.child;
  return up.env;
}

/** The PIDs of the pod processes, read from the pods' containerIDs (twin://<pid>) with kubectl. */
async function podPids(env: Record<string, string>): Promise<number[]> {
  for (let i = 0; i < 100; i++) {
    const out = await execa('kubectl', ['get', 'pods', '-n', 'shop', '-o', 'json'], { env: { ...process.env, ...env }, timeout: 20_000 });
    const pods = JSON.parse(out.stdout).items as Array<{ status?: { containerStatuses?: Array<{ containerID?: string; ready?: boolean }> } }>;
    const pids = pods.flatMap((p) => p.status?.containerStatuses ?? []).filter((c) => c.ready).map((c) => Number(/twin:\/\/(\d+)/.exec(c.containerID ?? '')?.[1]));
    if (pids.length === 3 && pids.every((p) => p > 0)) return pids;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error('the pods did not become ready');
}

async function waitGone(pids: number[], ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  while (pids.some(alive) && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
}

describe('twin up', () => {
  it('serves kubectl and the aws CLI through its env file, then leaves no process after SIGINT', async () => {
    const env = await twinUp();
    expect(env.ROLLOUT_HARNESS_ALB_URL).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const withEnv = { ...process.env, ...env };
    const pids = await podPids(env);
    expect(pids.every(alive)).toBe(true);

    const nodes = await execa('kubectl', ['get', 'nodes'], { env: withEnv, timeout: 20_000 });
    expect(nodes.stdout).toMatch(/node-a1\s+Ready/);
    await execa('kubectl', ['cordon', 'node-a1'], { env: withEnv, timeout: 20_000 });
    const cordoned = await execa('kubectl', ['get', 'node', 'node-a1', '-o', 'jsonpath={.spec.unschedulable}'], { env: withEnv, timeout: 20_000 });
    expect(cordoned.stdout).toBe('true');
    // Per context: the admin may patch Deployments, the default world's restricted user only reads.
    const canI = (...args: string[]) => execa('kubectl', [...args, 'auth', 'can-i', 'patch', 'deployments', '-n', 'shop'], { env: withEnv, timeout: 20_000, reject: false });
    expect((await canI()).stdout.trim()).toBe('yes');
    expect((await canI('--context', 'twin-restricted')).stdout.trim()).toBe('no');
    const readable = await execa('kubectl', ['--context', 'twin-restricted', 'get', 'deployment', 'web', '-n', 'shop', '-o', 'name'], { env: withEnv, timeout: 20_000 });
    expect(readable.stdout.trim()).toBe('deployment.apps/web');
    const refused = await execa('kubectl', ['--context', 'twin-restricted', 'uncordon', 'node-a1'], { env: withEnv, timeout: 20_000, reject: false });
    expect(refused.stderr).toContain('nodes "node-a1" is forbidden: User "restricted" cannot patch resource "nodes" in API group "" at the cluster scope');
    // kubectl logs reads the kubelet's log of a pod that the Deployment's selector picks.
    const logs = await execa('kubectl', ['logs', 'deploy/web', '-n', 'shop', '--timestamps'], { env: withEnv, timeout: 20_000 });
    expect(logs.stdout).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z listening 127\.\S+ pid \d+$/m);
    // Followed through a rollout: the old pod's SIGTERM line comes, then the stream ends with the pod.
    follower = execa('kubectl', ['logs', '-f', 'deploy/web', '-n', 'shop'], { env: withEnv, timeout: 70_000, reject: false });
    let followed = '';
    follower.stdout!.on('data', (chunk: Buffer) => (followed += chunk.toString()));
    await vi.waitFor(() => expect(followed).toContain('listening'), { timeout: 20_000 });
    await execa('kubectl', ['rollout', 'restart', 'deployment/web', '-n', 'shop'], { env: withEnv, timeout: 20_000 });
    const status = await execa('kubectl', ['rollout', 'status', 'deployment/web', '-n', 'shop', '--timeout', '60s'], { env: withEnv, timeout: 70_000 });
    expect(status.stdout).toContain('successfully rolled out');
    const ended = await follower;
    expect(ended.exitCode, String(ended.stderr)).toBe(0);
    expect(ended.stdout).toContain('SIGTERM received');

    // The Service's EndpointSlices name every ready pod at the address and port it really listens on.
    const listed = await execa('kubectl', ['get', 'endpointslices', '-n', 'shop', '-l', 'kubernetes.io/service-name=web', '-o', 'json'], { env: withEnv, timeout: 20_000 });
    type Slice = { ports: Array<{ port: number }>; endpoints: Array<{ addresses: string[]; conditions: { ready: boolean }; targetRef: { name: string } }> };
    const readyInSlices = (JSON.parse(listed.stdout).items as Slice[])
      .flatMap((sl) => sl.endpoints.filter((e) => e.conditions.ready).map((e) => `${e.targetRef.name} ${e.addresses[0]}:${sl.ports[0]?.port}`))
      .sort();
    const pods = JSON.parse((await execa('kubectl', ['get', 'pods', '-n', 'shop', '-l', 'app=web', '-o', 'json'], { env: withEnv, timeout: 20_000 })).stdout).items as KubeObject[];
    const readyPods = pods
      .filter((p) => !p.metadata.deletionTimestamp && p.status.conditions?.some((c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True'))
      .map((p) => `${p.metadata.name} ${p.status.podIP}:${p.metadata.annotations?.['twin.rollout-harness.io/port'] ?? 8080}`)
      .sort();
    expect(readyInSlices).toHaveLength(3);
    expect(readyInSlices).toEqual(readyPods);

    const arn = JSON.parse((await execa('aws', ['elbv2', 'describe-target-groups', '--endpoint-url', env.AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2, '--output', 'json'], { env: withEnv, timeout: 30_000 })).stdout)
      // The app's (the default world's gateway has a target group of its own).
      .TargetGroups.find((tg: { TargetGroupName: string }) => tg.TargetGroupName.startsWith('k8s-shop-web')).TargetGroupArn as string;
    const health = JSON.parse(
      (await execa('aws', ['elbv2', 'describe-target-health', '--target-group-arn', arn, '--endpoint-url', env.AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2, '--output', 'json'], { env: withEnv, timeout: 30_000 })).stdout,
    ) as { TargetHealthDescriptions: Array<{ Target: { Id: string; Port: number }; TargetHealth: { State: string } }> };
    expect(health.TargetHealthDescriptions.length).toBeGreaterThanOrEqual(3);
    for (const d of health.TargetHealthDescriptions) expect(d.Target.Id).toMatch(/^127\./);

    // Right after the rollout the LB nodes may still route to an old pod that has exited (502, the
    // deregistration lag); once every node has dropped the old targets the ALB answers 200.
    let status200 = 0;
    for (let i = 0; i < 150 && status200 === 0; i++) {
      const res = await fetch(env.ROLLOUT_HARNESS_ALB_URL);
      await res.arrayBuffer();
      if (res.status === 200) status200 = res.status;
      else {
        expect(res.status).toBe(502);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    expect(status200).toBe(200);

    const allPids = [...new Set([...pids, ...(await podPids(env))])];
    child!.kill('SIGINT');
    const result = await child!;
    expect(result.exitCode).toBe(0);
    expect(result.all).toContain('Stopped; no pod process is left.');
    expect(result.all).toContain('contexts        twin (system:masters), twin-restricted (user restricted)');
    // At time scale 0.05 it says that a run reaching it by context cannot explain 5xx from its logs.
    expect(result.all).toContain('model time runs 20× real time');
    expect(result.all).toContain('cannot explain 5xx from its logs (use --time-scale 1)');
    await waitGone(allPids);
    expect(allPids.filter(alive)).toEqual([]);
  });

  it('leaves no process after SIGTERM, nor after SIGKILL of the twin itself', async () => {
    const env = await twinUp();
    const pids = await podPids(env);
    child!.kill('SIGTERM');
    expect((await child!).exitCode).toBe(0);
    await waitGone(pids);
    expect(pids.filter(alive)).toEqual([]);

    const env2 = await twinUp();
    const pids2 = await podPids(env2);
    child!.kill('SIGKILL');
    await child!;
    // The pods watch their stdin: when the twin dies, the pipe closes and they exit.
    await waitGone(pids2);
    expect(pids2.filter(alive)).toEqual([]);
  });
});
