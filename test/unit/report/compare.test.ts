import { describe, expect, it } from 'vitest';
import { compareRuns, comparisonExitCode, renderComparison } from '../../../harness/report/compare.ts';
import type { CellResult } from '../../../harness/report/types.ts';
import { cellResult } from '../../helpers/results.ts';

/** A cell with `fiveXX` 502s and `net` network errors out of `sent` requests. */
function cell(kind: 'rollout' | 'drain', gate: boolean, fiveXX: number, o: { sent?: number; net?: number; valid?: boolean; repeat?: number; id?: string } = {}): CellResult {
  const sent = o.sent ?? 3000;
  const net = o.net ?? 0;
  const repeat = o.repeat ?? 1;
  return cellResult({
    kind,
    gate,
    repeat,
    ...(o.id ? { id: `${o.id}.r${repeat}` } : {}),
    valid: o.valid ?? true,
    ...(o.valid === false ? { invalidReason: 'the system did not settle within 300 s' } : {}),
    fiveXX,
    requests: { planned: sent, sent, byStatus: { '200': sent - fiveXX - net, ...(fiveXX ? { '502': fiveXX } : {}) }, networkErrors: net, networkErrorsByCode: net ? { ECONNRESET: net } : {}, cutAtStop: { count: 0, t: [] }, achieved: 1 },
  });
}

describe('compareRuns: beyond noise, not any increase', () => {
  it('does not call 2 → 3 failed in 3,000 requests each a regression (p = 0.5)', () => {
    const c = compareRuns([cell('rollout', true, 2)], [cell('rollout', true, 3)]);
    expect(c.rows[0].outcome).toBe('within-noise');
    expect(c.rows[0].test!.pValue).toBeCloseTo(0.5, 12);
    expect(c.regressions).toEqual([]);
    expect(comparisonExitCode(c)).toBe(0);
  });

  it('calls 0 → 40 a regression (p = 2⁻⁴⁰) and exits 1', () => {
    const c = compareRuns([cell('rollout', true, 0)], [cell('rollout', true, 40)]);
    expect(c.rows[0].outcome).toBe('regression');
    expect(c.rows[0].test!.pValue / 2 ** -40).toBeCloseTo(1, 10);
    expect(comparisonExitCode(c)).toBe(1);
  });

  it('counts requests without a status as failed, as the table does', () => {
    const c = compareRuns([cell('drain', true, 0)], [cell('drain', true, 10, { net: 30 })]);
    expect(c.rows[0].after!.failed).toBe(40);
    expect(c.rows[0].outcome).toBe('regression');
  });

  it('needs both the level and the minimum change', () => {
    // 0 → 5: p = 2⁻⁵ = 0.031. Beyond noise at α = 0.05, and 5 ≥ the default minimum change.
    expect(compareRuns([cell('rollout', true, 0)], [cell('rollout', true, 5)], { alpha: 0.05 }).rows[0].outcome).toBe('regression');
    // ... but not at the default α = 0.01.
    expect(compareRuns([cell('rollout', true, 0)], [cell('rollout', true, 5)]).rows[0].outcome).toBe('within-noise');
    // 0 → 4: p = 2⁻⁴ = 0.0625 ≤ 0.1, but 4 is below the minimum change of 5.
    expect(compareRuns([cell('rollout', true, 0)], [cell('rollout', true, 4)], { alpha: 0.1 }).rows[0].outcome).toBe('below-min-change');
    expect(compareRuns([cell('rollout', true, 0)], [cell('rollout', true, 4)], { alpha: 0.1, minChange: 4 }).rows[0].outcome).toBe('regression');
    // 100 → 200: beyond noise, but not 150 beyond.
    expect(compareRuns([cell('rollout', true, 100)], [cell('rollout', true, 200)], { minChange: 150 }).rows[0].outcome).toBe('below-min-change');
  });

  it('compares rates per request sent: the same count on a fifth of the traffic is a regression', () => {
    const c = compareRuns([cell('rollout', true, 10, { sent: 10_000 })], [cell('rollout', true, 10, { sent: 2000 })]);
    expect(c.rows[0].outcome).toBe('regression');
    expect(c.rows[0].test!.excess).toBeCloseTo(8, 10);
    // Fewer failures on more traffic is no increase at all.
    expect(compareRuns([cell('rollout', true, 10, { sent: 2000 })], [cell('rollout', true, 12, { sent: 10_000 })]).rows[0].outcome).toBe('no-increase');
  });

  it('sums repeats, shows each side\'s spread, and judges the sums', () => {
    const before = [cell('rollout', false, 5, { repeat: 1 }), cell('rollout', false, 10, { repeat: 2 })];
    const after = [cell('rollout', false, 30, { repeat: 1 }), cell('rollout', false, 20, { repeat: 2 })];
    const c = compareRuns(before, after);
    expect(c.rows).toHaveLength(1);
    expect(c.rows[0].before).toMatchObject({ repeats: 2, failed: 15, sent: 6000, min: 5, max: 10 });
    expect(c.rows[0].after).toMatchObject({ repeats: 2, failed: 50, sent: 6000, min: 20, max: 30 });
    expect(c.rows[0].outcome).toBe('regression');
    const md = renderComparison('last-night', 'tonight', c);
    expect(md).toContain('| 15 of 6000 (0.25 %; 5–10 over 2 repeats) | 50 of 6000 (0.83 %; 20–30 over 2 repeats) | +35');
  });

  it('judges no cell INVALID in either run: its own outcome, exit 4 unless another cell regressed', () => {
    const before = [cell('rollout', true, 0), cell('drain', true, 3, { valid: false })];
    const after = [cell('rollout', true, 1), cell('drain', true, 0)];
    const c = compareRuns(before, after);
    expect(c.rows.map((r) => r.outcome)).toEqual(['within-noise', 'invalid']);
    expect(c.invalid.map((r) => r.key)).toEqual(['drain.gate-on.prestop-0.grace-30.dereg-300']);
    expect(comparisonExitCode(c)).toBe(4);
    const worse = compareRuns(before, [cell('rollout', true, 40), cell('drain', true, 200, { valid: false })]);
    expect(worse.rows[1].outcome).toBe('invalid');
    expect(comparisonExitCode(worse)).toBe(1);
  });

  it('matches by identity with the disruption\'s options; cells in one run only are reported, not judged', () => {
    const before = [cell('drain', true, 0, { id: 'drain.gate-on.prestop-0.grace-30.dereg-300' }), cell('drain', true, 0, { id: 'drain-spot.gate-on.prestop-0.grace-30.dereg-300' })];
    const after = [cell('drain', true, 0, { id: 'drain.gate-on.prestop-0.grace-30.dereg-300' }), cell('drain', true, 90, { id: 'drain-node-node-a1.gate-on.prestop-0.grace-30.dereg-300' })];
    const c = compareRuns(before, after);
    expect(c.rows.map((r) => [r.key, r.outcome])).toEqual([
      ['drain.gate-on.prestop-0.grace-30.dereg-300', 'no-increase'],
      ['drain-spot.gate-on.prestop-0.grace-30.dereg-300', 'gone'],
      ['drain-node-node-a1.gate-on.prestop-0.grace-30.dereg-300', 'new'],
    ]);
    expect(comparisonExitCode(c)).toBe(0);
  });

  it('exits 4, not "no regression", when the runs share no cell, and names the cells of each', () => {
    const c = compareRuns([cell('rollout', true, 0)], [cell('drain', true, 0)]);
    expect(c).toMatchObject({ shared: 0, onlyBefore: ['rollout.gate-on.prestop-0.grace-30.dereg-300'], onlyAfter: ['drain.gate-on.prestop-0.grace-30.dereg-300'] });
    expect(comparisonExitCode(c)).toBe(4);
    const md = renderComparison('a', 'b', c);
    expect(md).not.toContain('No regression');
    expect(md).toContain('The two runs share no cell: nothing was compared (exit 4).');
    expect(md).toContain('Only in a:\n\n- rollout.gate-on.prestop-0.grace-30.dereg-300\n\nOnly in b:\n\n- drain.gate-on.prestop-0.grace-30.dereg-300\n');
    // Two empty runs share nothing either.
    expect(comparisonExitCode(compareRuns([], []))).toBe(4);
  });
});

describe('renderComparison', () => {
  it('prints counts with rates, the change, the p-value and the verdict, then what it means', () => {
    const lastNight = [cell('rollout', false, 2), cell('rollout', true, 0), cell('drain', true, 3), cell('drain', false, 1, { valid: false })];
    const tonight = [cell('rollout', false, 3), cell('rollout', true, 40), cell('drain', true, 0), cell('drain', false, 0)];
    expect(renderComparison('last-night', 'tonight', compareRuns(lastNight, tonight))).toMatchInlineSnapshot(`
      "| cell                                          | last-night failed   | tonight failed     | change | p       | verdict             | p99 ms |
      |-----------------------------------------------|---------------------|--------------------|--------|---------|---------------------|--------|
      | rollout.gate-off.prestop-0.grace-30.dereg-300 | 2 of 3000 (0.067 %) | 3 of 3000 (0.1 %)  | +1     | 0.5     | within noise        | – → –  |
      | rollout.gate-on.prestop-0.grace-30.dereg-300  | 0 of 3000 (0 %)     | 40 of 3000 (1.3 %) | +40    | 9.1e-13 | **regression**      | – → –  |
      | drain.gate-on.prestop-0.grace-30.dereg-300    | 3 of 3000 (0.1 %)   | 0 of 3000 (0 %)    | -3     | 1       | no increase         | – → –  |
      | drain.gate-off.prestop-0.grace-30.dereg-300   | INVALID             | 0 of 3000 (0 %)    | n/a    |         | INVALID: not judged | – → –  |

      Regressions (p ≤ 0.01 and at least 5 more failed requests than the first run's rate predicts):

      - rollout.gate-on.prestop-0.grace-30.dereg-300: 0 → 40 failed (p = 9.1e-13, 40.0 beyond the first run's rate)

      INVALID in either run, so not judged:

      - drain.gate-off.prestop-0.grace-30.dereg-300: last-night drain.gate-off.prestop-0.grace-30.dereg-300.r1: the system did not settle within 300 s

      Failed = 5xx + requests without a status, summed over repeats, of the requests sent. p99 ms: latency of the requests sent in the disruption window, first run → second (the worst repeat); shown, not judged. p: one-sided exact conditional binomial test of the two counts given the requests sent (same rate: the second count ~ Binomial(n, sent₂ / (sent₁ + sent₂))).
      "
    `);
  });
});

describe('renderComparison: latency', () => {
  it('shows each cell\'s p99 of the disruption window before → after (the worst repeat), and – where a run has none', () => {
    const lat = (p99: number) => ({ latency: { baseline: { count: 100, p50: 10, p95: 15, p99: 20, max: 25 }, window: { count: 200, p50: 12, p95: 300, p99, max: p99 + 1 } } });
    const before = [{ ...cell('rollout', true, 0), ...lat(20.4) }, { ...cell('rollout', true, 0, { repeat: 2 }), ...lat(35) }, cell('drain', true, 0)];
    const after = [{ ...cell('rollout', true, 0), ...lat(8012.6) }, { ...cell('drain', true, 0), ...lat(4.25) }];
    const c = compareRuns(before, after);
    expect(c.rows.find((r) => r.key.startsWith('rollout'))?.before?.p99).toBe(35);
    const text = renderComparison('A', 'B', c);
    expect(text).toMatch(/\| rollout\.[^\n]*\| 35 → 8013 +\|/);
    expect(text).toMatch(/\| drain\.[^\n]*\| – → 4\.3 +\|/);
  });
});
