import { afterEach, describe, expect, it } from 'vitest';
import { MIN_SHUTDOWN_MS, killDelayMs, shortenedDeadline } from '../../../../../harness/twin/controllers/kubelet/termination.ts';
import { getPod, kubeletHarness, podObject, type KubeletHarnessOptions } from './fakes.ts';

const stops: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (stops.length) await stops.pop()!();
});

/** A running pod `web` (grace 30 s unless `grace`), and the fake process of its container. */
async function runningPod(opts: KubeletHarnessOptions & { preStop?: unknown; grace?: number } = {}) {
  const h = kubeletHarness(opts);
  stops.push(() => h.kubelets.stop());
  const container = opts.preStop ? { lifecycle: { preStop: opts.preStop } } : {};
  h.store.create('pods', podObject('web', container, { terminationGracePeriodSeconds: opts.grace ?? 30 }));
  await h.clock.advance(0);
  expect(h.spawned).toHaveLength(1);
  expect(getPod(h.store, 'web')?.status?.phase).toBe('Running');
  return { ...h, proc: h.spawned[0] };
}

describe('pure termination timing', () => {
  it('gives SIGKILL what is left of the grace period, never less than the minimum shutdown time', () => {
    expect(killDelayMs(30_000, 10_000)).toBe(20_000);
    expect(killDelayMs(30_000, 29_000)).toBe(MIN_SHUTDOWN_MS);
    expect(killDelayMs(30_000, 45_000)).toBe(MIN_SHUTDOWN_MS);
  });

  it('lets a later delete shorten the deadline, never lengthen it', () => {
    const pod = (seconds: number) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', deletionGracePeriodSeconds: seconds }, spec: {} });
    expect(shortenedDeadline(1_000, 31_000, pod(5))).toBe(6_000);
    expect(shortenedDeadline(1_000, 31_000, pod(30))).toBeUndefined();
    expect(shortenedDeadline(1_000, 31_000, pod(60))).toBeUndefined();
  });
});

describe('kubelet termination on a manual clock', () => {
  it('counts the grace period from the deletion: SIGKILL at deletion + grace, not at SIGTERM + grace', async () => {
    const { clock, store, proc } = await runningPod({ onSigterm: 'ignore', preStop: { sleep: { seconds: 10 } } });
    const deletedAt = clock.now();
    store.delete('pods', 'default', 'web');
    await clock.advance(10_000);
    expect(proc.signals).toEqual([{ signal: 'SIGTERM', at: deletedAt + 10_000 }]);
    await clock.advance(19_999);
    expect(proc.running).toBe(true);
    await clock.advance(1);
    expect(proc.signals).toEqual([
      { signal: 'SIGTERM', at: deletedAt + 10_000 },
      { signal: 'SIGKILL', at: deletedAt + 30_000 },
    ]);
    expect(proc.running).toBe(false);
    expect(getPod(store, 'web')).toBeUndefined();
  });

  it('runs ingress-nginx\'s /wait-shutdown preStop: SIGTERM at once, then waits for the process to exit', async () => {
    const { clock, store, proc } = await runningPod({ onSigterm: 'ignore', preStop: { exec: { command: ['/wait-shutdown'] } }, grace: 300 });
    const deletedAt = clock.now();
    store.delete('pods', 'default', 'web');
    await clock.advance(0);
    expect(proc.signals).toEqual([{ signal: 'SIGTERM', at: deletedAt }]);
    // The controller quits nginx gracefully: the pod stays until it has exited.
    await clock.advance(120_000);
    expect(getPod(store, 'web')).toBeDefined();
    proc.exit(0);
    await clock.advance(0);
    expect(proc.signals).toEqual([{ signal: 'SIGTERM', at: deletedAt }]);
    expect(getPod(store, 'web')).toBeUndefined();
    expect(store.list('events').items.map((e) => e.reason)).not.toContain('FailedPreStopHook');
  });

  it('cuts a /wait-shutdown still waiting at the grace deadline like any preStop', async () => {
    const { clock, store, proc } = await runningPod({ onSigterm: 'ignore', preStop: { exec: { command: ['/wait-shutdown'] } }, grace: 30 });
    const deletedAt = clock.now();
    store.delete('pods', 'default', 'web');
    await clock.advance(30_000 + MIN_SHUTDOWN_MS);
    expect(proc.signals.map((s) => [s.signal, s.at - deletedAt])).toEqual([
      ['SIGTERM', 0],
      ['SIGTERM', 30_000],
      ['SIGKILL', 32_000],
    ]);
    expect(getPod(store, 'web')).toBeUndefined();
  });

  it('cuts a preStop still running at the deadline, SIGTERMs, and gives one 2 s extension before SIGKILL', async () => {
    const { clock, store, proc } = await runningPod({ onSigterm: 'ignore', preStop: { exec: { command: ['sleep', '60'] } } });
    const deletedAt = clock.now();
    store.delete('pods', 'default', 'web');
    await clock.advance(29_999);
    expect(proc.signals).toEqual([]);
    await clock.advance(1);
    expect(proc.signals).toEqual([{ signal: 'SIGTERM', at: deletedAt + 30_000 }]);
    await clock.advance(MIN_SHUTDOWN_MS - 1);
    expect(proc.running).toBe(true);
    await clock.advance(1);
    expect(proc.signals.map((s) => [s.signal, s.at - deletedAt])).toEqual([
      ['SIGTERM', 30_000],
      ['SIGKILL', 32_000],
    ]);
    expect(getPod(store, 'web')).toBeUndefined();
  });

  it('SIGKILLs a process that ignores SIGTERM once the grace period is over', async () => {
    const { clock, store, proc } = await runningPod({ onSigterm: 'ignore', grace: 20 });
    const deletedAt = clock.now();
    store.delete('pods', 'default', 'web');
    await clock.advance(0);
    expect(proc.signals).toEqual([{ signal: 'SIGTERM', at: deletedAt }]);
    await clock.advance(19_999);
    expect(proc.running).toBe(true);
    expect(getPod(store, 'web')?.metadata.deletionTimestamp).toBeDefined();
    await clock.advance(1);
    expect(proc.signals.at(-1)).toEqual({ signal: 'SIGKILL', at: deletedAt + 20_000 });
    expect(getPod(store, 'web')).toBeUndefined();
  });

  it('removes a pod whose process exits on SIGTERM at once, without SIGKILL, reporting Failed on the way', async () => {
    const { clock, store, proc } = await runningPod({ onSigterm: 'exit' });
    const phases: string[] = [];
    store.watch('pods', {}, (e) => e.object.status?.phase && phases.push(e.object.status.phase));
    store.delete('pods', 'default', 'web');
    await clock.advance(0);
    expect(proc.signals.map((s) => s.signal)).toEqual(['SIGTERM']);
    expect(getPod(store, 'web')).toBeUndefined();
    // Killed by a signal: exit code 143, so the final phase is Failed.
    expect(phases.at(-1)).toBe('Failed');
    await clock.advance(60_000);
    expect(proc.signals.map((s) => s.signal)).toEqual(['SIGTERM']);
  });

  it('honours a second delete that shortens the grace period', async () => {
    const { clock, store, proc } = await runningPod({ onSigterm: 'ignore', preStop: { sleep: { seconds: 60 } } });
    const deletedAt = clock.now();
    store.delete('pods', 'default', 'web');
    await clock.advance(1_000);
    store.delete('pods', 'default', 'web', { gracePeriodSeconds: 5 });
    await clock.advance(4_000);
    expect(proc.signals).toEqual([{ signal: 'SIGTERM', at: deletedAt + 5_000 }]);
    await clock.advance(MIN_SHUTDOWN_MS);
    expect(proc.signals.at(-1)).toEqual({ signal: 'SIGKILL', at: deletedAt + 7_000 });
  });
});
