/**
 * Pod status: conditions, container statuses and phase computed purely from the kubelet's state
 * and the time, and the one place that writes them to the store.
 */
import type { KubeObject } from '../../kube/types.ts';
import type { ContainerProcess, ProcessExit } from '../../runtime/types.ts';
import { HOST_IP } from './spec.ts';
import { nowStamp, type ContainerRuntime, type KubeletContext, type PodRuntime, type Terminated } from './runtime.ts';

/** Annotation telling the load balancer controller twin the real port, when it differs from containerPort. */
export const PORT_ANNOTATION = 'twin.rollout-harness.io/port';

const SIGNAL_NUMBERS: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGSEGV: 11, SIGTERM: 15 };

/** A pod condition as the API reports it. */
export interface Condition {
  type: string;
  status: string;
  lastProbeTime?: null;
  lastTransitionTime?: string;
  reason?: string;
  message?: string;
}

/** Sets one condition; its lastTransitionTime moves only when its status changes. */
export function setCondition(list: Condition[], next: Omit<Condition, 'lastTransitionTime' | 'lastProbeTime'>, now: string): Condition[] {
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

/** The terminated record of a process that exited at `finishedAt`. */
export function terminatedRecord(proc: ContainerProcess, exit: ProcessExit, startedAt: string | undefined, finishedAt: string): Terminated {
  const signalNumber = exit.signal ? (SIGNAL_NUMBERS[exit.signal] ?? 1) : undefined;
  const exitCode = exit.code ?? 128 + (signalNumber ?? 0);
  return {
    exitCode,
    ...(signalNumber ? { signal: signalNumber } : {}),
    reason: exitCode === 0 ? 'Completed' : 'Error',
    startedAt,
    finishedAt,
    containerID: `twin://${proc.pid}`,
  };
}

/** A container's entry in `status.containerStatuses`. */
export function containerStatus(c: ContainerRuntime) {
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

/**
 * The status the pod should have at `at`: Ready = ContainersReady AND every readiness gate's
 * condition True; conditions the kubelet does not own are kept as they are in `current`.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function desiredStatus(rt: PodRuntime, current: KubeObject, at: string): any {
  const prev = current.status ?? {};
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

/** The status of a pod that could not start: Failed, every container waiting with the reason. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function failedStatus(obj: KubeObject, reason: string, message: string, at: string): any {
  return {
    ...obj.status,
    phase: 'Failed',
    reason,
    message,
    hostIP: HOST_IP,
    hostIPs: [{ ip: HOST_IP }],
    startTime: at,
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
}

/** The value of the port annotation: the real port when it differs from the declared one, else undefined. */
export function portAnnotationOf(rt: PodRuntime): string | undefined {
  return rt.address && rt.containers[0]?.declaredPort !== rt.address.port ? String(rt.address.port) : undefined;
}

/** Writes the pod's status now, if it changed. Returns false when the pod is gone. */
export function syncNow(ctx: KubeletContext, rt: PodRuntime): boolean {
  if (ctx.stopped || rt.state === 'dead' || rt.state === 'starting') return true;
  const { store } = ctx;
  const current = store.get('pods', rt.namespace, rt.name);
  if (!current || current.metadata.uid !== rt.uid) return false;
  const status = desiredStatus(rt, current, nowStamp(ctx));
  const port = portAnnotationOf(rt);
  const portOk = current.metadata.annotations?.[PORT_ANNOTATION] === port;
  if (portOk && JSON.stringify(status) === JSON.stringify(current.status)) return true;
  current.status = status;
  if (!portOk && port !== undefined) current.metadata.annotations = { ...current.metadata.annotations, [PORT_ANNOTATION]: port };
  try {
    store.update('pods', current);
  } catch (error) {
    ctx.log(`kubelet ${rt.nodeName}: cannot update status of ${rt.namespace}/${rt.name}: ${(error as Error).message}`);
  }
  return true;
}

/** Writes the pod's status on the next microtask; several calls in one turn write once. */
export function scheduleSync(ctx: KubeletContext, rt: PodRuntime): void {
  if (rt.syncQueued) return;
  rt.syncQueued = true;
  queueMicrotask(() => {
    rt.syncQueued = false;
    syncNow(ctx, rt);
  });
}
