import { describe, expect, it } from 'vitest';
import { bucketMsFor, checkSchedule, latencyIn, percentile, rateBuckets, RequestTimings, scheduleOf } from '../../../harness/traffic/timing.ts';

const T0 = 1_800_000_000_000;

/** Send times of an open-model run at `rate` for `seconds`, each request sent `lateMs(n)` after it was due. */
function sends(rate: number, seconds: number, lateMs: (n: number, due: number) => number): number[] {
  const out: number[] = [];
  for (let n = 0; n < rate * seconds; n++) {
    const due = T0 + (n / rate) * 1000;
    out.push(due + lateMs(n, due));
  }
  return out;
}

describe('percentile', () => {
  it('is the exact nearest rank of the raw values, never an average', () => {
    const values = Float64Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(values, 50)).toBe(50);
    expect(percentile(values, 95)).toBe(95);
    expect(percentile(values, 99)).toBe(99);
    expect(percentile(values, 100)).toBe(100);
    // Two values: the median is the lower one, not their mean (1.5).
    expect(percentile(Float64Array.of(1, 2), 50)).toBe(1);
    expect(percentile(Float64Array.of(7), 99)).toBe(7);
    expect(percentile(new Float64Array(0), 50)).toBeNaN();
  });
});

describe('latencyIn', () => {
  it('takes the requests sent in the window, whatever order they finished in', () => {
    const timings = new RequestTimings();
    // 2 000 requests (grows past the first 1 024 slots): 20 ms each, except every 100th takes 8 s.
    for (let n = 1999; n >= 0; n--) timings.add(T0 + n * 10, n % 100 === 0 ? 8000 : 20, 200);
    expect(timings.count).toBe(2000);
    const all = latencyIn(timings, T0, T0 + 20_000)!;
    expect(all).toEqual({ count: 2000, p50: 20, p95: 20, p99: 20, max: 8000 });
    // The first 50 requests hold one slow one: p99 of 50 is the 50th value.
    expect(latencyIn(timings, T0, T0 + 500)).toEqual({ count: 50, p50: 20, p95: 20, p99: 8000, max: 8000 });
    expect(latencyIn(timings, T0 + 10, T0 + 1000)).toEqual({ count: 99, p50: 20, p95: 20, p99: 20, max: 20 });
    expect(latencyIn(timings, T0 - 1000, T0)).toBeUndefined();
  });
});

describe('checkSchedule', () => {
  it('finds no gap when every request is sent within a second of its due time', () => {
    const check = checkSchedule({ origin: T0, rate: 100, planned: 3000, sentAt: sends(100, 30, () => 1000) }, T0 + 5000, T0 + 25_000);
    expect(check).toEqual({ seconds: 20, behind: [], maxLateMs: 1000 });
  });

  it('counts a second with under 90 % of its due requests sent within 1 s as behind (boundary at 90 %)', () => {
    // Rate 20: a second has 20 due requests. The driver stalls at t = 5 s and sends its backlog in
    // one burst at `burst`; the requests due more than 1 s before the burst are late.
    const stalled = (burst: number) => sends(20, 10, (_, due) => (due >= T0 + 5000 && due < burst ? burst - due : 5));
    // Burst at 6.051 s: the ones due at 5.00 and 5.05 are late (2 of 20): 18 = 90 % on time.
    const at90 = checkSchedule({ origin: T0, rate: 20, planned: 200, sentAt: stalled(T0 + 6051) }, T0, T0 + 10_000);
    expect(at90.behind).toEqual([]);
    expect(at90.maxLateMs).toBe(1051);
    // Burst at 6.101 s: 5.00, 5.05 and 5.10 are late: 17 of 20.
    const below = checkSchedule({ origin: T0, rate: 20, planned: 200, sentAt: stalled(T0 + 6101) }, T0, T0 + 10_000);
    expect(below.behind).toEqual([{ second: 5, due: 20, onTime: 17 }]);
    // Exactly 1 s late is on time; the tolerance is not more than that.
    expect(checkSchedule({ origin: T0, rate: 20, planned: 200, sentAt: stalled(T0 + 6150) }, T0, T0 + 10_000).behind).toEqual([{ second: 5, due: 20, onTime: 17 }]);
    expect(checkSchedule({ origin: T0, rate: 20, planned: 200, sentAt: stalled(T0 + 6100) }, T0, T0 + 10_000).behind).toEqual([]);
  });

  it('finds the stall of a stopped driver that then sends its backlog in one burst', () => {
    // The issue's Ctrl-Z: nothing sent from t = 9 to t = 22, the backlog (and t = 23's own) at t = 23.
    const rate = 100;
    const sentAt = sends(rate, 40, (_, due) => (due >= T0 + 9000 && due < T0 + 23_000 ? T0 + 23_000 - due : 3));
    const check = checkSchedule({ origin: T0, rate, planned: rate * 40, sentAt }, T0 + 5000, T0 + 35_000);
    // Seconds 9 – 21 are sent over a second late; second 22 just within it (sent at 23.0 s).
    expect(check.behind.map((b) => b.second)).toEqual([9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21]);
    expect(check.behind.every((b) => b.onTime === 0 && b.due === rate)).toBe(true);
    expect(check.seconds).toBe(30);
    expect(check.maxLateMs).toBe(14_000);
  });

  it('pairs sends with due times by rank, so the order of the send times does not matter, and counts unsent ones as late', () => {
    // A stall from 3.0 s to 4.6 s: the ones due at 3.0 – 3.5 s go out over 1 s late.
    const sentAt = sends(10, 6, (_, due) => (due >= T0 + 3000 && due < T0 + 4600 ? T0 + 4600 - due : 0));
    const inOrder = checkSchedule({ origin: T0, rate: 10, planned: 60, sentAt }, T0, T0 + 6000);
    expect(inOrder.behind).toEqual([{ second: 3, due: 10, onTime: 4 }]);
    expect(checkSchedule({ origin: T0, rate: 10, planned: 60, sentAt: [...sentAt].reverse() }, T0, T0 + 6000)).toEqual(inOrder);
    // Nothing sent at all in the window: every second is behind.
    const none = checkSchedule({ origin: T0, rate: 10, planned: 60, sentAt: [] }, T0 + 1000, T0 + 3000);
    expect(none.behind).toEqual([{ second: 1, due: 10, onTime: 0 }, { second: 2, due: 10, onTime: 0 }]);
  });
});

describe('scheduleOf', () => {
  it('counts the requests cut at the stop as sent', () => {
    const timings = new RequestTimings();
    const sent = sends(10, 4, () => 0);
    for (const at of sent.slice(0, 30)) timings.add(at, 5, 200);
    const result = { timings, startedAt: T0, planned: 40, cutAtStop: { count: 10, sentAt: sent.slice(30) } };
    expect(scheduleOf(result, 10, T0, T0 + 4000)?.behind).toEqual([]);
    expect(scheduleOf({ ...result, cutAtStop: { count: 0, sentAt: [] } }, 10, T0, T0 + 4000)?.behind).toEqual([{ second: 3, due: 10, onTime: 0 }]);
    expect(scheduleOf({ ...result, timings: undefined }, 10, T0, T0 + 4000)).toBeUndefined();
  });
});

describe('rateBuckets and bucketMsFor', () => {
  it('sizes buckets to the run: about 10 requests or more each, at most 120', () => {
    expect(bucketMsFor(10_000, 100)).toBe(100);
    expect(bucketMsFor(10_000, 30)).toBe(500);
    expect(bucketMsFor(600_000, 100)).toBe(5000);
    expect(bucketMsFor(60_000, 1)).toBe(10_000);
  });

  it('counts requests by send time and outcome, with each bucket\'s own latency', () => {
    const timings = new RequestTimings();
    timings.add(T0 + 10, 5, 200);
    timings.add(T0 + 90, 7, 502);
    timings.add(T0 + 150, 30, 0);
    timings.add(T0 + 160, 10, 404);
    timings.add(T0 + 350, 1, 204);
    expect(rateBuckets(timings, T0, 100)).toEqual([
      { at: T0, ok: 1, fiveXX: 1, net: 0, other: 0, p50: 5, p99: 7, max: 7 },
      { at: T0 + 100, ok: 0, fiveXX: 0, net: 1, other: 1, p50: 10, p99: 30, max: 30 },
      { at: T0 + 200, ok: 0, fiveXX: 0, net: 0, other: 0 },
      { at: T0 + 300, ok: 1, fiveXX: 0, net: 0, other: 0, p50: 1, p99: 1, max: 1 },
    ]);
  });
});
