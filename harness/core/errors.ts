import type { z } from 'zod';

/**
 * The typed errors of rollout-harness and the one place that maps them to exit codes.
 * Expected outcomes (an invalid cell, a 429 from eviction) are values, not errors; these are for
 * bad input and broken environments.
 */

/** Exit codes, by cause. */
export const ExitCode = {
  ok: 0,
  /** An expectation in the spec failed (the run itself worked). */
  expectationFailed: 1,
  /** Bad input: spec, config, flags. */
  usage: 2,
  /** The environment is broken or unsafe: cluster unreachable, context not allowed, twin failed. */
  environment: 3,
  /** The run finished, but some cells are INVALID (and no expectation covered them). */
  invalidCells: 4,
  /** Interrupted by SIGINT/SIGTERM after restoring settings. */
  interrupted: 130,
  /** A bug. */
  internal: 70,
} as const;

/** Bad input; `issues` holds every problem found, each prefixed by its dot-path. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    message: string,
    readonly issues: readonly string[] = [],
    options?: ErrorOptions,
  ) {
    super(issues.length ? `${message}\n${issues.map((i) => `  - ${i}`).join('\n')}` : message, options);
  }
}

/** The environment is broken: a process did not start, a port is taken, an API answered wrongly. */
export class EnvironmentError extends Error {
  override readonly name = 'EnvironmentError';
}

/**
 * An API answered something other than what the harness needed (or did not answer): says what was
 * expected and what came, and keeps the status code and the cause.
 */
export class ApiError extends EnvironmentError {
  constructor(
    message: string,
    readonly status?: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** Refused for safety: the context or namespace has not opted in. */
export class SafetyError extends Error {
  override readonly name = 'SafetyError';
}

/** The run was interrupted by a signal. */
export class InterruptedError extends Error {
  override readonly name = 'InterruptedError';
  constructor(readonly signal: string) {
    super(`Interrupted by ${signal}`);
  }
}

/** The exit code for an error thrown out of a command. */
export function exitCodeFor(error: unknown): number {
  if (error instanceof ConfigError) return ExitCode.usage;
  if (error instanceof EnvironmentError || error instanceof SafetyError) return ExitCode.environment;
  if (error instanceof InterruptedError) return ExitCode.interrupted;
  return ExitCode.internal;
}

/** A comparison's counts, as `compare` (and `run`/`report --baseline`) judge them. */
export interface ComparisonCounts {
  regressions: number;
  /** Cells INVALID in either run (not judged). */
  invalid: number;
  /** Cells both runs have. */
  shared: number;
}

/** How a command ended, as plain facts: the one input of `exitCodeOf`. */
export type CommandOutcome =
  | { command: 'error'; error: unknown }
  | {
      command: 'run';
      /** What stopped the run, if anything did (an error out of a stage). */
      failure?: unknown;
      /** Settings restore could not verify back. */
      restoreDifferences: number;
      interrupted: boolean;
      failedExpectations: number;
      invalidCells: number;
    }
  | { command: 'report'; failedExpectations: number; comparison?: ComparisonCounts }
  | { command: 'compare'; comparison: ComparisonCounts }
  /** `plan`; `findings`: what `--server-dry-run` found (a refused or a stored write). */
  | { command: 'plan'; findings: number }
  | { command: 'restore'; differences: number }
  /** `preflight` (and `run` before it changes anything): `failed` checks of the checklist. */
  | { command: 'preflight'; failed: number };

/** Severity of each exit code, least first: the README's table, in the order `run` decides them. */
const SEVERITY: number[] = [ExitCode.ok, ExitCode.invalidCells, ExitCode.expectationFailed, ExitCode.interrupted, ExitCode.environment, ExitCode.usage, ExitCode.internal];

/** The worse of two exit codes (a code not in the table counts as the worst). */
export function worseExitCode(a: number, b: number): number {
  const rank = (c: number) => (SEVERITY.includes(c) ? SEVERITY.indexOf(c) : SEVERITY.length);
  return rank(b) > rank(a) ? b : a;
}

/** A comparison's code: 1 on a regression, 4 when a cell was not judged (INVALID) or nothing was shared, else 0. */
function comparisonCode(c: ComparisonCounts): number {
  if (c.regressions) return ExitCode.expectationFailed;
  if (c.invalid || c.shared === 0) return ExitCode.invalidCells;
  return ExitCode.ok;
}

/** The exit code of every command's outcome (the README's table); two outcomes of one command give the worse. */
export function exitCodeOf(outcome: CommandOutcome): number {
  switch (outcome.command) {
    case 'error':
      return exitCodeFor(outcome.error);
    case 'run':
      return outcome.failure !== undefined
        ? exitCodeFor(outcome.failure)
        : outcome.restoreDifferences
          ? ExitCode.environment
          : outcome.interrupted
            ? ExitCode.interrupted
            : outcome.failedExpectations
              ? ExitCode.expectationFailed
              : outcome.invalidCells
                ? ExitCode.invalidCells
                : ExitCode.ok;
    case 'report': {
      const own = outcome.failedExpectations ? ExitCode.expectationFailed : ExitCode.ok;
      return outcome.comparison ? worseExitCode(own, comparisonCode(outcome.comparison)) : own;
    }
    case 'compare':
      return comparisonCode(outcome.comparison);
    case 'plan':
      // The cluster refused a change: the spec is what must change.
      return outcome.findings ? ExitCode.usage : ExitCode.ok;
    case 'restore':
      return outcome.differences ? ExitCode.environment : ExitCode.ok;
    case 'preflight':
      // A missing permission or object is the environment's to fix, as a refused run is.
      return outcome.failed ? ExitCode.environment : ExitCode.ok;
  }
}

/** Formats zod issues as `dot.path: message`. */
export function formatIssues(error: z.ZodError): string[] {
  return error.issues.flatMap((issue) => formatIssue(issue, []));
}

function dotPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((acc, key) => (typeof key === 'number' ? `${acc}[${key}]` : acc ? `${acc}.${String(key)}` : String(key)), '') || '(root)';
}

/**
 * One issue as lines. A union whose input took one of its forms (e.g. `{ drain: { node: 5 } }`)
 * reports that form's own problems at their paths; otherwise the union's message, which lists the forms.
 */
function formatIssue(issue: z.core.$ZodIssue, prefix: readonly PropertyKey[]): string[] {
  const at = [...prefix, ...issue.path];
  if (issue.code === 'invalid_union' && 'errors' in issue && Array.isArray(issue.errors)) {
    const deep = issue.errors.filter((branch) => branch.some((i) => i.path.length >= 2) && !branch.some((i) => i.code === 'unrecognized_keys' && i.path.length === 0));
    if (deep.length === 1) return deep[0].flatMap((i) => formatIssue(i, at));
  }
  return [`${dotPath(at)}: ${issue.message}`];
}
