/**
 * Lanes and shards, pure: `run --shard I/N` runs part I of the spec's cells on lane I
 * (`target.lanes[I-1]`). The partition is a function of the spec alone, so N processes started
 * with the same spec agree on it without talking to each other, and `merge` can check it.
 */
import { ConfigError } from '../core/errors.ts';
import type { Cell } from './expand.ts';
import type { Spec } from './schema.ts';

/** One shard of a run: part `index` (1-based) of `count`. */
export interface Shard {
  index: number;
  count: number;
}

/** Most shards a run may have: one per lane, and `target.lanes` takes at most 64. */
export const MAX_SHARDS = 64;

/** Parses `I/N` (`--shard`): 1 ≤ I ≤ N ≤ 64. */
export function parseShard(text: string, flag = '--shard'): Shard {
  const m = /^(\d{1,3})\/(\d{1,3})$/.exec(text.trim());
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!(index >= 1 && count >= 1 && index <= count && count <= MAX_SHARDS)) {
    throw new ConfigError(`${flag}: expected I/N with 1 ≤ I ≤ N ≤ ${MAX_SHARDS} (e.g. 1/2), got "${text}"`);
  }
  return { index, count };
}

/**
 * What one cell is expected to cost, in model seconds: traffic before and after, plus the
 * durations the disruption waits through (preStop, then the grace period, the target draining for
 * the deregistration delay, and a spot notice). An estimate for balancing only: the real time
 * depends on the cluster.
 */
export function cellCost(cell: Cell, spec: Pick<Spec, 'traffic'>): number {
  const c = cell.config;
  const d = cell.disruption;
  const notice = d.kind === 'spot' ? (d.via === 'fis' ? (d.durationBeforeInterruption ?? 120) : d.noticeSeconds) : 0;
  return spec.traffic.warmupSeconds + spec.traffic.cooldownSeconds + c.preStopSeconds + c.terminationGracePeriodSeconds + c.deregistrationDelaySeconds + notice;
}

/**
 * The cells of each shard (index 0 = shard 1), each list in run order. Longest first onto the
 * shard with the least estimated time so far (then the fewest cells, then the lowest index): with
 * equal costs that is round robin, so the counts differ by at most one.
 */
export function partitionCells(cells: readonly Cell[], count: number, spec: Pick<Spec, 'traffic'>): Cell[][] {
  const parts: Cell[][] = Array.from({ length: count }, () => []);
  const load = new Array<number>(count).fill(0);
  const order = [...cells].sort((a, b) => cellCost(b, spec) - cellCost(a, spec) || a.index - b.index);
  for (const cell of order) {
    let best = 0;
    for (let i = 1; i < count; i++) {
      if (load[i] < load[best] || (load[i] === load[best] && parts[i].length < parts[best].length)) best = i;
    }
    parts[best].push(cell);
    load[best] += cellCost(cell, spec);
  }
  return parts.map((p) => p.sort((a, b) => a.index - b.index));
}

/** The cells shard `shard` runs, in run order. */
export function shardCells(cells: readonly Cell[], shard: Shard, spec: Pick<Spec, 'traffic'>): Cell[] {
  return partitionCells(cells, shard.count, spec)[shard.index - 1];
}

/**
 * The spec as shard `index` runs it: the target with lane `index`'s overrides (no lanes: the
 * target as it is, e.g. each shard's own embedded twin), and no lanes left in it.
 */
export function laneSpec(spec: Spec, index: number): Spec {
  const { lanes, ...target } = spec.target;
  if (!lanes) return spec;
  const lane = lanes[index - 1];
  if (!lane) throw new ConfigError(`--shard ${index}/…: expected a lane ${index} in target.lanes, got ${lanes.length} lane${lanes.length === 1 ? '' : 's'}`);
  return { ...spec, target: { ...target, ...lane } };
}

/** Checks a shard against the spec: lanes enough for N, and no N > 1 on one real stack (the shards would disrupt each other). */
export function checkShard(spec: Spec, shard: Shard): void {
  const lanes = spec.target.lanes;
  if (lanes && shard.count > lanes.length) {
    throw new ConfigError(`--shard ${shard.index}/${shard.count}: expected at most ${lanes.length} shards (one per lane in target.lanes), got ${shard.count}`);
  }
  if (!lanes && spec.target.context && shard.count > 1) {
    throw new ConfigError(`--shard ${shard.index}/${shard.count}: expected target.lanes (one stack per shard) with target.context, got none: ${shard.count} shards on one stack would disrupt each other's cells`);
  }
}

/** The spec's lane errors (cross-field rules): each lane's context allowed, a lane's context only on a cluster target, no two lanes the same stack of a cluster. */
export function laneErrors(spec: Spec): string[] {
  const t = spec.target;
  const errors: string[] = [];
  const seen = new Map<string, number>();
  (t.lanes ?? []).forEach((lane, i) => {
    if (lane.context && !t.context) errors.push(`target.lanes[${i}].context: expected only with target.context (lanes are identical stacks: all clusters, or all the embedded twin), got "${lane.context}"`);
    else if (lane.context && !t.allowedContexts?.includes(lane.context)) errors.push(`target.lanes[${i}].context: expected a context target.allowedContexts lists, got "${lane.context}"`);
    // On the embedded twin each shard starts its own twin: lanes alike there are still apart.
    if (!t.context) return;
    const stack = [lane.context ?? t.context, lane.namespace ?? t.namespace, lane.deployment ?? t.deployment].join('/');
    const first = seen.get(stack);
    if (first !== undefined) errors.push(`target.lanes[${i}]: expected a stack other than lane ${first + 1}'s (${stack}), got the same`);
    else seen.set(stack, i);
  });
  return errors;
}
