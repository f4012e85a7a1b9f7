/**
 * `rollout-harness merge RUN…`: the shards of one sharded run (`run --shard I/N --run-id ID`) made
 * into the run an unsharded run would have written — `<results-dir>/<ID>/` with run.json, every
 * cell, the report files and the recommendation — after checking that they are one run: the same
 * spec, the same run id and count, every shard once, each shard's cells its own part.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, exitCodeOf } from '../core/errors.ts';
import { ensureWritableDir } from '../core/files.ts';
import { expandCells } from '../matrix/expand.ts';
import { shardCells } from '../matrix/shards.ts';
import type { UnmeasuredCell } from '../report/expect.ts';
import { REPORT_FORMATS, type ReportFormat } from '../report/formats.ts';
import { renderMarkdown, type TableColumn } from '../report/markdown.ts';
import { reportMetaOf, targetText } from '../report/meta.ts';
import { recommend } from '../report/recommend.ts';
import { renderRecommendationMarkdown } from '../report/recommend-md.ts';
import type { CellResult, RunRecord } from '../report/types.ts';
import { parseS3Url, resultsUploader } from '../orchestrator/results-s3.ts';
import { runDirOf, runFileOf, writeCell, writeReportFile, writeRunRecord, type LoadedRun } from '../orchestrator/run-dir.ts';
import { checkRunId, shardRunId } from '../orchestrator/run-id.ts';

/** Flags of `merge`. */
export interface MergeFlags {
  /** Where the shards are (ids) and where the merged run is written. */
  resultsDir: string;
  /** Then compare with this run. */
  baseline?: string;
  /** Also upload the merged run here and mark it latest. */
  resultsS3?: string;
  alpha?: number;
  minChange?: number;
  /** The table's columns per disruption. */
  columns?: TableColumn[];
}

/** The merged run: its record and cells (in run order), and the spec's cells no shard measured. */
export interface MergedRun {
  record: RunRecord;
  cells: CellResult[];
  unmeasured: UnmeasuredCell[];
}

/**
 * Merges read shards into one run, or throws a ConfigError listing every way they are not the
 * shards of one run. Pure: no files.
 */
export function mergeShards(shards: readonly LoadedRun[]): MergedRun {
  if (!shards.length) throw new ConfigError('merge: expected the run directories of a sharded run\'s shards, got none');
  const problems: string[] = [];
  const first = shards[0].record;
  for (const { dir, record } of shards) {
    if (!record.shard) problems.push(`${dir}: expected a shard (run --shard I/N), got a whole run (${record.runId})`);
    else if (first.shard && (record.shard.runId !== first.shard.runId || record.shard.count !== first.shard.count)) {
      problems.push(`${dir}: expected shard of ${first.shard.runId} in ${first.shard.count} shards (as ${shards[0].dir}), got of ${record.shard.runId} in ${record.shard.count}`);
    }
    if (JSON.stringify(record.spec) !== JSON.stringify(first.spec)) problems.push(`${dir}: expected the spec of ${shards[0].dir} (${first.specFile}), got another (${record.specFile})`);
    if (!record.endedAt) problems.push(`${dir}: expected a shard that ended (run.json endedAt), got one still running or killed; resume or restore it first`);
  }
  if (problems.length || !first.shard) throw new ConfigError('merge: expected the shards of one run', problems);
  const { runId, count } = first.shard;
  const byIndex = new Map<number, LoadedRun>();
  for (const s of shards) {
    const i = s.record.shard!.index;
    if (byIndex.has(i)) problems.push(`${s.dir}: expected each shard once, got shard ${i}/${count} again (also ${byIndex.get(i)!.dir})`);
    else byIndex.set(i, s);
  }
  const missing = Array.from({ length: count }, (_, i) => i + 1).filter((i) => !byIndex.has(i));
  if (missing.length) problems.push(`expected all ${count} shards of ${runId}, got none for ${missing.map((i) => `${i}/${count}`).join(', ')}`);
  const spec = first.spec;
  const all = expandCells(spec);
  for (const [index, s] of byIndex) {
    // The partition is the spec's: a cell outside its shard's part means the directories were mixed up.
    const own = new Set(shardCells(all, { index, count }, spec).map((c) => c.id));
    const strays = s.cells.filter((c) => !own.has(c.id)).map((c) => c.id);
    if (strays.length) problems.push(`${s.dir}: expected only shard ${index}/${count}'s cells, got ${strays.join(', ')}`);
  }
  if (problems.length) throw new ConfigError(`merge: expected the shards of one run (${runId})`, problems);
  const ordered = [...byIndex.entries()].sort(([a], [b]) => a - b).map(([, s]) => s);
  const cells = ordered.flatMap((s) => s.cells).sort((a, b) => a.index - b.index);
  const measured = new Set(cells.map((c) => c.id));
  const status = new Map(ordered.flatMap((s) => s.record.cells.map((c) => [c.id, c.status] as const)));
  const of = (s: LoadedRun, text: string) => `shard ${s.record.shard!.index}/${count}: ${text}`;
  const list = (pick: (r: RunRecord) => string[] | undefined) => ordered.flatMap((s) => (pick(s.record) ?? []).map((line) => of(s, line)));
  const stopped = ordered.filter((s) => s.record.stoppedBy).map((s) => of(s, s.record.stoppedBy!));
  const restoreDifferences = list((r) => r.restoreDifferences);
  const restoreKept = list((r) => r.restoreKept);
  // The merged run changed nothing itself: each shard's originals stay in its own directory (restore works there).
  const record: RunRecord = {
    schemaVersion: first.schemaVersion,
    runId,
    specFile: first.specFile,
    spec,
    // Shard 1's lane; the other lanes are in their shards' records.
    target: first.target,
    driver: first.driver,
    versions: first.versions,
    startedAt: ordered.map((s) => s.record.startedAt).sort()[0],
    endedAt: ordered.map((s) => s.record.endedAt!).sort().at(-1),
    cells: all.map((c) => ({ id: c.id, status: status.get(c.id) ?? 'pending' })),
    restored: list((r) => r.restored),
    ...(restoreDifferences.length ? { restoreDifferences } : {}),
    ...(restoreKept.length ? { restoreKept } : {}),
    ...(stopped.length ? { stoppedBy: stopped.join('; ') } : {}),
    recommendation: recommend(cells),
  };
  const unmeasured = all.filter((c) => !measured.has(c.id)).map((c) => ({ id: c.id, config: c.config, disruption: c.disruption }));
  return { record, cells, unmeasured };
}

/** Merges the shards, writes the run to `<results-dir>/<run-id>/`, prints its table; the exit code an unsharded run with these cells would have (then, with --baseline, the worse of that and compare's). */
export async function mergeCommand(runs: string[], opts: MergeFlags): Promise<number> {
  const results = await import('./results.ts');
  const shards: LoadedRun[] = [];
  for (const run of runs) shards.push(await results.readAnyRun(run, opts.resultsDir));
  return mergeLoaded(shards, opts);
}

/** `merge` of shards already read. */
async function mergeLoaded(shards: LoadedRun[], opts: MergeFlags): Promise<number> {
  const results = await import('./results.ts');
  const s3 = opts.resultsS3 !== undefined ? parseS3Url(opts.resultsS3, '--results-s3') : undefined;
  const baseline = opts.baseline !== undefined ? await results.readAnyRun(opts.baseline, opts.resultsDir) : undefined;
  const { record, cells, unmeasured } = mergeShards(shards);
  const dir = runDirOf(opts.resultsDir, checkRunId(record.runId, 'the shards\' run id'));
  if (existsSync(runFileOf(dir))) throw new ConfigError(`merge: expected no run ${record.runId} yet in ${path.resolve(opts.resultsDir)}, got ${runFileOf(dir)}; remove it to merge again`);
  await ensureWritableDir(dir, '--results-dir');
  const shardsText = record.target.kind === 'twin' ? `${targetText(record)}, one per shard, ${shards.length} shards` : `context ${record.spec.target.context}, ${shards.length} lanes`;
  const meta = reportMetaOf(record, cells, unmeasured, { target: shardsText, ...(opts.columns ? { columns: opts.columns } : {}) });
  const { failedExpectations } = meta;
  const report = renderMarkdown(cells, { ...meta, recommendation: renderRecommendationMarkdown(record.recommendation!) });
  for (const cell of cells) await writeCell(dir, cell);
  await writeReportFile(dir, 'report.md', report);
  for (const format of Object.values(REPORT_FORMATS) as ReportFormat[]) {
    if (format.file) await writeReportFile(dir, format.file, format.render({ record, cells, failedExpectations, unmeasured }));
  }
  // Last: a merge stopped half-way leaves no run.json, so it can simply be merged again.
  await writeRunRecord(dir, record);
  console.log(report);
  console.error(`Merged ${shards.length} shards: ${path.resolve(dir)}`);
  const code = exitCodeOf({ command: 'run', restoreDifferences: record.restoreDifferences?.length ?? 0, interrupted: false, failedExpectations: failedExpectations.length, invalidCells: cells.filter((c) => !c.valid).length });
  const final = baseline ? await results.finishRun(dir, code, { ...opts, baseline }) : code;
  if (s3) {
    const uploader = resultsUploader(await (await import('./results-s3.ts')).resultsStore(), s3, record.runId);
    await uploader.sync(dir);
    await uploader.markLatest();
    console.error(`Uploaded: ${uploader.url} (and latest)`);
  }
  return final;
}

/**
 * `run --shard I/N --then-merge`: merges the run once every shard of it has ended — the shard that
 * ends last does it (two that end together both write the same run). Reads the shards from
 * `--results-s3` when given (the shards of an Indexed Job run in pods of their own), else from
 * `--results-dir`. Returns 0 and merges nothing while a shard has not ended.
 */
export async function mergeWhenComplete(runId: string, count: number, opts: MergeFlags): Promise<number> {
  const results = await import('./results.ts');
  const sources = Array.from({ length: count }, (_, i) => {
    const id = shardRunId(runId, { index: i + 1, count });
    return opts.resultsS3 !== undefined ? `${opts.resultsS3.replace(/\/+$/, '')}/${id}` : id;
  });
  const shards: LoadedRun[] = [];
  for (const [i, source] of sources.entries()) {
    let shard: LoadedRun | undefined;
    let why = 'it has not ended (run.json endedAt)';
    try {
      shard = await results.readAnyRun(source, opts.resultsDir);
    } catch (error) {
      why = `it cannot be read yet: ${(error as Error).message.split('\n')[0]}`;
    }
    if (!shard?.record.endedAt) {
      console.error(`--then-merge: shard ${i + 1} of ${count} (${source}) is not there to merge: ${why}; the last shard to end merges the run`);
      return 0;
    }
    shards.push(shard);
  }
  console.error(`--then-merge: all ${count} shards of ${runId} have ended; merging them`);
  return mergeLoaded(shards, opts);
}
