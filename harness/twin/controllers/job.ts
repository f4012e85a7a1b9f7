/**
 * The Job controller, after kubernetes pkg/controller/job (batch/v1): runs a Job's pods to
 * `completions` successes, `parallelism` at a time, and reports them in status.
 *
 * - The API server's Job defaulting is done here on the first sync: `spec.selector` on the
 *   controller-uid label and the template's labels `batch.kubernetes.io/controller-uid`,
 *   `batch.kubernetes.io/job-name` (and the legacy `controller-uid`, `job-name`).
 * - `completionMode: Indexed`: each pod runs one index in `0..completions-1`, named
 *   `<job>-<index>-<5 chars>`, with the annotation and label `batch.kubernetes.io/job-completion-index`,
 *   hostname `<job>-<index>`, and `JOB_COMPLETION_INDEX` from that annotation in every container's
 *   env (a downward-API field reference, as the controller adds it); `status.completedIndexes` lists
 *   the succeeded ones as ranges (`0-2,4`). NonIndexed: `completions` successes of any pods.
 * - A failed pod (restartPolicy Never: the container exited non-zero) is counted in `status.failed`
 *   and replaced after the controller's back-off (10 s, doubled per failure, at most 6 min); beyond
 *   `backoffLimit` (default 6) failures, or past `activeDeadlineSeconds`, the Job fails
 *   (`BackoffLimitExceeded` / `DeadlineExceeded`) and its running pods are deleted.
 * - Done: condition `Complete` (or `Failed`) True, `completionTime`. Finished pods stay until the
 *   Job is deleted (the garbage collector follows their ownerReferences).
 * Not modelled: `ttlSecondsAfterFinished`, pod failure and success policies, `suspend` beyond not
 * creating pods, job-tracking finalizers.
 */
import { ApiError, type ObjectStore } from '../kube/store.ts';
import type { KubeObject } from '../kube/types.ts';
import type { Clock } from '../../core/clock.ts';
import { recordEvent } from './events.ts';
import { WorkQueue, controllerRef, isPodActive, keyOf, newControllerRef, parseTime, splitKey, watchAll, writeStatus, type Controller, type ControllerDeps, type Log } from './util.ts';

const COMPONENT = 'job-controller';
export const CONTROLLER_UID_LABEL = 'batch.kubernetes.io/controller-uid';
export const JOB_NAME_LABEL = 'batch.kubernetes.io/job-name';
export const COMPLETION_INDEX = 'batch.kubernetes.io/job-completion-index';
/** The env variable an Indexed Job's containers get: the pod's completion index. */
export const JOB_COMPLETION_INDEX_ENV = 'JOB_COMPLETION_INDEX';
const BACKOFF_INITIAL_MS = 10_000;
const BACKOFF_MAX_MS = 360_000;

/** `0-2,4` from the sorted indexes [0, 1, 2, 4], as status.completedIndexes writes them. */
export function formatIndexes(indexes: Iterable<number>): string {
  const sorted = [...new Set(indexes)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j++;
    parts.push(i === j ? String(sorted[i]) : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

/** Starts the Job controller. */
export function startJobController(deps: ControllerDeps): Controller {
  const { store, clock } = deps;
  const log = deps.log ?? (() => {});
  const queue = new WorkQueue(COMPONENT, clock, (key) => syncJob(store, clock, log, key), log);
  const stopWatch = watchAll(store, {
    jobs: (event) => event.type !== 'DELETED' && queue.add(keyOf(event.object.metadata)),
    pods: (event) => {
      const ref = controllerRef(event.object);
      if (ref?.kind === 'Job') queue.add(`${event.object.metadata.namespace}/${ref.name}`);
    },
  });
  for (const job of store.list('jobs').items) queue.add(keyOf(job.metadata));
  return {
    stop() {
      stopWatch();
      queue.stop();
    },
  };
}

const conditionTrue = (job: KubeObject, type: string) => (job.status?.conditions ?? []).some((c: { type: string; status: string }) => c.type === type && c.status === 'True');

/** Reconciles one Job; returns the model ms after which to look again (back-off, deadline). */
function syncJob(store: ObjectStore, clock: Clock, log: Log, key: string): number | void {
  const { namespace, name } = splitKey(key);
  let job = store.get('jobs', namespace, name);
  if (!job || job.metadata.deletionTimestamp) return;
  if (conditionTrue(job, 'Complete') || conditionTrue(job, 'Failed')) return;
  job = defaulted(store, job);
  const uid = job.metadata.uid!;
  const indexed = job.spec.completionMode === 'Indexed';
  // NonIndexed without completions: one success (the API server's default, as parallelism's).
  const completions: number = job.spec.completions ?? (indexed ? NaN : 1);
  if (indexed && !(completions >= 1)) {
    log(`${COMPONENT}: ${key}: expected spec.completions ≥ 1 for completionMode Indexed, got ${JSON.stringify(job.spec.completions)}; not managing pods`);
    return;
  }
  const parallelism = Number(job.spec.parallelism ?? 1);
  const backoffLimit = Number(job.spec.backoffLimit ?? 6);
  const now = clock.now();
  const pods = store.list('pods', { namespace }).items.filter((p) => controllerRef(p)?.uid === uid);
  const active = pods.filter(isPodActive);
  const succeededPods = pods.filter((p) => p.status?.phase === 'Succeeded');
  const failedPods = pods.filter((p) => p.status?.phase === 'Failed');
  const indexOf = (p: KubeObject) => Number(p.metadata.annotations?.[COMPLETION_INDEX]);
  const completed = new Set(indexed ? succeededPods.map(indexOf).filter((i) => Number.isInteger(i) && i < completions) : []);
  const succeeded = indexed ? completed.size : succeededPods.length;
  const failed = failedPods.length;
  const startTime = job.status?.startTime ?? new Date(now).toISOString();
  const status: Record<string, unknown> = {
    ...(job.status ?? {}),
    startTime,
    active: active.length,
    ready: active.filter((p) => (p.status?.conditions ?? []).some((c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True')).length,
    succeeded,
    failed,
    ...(indexed ? { completedIndexes: formatIndexes(completed) } : {}),
  };
  const finish = (type: 'Complete' | 'Failed', reason: string, message: string) => {
    for (const p of active) deletePod(store, p);
    const at = new Date(now).toISOString();
    status.active = 0;
    status.ready = 0;
    if (type === 'Complete') status.completionTime = at;
    status.conditions = [...((job!.status?.conditions as unknown[]) ?? []), { type, status: 'True', reason, message, lastProbeTime: at, lastTransitionTime: at }];
    writeStatus(store, 'jobs', job!, status);
    recordEvent(store, clock, job!, type === 'Complete' ? 'Normal' : 'Warning', type === 'Complete' ? 'Completed' : reason, message, COMPONENT);
    log(`${COMPONENT}: ${key}: ${type}${reason ? ` (${reason})` : ''}: ${message}`);
  };

  if (succeeded >= completions) return finish('Complete', 'CompletionsReached', 'Reached expected number of succeeded pods');
  if (failed > backoffLimit) return finish('Failed', 'BackoffLimitExceeded', 'Job has reached the specified backoff limit');
  const deadlineS = job.spec.activeDeadlineSeconds;
  const startedMs = parseTime(startTime) ?? now;
  if (typeof deadlineS === 'number' && now - startedMs >= deadlineS * 1000) return finish('Failed', 'DeadlineExceeded', 'Job was active longer than specified deadline');

  let wait: number | undefined;
  if (!job.spec.suspend) {
    // The back-off after failures: the next pod waits 10 s × 2^(failures − 1), at most 6 min.
    const lastFailure = Math.max(0, ...failedPods.map((p) => parseTime(p.status?.containerStatuses?.[0]?.state?.terminated?.finishedAt) ?? parseTime(p.metadata.creationTimestamp) ?? 0));
    const backoffMs = failed ? Math.min(BACKOFF_MAX_MS, BACKOFF_INITIAL_MS * 2 ** (failed - 1)) : 0;
    const readyAt = lastFailure + backoffMs;
    if (failed && now < readyAt) wait = readyAt - now;
    else if (indexed) {
      const running = new Set(active.map(indexOf));
      for (let i = 0; i < completions && Number(status.active) < parallelism; i++) {
        if (completed.has(i) || running.has(i)) continue;
        if (createPod(store, clock, log, job, i)) status.active = Number(status.active) + 1;
        else break;
      }
    } else {
      const wanted = Math.min(parallelism, completions - succeeded) - active.length;
      for (let n = 0; n < wanted; n++) {
        if (createPod(store, clock, log, job)) status.active = Number(status.active) + 1;
        else break;
      }
    }
  }
  writeStatus(store, 'jobs', job, status);
  if (typeof deadlineS === 'number') {
    const untilDeadline = startedMs + deadlineS * 1000 - now;
    wait = wait === undefined ? untilDeadline : Math.min(wait, untilDeadline);
  }
  return wait;
}

/** The API server's defaulting of a Job the controller sees first: selector and template labels. */
function defaulted(store: ObjectStore, job: KubeObject): KubeObject {
  const uid = job.metadata.uid!;
  if (job.spec?.selector?.matchLabels?.[CONTROLLER_UID_LABEL] === uid && job.spec.template?.metadata?.labels?.[CONTROLLER_UID_LABEL] === uid) return job;
  if (job.spec?.manualSelector) return job;
  return (
    store.modify('jobs', job.metadata.namespace, job.metadata.name, (j) => {
      if (j.metadata.uid !== uid) return j;
      j.spec.selector = { matchLabels: { [CONTROLLER_UID_LABEL]: uid } };
      j.spec.template = j.spec.template ?? {};
      j.spec.template.metadata = j.spec.template.metadata ?? {};
      j.spec.template.metadata.labels = { ...(j.spec.template.metadata.labels ?? {}), [CONTROLLER_UID_LABEL]: uid, [JOB_NAME_LABEL]: j.metadata.name, 'controller-uid': uid, 'job-name': j.metadata.name };
    }) ?? job
  );
}

/** Creates one pod of the Job (of `index` when Indexed); false when the API refused it. */
function createPod(store: ObjectStore, clock: Clock, log: Log, job: KubeObject, index?: number): boolean {
  const template = structuredClone(job.spec.template ?? {});
  const spec = template.spec ?? {};
  const labels: Record<string, string> = { ...(template.metadata?.labels ?? {}) };
  const annotations: Record<string, string> = { ...(template.metadata?.annotations ?? {}) };
  if (index !== undefined) {
    labels[COMPLETION_INDEX] = String(index);
    annotations[COMPLETION_INDEX] = String(index);
    spec.hostname ??= `${job.metadata.name}-${index}`;
    const env = { name: JOB_COMPLETION_INDEX_ENV, valueFrom: { fieldRef: { fieldPath: `metadata.annotations['${COMPLETION_INDEX}']` } } };
    for (const c of [...(spec.initContainers ?? []), ...(spec.containers ?? [])]) c.env = [...(c.env ?? []).filter((e: { name: string }) => e.name !== JOB_COMPLETION_INDEX_ENV), env];
  }
  const pod: KubeObject = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: '',
      generateName: index !== undefined ? `${job.metadata.name}-${index}-` : `${job.metadata.name}-`,
      namespace: job.metadata.namespace,
      labels,
      ...(Object.keys(annotations).length ? { annotations } : {}),
      ownerReferences: [newControllerRef(job)],
    },
    spec,
    status: { phase: 'Pending' },
  };
  try {
    const made = store.create('pods', pod);
    recordEvent(store, clock, job, 'Normal', 'SuccessfulCreate', `Created pod: ${made.metadata.name}`, COMPONENT);
    return true;
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    log(`${COMPONENT}: ${keyOf(job.metadata)}: creating a pod failed: ${error.message}`);
    recordEvent(store, clock, job, 'Warning', 'FailedCreate', `Error creating: ${error.message}`, COMPONENT);
    return false;
  }
}

function deletePod(store: ObjectStore, pod: KubeObject): void {
  try {
    store.delete('pods', pod.metadata.namespace, pod.metadata.name);
  } catch (error) {
    if (!(error instanceof ApiError && error.code === 404)) throw error;
  }
}
