/** Lanes and shards: the partition is deterministic, balanced and complete; a lane overrides the target. */
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../harness/core/errors.ts';
import { expandCells } from '../../../harness/matrix/expand.ts';
import { parseSpec } from '../../../harness/matrix/load.ts';
import { cellCost, checkShard, laneSpec, parseShard, partitionCells, shardCells } from '../../../harness/matrix/shards.ts';

const matrix = { preStopSeconds: [0, 15], terminationGracePeriodSeconds: [30], readinessGate: [false, true], deregistrationDelaySeconds: [30] };
const cluster = { context: 'staging', allowedContexts: ['staging', 'staging-b'], ingress: 'web' };

describe('parseShard', () => {
  it('reads I/N and refuses what is not 1 ≤ I ≤ N ≤ 64, naming the flag and the value', () => {
    expect(parseShard('2/3')).toEqual({ index: 2, count: 3 });
    for (const bad of ['0/2', '3/2', '1/0', '1/65', '1', 'a/b', '1/2/3', '-1/2']) {
      expect(() => parseShard(bad)).toThrow(new ConfigError(`--shard: expected I/N with 1 ≤ I ≤ N ≤ 64 (e.g. 1/2), got "${bad}"`));
    }
  });
});

describe('partitionCells', () => {
  it('puts every cell in exactly one shard, each in run order, the same on every call', () => {
    const { spec } = parseSpec({ matrix, disruptions: ['rollout', 'drain', { spot: { noticeSeconds: 60 } }], repeat: 2 });
    const cells = expandCells(spec);
    for (const n of [1, 2, 3, 5, cells.length + 2]) {
      const parts = partitionCells(cells, n, spec);
      expect(parts).toHaveLength(n);
      expect(parts.flat().map((c) => c.id).sort()).toEqual(cells.map((c) => c.id).sort());
      for (const p of parts) expect(p.map((c) => c.index)).toEqual([...p.map((c) => c.index)].sort((a, b) => a - b));
      // A pure function of the spec: another expansion of the same spec gives the same shards.
      expect(partitionCells(expandCells(spec), n, spec).map((p) => p.map((c) => c.id))).toEqual(parts.map((p) => p.map((c) => c.id)));
    }
  });

  it('balances equal cells by count (differing by at most one) and unequal ones by estimated time', () => {
    const { spec } = parseSpec({ matrix, disruptions: ['rollout'], traffic: { warmupSeconds: 10, cooldownSeconds: 10 } });
    // Six cells of one cost (two configs alike but for the gate, three repeats) over four shards: round robin.
    const equal = expandCells(parseSpec({ matrix: { ...matrix, preStopSeconds: [5] }, disruptions: ['rollout'], repeat: 3 }).spec);
    expect(partitionCells(equal, 4, spec).map((p) => p.map((c) => c.index))).toEqual([[0, 4], [1, 5], [2], [3]]);
    // Two long spot cells (notice 900 s) and four short ones over 3 shards: each long one has a shard to itself, the short ones share the third.
    const mixed = parseSpec({ matrix: { ...matrix, preStopSeconds: [0], readinessGate: [false] }, disruptions: ['rollout', { spot: { noticeSeconds: 900 } }, 'drain'], repeat: 2 }).spec;
    const parts = partitionCells(expandCells(mixed), 3, mixed);
    expect(parts.map((p) => p.map((c) => c.disruption.kind))).toEqual([['spot'], ['spot'], ['rollout', 'rollout', 'drain', 'drain']]);
    expect(parts.map((p) => p.reduce((sum, c) => sum + cellCost(c, mixed), 0))).toEqual([980, 980, 320]);
  });

  it('gives a 4-cell spec two cells per shard of 2', () => {
    const { spec } = parseSpec({ matrix, disruptions: ['rollout'] });
    const cells = expandCells(spec);
    expect(cells).toHaveLength(4);
    const one = shardCells(cells, { index: 1, count: 2 }, spec);
    const two = shardCells(cells, { index: 2, count: 2 }, spec);
    expect(one).toHaveLength(2);
    expect(two).toHaveLength(2);
    expect(new Set([...one, ...two].map((c) => c.id)).size).toBe(4);
  });
});

describe('lanes', () => {
  it('runs shard I on lane I: its overrides over the target, no lanes left', () => {
    const { spec } = parseSpec({ target: { ...cluster, lanes: [{ namespace: 'shop-a' }, { namespace: 'shop-b', context: 'staging-b', ingress: 'web-b' }] }, matrix, disruptions: ['rollout'] });
    const two = laneSpec(spec, 2);
    expect(two.target).toMatchObject({ context: 'staging-b', namespace: 'shop-b', deployment: 'web', ingress: 'web-b' });
    expect(two.target.lanes).toBeUndefined();
    expect(laneSpec(spec, 1).target).toMatchObject({ context: 'staging', namespace: 'shop-a', ingress: 'web' });
    expect(() => laneSpec(spec, 3)).toThrow('expected a lane 3 in target.lanes, got 2 lanes');
    expect(() => checkShard(spec, { index: 1, count: 3 })).toThrow('expected at most 2 shards (one per lane in target.lanes), got 3');
    expect(() => checkShard(spec, { index: 2, count: 2 })).not.toThrow();
  });

  it('refuses several shards on one cluster stack, and leaves a spec without lanes as it is', () => {
    const { spec } = parseSpec({ target: cluster, matrix, disruptions: ['rollout'] });
    expect(() => checkShard(spec, { index: 1, count: 2 })).toThrow("expected target.lanes (one stack per shard) with target.context, got none: 2 shards on one stack would disrupt each other's cells");
    expect(() => checkShard(spec, { index: 1, count: 1 })).not.toThrow();
    // The embedded twin: each shard starts its own, so no lanes are needed.
    const twin = parseSpec({ matrix, disruptions: ['rollout'] }).spec;
    expect(() => checkShard(twin, { index: 2, count: 2 })).not.toThrow();
    expect(laneSpec(twin, 2)).toBe(twin);
  });

  it('refuses lanes that are the same stack, a lane context not allowed, and a lane context on the twin, each with its path', () => {
    expect(() => parseSpec({ target: { ...cluster, lanes: [{ namespace: 'a' }, { context: 'other' }, { namespace: 'a' }] }, matrix, disruptions: ['rollout'] })).toThrow(
      new ConfigError('Invalid spec', ['target.lanes[1].context: expected a context target.allowedContexts lists, got "other"', "target.lanes[2]: expected a stack other than lane 1's (staging/a/web), got the same"]),
    );
    expect(() => parseSpec({ target: { lanes: [{ context: 'staging' }] }, matrix, disruptions: ['rollout'] })).toThrow('target.lanes[0].context: expected only with target.context');
  });
});
