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
