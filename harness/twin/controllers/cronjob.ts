/**
 * The CronJob controller, after kubernetes pkg/controller/cronjob (batch/v1), on the twin's model
 * clock: at each time `spec.schedule` names (5-field cron, `spec.timeZone` or UTC, parsed with
 * cron-parser), it creates a Job from `spec.jobTemplate` named `<cronjob>-<scheduled minutes since
 * the epoch>` (as the controller names them, so one schedule time makes one Job), with the
 * annotation `batch.kubernetes.io/cronjob-scheduled-timestamp` and the CronJob as its controller.
 *
 * - `concurrencyPolicy`: Allow (default), Forbid (skip while a Job of it runs), Replace (delete the
 *   running Job, then create).
 * - `suspend: true` creates nothing. Missed times are not caught up: only the latest due time is run
 *   (the controller runs at most one missed schedule, and none beyond `startingDeadlineSeconds`).
 * - Status: `active` (references to running Jobs), `lastScheduleTime`, `lastSuccessfulTime`;
 *   finished Jobs beyond `successfulJobsHistoryLimit` (3) / `failedJobsHistoryLimit` (1) are deleted.
 * `kubectl create job NAME --from=cronjob/CRON` (kubectl builds the Job client-side) runs one at once.
 */
import { CronExpressionParser } from 'cron-parser';
import { ApiError, type ObjectStore } from '../kube/store.ts';
import type { KubeObject } from '../kube/types.ts';
import type { Clock } from '../../core/clock.ts';
import { recordEvent } from './events.ts';
import { WorkQueue, controllerRef, keyOf, newControllerRef, parseTime, splitKey, watchAll, writeStatus, type Controller, type ControllerDeps, type Log } from './util.ts';

const COMPONENT = 'cronjob-controller';
export const SCHEDULED_TIMESTAMP = 'batch.kubernetes.io/cronjob-scheduled-timestamp';

const finishedAs = (job: KubeObject): 'Complete' | 'Failed' | undefined =>
  (job.status?.conditions ?? []).find((c: { type: string; status: string }) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True')?.type;

/** The latest schedule time in (after, now], and the next one after now (ms); throws on a bad schedule. */
export function scheduleTimes(schedule: string, timeZone: string | undefined, afterMs: number, nowMs: number): { due?: number; next: number } {
  const options = { currentDate: new Date(afterMs), ...(timeZone ? { tz: timeZone } : { tz: 'UTC' }) };
  const it = CronExpressionParser.parse(schedule, options);
  let due: number | undefined;
  for (let n = 0; n < 100_000; n++) {
    const t = it.next().getTime();
    if (t > nowMs) return { ...(due !== undefined ? { due } : {}), next: t };
    due = t;
  }
  // Far behind (a paused twin): take the latest due time from just before now.
  const near = CronExpressionParser.parse(schedule, { ...options, currentDate: new Date(nowMs) });
  return { due: near.prev().getTime(), next: near.next().getTime() };
}

/** Starts the CronJob controller. */
export function startCronJobController(deps: ControllerDeps): Controller {
  const { store, clock } = deps;
  const log = deps.log ?? (() => {});
  const queue = new WorkQueue(COMPONENT, clock, (key) => syncCronJob(store, clock, log, key), log);
  const stopWatch = watchAll(store, {
    cronjobs: (event) => event.type !== 'DELETED' && queue.add(keyOf(event.object.metadata)),
    jobs: (event) => {
      const ref = controllerRef(event.object);
      if (ref?.kind === 'CronJob') queue.add(`${event.object.metadata.namespace}/${ref.name}`);
    },
  });
  for (const cj of store.list('cronjobs').items) queue.add(keyOf(cj.metadata));
  return {
    stop() {
      stopWatch();
      queue.stop();
    },
  };
}

function syncCronJob(store: ObjectStore, clock: Clock, log: Log, key: string): number | void {
  const { namespace, name } = splitKey(key);
  const cj = store.get('cronjobs', namespace, name);
  if (!cj || cj.metadata.deletionTimestamp) return;
  const now = clock.now();
  const jobs = store.list('jobs', { namespace }).items.filter((j) => controllerRef(j)?.uid === cj.metadata.uid);
  const running = jobs.filter((j) => !finishedAs(j));
  const status: Record<string, unknown> = { ...(cj.status ?? {}) };
  const succeededAt = jobs.filter((j) => finishedAs(j) === 'Complete').map((j) => parseTime(j.status?.completionTime) ?? 0);
  if (succeededAt.length) status.lastSuccessfulTime = new Date(Math.max(...succeededAt, parseTime(status.lastSuccessfulTime) ?? 0)).toISOString();

  // History: the newest finished Jobs are kept, the rest deleted.
  for (const [kind, limit] of [['Complete', cj.spec?.successfulJobsHistoryLimit ?? 3], ['Failed', cj.spec?.failedJobsHistoryLimit ?? 1]] as const) {
    const done = jobs.filter((j) => finishedAs(j) === kind).sort((a, b) => (parseTime(b.metadata.creationTimestamp) ?? 0) - (parseTime(a.metadata.creationTimestamp) ?? 0));
    for (const old of done.slice(Number(limit))) deleteJob(store, old);
  }

  let times: { due?: number; next: number };
  try {
    const after = parseTime(cj.status?.lastScheduleTime) ?? parseTime(cj.metadata.creationTimestamp) ?? now;
    times = scheduleTimes(String(cj.spec?.schedule ?? ''), cj.spec?.timeZone, after, now);
  } catch (error) {
    recordEvent(store, clock, cj, 'Warning', 'InvalidSchedule', `invalid schedule: ${JSON.stringify(cj.spec?.schedule)}: ${(error as Error).message}`, COMPONENT);
    log(`${COMPONENT}: ${key}: invalid schedule ${JSON.stringify(cj.spec?.schedule)}: ${(error as Error).message}`);
    return;
  }
  const deadline = cj.spec?.startingDeadlineSeconds;
  const tooLate = times.due !== undefined && typeof deadline === 'number' && now - times.due > deadline * 1000;
  if (times.due !== undefined && !cj.spec?.suspend && !tooLate) {
    const policy = cj.spec?.concurrencyPolicy ?? 'Allow';
    if (policy === 'Forbid' && running.length) {
      recordEvent(store, clock, cj, 'Normal', 'JobAlreadyActive', 'Not starting job because prior execution is running and concurrency policy is Forbid', COMPONENT);
    } else {
      if (policy === 'Replace') for (const j of running) deleteJob(store, j);
      const made = createJob(store, clock, log, cj, times.due);
      if (made) running.push(made);
    }
    status.lastScheduleTime = new Date(times.due).toISOString();
  } else if (times.due !== undefined) {
    status.lastScheduleTime = new Date(times.due).toISOString();
  }
  status.active = running.filter((j) => store.get('jobs', namespace, j.metadata.name)).map((j) => ({ apiVersion: 'batch/v1', kind: 'Job', namespace, name: j.metadata.name, uid: j.metadata.uid }));
  if (!(status.active as unknown[]).length) delete status.active;
  writeStatus(store, 'cronjobs', cj, status);
  return Math.max(1, times.next - now);
}

function createJob(store: ObjectStore, clock: Clock, log: Log, cj: KubeObject, scheduledMs: number): KubeObject | undefined {
  const template = structuredClone(cj.spec?.jobTemplate ?? {});
  const job: KubeObject = {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: `${cj.metadata.name}-${Math.floor(scheduledMs / 60_000)}`,
      namespace: cj.metadata.namespace,
      labels: { ...(template.metadata?.labels ?? {}) },
      annotations: { ...(template.metadata?.annotations ?? {}), [SCHEDULED_TIMESTAMP]: new Date(scheduledMs).toISOString() },
      ownerReferences: [newControllerRef(cj)],
    },
    spec: template.spec ?? {},
  };
  try {
    const made = store.create('jobs', job);
    recordEvent(store, clock, cj, 'Normal', 'SuccessfulCreate', `Created job ${made.metadata.name}`, COMPONENT);
    return made;
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    // Already made for this time (409): nothing more to do.
    if (error.code !== 409) {
      log(`${COMPONENT}: ${keyOf(cj.metadata)}: creating a job failed: ${error.message}`);
      recordEvent(store, clock, cj, 'Warning', 'FailedCreate', `Error creating job: ${error.message}`, COMPONENT);
    }
    return undefined;
  }
}

function deleteJob(store: ObjectStore, job: KubeObject): void {
  try {
    store.delete('jobs', job.metadata.namespace, job.metadata.name);
  } catch (error) {
    if (!(error instanceof ApiError && error.code === 404)) throw error;
  }
}
