/** The kubelet's part in Jobs: pods that complete and stay, configMap and emptyDir volumes, $(VAR) and path rewriting. */
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { getPod, kubeletHarness, podObject } from './fakes.ts';

const stops: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (stops.length) await stops.pop()!();
});

async function harness(opts: Parameters<typeof kubeletHarness>[0] = {}) {
  const volumesDir = await mkdtemp(path.join(os.tmpdir(), 'rh-vol-'));
  const h = kubeletHarness({ images: { app: ['/usr/bin/node', '/opt/tool/bin/cli.js'] }, volumesDir, ...opts });
  stops.push(async () => {
    await h.kubelets.stop();
    await rm(volumesDir, { recursive: true, force: true });
  });
  return { ...h, volumesDir };
}

/** Advances the model clock in steps, letting real file I/O (the volumes) finish between them, until `done`. */
async function until(clock: { advance(ms: number): Promise<void> }, done: () => boolean, stepMs = 100, steps = 50): Promise<void> {
  for (let i = 0; i < steps && !done(); i++) {
    await clock.advance(stepMs);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const mounted = {
  args: ['run', '/etc/conf/spec.yaml', '--out=/results', '--id', '$(JOB_NAME)', '$$(JOB_NAME)'],
  env: [
    { name: 'JOB_NAME', valueFrom: { fieldRef: { fieldPath: "metadata.labels['batch.kubernetes.io/job-name']" } } },
    { name: 'INDEX', valueFrom: { fieldRef: { fieldPath: "metadata.annotations['batch.kubernetes.io/job-completion-index']" } } },
    { name: 'REPORT', value: '/results/$(JOB_NAME).md' },
  ],
  volumeMounts: [
    { name: 'conf', mountPath: '/etc/conf' },
    { name: 'results', mountPath: '/results' },
    { name: 'tool', mountPath: '/opt/tool' },
  ],
};
const volumes = [{ name: 'conf', configMap: { name: 'conf' } }, { name: 'results', emptyDir: {} }, { name: 'tool', emptyDir: {} }];
const jobPod = (restartPolicy: string) => {
  const pod = podObject('job-0-abcde', mounted, { restartPolicy, volumes });
  pod.metadata.labels = { 'batch.kubernetes.io/job-name': 'nightly-7' };
  pod.metadata.annotations = { 'batch.kubernetes.io/job-completion-index': '0' };
  return pod;
};

describe('kubelet: job pods and volumes', () => {
  it('waits for a missing ConfigMap with FailedMount, then runs with the volume files, $(VAR) expanded and mount paths rewritten — never the image\'s own program', async () => {
    const { clock, store, spawned, volumesDir } = await harness();
    const pod = store.create('pods', jobPod('Never'));
    await until(clock, () => store.list('events', { namespace: 'default' }).items.some((e) => e.reason === 'FailedMount'), 500, 10);
    expect(spawned).toHaveLength(0);
    const events = store.list('events', { namespace: 'default' }).items;
    expect(events.some((e) => e.reason === 'FailedMount' && /configmap "conf" not found/.test(String(e.message)))).toBe(true);
    store.create('configmaps', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'conf', namespace: 'default' }, data: { 'spec.yaml': 'name: x\n' } });
    await until(clock, () => !(spawned.length === 0), 2_000);
    expect(spawned).toHaveLength(1);
    const dir = (v: string) => path.join(volumesDir, pod.metadata.uid!, v);
    expect(readFileSync(path.join(dir('conf'), 'spec.yaml'), 'utf8')).toBe('name: x\n');
    expect(spawned[0].command).toEqual(['/usr/bin/node', '/opt/tool/bin/cli.js', 'run', path.join(dir('conf'), 'spec.yaml'), `--out=${dir('results')}`, '--id', 'nightly-7', '$(JOB_NAME)']);
    expect(spawned[0].env).toMatchObject({ JOB_NAME: 'nightly-7', INDEX: '0', REPORT: path.join(dir('results'), 'nightly-7.md') });
  });

  it('restartPolicy Never: an exit ends the pod Succeeded (0) or Failed (else), it stays until deleted, and its volumes go with it', async () => {
    const { clock, store, spawned, volumesDir } = await harness();
    store.create('configmaps', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'conf', namespace: 'default' }, data: { 'spec.yaml': 'x' } });
    const ok = store.create('pods', jobPod('Never'));
    await clock.advance(0);
    await until(clock, () => !(spawned.length === 0), 100);
    spawned[0].exit(0);
    await until(clock, () => !(getPod(store, 'job-0-abcde')?.status?.phase !== 'Succeeded'), 100);
    expect(getPod(store, 'job-0-abcde')?.status?.phase).toBe('Succeeded');
    expect(getPod(store, 'job-0-abcde')?.status?.containerStatuses[0].state.terminated).toMatchObject({ exitCode: 0 });
    await clock.advance(60_000);
    // Not restarted, not removed.
    expect(spawned).toHaveLength(1);
    expect(getPod(store, 'job-0-abcde')).toBeDefined();
    store.delete('pods', 'default', 'job-0-abcde');
    await until(clock, () => !(getPod(store, 'job-0-abcde')), 100);
    expect(getPod(store, 'job-0-abcde')).toBeUndefined();
    await new Promise((r) => setTimeout(r, 50));
    expect(existsSync(path.join(volumesDir, ok.metadata.uid!))).toBe(false);

    const failing = podObject('job-1-fghij', {}, { restartPolicy: 'Never' });
    store.create('pods', failing);
    await until(clock, () => !(spawned.length === 1), 100);
    spawned[1].exit(3);
    await until(clock, () => !(getPod(store, 'job-1-fghij')?.status?.phase !== 'Failed'), 100);
    expect(getPod(store, 'job-1-fghij')?.status?.phase).toBe('Failed');
    await clock.advance(60_000);
    expect(spawned).toHaveLength(2);
  });

  it('restartPolicy OnFailure restarts a failed container and completes on exit 0', async () => {
    const { clock, store, spawned } = await harness({ backoff: { initialSeconds: 1, maxSeconds: 1 } });
    store.create('pods', podObject('retry', {}, { restartPolicy: 'OnFailure' }));
    await until(clock, () => !(spawned.length === 0), 100);
    spawned[0].exit(1);
    await until(clock, () => !(spawned.length === 1), 100);
    expect(spawned).toHaveLength(2);
    spawned[1].exit(0);
    await until(clock, () => !(getPod(store, 'retry')?.status?.phase !== 'Succeeded'), 100);
    expect(getPod(store, 'retry')?.status?.phase).toBe('Succeeded');
  });
});
