/**
 * Termination: the grace countdown runs from the deletion (not from SIGTERM); preStop runs and is
 * waited for at most until the grace deadline; then SIGTERM; then SIGKILL after the time left, but
 * never sooner than MIN_SHUTDOWN_MS after SIGTERM — the 2 s extension a preStop overrunning the
 * grace period gets. When every container has exited the pod is reported Succeeded/Failed and removed.
 */
import type { KubeObject } from '../../kube/types.ts';
import { graceMs, isWaitShutdown, type Hook } from './spec.ts';
import { cancelTimers, emit, nowStamp, releaseAddresses, type ContainerRuntime, type KubeletContext, type PodRuntime } from './runtime.ts';
import { scheduleSync, syncNow } from './status.ts';

/** Minimum time between SIGTERM and SIGKILL (kubelet `minimumGracePeriodInSeconds`). */
export const MIN_SHUTDOWN_MS = 2000;

/** Model ms from a SIGTERM sent at `now` to its SIGKILL: what is left of the grace period, at least MIN_SHUTDOWN_MS. */
export function killDelayMs(deadline: number, now: number): number {
  return Math.max(MIN_SHUTDOWN_MS, deadline - now);
}

/** The deadline a later delete of `pod` sets, when it is sooner than `deadline` (a second delete may only shorten it). */
export function shortenedDeadline(start: number, deadline: number, pod: KubeObject): number | undefined {
  const next = start + graceMs(pod);
  return next < deadline ? next : undefined;
}

function armDeadline(ctx: KubeletContext, rt: PodRuntime): void {
  const term = rt.term!;
  term.timer?.cancel();
  term.timer = ctx.clock.setTimeout(term.expire, Math.max(0, term.deadline - ctx.clock.now()));
}

/** Starts the pod's termination now: the grace countdown, then preStop and SIGTERM for each running container. */
export function beginTermination(ctx: KubeletContext, rt: PodRuntime): void {
  const { clock } = ctx;
  rt.state = 'terminating';
  const start = clock.now();
  let expire = () => {};
  const expired = new Promise<void>((resolve) => (expire = resolve));
  rt.term = { start, deadline: start + graceMs(rt.pod), expired, expire };
  armDeadline(ctx, rt);
  ctx.log(`kubelet ${rt.nodeName}: ${rt.namespace}/${rt.name} terminating, grace ${graceMs(rt.pod) / 1000}s`);
  for (const c of rt.containers) {
    c.restartTimer?.cancel();
    if (c.proc?.running) {
      emit(ctx, rt, 'Killing', `Stopping container ${c.name}`);
      void stopContainer(ctx, rt, c);
    } else if (!c.terminated) {
      // In back-off: it simply stays down.
      c.terminated = c.lastTerminated ?? { exitCode: 0, reason: 'Completed', finishedAt: nowStamp(ctx) };
    }
  }
  if (rt.containers.every((c) => !c.proc?.running)) finish(ctx, rt);
  else scheduleSync(ctx, rt);
}

/** A later delete of a terminating pod: a shorter grace period moves the deadline closer. */
export function updateGrace(ctx: KubeletContext, rt: PodRuntime, pod: KubeObject): void {
  if (!rt.term) return;
  const deadline = shortenedDeadline(rt.term.start, rt.term.deadline, pod);
  if (deadline === undefined) return;
  rt.term.deadline = deadline;
  armDeadline(ctx, rt);
}

async function runHook(ctx: KubeletContext, rt: PodRuntime, c: ContainerRuntime, hook: Hook, signal: AbortSignal): Promise<void> {
  if (hook.kind === 'sleep') return ctx.clock.sleep(hook.ms, signal);
  if (hook.kind === 'exec' && isWaitShutdown(hook.command)) return waitShutdown(c, signal);
  const result = await ctx.hook(rt, c, hook, signal);
  if (!result.ok && !signal.aborted) emit(ctx, rt, 'FailedPreStopHook', `PreStop hook failed: ${result.detail}`, 'Warning');
}

/** `/wait-shutdown`: SIGTERM to the container's process, then wait until it exited (or the grace deadline aborts the hook). */
function waitShutdown(c: ContainerRuntime, signal: AbortSignal): Promise<void> {
  const proc = c.proc;
  if (!proc?.running) return Promise.resolve();
  proc.signal('SIGTERM');
  return new Promise<void>((resolve) => {
    const onAbort = () => resolve();
    signal.addEventListener('abort', onAbort, { once: true });
    void proc.exited.then(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    });
  });
}

async function stopContainer(ctx: KubeletContext, rt: PodRuntime, c: ContainerRuntime): Promise<void> {
  const { clock, log } = ctx;
  const proc = c.proc!;
  const term = rt.term!;
  if (c.preStop) {
    const ctl = new AbortController();
    const onAbort = () => ctl.abort();
    rt.abort.signal.addEventListener('abort', onAbort, { once: true });
    const outcome = await Promise.race([
      runHook(ctx, rt, c, c.preStop, ctl.signal).then(
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
  if (ctx.stopped || rt.state !== 'terminating' || c.proc !== proc || !proc.running) return;
  const remaining = killDelayMs(term.deadline, clock.now());
  log(`kubelet ${rt.nodeName}: SIGTERM ${rt.namespace}/${rt.name}/${c.name} pid ${proc.pid}, SIGKILL in ${remaining / 1000}s`);
  proc.signal('SIGTERM');
  c.killTimer = clock.setTimeout(() => {
    if (!proc.running || rt.state !== 'terminating') return;
    log(`kubelet ${rt.nodeName}: SIGKILL ${rt.namespace}/${rt.name}/${c.name} pid ${proc.pid}`);
    proc.signal('SIGKILL');
  }, remaining);
}

/**
 * Every container of a pod that is not restarted (restartPolicy Never / OnFailure) has exited on
 * its own: report Succeeded or Failed and keep the pod object (its logs readable) until someone
 * deletes it — its owner's garbage collection, or `kubectl delete`.
 */
export function complete(ctx: KubeletContext, rt: PodRuntime): void {
  if (rt.state === 'finished' || rt.state === 'dead') return;
  cancelTimers(rt);
  rt.state = 'finished';
  rt.completed = true;
  for (const c of rt.containers) c.ready = false;
  releaseAddresses(ctx, rt);
  syncNow(ctx, rt);
}

/** Every container has exited: report the final phase, then remove the pod object. */
export function finish(ctx: KubeletContext, rt: PodRuntime): void {
  if (rt.state === 'finished' || rt.state === 'dead') return;
  cancelTimers(rt);
  // Report the final phase first, then remove: watchers see Succeeded/Failed briefly, as on a cluster.
  rt.state = 'finished';
  for (const c of rt.containers) c.ready = false;
  releaseAddresses(ctx, rt);
  if (!syncNow(ctx, rt)) return;
  const current = ctx.store.get('pods', rt.namespace, rt.name);
  if (current?.metadata.uid === rt.uid) ctx.store.remove('pods', rt.namespace, rt.name);
}
