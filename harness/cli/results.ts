/**
 * `rollout-harness report RUN_DIR` and `rollout-harness compare RUN_A RUN_B`, and what `run
 * --baseline/--summary-file` does after the run: read results, no cluster.
 */
import { appendFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError, exitCodeOf, worseExitCode, type ComparisonCounts } from '../core/errors.ts';
import { expandCells } from '../matrix/expand.ts';
import { shardCells } from '../matrix/shards.ts';
import { compareRuns, comparisonCounts, comparisonJson, renderComparison, type Comparison } from '../report/compare.ts';
import { checkExpectations, type UnmeasuredCell } from '../report/expect.ts';
import { REPORT_FORMATS } from '../report/formats.ts';
import { renderReviewMarkdown, type TableColumn } from '../report/markdown.ts';
import { reportMetaOf } from '../report/meta.ts';
import { recommend } from '../report/recommend.ts';
import { renderRecommendationMarkdown } from '../report/recommend-md.ts';
import { reportJsonCommand, shellQuote } from '../orchestrator/run-id.ts';
import { isS3Url } from '../orchestrator/results-s3.ts';
import type { RunRecord } from '../report/types.ts';
import { readRun, writeReportFile, type LoadedRun } from '../orchestrator/run-dir.ts';

export { readRun, type LoadedRun } from '../orchestrator/run-dir.ts';

/** A run given as a directory, an id under `resultsDir`, or `s3://bucket/prefix/RUN` / `…/latest` (run --results-s3). */
export async function readAnyRun(ref: string, resultsDir: string): Promise<LoadedRun> {
  return isS3Url(ref) ? (await import('./results-s3.ts')).readS3Run(ref) : readRun(ref, resultsDir);
}

/** Flags of `report`. */
export interface ReportFlags extends Omit<CompareFlags, 'format'> {
  format: 'md' | 'junit' | 'json' | 'html';
  /** Write the report to this file instead of stdout (any format). */
  output?: string;
  /** md: compare with this run too. */
  baseline?: string;
  /** md: link the HTML report here. */
  htmlUrl?: string;
  /** md: the table's columns per disruption. */
  columns?: TableColumn[];
}

/** Cells of the run's spec (a shard's: of its part) without a result. */
function unmeasuredOf(run: LoadedRun): UnmeasuredCell[] {
  const measured = new Set(run.cells.map((c) => c.id));
  const { spec, shard } = run.record;
  return (shard ? shardCells(expandCells(spec), shard, spec) : expandCells(spec))
    .filter((c) => !measured.has(c.id))
    .map((c) => ({ id: c.id, config: c.config, disruption: c.disruption }));
}

/**
 * The run as a review comment (table, recommended settings, comparison, details per cell), within
 * GitHub's comment limit. The recommendation is the run's own (run.json), or computed from its
 * cells for a run written before runs recorded one.
 */
export function reviewMarkdown(run: LoadedRun, opts: { comparison?: { baseline: string; markdown: string }; htmlUrl?: string; recommendation?: string; columns?: TableColumn[] }): string {
  const { record, cells } = run;
  const recommendation = opts.recommendation ?? renderRecommendationMarkdown(record.recommendation ?? recommend(cells), '').trim();
  return renderReviewMarkdown(
    cells,
    reportMetaOf(record, cells, unmeasuredOf(run), { ...(opts.columns ? { columns: opts.columns } : {}) }),
    // The run's own directory: a run outside ./results needs --results-dir to be found again.
    { ...opts, recommendation, everything: isS3Url(run.dir) ? ['rollout-harness', 'report', run.dir, '--format', 'json'].map(shellQuote).join(' ') : reportJsonCommand(record.runId, path.dirname(path.resolve(run.dir))) },
  );
}

/** Writes `text` to `output`, or to stdout without one; `line`: md and json end with a newline, as printed lines. */
async function emit(text: string, output: string | undefined, line: boolean): Promise<void> {
  if (!output) {
    if (line) console.log(text);
    else process.stdout.write(text);
    return;
  }
  await writeFile(output, line ? `${text}\n` : text).catch((error: NodeJS.ErrnoException) => {
    throw new ConfigError(`-o ${output}: expected a file that can be written, got ${error.code ?? error.message}`, [], { cause: error });
  });
}

/** Re-renders a run's report (markdown for a review comment, junit, json or html) to stdout, or to `output`. */
export async function reportCommand(run: string, opts: ReportFlags): Promise<number> {
  if (opts.format !== 'md' && (opts.baseline !== undefined || opts.htmlUrl !== undefined)) throw new ConfigError(`--baseline and --html-url: expected only with --format md, got --format ${opts.format}`);
  const baseline = opts.baseline !== undefined ? await readAnyRun(opts.baseline, opts.resultsDir) : undefined;
  const loaded = await readAnyRun(run, opts.resultsDir);
  const { record, cells } = loaded;
  const unmeasured = unmeasuredOf(loaded);
  const failed = checkExpectations(record.spec.expect ?? [], cells, unmeasured);
  let comparison: ComparisonCounts | undefined;
  let text: string;
  if (opts.format !== 'md') text = REPORT_FORMATS[opts.format].render({ record, cells, failedExpectations: failed, unmeasured });
  else {
    const compared = baseline ? compareLoaded(baseline, loaded, opts) : undefined;
    if (compared) comparison = comparisonCounts(compared.comparison);
    text = reviewMarkdown(loaded, { htmlUrl: opts.htmlUrl, columns: opts.columns, ...(compared ? { comparison: { baseline: baseline!.record.runId, markdown: compared.markdown } } : {}) });
  }
  await emit(text, opts.output, opts.format === 'md' || REPORT_FORMATS[opts.format].line);
  return exitCodeOf({ command: 'report', failedExpectations: failed.length, ...(comparison ? { comparison } : {}) });
}

export { worseExitCode } from '../core/errors.ts';

/** Checks up front that `--summary-file` can be appended to, so a run does not fail at its end for it. */
export async function checkSummaryFile(file: string): Promise<void> {
  try {
    await appendFile(file, '');
  } catch (error) {
    throw new ConfigError(`--summary-file: expected a file that can be appended to, got ${file} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`, [], { cause: error });
  }
}

/** Appends Markdown to `--summary-file` (e.g. $GITHUB_STEP_SUMMARY), separated from what is there. */
export async function appendSummary(file: string, markdown: string): Promise<void> {
  await appendFile(file, `${markdown.trimEnd()}\n\n`);
}

/**
 * After `run`: with a baseline, compares with it (printed, and written to the run's
 * `comparison.md`); with a summary file, appends the review Markdown. Returns the worse of the
 * run's exit code and the comparison's.
 */
export async function finishRun(runDir: string, runCode: number, opts: CompareFlags & { baseline?: LoadedRun; summaryFile?: string; htmlUrl?: string; columns?: TableColumn[] }): Promise<number> {
  if (!opts.baseline && !opts.summaryFile) return runCode;
  const run = await readRun(runDir);
  let code = runCode;
  let comparison: { baseline: string; markdown: string } | undefined;
  if (opts.baseline) {
    const compared = compareLoaded(opts.baseline, run, opts);
    comparison = { baseline: opts.baseline.record.runId, markdown: compared.markdown };
    console.log(`Compared with ${opts.baseline.record.runId}:\n\n${compared.markdown}`);
    await writeReportFile(run.dir, 'comparison.md', `# ${run.record.runId} compared with ${opts.baseline.record.runId}\n\n${compared.markdown}`);
    code = worseExitCode(code, exitCodeOf({ command: 'compare', comparison: comparisonCounts(compared.comparison) }));
  }
  if (opts.summaryFile) await appendSummary(opts.summaryFile, reviewMarkdown(run, { comparison, htmlUrl: opts.htmlUrl, columns: opts.columns }));
  return code;
}

/** Flags of `compare` (and of `run --baseline`). */
export interface CompareFlags {
  resultsDir: string;
  /** Append the Markdown to this file too (e.g. $GITHUB_STEP_SUMMARY). */
  summaryFile?: string;
  alpha?: number;
  minChange?: number;
  /** compare only: md (default) or json on stdout. */
  format?: 'md' | 'json';
}

/** Names for the two sides of a comparison: the run ids, or before/after when they are the same. */
function sideNames(before: RunRecord, after: RunRecord): [string, string] {
  return before.runId === after.runId ? [`${before.runId} (before)`, `${after.runId} (after)`] : [before.runId, after.runId];
}

/** Compares two read runs: the warning about unlike traffic on stderr, the comparison, its Markdown and its JSON. */
export function compareLoaded(a: LoadedRun, b: LoadedRun, opts: Omit<CompareFlags, 'resultsDir' | 'format'>): { comparison: Comparison; markdown: string; json: ReturnType<typeof comparisonJson> } {
  const ta = a.record.spec.traffic;
  const tb = b.record.spec.traffic;
  if (ta.rate !== tb.rate || JSON.stringify(ta.mix) !== JSON.stringify(tb.mix)) {
    console.error(`warning: the runs sent different traffic (${ta.rate} vs ${tb.rate} req/s, or another mix): the rates per request are compared, but the disruption may hit other requests`);
  }
  const comparison = compareRuns(a.cells, b.cells, { alpha: opts.alpha, minChange: opts.minChange });
  const [before, after] = sideNames(a.record, b.record);
  return { comparison, markdown: renderComparison(before, after, comparison), json: comparisonJson(before, after, comparison) };
}

/** Compares two runs; exit 1 when the second regressed beyond noise, 4 when a cell is INVALID in either or they share no cell. */
export async function compareCommand(before: string, after: string, opts: CompareFlags): Promise<number> {
  if (opts.summaryFile !== undefined) await checkSummaryFile(opts.summaryFile);
  const a = await readAnyRun(before, opts.resultsDir);
  const b = await readAnyRun(after, opts.resultsDir);
  const { comparison, markdown, json } = compareLoaded(a, b, opts);
  console.log(opts.format === 'json' ? JSON.stringify(json, null, 2) : markdown);
  if (comparison.shared === 0) console.error(`rollout-harness: ${a.record.runId} and ${b.record.runId} share no cell: nothing was compared (exit 4)`);
  if (opts.summaryFile) await appendSummary(opts.summaryFile, `## ${b.record.runId} compared with ${a.record.runId}\n\n${markdown}`);
  return exitCodeOf({ command: 'compare', comparison: comparisonCounts(comparison) });
}
