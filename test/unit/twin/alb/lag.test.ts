import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../../../harness/core/random.ts';
import { sampleLagMs } from '../../../../harness/twin/alb/lag.ts';

describe('sampleLagMs', () => {
  it('stays in [min, max] without a tail and in [max, tailMax] with a certain tail', () => {
    const random = seededRandom(3);
    for (let i = 0; i < 500; i++) {
      const body = sampleLagMs(random, { min: 2, max: 15, tailProbability: 0, tailMax: 60 });
      expect(body).toBeGreaterThanOrEqual(2000);
      expect(body).toBeLessThanOrEqual(15000);
      const tail = sampleLagMs(random, { min: 2, max: 15, tailProbability: 1, tailMax: 60 });
      expect(tail).toBeGreaterThanOrEqual(15000);
      expect(tail).toBeLessThanOrEqual(60000);
    }
  });

  it('draws the tail at about its probability and repeats from the seed', () => {
    const lag = { min: 2, max: 15, tailProbability: 0.1, tailMax: 60 };
    const draw = (seed: number) => Array.from({ length: 4000 }, (_, i) => sampleLagMs(seededRandom(seed).fork(String(i)), lag));
    const a = draw(11);
    expect(draw(11)).toEqual(a);
    const tails = a.filter((ms) => ms > 15000).length / a.length;
    expect(tails).toBeGreaterThan(0.07);
    expect(tails).toBeLessThan(0.13);
  });
});
