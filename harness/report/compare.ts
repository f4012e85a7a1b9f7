/**
 * Comparing two runs (e.g. last night's with tonight's), noise-aware. Cells are matched by
 * identity — the cell id without its repeat (disruption with its options, gate, preStop, grace,
 * delay) — and each side sums its repeats: failed requests (5xx + no status, as the table counts
 * them) over requests sent. A cell is a regression only when both hold: the exact conditional
 * binomial test (stats.ts) finds tonight's rate higher at level `alpha`, and tonight has at least
 * `minChange` more failed requests than last night's rate predicts. A cell INVALID in either run
 * is not judged: it is its own outcome. Pure: takes results, returns rows and Markdown.
 */
import { exitCodeOf, type ComparisonCounts } from '../core/errors.ts';
import { failedRequests } from './expect.ts';
import { formatMs } from './markdown.ts';
import { comparePoissonCounts, type PoissonComparison } from './stats.ts';
import type { CellResult } from './types.ts';

/** The level of the test unless `--alpha` says otherwise. */
export const DEFAULT_ALPHA = 0.01;
/**
 * The smallest increase worth a failed night unless `--min-change` says otherwise: the README's
 * clean cells (preStop above the deregistration lag) still lose 0–2 requests in some runs to the
 * LB nodes' lag tail, and a looser `--alpha` alone would flag 0 → 5 (p = 0.031).
 */
export const DEFAULT_MIN_CHANGE = 5;

/** How strict the comparison is. */
export interface CompareOptions {
  /** One-sided level of the test: a p-value at or below it is beyond noise. */
  alpha: number;
  /** Failed requests beyond last night's rate (scaled to tonight's requests) needed for a regression. */
  minChange: number;
}

/** One run's side of a compared cell: its repeats summed. */
export interface Side {
  repeats: number;
  /** 5xx + requests without a status, summed over repeats. */
  failed: number;
  sent: number;
  /** Failed requests of the least and the most failing repeat. */
  min: number;
  max: number;
  /** The repeats that are INVALID, with why (empty: valid). */
  invalid: Array<{ id: string; reason: string }>;
  /** p99 latency of the disruption window, ms: the worst repeat's; undefined when no repeat measured it. */
  p99?: number;
}

/** What the comparison says about one cell. */
export type Outcome = 'regression' | 'within-noise' | 'below-min-change' | 'no-increase' | 'invalid' | 'new' | 'gone';

/** One compared row. */
export interface ComparedCell {
  /** The cell id without its repeat, e.g. `rollout.gate-on.prestop-0.grace-30.dereg-300`. */
  key: string;
  before?: Side;
  after?: Side;
  outcome: Outcome;
  /** The test, when both sides are valid and sent requests. */
  test?: PoissonComparison;
}

/** The whole comparison. */
export interface Comparison {
  rows: ComparedCell[];
  options: CompareOptions;
  /** The rows whose outcome is `regression`. */
  regressions: ComparedCell[];
  /** The rows with an INVALID repeat in either run. */
  invalid: ComparedCell[];
  /** Rows present in both runs: 0 means nothing was compared. */
  shared: number;
  /** Cell keys only the first run has (`gone`), and only the second (`new`). */
  onlyBefore: string[];
  onlyAfter: string[];
}

/** The cell id without its repeat. */
export function cellKey(r: Pick<CellResult, 'id'>): string {
  return r.id.replace(/\.r\d+$/, '');
}

function group(results: CellResult[]): Map<string, Side> {
  const out = new Map<string, Side>();
  for (const r of results) {
    const key = cellKey(r);
    const failed = failedRequests(r);
    const side = out.get(key) ?? { repeats: 0, failed: 0, sent: 0, min: Infinity, max: -Infinity, invalid: [] };
    side.repeats++;
    side.failed += failed;
    side.sent += r.requests.sent;
    side.min = Math.min(side.min, failed);
    side.max = Math.max(side.max, failed);
    if (!r.valid) side.invalid.push({ id: r.id, reason: r.invalidReason ?? 'invalid' });
    const p99 = r.latency?.window?.p99;
    if (p99 !== undefined) side.p99 = Math.max(side.p99 ?? 0, p99);
    out.set(key, side);
  }
  return out;
}

function judge(before: Side | undefined, after: Side | undefined, opts: CompareOptions): Pick<ComparedCell, 'outcome' | 'test'> {
  if (!before) return { outcome: 'new' };
  if (!after) return { outcome: 'gone' };
  if (before.invalid.length || after.invalid.length) return { outcome: 'invalid' };
  if (!before.sent || !after.sent) return { outcome: 'invalid' };
  const test = comparePoissonCounts(before.failed, before.sent, after.failed, after.sent);
  if (test.excess <= 0) return { outcome: 'no-increase', test };
  if (test.pValue > opts.alpha) return { outcome: 'within-noise', test };
  if (test.excess < opts.minChange) return { outcome: 'below-min-change', test };
  return { outcome: 'regression', test };
}

/** Compares two runs' cells, matched by identity; see the module comment for the rule. */
export function compareRuns(before: CellResult[], after: CellResult[], options: Partial<CompareOptions> = {}): Comparison {
  const opts: CompareOptions = { alpha: options.alpha ?? DEFAULT_ALPHA, minChange: options.minChange ?? DEFAULT_MIN_CHANGE };
  const a = group(before);
  const b = group(after);
  const rows = [...new Set([...a.keys(), ...b.keys()])].map((key): ComparedCell => {
    const sides = { ...(a.has(key) ? { before: a.get(key)! } : {}), ...(b.has(key) ? { after: b.get(key)! } : {}) };
    return { key, ...sides, ...judge(sides.before, sides.after, opts) };
  });
  return {
    rows,
    options: opts,
    regressions: rows.filter((r) => r.outcome === 'regression'),
    invalid: rows.filter((r) => r.outcome === 'invalid'),
    shared: rows.filter((r) => r.before && r.after).length,
    onlyBefore: rows.filter((r) => r.outcome === 'gone').map((r) => r.key),
    onlyAfter: rows.filter((r) => r.outcome === 'new').map((r) => r.key),
  };
}

/**
 * The comparison's exit code (the README's table): 1 when a cell regressed, else 4 when a cell is
 * INVALID in either run or the runs share no cell (nothing judged), else 0. Cells in only one run
 * are listed, not judged.
 */
export function comparisonExitCode(c: Comparison): number {
  return exitCodeOf({ command: 'compare', comparison: comparisonCounts(c) });
}

/** The counts the exit code of a comparison is decided on. */
export function comparisonCounts(c: Comparison): ComparisonCounts {
  return { regressions: c.regressions.length, invalid: c.invalid.length, shared: c.shared };
}

/** The comparison as plain data for `compare --format json`: sides named, every row, the exit code. */
export function comparisonJson(beforeName: string, afterName: string, c: Comparison) {
  return {
    before: beforeName,
    after: afterName,
    options: c.options,
    shared: c.shared,
    onlyBefore: c.onlyBefore,
    onlyAfter: c.onlyAfter,
    regressions: c.regressions.map((r) => r.key),
    invalid: c.invalid.map((r) => r.key),
    rows: c.rows,
    exitCode: comparisonExitCode(c),
  };
}

/** A p-value for people: two significant digits, scientific below 0.001. */
export function formatP(p: number): string {
  if (p === 0) return '0';
  return p < 0.001 ? p.toExponential(1) : String(Number(p.toPrecision(2)));
}

function percent(failed: number, sent: number): string {
  if (!sent) return '–';
  const v = (100 * failed) / sent;
  return `${v === 0 ? '0' : v >= 1 ? v.toFixed(1) : Number(v.toPrecision(2)).toString()} %`;
}

function sideText(side: Side | undefined): string {
  if (!side) return '–';
  if (side.invalid.length) return side.invalid.length === side.repeats ? 'INVALID' : `INVALID (${side.invalid.length} of ${side.repeats} repeats)`;
  const spread = side.repeats > 1 ? `; ${side.min}–${side.max} over ${side.repeats} repeats` : '';
  return `${side.failed} of ${side.sent} (${percent(side.failed, side.sent)}${spread})`;
}

function changeText(r: ComparedCell): string {
  if (!r.before || !r.after || r.outcome === 'invalid') return 'n/a';
  const d = r.after.failed - r.before.failed;
  return d === 0 ? '=' : `${d > 0 ? '+' : ''}${d}`;
}

const VERDICT: Record<Outcome, string> = {
  regression: '**regression**',
  'within-noise': 'within noise',
  'below-min-change': 'below --min-change',
  'no-increase': 'no increase',
  invalid: 'INVALID: not judged',
  new: 'only in the second run',
  gone: 'only in the first run',
};

/** The comparison as Markdown: a table, then regressions, invalid cells, and how it was judged. */
export function renderComparison(beforeName: string, afterName: string, c: Comparison): string {
  const header = ['cell', `${beforeName} failed`, `${afterName} failed`, 'change', 'p', 'verdict', 'p99 ms'];
  const p99 = (side: Side | undefined) => (side?.p99 === undefined ? '–' : formatMs(side.p99));
  const body = c.rows.map((r) => [r.key, sideText(r.before), sideText(r.after), changeText(r), r.test ? formatP(r.test.pValue) : '', VERDICT[r.outcome], `${p99(r.before)} → ${p99(r.after)}`]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i].length)));
  const line = (cells: string[]) => `| ${cells.map((x, i) => x.padEnd(widths[i])).join(' | ')} |`;
  const out = [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line), ''];
  const { alpha, minChange } = c.options;
  if (c.shared === 0) out.push(`The two runs share no cell: nothing was compared (exit 4). Compare runs of the same spec, or of specs with cells in common.`, '');
  else if (c.regressions.length) {
    out.push(`Regressions (p ≤ ${alpha} and at least ${minChange} more failed requests than the first run's rate predicts):`, '');
    for (const r of c.regressions) out.push(`- ${r.key}: ${r.before!.failed} → ${r.after!.failed} failed (p = ${formatP(r.test!.pValue)}, ${r.test!.excess.toFixed(1)} beyond the first run's rate)`);
    out.push('');
  } else out.push(`No regression beyond noise (p ≤ ${alpha} and at least ${minChange} more failed requests).`, '');
  if (c.invalid.length) {
    out.push('INVALID in either run, so not judged:', '');
    for (const r of c.invalid) {
      const reasons = [...(r.before?.invalid ?? []).map((x) => `${beforeName} ${x.id}: ${x.reason}`), ...(r.after?.invalid ?? []).map((x) => `${afterName} ${x.id}: ${x.reason}`)];
      out.push(`- ${r.key}: ${reasons.length ? reasons.join('; ') : 'no requests sent'}`);
    }
    out.push('');
  }
  const single = c.onlyBefore.length + c.onlyAfter.length;
  if (single) {
    out.push(`${single} cell${single > 1 ? 's are' : ' is'} in one run only (a changed spec, or a run that stopped early): not judged.`, '');
    if (c.onlyBefore.length) out.push(`Only in ${beforeName}:`, '', ...c.onlyBefore.map((k) => `- ${k}`), '');
    if (c.onlyAfter.length) out.push(`Only in ${afterName}:`, '', ...c.onlyAfter.map((k) => `- ${k}`), '');
  }
  out.push(
    `Failed = 5xx + requests without a status, summed over repeats, of the requests sent. p99 ms: latency of the requests sent in the disruption window, first run → second (the worst repeat); shown, not judged. p: one-sided exact conditional binomial test of the two counts given the requests sent (same rate: the second count ~ Binomial(n, sent₂ / (sent₁ + sent₂))).`,
    '',
  );
  return out.join('\n');
}
