/**
 * Probing: the readiness loop (period, initial delay, success and failure thresholds) and the
 * checks it and the preStop hooks run against the real process — HTTP GET, TCP connect, exec.
 * The threshold logic is a pure step; the checks come from the context, so tests can fake them.
 */
import http from 'node:http';
import net from 'node:net';
import { execa } from 'execa';
import { stallTolerantTimeout, type Clock, type Timer } from '../../../core/clock.ts';
import { HOST_IP, type Hook, type ProbePlan } from './spec.ts';
import { emit, type CheckResult, type ContainerRuntime, type KubeletContext, type PodRuntime } from './runtime.ts';
import { scheduleSync } from './status.ts';

/**
 * Probe timeouts never go below this many real ms: at a fast time scale a 1 s timeout is 100 real
 * ms or less, within a loaded 2-core machine's scheduling delays for the pod's process, and the
 * probe would fail spuriously (every pod at once, then a storm of deregistrations). The timeout
 * also discounts the kubelet's own stalls (`stallTolerantTimeout`).
 */
export const MIN_REAL_PROBE_TIMEOUT_MS = 250;

/** The timer that cuts a probe, hook or exec that takes too long: the one place such timeouts are armed. */
export function probeTimeout(clock: Clock, fn: () => void, ms: number): Timer {
  return stallTolerantTimeout(clock, fn, ms);
}

/** A probe's timeout in model ms: the spec's, but never less than MIN_REAL_PROBE_TIMEOUT_MS of real time. */
export function effectiveProbeTimeoutMs(clock: Clock, plan: ProbePlan): number {
  return Math.max(plan.timeoutMs, clock.toModelMs(MIN_REAL_PROBE_TIMEOUT_MS));
}

/** Readiness counters of a container. */
export interface ProbeCounters {
  successes: number;
  failures: number;
  ready: boolean;
}

/**
 * The counters after one probe result: `successThreshold` successes in a row make the container
 * ready, `failureThreshold` failures in a row make it unready; `firstFailure` starts a failure streak.
 */
export function probeStep(state: ProbeCounters, ok: boolean, plan: Pick<ProbePlan, 'successThreshold' | 'failureThreshold'>): ProbeCounters & { firstFailure: boolean } {
  if (ok) {
    const successes = state.successes + 1;
    return { successes, failures: 0, ready: state.ready || successes >= plan.successThreshold, firstFailure: false };
  }
  const failures = state.failures + 1;
  return { successes: 0, failures, ready: state.ready && failures < plan.failureThreshold, firstFailure: failures === 1 };
}

/** Model ms from now to the next probe: one period after the last one started, at once if it took longer. */
export function nextProbeDelayMs(plan: Pick<ProbePlan, 'periodMs'>, startedAt: number, now: number): number {
  return Math.max(0, plan.periodMs - (now - startedAt));
}

/** Starts the readiness loop of a freshly started container (ready at once when it has no probe). */
export function startProbing(ctx: KubeletContext, rt: PodRuntime, c: ContainerRuntime): void {
  const { clock } = ctx;
  const plan = c.readiness;
  if (!plan) {
    // No readiness probe: ready as soon as the process started.
    c.ready = true;
    return;
  }
  const gen = c.gen;
  const alive = () => !ctx.stopped && (rt.state === 'running' || rt.state === 'terminating') && c.gen === gen && Boolean(c.proc?.running);
  const tick = async () => {
    if (!alive()) return;
    const started = clock.now();
    const result = await ctx.probe(rt, c, plan);
    if (!alive()) return;
    const next = probeStep(c, result.ok, plan);
    const changed = next.ready !== c.ready;
    c.successes = next.successes;
    c.failures = next.failures;
    c.ready = next.ready;
    // One event per failure streak keeps the event list light.
    if (next.firstFailure) emit(ctx, rt, 'Unhealthy', `Readiness probe failed: ${result.detail}`, 'Warning');
    if (changed) scheduleSync(ctx, rt);
    c.probeTimer = clock.setTimeout(() => void tick(), nextProbeDelayMs(plan, started, clock.now()));
  };
  c.probeTimer = clock.setTimeout(() => void tick(), plan.initialDelayMs);
}

/** An HTTP GET as a kubelet probe does it: 2xx and 3xx pass. */
export function httpGet(clock: Clock, host: string, port: number, urlPath: string, timeoutMs: number, signal: AbortSignal): Promise<CheckResult> {
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
    const timer = probeTimeout(clock, () => done(false, `Get "${url}": context deadline exceeded (Client.Timeout exceeded while awaiting headers)`), timeoutMs);
    const onAbort = () => done(false, 'aborted');
    signal.addEventListener('abort', onAbort, { once: true });
    req.end();
  });
}

/** A TCP connect as a kubelet probe does it. */
export function tcpConnect(clock: Clock, host: string, port: number, timeoutMs: number, signal: AbortSignal): Promise<CheckResult> {
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
    const timer = probeTimeout(clock, () => done(false, `dial tcp ${host}:${port}: i/o timeout`), timeoutMs);
    const onAbort = () => done(false, 'aborted');
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Runs a command with the container's env in the project root; exit 0 passes. */
export async function runExec(projectRoot: string, command: string[], c: ContainerRuntime, signal: AbortSignal): Promise<CheckResult> {
  const [file, ...args] = command;
  const result = await execa(file === 'node' ? process.execPath : file, args, {
    reject: false,
    cancelSignal: signal,
    killSignal: 'SIGKILL',
    cwd: projectRoot,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...c.env },
    extendEnv: false,
    stdin: 'ignore',
  });
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}`.trim().slice(0, 200);
  return { ok: result.exitCode === 0, detail: `command ${JSON.stringify(command)} exited with ${result.exitCode ?? result.signal}${output ? `: ${output}` : ''}` };
}

/** The real address of a port of container `c` (the allocated one when it is the declared port). */
export function target(rt: PodRuntime, c: ContainerRuntime, port: number): { host: string; port: number } {
  const host = c.address?.host ?? rt.address?.host ?? HOST_IP;
  for (const other of rt.containers) {
    if (other.declaredPort === port && other.address) return { host: other.address.host, port: other.address.port };
  }
  return { host, port };
}

/** Runs one readiness probe against the real process. */
export function runProbe(ctx: KubeletContext, rt: PodRuntime, c: ContainerRuntime, plan: ProbePlan): Promise<CheckResult> {
  const { clock } = ctx;
  const timeoutMs = effectiveProbeTimeoutMs(clock, plan);
  const a = plan.action;
  if (a.kind === 'http') {
    const t = target(rt, c, a.port);
    return httpGet(clock, t.host, t.port, a.path, timeoutMs, rt.abort.signal);
  }
  if (a.kind === 'tcp') {
    const t = target(rt, c, a.port);
    return tcpConnect(clock, t.host, t.port, timeoutMs, rt.abort.signal);
  }
  if (a.kind === 'exec') {
    const ctl = new AbortController();
    const timer = probeTimeout(clock, () => ctl.abort(), timeoutMs);
    const onAbort = () => ctl.abort();
    rt.abort.signal.addEventListener('abort', onAbort, { once: true });
    return runExec(ctx.projectRoot, a.command, c, ctl.signal).finally(() => {
      timer.cancel();
      rt.abort.signal.removeEventListener('abort', onAbort);
    });
  }
  return Promise.resolve({ ok: true, detail: '' });
}

/** Runs an exec or HTTP preStop hook against the real process; an HTTP hook may take until the grace deadline. */
export function runHandler(ctx: KubeletContext, rt: PodRuntime, c: ContainerRuntime, hook: Exclude<Hook, { kind: 'sleep' }>, signal: AbortSignal): Promise<CheckResult> {
  if (hook.kind === 'exec') return runExec(ctx.projectRoot, hook.command, c, signal);
  const t = target(rt, c, hook.port);
  return httpGet(ctx.clock, t.host, t.port, hook.path, Math.max(0, rt.term!.deadline - ctx.clock.now()), signal);
}
