/** Disruptions by kind. */
import type { Disruption } from '../spec/schema.ts';
import { drain } from './drain.ts';
import { rollout } from './rollout.ts';
import { spot } from './spot.ts';
import type { DisruptionContext, DisruptionOutcome } from './types.ts';

/** Every disruption runner, by kind. */
export const disruptions = { rollout, drain, spot } as const;

/** Runs a disruption through its runner. */
export function runDisruption(d: Disruption, ctx: DisruptionContext): Promise<DisruptionOutcome> {
  switch (d.kind) {
    case 'rollout':
      return disruptions.rollout.run(d, ctx);
    case 'drain':
      return disruptions.drain.run(d, ctx);
    case 'spot':
      return disruptions.spot.run(d, ctx);
  }
}

/** One sentence on what a disruption changes (for `plan`). */
export function describeDisruption(d: Disruption, ctx: { namespace: string; deployment: string }): string {
  switch (d.kind) {
    case 'rollout':
      return disruptions.rollout.describe(d, ctx);
    case 'drain':
      return disruptions.drain.describe(d, ctx);
    case 'spot':
      return disruptions.spot.describe(d, ctx);
  }
}
