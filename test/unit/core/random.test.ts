import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../../harness/core/random.ts';

describe('seededRandom', () => {
  it('repeats the same sequence for the same seed and differs for another', () => {
    const a = seededRandom(42);
    const b = seededRandom(42);
    const c = seededRandom(43);
    const seqA = Array.from({ length: 5 }, () => a.next());
    expect(Array.from({ length: 5 }, () => b.next())).toEqual(seqA);
    expect(Array.from({ length: 5 }, () => c.next())).not.toEqual(seqA);
  });

  it('keeps values in range and roughly uniform', () => {
    const r = seededRandom(7);
    const buckets = [0, 0, 0, 0];
    for (let i = 0; i < 4000; i++) {
      const v = r.int(0, 3);
      expect(v).toBeGreaterThanOrEqual(0);
      expect(v).toBeLessThanOrEqual(3);
      buckets[v]++;
    }
    for (const count of buckets) expect(count).toBeGreaterThan(850);
    const x = r.between(2, 15);
    expect(x).toBeGreaterThanOrEqual(2);
    expect(x).toBeLessThan(15);
  });

  it('forks independent streams by label', () => {
    const r = seededRandom(1);
    expect(r.fork('lag').next()).toBe(seededRandom(1).fork('lag').next());
    expect(r.fork('lag').next()).not.toBe(r.fork('other').next());
  });
});
