/**
 * The policy/v1 Eviction subresource and the PodDisruptionBudget (disruption) controller.
 *
 * `evictPod` answers as the API server's EvictionREST: 404 for no pod; pods that are Pending,
 * finished or already terminating are deleted without looking at budgets; more than one
 * matching budget is a 500; otherwise the budget must allow a disruption (429 TooManyRequests
 * when it does not), the eviction is recorded in the budget's status (disruptedPods,
 * disruptionsAllowed - 1) and the pod is deleted with the eviction's grace period or its own.
 * Successes are 201 with a Status Success, as the API server answers a create.
 *
 * The budget's numbers are recomputed at eviction time with the same function the controller
 * uses, so an eviction never acts on a status the controller has not caught up with yet.
 */
import { ApiError, timestamp, type ObjectStore } from '../kube/store.ts';
import { matchesLabelSelector } from '../kube/selectors.ts';
import type { KubeObject } from '../kube/types.ts';
import {
  WorkQueue,
  controllerRef,
  isPodReady,
  isPodTerminal,
  jsonEqual,
  keyOf,
  parseTime,
  scaledValue,
  splitKey,
  watchAll,
  writeStatus,
  type Controller,
  type ControllerDeps,
  type IntOrPercent,
} from './util.ts';

const COMPONENT = 'disruption-controller';
/** How long an eviction keeps a pod out of currentHealthy before the controller assumes it was not deleted. */
export const DELETION_TIMEOUT_MS = 2 * 60 * 1000;

/** A meta/v1 Status, as the API returns it. */
export interface Status {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Success' | 'Failure';
  message?: string;
  reason?: string;
  details?: { name?: string; kind?: string; causes?: Array<{ reason: string; message: string }>; retryAfterSeconds?: number };
  code: number;
}

/** The answer to an eviction: the HTTP status code and the Status body. */
export interface EvictionResult {
  code: number;
  body: Status;
}

/** The numbers of a budget as the disruption controller computes them. */
export interface PdbStatus {
  currentHealthy: number;
  desiredHealthy: number;
  expectedPods: number;
  disruptionsAllowed: number;
  disruptedPods?: Record<string, string>;
  observedGeneration: number;
  conditions: Array<{ type: string; status: string; reason: string; message: string; observedGeneration: number; lastTransitionTime: string }>;
}

function statusOf(code: number, fields: Partial<Status> = {}): EvictionResult {
  const body: Status = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: code < 400 ? 'Success' : 'Failure', ...fields, code };
  return { code, body };
}

function apiErrorResult(error: ApiError): EvictionResult {
  return statusOf(error.code, { message: error.message, reason: error.reason, ...(error.details ? { details: error.details as Status['details'] } : {}) });
}

/** canIgnorePDB: a pod that is finished, Pending or already terminating costs no budget. */
function canIgnoreBudget(pod: KubeObject): boolean {
  return isPodTerminal(pod) || pod.status?.phase === 'Pending' || Boolean(pod.metadata.deletionTimestamp);
}

/**
 * Evicts a pod as POST /api/v1/namespaces/{ns}/pods/{name}/eviction does; `body` is the
 * policy/v1 Eviction (its deleteOptions.gracePeriodSeconds, dryRun and preconditions.uid count).
 */
export function evictPod(store: ObjectStore, namespace: string, name: string, body?: unknown): EvictionResult {
  const eviction = (body ?? {}) as { metadata?: { name?: string }; deleteOptions?: { gracePeriodSeconds?: number; dryRun?: string[]; preconditions?: { uid?: string } } };
  if (eviction.metadata?.name && eviction.metadata.name !== name) {
    return statusOf(400, { message: `name in URL does not match name in Eviction object: expected ${JSON.stringify(name)}, got ${JSON.stringify(eviction.metadata.name)}`, reason: 'BadRequest' });
  }
  const pod = store.get('pods', namespace, name);
  if (!pod) return statusOf(404, { message: `pods "${name}" not found`, reason: 'NotFound', details: { name, kind: 'pods' } });
  const options = eviction.deleteOptions ?? {};
  const precondition = options.preconditions?.uid;
  if (precondition && precondition !== pod.metadata.uid) {
    return statusOf(409, {
      message: `Precondition failed: UID in precondition: ${precondition}, UID in object meta: ${pod.metadata.uid}`,
      reason: 'Conflict',
      details: { name, kind: 'pods' },
    });
  }
  const dryRun = options.dryRun?.includes('All') ?? false;
  const remove = (): EvictionResult => {
    if (dryRun) return statusOf(201);
    try {
      if (!canIgnoreBudget(pod)) markDisruptionTarget(store, pod);
      store.delete('pods', namespace, name, options.gracePeriodSeconds !== undefined ? { gracePeriodSeconds: options.gracePeriodSeconds } : {});
    } catch (error) {
      if (error instanceof ApiError) return apiErrorResult(error);
      throw error;
    }
    return statusOf(201);
  };
  if (canIgnoreBudget(pod)) return remove();

  // As the API server: a budget with an empty selector matches nothing here.
  const budgets = store
    .list('poddisruptionbudgets', { namespace })
    .items.filter((pdb) => hasTerms(pdb.spec?.selector) && matchesLabelSelector(pdb.spec.selector, pod.metadata.labels));
  if (budgets.length > 1) {
    return statusOf(500, { message: 'This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.', reason: 'InternalError' });
  }
  if (budgets.length === 0) return remove();

  const pdb = budgets[0];
  const now = store.clock.now();
  const computed = computePdbStatus(store, pdb, now);
  if ('error' in computed) {
    return statusOf(429, tooManyRequests(`The disruption budget ${pdb.metadata.name} is still being processed by the server.`));
  }
  const current = computed.status;
  if (!isPodReady(pod)) {
    // unhealthyPodEvictionPolicy: an unready pod may go when the budget is met (IfHealthyBudget) or always (AlwaysAllow).
    if (pdb.spec?.unhealthyPodEvictionPolicy === 'AlwaysAllow') return remove();
    if (current.currentHealthy >= current.desiredHealthy && current.desiredHealthy > 0) return remove();
  }
  if (current.disruptionsAllowed <= 0) {
    return statusOf(
      429,
      tooManyRequests(`The disruption budget ${pdb.metadata.name} needs ${current.desiredHealthy} healthy pods and has ${current.currentHealthy} currently`),
    );
  }
  if (!dryRun) {
    const next: PdbStatus = {
      ...current,
      disruptionsAllowed: current.disruptionsAllowed - 1,
      disruptedPods: { ...current.disruptedPods, [name]: timestamp(now) },
    };
    next.conditions = disruptionAllowedConditions(next, pdb, now);
    writeStatus(store, 'poddisruptionbudgets', pdb, next);
  }
  return remove();
}

function tooManyRequests(cause: string): Partial<Status> {
  return {
    message: "Cannot evict pod as it would violate the pod's disruption budget.",
    reason: 'TooManyRequests',
    details: { causes: [{ reason: 'DisruptionBudget', message: cause }] },
  };
}

/** The DisruptionTarget condition the API server adds to a pod it evicts. */
function markDisruptionTarget(store: ObjectStore, pod: KubeObject): void {
  store.modify('pods', pod.metadata.namespace, pod.metadata.name, (p) => {
    const conditions = ((p.status?.conditions ?? []) as Array<{ type: string }>).filter((c) => c.type !== 'DisruptionTarget');
    conditions.push({
      type: 'DisruptionTarget',
      status: 'True',
      reason: 'EvictionByEvictionAPI',
      message: 'Eviction API: evicting',
      lastTransitionTime: timestamp(store.clock.now()),
    } as { type: string });
    p.status = { ...p.status, conditions };
  });
}

function hasTerms(selector: { matchLabels?: object; matchExpressions?: unknown[] } | undefined): boolean {
  return Boolean(selector && (Object.keys(selector.matchLabels ?? {}).length > 0 || (selector.matchExpressions?.length ?? 0) > 0));
}

/** Pods a budget covers (policy/v1: an empty selector selects every pod of the namespace). */
function podsForBudget(store: ObjectStore, pdb: KubeObject): KubeObject[] {
  if (!pdb.spec?.selector) return [];
  return store.list('pods', { namespace: pdb.metadata.namespace }).items.filter((p) => matchesLabelSelector(pdb.spec.selector, p.metadata.labels));
}

/** The replicas the owning controller wants, per controller (getExpectedScale). */
function expectedScale(store: ObjectStore, pods: KubeObject[]): number | { error: string } {
  const scales = new Map<string, number>();
  for (const pod of pods) {
    const ref = controllerRef(pod);
    if (!ref) continue; // Unmanaged pods do not count toward expectedPods.
    if (scales.has(ref.uid)) continue;
    const ns = pod.metadata.namespace;
    let scale: number | undefined;
    if (ref.kind === 'ReplicaSet') {
      const rs = store.get('replicasets', ns, ref.name);
      if (rs?.metadata.uid === ref.uid) {
        const owner = controllerRef(rs);
        const d = owner?.kind === 'Deployment' ? store.get('deployments', ns, owner.name) : undefined;
        scale = d && d.metadata.uid === owner!.uid ? Number(d.spec?.replicas ?? 1) : Number(rs.spec?.replicas ?? 1);
      }
    } else if (ref.kind === 'Deployment') {
      const d = store.get('deployments', ns, ref.name);
      if (d?.metadata.uid === ref.uid) scale = Number(d.spec?.replicas ?? 1);
    } else {
      continue; // Kinds the twin does not serve (StatefulSet, Job, ...) are treated as unmanaged.
    }
    if (scale === undefined) return { error: `found no controllers for pod "${pod.metadata.name}"` };
    scales.set(ref.uid, scale);
  }
  return [...scales.values()].reduce((a, b) => a + b, 0);
}

/**
 * The disruption controller's computation for one budget at `now`: expected and desired
 * healthy pods, current healthy pods (Ready, not terminating, not recently evicted) and
 * disruptions allowed; plus the model ms after which a recorded eviction expires.
 */
export function computePdbStatus(store: ObjectStore, pdb: KubeObject, now: number): { status: PdbStatus; recheckMs?: number } | { error: string } {
  const pods = podsForBudget(store, pdb);
  const spec = pdb.spec ?? {};
  const minAvailable: IntOrPercent | undefined = spec.minAvailable ?? (spec.maxUnavailable === undefined ? 1 : undefined);
  let expectedPods: number;
  let desiredHealthy: number;
  if (spec.maxUnavailable !== undefined) {
    const scale = expectedScale(store, pods);
    if (typeof scale !== 'number') return scale;
    expectedPods = scale;
    const maxUnavailable = scaledValue(spec.maxUnavailable, expectedPods, true);
    if (typeof maxUnavailable !== 'number') return { error: `spec.maxUnavailable: ${maxUnavailable.error}` };
    desiredHealthy = Math.max(0, expectedPods - maxUnavailable);
  } else if (typeof minAvailable === 'number') {
    expectedPods = pods.length;
    desiredHealthy = minAvailable;
  } else {
    const scale = expectedScale(store, pods);
    if (typeof scale !== 'number') return scale;
    expectedPods = scale;
    const min = scaledValue(minAvailable!, expectedPods, true);
    if (typeof min !== 'number') return { error: `spec.minAvailable: ${min.error}` };
    desiredHealthy = min;
  }

  // buildDisruptedPodMap: an eviction is remembered until the pod is terminating or 2 minutes pass.
  const recorded = (pdb.status?.disruptedPods ?? {}) as Record<string, string>;
  const disruptedPods: Record<string, string> = {};
  let recheckMs: number | undefined;
  for (const pod of pods) {
    const at = parseTime(recorded[pod.metadata.name]);
    if (at === undefined || pod.metadata.deletionTimestamp) continue;
    const expires = at + DELETION_TIMEOUT_MS;
    if (expires < now) continue;
    disruptedPods[pod.metadata.name] = recorded[pod.metadata.name];
    recheckMs = Math.min(recheckMs ?? Infinity, expires - now + 1);
  }
  const currentHealthy = pods.filter((p) => !p.metadata.deletionTimestamp && !(p.metadata.name in disruptedPods) && isPodReady(p)).length;
  let disruptionsAllowed = currentHealthy - desiredHealthy;
  if (expectedPods <= 0 || disruptionsAllowed <= 0) disruptionsAllowed = 0;
  const status: PdbStatus = {
    currentHealthy,
    desiredHealthy,
    expectedPods,
    disruptionsAllowed,
    ...(Object.keys(disruptedPods).length ? { disruptedPods } : {}),
    observedGeneration: pdb.metadata.generation ?? 0,
    conditions: [],
  };
  status.conditions = disruptionAllowedConditions(status, pdb, now);
  return { status, recheckMs };
}

/** UpdateDisruptionAllowedCondition: True/SufficientPods when a disruption is allowed, else False/InsufficientPods. */
function disruptionAllowedConditions(status: PdbStatus, pdb: KubeObject, now: number, syncFailed?: string): PdbStatus['conditions'] {
  const previous = ((pdb.status?.conditions ?? []) as PdbStatus['conditions']).find((c) => c.type === 'DisruptionAllowed');
  const allowed = !syncFailed && status.disruptionsAllowed > 0;
  const condition = {
    type: 'DisruptionAllowed',
    status: allowed ? 'True' : 'False',
    reason: syncFailed ? 'SyncFailed' : allowed ? 'SufficientPods' : 'InsufficientPods',
    message: syncFailed ?? '',
    observedGeneration: status.observedGeneration,
    lastTransitionTime: previous && previous.status === (allowed ? 'True' : 'False') ? previous.lastTransitionTime : timestamp(now),
  };
  return [...((pdb.status?.conditions ?? []) as PdbStatus['conditions']).filter((c) => c.type !== 'DisruptionAllowed'), condition];
}

/** Starts the disruption controller: keeps every PodDisruptionBudget's status current. */
export function startDisruptionController(deps: ControllerDeps): Controller {
  const { store, clock } = deps;
  const log = deps.log ?? (() => {});
  const queue = new WorkQueue(COMPONENT, clock, (key) => syncBudget(store, clock.now(), key), log);
  const enqueueNamespace = (ns: string | undefined) => {
    for (const pdb of store.list('poddisruptionbudgets', { namespace: ns }).items) queue.add(keyOf(pdb.metadata));
  };
  const stopWatch = watchAll(store, {
    poddisruptionbudgets: (event) => event.type !== 'DELETED' && queue.add(keyOf(event.object.metadata)),
    pods: (event) => enqueueNamespace(event.object.metadata.namespace),
    // The owners' replicas are the expected pods of percentage and maxUnavailable budgets.
    replicasets: (event) => enqueueNamespace(event.object.metadata.namespace),
    deployments: (event) => enqueueNamespace(event.object.metadata.namespace),
  });
  enqueueNamespace(undefined);
  return {
    stop() {
      stopWatch();
      queue.stop();
    },
  };
}

function syncBudget(store: ObjectStore, now: number, key: string): number | void {
  const { namespace, name } = splitKey(key);
  const pdb = store.get('poddisruptionbudgets', namespace, name);
  if (!pdb) return;
  const computed = computePdbStatus(store, pdb, now);
  if ('error' in computed) {
    // failSafe: no disruptions while the budget cannot be computed.
    const failed: PdbStatus = {
      currentHealthy: Number(pdb.status?.currentHealthy ?? 0),
      desiredHealthy: Number(pdb.status?.desiredHealthy ?? 0),
      expectedPods: Number(pdb.status?.expectedPods ?? 0),
      disruptionsAllowed: 0,
      ...(pdb.status?.disruptedPods ? { disruptedPods: pdb.status.disruptedPods } : {}),
      observedGeneration: pdb.metadata.generation ?? 0,
      conditions: [],
    };
    failed.conditions = disruptionAllowedConditions(failed, pdb, now, computed.error);
    writeStatus(store, 'poddisruptionbudgets', pdb, failed);
    return 5_000;
  }
  if (!jsonEqual(computed.status, pdb.status)) writeStatus(store, 'poddisruptionbudgets', pdb, computed.status);
  return computed.recheckMs;
}
