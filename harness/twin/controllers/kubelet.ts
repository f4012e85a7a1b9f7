/**
 * The kubelet twin: one logical kubelet per Node object, running the pods bound to it as real OS
 * processes on their own loopback addresses, with the pod lifecycle of a real kubelet:
 *
 * - start: allocate an address, spawn each container, report Running with podIP;
 * - readiness: probes against the real process (k8s defaults), ContainersReady, and Ready =
 *   ContainersReady AND every readiness gate's condition True (conditions it does not own, like
 *   the load balancer controller's gate conditions, are preserved);
 * - termination (deletionTimestamp): the grace countdown starts at once; preStop runs and is
 *   waited for at most until the grace deadline; then SIGTERM; then SIGKILL after the time left,
 *   but never sooner than 2 s after SIGTERM (the kubelet's minimum shutdown window — the "2 s
 *   extension" a preStop overrunning the grace period gets); when every container has exited the
 *   pod is reported Succeeded/Failed and removed;
 * - a container that exits on its own is restarted after a back-off (restartPolicy Always);
 * - `killNode`: the instance is gone — processes SIGKILLed, addresses blackholed, nothing reported.
 *
 * Store listeners never write synchronously (the store delivers events from inside its writes);
 * every event is handled on a microtask queue in order.
 */
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { execa } from 'execa';
import { stallTolerantTimeout, type Clock, type Timer } from '../../core/clock.ts';
import type { Random } from '../../core/random.ts';
import { timestamp, type ObjectStore } from '../kube/store.ts';
import type { KubeObject, WatchEvent } from '../kube/types.ts';
import type { Network } from '../network.ts';
import { recordEvent } from './events.ts';
import type { AddressAllocator, ContainerProcess, PodAddress, ProcessExit, ProcessSupervisor } from '../runtime/types.ts';

/** The image of the test app; any tag runs `fixtures/app/server.mjs`. */
export const TEST_APP_IMAGE = 'rollout-harness/test-app';
/** Annotation telling the load balancer controller twin the real port, when it differs from containerPort. */
export const PORT_ANNOTATION = 'twin.rollout-harness.io/port';
/** The host IP every pod reports: node addresses are never real, so the loopback stands in. */
export const HOST_IP = '127.0.0.1';

/** Minimum time between SIGTERM and SIGKILL (kubelet `minimumGracePeriodInSeconds`). */
const MIN_SHUTDOWN_MS = 2000;
/**
 * Probe timeouts never go below this many real ms: at a fast time scale a 1 s timeout is 100 real
 * ms or less, within a loaded 2-core machine's scheduling delays for the pod's process, and the
 * probe would fail spuriously (every pod at once, then a storm of deregistrations). The timeout
 * also discounts the kubelet's own stalls (`stallTolerantTimeout`).
 */
const MIN_REAL_PROBE_TIMEOUT_MS = 250;

/** What the kubelets need. */
export interface KubeletDeps {
  store: ObjectStore;
  clock: Clock;
  /** Accepted for symmetry with the other controllers; a kubelet's timing has no jitter. */
  random?: Random;
  supervisor: ProcessSupervisor;
  addresses: AddressAllocator;
  network: Network;
  /** Image → command (argv). Lookup tries the full image, then the image without tag or digest. */
  images: Record<string, string[]>;
  /** The project root: working directory of containers and hooks, and where fixtures/app is. */
  projectRoot: string;
  log?: (line: string) => void;
  /** Crash-loop back-off in model seconds (k8s: 10 s doubling to 300 s). */
  restartBackoff?: { initialSeconds: number; maxSeconds: number };
}

/** The running kubelets. */
export interface Kubelets {
  /** Stops watches and timers, SIGKILLs every pod process and releases every address. */
  stop(): Promise<void>;
  /** The node's instance is gone: SIGKILL its pods' processes, blackhole their addresses, report nothing more. */
  killNode(nodeName: string): void;
}

interface Terminated {
  exitCode: number;
  signal?: number;
  reason: string;
  startedAt?: string;
  finishedAt: string;
  containerID?: string;
}

type Hook = { kind: 'sleep'; ms: number } | { kind: 'exec'; command: string[] } | { kind: 'http'; path: string; port: number };

interface ProbePlan {
  action: Hook | { kind: 'tcp'; port: number };
  initialDelayMs: number;
  periodMs: number;
  timeoutMs: number;
  successThreshold: number;
  failureThreshold: number;
}

interface ContainerRuntime {
  name: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  spec: any;
  command: string[];
  env: Record<string, string>;
  declaredPort?: number;
  address?: PodAddress;
  readiness?: ProbePlan;
  preStop?: Hook;
  proc?: ContainerProcess;
  /** Bumped at every start, so callbacks of an earlier process are ignored. */
  gen: number;
  restartCount: number;
  ready: boolean;
  startedAt?: string;
  waiting?: { reason: string; message?: string };
  lastTerminated?: Terminated;
  terminated?: Terminated;
  successes: number;
  failures: number;
  probeTimer?: Timer;
  restartTimer?: Timer;
  killTimer?: Timer;
}

interface PodRuntime {
  uid: string;
  namespace: string;
  name: string;
  nodeName: string;
  pod: KubeObject;
  /** starting → running → terminating → finished; dead when the node was killed. */
  state: 'starting' | 'running' | 'terminating' | 'finished' | 'dead';
  containers: ContainerRuntime[];
  address?: PodAddress;
  /** Addresses to release when the pod is gone (more than one only in port mode). */
  owned: PodAddress[];
  startTime?: string;
  abort: AbortController;
  syncQueued: boolean;
  term?: { start: number; deadline: number; timer?: Timer; expired: Promise<void>; expire: () => void };
}

type Resolved = { command: string[] } | { error: string };

function stripTag(image: string): string {
  const noDigest = image.split('@')[0];
  const slash = noDigest.lastIndexOf('/');
  const colon = noDigest.lastIndexOf(':');
  return colon > slash ? noDigest.slice(0, colon) : noDigest;
}

/** The argv for a container: `command` (+ `args`) from the spec, else the image's command (+ `args`). */
export function resolveContainerCommand(
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  container: any,
  images: Record<string, string[]>,
  projectRoot: string,
): Resolved {
  const args: string[] = (container.args ?? []).map(String);
  if (Array.isArray(container.command) && container.command.length > 0) {
    return { command: [...container.command.map(String), ...args] };
  }
  const image = String(container.image ?? '');
  const base =
    images[image] ??
    images[stripTag(image)] ??
    (stripTag(image) === TEST_APP_IMAGE ? [process.execPath, path.join(projectRoot, 'fixtures/app/server.mjs')] : undefined);
  if (!base) {
    const known = [TEST_APP_IMAGE, ...Object.keys(images)].map((i) => JSON.stringify(i)).join(', ');
    return { error: `Failed to pull image "${image}": expected an image the twin knows (${known}) or a container command, got an unknown image` };
  }
  return { command: [...base, ...args] };
}

function parseSeconds(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)s?$/.exec(text.trim());
  return m ? Number(m[1]) : undefined;
}

/** The seconds of a preStop exec command that only sleeps (`sleep N`, `sh -c "sleep N"`, `/bin/sleep N`), else undefined. */
export function sleepSecondsOf(command: string[]): number | undefined {
  const isSleep = (s: string) => /^(?:\/usr)?(?:\/bin\/)?sleep$/.test(s);
  if (command.length === 2 && isSleep(command[0])) return parseSeconds(command[1]);
  if (command.length === 3 && /^(?:\/usr)?(?:\/bin\/)?(?:ba|da)?sh$/.test(command[0]) && command[1] === '-c') {
    const m = /^\s*(?:exec\s+)?(\S+)\s+([^\s;]+)\s*;?\s*$/.exec(command[2]);
    if (m && isSleep(m[1])) return parseSeconds(m[2]);
  }
  return undefined;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function portOf(container: any, port: unknown): number | undefined {
  if (typeof port === 'number') return port;
  if (typeof port === 'string' && /^\d+$/.test(port)) return Number(port);
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const named = (container.ports ?? []).find((p: any) => p.name === port);
  return named?.containerPort;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function hookOf(container: any, action: any): Hook | undefined {
  if (!action) return undefined;
  if (action.sleep?.seconds !== undefined) return { kind: 'sleep', ms: Number(action.sleep.seconds) * 1000 };
  if (Array.isArray(action.exec?.command) && action.exec.command.length > 0) {
    const command = action.exec.command.map(String);
    const seconds = sleepSecondsOf(command);
    return seconds !== undefined ? { kind: 'sleep', ms: seconds * 1000 } : { kind: 'exec', command };
  }
  if (action.httpGet) {
    return { kind: 'http', path: String(action.httpGet.path ?? '/'), port: portOf(container, action.httpGet.port) ?? 80 };
  }
  return undefined;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function probePlanOf(container: any): ProbePlan | undefined {
  const probe = container.readinessProbe;
  if (!probe) return undefined;
  const action = probe.tcpSocket
    ? { kind: 'tcp' as const, port: portOf(container, probe.tcpSocket.port) ?? 80 }
    : hookOf(container, { exec: probe.exec, httpGet: probe.httpGet });
  if (!action || action.kind === 'sleep') return undefined;
  return {
    action,
    initialDelayMs: (probe.initialDelaySeconds ?? 0) * 1000,
    periodMs: (probe.periodSeconds ?? 10) * 1000,
    timeoutMs: (probe.timeoutSeconds ?? 1) * 1000,
    successThreshold: probe.successThreshold ?? 1,
    failureThreshold: probe.failureThreshold ?? 3,
  };
}

const SIGNAL_NUMBERS: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGSEGV: 11, SIGTERM: 15 };

interface Condition {
  type: string;
  status: string;
  lastProbeTime?: null;
  lastTransitionTime?: string;
  reason?: string;
  message?: string;
}

function setCondition(list: Condition[], next: Omit<Condition, 'lastTransitionTime' | 'lastProbeTime'>, now: string): Condition[] {
  const index = list.findIndex((c) => c.type === next.type);
  const old = index >= 0 ? list[index] : undefined;
  const condition: Condition = {
    type: next.type,
    status: next.status,
    lastProbeTime: null,
    lastTransitionTime: old && old.status === next.status ? old.lastTransitionTime : now,
    ...(next.reason ? { reason: next.reason } : {}),
    ...(next.message ? { message: next.message } : {}),
  };
  if (index < 0) return [...list, condition];
  const copy = [...list];
  copy[index] = condition;
  return copy;
}

/** Starts one logical kubelet per Node in the store. */
export function startKubelets(deps: KubeletDeps): Kubelets {
  const { store, clock, supervisor, addresses, network } = deps;
  const log = deps.log ?? (() => {});
  const backoff = deps.restartBackoff ?? { initialSeconds: 10, maxSeconds: 300 };
  const nodes = new Map<string, { killed: boolean }>();
  const pods = new Map<string, PodRuntime>();
  let stopped = false;

  const now = () => timestamp(clock.now());
  const podsOn = (nodeName: string) => [...pods.values()].filter((rt) => rt.nodeName === nodeName);

  function emit(rt: PodRuntime, reason: string, message: string, type: 'Normal' | 'Warning' = 'Normal'): void {
    if (stopped) return;
    try {
      const involved = { apiVersion: 'v1', kind: 'Pod', name: rt.name, namespace: rt.namespace, uid: rt.uid };
      recordEvent(store, clock, involved, type, reason, message, 'kubelet');
    } catch (error) {
      log(`kubelet ${rt.nodeName}: cannot record event ${reason} for ${rt.namespace}/${rt.name}: ${(error as Error).message}`);
    }
  }

  // --- status -------------------------------------------------------------------------------

  function containerStatus(c: ContainerRuntime) {
    const running = c.proc?.running && !c.terminated;
    const term = (t: Terminated) => ({ terminated: { ...t } });
    const state = running
      ? { running: { startedAt: c.startedAt } }
      : c.terminated
        ? term(c.terminated)
        : { waiting: c.waiting ?? { reason: 'ContainerCreating' } };
    return {
      name: c.name,
      image: c.spec.image,
      imageID: `twin://${c.spec.image}`,
      ...(c.proc && c.proc.pid > 0 ? { containerID: `twin://${c.proc.pid}` } : {}),
      ready: c.ready,
      started: Boolean(running),
      restartCount: c.restartCount,
      state,
      lastState: c.lastTerminated ? term(c.lastTerminated) : {},
    };
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  function desiredStatus(rt: PodRuntime, current: KubeObject): any {
    const prev = current.status ?? {};
    const at = now();
    const finished = rt.state === 'finished';
    const unready = rt.containers.filter((c) => !c.ready).map((c) => c.name);
    const containersReady = unready.length === 0;
    let conditions: Condition[] = prev.conditions ?? [];
    const gates: string[] = (current.spec?.readinessGates ?? []).map((g: { conditionType: string }) => g.conditionType);
    const pendingGates = gates.filter((type) => !conditions.some((c) => c.type === type && c.status === 'True'));
    const ready = containersReady && pendingGates.length === 0;
    const notReadyMessage = `containers with unready status: [${unready.join(' ')}]`;
    conditions = setCondition(conditions, { type: 'Initialized', status: 'True' }, at);
    conditions = setCondition(
      conditions,
      ready
        ? { type: 'Ready', status: 'True' }
        : finished
          ? { type: 'Ready', status: 'False', reason: 'PodCompleted' }
          : containersReady
            ? {
                type: 'Ready',
                status: 'False',
                reason: 'ReadinessGatesNotReady',
                message: `corresponding condition of pod readiness gate ${pendingGates.map((g) => `"${g}"`).join(', ')} is not "True"`,
              }
            : { type: 'Ready', status: 'False', reason: 'ContainersNotReady', message: notReadyMessage },
      at,
    );
    conditions = setCondition(
      conditions,
      containersReady
        ? { type: 'ContainersReady', status: 'True' }
        : { type: 'ContainersReady', status: 'False', reason: finished ? 'PodCompleted' : 'ContainersNotReady', ...(finished ? {} : { message: notReadyMessage }) },
      at,
    );
    if (!conditions.some((c) => c.type === 'PodScheduled')) {
      conditions = setCondition(conditions, { type: 'PodScheduled', status: 'True' }, at);
    }
    const phase = finished
      ? rt.containers.every((c) => c.terminated?.exitCode === 0)
        ? 'Succeeded'
        : 'Failed'
      : 'Running';
    const ip = rt.address?.host;
    return {
      ...prev,
      phase,
      conditions,
      hostIP: HOST_IP,
      hostIPs: [{ ip: HOST_IP }],
      ...(ip ? { podIP: ip, podIPs: [{ ip }] } : {}),
      startTime: rt.startTime,
      containerStatuses: rt.containers.map(containerStatus),
      qosClass: prev.qosClass ?? 'BestEffort',
    };
  }

  /** Writes the pod's status now, if it changed. Returns false when the pod is gone. */
  function syncNow(rt: PodRuntime): boolean {
    if (stopped || rt.state === 'dead' || rt.state === 'starting') return true;
    const current = store.get('pods', rt.namespace, rt.name);
    if (!current || current.metadata.uid !== rt.uid) return false;
    const status = desiredStatus(rt, current);
    const port = rt.address && rt.containers[0]?.declaredPort !== rt.address.port ? String(rt.address.port) : undefined;
    const portOk = current.metadata.annotations?.[PORT_ANNOTATION] === port;
    if (portOk && JSON.stringify(status) === JSON.stringify(current.status)) return true;
    current.status = status;
    if (!portOk && port !== undefined) current.metadata.annotations = { ...current.metadata.annotations, [PORT_ANNOTATION]: port };
    try {
      store.update('pods', current);
    } catch (error) {
      log(`kubelet ${rt.nodeName}: cannot update status of ${rt.namespace}/${rt.name}: ${(error as Error).message}`);
    }
    return true;
  }

  function scheduleSync(rt: PodRuntime): void {
    if (rt.syncQueued) return;
    rt.syncQueued = true;
    queueMicrotask(() => {
      rt.syncQueued = false;
      syncNow(rt);
    });
  }

  // --- probes ---------------------------------------------------------------------------------

  function httpGet(host: string, port: number, urlPath: string, timeoutMs: number, signal: AbortSignal): Promise<{ ok: boolean; detail: string }> {
    return new Promise((resolve) => {
      let settled = false;
      const url = `http://${host}:${port}${urlPath}`;
      const done = (ok: boolean, detail: string) => {
        if (settled) return;
        settled = true;
        timer.cancel();
        signal.removeEventListener('abort', onAbort);
        req.destroy();
        resolve({ ok, detail });
      };
      const req = http.request(url, { method: 'GET', agent: false, headers: { 'user-agent': 'kube-probe/1.31', accept: '*/*', connection: 'close' } }, (res) => {
        const code = res.statusCode ?? 0;
        res.resume();
        res.on('end', () => done(code >= 200 && code < 400, `HTTP probe failed with statuscode: ${code}`));
        res.on('error', (error) => done(false, `Get "${url}": ${error.message}`));
      });
      req.on('error', (error) => done(false, `Get "${url}": ${error.message}`));
      const timer = stallTolerantTimeout(clock, () => done(false, `Get "${url}": context deadline exceeded (Client.Timeout exceeded while awaiting headers)`), timeoutMs);
      const onAbort = () => done(false, 'aborted');
      signal.addEventListener('abort', onAbort, { once: true });
      req.end();
    });
  }

  function tcpConnect(host: string, port: number, timeoutMs: number, signal: AbortSignal): Promise<{ ok: boolean; detail: string }> {
    return new Promise((resolve) => {
      let settled = false;
      const done = (ok: boolean, detail: string) => {
        if (settled) return;
        settled = true;
        timer.cancel();
        signal.removeEventListener('abort', onAbort);
        socket.destroy();
        resolve({ ok, detail });
      };
      const socket = net.connect({ host, port }, () => done(true, 'connected'));
      socket.on('error', (error) => done(false, `dial tcp ${host}:${port}: ${error.message}`));
      const timer = stallTolerantTimeout(clock, () => done(false, `dial tcp ${host}:${port}: i/o timeout`), timeoutMs);
      const onAbort = () => done(false, 'aborted');
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  async function runExec(command: string[], c: ContainerRuntime, signal: AbortSignal): Promise<{ ok: boolean; detail: string }> {
    const [file, ...args] = command;
    const result = await execa(file === 'node' ? process.execPath : file, args, {
      reject: false,
      cancelSignal: signal,
      killSignal: 'SIGKILL',
      cwd: deps.projectRoot,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...c.env },
      extendEnv: false,
      stdin: 'ignore',
    });
    const output = `${result.stdout ?? ''}${result.stderr ?? ''}`.trim().slice(0, 200);
    return { ok: result.exitCode === 0, detail: `command ${JSON.stringify(command)} exited with ${result.exitCode ?? result.signal}${output ? `: ${output}` : ''}` };
  }

  /** The real address of a port of container `c` (the allocated one when it is the declared port). */
  function target(rt: PodRuntime, c: ContainerRuntime, port: number): { host: string; port: number } {
    const host = c.address?.host ?? rt.address?.host ?? HOST_IP;
    for (const other of rt.containers) {
      if (other.declaredPort === port && other.address) return { host: other.address.host, port: other.address.port };
    }
    return { host, port };
  }

  function runProbe(rt: PodRuntime, c: ContainerRuntime, plan: ProbePlan): Promise<{ ok: boolean; detail: string }> {
    const timeoutMs = Math.max(plan.timeoutMs, clock.toModelMs(MIN_REAL_PROBE_TIMEOUT_MS));
    const a = plan.action;
    if (a.kind === 'http') {
      const t = target(rt, c, a.port);
      return httpGet(t.host, t.port, a.path, timeoutMs, rt.abort.signal);
    }
    if (a.kind === 'tcp') {
      const t = target(rt, c, a.port);
      return tcpConnect(t.host, t.port, timeoutMs, rt.abort.signal);
    }
    if (a.kind === 'exec') {
      const ctl = new AbortController();
      const timer = stallTolerantTimeout(clock, () => ctl.abort(), timeoutMs);
      const onAbort = () => ctl.abort();
      rt.abort.signal.addEventListener('abort', onAbort, { once: true });
      return runExec(a.command, c, ctl.signal).finally(() => {
        timer.cancel();
        rt.abort.signal.removeEventListener('abort', onAbort);
      });
    }
    return Promise.resolve({ ok: true, detail: '' });
  }

  function startProbing(rt: PodRuntime, c: ContainerRuntime): void {
    const plan = c.readiness;
    if (!plan) {
      // No readiness probe: ready as soon as the process started.
      c.ready = true;
      return;
    }
    const gen = c.gen;
    const alive = () => !stopped && (rt.state === 'running' || rt.state === 'terminating') && c.gen === gen && Boolean(c.proc?.running);
    const tick = async () => {
      if (!alive()) return;
      const started = clock.now();
      const result = await runProbe(rt, c, plan);
      if (!alive()) return;
      if (result.ok) {
        c.failures = 0;
        c.successes++;
        if (!c.ready && c.successes >= plan.successThreshold) {
          c.ready = true;
          scheduleSync(rt);
        }
      } else {
        c.successes = 0;
        c.failures++;
        // One event per failure streak keeps the event list light.
        if (c.failures === 1) emit(rt, 'Unhealthy', `Readiness probe failed: ${result.detail}`, 'Warning');
        if (c.ready && c.failures >= plan.failureThreshold) {
          c.ready = false;
          scheduleSync(rt);
        }
      }
      c.probeTimer = clock.setTimeout(() => void tick(), Math.max(0, plan.periodMs - (clock.now() - started)));
    };
    c.probeTimer = clock.setTimeout(() => void tick(), plan.initialDelayMs);
  }

  // --- processes ------------------------------------------------------------------------------

  function spawnContainer(rt: PodRuntime, c: ContainerRuntime): void {
    c.gen++;
    c.ready = false;
    c.successes = 0;
    c.failures = 0;
    c.waiting = undefined;
    const proc = supervisor.spawn({ name: `${rt.namespace}/${rt.name}/${c.name}`, command: c.command, env: c.env, cwd: deps.projectRoot });
    c.proc = proc;
    c.startedAt = now();
    log(`kubelet ${rt.nodeName}: ${rt.namespace}/${rt.name}/${c.name} started pid ${proc.pid} on ${c.address?.host}:${c.address?.port}`);
    emit(rt, 'Started', `Started container ${c.name}`);
    void proc.exited.then((exit) => onExit(rt, c, proc, exit));
    startProbing(rt, c);
  }

  function onExit(rt: PodRuntime, c: ContainerRuntime, proc: ContainerProcess, exit: ProcessExit): void {
    if (c.proc !== proc) return;
    c.probeTimer?.cancel();
    c.killTimer?.cancel();
    c.ready = false;
    const signalNumber = exit.signal ? (SIGNAL_NUMBERS[exit.signal] ?? 1) : undefined;
    const exitCode = exit.code ?? 128 + (signalNumber ?? 0);
    const record: Terminated = {
      exitCode,
      ...(signalNumber ? { signal: signalNumber } : {}),
      reason: exitCode === 0 ? 'Completed' : 'Error',
      startedAt: c.startedAt,
      finishedAt: now(),
      containerID: `twin://${proc.pid}`,
    };
    if (stopped || rt.state === 'dead' || rt.state === 'finished') return;
    log(`kubelet ${rt.nodeName}: ${rt.namespace}/${rt.name}/${c.name} pid ${proc.pid} exited ${exit.signal ?? exit.code}`);
    if (rt.state === 'terminating') {
      c.terminated = record;
      if (rt.containers.every((x) => !x.proc?.running)) finish(rt);
      else scheduleSync(rt);
      return;
    }
    // Exited on its own: restartPolicy Always, after a back-off.
    c.lastTerminated = record;
    const delayS = Math.min(backoff.maxSeconds, backoff.initialSeconds * 2 ** c.restartCount);
    const tail = proc.tail().slice(-3).join(' | ');
    c.waiting = { reason: 'CrashLoopBackOff', message: `back-off ${delayS}s restarting failed container=${c.name} pod=${rt.name}` };
    emit(rt, 'BackOff', `Back-off restarting failed container ${c.name} (exit ${exitCode})${tail ? `: ${tail}` : ''}`, 'Warning');
    scheduleSync(rt);
    c.restartTimer = clock.setTimeout(() => {
      c.restartTimer = undefined;
      if (stopped || rt.state !== 'running') return;
      c.restartCount++;
      spawnContainer(rt, c);
      scheduleSync(rt);
    }, delayS * 1000);
  }

  function cancelTimers(rt: PodRuntime): void {
    rt.term?.timer?.cancel();
    for (const c of rt.containers) {
      c.probeTimer?.cancel();
      c.restartTimer?.cancel();
      c.killTimer?.cancel();
    }
    rt.abort.abort();
  }

  function killProcesses(rt: PodRuntime): Promise<unknown> {
    const exits = rt.containers.filter((c) => c.proc?.running).map((c) => {
      c.proc!.signal('SIGKILL');
      return c.proc!.exited;
    });
    return Promise.all(exits);
  }

  function releaseAddresses(rt: PodRuntime): void {
    for (const a of rt.owned.splice(0)) addresses.release(a);
  }

  // --- pod lifecycle ---------------------------------------------------------------------------

  function startPod(pod: KubeObject): void {
    const rt: PodRuntime = {
      uid: pod.metadata.uid!,
      namespace: pod.metadata.namespace!,
      name: pod.metadata.name,
      nodeName: pod.spec.nodeName,
      pod,
      state: 'starting',
      containers: [],
      owned: [],
      abort: new AbortController(),
      syncQueued: false,
    };
    pods.set(rt.uid, rt);
    void launch(rt).catch((error: Error) => {
      log(`kubelet ${rt.nodeName}: cannot start ${rt.namespace}/${rt.name}: ${error.message}`);
      if (rt.state === 'starting') failPod(rt, 'Failed', `Cannot start pod: ${error.message}`);
    });
  }

  function failPod(rt: PodRuntime, reason: string, message: string): void {
    rt.state = 'finished';
    releaseAddresses(rt);
    emit(rt, reason, message, 'Warning');
    store.modify('pods', rt.namespace, rt.name, (obj) => {
      if (obj.metadata.uid !== rt.uid) return;
      obj.status = {
        ...obj.status,
        phase: 'Failed',
        reason,
        message,
        hostIP: HOST_IP,
        hostIPs: [{ ip: HOST_IP }],
        startTime: now(),
        // eslint-disable-next-line @typescript-eslint/no-explicit-any
        containerStatuses: (obj.spec?.containers ?? []).map((c: any) => ({
          name: c.name,
          image: c.image,
          imageID: '',
          ready: false,
          started: false,
          restartCount: 0,
          state: { waiting: { reason: 'ErrImagePull', message } },
          lastState: {},
        })),
      };
    });
  }

  async function launch(rt: PodRuntime): Promise<void> {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const specs: any[] = rt.pod.spec?.containers ?? [];
    if (specs.length === 0) return failPod(rt, 'Failed', 'Expected at least one container in spec.containers, got none');
    const resolved = specs.map((c) => resolveContainerCommand(c, deps.images, deps.projectRoot));
    const bad = resolved.find((r): r is { error: string } => 'error' in r);
    if (bad) return failPod(rt, 'Failed', bad.error);

    const declared = specs.map((c) => c.ports?.[0]?.containerPort as number | undefined);
    const first = await addresses.allocate(declared[0] ?? 8080);
    rt.owned.push(first);
    rt.address = first;
    for (let i = 1; i < specs.length; i++) {
      if (addresses.perPodAddresses) continue;
      rt.owned.push(await addresses.allocate(declared[i] ?? 8080 + i));
    }
    // Removed, stopped or its node killed while we waited for addresses.
    if (rt.state !== 'starting' || stopped) {
      releaseAddresses(rt);
      return;
    }
    if (network.isBlackholed(first.host)) network.restore(first.host);

    const fieldValues: Record<string, string> = {
      'metadata.name': rt.name,
      'metadata.namespace': rt.namespace,
      'metadata.uid': rt.uid,
      'spec.nodeName': rt.nodeName,
      'status.podIP': first.host,
      'status.hostIP': HOST_IP,
    };
    rt.containers = specs.map((spec, i) => {
      const address =
        i === 0 ? first : addresses.perPodAddresses ? { host: first.host, port: declared[i] ?? 8080 + i } : rt.owned[i];
      const own: Record<string, string> = {};
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      for (const e of (spec.env ?? []) as any[]) {
        if (e.value !== undefined) own[e.name] = String(e.value);
        else if (e.valueFrom?.fieldRef?.fieldPath in fieldValues) own[e.name] = fieldValues[e.valueFrom.fieldRef.fieldPath];
      }
      return {
        name: String(spec.name ?? `c${i}`),
        spec,
        command: (resolved[i] as { command: string[] }).command,
        env: {
          ...own,
          HOST: address.host,
          PORT: String(address.port),
          POD_NAME: rt.name,
          POD_NAMESPACE: rt.namespace,
          POD_IP: first.host,
          NODE_NAME: rt.nodeName,
          TIME_SCALE: String(clock.scale),
        },
        declaredPort: declared[i] ?? (i === 0 ? 8080 : undefined),
        address,
        readiness: probePlanOf(spec),
        preStop: hookOf(spec, spec.lifecycle?.preStop),
        gen: 0,
        restartCount: 0,
        ready: false,
        successes: 0,
        failures: 0,
      } satisfies ContainerRuntime;
    });
    rt.state = 'running';
    rt.startTime = now();
    for (const c of rt.containers) spawnContainer(rt, c);
    scheduleSync(rt);
    if (rt.pod.metadata.deletionTimestamp) beginTermination(rt);
  }

  function graceMs(pod: KubeObject): number {
    return (pod.metadata.deletionGracePeriodSeconds ?? pod.spec?.terminationGracePeriodSeconds ?? 30) * 1000;
  }

  function armDeadline(rt: PodRuntime): void {
    const term = rt.term!;
    term.timer?.cancel();
    term.timer = clock.setTimeout(term.expire, Math.max(0, term.deadline - clock.now()));
  }

  function beginTermination(rt: PodRuntime): void {
    rt.state = 'terminating';
    const start = clock.now();
    let expire = () => {};
    const expired = new Promise<void>((resolve) => (expire = resolve));
    rt.term = { start, deadline: start + graceMs(rt.pod), expired, expire };
    armDeadline(rt);
    log(`kubelet ${rt.nodeName}: ${rt.namespace}/${rt.name} terminating, grace ${graceMs(rt.pod) / 1000}s`);
    for (const c of rt.containers) {
      c.restartTimer?.cancel();
      if (c.proc?.running) {
        emit(rt, 'Killing', `Stopping container ${c.name}`);
        void stopContainer(rt, c);
      } else if (!c.terminated) {
        // In back-off: it simply stays down.
        c.terminated = c.lastTerminated ?? { exitCode: 0, reason: 'Completed', finishedAt: now() };
      }
    }
    if (rt.containers.every((c) => !c.proc?.running)) finish(rt);
    else scheduleSync(rt);
  }

  async function runHook(rt: PodRuntime, c: ContainerRuntime, hook: Hook, signal: AbortSignal): Promise<void> {
    if (hook.kind === 'sleep') return clock.sleep(hook.ms, signal);
    const result =
      hook.kind === 'exec'
        ? await runExec(hook.command, c, signal)
        : await (() => {
            const t = target(rt, c, hook.port);
            return httpGet(t.host, t.port, hook.path, Math.max(0, rt.term!.deadline - clock.now()), signal);
          })();
    if (!result.ok && !signal.aborted) emit(rt, 'FailedPreStopHook', `PreStop hook failed: ${result.detail}`, 'Warning');
  }

  async function stopContainer(rt: PodRuntime, c: ContainerRuntime): Promise<void> {
    const proc = c.proc!;
    const term = rt.term!;
    if (c.preStop) {
      const ctl = new AbortController();
      const onAbort = () => ctl.abort();
      rt.abort.signal.addEventListener('abort', onAbort, { once: true });
      const outcome = await Promise.race([
        runHook(rt, c, c.preStop, ctl.signal).then(
          () => 'done' as const,
          () => 'done' as const,
        ),
        term.expired.then(() => 'expired' as const),
      ]);
      rt.abort.signal.removeEventListener('abort', onAbort);
      if (outcome === 'expired') {
        ctl.abort();
        log(`kubelet ${rt.nodeName}: ${rt.namespace}/${rt.name}/${c.name} preStop still running at the grace deadline`);
      }
    }
    if (stopped || rt.state !== 'terminating' || c.proc !== proc || !proc.running) return;
    const remaining = Math.max(MIN_SHUTDOWN_MS, term.deadline - clock.now());
    log(`kubelet ${rt.nodeName}: SIGTERM ${rt.namespace}/${rt.name}/${c.name} pid ${proc.pid}, SIGKILL in ${remaining / 1000}s`);
    proc.signal('SIGTERM');
    c.killTimer = clock.setTimeout(() => {
      if (!proc.running || rt.state !== 'terminating') return;
      log(`kubelet ${rt.nodeName}: SIGKILL ${rt.namespace}/${rt.name}/${c.name} pid ${proc.pid}`);
      proc.signal('SIGKILL');
    }, remaining);
  }

  function finish(rt: PodRuntime): void {
    if (rt.state === 'finished' || rt.state === 'dead') return;
    cancelTimers(rt);
    // Report the final phase first, then remove: watchers see Succeeded/Failed briefly, as on a cluster.
    rt.state = 'finished';
    for (const c of rt.containers) c.ready = false;
    releaseAddresses(rt);
    if (!syncNow(rt)) return;
    const current = store.get('pods', rt.namespace, rt.name);
    if (current?.metadata.uid === rt.uid) store.remove('pods', rt.namespace, rt.name);
  }

  function onRemoved(rt: PodRuntime): void {
    pods.delete(rt.uid);
    const prior = rt.state;
    if (prior === 'finished') return;
    // Force-deleted (grace 0) or garbage-collected while running: nothing waits any longer.
    rt.state = prior === 'dead' ? 'dead' : 'finished';
    cancelTimers(rt);
    if (prior === 'starting') return; // launch() releases what it allocated.
    void killProcesses(rt).then(() => releaseAddresses(rt));
  }

  // --- events ---------------------------------------------------------------------------------

  function onPodEvent(event: WatchEvent): void {
    if (stopped) return;
    const pod = event.object;
    const uid = pod.metadata.uid;
    const nodeName: string | undefined = pod.spec?.nodeName;
    if (!uid || !nodeName) return;
    const rt = pods.get(uid);
    if (event.type === 'DELETED') {
      if (rt) onRemoved(rt);
      return;
    }
    if (event.type !== 'ADDED' && event.type !== 'MODIFIED') return;
    if (rt) {
      rt.pod = pod;
      if (rt.state === 'running' && pod.metadata.deletionTimestamp) beginTermination(rt);
      else if (rt.state === 'terminating' && rt.term) {
        // A second delete may shorten the grace period.
        const deadline = rt.term.start + graceMs(pod);
        if (deadline < rt.term.deadline) {
          rt.term.deadline = deadline;
          armDeadline(rt);
        }
      }
      // Conditions written by others (readiness gates) change Ready.
      if (rt.state === 'running' || rt.state === 'terminating') scheduleSync(rt);
      return;
    }
    const node = nodes.get(nodeName);
    if (!node || node.killed) return;
    if (pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') return;
    if (pod.metadata.deletionTimestamp) {
      // Deleted before it ever ran: nothing to stop.
      const current = store.get('pods', pod.metadata.namespace, pod.metadata.name);
      if (current?.metadata.uid === uid) store.remove('pods', pod.metadata.namespace, pod.metadata.name);
      return;
    }
    startPod(pod);
  }

  function addNode(name: string): void {
    if (nodes.has(name)) return;
    nodes.set(name, { killed: false });
    for (const pod of store.list('pods', { fieldSelector: `spec.nodeName=${name}` }).items) {
      onPodEvent({ type: 'ADDED', object: pod });
    }
  }

  // Handle store events in order on the microtask queue, never inside the store's own write.
  const inOrder = (fn: (event: WatchEvent) => void) => (event: WatchEvent) => queueMicrotask(() => fn(event));
  const unwatchNodes = store.watch(
    'nodes',
    {},
    inOrder((event) => {
      if (stopped) return;
      if (event.type === 'ADDED' || event.type === 'MODIFIED') addNode(event.object.metadata.name);
      else if (event.type === 'DELETED') nodes.delete(event.object.metadata.name);
    }),
  );
  const unwatchPods = store.watch('pods', {}, inOrder(onPodEvent));
  for (const node of store.list('nodes').items) addNode(node.metadata.name);

  return {
    killNode(nodeName) {
      const node = nodes.get(nodeName) ?? { killed: true };
      node.killed = true;
      nodes.set(nodeName, node);
      for (const rt of podsOn(nodeName)) {
        if (rt.state === 'finished' || rt.state === 'dead') continue;
        const wasStarting = rt.state === 'starting';
        rt.state = 'dead';
        cancelTimers(rt);
        if (wasStarting) continue;
        void killProcesses(rt);
        // Addresses stay allocated (and blackholed) until the pod object is gone.
        for (const a of rt.owned) network.blackhole(a.host);
      }
      log(`kubelet ${nodeName}: instance gone, pods killed`);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      unwatchNodes();
      unwatchPods();
      const all = [...pods.values()];
      pods.clear();
      for (const rt of all) cancelTimers(rt);
      await Promise.all(all.map((rt) => killProcesses(rt)));
      for (const rt of all) releaseAddresses(rt);
    },
  };
}
