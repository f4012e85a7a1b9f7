/**
 * One timeline per cell: pod changes (watch), target-health changes (poll), disruption actions,
 * stages and traffic, as one event union. Times are model seconds since the cell started.
 */
import type { Clock } from '../core/clock.ts';
import type { Elbv2Port, KObject, KubernetesPort, PodEvent, TargetHealthRow } from '../platform/ports.ts';

/** Everything that happens in a cell, in order. */
export type TimelineEvent =
  | { t: number; type: 'stage'; stage: string }
  | { t: number; type: 'pod'; pod: string; change: 'present' | 'created' | 'ready' | 'not-ready' | 'terminating' | 'deleted'; node?: string; ip?: string; role?: 'gateway' }
  | { t: number; type: 'target'; target: string; state: string; from?: string; reason?: string; since?: number }
  | { t: number; type: 'disruption'; action: string; detail?: string }
  | { t: number; type: 'traffic'; action: 'start' | 'stop'; detail?: string }
  | { t: number; type: 'note'; detail: string };

/** Distributes Omit over a union. */
export type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** Collects events against one clock and origin. */
export class Timeline {
  readonly events: TimelineEvent[] = [];
  constructor(
    readonly clock: Clock,
    readonly origin: number = clock.now(),
  ) {}

  /** Model seconds since the origin, rounded to ms. */
  now(): number {
    return Math.round(this.clock.now() - this.origin) / 1000;
  }

  add(event: DistributiveOmit<TimelineEvent, 't'>): void {
    this.events.push({ t: this.now(), ...event } as TimelineEvent);
  }
}

function isReady(pod: KObject): boolean {
  return (pod.status?.conditions ?? []).some((c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True');
}

/** The node and IP of a pod (from the first object that has them), for timeline events. */
function where(...pods: KObject[]): { node?: string; ip?: string } {
  const node = pods.map((p) => p.spec?.nodeName).find(Boolean);
  const ip = pods.map((p) => p.status?.podIP).find(Boolean);
  return { ...(node ? { node } : {}), ...(ip ? { ip } : {}) };
}

/** What the observers know right now. */
export interface ObservedState {
  pods: Map<string, KObject>;
  targets: Map<string, TargetHealthRow>;
}

/**
 * The pod events of one watch as timeline events (created, ready, terminating, deleted, with node
 * and IP), keeping `pods` current; `role` marks the gateway's pods.
 */
function podRecorder(timeline: Timeline, pods: Map<string, KObject>, role?: 'gateway'): (e: PodEvent) => void {
  const podReady = new Map<string, boolean>();
  const podTerminating = new Set<string>();
  const marked = role ? { role } : {};
  return ({ type, pod, initial }) => {
    const name = pod.metadata?.name ?? '?';
    if (type === 'DELETED') {
      const last = pods.get(name) ?? pod;
      pods.delete(name);
      // Node and IP on every pod event: attribution joins access-log targets to pods by IP.
      timeline.add({ type: 'pod', pod: name, change: 'deleted', ...where(last, pod), ...marked });
      return;
    }
    const known = pods.has(name);
    pods.set(name, pod);
    // Pods listed when the watch starts were there before the cell; later ADDED ones are new.
    const present = initial === true;
    if (!known) timeline.add({ type: 'pod', pod: name, change: present ? 'present' : 'created', node: pod.spec?.nodeName, ip: pod.status?.podIP, ...marked });
    if (present) {
      podReady.set(name, isReady(pod));
      return;
    }
    const ready = isReady(pod);
    if ((podReady.get(name) ?? false) !== ready) timeline.add({ type: 'pod', pod: name, change: ready ? 'ready' : 'not-ready', node: pod.spec?.nodeName, ip: pod.status?.podIP, ...marked });
    podReady.set(name, ready);
    if (pod.metadata?.deletionTimestamp && !podTerminating.has(name)) {
      podTerminating.add(name);
      timeline.add({ type: 'pod', pod: name, change: 'terminating', ...where(pod), ...marked });
    }
  };
}

/** Watches the Deployment's pods and polls target health into the timeline until stopped. */
export function observe(deps: {
  k8s: KubernetesPort;
  elbv2: Elbv2Port;
  targetGroupArn: string;
  namespace: string;
  labelSelector: string;
  clock: Clock;
  timeline: Timeline;
  /** Target-health poll period, model ms. */
  pollMs?: number;
  /** A gateway cell: the gateway Deployment's pods, watched too (their events carry `role: 'gateway'`). */
  gateway?: { namespace: string; labelSelector: string };
}): { state: ObservedState; ready: Promise<void>; stop(): Promise<void> } {
  const { timeline } = deps;
  const state: ObservedState = { pods: new Map(), targets: new Map() };
  const controller = new AbortController();
  const watching = deps.k8s.watchPods(deps.namespace, deps.labelSelector, podRecorder(timeline, state.pods), controller.signal);
  watching.catch((error) => timeline.add({ type: 'note', detail: `pod watch ended: ${(error as Error).message}` }));
  // A gateway cell: the gateway's pods too, marked, so explaining knows both Deployments' pods.
  const gatewayWatch = deps.gateway
    ? deps.k8s.watchPods(deps.gateway.namespace, deps.gateway.labelSelector, podRecorder(timeline, new Map(), 'gateway'), controller.signal)
    : Promise.resolve();
  gatewayWatch.catch((error) => timeline.add({ type: 'note', detail: `gateway pod watch ended: ${(error as Error).message}` }));

  let polls = 0;
  let firstPoll: () => void = () => {};
  const ready = new Promise<void>((resolve) => (firstPoll = resolve));
  // When the previous answered poll was sent: a change seen now happened after it (`since`).
  let previousStart: number | undefined;
  const poll = async () => {
    const start = timeline.now();
    try {
      const rows = await deps.elbv2.describeTargetHealth(deps.targetGroupArn);
      const since = previousStart !== undefined ? { since: previousStart } : {};
      previousStart = start;
      const seen = new Set<string>();
      for (const row of rows) {
        const key = `${row.id}:${row.port}`;
        seen.add(key);
        const before = state.targets.get(key);
        if (before?.state !== row.state) timeline.add({ type: 'target', target: key, state: row.state, ...(before ? { from: before.state } : {}), ...(row.reason ? { reason: row.reason } : {}), ...since });
        state.targets.set(key, row);
      }
      for (const [key, before] of state.targets) {
        if (!seen.has(key)) {
          timeline.add({ type: 'target', target: key, state: 'unused', from: before.state, ...since });
          state.targets.delete(key);
        }
      }
    } catch (error) {
      timeline.add({ type: 'note', detail: `DescribeTargetHealth failed: ${(error as Error).message}` });
    } finally {
      if (++polls === 1) firstPoll();
    }
  };
  let polling = false;
  const timer = deps.clock.setInterval(() => {
    if (polling) return;
    polling = true;
    void poll().finally(() => (polling = false));
  }, deps.pollMs ?? 1000);
  void poll();

  return {
    state,
    ready,
    async stop() {
      timer.cancel();
      controller.abort();
      await watching.catch(() => {});
      await gatewayWatch.catch(() => {});
    },
  };
}
