/**
 * The run directory's one owner: what a run writes reads back unchanged (spec and originals
 * validated, no casts), and a corrupt or wrong-shaped run.json is refused — on `--resume`, by
 * `restore` and by `report` — as bad input (exit 2) naming the file and the path of what is wrong.
 */
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, ExitCode, exitCodeOf } from '../../../harness/core/errors.ts';
import { parseSpec } from '../../../harness/matrix/load.ts';
import { readRun, readRunRecord, runFileOf, writeCell, writeRunRecord } from '../../../harness/orchestrator/run-dir.ts';
import { runMatrix } from '../../../harness/orchestrator/run.ts';
import { snapshotSettings } from '../../../harness/orchestrator/settings.ts';
import { restoreCommand } from '../../../harness/cli/restore.ts';
import { RESULTS_SCHEMA_VERSION, type RunRecord } from '../../../harness/report/types.ts';
import { cellResult } from '../../helpers/results.ts';
import { world } from '../../helpers/settings-world.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'rh-run-dir-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const { spec } = parseSpec({
  target: { context: 'staging', namespace: 'shop', deployment: 'web', ingress: 'web', allowedContexts: ['staging'] },
  matrix: { preStopSeconds: [5, 10], terminationGracePeriodSeconds: [30], readinessGate: [true], deregistrationDelaySeconds: [30], maxSurge: ['25%', 2] },
  axes: { budget: { object: 'pdb', values: { strict: { spec: { maxUnavailable: 0 } } } } },
  disruptions: ['rollout', 'drain', { spot: { noticeSeconds: 30 } }],
});

/** A record as a cluster run writes it, with the originals the stand-in cluster gives. */
async function record(): Promise<RunRecord> {
  const original = await snapshotSettings(world({ via: 'ingress', controller: true }).target, spec);
  return {
    schemaVersion: RESULTS_SCHEMA_VERSION,
    runId: 'r1',
    specFile: '/specs/night.yaml',
    spec,
    target: { kind: 'cluster', context: 'staging', namespace: 'shop', deployment: 'web', targetGroupArn: 'arn:tg' },
    driver: { name: 'builtin', reason: 'k6 not found' },
    versions: { rolloutHarness: '0.0.0', node: 'v20', platform: 'linux-x64' },
    startedAt: '2026-01-01T00:00:00Z',
    cells: [{ id: 'rollout.a', status: 'done' }],
    original,
  };
}

/** Writes `edit(record)` as the run directory's run.json (raw JSON: the edit may break its shape). */
async function writeRaw(edit: (r: Record<string, unknown>) => unknown): Promise<string> {
  const runDir = path.join(dir, 'r1');
  await mkdir(runDir, { recursive: true });
  await writeFile(runFileOf(runDir), JSON.stringify(edit(JSON.parse(JSON.stringify(await record())) as Record<string, unknown>)));
  return runDir;
}

/** The ConfigError `p` rejects with (fails the test when it resolves or rejects otherwise). */
async function configError(p: Promise<unknown>): Promise<ConfigError> {
  const error = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ConfigError);
  expect(exitCodeOf({ command: 'error', error })).toBe(ExitCode.usage);
  return error as ConfigError;
}

describe('the run directory', () => {
  it('reads back what it wrote: the spec (disruptions as recorded) and the originals, validated and unchanged', async () => {
    const r = await record();
    const runDir = path.join(dir, 'r1');
    await mkdir(path.join(runDir, 'cells'), { recursive: true });
    await writeRunRecord(runDir, r);
    await writeCell(runDir, cellResult({ gate: true, kind: 'rollout' }));
    const loaded = await readRun(runDir);
    expect(loaded.record).toEqual(r);
    expect(loaded.record.spec.disruptions).toEqual([{ kind: 'rollout' }, { kind: 'drain', node: 'most-pods' }, { kind: 'spot', handler: 'nth', node: 'spot', noticeSeconds: 30 }]);
    expect(loaded.cells.map((c) => c.id)).toEqual(['rollout.gate-on.prestop-0.grace-30.dereg-300.r1']);
  });

  it('refuses run.json that is not JSON, naming the file', async () => {
    const runDir = path.join(dir, 'r1');
    await mkdir(runDir);
    await writeFile(runFileOf(runDir), '{"schemaVersion": 1, "runId": "r1", "spe');
    const error = await configError(readRunRecord(runFileOf(runDir)));
    expect(error.message).toMatch(new RegExp(`^${runFileOf(runDir).replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: expected JSON, got `));
  });

  it('refuses a wrong-shaped record, spec or originals with the path of each problem', async () => {
    const runDir = await writeRaw((r) => {
      (r.cells as Array<{ status: string }>)[0].status = 'finished';
      return r;
    });
    expect((await configError(readRun(runDir))).issues).toEqual([expect.stringMatching(/^cells\[0\]\.status: /)]);
    await writeRaw((r) => ({ ...r, spec: { ...(r.spec as object), matrix: { ...(r.spec as { matrix: object }).matrix, preStopSeconds: ['ten'] } } }));
    const bad = await configError(readRun(runDir));
    expect(bad.message).toMatch(/run\.json: the recorded spec is not valid/);
    expect(bad.issues).toEqual([expect.stringMatching(/^spec\.matrix\.preStopSeconds\[0\]: /)]);
    await writeRaw((r) => ({ ...r, original: { ...(r.original as object), delayVia: 'carrier-pigeon' } }));
    expect((await configError(readRun(runDir))).issues).toEqual([expect.stringMatching(/^original\.delayVia: .*carrier-pigeon/)]);
  });

  it('`restore` refuses a wrong-shaped spec before connecting to anything', async () => {
    const runDir = await writeRaw((r) => ({ ...r, spec: { ...(r.spec as object), target: { namespace: 7 } } }));
    const error = await configError(restoreCommand(runDir, { resultsDir: dir }));
    expect(error.message).toContain(runFileOf(runDir));
    expect(error.issues).toEqual(expect.arrayContaining([expect.stringMatching(/^spec\.target\.namespace: /)]));
  });

  it('`run --resume` refuses a truncated run.json before connecting to anything', async () => {
    await mkdir(path.join(dir, 'r1'));
    await writeFile(runFileOf(path.join(dir, 'r1')), JSON.stringify(await record()).slice(0, 200));
    let connected = false;
    const error = await configError(
      runMatrix({
        loaded: { spec, warnings: [], source: '/specs/night.yaml' },
        resultsDir: dir,
        resume: 'r1',
        signal: new AbortController().signal,
        progress: { info: () => {}, cellStart: () => {}, stage: () => {}, traffic: () => {}, cellDone: () => {} },
        connect: async () => {
          connected = true;
          throw new Error('must not connect');
        },
      }),
    );
    expect(error.message).toMatch(/r1\/run\.json: expected JSON, got /);
    expect(connected).toBe(false);
  });

  it('refuses to resume a shard without its --shard, naming the command that continues it, before connecting', async () => {
    const runDir = path.join(dir, 'night.shard-2-of-2');
    await mkdir(runDir, { recursive: true });
    await writeRunRecord(runDir, { ...(await record()), runId: 'night.shard-2-of-2', shard: { runId: 'night', index: 2, count: 2 } });
    const error = await configError(
      runMatrix({
        loaded: { spec, warnings: [], source: '/specs/night.yaml' },
        resultsDir: dir,
        resume: 'night.shard-2-of-2',
        signal: new AbortController().signal,
        progress: { info: () => {}, cellStart: () => {}, stage: () => {}, traffic: () => {}, cellDone: () => {} },
        connect: async () => {
          throw new Error('must not connect');
        },
      }),
    );
    expect(error.message).toBe(`Cannot resume night.shard-2-of-2: it ran as shard 2/2, expected the same --shard now, got none; continue it with: rollout-harness run /specs/night.yaml --results-dir ${dir} --resume night --shard 2/2`);
  });
});
