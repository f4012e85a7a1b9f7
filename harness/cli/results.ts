/** `rollout-harness report RUN_DIR` and `rollout-harness compare RUN_A RUN_B`: read results, no cluster. */
import { existsSync } from 'node:fs';
import { readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError, ExitCode } from '../core/errors.ts';
import { readJson } from '../core/files.ts';
import { compareRuns, renderComparison } from '../report/compare.ts';
import { checkExpectations } from '../report/expect.ts';
import { metaOfRun, renderHtml } from '../report/html/render.ts';
import { renderJunit } from '../report/junit.ts';
import { renderMarkdown } from '../report/markdown.ts';
import { cellResultSchema, runRecordSchema, type CellResult, type RunRecord } from '../report/types.ts';
import { formatIssues } from '../core/errors.ts';

/** Reads a run directory (or `results/<id>`): its record and its finished cells, validated. */
export async function readRun(dirOrId: string, resultsDir = 'results'): Promise<{ dir: string; record: RunRecord; cells: CellResult[] }> {
  const dir = existsSync(path.join(dirOrId, 'run.json')) ? dirOrId : path.join(resultsDir, dirOrId);
  if (!existsSync(path.join(dir, 'run.json'))) throw new ConfigError(`Expected a run directory with run.json, got ${dirOrId}`);
  const parsed = runRecordSchema.safeParse(await readJson(path.join(dir, 'run.json')));
  if (!parsed.success) throw new ConfigError(`Invalid ${path.join(dir, 'run.json')}`, formatIssues(parsed.error));
  const cells: CellResult[] = [];
  const cellsDir = path.join(dir, 'cells');
  const files = existsSync(cellsDir) ? (await readdir(cellsDir)).filter((f) => f.endsWith('.json') && !f.endsWith('.interrupted.json')) : [];
  for (const f of files.sort()) {
    const cell = cellResultSchema.safeParse(await readJson(path.join(cellsDir, f)));
    if (!cell.success) throw new ConfigError(`Invalid ${path.join(cellsDir, f)}`, formatIssues(cell.error));
    cells.push(cell.data);
  }
  cells.sort((a, b) => a.index - b.index);
  return { dir, record: parsed.data as RunRecord, cells };
}

/** Re-renders a run's report (markdown, junit, json or html) to stdout, or the html to `output`. */
export async function reportCommand(run: string, opts: { format: 'md' | 'junit' | 'json' | 'html'; resultsDir: string; output?: string }): Promise<number> {
  const { record, cells } = await readRun(run, opts.resultsDir);
  const failed = checkExpectations(record.spec.expect ?? [], cells);
  if (opts.format === 'html') {
    const page = renderHtml(cells, metaOfRun(record, failed));
    if (opts.output) {
      await writeFile(opts.output, page).catch((error: NodeJS.ErrnoException) => {
        throw new ConfigError(`-o ${opts.output}: expected a file that can be written, got ${error.code ?? error.message}`, [], { cause: error });
      });
    } else process.stdout.write(page);
    return failed.length ? ExitCode.expectationFailed : ExitCode.ok;
  }
  if (opts.format === 'json') console.log(JSON.stringify({ runId: record.runId, cells, failedExpectations: failed }, null, 2));
  else if (opts.format === 'junit') process.stdout.write(renderJunit(record.spec.name, cells, failed));
  else {
    const target = record.target.kind === 'twin' ? `the local twin (time scale ${record.target.timeScale}, seed ${record.target.seed}; model seconds)` : `context ${record.target.context}`;
    console.log(renderMarkdown(cells, { title: `rollout-harness: ${record.spec.name}`, runId: record.runId, target, driver: record.driver.name, rate: record.spec.traffic.rate, failedExpectations: failed }));
  }
  return failed.length ? ExitCode.expectationFailed : ExitCode.ok;
}

/** Compares two runs; exit 1 when the second regressed. */
export async function compareCommand(before: string, after: string, opts: { resultsDir: string }): Promise<number> {
  const a = await readRun(before, opts.resultsDir);
  const b = await readRun(after, opts.resultsDir);
  const ta = a.record.spec.traffic;
  const tb = b.record.spec.traffic;
  if (ta.rate !== tb.rate || JSON.stringify(ta.mix) !== JSON.stringify(tb.mix)) {
    console.error(`warning: the runs sent different traffic (${ta.rate} vs ${tb.rate} req/s, or another mix): 5xx counts are not comparable one to one`);
  }
  const compared = compareRuns(a.cells, b.cells);
  console.log(renderComparison(a.record.runId, b.record.runId, compared));
  return compared.regressions.length ? ExitCode.expectationFailed : ExitCode.ok;
}
