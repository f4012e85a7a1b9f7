/**
 * `merge`: the shards of one run become the run an unsharded run writes (every cell, in run order,
 * one record, the report files), and directories that are not the shards of one run are refused,
 * each way named.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ConfigError } from '../../../harness/core/errors.ts';
import { mergeCommand, mergeShards } from '../../../harness/cli/merge.ts';
import { readRun } from '../../../harness/cli/results.ts';
import { expandCells } from '../../../harness/matrix/expand.ts';
import { parseSpec } from '../../../harness/matrix/load.ts';
import { shardCells } from '../../../harness/matrix/shards.ts';
import { writeCell, writeRunRecord, type LoadedRun } from '../../../harness/orchestrator/run-dir.ts';
import { shardRunId } from '../../../harness/orchestrator/run-id.ts';
import { RESULTS_SCHEMA_VERSION, type RunRecord } from '../../../harness/report/types.ts';
import { cellResult } from '../../helpers/results.ts';

const { spec } = parseSpec({ name: 'lanes', matrix: { preStopSeconds: [0], terminationGracePeriodSeconds: [30], readinessGate: [false, true], deregistrationDelaySeconds: [300] }, disruptions: ['rollout', 'drain'] });
const all = expandCells(spec);

/** Shard `index`/`count` of run `runId` as `run --shard` writes it: its part's cells measured, ended. */
function shard(index: number, count: number, over: { runId?: string; spec?: typeof spec; endedAt?: string | null; fiveXX?: number } = {}): LoadedRun {
  const runId = over.runId ?? 'night';
  const mine = shardCells(all, { index, count }, spec);
  const record: RunRecord = {
    schemaVersion: RESULTS_SCHEMA_VERSION,
    runId: shardRunId(runId, { index, count }),
    specFile: '/specs/lanes.yaml',
    spec: over.spec ?? spec,
    shard: { runId, index, count },
    target: { kind: 'twin', namespace: 'shop', deployment: 'web', targetGroupArn: 'arn:tg', timeScale: 0.05, seed: index },
    driver: { name: 'builtin', reason: 'traffic.driver: builtin' },
    versions: { rolloutHarness: '0.0.0', node: 'v20', platform: 'linux-x64' },
    startedAt: `2026-01-01T00:0${index}:00Z`,
    ...(over.endedAt === null ? {} : { endedAt: over.endedAt ?? `2026-01-01T01:0${index}:00Z` }),
    cells: mine.map((c) => ({ id: c.id, status: 'done' as const })),
    restored: [`restored lane ${index}`],
  };
  const cells = mine.map((c) => ({ ...cellResult({ gate: c.config.readinessGate, kind: c.disruption.kind as 'rollout' | 'drain', fiveXX: over.fiveXX ?? 0 }), id: c.id, index: c.index, config: c.config }));
  return { dir: `/results/${record.runId}`, record, cells };
}

/** The ConfigError `fn` throws, its message. */
function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigError, got none');
}

describe('mergeShards', () => {
  it('gives every cell of the spec once, in run order, under the shared run id, whatever order the shards come in', () => {
    const merged = mergeShards([shard(2, 2), shard(1, 2)]);
    expect(merged.cells.map((c) => c.id)).toEqual(all.map((c) => c.id));
    expect(merged.unmeasured).toEqual([]);
    expect(merged.record.runId).toBe('night');
    expect(merged.record.shard).toBeUndefined();
    expect(merged.record.cells).toEqual(all.map((c) => ({ id: c.id, status: 'done' })));
    expect(merged.record.startedAt).toBe('2026-01-01T00:01:00Z');
    expect(merged.record.endedAt).toBe('2026-01-01T01:02:00Z');
    expect(merged.record.restored).toEqual(['shard 1/2: restored lane 1', 'shard 2/2: restored lane 2']);
    expect(merged.record.recommendation).toBeDefined();
  });

  it('refuses a missing shard, a shard twice, another run id, another spec, a whole run and a shard still running', () => {
    expect(refusal(() => mergeShards([shard(1, 2)]))).toContain('expected all 2 shards of night, got none for 2/2');
    expect(refusal(() => mergeShards([shard(1, 2), shard(1, 2), shard(2, 2)]))).toContain('expected each shard once, got shard 1/2 again');
    expect(refusal(() => mergeShards([shard(1, 2), shard(2, 2, { runId: 'other' })]))).toContain('expected shard of night in 2 shards (as /results/night.shard-1-of-2), got of other in 2');
    expect(refusal(() => mergeShards([shard(1, 2), shard(2, 3)]))).toContain('got of night in 3');
    const other = parseSpec({ ...spec, traffic: { ...spec.traffic, rate: 7 }, disruptions: ['rollout', 'drain'] }).spec;
    expect(refusal(() => mergeShards([shard(1, 2), shard(2, 2, { spec: other })]))).toContain('/results/night.shard-2-of-2: expected the spec of /results/night.shard-1-of-2');
    const whole = shard(1, 1);
    delete whole.record.shard;
    expect(refusal(() => mergeShards([whole]))).toContain('expected a shard (run --shard I/N), got a whole run');
    expect(refusal(() => mergeShards([shard(1, 2), shard(2, 2, { endedAt: null })]))).toContain('expected a shard that ended');
  });

  it('refuses a shard holding another shard\'s cell (directories mixed up)', () => {
    const two = shard(2, 2);
    const one = shard(1, 2);
    two.cells.push(one.cells[0]);
    expect(refusal(() => mergeShards([one, two]))).toContain(`expected only shard 2/2's cells, got ${one.cells[0].id}`);
  });
});

describe('mergeCommand', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'rh-merge-'));
    vi.spyOn(console, 'log').mockImplementation(() => {});
    vi.spyOn(console, 'error').mockImplementation(() => {});
  });
  afterEach(async () => {
    vi.restoreAllMocks();
    await rm(dir, { recursive: true, force: true });
  });

  /** Writes a shard as `run --shard` leaves it in `dir`. */
  async function write(s: LoadedRun): Promise<void> {
    const runDir = path.join(dir, s.record.runId);
    for (const c of s.cells) await writeCell(runDir, c);
    await writeRunRecord(runDir, s.record);
  }

  it('writes the merged run beside the shards, readable as one run, and refuses to merge over it', async () => {
    await write(shard(1, 2));
    await write(shard(2, 2, { fiveXX: 3 }));
    expect(await mergeCommand(['night.shard-1-of-2', 'night.shard-2-of-2'], { resultsDir: dir })).toBe(0);
    const run = await readRun('night', dir);
    expect(run.cells.map((c) => c.id)).toEqual(all.map((c) => c.id));
    expect(run.record.shard).toBeUndefined();
    expect((await readdir(run.dir)).sort()).toEqual(['cells', 'junit.xml', 'report.html', 'report.md', 'run.json']);
    const table = vi.mocked(console.log).mock.calls.map((c) => String(c[0])).join('\n');
    for (const c of all) expect(table).toContain(c.config.readinessGate ? 'on' : 'off');
    await expect(mergeCommand(['night.shard-1-of-2', 'night.shard-2-of-2'], { resultsDir: dir })).rejects.toThrow(/expected no run night yet in .*, got .*night\/run\.json; remove it to merge again/);
  });
});
