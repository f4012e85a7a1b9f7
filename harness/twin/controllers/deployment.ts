/**
 * The Deployment controller (apps/v1), after kubernetes pkg/controller/deployment: one
 * ReplicaSet per pod template (`<deployment>-<pod-template-hash>`), RollingUpdate
 * (reconcileNewReplicaSet, reconcileOldReplicaSets with cleanupUnhealthyReplicas, both bounded by
 * maxSurge / maxUnavailable and counting only *available* pods) and Recreate, proportional
 * scaling, revision annotations, revisionHistoryLimit cleanup and the Available / Progressing
 * conditions (including ProgressDeadlineExceeded), so that `kubectl rollout status` works.
 *
 * One deliberate difference: a sync waits until every ReplicaSet's status has observed its
 * generation, so scale-down decisions never use a count the ReplicaSet controller has not yet
 * recomputed (Kubernetes can act on such a stale count in a narrow race).
 */
import { ApiError, timestamp, type ObjectStore } from '../kube/store.ts';
import { matchesLabelSelector } from '../kube/selectors.ts';
import type { KubeObject } from '../kube/types.ts';
import type { Clock } from '../../core/clock.ts';
import { recordEvent } from './events.ts';
import { POD_TEMPLATE_HASH_LABEL, hasSelector } from './replicaset.ts';
import {
  WorkQueue,
  byCreation,
  controllerRef,
  isPodTerminal,
  jsonEqual,
  keyOf,
  newControllerRef,
  parseTime,
  safeHash,
  scaledValue,
  splitKey,
  stableJson,
  watchAll,
  writeStatus,
  type Controller,
  type ControllerDeps,
  type IntOrPercent,
  type Log,
} from './util.ts';

const COMPONENT = 'deployment-controller';
/** The revision of a Deployment and of each of its ReplicaSets. */
export const REVISION_ANNOTATION = 'deployment.kubernetes.io/revision';
/** The Deployment's replicas when the ReplicaSet was last scaled (for proportional scaling). */
export const DESIRED_REPLICAS_ANNOTATION = 'deployment.kubernetes.io/desired-replicas';
/** The Deployment's replicas + maxSurge when the ReplicaSet was last scaled. */
export const MAX_REPLICAS_ANNOTATION = 'deployment.kubernetes.io/max-replicas';
/** What `kubectl rollout restart` sets on the pod template. */
export const RESTARTED_AT_ANNOTATION = 'kubectl.kubernetes.io/restartedAt';

/** Reasons of the Progressing and Available conditions, as Kubernetes names them. */
export const DeploymentReason = {
  newRSAvailable: 'NewReplicaSetAvailable',
  replicaSetUpdated: 'ReplicaSetUpdated',
  newReplicaSetCreated: 'NewReplicaSetCreated',
  foundNewRS: 'FoundNewReplicaSet',
  timedOut: 'ProgressDeadlineExceeded',
  paused: 'DeploymentPaused',
  resumed: 'DeploymentResumed',
  minimumReplicasAvailable: 'MinimumReplicasAvailable',
  minimumReplicasUnavailable: 'MinimumReplicasUnavailable',
} as const;

/** A Deployment condition as stored in status.conditions. */
export interface DeploymentCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  lastUpdateTime: string;
  lastTransitionTime: string;
  reason: string;
  message: string;
}

/** The strategy numbers of a Deployment after the API's defaults. */
export interface ResolvedStrategy {
  replicas: number;
  recreate: boolean;
  /** Resolved maxSurge (0 for Recreate). */
  maxSurge: number;
  /** Resolved maxUnavailable, at most `replicas` (0 for Recreate or 0 replicas). */
  maxUnavailable: number;
  minReadySeconds: number;
  revisionHistoryLimit: number;
  /** undefined when the deadline is disabled. */
  progressDeadlineSeconds: number | undefined;
  paused: boolean;
}

/**
 * ResolveFenceposts: maxSurge rounded up, maxUnavailable rounded down, both of `desired`;
 * when both come to 0, maxUnavailable becomes 1 (as Kubernetes does).
 */
export function resolveFenceposts(
  maxSurge: IntOrPercent | undefined,
  maxUnavailable: IntOrPercent | undefined,
  desired: number,
): { surge: number; unavailable: number } | { error: string } {
  const surge = scaledValue(maxSurge ?? 0, desired, true);
  if (typeof surge !== 'number') return { error: `spec.strategy.rollingUpdate.maxSurge: ${surge.error}` };
  const unavailable = scaledValue(maxUnavailable ?? 0, desired, false);
  if (typeof unavailable !== 'number') return { error: `spec.strategy.rollingUpdate.maxUnavailable: ${unavailable.error}` };
  return surge === 0 && unavailable === 0 ? { surge, unavailable: 1 } : { surge, unavailable };
}

/** A Deployment's strategy with defaults (replicas 1, 25 % / 25 %, history 10, deadline 600 s). */
export function resolveStrategy(d: KubeObject): ResolvedStrategy | { error: string } {
  const spec = d.spec ?? {};
  const replicas = Number(spec.replicas ?? 1);
  const type = spec.strategy?.type ?? 'RollingUpdate';
  if (type !== 'RollingUpdate' && type !== 'Recreate') {
    return { error: `spec.strategy.type: expected "RollingUpdate" or "Recreate", got ${JSON.stringify(type)}` };
  }
  const recreate = type === 'Recreate';
  let maxSurge = 0;
  let maxUnavailable = 0;
  if (!recreate) {
    const rolling = spec.strategy?.rollingUpdate ?? {};
    const fence = resolveFenceposts(rolling.maxSurge ?? '25%', rolling.maxUnavailable ?? '25%', replicas);
    if ('error' in fence) return fence;
    maxSurge = fence.surge;
    maxUnavailable = replicas === 0 ? 0 : Math.min(fence.unavailable, replicas);
  }
  const deadline = spec.progressDeadlineSeconds ?? 600;
  return {
    replicas,
    recreate,
    maxSurge,
    maxUnavailable,
    minReadySeconds: Number(spec.minReadySeconds ?? 0),
    revisionHistoryLimit: Number(spec.revisionHistoryLimit ?? 10),
    // MaxInt32 is how the API spells "no deadline".
    progressDeadlineSeconds: deadline === null || deadline >= 2147483647 ? undefined : Number(deadline),
    paused: spec.paused === true,
  };
}

/** A pod template without the pod-template-hash label (EqualIgnoreHash compares these). */
function withoutHash(template: unknown): unknown {
  const t = structuredClone((template ?? {}) as { metadata?: { labels?: Record<string, string> } });
  if (t.metadata?.labels) {
    delete t.metadata.labels[POD_TEMPLATE_HASH_LABEL];
    if (Object.keys(t.metadata.labels).length === 0) delete t.metadata.labels;
  }
  return t;
}

/** ComputeHash: the pod-template-hash of a template (stable over key order), salted by collisionCount. */
export function podTemplateHash(template: unknown, collisionCount?: number): string {
  return safeHash(stableJson(withoutHash(template)) + (collisionCount ? `#${collisionCount}` : ''));
}

/** Starts the Deployment controller. */
export function startDeploymentController(deps: ControllerDeps): Controller {
  const { store, clock } = deps;
  const log = deps.log ?? (() => {});
  const queue = new WorkQueue(COMPONENT, clock, (key) => syncDeployment(store, clock, log, key), log);
  const enqueueForReplicaSet = (rs: KubeObject, deleted: boolean) => {
    const ref = controllerRef(rs);
    if (ref) {
      if (ref.kind === 'Deployment') queue.add(`${rs.metadata.namespace}/${ref.name}`);
      return;
    }
    if (deleted) return;
    for (const d of store.list('deployments', { namespace: rs.metadata.namespace }).items) {
      if (hasSelector(d.spec?.selector) && matchesLabelSelector(d.spec.selector, rs.metadata.labels)) queue.add(keyOf(d.metadata));
    }
  };
  const stopWatch = watchAll(store, {
    deployments: (event) => queue.add(keyOf(event.object.metadata)),
    replicasets: (event) => enqueueForReplicaSet(event.object, event.type === 'DELETED'),
    // Recreate waits for every old pod to be gone.
    pods: (event) => {
      if (event.type !== 'DELETED') return;
      const ref = controllerRef(event.object);
      if (ref?.kind !== 'ReplicaSet') return;
      const rs = store.get('replicasets', event.object.metadata.namespace, ref.name);
      const owner = rs && controllerRef(rs);
      if (owner?.kind === 'Deployment') queue.add(`${rs!.metadata.namespace}/${owner.name}`);
    },
  });
  for (const d of store.list('deployments').items) queue.add(keyOf(d.metadata));
  return {
    stop() {
      stopWatch();
      queue.stop();
    },
  };
}

/** What one sync works on: the stored Deployment, a working copy whose status it edits, the strategy. */
interface Sync {
  store: ObjectStore;
  clock: Clock;
  log: Log;
  stored: KubeObject;
  d: KubeObject;
  r: ResolvedStrategy;
}

const replicasOf = (rs: KubeObject | undefined): number => Number(rs?.spec?.replicas ?? 0);
const sum = (rss: Array<KubeObject | undefined>, f: (rs: KubeObject) => number): number =>
  rss.reduce((n, rs) => n + (rs ? f(rs) : 0), 0);
const specReplicas = (rss: Array<KubeObject | undefined>) => sum(rss, replicasOf);
const actualReplicas = (rss: Array<KubeObject | undefined>) => sum(rss, (rs) => Number(rs.status?.replicas ?? 0));
const readyReplicas = (rss: Array<KubeObject | undefined>) => sum(rss, (rs) => Number(rs.status?.readyReplicas ?? 0));
const availableReplicas = (rss: Array<KubeObject | undefined>) => sum(rss, (rs) => Number(rs.status?.availableReplicas ?? 0));
const revisionOf = (rs: KubeObject): number => Number(rs.metadata.annotations?.[REVISION_ANNOTATION] ?? 0) || 0;
const active = (rss: Array<KubeObject | undefined>): KubeObject[] => rss.filter((rs): rs is KubeObject => replicasOf(rs) > 0);

function syncDeployment(store: ObjectStore, clock: Clock, log: Log, key: string): number | void {
  const { namespace, name } = splitKey(key);
  const stored = store.get('deployments', namespace, name);
  if (!stored) return;
  const r = resolveStrategy(stored);
  if ('error' in r) {
    log(`${COMPONENT}: ${key}: ${r.error}`);
    recordEvent(store, clock, stored, 'Warning', 'InvalidSpec', r.error, COMPONENT);
    return;
  }
  if (!hasSelector(stored.spec?.selector)) {
    const message = 'This deployment has an empty selector; all pods would be selected, which is not allowed.';
    log(`${COMPONENT}: ${key}: ${message}`);
    recordEvent(store, clock, stored, 'Warning', 'SelectingAll', message, COMPONENT);
    return;
  }
  const s: Sync = { store, clock, log, stored, d: structuredClone(stored), r };
  s.d.status ??= {};
  const rsList = claimReplicaSets(s);
  // The ReplicaSet controller has not yet recomputed a status; its status write requeues us.
  if (rsList.some((rs) => Number(rs.status?.observedGeneration ?? 0) < Number(rs.metadata.generation ?? 0))) return;
  if (s.d.metadata.deletionTimestamp) {
    const { newRS, oldRSs } = replicaSetsAndRevision(s, rsList, false);
    return writeDeploymentStatus(s, calculateStatus(s, [...oldRSs, newRS], newRS));
  }
  checkPausedConditions(s);
  if (r.paused || isScalingEvent(s, rsList)) return syncScale(s, rsList);
  return r.recreate ? rolloutRecreate(s, rsList) : rolloutRolling(s, rsList);
}

/** ReplicaSets the Deployment controls, adopting orphans its selector matches. */
function claimReplicaSets(s: Sync): KubeObject[] {
  const d = s.d;
  const owned: KubeObject[] = [];
  for (const rs of s.store.list('replicasets', { namespace: d.metadata.namespace }).items) {
    const ref = controllerRef(rs);
    if (ref) {
      if (ref.uid === d.metadata.uid) owned.push(rs);
      continue;
    }
    if (rs.metadata.deletionTimestamp || d.metadata.deletionTimestamp || !matchesLabelSelector(d.spec.selector, rs.metadata.labels)) continue;
    const adopted = s.store.modify('replicasets', rs.metadata.namespace, rs.metadata.name, (o) => {
      if (controllerRef(o)) return o;
      o.metadata.ownerReferences = [...(o.metadata.ownerReferences ?? []), newControllerRef(d)];
    });
    if (adopted && controllerRef(adopted)?.uid === d.metadata.uid) owned.push(adopted);
  }
  return owned.sort(byCreation);
}

/**
 * getAllReplicaSetsAndSyncRevision: the new ReplicaSet (template equal to the Deployment's,
 * created when asked and missing) and the old ones; syncs the revision annotations.
 */
function replicaSetsAndRevision(s: Sync, rsList: KubeObject[], create: boolean): { newRS?: KubeObject; oldRSs: KubeObject[]; collided?: boolean } {
  const d = s.d;
  const template = withoutHash(d.spec.template);
  const existing = rsList.find((rs) => jsonEqual(withoutHash(rs.spec?.template), template));
  const oldRSs = rsList.filter((rs) => rs !== existing);
  const newRevision = String(Math.max(0, ...oldRSs.map(revisionOf)) + 1);
  if (existing) {
    let newRS = existing;
    const needsRevision = revisionOf(existing) < Number(newRevision);
    if (needsRevision || Number(existing.spec?.minReadySeconds ?? 0) !== s.r.minReadySeconds) {
      newRS =
        s.store.modify('replicasets', existing.metadata.namespace, existing.metadata.name, (o) => {
          o.spec.minReadySeconds = s.r.minReadySeconds;
          if (needsRevision) o.metadata.annotations = { ...o.metadata.annotations, [REVISION_ANNOTATION]: newRevision };
        }) ?? existing;
    }
    setRevision(d, newRS.metadata.annotations?.[REVISION_ANNOTATION] ?? newRevision);
    if (s.r.progressDeadlineSeconds !== undefined && !getCondition(d.status, 'Progressing')) {
      setCondition(d.status, newCondition(s, 'Progressing', 'True', DeploymentReason.foundNewRS, `Found new replica set "${newRS.metadata.name}"`));
    }
    return { newRS, oldRSs };
  }
  if (!create) return { oldRSs };

  const collisionCount = d.status.collisionCount as number | undefined;
  const hash = podTemplateHash(d.spec.template, collisionCount);
  const rsTemplate = structuredClone(d.spec.template ?? {});
  rsTemplate.metadata = { ...rsTemplate.metadata, labels: { ...rsTemplate.metadata?.labels, [POD_TEMPLATE_HASH_LABEL]: hash } };
  const selector = structuredClone(d.spec.selector);
  selector.matchLabels = { ...selector.matchLabels, [POD_TEMPLATE_HASH_LABEL]: hash };
  const draft: KubeObject = {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: {
      name: `${d.metadata.name}-${hash}`,
      namespace: d.metadata.namespace,
      labels: { ...rsTemplate.metadata.labels },
      annotations: {
        [REVISION_ANNOTATION]: newRevision,
        [DESIRED_REPLICAS_ANNOTATION]: String(s.r.replicas),
        [MAX_REPLICAS_ANNOTATION]: String(s.r.replicas + s.r.maxSurge),
      },
      ownerReferences: [newControllerRef(d)],
    },
    spec: { replicas: 0, minReadySeconds: s.r.minReadySeconds, selector, template: rsTemplate },
  };
  draft.spec.replicas = newRSNewReplicas(s, [...oldRSs, draft], draft);
  let created: KubeObject;
  try {
    created = s.store.create('replicasets', draft);
  } catch (error) {
    if (!(error instanceof ApiError) || error.code !== 409) throw error;
    const clash = s.store.get('replicasets', d.metadata.namespace, draft.metadata.name);
    if (clash && controllerRef(clash)?.uid === d.metadata.uid && jsonEqual(withoutHash(clash.spec?.template), template)) {
      return { newRS: clash, oldRSs };
    }
    // A hash collision with someone else's ReplicaSet: salt the hash and try again.
    d.status.collisionCount = (collisionCount ?? 0) + 1;
    s.log(`${COMPONENT}: ${keyOf(d.metadata)}: ReplicaSet ${draft.metadata.name} exists with another template; collisionCount ${d.status.collisionCount}`);
    return { oldRSs, collided: true };
  }
  if (replicasOf(created) > 0) {
    const message = `Scaled up replica set ${created.metadata.name} from 0 to ${replicasOf(created)}`;
    recordEvent(s.store, s.clock, s.stored, 'Normal', 'ScalingReplicaSet', message, COMPONENT);
    s.log(`${COMPONENT}: ${keyOf(d.metadata)}: ${message}`);
  }
  setRevision(d, newRevision);
  if (s.r.progressDeadlineSeconds !== undefined) {
    setCondition(d.status, newCondition(s, 'Progressing', 'True', DeploymentReason.newReplicaSetCreated, `Created new replica set "${created.metadata.name}"`));
  }
  return { newRS: created, oldRSs };
}

/** Saves the bumped collisionCount; the write requeues the Deployment and the next sync uses the new hash. */
function collided(s: Sync): void {
  writeDeploymentStatus(s, { ...s.d.status });
}

function setRevision(d: KubeObject, revision: string): void {
  if (d.metadata.annotations?.[REVISION_ANNOTATION] === revision) return;
  d.metadata.annotations = { ...d.metadata.annotations, [REVISION_ANNOTATION]: revision };
}

/** NewRSNewReplicas: how far the new ReplicaSet may grow now. */
function newRSNewReplicas(s: Sync, allRSs: KubeObject[], newRS: KubeObject): number {
  if (s.r.recreate) return s.r.replicas;
  const currentPodCount = specReplicas(allRSs);
  const maxTotalPods = s.r.replicas + s.r.maxSurge;
  if (currentPodCount >= maxTotalPods) return replicasOf(newRS);
  const scaleUpCount = Math.min(maxTotalPods - currentPodCount, s.r.replicas - replicasOf(newRS));
  return replicasOf(newRS) + scaleUpCount;
}

/** scaleReplicaSet: writes the new size and the replicas annotations when either changed. */
function scaleReplicaSet(s: Sync, rs: KubeObject, newScale: number, operation?: 'up' | 'down'): { scaled: boolean; rs: KubeObject } {
  const desired = String(s.r.replicas);
  const max = String(s.r.replicas + s.r.maxSurge);
  const oldScale = replicasOf(rs);
  const sizeNeedsUpdate = oldScale !== newScale;
  const annotationsNeedUpdate = rs.metadata.annotations?.[DESIRED_REPLICAS_ANNOTATION] !== desired || rs.metadata.annotations?.[MAX_REPLICAS_ANNOTATION] !== max;
  if (!sizeNeedsUpdate && !annotationsNeedUpdate) return { scaled: false, rs };
  const updated = s.store.modify('replicasets', rs.metadata.namespace, rs.metadata.name, (o) => {
    o.spec.replicas = newScale;
    o.metadata.annotations = { ...o.metadata.annotations, [DESIRED_REPLICAS_ANNOTATION]: desired, [MAX_REPLICAS_ANNOTATION]: max };
  });
  if (!updated) return { scaled: false, rs };
  if (sizeNeedsUpdate) {
    const op = operation ?? (newScale > oldScale ? 'up' : 'down');
    const message = `Scaled ${op} replica set ${rs.metadata.name} from ${oldScale} to ${newScale}`;
    recordEvent(s.store, s.clock, s.stored, 'Normal', 'ScalingReplicaSet', message, COMPONENT);
    s.log(`${COMPONENT}: ${keyOf(s.d.metadata)}: ${message}`);
  }
  return { scaled: sizeNeedsUpdate, rs: updated };
}

/** scaleReplicaSetAndRecordEvent: scales only when the size differs. */
function scaleTo(s: Sync, rs: KubeObject, newScale: number): { scaled: boolean; rs: KubeObject } {
  if (replicasOf(rs) === newScale) return { scaled: false, rs };
  return scaleReplicaSet(s, rs, newScale);
}

function rolloutRolling(s: Sync, rsList: KubeObject[]): number | void {
  const got = replicaSetsAndRevision(s, rsList, true);
  if (got.collided) return collided(s);
  let newRS = got.newRS!;
  let oldRSs = got.oldRSs;
  const all = () => [...oldRSs, newRS];

  // Scale up, if we can.
  let scaledUp = false;
  if (replicasOf(newRS) > s.r.replicas) ({ scaled: scaledUp, rs: newRS } = scaleTo(s, newRS, s.r.replicas));
  else if (replicasOf(newRS) < s.r.replicas) ({ scaled: scaledUp, rs: newRS } = scaleTo(s, newRS, newRSNewReplicas(s, all(), newRS)));
  if (scaledUp) return syncRolloutStatus(s, all(), newRS);

  // Scale down, if we can.
  const scaledDown = reconcileOldReplicaSets(s, oldRSs, newRS, (updated) => (oldRSs = updated));
  if (scaledDown) return syncRolloutStatus(s, all(), newRS);

  if (deploymentComplete(s, s.d.status)) cleanupDeployment(s, oldRSs);
  return syncRolloutStatus(s, all(), newRS);
}

/** reconcileOldReplicaSets: scales old ReplicaSets down without going below minAvailable. */
function reconcileOldReplicaSets(s: Sync, oldRSs: KubeObject[], newRS: KubeObject, replace: (rss: KubeObject[]) => void): boolean {
  const activeOld = active(oldRSs);
  const oldPodsCount = specReplicas(activeOld);
  if (oldPodsCount === 0) return false;
  const allPodsCount = specReplicas([...activeOld, newRS]);
  const minAvailable = s.r.replicas - s.r.maxUnavailable;
  const newRSUnavailablePodCount = replicasOf(newRS) - Number(newRS.status?.availableReplicas ?? 0);
  const maxScaledDown = allPodsCount - minAvailable - newRSUnavailablePodCount;
  if (maxScaledDown <= 0) return false;

  const updated = new Map<string, KubeObject>();
  // Clean up unhealthy replicas first, otherwise they block the rollout (kubernetes #16737).
  let cleanupCount = 0;
  for (const rs of [...activeOld].sort(byCreation)) {
    if (cleanupCount >= maxScaledDown) break;
    const available = Number(rs.status?.availableReplicas ?? 0);
    if (replicasOf(rs) === 0 || replicasOf(rs) === available) continue;
    const count = Math.min(maxScaledDown - cleanupCount, replicasOf(rs) - available);
    updated.set(rs.metadata.uid!, scaleTo(s, rs, replicasOf(rs) - count).rs);
    cleanupCount += count;
  }
  const afterCleanup = activeOld.map((rs) => updated.get(rs.metadata.uid!) ?? rs);

  // Then scale down old ReplicaSets as far as availability allows.
  let scaledDownCount = 0;
  const availablePodCount = availableReplicas([...afterCleanup, newRS]);
  if (availablePodCount > minAvailable) {
    const total = availablePodCount - minAvailable;
    for (const rs of [...afterCleanup].sort(byCreation)) {
      if (scaledDownCount >= total) break;
      if (replicasOf(rs) === 0) continue;
      const count = Math.min(replicasOf(rs), total - scaledDownCount);
      updated.set(rs.metadata.uid!, scaleTo(s, rs, replicasOf(rs) - count).rs);
      scaledDownCount += count;
    }
  }
  replace(oldRSs.map((rs) => updated.get(rs.metadata.uid!) ?? rs));
  return cleanupCount + scaledDownCount > 0;
}

function rolloutRecreate(s: Sync, rsList: KubeObject[]): number | void {
  let { newRS, oldRSs } = replicaSetsAndRevision(s, rsList, false);
  // Scale down old ReplicaSets first.
  let scaledDown = false;
  oldRSs = oldRSs.map((rs) => {
    if (replicasOf(rs) === 0) return rs;
    const result = scaleTo(s, rs, 0);
    scaledDown ||= result.scaled;
    return result.rs;
  });
  if (scaledDown) return syncRolloutStatus(s, [...oldRSs, newRS], newRS);
  // Start the new pods only once every old pod is gone.
  if (oldPodsRunning(s, newRS, oldRSs)) return syncRolloutStatus(s, [...oldRSs, newRS], newRS);
  if (!newRS) {
    const got = replicaSetsAndRevision(s, rsList, true);
    if (got.collided) return collided(s);
    ({ newRS, oldRSs } = got);
  }
  if (replicasOf(newRS) !== s.r.replicas) newRS = scaleTo(s, newRS!, s.r.replicas).rs;
  if (deploymentComplete(s, s.d.status)) cleanupDeployment(s, oldRSs);
  return syncRolloutStatus(s, [...oldRSs, newRS], newRS);
}

function oldPodsRunning(s: Sync, newRS: KubeObject | undefined, oldRSs: KubeObject[]): boolean {
  if (actualReplicas(oldRSs) > 0) return true;
  const oldUids = new Set(oldRSs.map((rs) => rs.metadata.uid));
  return s.store
    .list('pods', { namespace: s.d.metadata.namespace })
    .items.some((p) => {
      const uid = controllerRef(p)?.uid;
      return uid !== undefined && uid !== newRS?.metadata.uid && oldUids.has(uid) && !isPodTerminal(p);
    });
}

/** isScalingEvent: an active ReplicaSet was last scaled for a different Deployment size. */
function isScalingEvent(s: Sync, rsList: KubeObject[]): boolean {
  const { newRS, oldRSs } = replicaSetsAndRevision(s, rsList, false);
  if (!newRS) return false;
  return active([...oldRSs, newRS]).some((rs) => {
    const desired = rs.metadata.annotations?.[DESIRED_REPLICAS_ANNOTATION];
    return desired !== undefined && Number(desired) !== s.r.replicas;
  });
}

/** sync: scaling (and paused) Deployments, without starting a rollout. */
function syncScale(s: Sync, rsList: KubeObject[]): number | void {
  const { newRS, oldRSs } = replicaSetsAndRevision(s, rsList, false);
  const scaled = scaleProportionally(s, newRS, oldRSs);
  const old = oldRSs.map((rs) => scaled.get(rs.metadata.uid!) ?? rs);
  const updatedNew = newRS && (scaled.get(newRS.metadata.uid!) ?? newRS);
  if (s.r.paused) cleanupDeployment(s, old);
  return writeDeploymentStatus(s, calculateStatus(s, [...old, updatedNew], updatedNew));
}

/** scale: the one active ReplicaSet takes the new size; several share the change proportionally. */
function scaleProportionally(s: Sync, newRS: KubeObject | undefined, oldRSs: KubeObject[]): Map<string, KubeObject> {
  const result = new Map<string, KubeObject>();
  const byNewest = [...oldRSs].sort(byCreation).reverse();
  const activeAll = active([...byNewest, newRS]);
  const activeOrLatest = activeAll.length === 1 ? activeAll[0] : activeAll.length === 0 ? (newRS ?? byNewest[0]) : undefined;
  if (activeOrLatest) {
    if (replicasOf(activeOrLatest) !== s.r.replicas) result.set(activeOrLatest.metadata.uid!, scaleTo(s, activeOrLatest, s.r.replicas).rs);
    return result;
  }
  // The new ReplicaSet is saturated: old ones go to zero (adoption during a saturated rollout).
  if (
    newRS &&
    newRS.metadata.annotations?.[DESIRED_REPLICAS_ANNOTATION] === String(s.r.replicas) &&
    Number(newRS.status?.availableReplicas ?? 0) === s.r.replicas &&
    replicasOf(newRS) === s.r.replicas
  ) {
    for (const rs of active(oldRSs)) result.set(rs.metadata.uid!, scaleTo(s, rs, 0).rs);
    return result;
  }
  if (s.r.recreate) return result;
  const allowedSize = s.r.replicas > 0 ? s.r.replicas + s.r.maxSurge : 0;
  const toAdd = allowedSize - specReplicas(activeAll);
  const operation = toAdd > 0 ? 'up' : toAdd < 0 ? 'down' : undefined;
  // Larger first; among equals newer first when growing, older first when shrinking.
  const sorted = [...activeAll].sort((a, b) => replicasOf(b) - replicasOf(a) || (toAdd > 0 ? -byCreation(a, b) : byCreation(a, b)));
  const sizes = new Map<string, number>();
  let added = 0;
  for (const rs of sorted) {
    if (toAdd === 0) {
      sizes.set(rs.metadata.uid!, replicasOf(rs));
      continue;
    }
    const proportion = getProportion(s, rs, toAdd, added);
    sizes.set(rs.metadata.uid!, replicasOf(rs) + proportion);
    added += proportion;
  }
  sorted.forEach((rs, i) => {
    let size = sizes.get(rs.metadata.uid!)!;
    // Leftovers go to the largest ReplicaSet.
    if (i === 0 && toAdd !== 0) size = Math.max(0, size + toAdd - added);
    result.set(rs.metadata.uid!, scaleReplicaSet(s, rs, size, operation).rs);
  });
  return result;
}

/** GetProportion: this ReplicaSet's share of the change, bounded by what is left to distribute. */
function getProportion(s: Sync, rs: KubeObject, toAdd: number, added: number): number {
  if (replicasOf(rs) === 0 || toAdd === 0 || toAdd === added) return 0;
  let fraction: number;
  if (s.r.replicas === 0) fraction = -replicasOf(rs);
  else {
    const maxReplicas = s.r.replicas + s.r.maxSurge;
    let before = Number(rs.metadata.annotations?.[MAX_REPLICAS_ANNOTATION] ?? 0) || 0;
    if (before === 0) before = Number(s.d.status?.replicas ?? 0);
    fraction = before === 0 ? 0 : Math.round((replicasOf(rs) * maxReplicas) / before) - replicasOf(rs);
  }
  const allowed = toAdd - added;
  return toAdd > 0 ? Math.min(fraction, allowed) : Math.max(fraction, allowed);
}

/** cleanupDeployment: deletes the oldest fully scaled-down ReplicaSets beyond revisionHistoryLimit. */
function cleanupDeployment(s: Sync, oldRSs: KubeObject[]): void {
  const cleanable = oldRSs.filter((rs) => !rs.metadata.deletionTimestamp);
  const diff = cleanable.length - s.r.revisionHistoryLimit;
  if (diff <= 0) return;
  const byRevision = [...cleanable].sort((a, b) => revisionOf(a) - revisionOf(b) || byCreation(a, b));
  for (const rs of byRevision.slice(0, diff)) {
    if (Number(rs.status?.replicas ?? 0) !== 0 || replicasOf(rs) !== 0) continue;
    if (Number(rs.metadata.generation ?? 0) > Number(rs.status?.observedGeneration ?? 0)) continue;
    try {
      s.store.delete('replicasets', rs.metadata.namespace, rs.metadata.name);
    } catch (error) {
      if (!(error instanceof ApiError && error.code === 404)) throw error;
    }
  }
}

/** checkPausedConditions: Progressing Unknown with DeploymentPaused / DeploymentResumed. */
function checkPausedConditions(s: Sync): void {
  if (s.r.progressDeadlineSeconds === undefined) return;
  const cond = getCondition(s.d.status, 'Progressing');
  if (cond?.reason === DeploymentReason.timedOut) return;
  const pausedReason = cond?.reason === DeploymentReason.paused;
  if (s.r.paused && !pausedReason) {
    setCondition(s.d.status, newCondition(s, 'Progressing', 'Unknown', DeploymentReason.paused, 'Deployment is paused'));
  } else if (!s.r.paused && pausedReason) {
    setCondition(s.d.status, newCondition(s, 'Progressing', 'Unknown', DeploymentReason.resumed, 'Deployment is resumed'));
  }
}

/** calculateStatus: the counts from the ReplicaSets, and the Available condition. */
function calculateStatus(s: Sync, allRSs: Array<KubeObject | undefined>, newRS: KubeObject | undefined): Record<string, unknown> & { conditions: DeploymentCondition[] } {
  const available = availableReplicas(allRSs);
  const status: Record<string, unknown> & { conditions: DeploymentCondition[] } = {
    observedGeneration: s.d.metadata.generation ?? 0,
    replicas: actualReplicas(allRSs),
    updatedReplicas: actualReplicas([newRS]),
    readyReplicas: readyReplicas(allRSs),
    availableReplicas: available,
    unavailableReplicas: Math.max(0, specReplicas(allRSs) - available),
    conditions: structuredClone((s.d.status?.conditions ?? []) as DeploymentCondition[]),
  };
  if (s.d.status?.collisionCount !== undefined) status.collisionCount = s.d.status.collisionCount;
  if (available >= s.r.replicas - s.r.maxUnavailable) {
    setCondition(status, newCondition(s, 'Available', 'True', DeploymentReason.minimumReplicasAvailable, 'Deployment has minimum availability.'));
  } else {
    setCondition(status, newCondition(s, 'Available', 'False', DeploymentReason.minimumReplicasUnavailable, 'Deployment does not have minimum availability.'));
  }
  return status;
}

/** DeploymentComplete: every replica updated and available, and the generation observed. */
function deploymentComplete(s: Sync, status: Record<string, unknown> | undefined): boolean {
  return (
    Number(status?.updatedReplicas ?? 0) === s.r.replicas &&
    Number(status?.replicas ?? 0) === s.r.replicas &&
    Number(status?.availableReplicas ?? 0) === s.r.replicas &&
    Number(status?.observedGeneration ?? 0) >= Number(s.d.metadata.generation ?? 0)
  );
}

/** syncRolloutStatus: counts plus the Progressing condition; returns when to check the deadline again. */
function syncRolloutStatus(s: Sync, allRSs: Array<KubeObject | undefined>, newRS: KubeObject | undefined): number | void {
  const newStatus = calculateStatus(s, allRSs, newRS);
  const deadline = s.r.progressDeadlineSeconds;
  if (deadline === undefined) removeCondition(newStatus, 'Progressing');
  const current = getCondition(s.d.status, 'Progressing');
  const isCompleteDeployment = newStatus.replicas === newStatus.updatedReplicas && current?.reason === DeploymentReason.newRSAvailable;
  if (deadline !== undefined && !isCompleteDeployment) {
    const what = newRS ? `ReplicaSet "${newRS.metadata.name}"` : `Deployment "${s.d.metadata.name}"`;
    if (deploymentComplete(s, newStatus)) {
      setCondition(newStatus, newCondition(s, 'Progressing', 'True', DeploymentReason.newRSAvailable, `${what} has successfully progressed.`));
    } else if (deploymentProgressing(s.d.status, newStatus)) {
      // Progress refreshes lastUpdateTime even with the same reason (that is what the deadline measures).
      const condition = newCondition(s, 'Progressing', 'True', DeploymentReason.replicaSetUpdated, `${what} is progressing.`);
      if (current?.status === 'True') condition.lastTransitionTime = current.lastTransitionTime;
      removeCondition(newStatus, 'Progressing');
      setCondition(newStatus, condition);
    } else if (deploymentTimedOut(s, newStatus, deadline)) {
      setCondition(newStatus, newCondition(s, 'Progressing', 'False', DeploymentReason.timedOut, `${what} has timed out progressing.`));
    }
  }
  if (jsonEqual(newStatus, s.stored.status) && jsonEqual(s.d.metadata.annotations, s.stored.metadata.annotations)) {
    return requeueStuckDeployment(s, newStatus);
  }
  writeDeploymentStatus(s, newStatus);
}

function deploymentProgressing(old: Record<string, unknown> | undefined, next: Record<string, unknown>): boolean {
  const n = (v: unknown) => Number(v ?? 0);
  const oldOld = n(old?.replicas) - n(old?.updatedReplicas);
  const newOld = n(next.replicas) - n(next.updatedReplicas);
  return (
    n(next.updatedReplicas) > n(old?.updatedReplicas) ||
    newOld < oldOld ||
    n(next.readyReplicas) > n(old?.readyReplicas) ||
    n(next.availableReplicas) > n(old?.availableReplicas)
  );
}

function deploymentTimedOut(s: Sync, status: { conditions: DeploymentCondition[] }, deadline: number): boolean {
  const cond = getCondition(status, 'Progressing');
  if (!cond || cond.reason === DeploymentReason.newRSAvailable) return false;
  if (cond.reason === DeploymentReason.timedOut) return true;
  const from = parseTime(cond.lastUpdateTime);
  return from !== undefined && from + deadline * 1000 < s.clock.now();
}

/** requeueStuckDeployment: model ms until the progress deadline could have passed, or nothing. */
function requeueStuckDeployment(s: Sync, newStatus: Record<string, unknown>): number | void {
  const cond = getCondition(s.d.status, 'Progressing');
  const deadline = s.r.progressDeadlineSeconds;
  if (deadline === undefined || !cond) return;
  if (deploymentComplete(s, newStatus) || cond.reason === DeploymentReason.timedOut) return;
  const from = parseTime(cond.lastUpdateTime);
  if (from === undefined) return;
  const after = from + deadline * 1000 - s.clock.now();
  // A second more, so that the strict "before now" comparison has passed.
  return after < 1000 ? 1000 : after + 1000;
}

function writeDeploymentStatus(s: Sync, status: Record<string, unknown>): undefined {
  writeStatus(s.store, 'deployments', s.stored, status, (o) => {
    if (s.d.metadata.annotations) o.metadata.annotations = { ...o.metadata.annotations, ...s.d.metadata.annotations };
  });
  return undefined;
}

function newCondition(s: Sync, type: string, status: DeploymentCondition['status'], reason: string, message: string): DeploymentCondition {
  const now = timestamp(s.clock.now());
  return { type, status, lastUpdateTime: now, lastTransitionTime: now, reason, message };
}

function getCondition(status: { conditions?: DeploymentCondition[] } | undefined, type: string): DeploymentCondition | undefined {
  return status?.conditions?.find((c) => c.type === type);
}

/** SetDeploymentCondition: same status and reason → unchanged; same status → keeps lastTransitionTime. */
function setCondition(status: { conditions?: DeploymentCondition[] }, condition: DeploymentCondition): void {
  const current = getCondition(status, condition.type);
  if (current && current.status === condition.status && current.reason === condition.reason) return;
  if (current && current.status === condition.status) condition.lastTransitionTime = current.lastTransitionTime;
  status.conditions = [...(status.conditions ?? []).filter((c) => c.type !== condition.type), condition];
}

function removeCondition(status: { conditions?: DeploymentCondition[] }, type: string): void {
  status.conditions = (status.conditions ?? []).filter((c) => c.type !== type);
}
