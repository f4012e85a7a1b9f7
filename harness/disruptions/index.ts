/** Disruptions by kind: a registry, so adding one is adding an entry. */
import type { Disruption } from '../matrix/schema.ts';
import { drain } from './drain.ts';
import { fisSpot } from './fis.ts';
import { nodeReplace } from './node-replace.ts';
import { rebalance } from './rebalance.ts';
import { rollout } from './rollout.ts';
import { spot } from './spot.ts';
import type { DisruptionContext, DisruptionOutcome, DisruptionRunner } from './types.ts';

type SpotDisruption = Extract<Disruption, { kind: 'spot' }>;

/** `spot` played by the harness (spot.ts), or sent by AWS FIS (fis.ts) with `via: fis`. */
const spotByVia: DisruptionRunner<SpotDisruption> = {
  kind: 'spot',
  describe: (d, ctx) => (d.via === 'fis' ? fisSpot.describe(d, ctx) : spot.describe(d, ctx)),
  run: (d, ctx) => (d.via === 'fis' ? fisSpot.run(d, ctx) : spot.run(d, ctx)),
};

/** Every disruption runner, by kind. */
export const disruptions: { [K in Disruption['kind']]: DisruptionRunner<Extract<Disruption, { kind: K }>> } = { rollout, drain, spot: spotByVia, rebalance, 'node-replace': nodeReplace };

/** The runner of a disruption's kind. */
function runnerOf(d: Disruption): DisruptionRunner {
  // The registry's type ties each kind to its runner; TypeScript cannot follow that through an index.
  return disruptions[d.kind] as DisruptionRunner;
}

/** Runs a disruption through its runner. */
export function runDisruption(d: Disruption, ctx: DisruptionContext): Promise<DisruptionOutcome> {
  return runnerOf(d).run(d, ctx);
}

/** One sentence on what a disruption changes (for `plan`). */
export function describeDisruption(d: Disruption, ctx: { namespace: string; deployment: string }): string {
  return runnerOf(d).describe(d, ctx);
}
