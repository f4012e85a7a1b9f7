/** Propagation lags of the LB nodes' views, sampled from the seeded random. */
import type { Random } from '../../core/random.ts';
import type { LagDistribution } from '../config.ts';

/** One lag in model milliseconds: uniform in [min, max], or with probability `tailProbability` uniform in [max, tailMax]. */
export function sampleLagMs(random: Random, lag: LagDistribution): number {
  const tail = lag.tailProbability > 0 && random.next() < lag.tailProbability;
  const seconds = tail ? random.between(lag.max, Math.max(lag.max, lag.tailMax)) : random.between(lag.min, lag.max);
  return seconds * 1000;
}
