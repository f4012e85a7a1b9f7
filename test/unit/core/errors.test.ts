/** The one mapping from a command's outcome to its exit code (the README's table), row by row. */
import { describe, expect, it } from 'vitest';
import { ApiError, ConfigError, EnvironmentError, ExitCode, InterruptedError, SafetyError, exitCodeOf, worseExitCode, type CommandOutcome } from '../../../harness/core/errors.ts';
import { WriteFailedError } from '../../../harness/core/files.ts';

const run = (o: Partial<Extract<CommandOutcome, { command: 'run' }>>): CommandOutcome => ({ command: 'run', restoreDifferences: 0, interrupted: false, failedExpectations: 0, invalidCells: 0, ...o });
const counts = (regressions: number, invalid: number, shared: number) => ({ regressions, invalid, shared });

const TABLE: Array<[string, CommandOutcome, number]> = [
  ['a thrown ConfigError', { command: 'error', error: new ConfigError('bad spec') }, ExitCode.usage],
  ['a thrown EnvironmentError', { command: 'error', error: new EnvironmentError('unreachable') }, ExitCode.environment],
  ['a thrown ApiError', { command: 'error', error: new ApiError('500', 500) }, ExitCode.environment],
  ['a thrown SafetyError', { command: 'error', error: new SafetyError('context not allowed') }, ExitCode.environment],
  ['a thrown InterruptedError', { command: 'error', error: new InterruptedError('SIGINT') }, ExitCode.interrupted],
  ['a bug', { command: 'error', error: new TypeError('x is undefined') }, ExitCode.internal],
  ['run: every cell valid, every expectation held', run({}), ExitCode.ok],
  ['run: cells INVALID', run({ invalidCells: 2 }), ExitCode.invalidCells],
  ['run: an expectation failed (over INVALID cells)', run({ failedExpectations: 1, invalidCells: 2 }), ExitCode.expectationFailed],
  ['run: interrupted (over a failed expectation)', run({ interrupted: true, failedExpectations: 1 }), ExitCode.interrupted],
  ['run: restore could not verify (over an interrupt)', run({ restoreDifferences: 1, interrupted: true }), ExitCode.environment],
  ['run: stopped by a bad spec found at connect (over restore)', run({ failure: new ConfigError('axes.budget: expected one PodDisruptionBudget'), restoreDifferences: 1 }), ExitCode.usage],
  ['run: a results file could not be written', run({ failure: new WriteFailedError('/r/run.json', Object.assign(new Error('no space'), { code: 'ENOSPC' })) }), ExitCode.environment],
  ['run: stopped by a bug', run({ failure: new Error('boom') }), ExitCode.internal],
  ['report: expectations held', { command: 'report', failedExpectations: 0 }, ExitCode.ok],
  ['report: an expectation failed', { command: 'report', failedExpectations: 1 }, ExitCode.expectationFailed],
  ['report --baseline: a cell not judged', { command: 'report', failedExpectations: 0, comparison: counts(0, 1, 4) }, ExitCode.invalidCells],
  ['report --baseline: a regression and a failed expectation', { command: 'report', failedExpectations: 1, comparison: counts(1, 0, 4) }, ExitCode.expectationFailed],
  ['compare: no regression', { command: 'compare', comparison: counts(0, 0, 4) }, ExitCode.ok],
  ['compare: a regression (over an INVALID cell)', { command: 'compare', comparison: counts(1, 1, 4) }, ExitCode.expectationFailed],
  ['compare: a cell INVALID in either run', { command: 'compare', comparison: counts(0, 1, 4) }, ExitCode.invalidCells],
  ['compare: no shared cell', { command: 'compare', comparison: counts(0, 0, 0) }, ExitCode.invalidCells],
  ['plan: nothing refused', { command: 'plan', findings: 0 }, ExitCode.ok],
  ['plan --server-dry-run: a change refused', { command: 'plan', findings: 1 }, ExitCode.usage],
  ['restore: verified', { command: 'restore', differences: 0 }, ExitCode.ok],
  ['restore: a setting still differs', { command: 'restore', differences: 1 }, ExitCode.environment],
];

describe('exitCodeOf', () => {
  it.each(TABLE)('%s', (_what, outcome, code) => {
    expect(exitCodeOf(outcome)).toBe(code);
  });

  it('gives the README\'s numbers', () => {
    expect(ExitCode).toEqual({ ok: 0, expectationFailed: 1, usage: 2, environment: 3, invalidCells: 4, interrupted: 130, internal: 70 });
  });
});

describe('worseExitCode', () => {
  it('orders 0 < 4 < 1 < 130 < 3 < 2 < 70, an unknown code worst', () => {
    const order = [0, 4, 1, 130, 3, 2, 70, 99];
    for (let i = 1; i < order.length; i++) {
      expect(worseExitCode(order[i - 1], order[i])).toBe(order[i]);
      expect(worseExitCode(order[i], order[i - 1])).toBe(order[i]);
    }
  });
});
