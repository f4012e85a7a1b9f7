/**
 * The scheduler: binds pending pods (no spec.nodeName) to nodes that fit — Ready, not cordoned,
 * every NoSchedule/NoExecute taint tolerated, nodeSelector matched, below allocatable pods —
 * and scores them by the configured policy: `spread` (fewest pods of the same owner on the
 * node, then fewest pods, then fewest of the owner in the node's zone) or `pack` (most pods
 * first). Ties go by node name, so placement is deterministic. A pod that fits nowhere gets
 * PodScheduled=False/Unschedulable and is retried whenever nodes or pods change.
 */
import { timestamp, type ObjectStore } from '../kube/store.ts';
import type { KubeObject } from '../kube/types.ts';
import type { Clock } from '../../core/clock.ts';
import { recordEvent } from './events.ts';
import { WorkQueue, byCreation, controllerRef, isPodTerminal, podCondition, watchAll, type Controller, type ControllerDeps, type Log } from './util.ts';

const COMPONENT = 'default-scheduler';
const PASS = 'pending-pods';

/** How the scheduler scores nodes. */
export type SchedulingPolicy = 'spread' | 'pack';

/** The scheduler's dependencies: `scheduling` is `config.cluster.scheduling` (default spread). */
export interface SchedulerDeps extends ControllerDeps {
  scheduling?: SchedulingPolicy;
}

interface Taint {
  key: string;
  value?: string;
  effect: string;
}

interface Toleration {
  key?: string;
  operator?: string;
  value?: string;
  effect?: string;
}

/** The zone label of a node (the current one, then the deprecated one). */
export function zoneOf(node: KubeObject): string | undefined {
  return node.metadata.labels?.['topology.kubernetes.io/zone'] ?? node.metadata.labels?.['failure-domain.beta.kubernetes.io/zone'];
}

/** ToleratesTaint, as core/v1 defines it (empty operator = Equal; empty key with Exists = all). */
export function tolerates(tolerations: Toleration[] | undefined, taint: Taint): boolean {
  return (tolerations ?? []).some((t) => {
    if (t.effect && t.effect !== taint.effect) return false;
    if (t.key && t.key !== taint.key) return false;
    if (!t.operator || t.operator === 'Equal') return (t.value ?? '') === (taint.value ?? '');
    return t.operator === 'Exists';
  });
}

/** Starts the scheduler. */
export function startScheduler(deps: SchedulerDeps): Controller {
  const { store, clock } = deps;
  const log = deps.log ?? (() => {});
  const policy = deps.scheduling ?? 'spread';
  const queue = new WorkQueue(COMPONENT, clock, () => schedulePending(store, clock, policy, log), log);
  const stopWatch = watchAll(store, {
    // A pod change can make a pod pending, or free room on a node.
    pods: (event) => {
      const pod = event.object;
      const pending = !pod.spec?.nodeName && !pod.metadata.deletionTimestamp && event.type !== 'DELETED';
      if (pending || (pod.spec?.nodeName && (event.type === 'DELETED' || isPodTerminal(pod)))) queue.add(PASS);
    },
    nodes: () => queue.add(PASS),
  });
  queue.add(PASS);
  return {
    stop() {
      stopWatch();
      queue.stop();
    },
  };
}

interface NodeState {
  node: KubeObject;
  zone: string;
  /** Non-terminal pods bound here, terminating ones included (they still hold their slot). */
  slots: number;
  /** Non-terminating pods bound here (what spreading counts). */
  pods: number;
  byOwner: Map<string, number>;
}

function schedulePending(store: ObjectStore, clock: Clock, policy: SchedulingPolicy, log: Log): void {
  const allPods = store.list('pods').items;
  const pending = allPods
    .filter((p) => !p.spec?.nodeName && !p.metadata.deletionTimestamp && !isPodTerminal(p) && (p.spec?.schedulerName ?? COMPONENT) === COMPONENT)
    .sort(byCreation);
  if (pending.length === 0) return;
  const nodes = new Map<string, NodeState>();
  for (const node of store.list('nodes').items) {
    nodes.set(node.metadata.name, { node, zone: zoneOf(node) ?? '', slots: 0, pods: 0, byOwner: new Map() });
  }
  const zoneOwners = new Map<string, number>();
  const count = (state: NodeState, pod: KubeObject, terminating: boolean) => {
    state.slots++;
    if (terminating) return;
    state.pods++;
    const owner = controllerRef(pod)?.uid;
    if (!owner) return;
    state.byOwner.set(owner, (state.byOwner.get(owner) ?? 0) + 1);
    const zk = `${state.zone}\n${owner}`;
    zoneOwners.set(zk, (zoneOwners.get(zk) ?? 0) + 1);
  };
  for (const pod of allPods) {
    const state = pod.spec?.nodeName ? nodes.get(pod.spec.nodeName) : undefined;
    if (state && !isPodTerminal(pod)) count(state, pod, Boolean(pod.metadata.deletionTimestamp));
  }

  for (const pod of pending) {
    const reasons = new Map<string, number>();
    const feasible = [...nodes.values()].filter((state) => {
      const why = unfit(state, pod);
      if (why) reasons.set(why, (reasons.get(why) ?? 0) + 1);
      return !why;
    });
    if (feasible.length === 0) {
      if (markUnschedulable(store, clock, pod, unschedulableMessage(nodes.size, reasons))) {
        log(`${COMPONENT}: ${pod.metadata.namespace}/${pod.metadata.name}: ${unschedulableMessage(nodes.size, reasons)}`);
      }
      continue;
    }
    const owner = controllerRef(pod)?.uid ?? '';
    const ownerOn = (s: NodeState) => (owner ? (s.byOwner.get(owner) ?? 0) : 0);
    const ownerInZone = (s: NodeState) => (owner ? (zoneOwners.get(`${s.zone}\n${owner}`) ?? 0) : 0);
    const byName = (a: NodeState, b: NodeState) => (a.node.metadata.name < b.node.metadata.name ? -1 : a.node.metadata.name > b.node.metadata.name ? 1 : 0);
    feasible.sort(
      policy === 'pack'
        ? (a, b) => b.pods - a.pods || byName(a, b)
        : (a, b) => ownerOn(a) - ownerOn(b) || a.pods - b.pods || ownerInZone(a) - ownerInZone(b) || byName(a, b),
    );
    const chosen = feasible[0];
    if (bind(store, clock, pod, chosen.node.metadata.name)) count(chosen, pod, false);
  }
}

/** Why a node does not fit a pod, as the scheduler words it; undefined when it fits. */
function unfit(state: NodeState, pod: KubeObject): string | undefined {
  const { node } = state;
  const tolerations = pod.spec?.tolerations as Toleration[] | undefined;
  const ready = podCondition(node, 'Ready')?.status;
  if (ready !== 'True') {
    const taint = { key: ready === 'Unknown' ? 'node.kubernetes.io/unreachable' : 'node.kubernetes.io/not-ready', effect: 'NoSchedule' };
    if (!tolerates(tolerations, taint)) return `node(s) had untolerated taint {${taint.key}: }`;
  }
  if (node.spec?.unschedulable && !tolerates(tolerations, { key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' })) {
    return 'node(s) were unschedulable';
  }
  for (const taint of (node.spec?.taints ?? []) as Taint[]) {
    if (taint.effect !== 'NoSchedule' && taint.effect !== 'NoExecute') continue;
    if (!tolerates(tolerations, taint)) return `node(s) had untolerated taint {${taint.key}: ${taint.value ?? ''}}`;
  }
  for (const [k, v] of Object.entries((pod.spec?.nodeSelector ?? {}) as Record<string, string>)) {
    if (node.metadata.labels?.[k] !== v) return "node(s) didn't match Pod's node affinity/selector";
  }
  const allocatable = Number(node.status?.allocatable?.pods ?? Infinity);
  if (Number.isFinite(allocatable) && state.slots >= allocatable) return 'Too many pods';
  return undefined;
}

function unschedulableMessage(total: number, reasons: Map<string, number>): string {
  if (total === 0) return 'no nodes available to schedule pods';
  const parts = [...reasons.entries()].map(([why, n]) => `${n} ${why}`).sort();
  return `0/${total} nodes are available: ${parts.join(', ')}.`;
}

function bind(store: ObjectStore, clock: Clock, pod: KubeObject, nodeName: string): boolean {
  let bound = false;
  const now = timestamp(clock.now());
  const result = store.modify('pods', pod.metadata.namespace, pod.metadata.name, (p) => {
    if (p.metadata.uid !== pod.metadata.uid || p.spec?.nodeName || p.metadata.deletionTimestamp) return p;
    p.spec = { ...p.spec, nodeName };
    p.status = { ...p.status, conditions: withCondition(p, { type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: now }) };
    bound = true;
  });
  if (result && bound) {
    recordEvent(store, clock, result, 'Normal', 'Scheduled', `Successfully assigned ${pod.metadata.namespace}/${pod.metadata.name} to ${nodeName}`, COMPONENT);
  }
  return bound;
}

/** Writes PodScheduled=False and a FailedScheduling event when the message changed; true when it wrote. */
function markUnschedulable(store: ObjectStore, clock: Clock, pod: KubeObject, message: string): boolean {
  const current = podCondition(pod, 'PodScheduled');
  // Only a change is written (and reported), so a pod that keeps not fitting causes no write storm.
  if (current?.status === 'False' && current.reason === 'Unschedulable' && current.message === message) return false;
  const now = timestamp(clock.now());
  const result = store.modify('pods', pod.metadata.namespace, pod.metadata.name, (p) => {
    if (p.metadata.uid !== pod.metadata.uid || p.spec?.nodeName) return p;
    p.status = {
      ...p.status,
      phase: p.status?.phase ?? 'Pending',
      conditions: withCondition(p, { type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message, lastProbeTime: null, lastTransitionTime: now }),
    };
  });
  if (result) recordEvent(store, clock, result, 'Warning', 'FailedScheduling', message, COMPONENT);
  return Boolean(result);
}

/** The pod's conditions with `condition` replacing one of the same type (keeping lastTransitionTime when the status is unchanged). */
function withCondition(pod: KubeObject, condition: Record<string, unknown> & { type: string; status: string }): unknown[] {
  const conditions = ((pod.status?.conditions ?? []) as Array<Record<string, unknown>>).filter((c) => c.type !== condition.type);
  const previous = podCondition(pod, condition.type);
  if (previous?.status === condition.status && previous.lastTransitionTime) condition.lastTransitionTime = previous.lastTransitionTime;
  return [...conditions, condition];
}
