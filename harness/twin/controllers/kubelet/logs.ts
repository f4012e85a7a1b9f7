/**
 * Container logs: each container keeps the log of its current and its previous instance (a restart
 * starts a new one), bounded per instance; a pod's logs go with the pod. `openLog` answers a
 * `pods/log` request as the kubelet does, with its messages for a container that has none yet.
 */
import { ContainerLog, type LogRequest, type LogSource } from '../../runtime/logs.ts';
import type { ContainerRuntime, KubeletContext, PodRuntime } from './runtime.ts';

/** Instances whose logs a container keeps: the current one and the previous one. */
const INSTANCES_KEPT = 2;

/** A new log for a container instance about to start; the oldest beyond the previous one is dropped. */
export function newInstanceLog(ctx: KubeletContext, c: ContainerRuntime): ContainerLog {
  const log = new ContainerLog(ctx.logLimits);
  c.logs.push(log);
  if (c.logs.length > INSTANCES_KEPT) c.logs.splice(0, c.logs.length - INSTANCES_KEPT);
  return log;
}

/**
 * The log a request reads, or the kubelet's error message (answered as 400): the current instance,
 * or with `previous` the last one that terminated — the current one while it waits for its restart.
 */
export function openLog(ctx: KubeletContext, req: LogRequest): LogSource | string {
  const rt: PodRuntime | undefined = [...ctx.pods.values()].find((p) => p.namespace === req.namespace && p.name === req.name && (!req.uid || p.uid === req.uid));
  const c = rt?.containers.find((x) => x.name === req.container);
  const which = `container ${JSON.stringify(req.container)} in pod ${JSON.stringify(req.name)}`;
  const latest = c?.logs.at(-1);
  if (!c || !latest) return `${which} is waiting to start: ${c?.waiting?.reason ?? 'ContainerCreating'}`;
  if (!req.previous) return latest;
  const waitingForRestart = latest.ended && c.restartTimer !== undefined;
  const previous = waitingForRestart ? latest : c.logs.length > 1 ? c.logs.at(-2) : undefined;
  return previous ?? `previous terminated ${which} not found`;
}
