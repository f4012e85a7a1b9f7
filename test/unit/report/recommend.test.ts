import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { expandCells } from '../../../harness/matrix/expand.ts';
import { loadSpec } from '../../../harness/matrix/load.ts';
import { readRun } from '../../../harness/cli/results.ts';
import type { CellConfig } from '../../../harness/matrix/schema.ts';
import { distanceOf, gatePairs, GATE_PAIR_MIN_CHANGE, marginOf, otherAxes, recommend, recommendationSchema, scaleToDecide, type RecommendCell } from '../../../harness/report/recommend.ts';
import { checkLines, otherAxisRows, recommendationRows, renderRecommendationMarkdown } from '../../../harness/report/recommend-md.ts';
import { comparePoissonCounts } from '../../../harness/report/stats.ts';

interface CellInput {
  kind?: 'rollout' | 'drain';
  gate?: boolean;
  preStop?: number;
  grace?: number;
  delay?: number;
  valid?: boolean;
  fiveXX?: number;
  net?: number;
  dereg?: number[];
  longest?: number[];
  causes?: Record<string, number>;
  samples?: NonNullable<NonNullable<RecommendCell['explain']>['lags']>['samples'];
  noExplain?: boolean;
  logs?: 'complete' | 'partial' | 'missing';
}

const dist = (values: number[]) => ({ count: values.length, min: Math.min(...values, 0), p50: 0, p90: 0, max: values.length ? Math.max(...values) : 0, values: [...values].sort((a, b) => a - b) });

function cell(o: CellInput): RecommendCell {
  const config = { readinessGate: o.gate ?? false, preStopSeconds: o.preStop ?? 0, terminationGracePeriodSeconds: o.grace ?? 30, deregistrationDelaySeconds: o.delay ?? 300 };
  const kind = o.kind ?? 'rollout';
  return {
    id: `${kind}.gate-${config.readinessGate ? 'on' : 'off'}.prestop-${config.preStopSeconds}.grace-${config.terminationGracePeriodSeconds}.dereg-${config.deregistrationDelaySeconds}.r1`,
    disruption: kind === 'rollout' ? { kind } : { kind, node: 'most-pods' },
    config,
    valid: o.valid ?? true,
    fiveXX: o.fiveXX ?? 0,
    requests: { networkErrors: o.net ?? 0 },
    ...(o.noExplain
      ? {}
      : {
          explain: {
            logs: o.logs ?? 'complete',
            causes: o.causes ?? {},
            ...(o.dereg || o.longest ? { lags: { deregistration: dist(o.dereg ?? []), registration: dist([]), longestRequest: dist(o.longest ?? []), ...(o.samples ? { samples: o.samples } : {}) } } : {}),
          },
        }),
  };
}

// A: the EKS defaults under a rollout; B: a short preStop under a drain; C: AWS support's advice under a rollout.
const A = cell({ kind: 'rollout', preStop: 0, grace: 30, delay: 300, fiveXX: 40, dereg: [3.2, 12.4], longest: [0.8, 2.5], causes: { 'routed-after-sigterm': 40 } });
const B = cell({ kind: 'drain', gate: true, preStop: 5, grace: 30, delay: 300, fiveXX: 10, net: 2, dereg: [21.3], longest: [1.1], causes: { 'routed-after-sigterm': 10 } });
const C = cell({ kind: 'rollout', gate: true, preStop: 40, grace: 60, delay: 30, dereg: [7], longest: [0.3], causes: {} });

describe('recommend: the arithmetic on fixed lags', () => {
  const rec = recommend([A, B, C]);

  it('pools every valid cell: preStop = ⌈21.3 + max(5, 4.26)⌉ = 27, grace = ⌈27 + 2.5 + 5⌉ = 35, delay in [⌈2.5 + 5⌉ = 8, 27 − 10 = 17] → 17', () => {
    const o = rec.overall;
    expect(o.preStopSeconds.value).toBe(27);
    expect(o.terminationGracePeriodSeconds.value).toBe(35);
    expect(o.deregistrationDelaySeconds).toMatchObject({ value: 17, min: 8, max: 17 });
    expect(o.preStopSeconds.arithmetic).toBe('21.3 + max(5, 20 % × 21.3 = 4.26) = 26.3 → 27');
    expect(o.terminationGracePeriodSeconds.arithmetic).toBe('27 + 2.5 + max(5, 20 % × 2.5 = 0.5) = 34.5 → 35');
    expect(o.preStopSeconds.evidence).toEqual([{ measure: 'deregistration lag', seconds: 21.3, cell: B.id, samples: 4, cells: 3, next: [{ cell: A.id, seconds: 12.4 }, { cell: C.id, seconds: 7 }] }]);
    expect(o.terminationGracePeriodSeconds.evidence).toEqual([{ measure: 'longest request', seconds: 2.5, cell: A.id, samples: 4, cells: 3, next: [{ cell: B.id, seconds: 1.1 }, { cell: C.id, seconds: 0.3 }] }]);
    expect(o.cells).toBe(3);
    expect(o.withLags).toBe(3);
  });

  it('per disruption uses only that disruption\'s cells', () => {
    const [rollout, drain] = rec.byDisruption;
    expect(rollout.scope).toBe('rollout');
    // 12.4 + max(5, 2.48) = 17.4 → 18; 18 + 2.5 + 5 = 25.5 → 26; delay in [8, 8].
    expect([rollout.preStopSeconds.value, rollout.terminationGracePeriodSeconds.value, rollout.deregistrationDelaySeconds.value, rollout.deregistrationDelaySeconds.min]).toEqual([18, 26, 8, 8]);
    expect(drain.scope).toBe('drain');
    // 21.3 + 5 = 26.3 → 27; 27 + 1.1 + 5 = 33.1 → 34; delay in [⌈6.1⌉ = 7, 17].
    expect([drain.preStopSeconds.value, drain.terminationGracePeriodSeconds.value, drain.deregistrationDelaySeconds.value, drain.deregistrationDelaySeconds.min]).toEqual([27, 34, 17, 7]);
  });

  it('rounds up after cutting float noise: 12 + 1.12 + 0.88 is 14, not 15', () => {
    // ⌈1 + 0.88⌉ = 2; delay ≥ ⌈1.12 + 0.88⌉ = 2 > 2 − 10, so preStop = 12; grace = 12 + 1.12 + 0.88 (= 14.000000000000002 in floats) → 14.
    const r = recommend([cell({ dereg: [1], longest: [1.12] })], { marginSeconds: 0.88, marginShare: 0 }).overall;
    expect([r.preStopSeconds.value, r.terminationGracePeriodSeconds.value, r.deregistrationDelaySeconds.value]).toEqual([12, 14, 2]);
  });

  it('uses the proportional margin when it is larger (0.2 × 30 = 6, not 6.000000000000001)', () => {
    const r = recommend([cell({ dereg: [30], longest: [1] })]).overall;
    expect(marginOf(30)).toBe(6);
    expect(r.preStopSeconds.value).toBe(36);
    // 36 + 1 + max(5, 0.2) = 42 exactly: no extra second.
    expect(r.terminationGracePeriodSeconds.value).toBe(42);
    expect(r.deregistrationDelaySeconds.value).toBe(26);
    // Any fraction rounds up: 10.001 + 5 = 15.001 → 16.
    expect(recommend([cell({ dereg: [10.001], longest: [0] })]).overall.preStopSeconds.value).toBe(16);
  });

  it('raises preStop when the delay cannot fit 10 s below it and above the longest request', () => {
    // D = 30 → 36; L = 40 → delay ≥ 40 + 8 = 48 > 36 − 10, so preStop = 48 + 10 = 58, grace = 58 + 48 = 106.
    const r = recommend([cell({ dereg: [30], longest: [40] })]).overall;
    expect([r.preStopSeconds.value, r.terminationGracePeriodSeconds.value, r.deregistrationDelaySeconds.value]).toEqual([58, 106, 48]);
    expect(r.preStopSeconds.arithmetic).toContain('raised to 58');
  });

  it('takes the margin floor from the options', () => {
    // 3.2 + max(2, 0.64) = 5.2 → 6; delay ≥ ⌈0.1 + 2⌉ = 3 > 6 − 10, so preStop = 13; grace = 13 + 2.1 = 15.1 → 16.
    const r = recommend([cell({ dereg: [3.2], longest: [0.1] })], { marginSeconds: 2 });
    expect(r.margin).toMatchObject({ seconds: 2, share: 0.2 });
    expect([r.overall.preStopSeconds.value, r.overall.terminationGracePeriodSeconds.value, r.overall.deregistrationDelaySeconds.value]).toEqual([13, 16, 3]);
    expect(() => recommend([A], { marginSeconds: -1 })).toThrow('expected marginSeconds to be a number ≥ 0, got -1');
  });

  it('names the sample\'s target and LB node when the cell kept its samples', () => {
    const withSamples = cell({ dereg: [4, 9.5], longest: [0.2], samples: { deregistration: [{ target: '10.0.1.7:8080', lbNode: '10.0.0.2', seconds: 4 }, { target: '10.0.1.9:8080', lbNode: '10.0.0.3', seconds: 9.5 }] } });
    expect(recommend([withSamples]).overall.preStopSeconds.evidence[0]).toMatchObject({ seconds: 9.5, target: '10.0.1.9:8080', lbNode: '10.0.0.3' });
  });

  it('writes data that its own schema accepts and that turns into JSON Schema', () => {
    expect(recommendationSchema.parse(JSON.parse(JSON.stringify(rec)))).toEqual(rec);
    expect(z.toJSONSchema(recommendationSchema)).toHaveProperty('properties.overall');
    const none = recommend([cell({ noExplain: true })]);
    expect(recommendationSchema.parse(JSON.parse(JSON.stringify(none)))).toEqual(none);
  });
});

describe('recommend: the readiness gate', () => {
  it('is on when any valid cell lost requests to not-yet-healthy targets, with the count and cells', () => {
    const off = cell({ fiveXX: 3, causes: { 'registered-not-healthy': 3 }, dereg: [5], longest: [1] });
    const on = cell({ kind: 'drain', gate: true, fiveXX: 2, causes: { 'no-healthy-target': 2, 'routed-after-sigterm': 0 } });
    const other = cell({ preStop: 5, fiveXX: 9, causes: { 'routed-after-sigterm': 9 } });
    const invalid = cell({ preStop: 7, valid: false, fiveXX: 100, causes: { 'registered-not-healthy': 100 } });
    const g = recommend([off, on, other, invalid]).overall.readinessGate;
    expect(g.value).toBe(true);
    expect(g.lost).toBe(5);
    expect(g.cells).toEqual([
      { id: off.id, lost: 3, readinessGate: false },
      { id: on.id, lost: 2, readinessGate: true },
    ]);
    expect(g.why).toContain('1 of them had the gate on already');
  });

  it('is not needed when gate-off cells with complete logs lost nothing to a not-yet-healthy target, and not tested without causes', () => {
    expect(recommend([A, C]).overall.readinessGate).toMatchObject({ state: 'value', value: false, lost: 0, why: 'no gate-off cell with complete access logs lost a request to a not-yet-healthy target (1 cell)' });
    expect(recommend([cell({ noExplain: true })]).overall.readinessGate).toMatchObject({ state: 'not-tested', value: null });
  });

  it('is on when cells alike but for the gate lost more with it off, beyond noise (the default matrix: 398 vs 329 under a rollout)', () => {
    const off = cell({ fiveXX: 398, dereg: [19], longest: [0.9], causes: { 'routed-to-gone-pod': 398 } });
    const on = cell({ gate: true, fiveXX: 329, dereg: [18], longest: [0.4], causes: { 'routed-to-gone-pod': 329 } });
    const g = recommend([off, on]).overall.readinessGate;
    // P(X ≥ 398) for X ~ Binomial(727, 1/2): 0.00581 < 0.01 (exact sum in Python: 0.005809).
    expect(g.value).toBe(true);
    expect(g.lost).toBe(0);
    expect(g.pairs).toHaveLength(1);
    expect(g.pairs![0]).toMatchObject({ disruption: 'rollout', preStopSeconds: 0, off: { cells: [off.id], failed: 398 }, on: { cells: [on.id], failed: 329 } });
    expect(g.pairs![0].pValue).toBeGreaterThan(0.005);
    expect(g.pairs![0].pValue).toBeLessThan(0.007);
    expect(g.why).toBe('cells alike but for the gate lost more with it off (exact test, 0.01): rollout at preStop 0 s, grace 30 s, delay 300 s: 398 off vs 329 on (p = 0.0058); no cell lost a request to a not-yet-healthy target itself (2 cells with complete logs)');
    expect(renderRecommendationMarkdown(recommend([off, on]))).toContain('| readiness gate | on | cells alike but for the gate');
  });

  it('is inconclusive on a difference within noise, not needed when gate-off cells lost less, and not moved by cells of another disruption', () => {
    // The spot cells of the same run: 83 off vs 67 on, p = 0.11.
    const spotLike = [cell({ kind: 'drain', fiveXX: 83, causes: {} }), cell({ kind: 'drain', gate: true, fiveXX: 67, causes: {} })];
    expect(recommend(spotLike).overall.readinessGate).toMatchObject({ state: 'inconclusive', value: null });
    expect(recommend([cell({ fiveXX: 111, causes: {} }), cell({ gate: true, fiveXX: 139, causes: {} })]).overall.readinessGate.value).toBe(false);
    expect(recommend([cell({ fiveXX: 400, causes: {} }), cell({ kind: 'drain', gate: true, fiveXX: 0, causes: {} })]).overall.readinessGate.value).toBe(false);
    // Few counts: 6 vs 0 passes the test (p = 1/64) but not the level; 12 vs 0 does, so 2 repeats would decide it.
    expect(recommend([cell({ fiveXX: 6, causes: {} }), cell({ gate: true, fiveXX: 0, causes: {} })]).overall.readinessGate).toMatchObject({ state: 'inconclusive', pairs: [{ verdict: 'undecided', decide: { repeats: 2 } }] });
    expect(recommend([cell({ fiveXX: 12, causes: {} }), cell({ gate: true, fiveXX: 0, causes: {} })]).overall.readinessGate.value).toBe(true);
  });

  it('needs at least GATE_PAIR_MIN_CHANGE more failures off than on, however small the p-value', () => {
    // Four gate-on repeats that lost nothing against one gate-off cell: p0 = 1/5, so 4 off vs 0 on
    // has p = 0.2^4 = 0.0016 and 5 vs 0 has p = 0.2^5 = 0.00032, both below the level; only the
    // second is 5 more than the gate-on rate predicts.
    const on = [1, 2, 3, 4].map((r) => ({ ...cell({ gate: true, noExplain: true }), id: `rollout.gate-on.prestop-0.grace-30.dereg-300.r${r}` }));
    const off = (fiveXX: number) => cell({ fiveXX, noExplain: true });
    expect(GATE_PAIR_MIN_CHANGE).toBe(5);
    expect(gatePairs([off(4), ...on])).toMatchObject([{ verdict: 'undecided', off: { failed: 4 } }]);
    const pairs = gatePairs([off(5), ...on]);
    expect(pairs).toHaveLength(1);
    expect(pairs[0]).toMatchObject({ verdict: 'gate-helps', off: { failed: 5 }, on: { failed: 0, cells: on.map((c) => c.id) } });
    expect(pairs[0].pValue).toBeCloseTo(0.2 ** 5, 10);
  });

  it('decides from the pairs alone when no cell has causes, and pools repeats', () => {
    const r1 = { ...cell({ fiveXX: 30, noExplain: true }) };
    const r2 = { ...cell({ fiveXX: 34, noExplain: true }), id: 'rollout.gate-off.prestop-0.grace-30.dereg-300.r2' };
    const on = cell({ gate: true, fiveXX: 10, noExplain: true });
    const g = recommend([r1, r2, on]).overall.readinessGate;
    // 64 over two cells vs 10 over one: p0 = 2/3, P(X ≥ 64 | n = 74) is far below 0.01.
    expect(g).toMatchObject({ value: true, pairs: [{ off: { cells: [r1.id, r2.id], failed: 64 }, on: { failed: 10 } }] });
  });

  it('counts the gate in meeting and in the distance only when it is recommended', () => {
    const rec = { preStopSeconds: 20, terminationGracePeriodSeconds: 30, deregistrationDelaySeconds: 10, readinessGate: true };
    expect(distanceOf({ preStopSeconds: 20, terminationGracePeriodSeconds: 30, deregistrationDelaySeconds: 10, readinessGate: false }, rec)).toBe(1);
    expect(distanceOf({ preStopSeconds: 20, terminationGracePeriodSeconds: 30, deregistrationDelaySeconds: 10, readinessGate: false }, { ...rec, readinessGate: false })).toBe(0);
    // 10/20 + 15/30 + 290/10 = 30
    expect(distanceOf({ preStopSeconds: 30, terminationGracePeriodSeconds: 45, deregistrationDelaySeconds: 300, readinessGate: true }, rec)).toBe(30);
  });
});

describe('recommend: no lags, no recommendation', () => {
  it('says so when no cell has explain data', () => {
    const r = recommend([cell({ noExplain: true, fiveXX: 4 })]).overall;
    expect(r.preStopSeconds.value).toBeNull();
    expect(r.terminationGracePeriodSeconds.value).toBeNull();
    expect(r.deregistrationDelaySeconds).toMatchObject({ value: null, min: null, max: null });
    expect(r.preStopSeconds.why).toMatch(/^no valid cell has measured lags/);
    expect(r.check).toBeNull();
    expect(renderRecommendationMarkdown(recommend([cell({ noExplain: true })]))).toContain('| preStop | not tested | no valid cell has measured lags');
  });

  it('says so when lags were measured but no target deregistered with traffic', () => {
    const r = recommend([cell({ dereg: [], longest: [0.4] })]).overall;
    expect(r.preStopSeconds.value).toBeNull();
    expect(r.preStopSeconds.why).toMatch(/^no deregistration lag was measured in 1 cell with lags/);
  });

  it('never takes lags from an invalid cell', () => {
    const r = recommend([cell({ valid: false, dereg: [50], longest: [1] }), cell({ preStop: 5, noExplain: true })]).overall;
    expect(r.preStopSeconds.value).toBeNull();
    expect(r.excluded).toEqual(['rollout.gate-off.prestop-0.grace-30.dereg-300.r1']);
    const used = recommend([cell({ valid: false, dereg: [50], longest: [1] }), cell({ preStop: 5, dereg: [2], longest: [1] })]).overall;
    expect(used.preStopSeconds.evidence[0]).toMatchObject({ seconds: 2, cell: 'rollout.gate-off.prestop-5.grace-30.dereg-300.r1', cells: 1 });
  });
});

describe('recommend: confirm and contradict', () => {
  it('confirms when the cells meeting every value lost nothing, and names the nearest config', () => {
    const check = recommend([A, B, C]).overall.check!;
    expect(check.meeting).toEqual([{ id: C.id, valid: true, failed: 0 }]);
    expect(check.verdict).toBe('confirmed');
    // C: 13/27 + 25/35 + 13/17 = 0.481 + 0.714 + 0.765 = 1.960
    expect(check.nearest).toMatchObject({ distance: 1.96, meets: true, verdict: 'confirmed', cells: [{ id: C.id, failed: 0 }] });
  });

  it('contradicts when a cell meeting every value lost requests (5xx and network errors), and reports it', () => {
    const bad = cell({ kind: 'drain', gate: true, preStop: 40, grace: 60, delay: 30, fiveXX: 1, net: 2 });
    const rec = recommend([A, B, C, bad]);
    expect(rec.overall.check!.verdict).toBe('contradicted');
    expect(rec.overall.check!.meeting.map((c) => [c.id, c.failed])).toEqual([
      [C.id, 0],
      [bad.id, 3],
    ]);
    // The nearest config holds both C and bad: it contradicts.
    expect(rec.overall.check!.nearest!.verdict).toBe('contradicted');
    expect(checkLines(rec.overall)[0]).toBe(`Contradicted: 1 of 2 valid cells meeting every recommended value lost requests (${bad.id}: 3).`);
    // The drain alone: B does not meet (preStop 5 < 27); bad does and lost 3.
    expect(rec.byDisruption[1].check!.verdict).toBe('contradicted');
  });

  it('leaves it untested when no valid cell meets the values; the nearest cell, below them, supports it by losing requests', () => {
    const drain = recommend([A, B, C]).byDisruption[1];
    expect(drain.check!.meeting).toEqual([]);
    expect(drain.check!.verdict).toBe('untested');
    expect(drain.check!.nearest).toMatchObject({ config: B.config, meets: false, verdict: 'supports', cells: [{ id: B.id, failed: 12 }] });
  });

  it('does not count a cell whose delay outlasts its own preStop − 10 s, nor one below the minimum delay', () => {
    // Recommendation 27 / 35 / delay in [8, 17]: preStop 40 allows a delay up to 30.
    const tooLong = cell({ gate: true, preStop: 40, grace: 60, delay: 31 });
    const tooShort = cell({ gate: true, preStop: 40, grace: 60, delay: 7 });
    const check = recommend([A, B, C, tooLong, tooShort]).overall.check!;
    expect(check.meeting.map((c) => c.id)).toEqual([C.id]);
  });

  it('breaks a tie in distance toward the config that meets the recommendation', () => {
    // Recommendation from A, B, C: 27 / 35 / 17 (gate not needed); 26 and 28 s of preStop are both 1/27 away.
    const below = cell({ preStop: 26, grace: 35, delay: 17 });
    const above = cell({ preStop: 28, grace: 35, delay: 17 });
    const check = recommend([A, B, C, below, above]).overall.check!;
    expect(check.nearest).toMatchObject({ config: above.config, distance: 0.037, meets: true });
  });
});

describe('renderRecommendationMarkdown', () => {
  it('renders the table with evidence, the check, and the per-disruption summary', () => {
    const rec = recommend([A, B, C, cell({ kind: 'drain', preStop: 9, valid: false })]);
    expect(recommendationRows(rec.overall).map((r) => r.recommended)).toEqual(['27 s', '35 s', '17 s', 'not needed']);
    expect(renderRecommendationMarkdown(rec)).toMatchInlineSnapshot(`
      "## Recommended settings

      From the measured lags of 3 of 3 valid cells (1 invalid cell not used); margin: each measured value + max(5 s, 20 %) of it, then rounded up to whole seconds.

      | setting | recommended | evidence |
      |---|---|---|
      | preStop | 27 s | ≥ the largest deregistration lag + max(5 s, 20 %): 21.3 + max(5, 20 % × 21.3 = 4.26) = 26.3 → 27 (deregistration lag 21.3 s in drain.gate-on.prestop-5.grace-30.dereg-300.r1; 4 samples in 3 cells; next 12.4 s, 7 s) |
      | terminationGracePeriodSeconds | 35 s | ≥ preStop + the longest request + max(5 s, 20 %): 27 + 2.5 + max(5, 20 % × 2.5 = 0.5) = 34.5 → 35 (longest request 2.5 s in rollout.gate-off.prestop-0.grace-30.dereg-300.r1; 4 samples in 3 cells; next 1.1 s, 0.3 s) |
      | deregistration delay | 17 s | ≤ preStop − 10 s (AWS support: preStop ≥ delay + ~10 s) and ≥ the longest request + max(5 s, 20 %): 2.5 + max(5, 20 % × 2.5 = 0.5) = 7.5 → 8 ≤ delay ≤ 27 − 10 = 17; the largest (longest request 2.5 s in rollout.gate-off.prestop-0.grace-30.dereg-300.r1; 4 samples in 3 cells; next 1.1 s, 0.3 s) |
      | readiness gate | not needed | no gate-off cell with complete access logs lost a request to a not-yet-healthy target (1 cell) |

      Confirmed: 1 cell meeting every recommended value, none lost a request (rollout.gate-on.prestop-40.grace-60.dereg-30.r1: 0).
      Nearest cell (gate on, preStop 40 s, grace 60 s, delay 30 s; distance 1.96, meets the recommendation) confirms: it lost nothing (rollout.gate-on.prestop-40.grace-60.dereg-30.r1: 0).
      Below the recommendation (cells that do not meet every value may lose requests): 2 of 2 valid cells lost requests, as it predicts.

      Per disruption:

      | disruption | preStop | grace | dereg delay | gate | check |
      |---|---|---|---|---|---|
      | rollout | 18 s | 26 s | 8 s | not needed | confirmed; nearest confirmed |
      | drain | 27 s | 34 s | 17 s | not tested | untested; nearest supports |
      "
    `);
  });
});

describe('recommend on the default matrix', () => {
  it('recommends past every config when the lag tail reaches 58 s; the nearest config (AWS support\'s advice), below it, lost nothing', async () => {
    const { spec } = await loadSpec('fixtures/matrices/default.yaml');
    // Failed counts of the README's example run; lags shaped like the twin's (5–20 s, a tail to 60 s, cut by a 30 s delay).
    const failed: Record<string, number> = { 'off|0|30|300': 380, 'on|0|30|300': 311, 'on|5|30|300': 179, 'on|20|40|300': 0, 'on|40|60|30': 0 };
    const cells: RecommendCell[] = expandCells(spec).map((c, i) => {
      const key = `${c.config.readinessGate ? 'on' : 'off'}|${c.config.preStopSeconds}|${c.config.terminationGracePeriodSeconds}|${c.config.deregistrationDelaySeconds}`;
      const dereg = c.config.deregistrationDelaySeconds === 30 ? [6.2, 14.9, 29.4] : i === 1 ? [5.1, 12.7, 58] : [5.4, 11.2, 19.8];
      const fiveXX = failed[key];
      return { id: c.id, disruption: c.disruption, config: c.config, valid: true, fiveXX, requests: { networkErrors: 0 }, explain: { logs: 'complete' as const, causes: { 'routed-after-sigterm': fiveXX }, lags: { deregistration: dist(dereg), longestRequest: dist([0.012, 0.05]) } } };
    });
    expect(cells).toHaveLength(15);
    const o = recommend(cells).overall;
    // 58 + max(5, 11.6) = 69.6 → 70; 70 + 0.05 + 5 = 75.05 → 76; delay in [⌈5.05⌉ = 6, 60] → 60; no cause
    // says the gate is needed, but each disruption lost 380 with it off and 311 with it on (p ≈ 0.005).
    expect([o.preStopSeconds.value, o.terminationGracePeriodSeconds.value, o.deregistrationDelaySeconds.value, o.readinessGate.value]).toEqual([70, 76, 60, true]);
    expect(o.readinessGate.pairs!.map((p) => [p.disruption, p.off.failed, p.on.failed])).toEqual([['rollout', 380, 311], ['drain', 380, 311], ['spot', 380, 311]]);
    expect(o.preStopSeconds.evidence[0]).toMatchObject({ seconds: 58, cell: cells[1].id, samples: 45, cells: 15 });
    expect(o.check!.verdict).toBe('untested');
    // on|40|60|30: 30/70 + 16/76 + 30/60 = 0.429 + 0.211 + 0.5 = 1.139; the next, on|20|40|300, is 0.714 + 0.474 + 4 = 5.188 away.
    expect(o.check!.nearest).toMatchObject({ config: { readinessGate: true, preStopSeconds: 40, terminationGracePeriodSeconds: 60, deregistrationDelaySeconds: 30 }, distance: 1.139, verdict: 'neutral' });
    expect(o.check!.nearest!.cells.map((c) => c.failed)).toEqual([0, 0, 0]);
  });
});

describe('recommend: a value with its evidence, not tested, or inconclusive', () => {
  /** The cells of a spec, each valid with complete logs, no not-yet-healthy cause, and `failed(config key)` 5xx. */
  async function cellsOf(specFile: string, failed: (key: string) => number): Promise<RecommendCell[]> {
    const { spec } = await loadSpec(specFile);
    return expandCells(spec).map((c) => {
      const key = `${c.config.readinessGate ? 'on' : 'off'}|${c.config.preStopSeconds}|${c.config.terminationGracePeriodSeconds}|${c.config.deregistrationDelaySeconds}`;
      const fiveXX = failed(key);
      return { id: c.id, disruption: c.disruption, config: c.config, valid: true, fiveXX, requests: { networkErrors: 0 }, explain: { logs: 'complete' as const, causes: { 'routed-after-sigterm': fiveXX }, lags: { deregistration: dist([6.2, 14.9]), longestRequest: dist([0.05]) } } };
    });
  }

  it('says the gate was not tested when the matrix has it on in every cell (examples/specs/twin-nightly.yaml)', async () => {
    const cells = await cellsOf('examples/specs/twin-nightly.yaml', () => 0);
    expect(cells.every((c) => c.config.readinessGate)).toBe(true);
    const rec = recommend(cells);
    expect(rec.overall.readinessGate).toMatchObject({ state: 'not-tested', value: null, why: 'the gate was only ever on, and no gate-off cell ran: nothing shows whether the gate is needed' });
    const md = renderRecommendationMarkdown(rec);
    expect(md).toContain('| readiness gate | not tested | the gate was only ever on');
    expect(md).not.toContain('not needed');
    // The seconds, measured, are values with their evidence.
    expect(rec.overall.preStopSeconds).toMatchObject({ state: 'value', value: 20 });
  });

  it('never counts cells whose access logs are missing or partial as "no request lost to a not-yet-healthy target"', () => {
    const zeros = { 'no-healthy-target': 0, 'registered-not-healthy': 0 };
    const missing = cell({ fiveXX: 40, causes: zeros, logs: 'missing' });
    const partial = cell({ preStop: 5, fiveXX: 20, causes: zeros, logs: 'partial' });
    const g = recommend([missing, partial]).overall.readinessGate;
    expect(g).toMatchObject({ state: 'not-tested', value: null, lost: 0 });
    expect(g.why).toBe('the gate was only ever off, and none of the 2 gate-off cells has causes from complete access logs: nothing shows whether the gate is needed');
    expect(renderRecommendationMarkdown(recommend([missing, partial]))).toContain('| readiness gate | not tested |');
    // The same cells with complete logs do say it.
    expect(recommend([{ ...missing, explain: { ...missing.explain!, logs: 'complete' } }, partial]).overall.readinessGate).toMatchObject({ state: 'value', value: false });
    // What partial logs did show is evidence: requests lost to not-yet-healthy targets turn the gate on.
    const shown = cell({ preStop: 5, fiveXX: 3, causes: { 'registered-not-healthy': 3 }, logs: 'partial' });
    expect(recommend([missing, shown]).overall.readinessGate).toMatchObject({ state: 'value', value: true, lost: 3 });
  });

  it('reads a preStop-20 cell that lost requests, below a recommended 36 s, as support', () => {
    // 30 + max(5, 20 % × 30 = 6) = 36; 36 + 1 + 5 = 42; delay in [6, 26]; distance 16/36 + 12/42 + 16/26 = 1.346.
    const below = cell({ gate: true, preStop: 20, grace: 30, delay: 10, fiveXX: 40, dereg: [30], longest: [1] });
    const o = recommend([below]).overall;
    expect([o.preStopSeconds.value, o.terminationGracePeriodSeconds.value, o.deregistrationDelaySeconds.value]).toEqual([36, 42, 26]);
    expect(o.check).toMatchObject({ verdict: 'untested', nearest: { meets: false, verdict: 'supports' }, below: { cells: 1, lost: 1 } });
    const lines = checkLines(o);
    expect(lines[1]).toBe(`Nearest cell (gate on, preStop 20 s, grace 30 s, delay 10 s; distance 1.346, below the recommendation) supports it: it lost requests, as a config below the recommendation may (${below.id}: 40).`);
    expect(lines.join('\n')).not.toContain('contradict');
    // A cell that meets every value and lost requests still contradicts it.
    const meeting = cell({ gate: true, preStop: 40, grace: 45, delay: 20, fiveXX: 2 });
    expect(checkLines(recommend([below, meeting]).overall)[0]).toBe(`Contradicted: 1 of 1 valid cell meeting every recommended value lost requests (${meeting.id}: 2).`);
  });

  it('says inconclusive, with the repeats that would decide, for the default matrix\'s gate at p = 0.027 (378 vs 326), and on at p = 0.0042 (378 vs 308)', async () => {
    const run = (on: number) => cellsOf('fixtures/matrices/default.yaml', (key) => ({ 'off|0|30|300': 378, 'on|0|30|300': on, 'on|5|30|300': 179 })[key] ?? 0);
    const open = recommend(await run(326));
    const g = open.overall.readinessGate;
    expect(g).toMatchObject({ state: 'inconclusive', value: null, lost: 0 });
    expect(g.pairs).toHaveLength(3);
    // P(X ≥ 378 | X ~ Binomial(704, 1/2)) = 0.02726 (exact sum in Python); twice the counts, 756 of 1408: 0.00302.
    for (const p of g.pairs!) {
      expect(p).toMatchObject({ verdict: 'undecided', off: { failed: 378 }, on: { failed: 326 }, decide: { repeats: 2 } });
      expect(p.pValue).toBeCloseTo(0.02726, 4);
      expect(p.decide!.pValue).toBeCloseTo(0.003016, 5);
    }
    expect(g.why).toContain('rollout at preStop 0 s, grace 30 s, delay 300 s: 378 off vs 326 on (p = 0.027); 2 repeats of each cell would decide it if each repeat lost as these did (p = 0.003; 1 repeat ran)');
    const md = renderRecommendationMarkdown(open);
    expect(md).toContain('| readiness gate | inconclusive | cells alike but for the gate lost more with it off, within noise');
    expect(md).toMatch(/\| rollout \| [^|]+ \| [^|]+ \| [^|]+ \| inconclusive \|/);
    // The check ignores an undecided gate: gate-off cells may meet the recommendation.
    expect(open.overall.check!.meeting.length).toBeGreaterThan(0);

    const decided = recommend(await run(308)).overall.readinessGate;
    expect(decided).toMatchObject({ state: 'value', value: true });
    expect(decided.pairs!.map((p) => [p.verdict, p.decide])).toEqual([['gate-helps', undefined], ['gate-helps', undefined], ['gate-helps', undefined]]);
    expect(decided.pairs![0].pValue).toBeCloseTo(0.00419, 5);
  });

  it('finds the smallest scale that decides, or none when the difference is too small or absent', () => {
    // 6 vs 0 at p = 1/64; 12 vs 0 at 1/4096.
    expect(scaleToDecide(0, 1, 6, 1)).toMatchObject({ k: 2 });
    expect(scaleToDecide(0, 1, 6, 1)!.pValue).toBeCloseTo(1 / 4096, 10);
    expect(scaleToDecide(0, 1, 3, 1)).toMatchObject({ k: 3 });
    expect(scaleToDecide(10, 1, 10, 1)).toBeNull();
    expect(scaleToDecide(10, 1, 9, 1)).toBeNull();
    // One more per repeat out of thousands: not even 1000 repeats decide.
    expect(scaleToDecide(5000, 1, 5001, 1)).toBeNull();
    // Pooled repeats: 30 + 34 over two cells against 20 over one is 32 vs 20 per repeat.
    expect(scaleToDecide(20, 1, 64, 2)).toMatchObject({ k: 2 });
  });
});

describe('recommend: the other axes that changed the failures', () => {
  /** A cell whose config carries keys beyond the four (as the settings registry adds them), with the keys in its id. */
  function axisCell(extra: Record<string, unknown>, o: CellInput & { r?: number } = {}): RecommendCell {
    const base = cell(o);
    const config: CellConfig & Record<string, unknown> = { ...base.config, ...extra };
    const tag = (v: unknown) => (typeof v === 'object' && v ? Object.values(v).join('-') : String(v));
    return { ...base, id: [base.id.replace(/\.r\d+$/, ''), ...Object.entries(extra).map(([k, v]) => `${k}-${tag(v)}`), `r${o.r ?? 1}`].join('.'), config };
  }
  // maxSurge × healthCheckIntervalSeconds under a rollout; replicas and the preStop action never vary.
  const grid = (failed: (surge: string, interval: number) => number, more: Record<string, unknown> = {}) =>
    ['25%', '100%'].flatMap((maxSurge) => [5, 15].map((hc) => axisCell({ maxSurge, healthCheckIntervalSeconds: hc, replicas: 3, preStopAction: 'exec', ...more }, { fiveXX: failed(maxSurge, hc), noExplain: true })));
  const counts: Record<string, number> = { '25%|5': 12, '100%|5': 40, '25%|15': 10, '100%|15': 35 };
  const cells = grid((s, hc) => counts[`${s}|${hc}`]);

  it('says an axis changed the failures when a value lost more beyond noise, which one, with the counts and the two-sided p', () => {
    const axes = otherAxes(cells);
    // replicas and preStopAction are the same in every cell: not listed; the four settings never are.
    expect(axes.map((a) => a.axis)).toEqual(['maxSurge', 'healthCheckIntervalSeconds']);
    const surge = axes[0];
    expect(surge).toMatchObject({ values: ['25%', '100%'], state: 'value', changed: true });
    expect(surge.pairs.map((p) => [p.alike, p.a.value, p.a.failed, p.b.value, p.b.failed, p.lostMore, p.verdict])).toEqual([
      [{ healthCheckIntervalSeconds: 5 }, '25%', 12, '100%', 40, 'b', 'changed'],
      [{ healthCheckIntervalSeconds: 15 }, '25%', 10, '100%', 35, 'b', 'changed'],
    ]);
    // P(X ≥ 40 | X ~ Binomial(52, 1/2)) = 6.377e-5 (exact sum in Python), doubled: 1.275e-4; 35 of 45: 2.471e-4.
    expect(surge.pairs[0].pValue).toBeCloseTo(1.2754e-4, 7);
    expect(surge.pairs[1].pValue).toBeCloseTo(2.4709e-4, 7);
    expect(surge.pairs[0].pValue).toBeCloseTo(2 * comparePoissonCounts(12, 1, 40, 1).pValue, 12);
    expect(surge.why).toBe(
      'changed the failures beyond noise in 2 of 2 pairs (exact test, two-sided, 0.01, at least 5 more): rollout at healthCheckIntervalSeconds 5: maxSurge 100% lost 40 vs 12 with 25% (p = 0.00013); rollout at healthCheckIntervalSeconds 15: maxSurge 100% lost 35 vs 10 with 25% (p = 0.00025)',
    );
  });

  it('says inconclusive within noise, with the counts, the p and the repeats that would decide', () => {
    const hc = otherAxes(cells)[1];
    expect(hc).toMatchObject({ axis: 'healthCheckIntervalSeconds', values: [5, 15], state: 'inconclusive', changed: null });
    // 12 vs 10: P(X ≥ 12 | n = 22) = 0.4159, doubled 0.8318; both counts × 38 is the first that decides (Python: p = 0.00945).
    expect(hc.pairs.map((p) => [p.alike, p.a.failed, p.b.failed, p.lostMore, p.verdict, p.decide?.repeats])).toEqual([
      [{ maxSurge: '25%' }, 12, 10, 'a', 'inconclusive', 38],
      [{ maxSurge: '100%' }, 40, 35, 'a', 'inconclusive', 21],
    ]);
    expect(hc.pairs[0].pValue).toBeCloseTo(0.83181, 4);
    expect(hc.pairs[0].decide!.pValue).toBeCloseTo(0.0094477, 6);
    expect(hc.pairs[1].decide!.pValue).toBeCloseTo(0.0087578, 6);
    expect(hc.why).toContain('one value lost more, within noise, in 2 of 2 pairs (exact test, two-sided, 0.01, at least 5 more): rollout at maxSurge 25%: healthCheckIntervalSeconds 5 lost 12 vs 10 with 15 (p = 0.83); 38 repeats of each cell would decide it if each repeat lost as these did (p = 0.0094; 1 repeat ran)');
  });

  it('is two-sided: 7 vs 0 decides for the gate (one-sided p = 1/128) but not for an axis (p = 1/64)', () => {
    expect(gatePairs([cell({ fiveXX: 7, noExplain: true }), cell({ gate: true, noExplain: true })])).toMatchObject([{ verdict: 'gate-helps' }]);
    const [a] = otherAxes([axisCell({ preStopAction: 'exec' }, { fiveXX: 7 }), axisCell({ preStopAction: 'sleep' })]);
    expect(a.pairs).toMatchObject([{ lostMore: 'a', verdict: 'inconclusive', decide: { repeats: 2 } }]);
    expect(a.pairs[0].pValue).toBeCloseTo(1 / 64, 12);
    // Pooled repeats: 3 + 3 with exec vs 0 + 0 with sleep is 6 vs 0 (p = 1/32); twice the counts decide, so 2 × 2 repeats of each cell.
    const pooled = [1, 2].flatMap((r) => [axisCell({ preStopAction: 'exec' }, { r, fiveXX: 3 }), axisCell({ preStopAction: 'sleep' }, { r })]);
    expect(otherAxes(pooled)[0].pairs).toMatchObject([{ a: { failed: 6 }, b: { failed: 0 }, verdict: 'inconclusive', decide: { repeats: 4 } }]);
  });

  it('says no difference when every pair lost the same per repeat, pooling repeats', () => {
    const action = [1, 2].flatMap((r) => ['exec', 'sleep'].map((preStopAction) => axisCell({ preStopAction }, { r, fiveXX: 3 })));
    const [a] = otherAxes(action);
    expect(a).toMatchObject({ axis: 'preStopAction', state: 'value', changed: false, pairs: [{ a: { value: 'exec', failed: 6, cells: [action[0].id, action[2].id] }, b: { value: 'sleep', failed: 6 }, lostMore: null, verdict: 'no-difference', pValue: 1 }] });
    expect(a.pairs[0].decide).toBeUndefined();
    expect(a.why).toBe('no difference: the pair lost the same per repeat (rollout: preStopAction exec and sleep lost 6 in 2 repeats each (p = 1))');
  });

  it('makes a pair only of cells equal in every other key (an absent key counts); an axis varying with no such pair is not tested', () => {
    // maxSurge and slowStartSeconds change together; minReadySeconds is absent from one cell.
    const together = [axisCell({ maxSurge: '25%', slowStartSeconds: 0 }, { fiveXX: 50 }), axisCell({ maxSurge: '100%', slowStartSeconds: 30 })];
    const absent = [axisCell({ loadBalancingAlgorithm: 'round_robin' }, { kind: 'drain', fiveXX: 50 }), axisCell({ loadBalancingAlgorithm: 'least_outstanding_requests', minReadySeconds: 10 }, { kind: 'drain' })];
    const axes = otherAxes([...together, ...absent]);
    expect(axes.map((a) => [a.axis, a.state, a.pairs.length])).toEqual([
      ['maxSurge', 'not-tested', 0],
      ['slowStartSeconds', 'not-tested', 0],
      ['loadBalancingAlgorithm', 'not-tested', 0],
      ['minReadySeconds', 'not-tested', 0],
    ]);
    expect(axes[3]).toMatchObject({ values: [null, 10], changed: null });
    // The drain cells have no maxSurge at all: "unset" is a value of its own.
    expect(axes[0].why).toBe('it varies (25%, 100%, unset), but no two valid cells are alike but for it (same disruption, every other setting equal): nothing shows what it changes');
    // Cells of another disruption are never paired: the same config under a drain lost nothing.
    const across = otherAxes([axisCell({ maxSurge: '25%' }, { fiveXX: 50 }), axisCell({ maxSurge: '100%' }, { kind: 'drain' })]);
    expect(across).toMatchObject([{ axis: 'maxSurge', state: 'not-tested', pairs: [] }]);
    // No other axis varies: nothing listed; an invalid cell's value does not make an axis vary.
    expect(otherAxes([A, B, C])).toEqual([]);
    expect(otherAxes([axisCell({ maxSurge: '25%' }), axisCell({ maxSurge: '100%' }, { valid: false, preStop: 5 })])).toEqual([]);
  });

  it('takes each entry of the generic axes record as an axis of its own', () => {
    const keepalive = ['node-default', 'above-alb'].flatMap((v, i) => [5, 15].map((hc) => axisCell({ healthCheckIntervalSeconds: hc, axes: { keepalive: v, gc: 'default' } }, { fiveXX: i ? 0 : 30 })));
    const axes = otherAxes(keepalive);
    expect(axes.map((a) => [a.axis, a.state, a.changed])).toEqual([
      ['healthCheckIntervalSeconds', 'value', false],
      ['axes.keepalive', 'value', true],
    ]);
    expect(axes[1].pairs[0]).toMatchObject({ alike: { healthCheckIntervalSeconds: 5 }, a: { value: 'node-default', failed: 30 }, b: { value: 'above-alb', failed: 0 }, lostMore: 'a' });
  });

  it('pairs cells for the gate only when every other key is equal, and names the other axes of each pair', () => {
    // Gate off at maxSurge 25% lost 50, gate on at 100% nothing: not alike but for the gate.
    expect(gatePairs([axisCell({ maxSurge: '25%' }, { fiveXX: 50 }), axisCell({ maxSurge: '100%' }, { gate: true })])).toEqual([]);
    const both = ['25%', '100%'].flatMap((maxSurge) => [false, true].map((gate) => axisCell({ maxSurge }, { gate, fiveXX: gate || maxSurge === '100%' ? 0 : 50 })));
    const pairs = gatePairs(both);
    expect(pairs.map((p) => [p.alike, p.off.failed, p.on.failed, p.verdict])).toEqual([
      [{ maxSurge: '25%' }, 50, 0, 'gate-helps'],
      [{ maxSurge: '100%' }, 0, 0, 'no-increase'],
    ]);
    expect(recommend(both).overall.readinessGate.why).toContain('rollout at preStop 0 s, grace 30 s, delay 300 s, maxSurge 25%: 50 off vs 0 on');
  });

  it('writes run.json that its schema accepts with extra config keys, and reads a recommendation written before the other axes', () => {
    const withLags = cells.map((c) => ({ ...c, explain: { logs: 'complete' as const, causes: {}, lags: { deregistration: dist([4]), longestRequest: dist([0.5]) } } }));
    const rec = recommend(withLags);
    expect(rec.otherAxes).toHaveLength(2);
    // The nearest config holds the four settings only, whatever else the cells' config carries.
    expect(rec.overall.check!.nearest!.config).toEqual({ preStopSeconds: 0, terminationGracePeriodSeconds: 30, readinessGate: false, deregistrationDelaySeconds: 300 });
    expect(recommendationSchema.parse(JSON.parse(JSON.stringify(rec)))).toEqual(rec);
    const { otherAxes: _, ...old } = rec;
    expect(recommendationSchema.parse(JSON.parse(JSON.stringify(old)))).toEqual(old);
    expect(renderRecommendationMarkdown(old)).not.toContain('Other axes');
  });

  it('keeps the recommendation of a run.json written before the other axes (readRun), and writes them into a new one', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'rh-axes-'));
    try {
      await cp('fixtures/results/report-fixture', dir, { recursive: true });
      const fixture = await readRun(dir);
      const { otherAxes: _, ...old } = recommend(fixture.cells);
      const raw = JSON.parse(await readFile(path.join(dir, 'run.json'), 'utf8'));
      await writeFile(path.join(dir, 'run.json'), JSON.stringify({ ...raw, recommendation: old }));
      expect((await readRun(dir)).record.recommendation).toEqual(old);
      const now = recommend(cells);
      await writeFile(path.join(dir, 'run.json'), JSON.stringify({ ...raw, recommendation: now }));
      expect((await readRun(dir)).record.recommendation?.otherAxes?.map((a) => a.axis)).toEqual(['maxSurge', 'healthCheckIntervalSeconds']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('renders the other axes beside the settings, one row each, and nothing when no other axis varies', () => {
    const all = [...cells, axisCell({ maxSurge: '25%', healthCheckIntervalSeconds: 5, replicas: 3, preStopAction: 'sleep' }, { fiveXX: 12, noExplain: true })];
    const rec = recommend(all);
    expect(otherAxisRows(rec).map((r) => [r.axis, r.values, r.failures])).toEqual([
      ['maxSurge', '25%, 100%', 'changed'],
      ['healthCheckIntervalSeconds', '5, 15', 'inconclusive'],
      ['preStopAction', 'exec, sleep', 'no difference'],
    ]);
    const md = renderRecommendationMarkdown(rec);
    expect(md).toContain('Other axes (beside the recommendation): cells alike but for one axis (same disruption, every other setting equal, repeats pooled), per pair of its values; the exact test of the readiness gate\'s pairs, two-sided, at 0.01 and at least 5 more, each pair on its own.');
    expect(md).toContain('| axis | values | failures | evidence |');
    expect(md).toContain('| maxSurge | 25%, 100% | changed | changed the failures beyond noise in 2 of 2 pairs');
    expect(md).toContain('| preStopAction | exec, sleep | no difference | no difference: the pair lost the same per repeat (rollout at maxSurge 25%, healthCheckIntervalSeconds 5: preStopAction exec and sleep lost 12 each (p = 1)) |');
    expect(renderRecommendationMarkdown(recommend([A, B, C]))).not.toContain('Other axes');
  });
});

describe('recommend: cells that disrupted the app behind a gateway', () => {
  it('leaves them out of the four settings (the ALB lags were the gateway pods\u2019), says so, and still compares them under other axes', () => {
    const direct = cell({ kind: 'rollout', preStop: 0, fiveXX: 40, dereg: [12], longest: [1] });
    // Behind the gateway: a long lag measured on the gateway's target group, nothing lost.
    const behind = { ...cell({ kind: 'rollout', preStop: 0, fiveXX: 0, dereg: [50], longest: [1] }), id: 'rollout.gate-off.prestop-0.grace-30.dereg-300.gw.r1', config: { ...direct.config, topology: 'gateway' as const }, behindGateway: { namespace: 'ingress-nginx', deployment: 'ingress-nginx-controller' } };
    const rec = recommend([{ ...direct, config: { ...direct.config, topology: 'direct' as const } }, behind]);
    expect(rec.overall.cells).toBe(1);
    expect(rec.overall.preStopSeconds.value).toBe(17);
    expect(rec.behindGateway?.cells).toBe(1);
    expect(recommendationSchema.parse(rec)).toEqual(rec);
    expect(renderRecommendationMarkdown(rec)).toContain("Left out: 1 cell disrupted the app behind a gateway, whose pods were the ALB's targets");
    expect(rec.otherAxes?.map((a) => a.axis)).toContain('topology');
  });
});
