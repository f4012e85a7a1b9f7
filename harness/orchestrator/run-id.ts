/**
 * Run ids: how they are made and checked, and every follow-up command the CLI prints (restore,
 * resume), built here only, complete and runnable as printed (light: no clients loaded).
 */
import path from 'node:path';
import { ConfigError } from '../core/errors.ts';

/** What a run id may be: it names a directory under the results directory, and nothing outside it. */
const RUN_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Where runs go without `--results-dir` (relative to the working directory). */
export const DEFAULT_RESULTS_DIR = 'results';

/** A new run's id: a UTC timestamp and the spec's name. */
export function newRunId(name: string, now: Date): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `${stamp}-${name.replace(/[^\w.-]+/g, '-')}`;
}

/** Checks a run id given on the command line (`--run-id`, `--resume`, `restore`). */
export function checkRunId(id: string, flag: string): string {
  if (!RUN_ID.test(id) || id.includes('..')) {
    throw new ConfigError(`${flag}: expected a run id of letters, digits, ".", "_" and "-" (1–128, no "..", no "/"), got "${id}"`);
  }
  return id;
}

/** One argument as a POSIX shell reads it back unchanged: bare when that is safe, else in single quotes. */
export function shellQuote(arg: string): string {
  return /^[\w./:=@%+,-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/**
 * `--results-dir DIR`, absolute, unless DIR is the default of the working directory: a command
 * printed without it would look for the run in `./results`, where it is not.
 */
function resultsDirArgs(resultsDir: string): string[] {
  const dir = path.resolve(resultsDir);
  return dir === path.resolve(DEFAULT_RESULTS_DIR) ? [] : ['--results-dir', dir];
}

function command(args: string[]): string {
  return ['rollout-harness', ...args].map(shellQuote).join(' ');
}

/** The command that prints a run's whole report again, as JSON. */
export function reportJsonCommand(runId: string, resultsDir: string): string {
  return command(['report', runId, ...resultsDirArgs(resultsDir), '--format', 'json']);
}

/** The command that restores a run's leftovers. */
export function restoreCommand(runId: string, resultsDir: string): string {
  return command(['restore', runId, ...resultsDirArgs(resultsDir)]);
}

/** The command that continues a stopped run: the spec by its absolute path, the results directory, the run id (a shard's: the shared id and `--shard`). */
export function resumeCommand(specFile: string, runId: string, resultsDir: string, shard?: { index: number; count: number }): string {
  return command(['run', path.resolve(specFile), ...resultsDirArgs(resultsDir), '--resume', runId, ...(shard ? ['--shard', `${shard.index}/${shard.count}`] : [])]);
}

/** The directory (and record) id of one shard of run `runId`: `<run-id>.shard-<I>-of-<N>`, beside the other shards'. */
export function shardRunId(runId: string, shard: { index: number; count: number }): string {
  return checkRunId(`${runId}.shard-${shard.index}-of-${shard.count}`, '--run-id');
}
