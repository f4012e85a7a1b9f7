import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock, scaledClock } from '../../../../../harness/core/clock.ts';
import { MIN_REAL_PROBE_TIMEOUT_MS, effectiveProbeTimeoutMs, nextProbeDelayMs, probeStep, type ProbeCounters } from '../../../../../harness/twin/controllers/kubelet/probes.ts';
import { probePlanOf } from '../../../../../harness/twin/controllers/kubelet/spec.ts';
import type { CheckResult } from '../../../../../harness/twin/controllers/kubelet/runtime.ts';
import { getPod, kubeletHarness, podObject } from './fakes.ts';

const stops: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (stops.length) await stops.pop()!();
});

const thresholds = { successThreshold: 2, failureThreshold: 3 };

function run(results: boolean[], start: ProbeCounters = { successes: 0, failures: 0, ready: false }) {
  const steps = [];
  let state: ProbeCounters = start;
  for (const ok of results) {
    const next = probeStep(state, ok, thresholds);
    steps.push(next);
    state = next;
  }
  return steps;
}

describe('probe step (pure)', () => {
  it('becomes ready after successThreshold successes in a row; a failure resets the streak', () => {
    expect(run([true, false, true, true]).map((s) => s.ready)).toEqual([false, false, false, true]);
  });

  it('becomes unready only after failureThreshold failures in a row, and flags the first failure of each streak', () => {
    const steps = run([false, false, true, false, false, false, false], { successes: 5, failures: 0, ready: true });
    expect(steps.map((s) => s.ready)).toEqual([true, true, true, true, true, false, false]);
    expect(steps.map((s) => s.firstFailure)).toEqual([true, false, false, true, false, false, false]);
    expect(steps.map((s) => s.failures)).toEqual([1, 2, 0, 1, 2, 3, 4]);
  });

  it('waits one period from the start of the last probe, at once when the probe took longer', () => {
    expect(nextProbeDelayMs({ periodMs: 10_000 }, 1_000, 1_300)).toBe(9_700);
    expect(nextProbeDelayMs({ periodMs: 10_000 }, 1_000, 12_000)).toBe(0);
  });

  it('keeps a probe timeout at least MIN_REAL_PROBE_TIMEOUT_MS of real time', () => {
    const plan = probePlanOf({ readinessProbe: { tcpSocket: { port: 80 } } })!;
    expect(effectiveProbeTimeoutMs(new ManualClock(), plan)).toBe(1_000);
    // At 0.01 real s per model s, the real-ms floor is 100× as many model ms.
    expect(effectiveProbeTimeoutMs(scaledClock(0.01), plan)).toBe(MIN_REAL_PROBE_TIMEOUT_MS / 0.01);
  });
});

describe('readiness loop on a manual clock', () => {
  /** A pod with a readiness probe whose results come from `answers` (then `fallback`); records when each probe ran. */
  async function probedPod(probe: Record<string, unknown>, answers: boolean[], fallback = true) {
    const at: number[] = [];
    const h = kubeletHarness({
      checks: {
        probe: async (): Promise<CheckResult> => {
          at.push(h.clock.now());
          const ok = answers.length ? answers.shift()! : fallback;
          return { ok, detail: ok ? 'ok' : 'HTTP probe failed with statuscode: 503' };
        },
      },
    });
    stops.push(() => h.kubelets.stop());
    h.store.create('pods', podObject('web', { readinessProbe: { httpGet: { path: '/readyz', port: 'http' }, ...probe } }));
    await h.clock.advance(0);
    const start = h.clock.now();
    const ready = () => getPod(h.store, 'web')?.status?.conditions?.find((c: { type: string }) => c.type === 'Ready')?.status;
    // Repeats of one event are one Event object with a count.
    const unhealthy = () => h.store.list('events').items.filter((e) => e.reason === 'Unhealthy').reduce((n, e) => n + Number(e.count ?? 1), 0);
    return { ...h, at, start, ready, unhealthy };
  }

  it('probes after initialDelaySeconds, then every periodSeconds, and is Ready after successThreshold passes', async () => {
    const { clock, at, start, ready } = await probedPod({ initialDelaySeconds: 5, periodSeconds: 2, successThreshold: 2 }, [true, true]);
    expect(ready()).toBe('False');
    await clock.advance(5_000);
    expect(at).toEqual([start + 5_000]);
    expect(ready()).toBe('False');
    await clock.advance(2_000);
    expect(at).toEqual([start + 5_000, start + 7_000]);
    expect(ready()).toBe('True');
    await clock.advance(4_000);
    expect(at.map((t) => t - start)).toEqual([5_000, 7_000, 9_000, 11_000]);
  });

  it('stays Ready through fewer than failureThreshold failures, turns unready at the threshold, and records one Unhealthy per streak', async () => {
    const { clock, ready, unhealthy } = await probedPod({ periodSeconds: 1, failureThreshold: 3 }, [true, false, false, true, false, false, false, true]);
    await clock.advance(0);
    expect(ready()).toBe('True');
    await clock.advance(2_000); // two failures
    expect(ready()).toBe('True');
    expect(unhealthy()).toBe(1);
    await clock.advance(1_000); // a pass resets the streak
    await clock.advance(2_000); // two failures again
    expect(ready()).toBe('True');
    await clock.advance(1_000); // the third in a row
    expect(ready()).toBe('False');
    expect(unhealthy()).toBe(2);
    await clock.advance(1_000); // one pass is enough again (successThreshold 1)
    expect(ready()).toBe('True');
  });

  it('stops probing when the process exits', async () => {
    const { clock, at, spawned } = await probedPod({ periodSeconds: 1 }, []);
    await clock.advance(3_000);
    const probes = at.length;
    spawned[0].exit(1);
    await clock.advance(5_000);
    expect(at.length).toBe(probes);
  });
});
