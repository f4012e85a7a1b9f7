/** The API server as the installed kubectl sees it: the commands people run against the twin. */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { ManualClock } from '../../../harness/core/clock.ts';
import { startEndpointsController } from '../../../harness/twin/controllers/endpoints.ts';
import type { EvictionResponse } from '../../../harness/twin/kube/server.ts';
import { ContainerLog } from '../../../harness/twin/runtime/logs.ts';
import type { KubeObject } from '../../../harness/twin/kube/types.ts';
import { requirement } from '../../helpers/requirement.ts';
import { runningPod, startApiFixture, type ApiFixture } from './fixture.ts';

const KUBECTL = process.env.KUBECTL ?? 'kubectl';
const available = await execa(KUBECTL, ['version', '--client'], { reject: false, timeout: 20_000 }).then(
  (r) => r.exitCode === 0,
  () => false,
);
const needsKubectl = requirement(`kubectl (${KUBECTL})`, available, 'apt-get install -y kubernetes-client, or set KUBECTL to its path; .ci/run installs it');

let fx: ApiFixture;
let cacheDir: string;
let evictions: string[];
/** The kubelet's logs as the logs hook serves them, by `pod/container[/previous]`. */
let podLogs: Map<string, ContainerLog>;
const running: ResultPromise[] = [];

beforeAll(async () => {
  cacheDir = await mkdtemp(path.join(os.tmpdir(), 'kubectl-cache-'));
});
afterAll(async () => {
  await rm(cacheDir, { recursive: true, force: true });
});
beforeEach(async () => {
  evictions = [];
  podLogs = new Map();
  fx = await startApiFixture({
    logs: (req) =>
      podLogs.get(`${req.name}/${req.container}${req.previous ? '/previous' : ''}`) ??
      (req.previous ? `previous terminated container "${req.container}" in pod "${req.name}" not found` : `container "${req.container}" in pod "${req.name}" is waiting to start: ContainerCreating`),
    evict: (ns, name): EvictionResponse => {
      evictions.push(`${ns}/${name}`);
      fx.store.delete('pods', ns, name, { gracePeriodSeconds: 0 });
      return { code: 201, body: { kind: 'Status', apiVersion: 'v1', status: 'Success', code: 201 } };
    },
  });
});
afterEach(async () => {
  for (const sub of running.splice(0)) {
    if (sub.pid !== undefined && sub.exitCode === null) process.kill(sub.pid, 'SIGKILL');
    await sub.catch(() => undefined);
  }
  await fx.close();
});

function kubectl(...args: string[]) {
  return execa(KUBECTL, ['--cache-dir', cacheDir, ...args], { env: { KUBECONFIG: fx.kubeconfig }, timeout: 30_000, reject: false });
}

async function ok(...args: string[]): Promise<string> {
  const r = await kubectl(...args);
  if (r.exitCode !== 0) throw new Error(`expected kubectl ${args.join(' ')} to succeed, got exit ${r.exitCode}: ${r.stderr}`);
  return r.stdout;
}

/** Splits printed columns (two or more spaces apart). */
const columns = (line: string) => line.trim().split(/\s{2,}/);

describe.runIf(needsKubectl.run)('kubectl against the twin', () => {
  beforeEach(() => needsKubectl.check());

  it('get pods -o wide prints the server-side columns', async () => {
    const lines = (await ok('get', 'pods', '-o', 'wide')).split('\n');
    expect(columns(lines[0])).toEqual(['NAME', 'READY', 'STATUS', 'RESTARTS', 'AGE', 'IP', 'NODE', 'NOMINATED NODE', 'READINESS GATES']);
    expect(columns(lines[1])).toEqual(['web-1', '1/1', 'Running', '0', '0s', '127.0.1.1', 'node-a1', '<none>', '<none>']);
    expect(columns(lines[2])[0]).toBe('web-2');
  });

  it('get nodes shows status, roles, age and version', async () => {
    const lines = (await ok('get', 'nodes')).split('\n');
    expect(columns(lines[0])).toEqual(['NAME', 'STATUS', 'ROLES', 'AGE', 'VERSION']);
    expect(columns(lines[1])).toEqual(['node-a1', 'Ready', '<none>', '0s', 'v1.31.0-twin']);
  });

  it('get pods -w prints a pod created after it started', async () => {
    const sub = kubectl('get', 'pods', '-w');
    running.push(sub);
    let out = '';
    sub.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
    await vi.waitFor(() => expect(out).toContain('web-2'), { timeout: 20_000 });
    fx.store.create('pods', runningPod('web-3', 'node-b1'));
    await vi.waitFor(() => expect(out).toMatch(/^web-3\s+1\/1\s+Running/m), { timeout: 20_000 });
    process.kill(sub.pid!, 'SIGTERM');
    await sub;
    expect(out.match(/^NAME /gm)).toHaveLength(1);
  });

  it('patch with strategic, merge and json patches', async () => {
    await ok('patch', 'deployment', 'web', '-p', '{"spec":{"template":{"spec":{"containers":[{"name":"app","env":[{"name":"B","value":"2"}]}]}}}}');
    await ok('patch', 'deployment', 'web', '--type', 'merge', '-p', '{"metadata":{"labels":{"tier":"fe"}}}');
    await ok('patch', 'deployment', 'web', '--type', 'json', '-p', '[{"op":"replace","path":"/spec/replicas","value":3}]');
    const d = fx.store.get('deployments', 'default', 'web')!;
    expect(d.spec.template.spec.containers[0].env).toEqual([
      { name: 'A', value: '1' },
      { name: 'B', value: '2' },
    ]);
    expect(d.metadata.labels).toEqual({ app: 'web', tier: 'fe' });
    expect(d.spec.replicas).toBe(3);
    const failed = await kubectl('patch', 'deployment', 'web', '--type', 'json', '-p', '[{"op":"test","path":"/spec/replicas","value":7}]');
    expect(failed.exitCode).not.toBe(0);
    expect(failed.stderr).toContain('testing value /spec/replicas failed');
  });

  it('rollout restart adds the restartedAt annotation to the pod template', async () => {
    const before = fx.store.get('deployments', 'default', 'web')!.metadata.generation;
    expect(await ok('rollout', 'restart', 'deployment/web')).toContain('restarted');
    const d = fx.store.get('deployments', 'default', 'web')!;
    expect(Date.parse(d.spec.template.metadata.annotations['kubectl.kubernetes.io/restartedAt'])).not.toBeNaN();
    expect(d.metadata.generation).toBe(before! + 1);
  });

  it('cordon and uncordon set and clear spec.unschedulable', async () => {
    await ok('cordon', 'node-a1');
    expect(fx.store.get('nodes', undefined, 'node-a1')?.spec.unschedulable).toBe(true);
    expect(await ok('get', 'nodes', 'node-a1', '--no-headers')).toMatch(/Ready,SchedulingDisabled/);
    await ok('uncordon', 'node-a1');
    expect(fx.store.get('nodes', undefined, 'node-a1')?.spec.unschedulable).toBeFalsy();
  });

  it('label and annotate a pod, and remove a label', async () => {
    await ok('label', 'pod', 'web-1', 'tier=fe', 'extra=1');
    await ok('annotate', 'pod', 'web-1', 'example.com/note=hello');
    await ok('label', 'pod', 'web-1', 'extra-');
    const pod = fx.store.get('pods', 'default', 'web-1')!;
    expect(pod.metadata.labels).toEqual({ app: 'web', tier: 'fe' });
    expect(pod.metadata.annotations).toEqual({ 'example.com/note': 'hello' });
    expect(await ok('get', 'pods', '-l', 'tier=fe', '-o', 'name')).toBe('pod/web-1');
  });

  it('delete pod --wait=false starts a graceful deletion of a bound pod', async () => {
    expect(await ok('delete', 'pod', 'web-2', '--wait=false')).toContain('deleted');
    const pod = fx.store.get('pods', 'default', 'web-2')!;
    expect(pod.metadata.deletionTimestamp).toBeTruthy();
    expect(pod.metadata.deletionGracePeriodSeconds).toBe(30);
    expect((await ok('get', 'pod', 'web-2', '--no-headers')).split(/\s+/)[2]).toBe('Terminating');
  });

  it('drain cordons the node and evicts its pods through the eviction hook', async () => {
    fx.store.create('pods', { ...runningPod('loose', 'node-a1', { app: 'loose' }), metadata: { name: 'loose', namespace: 'default', labels: { app: 'loose' } } });
    const r = await kubectl('drain', 'node-a1', '--ignore-daemonsets', '--delete-emptydir-data', '--force', '--timeout', '20s');
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toContain('node/node-a1 drained');
    expect(evictions.sort()).toEqual(['default/loose', 'default/web-1']);
    expect(fx.store.list('pods', { fieldSelector: 'spec.nodeName=node-a1' }).items).toEqual([]);
    expect(fx.store.get('pods', 'default', 'web-2')?.metadata.deletionTimestamp).toBeUndefined();
    expect(fx.store.get('nodes', undefined, 'node-a1')?.spec.unschedulable).toBe(true);
  });

  it('api-resources lists every served resource', async () => {
    const rows = (await ok('api-resources', '--no-headers')).split('\n').map(columns);
    const byName = new Map(rows.map((r) => [r[0], r.slice(1)]));
    expect(byName.get('pods')).toEqual(['po', 'v1', 'true', 'Pod']);
    expect(byName.get('deployments')).toEqual(['deploy', 'apps/v1', 'true', 'Deployment']);
    expect(byName.get('targetgroupbindings')).toEqual(['elbv2.k8s.aws/v1beta1', 'true', 'TargetGroupBinding']);
    expect(byName.has('pods/eviction')).toBe(false);
    expect(byName.get('endpoints')).toEqual(['ep', 'v1', 'true', 'Endpoints']);
    expect(byName.get('endpointslices')).toEqual(['discovery.k8s.io/v1', 'true', 'EndpointSlice']);
  });

  describe('Endpoints and EndpointSlices kept by the endpoints controller', () => {
    let stopController: (() => void) | undefined;
    afterEach(() => {
      stopController?.();
      stopController = undefined;
    });

    /** Namespace `shop` with Service `web` over two ready pods, and the controller at work on the fixture's manual clock. */
    async function shop(): Promise<ManualClock> {
      const clock = fx.clock as ManualClock;
      fx.store.create('namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } });
      for (const [name, node] of [['web-1', 'node-a1'], ['web-2', 'node-b1']]) fx.store.create('pods', { ...runningPod(name, node), metadata: { name, namespace: 'shop', labels: { app: 'web' } } });
      fx.store.create('services', { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'shop' }, spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] } });
      stopController = startEndpointsController({ store: fx.store, clock }).stop;
      await clock.advance(0);
      return clock;
    }

    it('get endpointslices and get endpoints -n shop print the columns kubectl prints, by label too', async () => {
      await shop();
      const slices = (await ok('get', 'endpointslices', '-n', 'shop')).split('\n').map(columns);
      expect(slices[0]).toEqual(['NAME', 'ADDRESSTYPE', 'PORTS', 'ENDPOINTS', 'AGE']);
      expect(slices).toHaveLength(2);
      expect(slices[1][0]).toMatch(/^web-[a-z0-9]{5}$/);
      expect(slices[1].slice(1)).toEqual(['IPv4', '8080', '127.0.1.1,127.0.1.2', '0s']);
      const byLabel = await ok('get', 'endpointslices', '-n', 'shop', '-l', 'kubernetes.io/service-name=web', '-o', 'name');
      expect(byLabel.trim()).toBe(`endpointslice.discovery.k8s.io/${slices[1][0]}`);
      expect((await ok('get', 'endpointslices', '-n', 'shop', '-l', 'kubernetes.io/service-name=other', '-o', 'name')).trim()).toBe('');
      const endpoints = (await ok('get', 'ep', '-n', 'shop')).split('\n').map(columns);
      expect(endpoints).toEqual([
        ['NAME', 'ENDPOINTS', 'AGE'],
        ['web', '127.0.1.1:8080,127.0.1.2:8080', '0s'],
      ]);
    });

    it('get endpointslices -w sees a pod added behind the Service', async () => {
      const clock = await shop();
      const sub = kubectl('get', 'endpointslices', '-n', 'shop', '-w');
      running.push(sub);
      let out = '';
      sub.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
      await vi.waitFor(() => expect(out).toMatch(/^web-\w{5}\s+IPv4\s+8080\s+127\.0\.1\.1,127\.0\.1\.2\s/m), { timeout: 20_000 });
      const third: KubeObject = { ...runningPod('web-3', 'node-b1'), metadata: { name: 'web-3', namespace: 'shop', labels: { app: 'web' } } };
      third.status.podIP = '127.0.1.3';
      fx.store.create('pods', third);
      await clock.advance(0);
      await vi.waitFor(() => expect(out).toMatch(/^web-\w{5}\s+IPv4\s+8080\s+127\.0\.1\.1,127\.0\.1\.2,127\.0\.1\.3\s/m), { timeout: 20_000 });
      process.kill(sub.pid!, 'SIGTERM');
      await sub;
    });
  });

  it('describe pod shows node, status, owner and containers', async () => {
    const text = await ok('describe', 'pod', 'web-1');
    expect(text).toMatch(/^Name:\s+web-1$/m);
    expect(text).toMatch(/^Node:\s+node-a1/m);
    expect(text).toMatch(/^Status:\s+Running$/m);
    expect(text).toMatch(/^Controlled By:\s+ReplicaSet\/web-5d8f$/m);
    expect(text).toMatch(/^\s+Image:\s+fixtures\/app$/m);
  });

  describe('logs', () => {
    /** A log for `key` with lines written one model second apart. */
    async function logWith(key: string, ...texts: string[]): Promise<ContainerLog> {
      const log = new ContainerLog();
      for (const text of texts) {
        log.append({ time: fx.clock.now(), stream: 'stdout', text });
        await (fx.clock as ManualClock).advance(1000);
      }
      podLogs.set(key, log);
      return log;
    }

    it('prints a pod’s log, its tail, lines since a time, with timestamps, and the previous instance', async () => {
      await logWith('web-1/app', 'listening', 'GET / 200', 'GET /a 200');
      await logWith('web-1/app/previous', 'crashed');
      expect(await ok('logs', 'web-1')).toBe('listening\nGET / 200\nGET /a 200');
      expect(await ok('logs', 'web-1', '--tail=1')).toBe('GET /a 200');
      // Lines at +0, +1 and +2 s, the previous instance's at +3 s; the clock is now at +4 s.
      expect(await ok('logs', 'web-1', '--since=3s')).toBe('GET / 200\nGET /a 200');
      expect(await ok('logs', 'web-1', '--since=2s')).toBe('GET /a 200');
      expect(await ok('logs', 'web-1', '--timestamps', '--tail=1')).toBe('2024-06-01T12:00:02.000000000Z GET /a 200');
      expect(await ok('logs', 'web-1', '-p')).toBe('crashed');
      const none = await kubectl('logs', 'web-2', '-p');
      expect(none.exitCode).toBe(1);
      expect(none.stderr).toContain('previous terminated container "app" in pod "web-2" not found');
      const waiting = await kubectl('logs', 'web-2');
      expect(waiting.stderr).toContain('container "app" in pod "web-2" is waiting to start: ContainerCreating');
      const unknown = await kubectl('logs', 'web-1', '-c', 'nope');
      expect(unknown.stderr).toContain('container nope is not valid for pod web-1');
    });

    it('logs deploy/web reads a pod of the Deployment’s selector', async () => {
      await logWith('web-1/app', 'from web-1');
      await logWith('web-2/app', 'from web-2');
      expect(await ok('logs', 'deploy/web')).toMatch(/^from web-[12]$/);
    });

    it('logs -f prints new lines and ends when the container does', async () => {
      const log = await logWith('web-1/app', 'listening');
      const sub = kubectl('logs', '-f', 'web-1');
      running.push(sub);
      let out = '';
      sub.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
      await vi.waitFor(() => expect(out).toBe('listening\n'), { timeout: 20_000 });
      log.append({ time: fx.clock.now(), stream: 'stdout', text: 'SIGTERM received' });
      await vi.waitFor(() => expect(out).toBe('listening\nSIGTERM received\n'), { timeout: 20_000 });
      log.end();
      const result = await sub;
      expect(result.exitCode).toBe(0);
    });
  });

  it('apply -f creates and then updates an object', async () => {
    const svc = (port: number) => JSON.stringify({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'web' }, spec: { selector: { app: 'web' }, ports: [{ port }] } });
    const create = await execa(KUBECTL, ['--cache-dir', cacheDir, 'apply', '-f', '-'], { env: { KUBECONFIG: fx.kubeconfig }, input: svc(80), timeout: 30_000, reject: false });
    expect(create.exitCode, create.stderr).toBe(0);
    const update = await execa(KUBECTL, ['--cache-dir', cacheDir, 'apply', '-f', '-'], { env: { KUBECONFIG: fx.kubeconfig }, input: svc(81), timeout: 30_000, reject: false });
    expect(update.stdout).toContain('service/web configured');
    expect(fx.store.get('services', 'default', 'web')?.spec.ports).toEqual([{ port: 81 }]);
  });
});
