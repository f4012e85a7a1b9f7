// The kubelet twin with real processes on loopback and a scaled clock: start, readiness, gates,
// termination (preStop, SIGTERM, grace, SIGKILL), restarts, killNode and stop.
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { scaledClock, type Clock } from '../../../harness/core/clock.ts';
import { seededRandom } from '../../../harness/core/random.ts';
import { projectRoot } from '../../../harness/core/paths.ts';
import { PORT_ANNOTATION, resolveContainerCommand, sleepSecondsOf, startKubelets, type Kubelets } from '../../../harness/twin/controllers/kubelet.ts';
import { ObjectStore } from '../../../harness/twin/kube/store.ts';
import type { KubeObject, WatchEvent } from '../../../harness/twin/kube/types.ts';
import { Network } from '../../../harness/twin/network.ts';
import { createAddressAllocator } from '../../../harness/twin/runtime/addresses.ts';
import { createProcessSupervisor } from '../../../harness/twin/runtime/processes.ts';
import type { ContainerProcess, ProcessSupervisor } from '../../../harness/twin/runtime/types.ts';
import { isAlive } from '../../helpers/processes.ts';

interface Spawned {
  name: string;
  proc: ContainerProcess;
  exit?: { code: number | null; signal: NodeJS.Signals | null; at: number };
}

interface Harness {
  clock: Clock;
  store: ObjectStore;
  network: Network;
  kubelets: Kubelets;
  inner: ProcessSupervisor;
  spawned: Spawned[];
  lines: Array<{ name: string; line: string; at: number }>;
  events: WatchEvent[];
}

const harnesses: Harness[] = [];
const tmpDirs: string[] = [];

async function setup(opts: { scale?: number; portMode?: boolean; nodes?: string[]; backoffSeconds?: number } = {}): Promise<Harness> {
  const clock = scaledClock(opts.scale ?? 0.02);
  const store = new ObjectStore(clock);
  store.create('namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default' } });
  for (const name of opts.nodes ?? ['node-a']) store.create('nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name } });
  const lines: Harness['lines'] = [];
  const inner = createProcessSupervisor({ onOutput: (name, line) => lines.push({ name, line, at: Date.now() }) });
  const spawned: Spawned[] = [];
  // Records every process the kubelet starts, and when and how it ended.
  const supervisor: ProcessSupervisor = {
    spawn(spec) {
      const proc = inner.spawn(spec);
      const record: Spawned = { name: spec.name, proc };
      void proc.exited.then((e) => (record.exit = { ...e, at: Date.now() }));
      spawned.push(record);
      return proc;
    },
    pids: () => inner.pids(),
    killAll: () => inner.killAll(),
  };
  const network = new Network();
  const events: WatchEvent[] = [];
  store.watch('pods', {}, (e) => events.push(e));
  const kubelets = startKubelets({
    store,
    clock,
    random: seededRandom(1),
    supervisor,
    addresses: await createAddressAllocator({ forcePortMode: opts.portMode }),
    network,
    images: {},
    projectRoot,
    restartBackoff: { initialSeconds: opts.backoffSeconds ?? 10, maxSeconds: 300 },
  });
  const h = { clock, store, network, kubelets, inner, spawned, lines, events };
  harnesses.push(h);
  return h;
}

afterEach(async () => {
  for (const h of harnesses.splice(0)) {
    await h.kubelets.stop();
    await h.inner.killAll();
  }
  await Promise.all(tmpDirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});


interface PodOptions {
  node?: string;
  env?: Record<string, string>;
  probe?: Record<string, unknown>;
  gates?: string[];
  grace?: number;
  preStop?: Record<string, unknown>;
  image?: string;
  command?: string[];
}

function testPod(name: string, o: PodOptions = {}): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', labels: { app: 'web' } },
    spec: {
      nodeName: o.node ?? 'node-a',
      terminationGracePeriodSeconds: o.grace ?? 30,
      ...(o.gates ? { readinessGates: o.gates.map((conditionType) => ({ conditionType })) } : {}),
      containers: [
        {
          name: 'app',
          image: o.image ?? 'rollout-harness/test-app:v1',
          ...(o.command ? { command: o.command } : {}),
          ports: [{ name: 'http', containerPort: 8080 }],
          env: Object.entries(o.env ?? {}).map(([name, value]) => ({ name, value })),
          ...(o.probe ? { readinessProbe: o.probe } : {}),
          ...(o.preStop ? { lifecycle: { preStop: o.preStop } } : {}),
        },
      ],
    },
  };
}

const readyProbe = { httpGet: { path: '/readyz', port: 'http' }, periodSeconds: 2 };

function condition(pod: KubeObject | undefined, type: string): { status: string; reason?: string; lastTransitionTime?: string } | undefined {
  return pod?.status?.conditions?.find((c: { type: string }) => c.type === type);
}

function pod(h: Harness, name: string): KubeObject | undefined {
  return h.store.get('pods', 'default', name);
}

async function until<T>(fn: () => T | undefined | false, timeout = 15_000): Promise<T> {
  return vi.waitFor(
    () => {
      const value = fn();
      if (value === undefined || value === false) throw new Error('not yet');
      return value;
    },
    { timeout, interval: 10 },
  );
}

/** Waits until the pod's app has printed its `listening` line (its SIGTERM handler is in place). */
function listening(h: Harness, name: string): Promise<unknown> {
  return until(() => h.lines.find((l) => l.name === `default/${name}/app` && l.line.startsWith('listening ')));
}

function get(host: string, port: number, urlPath = '/'): Promise<{ status: number; pod?: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host, port, path: urlPath, agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode!, pod: res.headers['x-pod'] as string | undefined }));
      })
      .on('error', reject);
  });
}

function pidOf(p: KubeObject | undefined): number {
  return Number(String(p?.status?.containerStatuses?.[0]?.containerID ?? '').replace('twin://', ''));
}

function kubeletEvents(h: Harness, reason: string): KubeObject[] {
  return h.store.list('events').items.filter((e) => e.reason === reason);
}

describe('kubelet twin: start and readiness', () => {
  it('runs a bound pod as a process that answers on its podIP, and reports it Running', async () => {
    const h = await setup();
    h.store.create('pods', testPod('web-1'));
    const running = await until(() => {
      const p = pod(h, 'web-1');
      return p?.status?.phase === 'Running' && condition(p, 'Ready')?.status === 'True' && p;
    });
    const status = running.status;
    expect(status.podIP).toMatch(/^127\.\d+\.\d+\.\d+$/);
    expect(status.podIPs).toEqual([{ ip: status.podIP }]);
    expect(status.hostIP).toBe('127.0.0.1');
    expect(status.startTime).toMatch(/^\d{4}-\d\d-\d\dT/);
    const cs = status.containerStatuses[0];
    expect(cs).toMatchObject({ name: 'app', ready: true, started: true, restartCount: 0, image: 'rollout-harness/test-app:v1' });
    expect(cs.state.running.startedAt).toBeTruthy();
    expect(cs.containerID).toBe(`twin://${h.spawned[0].proc.pid}`);
    for (const type of ['PodScheduled', 'Initialized', 'ContainersReady', 'Ready']) expect(condition(running, type)?.status).toBe('True');
    // The real process answers on the pod's own address and port.
    await listening(h, 'web-1');
    expect(await get(status.podIP, 8080)).toEqual({ status: 200, pod: 'web-1' });
    expect(kubeletEvents(h, 'Started')).toHaveLength(1);
  });

  it('gives the container its env, the pod fields and TIME_SCALE; command overrides the image', async () => {
    const h = await setup();
    const p = testPod('env-1', {
      image: 'no-such-image:latest',
      command: ['node', '-e', 'console.log(JSON.stringify(process.env)); process.stdin.resume()'],
      env: { GREETING: 'hello' },
    });
    p.spec.containers[0].env.push({ name: 'MY_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } });
    h.store.create('pods', p);
    const line = await until(() => h.lines.find((l) => l.name === 'default/env-1/app'));
    const env = JSON.parse(line.line) as Record<string, string>;
    const podIP = pod(h, 'env-1')?.status?.podIP;
    expect(env).toMatchObject({
      GREETING: 'hello',
      MY_NAME: 'env-1',
      HOST: podIP,
      PORT: '8080',
      POD_NAME: 'env-1',
      POD_NAMESPACE: 'default',
      POD_IP: podIP,
      NODE_NAME: 'node-a',
      TIME_SCALE: '0.02',
      EXIT_WITH_PARENT: '1',
    });
  });

  it('keeps Ready False until the readiness probe passes, and records Unhealthy', async () => {
    const h = await setup();
    // 20 model s of startup delay: the first probes find nothing listening.
    h.store.create('pods', testPod('slow-1', { env: { STARTUP_DELAY_MS: '20000' }, probe: readyProbe }));
    const early = await until(() => pod(h, 'slow-1')?.status?.phase === 'Running' && pod(h, 'slow-1'));
    expect(condition(early, 'ContainersReady')).toMatchObject({ status: 'False', reason: 'ContainersNotReady' });
    expect(condition(early, 'Ready')?.status).toBe('False');
    expect(early.status.containerStatuses[0]).toMatchObject({ ready: false, started: true });
    const ready = await until(() => condition(pod(h, 'slow-1'), 'Ready')?.status === 'True' && pod(h, 'slow-1'));
    expect(condition(ready, 'ContainersReady')?.status).toBe('True');
    const readyAt = h.clock.now();
    expect(readyAt - Date.parse(early.status.startTime)).toBeGreaterThanOrEqual(19_000);
    expect(kubeletEvents(h, 'Unhealthy')[0]?.message).toMatch(/^Readiness probe failed: Get "http:\/\/127\.[\d.]+:8080\/readyz": .*ECONNREFUSED/);
  });

  it('marks the pod not ready after failureThreshold failed probes, without restarting it', async () => {
    const h = await setup();
    h.store.create('pods', testPod('flaky-1', { env: { ON_SIGTERM: 'ignore', FAIL_HEALTH_ON_SIGTERM: '1' }, probe: readyProbe }));
    const ready = await until(() => condition(pod(h, 'flaky-1'), 'Ready')?.status === 'True' && pod(h, 'flaky-1'));
    const pid = pidOf(ready);
    const before = h.clock.now();
    // The app keeps running but its readiness path answers 503 from now on.
    process.kill(pid, 'SIGTERM');
    const notReady = await until(() => condition(pod(h, 'flaky-1'), 'Ready')?.status === 'False' && pod(h, 'flaky-1'));
    // Three failures at a 2 s period: about 4–6 model s, never at the first failure.
    expect(h.clock.now() - before).toBeGreaterThanOrEqual(3_500);
    expect(notReady.status.containerStatuses[0]).toMatchObject({ ready: false, started: true, restartCount: 0 });
    expect(pidOf(notReady)).toBe(pid);
    expect(isAlive(pid)).toBe(true);
  });

  it('does not rewrite an unchanged status while probes keep passing', async () => {
    const h = await setup();
    h.store.create('pods', testPod('quiet-1', { probe: { ...readyProbe, periodSeconds: 1 } }));
    await until(() => condition(pod(h, 'quiet-1'), 'Ready')?.status === 'True');
    const count = h.events.length;
    const rv = pod(h, 'quiet-1')?.metadata.resourceVersion;
    // 20 model s = about 20 passing probes.
    await h.clock.sleep(20_000);
    expect(h.events.length).toBe(count);
    expect(pod(h, 'quiet-1')?.metadata.resourceVersion).toBe(rv);
  });

  it('keeps Ready False until every readiness gate condition is True, preserving the gate conditions', async () => {
    const h = await setup();
    const gate = 'target-health.elbv2.k8s.aws/k8s-default-web-0123456789';
    h.store.create('pods', testPod('gated-1', { gates: [gate] }));
    const waiting = await until(() => condition(pod(h, 'gated-1'), 'ContainersReady')?.status === 'True' && pod(h, 'gated-1'));
    expect(condition(waiting, 'Ready')).toMatchObject({ status: 'False', reason: 'ReadinessGatesNotReady' });
    const setGate = (status: string) =>
      h.store.modify('pods', 'default', 'gated-1', (p) => {
        const others = (p.status.conditions ?? []).filter((c: { type: string }) => c.type !== gate);
        p.status.conditions = [...others, { type: gate, status, lastProbeTime: null, lastTransitionTime: new Date(h.clock.now()).toISOString() }];
      });
    // Still not ready while the condition exists but is not True.
    setGate('False');
    await h.clock.sleep(2_000);
    expect(condition(pod(h, 'gated-1'), 'Ready')?.status).toBe('False');
    setGate('True');
    const ready = await until(() => condition(pod(h, 'gated-1'), 'Ready')?.status === 'True' && pod(h, 'gated-1'));
    expect(condition(ready, gate)?.status).toBe('True');
    setGate('False');
    const back = await until(() => condition(pod(h, 'gated-1'), 'Ready')?.status === 'False' && pod(h, 'gated-1'));
    expect(condition(back, gate)?.status).toBe('False');
    expect(condition(back, 'ContainersReady')?.status).toBe('True');
  });

  it('starts a pod bound to a node once that node appears', async () => {
    const h = await setup({ nodes: [] });
    h.store.create('pods', testPod('later-1', { node: 'node-late' }));
    await h.clock.sleep(5_000);
    expect(h.spawned).toHaveLength(0);
    h.store.create('nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-late' } });
    await until(() => pod(h, 'later-1')?.status?.phase === 'Running');
  });

  it('fails a pod whose image it does not know, with a Warning event', async () => {
    const h = await setup();
    h.store.create('pods', testPod('bad-1', { image: 'example.com/unknown:1' }));
    const failed = await until(() => pod(h, 'bad-1')?.status?.phase === 'Failed' && pod(h, 'bad-1'));
    expect(failed.status.containerStatuses[0].state.waiting.reason).toBe('ErrImagePull');
    const event = kubeletEvents(h, 'Failed')[0];
    expect(event).toMatchObject({ type: 'Warning', involvedObject: { kind: 'Pod', name: 'bad-1' } });
    expect(event.message).toMatch(/Failed to pull image "example.com\/unknown:1": expected an image the twin knows .* got an unknown image/);
    expect(h.spawned).toHaveLength(0);
  });

  it('uses distinct ports on 127.0.0.1 in port mode and annotates the real port', async () => {
    const h = await setup({ portMode: true });
    h.store.create('pods', testPod('ported-1', { probe: readyProbe }));
    const ready = await until(() => condition(pod(h, 'ported-1'), 'Ready')?.status === 'True' && pod(h, 'ported-1'));
    expect(ready.status.podIP).toBe('127.0.0.1');
    const port = Number(ready.metadata.annotations?.[PORT_ANNOTATION]);
    expect(port).toBeGreaterThan(0);
    expect(port).not.toBe(8080);
    expect(await get('127.0.0.1', port)).toEqual({ status: 200, pod: 'ported-1' });
  });

  it('restarts a container that exits on its own, after a back-off', async () => {
    const h = await setup({ backoffSeconds: 5 });
    const dir = await mkdtemp(path.join(os.tmpdir(), 'kubelet-test-'));
    tmpDirs.push(dir);
    const marker = path.join(dir, 'crashed-once');
    const app = path.join(projectRoot, 'fixtures/app/server.mjs');
    const script = `if [ -f '${marker}' ]; then exec '${process.execPath}' '${app}'; else touch '${marker}'; exit 3; fi`;
    h.store.create('pods', testPod('crash-1', { command: ['sh', '-c', script], probe: readyProbe }));
    const crashed = await until(() => pod(h, 'crash-1')?.status?.containerStatuses?.[0]?.state?.waiting?.reason === 'CrashLoopBackOff' && pod(h, 'crash-1'));
    expect(crashed.status.containerStatuses[0].lastState.terminated).toMatchObject({ exitCode: 3, reason: 'Error' });
    expect(condition(crashed, 'Ready')?.status).toBe('False');
    const crashedAt = h.clock.now();
    const ready = await until(() => condition(pod(h, 'crash-1'), 'Ready')?.status === 'True' && pod(h, 'crash-1'));
    expect(h.clock.now() - crashedAt).toBeGreaterThanOrEqual(4_500);
    expect(ready.status.containerStatuses[0]).toMatchObject({ restartCount: 1, ready: true, lastState: { terminated: { exitCode: 3 } } });
    expect(h.spawned).toHaveLength(2);
    expect(kubeletEvents(h, 'BackOff')).toHaveLength(1);
  });
});

describe('kubelet twin: termination', () => {
  it('runs the preStop sleep, then SIGTERM; the graceful app drains and the pod is removed', async () => {
    const h = await setup({ scale: 0.05 });
    h.store.create('pods', testPod('term-1', { grace: 30, preStop: { exec: { command: ['sh', '-c', 'sleep 10'] } } }));
    await until(() => condition(pod(h, 'term-1'), 'Ready')?.status === 'True');
    await listening(h, 'term-1');
    const proc = h.spawned[0].proc;
    const deletedAt = Date.now();
    h.store.delete('pods', 'default', 'term-1');
    // During preStop the pod stays Ready and its process keeps serving.
    await h.clock.sleep(5_000);
    expect(condition(pod(h, 'term-1'), 'Ready')?.status).toBe('True');
    expect(proc.running).toBe(true);
    const sigterm = await until(() => h.lines.find((l) => l.name === 'default/term-1/app' && l.line.startsWith('SIGTERM received')));
    const sigtermAt = Number(/at (\d+)$/.exec(sigterm.line)![1]);
    // 10 model s at 0.05 = 500 real ms; the grace period (1500 ms) is far away.
    expect(sigtermAt - deletedAt).toBeGreaterThanOrEqual(480);
    expect(sigtermAt - deletedAt).toBeLessThan(1_400);
    await until(() => pod(h, 'term-1') === undefined);
    expect(h.spawned[0].exit).toMatchObject({ code: 0, signal: null });
    expect(isAlive(proc.pid)).toBe(false);
    const final = h.events.filter((e) => e.object.metadata.name === 'term-1').at(-2)!.object;
    expect(final.status.phase).toBe('Succeeded');
    expect(final.status.containerStatuses[0].state.terminated).toMatchObject({ exitCode: 0, reason: 'Completed' });
    expect(h.events.at(-1)?.type).toBe('DELETED');
    expect(kubeletEvents(h, 'Killing')[0]?.message).toBe('Stopping container app');
  });

  it('supports the native preStop sleep action', async () => {
    const h = await setup({ scale: 0.05 });
    h.store.create('pods', testPod('term-2', { preStop: { sleep: { seconds: 8 } } }));
    await until(() => condition(pod(h, 'term-2'), 'Ready')?.status === 'True');
    await listening(h, 'term-2');
    const deletedAt = Date.now();
    h.store.delete('pods', 'default', 'term-2');
    const sigterm = await until(() => h.lines.find((l) => l.name === 'default/term-2/app' && l.line.startsWith('SIGTERM received')));
    expect(Number(/at (\d+)$/.exec(sigterm.line)![1]) - deletedAt).toBeGreaterThanOrEqual(380);
  });

  it('cuts a preStop longer than the grace period at the deadline, SIGTERMs, and SIGKILLs 2 s later', async () => {
    const h = await setup({ scale: 0.1 });
    h.store.create('pods', testPod('term-3', { grace: 4, env: { ON_SIGTERM: 'ignore' }, preStop: { exec: { command: ['sleep', '30'] } } }));
    await until(() => condition(pod(h, 'term-3'), 'Ready')?.status === 'True');
    await listening(h, 'term-3');
    const deletedAt = Date.now();
    h.store.delete('pods', 'default', 'term-3');
    await until(() => pod(h, 'term-3') === undefined);
    const sigterm = h.lines.find((l) => l.name === 'default/term-3/app' && l.line.startsWith('SIGTERM received'));
    expect(sigterm).toBeDefined();
    const sigtermAt = Number(/at (\d+)$/.exec(sigterm!.line)![1]);
    const exit = h.spawned[0].exit!;
    // Grace 4 model s = 400 real ms; the 2 s extension = 200 real ms more.
    expect(sigtermAt - deletedAt).toBeGreaterThanOrEqual(380);
    expect(sigtermAt - deletedAt).toBeLessThan(1_000);
    expect(exit.signal).toBe('SIGKILL');
    expect(exit.at - sigtermAt).toBeGreaterThanOrEqual(180);
    expect(exit.at - sigtermAt).toBeLessThan(900);
    const final = h.events.filter((e) => e.object.metadata.name === 'term-3').at(-2)!.object;
    expect(final.status.phase).toBe('Failed');
    expect(final.status.containerStatuses[0].state.terminated).toMatchObject({ exitCode: 137, signal: 9, reason: 'Error' });
  });

  it('honours a second delete that shortens the grace period', async () => {
    const h = await setup({ scale: 0.1 });
    h.store.create('pods', testPod('term-6', { grace: 60, env: { ON_SIGTERM: 'ignore' }, preStop: { sleep: { seconds: 100 } } }));
    await until(() => condition(pod(h, 'term-6'), 'Ready')?.status === 'True');
    await listening(h, 'term-6');
    const deletedAt = Date.now();
    h.store.delete('pods', 'default', 'term-6');
    await h.clock.sleep(500);
    h.store.delete('pods', 'default', 'term-6', { gracePeriodSeconds: 3 });
    await until(() => pod(h, 'term-6') === undefined);
    // 3 model s + the 2 s minimum after SIGTERM = 500 real ms, instead of 6000 for the first grace.
    expect(h.spawned[0].exit?.signal).toBe('SIGKILL');
    expect(h.spawned[0].exit!.at - deletedAt).toBeGreaterThanOrEqual(480);
    expect(h.spawned[0].exit!.at - deletedAt).toBeLessThan(2_000);
  });

  it('an app that exits immediately on SIGTERM is gone long before the grace period', async () => {
    const h = await setup({ scale: 0.05 });
    h.store.create('pods', testPod('term-4', { grace: 60, env: { ON_SIGTERM: 'immediate' } }));
    await until(() => condition(pod(h, 'term-4'), 'Ready')?.status === 'True');
    await listening(h, 'term-4');
    const deletedAt = Date.now();
    h.store.delete('pods', 'default', 'term-4');
    await until(() => pod(h, 'term-4') === undefined);
    expect(h.spawned[0].exit).toMatchObject({ code: 143, signal: null });
    expect(Date.now() - deletedAt).toBeLessThan(1_500); // grace would be 3000 real ms
    const final = h.events.filter((e) => e.object.metadata.name === 'term-4').at(-2)!.object;
    expect(final.status.containerStatuses[0].state.terminated.exitCode).toBe(143);
  });

  it('SIGKILLs at once when the pod object is force-removed', async () => {
    const h = await setup();
    h.store.create('pods', testPod('term-5', { env: { ON_SIGTERM: 'ignore' } }));
    await until(() => condition(pod(h, 'term-5'), 'Ready')?.status === 'True');
    h.store.delete('pods', 'default', 'term-5', { gracePeriodSeconds: 0 });
    await until(() => h.spawned[0].exit);
    expect(h.spawned[0].exit?.signal).toBe('SIGKILL');
  });
});

describe('kubelet twin: node loss and stop', () => {
  it('killNode SIGKILLs the node’s processes, blackholes their addresses and leaves the pods as they are', async () => {
    const h = await setup({ nodes: ['node-a', 'node-b'] });
    h.store.create('pods', testPod('a-1'));
    h.store.create('pods', testPod('a-2', { probe: readyProbe }));
    h.store.create('pods', testPod('b-1', { node: 'node-b' }));
    for (const name of ['a-1', 'a-2', 'b-1']) await until(() => condition(pod(h, name), 'Ready')?.status === 'True');
    const before = pod(h, 'a-1')!;
    const onA = h.spawned.filter((s) => s.name.startsWith('default/a-'));
    h.kubelets.killNode('node-a');
    for (const s of onA) {
      await until(() => s.exit);
      expect(s.exit?.signal).toBe('SIGKILL');
      expect(isAlive(s.proc.pid)).toBe(false);
    }
    for (const name of ['a-1', 'a-2']) expect(h.network.isBlackholed(pod(h, name)!.status.podIP)).toBe(true);
    // Nothing reports for a dead instance: the objects stay as they were.
    await h.clock.sleep(10_000);
    expect(pod(h, 'a-1')?.metadata.resourceVersion).toBe(before.metadata.resourceVersion);
    expect(pod(h, 'a-1')?.status.phase).toBe('Running');
    // The other node is untouched.
    const b = pod(h, 'b-1')!;
    await listening(h, 'b-1');
    expect(h.network.isBlackholed(b.status.podIP)).toBe(false);
    expect(await get(b.status.podIP, 8080)).toEqual({ status: 200, pod: 'b-1' });
    // A pod bound to the dead node later is never started.
    h.store.create('pods', testPod('a-3'));
    await h.clock.sleep(5_000);
    expect(h.spawned.some((s) => s.name === 'default/a-3/app')).toBe(false);
  });

  it('stop() leaves no process alive', async () => {
    const h = await setup();
    for (const name of ['s-1', 's-2', 's-3']) h.store.create('pods', testPod(name, { env: { ON_SIGTERM: 'ignore' } }));
    await until(() => h.spawned.length === 3 && h.spawned.every((s) => isAlive(s.proc.pid)));
    await h.kubelets.stop();
    for (const s of h.spawned) expect(isAlive(s.proc.pid)).toBe(false);
    expect(h.inner.pids()).toEqual([]);
    // After stop, new pods are not started.
    h.store.create('pods', testPod('s-4'));
    await h.clock.sleep(2_000);
    expect(h.spawned).toHaveLength(3);
  });
});

describe('kubelet twin: pure helpers', () => {
  it('recognises preStop commands that only sleep', () => {
    expect(sleepSecondsOf(['sleep', '15'])).toBe(15);
    expect(sleepSecondsOf(['/bin/sleep', '5s'])).toBe(5);
    expect(sleepSecondsOf(['/usr/bin/sleep', '2.5'])).toBe(2.5);
    expect(sleepSecondsOf(['sh', '-c', 'sleep 20'])).toBe(20);
    expect(sleepSecondsOf(['/bin/sh', '-c', 'exec sleep 7;'])).toBe(7);
    expect(sleepSecondsOf(['sh', '-c', 'sleep 5 && curl localhost'])).toBeUndefined();
    expect(sleepSecondsOf(['echo', 'sleep 5'])).toBeUndefined();
  });

  it('resolves container commands from the spec, the image table and the test-app default', () => {
    const images = { 'example/app': ['/usr/bin/app', '--serve'] };
    expect(resolveContainerCommand({ image: 'example/app:2.1', args: ['-v'] }, images, '/root')).toEqual({ command: ['/usr/bin/app', '--serve', '-v'], own: 2 });
    expect(resolveContainerCommand({ image: 'rollout-harness/test-app:v7' }, images, '/root')).toEqual({
      command: [process.execPath, path.join('/root', 'fixtures/app/server.mjs')],
      own: 2,
    });
    expect(resolveContainerCommand({ image: 'x', command: ['sh', '-c'], args: ['true'] }, images, '/root')).toEqual({ command: ['sh', '-c', 'true'], own: 0 });
    expect(resolveContainerCommand({ image: 'registry:5000/unknown' }, images, '/root')).toHaveProperty('error');
  });
});
