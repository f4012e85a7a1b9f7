/** The twin's Job and CronJob controllers on a store and a manual clock; pods end as a test says. */
import { afterEach, describe, expect, it } from 'vitest';
import { startCronJobController, scheduleTimes, SCHEDULED_TIMESTAMP } from '../../../../harness/twin/controllers/cronjob.ts';
import { COMPLETION_INDEX, formatIndexes, JOB_NAME_LABEL, startJobController } from '../../../../harness/twin/controllers/job.ts';
import { startGarbageCollector } from '../../../../harness/twin/controllers/gc.ts';
import type { ObjectStore } from '../../../../harness/twin/kube/store.ts';
import type { KubeObject } from '../../../../harness/twin/kube/types.ts';
import { T0, advanceUntil, makeStore } from './helpers.ts';

const cleanups: Array<() => void> = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

function cluster() {
  const { clock, store } = makeStore([]);
  const jobs = startJobController({ store, clock });
  const crons = startCronJobController({ store, clock });
  const gc = startGarbageCollector({ store, clock });
  cleanups.push(() => jobs.stop(), () => crons.stop(), () => gc.stop());
  return { clock, store };
}

function indexedJob(name: string, completions: number, parallelism: number, extra: Record<string, unknown> = {}): KubeObject {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name, namespace: 'default' },
    spec: { completionMode: 'Indexed', completions, parallelism, template: { spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'i', env: [{ name: 'A', value: '1' }] }] } }, ...extra },
  };
}

const podsOf = (store: ObjectStore, job: string) => store.list('pods', { namespace: 'default', labelSelector: `${JOB_NAME_LABEL}=${job}` }).items;
const active = (store: ObjectStore, job: string) => podsOf(store, job).filter((p) => !['Succeeded', 'Failed'].includes(p.status?.phase));
function end(store: ObjectStore, pod: KubeObject, phase: 'Succeeded' | 'Failed', at: number): void {
  store.modify('pods', 'default', pod.metadata.name, (p) => {
    p.status = { phase, containerStatuses: [{ name: 'c', state: { terminated: { exitCode: phase === 'Succeeded' ? 0 : 1, finishedAt: new Date(at).toISOString() } } }] };
  });
}
const condition = (job: KubeObject | undefined, type: string) => (job?.status?.conditions ?? []).find((c: { type: string }) => c.type === type);

describe('Job controller', () => {
  it('formats completed indexes as the API does', () => {
    expect(formatIndexes([0, 1, 2, 4, 6, 7])).toBe('0-2,4,6-7');
    expect(formatIndexes([])).toBe('');
    expect(formatIndexes([3])).toBe('3');
  });

  it('an Indexed Job runs parallelism pods at a time, one per index with JOB_COMPLETION_INDEX, and completes when every index succeeded', async () => {
    const { clock, store } = cluster();
    store.create('jobs', indexedJob('shards', 3, 2));
    await advanceUntil(clock, () => active(store, 'shards').length === 2, 5_000);
    const pods = active(store, 'shards');
    expect(pods.map((p) => p.metadata.annotations?.[COMPLETION_INDEX]).sort()).toEqual(['0', '1']);
    const first = pods.find((p) => p.metadata.annotations?.[COMPLETION_INDEX] === '0')!;
    expect(first.metadata.name).toMatch(/^shards-0-[a-z0-9]{5}$/);
    expect(first.metadata.labels?.[COMPLETION_INDEX]).toBe('0');
    expect(first.spec.hostname).toBe('shards-0');
    expect(first.spec.containers[0].env).toEqual([
      { name: 'A', value: '1' },
      { name: 'JOB_COMPLETION_INDEX', valueFrom: { fieldRef: { fieldPath: "metadata.annotations['batch.kubernetes.io/job-completion-index']" } } },
    ]);
    expect(first.metadata.ownerReferences?.[0]).toMatchObject({ kind: 'Job', name: 'shards', controller: true });
    const job = store.get('jobs', 'default', 'shards')!;
    expect(job.spec.selector.matchLabels['batch.kubernetes.io/controller-uid']).toBe(job.metadata.uid);

    end(store, first, 'Succeeded', clock.now());
    await advanceUntil(clock, () => active(store, 'shards').some((p) => p.metadata.annotations?.[COMPLETION_INDEX] === '2'), 5_000);
    expect(active(store, 'shards')).toHaveLength(2);
    expect(store.get('jobs', 'default', 'shards')!.status).toMatchObject({ active: 2, succeeded: 1, completedIndexes: '0' });
    for (const p of active(store, 'shards')) end(store, p, 'Succeeded', clock.now());
    await advanceUntil(clock, () => Boolean(condition(store.get('jobs', 'default', 'shards'), 'Complete')), 5_000);
    const done = store.get('jobs', 'default', 'shards')!;
    expect(condition(done, 'Complete')).toMatchObject({ status: 'True', reason: 'CompletionsReached' });
    expect(done.status).toMatchObject({ active: 0, succeeded: 3, failed: 0, completedIndexes: '0-2' });
    expect(done.status.completionTime).toBeDefined();
    // Finished pods stay until the Job goes; then the garbage collector removes them.
    expect(podsOf(store, 'shards')).toHaveLength(3);
    store.delete('jobs', 'default', 'shards');
    await advanceUntil(clock, () => podsOf(store, 'shards').length === 0, 5_000);
    expect(podsOf(store, 'shards')).toHaveLength(0);
  });

  it('replaces a failed index after the back-off, and fails the Job past backoffLimit, deleting what still runs', async () => {
    const { clock, store } = cluster();
    store.create('jobs', indexedJob('flaky', 2, 2, { backoffLimit: 1 }));
    await advanceUntil(clock, () => active(store, 'flaky').length === 2, 5_000);
    const zero = active(store, 'flaky').find((p) => p.metadata.annotations?.[COMPLETION_INDEX] === '0')!;
    end(store, zero, 'Failed', clock.now());
    // 10 s back-off before index 0 runs again.
    await clock.advance(9_000);
    expect(active(store, 'flaky').map((p) => p.metadata.annotations?.[COMPLETION_INDEX])).toEqual(['1']);
    await advanceUntil(clock, () => active(store, 'flaky').length === 2, 5_000);
    expect(store.get('jobs', 'default', 'flaky')!.status).toMatchObject({ failed: 1, active: 2 });
    end(store, active(store, 'flaky').find((p) => p.metadata.annotations?.[COMPLETION_INDEX] === '0')!, 'Failed', clock.now());
    await advanceUntil(clock, () => Boolean(condition(store.get('jobs', 'default', 'flaky'), 'Failed')), 5_000);
    expect(condition(store.get('jobs', 'default', 'flaky'), 'Failed')).toMatchObject({ status: 'True', reason: 'BackoffLimitExceeded' });
    await advanceUntil(clock, () => active(store, 'flaky').length === 0, 5_000);
    expect(active(store, 'flaky')).toHaveLength(0);
  });
});

describe('CronJob controller', () => {
  it('finds the latest due time and the next one, in the schedule\'s time zone', () => {
    const t = Date.parse('2026-12-03T10:00:00Z');
    expect(scheduleTimes('0 3 * * *', undefined, t, t + 86_400_000)).toEqual({ due: Date.parse('2026-12-04T03:00:00Z'), next: Date.parse('2026-12-05T03:00:00Z') });
    expect(scheduleTimes('0 3 * * *', 'Asia/Tokyo', t, t + 3_600_000)).toEqual({ next: Date.parse('2026-12-03T18:00:00Z') });
    expect(() => scheduleTimes('not a schedule', undefined, t, t)).toThrow();
  });

  it('creates a Job named by the scheduled minute at each time the schedule names, skips one under Forbid while one runs, and keeps the history limits', async () => {
    const { clock, store } = cluster();
    const start = clock.now();
    expect(start).toBe(T0);
    store.create('cronjobs', {
      apiVersion: 'batch/v1',
      kind: 'CronJob',
      metadata: { name: 'nightly', namespace: 'default' },
      spec: { schedule: '*/5 * * * *', concurrencyPolicy: 'Forbid', successfulJobsHistoryLimit: 1, jobTemplate: { metadata: { labels: { team: 'platform' } }, spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'i' }] } } } } },
    });
    const jobs = () => store.list('jobs', { namespace: 'default' }).items.sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
    await advanceUntil(clock, () => jobs().length === 1, 6 * 60_000, 10_000);
    const first = jobs()[0];
    const due = T0 + 5 * 60_000;
    expect(first.metadata.name).toBe(`nightly-${due / 60_000}`);
    expect(first.metadata.annotations?.[SCHEDULED_TIMESTAMP]).toBe(new Date(due).toISOString());
    expect(first.metadata.labels).toEqual({ team: 'platform' });
    expect(first.metadata.ownerReferences?.[0]).toMatchObject({ kind: 'CronJob', name: 'nightly' });
    expect(store.get('cronjobs', 'default', 'nightly')!.status).toMatchObject({ lastScheduleTime: new Date(due).toISOString(), active: [{ name: first.metadata.name }] });

    // Still running at the next time: Forbid skips it.
    await clock.advance(5 * 60_000);
    await clock.advance(1_000);
    expect(jobs()).toHaveLength(1);
    // Done: the next time makes the next Job, and the history keeps only the newest success.
    const [pod] = podsOf(store, first.metadata.name);
    end(store, pod, 'Succeeded', clock.now());
    await advanceUntil(clock, () => Boolean(condition(store.get('jobs', 'default', first.metadata.name), 'Complete')), 10_000);
    await advanceUntil(clock, () => jobs().some((j) => j.metadata.name !== first.metadata.name), 6 * 60_000, 10_000);
    const second = jobs().find((j) => j.metadata.name !== first.metadata.name)!;
    end(store, podsOf(store, second.metadata.name)[0] ?? (await advanceUntil(clock, () => podsOf(store, second.metadata.name).length > 0, 5_000), podsOf(store, second.metadata.name)[0]), 'Succeeded', clock.now());
    await advanceUntil(clock, () => jobs().length === 1 && jobs()[0].metadata.name === second.metadata.name, 10_000);
    expect(jobs().map((j) => j.metadata.name)).toEqual([second.metadata.name]);
    expect(store.get('cronjobs', 'default', 'nightly')!.status.lastSuccessfulTime).toBeDefined();
  });
});
