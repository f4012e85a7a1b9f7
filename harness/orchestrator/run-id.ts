/** Run ids: how they are made and checked, and the command that restores a run (light: no clients loaded). */
import path from 'node:path';
import { ConfigError } from '../core/errors.ts';

/** What a run id may be: it names a directory under the results directory, and nothing outside it. */
const RUN_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

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

/** The command that restores a run's leftovers. */
export function restoreCommand(runId: string, resultsDir: string): string {
  return `rollout-harness restore ${runId}${path.resolve(resultsDir) === path.resolve('results') ? '' : ` --results-dir ${resultsDir}`}`;
}
