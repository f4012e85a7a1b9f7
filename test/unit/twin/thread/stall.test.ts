import { describe, expect, it } from 'vitest';
import { scaledClock } from '../../../../harness/core/clock.ts';
import { STALL_REPORT_MODEL_MS, stallsWithin, watchStalls, type Stall } from '../../../../harness/twin/thread/stall.ts';

/** Keeps this thread busy for `ms` real ms, as a starved or paused twin thread is. */
function block(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // Busy: no timer can run.
  }
}

describe('watchStalls', () => {
  it('reports a blocked event loop in model time, when it happened', async () => {
    // 20× faster: a tick every 25 real ms; 300 real ms blocked is 6 model s.
    const clock = scaledClock(0.05);
    const stalls: Stall[] = [];
    const watch = watchStalls(clock, (s) => stalls.push(s));
    try {
      await clock.sleep(2000);
      const before = clock.now();
      block(300);
      const after = clock.now();
      await clock.sleep(2000);
      const found = stallsWithin(stalls, before, clock.now());
      const longest = Math.max(0, ...found.map((s) => s.modelMs));
      expect(longest, JSON.stringify(stalls)).toBeGreaterThanOrEqual(5000);
      const stall = found.find((s) => s.modelMs === longest)!;
      // Noticed on waking, and it began no later than the block did (plus one tick).
      expect(stall.at).toBeGreaterThanOrEqual(after);
      expect(stall.at - stall.modelMs).toBeLessThanOrEqual(before + 500);
    } finally {
      watch.cancel();
    }
  });

  it('picks the stalls that overlap a window', () => {
    const stalls: Stall[] = [
      { at: 10_000, modelMs: 2000 },
      { at: 20_000, modelMs: STALL_REPORT_MODEL_MS },
      { at: 30_000, modelMs: 5000 },
    ];
    expect(stallsWithin(stalls, 9_000, 18_500)).toEqual([stalls[0]]);
    expect(stallsWithin(stalls, 9_000, 19_000)).toEqual([stalls[0], stalls[1]]);
    // Began before the window, ended in it.
    expect(stallsWithin(stalls, 26_000, 40_000)).toEqual([stalls[2]]);
    expect(stallsWithin(stalls, 11_000, 18_000)).toEqual([]);
  });
});
