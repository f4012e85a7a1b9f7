/**
 * The run directory, its one owner: the layout (`run.json`, `cells/<id>.json`, a stopped cell's
 * `cells/<id>.interrupted.json`, the report files, `comparison.md`), every write atomic (temp file +
 * rename), and every read validated — run.json by its schema, its spec by the spec schema and its
 * originals by theirs (harness/settings/original.ts), each cell file by the cell schema. A
 * hand-edited or truncated file is refused with its path and the path of what is wrong in it
 * (a ConfigError: exit 2), never taken on trust.
 */
import { existsSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError, formatIssues } from '../core/errors.ts';
import { nodeFs, writeFileAtomic, writeJsonAtomic, type WriteFs } from '../core/files.ts';
import { parseRecordedSpec } from '../matrix/load.ts';
import { recommendationSchema } from '../report/recommend.ts';
import { cellResultSchema, runRecordSchema, type CellResult, type RunRecord } from '../report/types.ts';
import { parseOriginal } from '../settings/original.ts';

/** The record's file name in a run directory. */
export const RUN_FILE = 'run.json';

/** A run's directory under the results directory. */
export function runDirOf(resultsDir: string, runId: string): string {
  return path.resolve(resultsDir, runId);
}

/** The run's record. */
export function runFileOf(dir: string): string {
  return path.join(dir, RUN_FILE);
}

/** A measured cell's file. */
export function cellFileOf(dir: string, cellId: string): string {
  return path.join(dir, 'cells', `${cellId}.json`);
}

/** What an interrupted cell measured (kept, not read back: the cell runs again on resume). */
export function interruptedCellFileOf(dir: string, cellId: string): string {
  return path.join(dir, 'cells', `${cellId}.interrupted.json`);
}

/** Parses a file's JSON; a file that is not JSON is bad input, named with its path. */
async function readJsonFile(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new ConfigError(`${file}: expected a readable file, got ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, [], { cause: error });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new ConfigError(`${file}: expected JSON, got ${text.trim() ? (error as Error).message : 'an empty file'}`, [], { cause: error });
  }
}

/** Reads run.json, validated: the record's shape, its spec and its originals (each error with its path in the file). */
export async function readRunRecord(file: string): Promise<RunRecord> {
  const raw = await readJsonFile(file);
  // The recommendation is derived from the cells: one written by an older release (before each
  // setting had its state) is left out and computed again from the cells where it is shown.
  if (raw && typeof raw === 'object' && 'recommendation' in raw && !recommendationSchema.safeParse(raw.recommendation).success) delete raw.recommendation;
  const parsed = runRecordSchema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(`Invalid ${file}`, formatIssues(parsed.error));
  const { spec, original, ...rest } = parsed.data;
  return { ...rest, spec: parseRecordedSpec(spec, file), ...(original === undefined ? {} : { original: parseOriginal(original, file) }) };
}

/** Reads one cell's file, validated. */
export async function readCell(file: string): Promise<CellResult> {
  const cell = cellResultSchema.safeParse(await readJsonFile(file));
  if (!cell.success) throw new ConfigError(`Invalid ${file}`, formatIssues(cell.error));
  return cell.data;
}

/** Writes run.json atomically. */
export function writeRunRecord(dir: string, record: RunRecord, fs: WriteFs = nodeFs): Promise<void> {
  return writeJsonAtomic(runFileOf(dir), record, fs);
}

/** Writes a measured cell's file atomically. */
export function writeCell(dir: string, result: CellResult, fs: WriteFs = nodeFs): Promise<void> {
  return writeJsonAtomic(cellFileOf(dir, result.id), result, fs);
}

/** Writes what an interrupted cell measured, atomically. */
export function writeInterruptedCell(dir: string, result: CellResult, fs: WriteFs = nodeFs): Promise<void> {
  return writeJsonAtomic(interruptedCellFileOf(dir, result.id), result, fs);
}

/** Writes a report file (`report.md`, a format's file, `comparison.md`) into the run directory, atomically. */
export function writeReportFile(dir: string, name: string, text: string, fs: WriteFs = nodeFs): Promise<void> {
  if (name !== path.basename(name)) throw new Error(`expected a file name in the run directory, got ${name}`);
  return writeFileAtomic(path.join(dir, name), text, fs);
}

/** A run read back from its directory. */
export interface LoadedRun {
  dir: string;
  record: RunRecord;
  cells: CellResult[];
}

/** The directory of a run given as a directory or as an id under `resultsDir`. */
export function findRunDir(dirOrId: string, resultsDir = 'results'): string {
  const dir = existsSync(runFileOf(dirOrId)) ? dirOrId : path.join(resultsDir, dirOrId);
  if (!existsSync(runFileOf(dir))) throw new ConfigError(`Expected a run directory with ${RUN_FILE}, got ${dirOrId}`);
  return dir;
}

/** Reads a run directory (or `results/<id>`): its record and its finished cells, validated, in cell order. */
export async function readRun(dirOrId: string, resultsDir = 'results'): Promise<LoadedRun> {
  const dir = findRunDir(dirOrId, resultsDir);
  const record = await readRunRecord(runFileOf(dir));
  const cellsDir = path.join(dir, 'cells');
  const files = existsSync(cellsDir) ? (await readdir(cellsDir)).filter((f) => f.endsWith('.json') && !f.endsWith('.interrupted.json')) : [];
  const cells: CellResult[] = [];
  for (const f of files.sort()) cells.push(await readCell(path.join(cellsDir, f)));
  cells.sort((a, b) => a.index - b.index);
  return { dir, record, cells };
}
