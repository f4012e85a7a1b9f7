/**
 * The ReplicaSet controller, after kubernetes pkg/controller/replicaset: keeps `spec.replicas`
 * active pods that match the selector and are controlled by the ReplicaSet (adopting orphans,
 * releasing pods that stopped matching), deletes surplus pods in the order Kubernetes ranks them,
 * and reports replicas / fullyLabeled / ready / available (Ready for minReadySeconds) in status.
 */
import { ApiError, type ObjectStore } from '../kube/store.ts';
import { matchesLabelSelector } from '../kube/selectors.ts';
import type { KubeObject } from '../kube/types.ts';
import type { Clock } from '../../core/clock.ts';
import { recordEvent } from './events.ts';
import {
  WorkQueue,
  controllerRef,
  isPodActive,
  isPodAvailable,
  isPodReady,
  keyOf,
  msUntilAvailable,
  newControllerRef,
  parseTime,
  podCondition,
  splitKey,
  watchAll,
  writeStatus,
  type Controller,
  type ControllerDeps,
  type Log,
} from './util.ts';

const COMPONENT = 'replicaset-controller';
/** The label the Deployment controller puts on its ReplicaSets and their pods. */
export const POD_TEMPLATE_HASH_LABEL = 'pod-template-hash';

/** True when a label selector selects something (an empty one is invalid for a ReplicaSet). */
export function hasSelector(selector: { matchLabels?: Record<string, string>; matchExpressions?: unknown[] } | undefined): boolean {
  return Boolean(selector && (Object.keys(selector.matchLabels ?? {}).length > 0 || (selector.matchExpressions?.length ?? 0) > 0));
}

/** Starts the ReplicaSet controller. */
export function startReplicaSetController(deps: ControllerDeps): Controller {
  const { store, clock } = deps;
  const log = deps.log ?? (() => {});
  const queue = new WorkQueue(COMPONENT, clock, (key) => syncReplicaSet(store, clock, log, key), log);
  const enqueueForPod = (pod: KubeObject, deleted: boolean) => {
    const ns = pod.metadata.namespace;
    const ref = controllerRef(pod);
    if (ref) {
      if (ref.kind === 'ReplicaSet') queue.add(`${ns}/${ref.name}`);
      return;
    }
    // An orphan: any ReplicaSet that selects it may adopt it.
    if (deleted) return;
    for (const rs of store.list('replicasets', { namespace: ns }).items) {
      if (hasSelector(rs.spec?.selector) && matchesLabelSelector(rs.spec.selector, pod.metadata.labels)) queue.add(keyOf(rs.metadata));
    }
  };
  const stopWatch = watchAll(store, {
    replicasets: (event) => queue.add(keyOf(event.object.metadata)),
    pods: (event) => enqueueForPod(event.object, event.type === 'DELETED'),
  });
  for (const rs of store.list('replicasets').items) queue.add(keyOf(rs.metadata));
  return {
    stop() {
      stopWatch();
      queue.stop();
    },
  };
}

/** Reconciles one ReplicaSet; returns the model ms after which to look again (minReadySeconds). */
function syncReplicaSet(store: ObjectStore, clock: Clock, log: Log, key: string): number | void {
  const { namespace, name } = splitKey(key);
  const rs = store.get('replicasets', namespace, name);
  if (!rs) return;
  const minReadySeconds = Number(rs.spec?.minReadySeconds ?? 0);
  if (!hasSelector(rs.spec?.selector)) {
    log(`${COMPONENT}: ${key}: expected a non-empty spec.selector, got ${JSON.stringify(rs.spec?.selector)}; not managing pods`);
  } else {
    const active = claimPods(store, rs).filter(isPodActive);
    const desired = Number(rs.spec?.replicas ?? 1);
    const diff = active.length - desired;
    if (!rs.metadata.deletionTimestamp) {
      if (diff < 0) createPods(store, clock, log, rs, -diff);
      else if (diff > 0) deletePods(store, clock, rs, podsToDelete(active, relatedPods(store, rs), diff, clock.now()));
    }
  }
  // Status from the pods as they are now (after this sync's creates and deletes), so that the
  // Deployment controller never reads a count that this sync already changed.
  const now = clock.now();
  const pods = hasSelector(rs.spec?.selector) ? ownedPods(store, rs).filter(isPodActive) : [];
  const templateLabels = (rs.spec?.template?.metadata?.labels ?? {}) as Record<string, string>;
  const status = {
    replicas: pods.length,
    fullyLabeledReplicas: pods.filter((p) => Object.entries(templateLabels).every(([k, v]) => p.metadata.labels?.[k] === v)).length,
    readyReplicas: pods.filter(isPodReady).length,
    availableReplicas: pods.filter((p) => isPodAvailable(p, minReadySeconds, now)).length,
    observedGeneration: rs.metadata.generation ?? 0,
  };
  writeStatus(store, 'replicasets', rs, status);
  const waits = pods.map((p) => msUntilAvailable(p, minReadySeconds, now)).filter((ms): ms is number => ms !== undefined);
  return waits.length ? Math.min(...waits) : undefined;
}

/** Pods controlled by `rs` (after adopting orphans it selects and releasing those it no longer selects). */
function claimPods(store: ObjectStore, rs: KubeObject): KubeObject[] {
  const owned: KubeObject[] = [];
  for (const pod of store.list('pods', { namespace: rs.metadata.namespace }).items) {
    const ref = controllerRef(pod);
    const selected = matchesLabelSelector(rs.spec.selector, pod.metadata.labels);
    if (ref) {
      if (ref.uid !== rs.metadata.uid) continue;
      if (selected || pod.metadata.deletionTimestamp) owned.push(pod);
      else release(store, pod, rs);
    } else if (selected && !pod.metadata.deletionTimestamp && !rs.metadata.deletionTimestamp) {
      const adopted = store.modify('pods', pod.metadata.namespace, pod.metadata.name, (p) => {
        if (controllerRef(p)) return p;
        p.metadata.ownerReferences = [...(p.metadata.ownerReferences ?? []), newControllerRef(rs)];
      });
      if (adopted && controllerRef(adopted)?.uid === rs.metadata.uid) owned.push(adopted);
    }
  }
  return owned;
}

function release(store: ObjectStore, pod: KubeObject, rs: KubeObject): void {
  store.modify('pods', pod.metadata.namespace, pod.metadata.name, (p) => {
    p.metadata.ownerReferences = (p.metadata.ownerReferences ?? []).filter((ref) => ref.uid !== rs.metadata.uid);
  });
}

function ownedPods(store: ObjectStore, rs: KubeObject): KubeObject[] {
  return store.list('pods', { namespace: rs.metadata.namespace }).items.filter((p) => controllerRef(p)?.uid === rs.metadata.uid);
}

/** Pods of every ReplicaSet with the same controller (the Deployment's other revisions), for ranking. */
function relatedPods(store: ObjectStore, rs: KubeObject): KubeObject[] {
  const owner = controllerRef(rs);
  if (!owner) return ownedPods(store, rs);
  const siblings = new Set(
    store
      .list('replicasets', { namespace: rs.metadata.namespace })
      .items.filter((r) => controllerRef(r)?.uid === owner.uid)
      .map((r) => r.metadata.uid),
  );
  return store.list('pods', { namespace: rs.metadata.namespace }).items.filter((p) => siblings.has(controllerRef(p)?.uid));
}

function createPods(store: ObjectStore, clock: Clock, log: Log, rs: KubeObject, count: number): void {
  const template = rs.spec?.template ?? {};
  const labels: Record<string, string> = { ...(template.metadata?.labels ?? {}) };
  const hash = rs.metadata.labels?.[POD_TEMPLATE_HASH_LABEL];
  if (hash && !labels[POD_TEMPLATE_HASH_LABEL]) labels[POD_TEMPLATE_HASH_LABEL] = hash;
  for (let i = 0; i < count; i++) {
    const pod: KubeObject = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: '',
        generateName: `${rs.metadata.name}-`,
        namespace: rs.metadata.namespace,
        labels: { ...labels },
        ...(template.metadata?.annotations ? { annotations: { ...template.metadata.annotations } } : {}),
        ...(template.metadata?.finalizers ? { finalizers: [...template.metadata.finalizers] } : {}),
        ownerReferences: [newControllerRef(rs)],
      },
      spec: structuredClone(template.spec ?? {}),
      // The API server's pod strategy starts every pod Pending.
      status: { phase: 'Pending' },
    };
    try {
      const created = store.create('pods', pod);
      recordEvent(store, clock, rs, 'Normal', 'SuccessfulCreate', `Created pod: ${created.metadata.name}`, COMPONENT);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      log(`${COMPONENT}: ${keyOf(rs.metadata)}: creating a pod failed: ${error.message}`);
      recordEvent(store, clock, rs, 'Warning', 'FailedCreate', `Error creating: ${error.message}`, COMPONENT);
      return;
    }
  }
}

function deletePods(store: ObjectStore, clock: Clock, rs: KubeObject, pods: KubeObject[]): void {
  for (const pod of pods) {
    try {
      store.delete('pods', pod.metadata.namespace, pod.metadata.name);
      recordEvent(store, clock, rs, 'Normal', 'SuccessfulDelete', `Deleted pod: ${pod.metadata.name}`, COMPONENT);
    } catch (error) {
      // Already gone: the goal is reached anyway.
      if (!(error instanceof ApiError && error.code === 404)) throw error;
    }
  }
}

const PHASE_ORDINAL: Record<string, number> = { Pending: 0, Unknown: 1, Running: 2 };

/**
 * The `count` pods to delete first, ranked as ActivePodsWithRanks: unscheduled before scheduled,
 * Pending < Unknown < Running, not ready before ready, more related pods on the same node first,
 * ready for less time first, more restarts first, newer first; then by name.
 */
export function podsToDelete(pods: KubeObject[], related: KubeObject[], count: number, now: number): KubeObject[] {
  const onNode = new Map<string, number>();
  for (const p of related) if (isPodActive(p)) onNode.set(p.spec?.nodeName ?? '', (onNode.get(p.spec?.nodeName ?? '') ?? 0) + 1);
  const rank = (p: KubeObject) => onNode.get(p.spec?.nodeName ?? '') ?? 0;
  const readySince = (p: KubeObject) => parseTime(podCondition(p, 'Ready')?.lastTransitionTime) ?? now;
  const restarts = (p: KubeObject) =>
    Math.max(0, ...((p.status?.containerStatuses ?? []) as Array<{ restartCount?: number }>).map((c) => c.restartCount ?? 0));
  const created = (p: KubeObject) => parseTime(p.metadata.creationTimestamp) ?? now;
  const sorted = [...pods].sort((a, b) => {
    const assigned = Number(Boolean(a.spec?.nodeName)) - Number(Boolean(b.spec?.nodeName));
    if (assigned) return assigned;
    const phase = (PHASE_ORDINAL[a.status?.phase] ?? 0) - (PHASE_ORDINAL[b.status?.phase] ?? 0);
    if (phase) return phase;
    const ready = Number(isPodReady(a)) - Number(isPodReady(b));
    if (ready) return ready;
    if (rank(a) !== rank(b)) return rank(b) - rank(a);
    if (isPodReady(a) && isPodReady(b) && readySince(a) !== readySince(b)) return readySince(b) - readySince(a);
    if (restarts(a) !== restarts(b)) return restarts(b) - restarts(a);
    if (created(a) !== created(b)) return created(b) - created(a);
    return a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0;
  });
  return sorted.slice(0, count);
}
