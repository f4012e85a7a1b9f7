/**
 * A matrix run: connect, record the original settings, run every cell (checkpointing the run after
 * each stage change and each cell), and — on success, error or interruption — restore the original
 * settings, persist what was measured, and render the report. `resume` continues a run from its
 * checkpoint: cells already done are kept, the interrupted one runs again.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { scaledClock } from '../core/clock.ts';
import { ConfigError, EnvironmentError } from '../core/errors.ts';
import { readJson, writeFileAtomic, writeJsonAtomic } from '../core/files.ts';
import { checkExpectations } from '../report/expect.ts';
import { renderJunit } from '../report/junit.ts';
import { renderMarkdown } from '../report/markdown.ts';
import { RESULTS_SCHEMA_VERSION, type CellResult, type RunRecord } from '../report/types.ts';
import { expandCells } from '../spec/expand.ts';
import type { LoadedSpec } from '../spec/load.ts';
import { describeDriver, selectDriver } from '../traffic/index.ts';
import type { TrafficProgress } from '../traffic/types.ts';
import { packageVersion } from '../core/paths.ts';
import { runCell, type Stage } from './cell.ts';
import { restoreSettings, snapshotSettings, undoClusterChanges, type OriginalSettings } from './settings.ts';
import { connectTarget, type Target } from './target.ts';

/** Progress callbacks (the CLI renders them). */
export interface RunProgress {
  info(line: string): void;
  cellStart(index: number, total: number, id: string): void;
  stage(stage: Stage): void;
  traffic(progress: TrafficProgress): void;
  cellDone(result: CellResult): void;
}

/** How to run. */
export interface RunOptions {
  loaded: LoadedSpec;
  resultsDir: string;
  /** Continue this run from its checkpoint. */
  resume?: string;
  runId?: string;
  signal: AbortSignal;
  progress: RunProgress;
  env?: Record<string, string | undefined>;
}

/** What a run produced. */
export interface RunOutcome {
  runId: string;
  runDir: string;
  results: CellResult[];
  failedExpectations: string[];
  interrupted: boolean;
  report: string;
}

function newRunId(name: string): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `${stamp}-${name.replace(/[^\w.-]+/g, '-')}`;
}

/** Runs (or resumes) a matrix. */
export async function runMatrix(opts: RunOptions): Promise<RunOutcome> {
  const { loaded, progress, signal } = opts;
  const spec = loaded.spec;
  const cells = expandCells(spec);
  const runId = opts.resume ?? opts.runId ?? newRunId(spec.name);
  const runDir = path.resolve(opts.resultsDir, runId);
  const runFile = path.join(runDir, 'run.json');
  let record: RunRecord | undefined;
  if (opts.resume) {
    if (!existsSync(runFile)) throw new ConfigError(`Cannot resume ${runId}: ${runFile} does not exist`);
    record = await readJson<RunRecord>(runFile);
    if (JSON.stringify(record.spec) !== JSON.stringify(spec)) {
      throw new ConfigError(`Cannot resume ${runId}: the spec differs from the one the run started with (${record.specFile})`);
    }
  } else if (existsSync(runFile)) {
    throw new ConfigError(`The run ${runId} already exists in ${runDir}; use --resume ${runId} to continue it`);
  }

  const log = (line: string) => progress.info(line);
  // Checkpoint writes go one after another, so an older snapshot never lands after a newer one.
  let saving: Promise<void> = Promise.resolve();
  const save = (): Promise<void> => {
    const text = `${JSON.stringify(record, null, 2)}\n`;
    saving = saving.catch(() => {}).then(() => writeFileAtomic(runFile, text));
    return saving;
  };
  // Before anything starts: a k6 that is missing or too old fails the run here.
  const driver = await describeDriver(selectDriver(spec.traffic.driver, opts.env ?? process.env), opts.env ?? process.env, scaledClock(1));
  const target: Target = await connectTarget(spec, { resultsDir: runDir, log: () => {} });
  progress.info(driver.version ? `${driver.reason} (k6 ${driver.version})` : driver.reason);
  const results: CellResult[] = [];
  let original: OriginalSettings;
  let interrupted = false;
  try {
    if (record?.original) {
      original = record.original as OriginalSettings;
    } else {
      original = await snapshotSettings(target);
    }
    record = {
      schemaVersion: RESULTS_SCHEMA_VERSION,
      runId,
      specFile: loaded.source,
      spec,
      target: {
        kind: target.kind,
        ...(spec.target.context ? { context: spec.target.context } : {}),
        namespace: target.namespace,
        deployment: target.deployment,
        targetGroupArn: target.targetGroupArn,
        ...(target.twin ? { timeScale: target.twin.config.timeScale, seed: target.twin.config.seed } : {}),
      },
      driver,
      versions: { rolloutHarness: packageVersion, node: process.version, platform: `${process.platform}-${process.arch}` },
      startedAt: record?.startedAt ?? new Date().toISOString(),
      cells: cells.map((c) => ({ id: c.id, status: record?.cells.find((x) => x.id === c.id)?.status === 'done' ? 'done' : 'pending' })),
      original,
    };
    // The original settings are on disk before anything changes.
    await save();

    for (const cell of cells) {
      const entry = record.cells[cell.index];
      const cellFile = path.join(runDir, 'cells', `${cell.id}.json`);
      if (entry.status === 'done' && existsSync(cellFile)) {
        results.push(await readJson<CellResult>(cellFile));
        continue;
      }
      if (signal.aborted) break;
      progress.cellStart(cell.index, cells.length, cell.id);
      entry.status = 'running';
      const result = await runCell(cell, {
        target,
        spec,
        driver: driver.name,
        signal,
        env: opts.env,
        log,
        onStage: (stage) => {
          entry.stage = stage;
          progress.stage(stage);
          void save().catch(() => {});
        },
        onTraffic: (p) => progress.traffic(p),
        onChange: (change) => {
          original.changes.push(change);
          void save().catch(() => {});
        },
        undoChanges: async () => {
          for (const line of await undoClusterChanges(target, original.changes)) log(line);
          await save();
        },
      });
      if (signal.aborted) {
        // Keep what was measured, but the cell runs again on resume.
        await writeJsonAtomic(path.join(runDir, 'cells', `${cell.id}.interrupted.json`), result);
        entry.status = 'pending';
        break;
      }
      await writeJsonAtomic(cellFile, result);
      entry.status = 'done';
      delete entry.stage;
      results.push(result);
      progress.cellDone(result);
      await save();
    }
    interrupted = signal.aborted;
  } finally {
    if (record) {
      try {
        progress.info('Restoring the original settings …');
        record.restored = await restoreSettings(target, spec, record.original as OriginalSettings, log);
      } catch (error) {
        record.restored = [`FAILED: ${(error as Error).message}`];
        progress.info(`Restoring failed: ${(error as Error).message}; the original settings are in ${runFile}`);
      }
      record.endedAt = new Date().toISOString();
      if (signal.aborted) record.stoppedBy = String(signal.reason ?? 'interrupted');
      await save();
    }
    await target.close();
  }
  if (!record) throw new EnvironmentError('The run did not start');
  const failedExpectations = checkExpectations(spec.expect, results);
  const targetText = target.kind === 'twin' ? `the local twin (time scale ${record.target.timeScale}, seed ${record.target.seed}; model seconds)` : `context ${spec.target.context}`;
  const report = renderMarkdown(results, { title: `rollout-harness: ${spec.name}`, runId, target: targetText, driver: driver.name, rate: spec.traffic.rate, failedExpectations });
  await writeFileAtomic(path.join(runDir, 'report.md'), report);
  await writeFileAtomic(path.join(runDir, 'junit.xml'), renderJunit(spec.name, results, failedExpectations));
  return { runId, runDir, results, failedExpectations, interrupted, report };
}
