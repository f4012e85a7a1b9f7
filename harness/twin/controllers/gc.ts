/**
 * Garbage collection, after kubernetes' garbage collector (background cascading deletion) and
 * pod GC: a ReplicaSet or pod whose owners are all gone is deleted (a pod with its own grace
 * period, so it terminates like any other); dangling owner references next to a live owner are
 * dropped; pods bound to a Node that has been gone for the quarantine (40 s, as podgc) are
 * marked Failed and force-deleted.
 */
import { ApiError, timestamp, type ObjectStore } from '../kube/store.ts';
import { resourceForKind } from '../kube/resources.ts';
import type { KubeObject, ObjectMeta } from '../kube/types.ts';
import type { Clock } from '../../core/clock.ts';
import { WorkQueue, isPodTerminal, watchAll, type Controller, type ControllerDeps } from './util.ts';

const COMPONENT = 'garbage-collector';
const DEPENDENTS = 'dependents';
const ORPHAN_PODS = 'orphan-pods';
/** Kinds whose objects the collector deletes when their owners are gone. */
const DEPENDENT_PLURALS = ['replicasets', 'jobs', 'pods'] as const;

/** How long pod GC waits before deleting pods of a vanished node (podgc's quarantine). */
export const ORPHAN_POD_QUARANTINE_SECONDS = 40;

/** The collector's dependencies; `orphanPodQuarantineSeconds` overrides the 40 s quarantine. */
export interface GarbageCollectorDeps extends ControllerDeps {
  orphanPodQuarantineSeconds?: number;
}

type OwnerRef = NonNullable<ObjectMeta['ownerReferences']>[number];

/** Starts the garbage collector and pod GC. */
export function startGarbageCollector(deps: GarbageCollectorDeps): Controller {
  const { store, clock } = deps;
  const log = deps.log ?? (() => {});
  const quarantineMs = (deps.orphanPodQuarantineSeconds ?? ORPHAN_POD_QUARANTINE_SECONDS) * 1000;
  const missingSince = new Map<string, number>();
  const queue = new WorkQueue(
    COMPONENT,
    clock,
    (key) => (key === DEPENDENTS ? collectDependents(store, log) : collectOrphanPods(store, clock, quarantineMs, missingSince)),
    log,
  );
  const onDependent = (obj: KubeObject, type: string) => {
    // A dependent created (or re-owned) after its owner went away.
    if (type !== 'DELETED' && obj.metadata.ownerReferences?.some((ref) => !ownerExists(store, ref, obj.metadata.namespace))) queue.add(DEPENDENTS);
  };
  const stopWatch = watchAll(store, {
    deployments: (event) => event.type === 'DELETED' && queue.add(DEPENDENTS),
    cronjobs: (event) => event.type === 'DELETED' && queue.add(DEPENDENTS),
    // k6-operator's TestRun owns its runner Jobs.
    testruns: (event) => event.type === 'DELETED' && queue.add(DEPENDENTS),
    jobs: (event) => (event.type === 'DELETED' ? queue.add(DEPENDENTS) : onDependent(event.object, event.type)),
    replicasets: (event) => (event.type === 'DELETED' ? queue.add(DEPENDENTS) : onDependent(event.object, event.type)),
    pods: (event) => {
      onDependent(event.object, event.type);
      const node = event.object.spec?.nodeName;
      if (event.type !== 'DELETED' && node && !store.get('nodes', undefined, node)) queue.add(ORPHAN_PODS);
    },
    nodes: (event) => event.type === 'DELETED' && queue.add(ORPHAN_PODS),
  });
  queue.add(DEPENDENTS);
  queue.add(ORPHAN_PODS);
  return {
    stop() {
      stopWatch();
      queue.stop();
    },
  };
}

/** True when the referenced owner exists with that uid (unknown kinds count as existing). */
function ownerExists(store: ObjectStore, ref: OwnerRef, namespace: string | undefined): boolean {
  const info = resourceForKind(ref.kind);
  if (!info) return true;
  const owner = store.get(info.plural, info.namespaced ? namespace : undefined, ref.name);
  return owner?.metadata.uid === ref.uid;
}

function collectDependents(store: ObjectStore, log: (line: string) => void): void {
  for (const plural of DEPENDENT_PLURALS) {
    for (const obj of store.list(plural).items) {
      const refs = obj.metadata.ownerReferences ?? [];
      if (refs.length === 0 || obj.metadata.deletionTimestamp) continue;
      const dangling = refs.filter((ref) => !ownerExists(store, ref, obj.metadata.namespace));
      if (dangling.length === 0) continue;
      if (dangling.length < refs.length) {
        // Another owner still exists: only the dangling references go.
        store.modify(plural, obj.metadata.namespace, obj.metadata.name, (o) => {
          o.metadata.ownerReferences = (o.metadata.ownerReferences ?? []).filter((ref) => !dangling.some((d) => d.uid === ref.uid));
        });
        continue;
      }
      try {
        store.delete(plural, obj.metadata.namespace, obj.metadata.name);
        log(`${COMPONENT}: deleted ${plural} ${obj.metadata.namespace}/${obj.metadata.name}: owner ${refs.map((r) => `${r.kind}/${r.name}`).join(', ')} is gone`);
      } catch (error) {
        if (!(error instanceof ApiError && error.code === 404)) throw error;
      }
    }
  }
}

/** gcOrphaned: returns the model ms until the next quarantine ends, if any. */
function collectOrphanPods(store: ObjectStore, clock: Clock, quarantineMs: number, missingSince: Map<string, number>): number | void {
  const now = clock.now();
  const nodes = new Set(store.list('nodes').items.map((n) => n.metadata.name));
  const orphans = store.list('pods').items.filter((p) => p.spec?.nodeName && !nodes.has(p.spec.nodeName));
  const missing = new Set(orphans.map((p) => p.spec.nodeName as string));
  for (const name of missingSince.keys()) if (!missing.has(name)) missingSince.delete(name);
  let next: number | undefined;
  for (const pod of orphans) {
    const node = pod.spec.nodeName as string;
    if (!missingSince.has(node)) missingSince.set(node, now);
    const wait = missingSince.get(node)! + quarantineMs - now;
    if (wait > 0) {
      next = Math.min(next ?? wait, wait);
      continue;
    }
    if (!isPodTerminal(pod)) {
      store.modify('pods', pod.metadata.namespace, pod.metadata.name, (p) => {
        const conditions = ((p.status?.conditions ?? []) as Array<{ type: string }>).filter((c) => c.type !== 'DisruptionTarget');
        conditions.push({
          type: 'DisruptionTarget',
          status: 'True',
          reason: 'DeletionByPodGC',
          message: 'PodGC: node no longer exists',
          lastTransitionTime: timestamp(now),
        } as { type: string });
        p.status = { ...p.status, phase: 'Failed', conditions };
      });
    }
    try {
      store.delete('pods', pod.metadata.namespace, pod.metadata.name, { gracePeriodSeconds: 0 });
    } catch (error) {
      if (!(error instanceof ApiError && error.code === 404)) throw error;
    }
  }
  return next;
}
