/**
 * Recommended settings from the lags the explain pipeline measured: the smallest preStop, grace
 * period and deregistration delay that cover the largest lags seen (plus a margin), whether the
 * readiness gate is needed, and which matrix cells confirm or contradict them. Every setting is in
 * one of three states: a value with its evidence; not tested (no cell could show it); inconclusive
 * (the cells that could show it do not decide it: the counts, the p-value, and the repeats that
 * would). Pure: cells in, a `Recommendation` (plain data, valid against `recommendationSchema`) out.
 */
import { z } from 'zod';
import { disruptionLabel } from '../matrix/expand.ts';
import type { CellConfig, Disruption } from '../matrix/schema.ts';
import { comparePoissonCounts } from './stats.ts';

/** A distribution of measured model seconds, as the explain pipeline writes it (only what is read here). */
export interface LagDistribution {
  count: number;
  max: number;
}

/** One measurement with where it was taken, when the cell kept them. */
export interface LagSampleInput {
  target: string;
  lbNode: string;
  seconds: number;
}

/** What a cell result must carry to be used here (a structural subset of the cell result with its `explain`). */
export interface RecommendCell {
  id: string;
  disruption: Disruption;
  config: CellConfig;
  valid: boolean;
  fiveXX: number;
  requests: { networkErrors: number };
  explain?: {
    /** complete: every LB node delivered; partial or missing: absent causes are unknown, not zero. */
    logs: 'complete' | 'partial' | 'missing';
    causes?: Partial<Record<string, number>>;
    lags?: {
      deregistration: LagDistribution;
      longestRequest: LagDistribution;
      registration?: LagDistribution;
      samples?: { deregistration?: readonly LagSampleInput[]; longestRequest?: readonly LagSampleInput[] };
    };
  };
}

/** Options of `recommend`. */
export interface RecommendOptions {
  /** The absolute floor of the margin, seconds; default 5. */
  marginSeconds?: number;
  /** The proportional part of the margin, a share of the measured value; default 0.2. */
  marginShare?: number;
}

/** Default margin floor (s): the measurement's resolution and run-to-run spread (README, "Recommended settings"). */
export const DEFAULT_MARGIN_SECONDS = 5;
/** Default proportional margin: the largest of a sample of lags is below the tail it was drawn from. */
export const DEFAULT_MARGIN_SHARE = 0.2;
/** AWS support's advice (shared/reference/alb-eks-behaviour.md, section A): preStop ≥ deregistration delay + ~10 s. */
export const DELAY_BELOW_PRESTOP_SECONDS = 10;
/** The ELBv2 range of deregistration_delay.timeout_seconds. */
const MAX_DELAY_SECONDS = 3600;
/** The causes that say a request went to a target that was not yet healthy. */
export const NOT_YET_HEALTHY_CAUSES = ['no-healthy-target', 'registered-not-healthy'] as const;

const evidenceSchema = z
  .object({
    measure: z.enum(['deregistration lag', 'longest request']),
    seconds: z.number().describe('the largest measured, model seconds'),
    cell: z.string().describe('the cell it was measured in'),
    target: z.string().optional().describe('ip:port of the sample, when the cell kept its samples'),
    lbNode: z.string().optional(),
    samples: z.number().int().min(0).describe('measurements pooled'),
    cells: z.number().int().min(0).describe('cells that contributed measurements'),
    next: z.array(z.object({ cell: z.string(), seconds: z.number() }).strict()).max(3).describe('the largest of the next cells, at most 3, largest first'),
  })
  .strict();

/** value: recommended, with its evidence; not-tested: no cell could show it; inconclusive: the cells that could do not decide it. */
const stateSchema = z.enum(['value', 'not-tested', 'inconclusive']);

const secondsSettingSchema = z
  .object({
    state: stateSchema,
    value: z.number().int().min(0).nullable().describe('whole seconds; null: no recommendation (why says)'),
    rule: z.string(),
    arithmetic: z.string().optional().describe('the computation with the measured figures, e.g. "21.3 + max(5, 20 % = 4.26) = 26.3 → 27"'),
    evidence: z.array(evidenceSchema),
    why: z.string().optional(),
  })
  .strict();

const gateSchema = z
  .object({
    state: stateSchema,
    value: z.boolean().nullable().describe('true: turn the gate on; false: the cells that could show a need showed none; null: not tested or inconclusive (state says which)'),
    lost: z.number().int().min(0).describe('5xx of the causes no-healthy-target and registered-not-healthy'),
    cells: z.array(z.object({ id: z.string(), lost: z.number().int().min(0), readinessGate: z.boolean() }).strict()),
    pairs: z
      .array(
        z
          .object({
            disruption: z.string(),
            preStopSeconds: z.number(),
            terminationGracePeriodSeconds: z.number(),
            deregistrationDelaySeconds: z.number(),
            off: z.object({ cells: z.array(z.string()), failed: z.number().int().min(0) }).strict(),
            on: z.object({ cells: z.array(z.string()), failed: z.number().int().min(0) }).strict(),
            pValue: z.number().min(0).max(1),
            verdict: z.enum(['gate-helps', 'undecided', 'no-increase']).describe('gate-helps: off lost more beyond noise; undecided: off lost more, within noise; no-increase: off lost no more'),
            decide: z
              .object({ repeats: z.number().int().min(1).nullable().describe('null: not even at MAX_DECIDING_SCALE times the repeats'), pValue: z.number().min(0).max(1) })
              .strict()
              .optional()
              .describe('undecided only: the repeats of each cell at which the same test decides, if the difference per repeat stays as observed'),
          })
          .strict(),
      )
      .optional()
      .describe('every group of cells alike but for the gate, with what the exact test says'),
    why: z.string(),
  })
  .strict();

const checkedCellSchema = z.object({ id: z.string(), valid: z.boolean(), failed: z.number().int().min(0) }).strict();
const verdictSchema = z.enum(['confirmed', 'contradicted', 'untested']);
/** What a config says about the recommendation: for one below it (not meeting every value) losing requests is what it predicts. */
const nearestVerdictSchema = z.enum(['confirmed', 'contradicted', 'untested', 'supports', 'neutral']);

const checkSchema = z
  .object({
    meeting: z.array(checkedCellSchema).describe('cells whose settings meet every recommended value'),
    verdict: verdictSchema.describe('confirmed: every valid meeting cell lost nothing; contradicted: one lost requests; untested: no valid cell meets them'),
    nearest: z
      .object({
        config: z.object({ preStopSeconds: z.number(), terminationGracePeriodSeconds: z.number(), readinessGate: z.boolean(), deregistrationDelaySeconds: z.number() }).strict(),
        distance: z.number().min(0),
        meets: z.boolean(),
        cells: z.array(checkedCellSchema),
        verdict: nearestVerdictSchema.describe('meets: confirmed (lost nothing) or contradicted (lost requests); below: supports (lost requests, as predicted) or neutral (lost nothing, so the values may be more than needed)'),
      })
      .strict()
      .nullable()
      .describe('the valid config with the smallest normalized distance to the recommendation'),
    below: z.object({ cells: z.number().int().min(0), lost: z.number().int().min(0) }).strict().describe('valid cells that do not meet every value, and how many of them lost requests (as the recommendation predicts they may)'),
  })
  .strict();

const setSchema = z
  .object({
    scope: z.string().describe('"all disruptions", or one disruption label'),
    cells: z.number().int().min(0).describe('valid cells in scope'),
    excluded: z.array(z.string()).describe('invalid cells in scope (never used as evidence)'),
    withLags: z.number().int().min(0),
    preStopSeconds: secondsSettingSchema,
    terminationGracePeriodSeconds: secondsSettingSchema,
    deregistrationDelaySeconds: secondsSettingSchema.extend({ min: z.number().int().min(0).nullable(), max: z.number().int().min(0).nullable() }),
    readinessGate: gateSchema,
    check: checkSchema.nullable().describe('null when no number could be recommended'),
  })
  .strict();

/** The recommendation of a run (`recommendation` in run.json). */
export const recommendationSchema = z
  .object({
    margin: z.object({ seconds: z.number().min(0), share: z.number().min(0), rule: z.string() }).strict(),
    overall: setSchema,
    byDisruption: z.array(setSchema),
  })
  .strict();

/** The recommendation of a run. */
export type Recommendation = z.infer<typeof recommendationSchema>;
/** The recommendation over one scope (all disruptions, or one). */
export type RecommendationSet = z.infer<typeof recommendationSchema>['overall'];
/** One evidence item. */
export type Evidence = z.infer<typeof evidenceSchema>;

/** To the millisecond, so that 25 × 1.2 = 30.000000000000004 rounds up to 30, not 31. */
const ms = (x: number) => Math.round(x * 1000) / 1000;
/** Whole seconds, rounded up. */
export const wholeUp = (x: number): number => Math.ceil(ms(x));
/** "1 cell", "2 cells". */
export const count = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;
/** A figure as written in the arithmetic: at most 3 decimals. */
const fig = (x: number) => String(ms(x));

/** The margin added to a measured value: max(floor, share × value). */
export function marginOf(value: number, seconds = DEFAULT_MARGIN_SECONDS, share = DEFAULT_MARGIN_SHARE): number {
  return ms(Math.max(seconds, share * value));
}

/** Failed requests of a cell, as the table counts them: 5xx plus requests with no HTTP status. */
export const failedOf = (c: RecommendCell): number => c.fiveXX + c.requests.networkErrors;

/** The largest measurement of one kind over the cells, with where it was taken. */
function largest(cells: readonly RecommendCell[], kind: 'deregistration' | 'longestRequest'): Evidence | undefined {
  const measured = cells.flatMap((c) => {
    const d = c.explain?.lags?.[kind];
    return d && d.count > 0 ? [{ c, d }] : [];
  });
  if (!measured.length) return undefined;
  // The largest first; a tie goes to the earlier cell.
  const ranked = measured.map((m, i) => ({ ...m, i })).sort((a, b) => b.d.max - a.d.max || a.i - b.i);
  const { c, d } = ranked[0];
  const sample = c.explain?.lags?.samples?.[kind]?.reduce<LagSampleInput | undefined>((a, s) => (!a || s.seconds > a.seconds ? s : a), undefined);
  return {
    measure: kind === 'deregistration' ? 'deregistration lag' : 'longest request',
    seconds: d.max,
    cell: c.id,
    ...(sample && ms(sample.seconds) === ms(d.max) ? { target: sample.target, lbNode: sample.lbNode } : {}),
    samples: measured.reduce((s, m) => s + m.d.count, 0),
    cells: measured.length,
    // Whether the largest stands alone or others come close: the next cells' largest.
    next: ranked.slice(1, 4).map((m) => ({ cell: m.c.id, seconds: m.d.max })),
  };
}

/** The margin rule as text, e.g. "max(5 s, 20 %)". */
const marginText = (seconds: number, share: number) => `max(${fig(seconds)} s, ${fig(share * 100)} %)`;

/** The level and the least difference at which gate-off cells count as losing more than their gate-on twins. */
export const GATE_PAIR_ALPHA = 0.01;
export const GATE_PAIR_MIN_CHANGE = 5;
/** How far `repeatsToDecide` looks: this many times the repeats that ran. */
export const MAX_DECIDING_SCALE = 1000;

type GatePair = NonNullable<RecommendationSet['readinessGate']['pairs']>[number];

/** Whether the exact test decides for the gate: p below GATE_PAIR_ALPHA and at least GATE_PAIR_MIN_CHANGE more with it off. */
const decides = (failedOn: number, on: number, failedOff: number, off: number) => {
  const { pValue, excess } = comparePoissonCounts(failedOn, on, failedOff, off);
  return { pValue, excess, decided: excess >= GATE_PAIR_MIN_CHANGE && pValue < GATE_PAIR_ALPHA };
};

/**
 * The smallest k for which the same test decides when both counts are k times what they are (k
 * times the repeats, at the observed failures per repeat), with its p-value; null when even
 * MAX_DECIDING_SCALE does not. The tail falls as k grows at a fixed positive difference, so the k
 * is found by doubling and then halving the interval (a few dozen tests, not thousands).
 */
export function scaleToDecide(failedOn: number, on: number, failedOff: number, off: number): { k: number; pValue: number } | null {
  const at = (k: number) => decides(failedOn * k, on * k, failedOff * k, off * k);
  if (failedOff * on <= failedOn * off) return null;
  let hi = 1;
  while (!at(hi).decided) {
    if (hi >= MAX_DECIDING_SCALE) return null;
    hi = Math.min(hi * 2, MAX_DECIDING_SCALE);
  }
  let lo = Math.floor(hi / 2);
  // at(lo) does not decide (or lo = 0), at(hi) does.
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (at(mid).decided) hi = mid;
    else lo = mid;
  }
  return { k: hi, pValue: at(hi).pValue };
}

/**
 * Every group of cells alike but for the gate (same disruption, preStop, grace, delay; repeats
 * pooled), with the exact test of two Poisson counts on equal traffic per cell: gate-helps when the
 * gate-off cells lost more at GATE_PAIR_ALPHA and by at least GATE_PAIR_MIN_CHANGE; undecided when
 * they lost more but not beyond noise (with the repeats that would decide); else no-increase.
 */
export function gatePairs(cells: readonly RecommendCell[]): GatePair[] {
  const groups = new Map<string, { on: RecommendCell[]; off: RecommendCell[] }>();
  for (const c of cells) {
    const key = `${disruptionLabel(c.disruption)}|${configKey({ ...c.config, readinessGate: false })}`;
    const g = groups.get(key) ?? { on: [], off: [] };
    (c.config.readinessGate ? g.on : g.off).push(c);
    groups.set(key, g);
  }
  const pairs: GatePair[] = [];
  for (const { on, off } of groups.values()) {
    if (!on.length || !off.length) continue;
    const failedOn = on.reduce((s, c) => s + failedOf(c), 0);
    const failedOff = off.reduce((s, c) => s + failedOf(c), 0);
    const { pValue, excess, decided } = decides(failedOn, on.length, failedOff, off.length);
    const verdict = decided ? 'gate-helps' : excess > 0 ? 'undecided' : 'no-increase';
    const c = off[0].config;
    const pair: GatePair = {
      disruption: disruptionLabel(off[0].disruption),
      preStopSeconds: c.preStopSeconds,
      terminationGracePeriodSeconds: c.terminationGracePeriodSeconds,
      deregistrationDelaySeconds: c.deregistrationDelaySeconds,
      off: { cells: off.map((x) => x.id), failed: failedOff },
      on: { cells: on.map((x) => x.id), failed: failedOn },
      pValue,
      verdict,
    };
    if (verdict === 'undecided') {
      const scale = scaleToDecide(failedOn, on.length, failedOff, off.length);
      pair.decide = scale ? { repeats: scale.k * Math.max(on.length, off.length), pValue: scale.pValue } : { repeats: null, pValue };
    }
    pairs.push(pair);
  }
  return pairs;
}

const pValueText = (p: number) => (p < 0.0001 ? 'p < 0.0001' : `p = ${Number(p.toPrecision(2))}`);
const pairWhere = (p: GatePair) => `${p.disruption} at preStop ${p.preStopSeconds} s, grace ${p.terminationGracePeriodSeconds} s, delay ${p.deregistrationDelaySeconds} s`;
const pairCounts = (p: GatePair) => `${p.off.failed} off vs ${p.on.failed} on (${pValueText(p.pValue)})`;
const repeatsOf = (p: GatePair) => Math.max(p.off.cells.length, p.on.cells.length);
const decideText = (p: GatePair) =>
  p.decide?.repeats
    ? `${count(p.decide.repeats, 'repeat')} of each cell would decide it if each repeat lost as these did (${pValueText(p.decide.pValue)}; ${count(repeatsOf(p), 'repeat')} ran)`
    : `not even ${MAX_DECIDING_SCALE} × the repeats would decide it at this difference`;

/**
 * Is the readiness gate needed? On: any 5xx to a target that was not yet healthy, or cells alike
 * but for the gate where the gate-off ones lost more beyond noise (the gate paces a rollout by the
 * targets' health, so without it the old pods go sooner, whatever the cause of each 5xx).
 * Inconclusive: gate-off cells lost more than their twins, within noise. Not needed: the pairs show
 * no increase without the gate, or gate-off cells with complete access logs lost nothing to a
 * not-yet-healthy target. Not tested: neither kind of cell ran. Causes from missing or partial
 * logs never say "nothing lost": an entry not read is not a request that went well.
 */
function gateOf(cells: readonly RecommendCell[]): RecommendationSet['readinessGate'] {
  const pairs = gatePairs(cells);
  const withPairs = pairs.length ? { pairs } : {};
  const helps = pairs.filter((p) => p.verdict === 'gate-helps');
  const open = pairs.filter((p) => p.verdict === 'undecided');
  const helpsText = helps.length ? `cells alike but for the gate lost more with it off (exact test, ${GATE_PAIR_ALPHA}): ${helps.map((p) => `${pairWhere(p)}: ${pairCounts(p)}`).join('; ')}` : '';
  // Entries that were read: losses are real whatever else was missed.
  const read = cells.filter((c) => c.explain?.causes && c.explain.logs !== 'missing');
  const complete = read.filter((c) => c.explain!.logs === 'complete');
  const losing = read
    .map((c) => ({ id: c.id, lost: NOT_YET_HEALTHY_CAUSES.reduce((s, k) => s + (c.explain?.causes?.[k] ?? 0), 0), readinessGate: c.config.readinessGate }))
    .filter((c) => c.lost > 0);
  const lost = losing.reduce((s, c) => s + c.lost, 0);
  if (lost) {
    const gated = losing.filter((c) => c.readinessGate).length;
    let why = `${count(lost, 'request')} lost to not-yet-healthy targets (${NOT_YET_HEALTHY_CAUSES.join(', ')}) in ${count(losing.length, 'cell')}`;
    if (gated) why += `; ${gated} of them had the gate on already, so the gate alone does not prevent it there (too few replicas left, maxUnavailable)`;
    if (helps.length) why += `; ${helpsText}`;
    return { state: 'value', value: true, lost, cells: losing, ...withPairs, why };
  }
  const unread = cells.length - complete.length;
  const unreadText = unread ? `; ${count(unread, 'cell')} without causes from complete access logs say nothing of it` : '';
  if (helps.length) return { state: 'value', value: true, lost: 0, cells: [], ...withPairs, why: `${helpsText}; no cell lost a request to a not-yet-healthy target itself (${count(complete.length, 'cell')} with complete logs)` };
  if (open.length) {
    const why = `cells alike but for the gate lost more with it off, within noise (exact test, ${GATE_PAIR_ALPHA}, at least ${GATE_PAIR_MIN_CHANGE} more): ${open.map((p) => `${pairWhere(p)}: ${pairCounts(p)}; ${decideText(p)}`).join('; ')}`;
    return { state: 'inconclusive', value: null, lost: 0, cells: [], ...withPairs, why };
  }
  const offComplete = complete.filter((c) => !c.config.readinessGate);
  if (pairs.length || offComplete.length) {
    const parts = [
      ...(pairs.length ? [`cells alike but for the gate lost no more with it off: ${pairs.map((p) => `${pairWhere(p)}: ${pairCounts(p)}`).join('; ')}`] : []),
      ...(offComplete.length ? [`no gate-off cell with complete access logs lost a request to a not-yet-healthy target (${count(offComplete.length, 'cell')})`] : []),
    ];
    return { state: 'value', value: false, lost: 0, cells: [], ...withPairs, why: parts.join('; ') + unreadText };
  }
  const gates = [...new Set(cells.map((c) => c.config.readinessGate))];
  const tried = gates.length === 1 ? `the gate was only ever ${gates[0] ? 'on' : 'off'}` : 'no gate-on cell is alike a gate-off one but for the gate';
  const offCells = cells.filter((c) => !c.config.readinessGate).length;
  return {
    state: 'not-tested',
    value: null,
    lost: 0,
    cells: [],
    why: cells.length
      ? `${tried}, and ${offCells ? `none of the ${count(offCells, 'gate-off cell')} has causes from complete access logs` : 'no gate-off cell ran'}: nothing shows whether the gate is needed`
      : 'no valid cell: nothing shows whether the gate is needed',
  };
}

/** Normalized distance of a config to the recommendation: Σ |Δ| / recommended over the seconds, + 1 for a gate that differs. */
export function distanceOf(config: CellConfig, rec: { preStopSeconds: number; terminationGracePeriodSeconds: number; deregistrationDelaySeconds: number; readinessGate: boolean | null }): number {
  const rel = (a: number, b: number) => Math.abs(a - b) / Math.max(b, 1);
  const gate = rec.readinessGate === true && !config.readinessGate ? 1 : 0;
  return ms(rel(config.preStopSeconds, rec.preStopSeconds) + rel(config.terminationGracePeriodSeconds, rec.terminationGracePeriodSeconds) + rel(config.deregistrationDelaySeconds, rec.deregistrationDelaySeconds) + gate);
}

/** Whether a config meets every recommended value (the delay: within [min, its own preStop − 10]). */
export function meets(config: CellConfig, rec: { preStopSeconds: number; terminationGracePeriodSeconds: number; delayMin: number; readinessGate: boolean | null }): boolean {
  return (
    config.preStopSeconds >= rec.preStopSeconds &&
    config.terminationGracePeriodSeconds >= rec.terminationGracePeriodSeconds &&
    config.deregistrationDelaySeconds >= rec.delayMin &&
    config.deregistrationDelaySeconds <= config.preStopSeconds - DELAY_BELOW_PRESTOP_SECONDS &&
    (rec.readinessGate !== true || config.readinessGate)
  );
}

const configKey = (c: CellConfig) => `${c.readinessGate ? 'on' : 'off'}|${c.preStopSeconds}|${c.terminationGracePeriodSeconds}|${c.deregistrationDelaySeconds}`;
const checked = (c: RecommendCell) => ({ id: c.id, valid: c.valid, failed: failedOf(c) });
const verdictOf = (cells: readonly { valid: boolean; failed: number }[]) => {
  const valid = cells.filter((c) => c.valid);
  return !valid.length ? ('untested' as const) : valid.some((c) => c.failed > 0) ? ('contradicted' as const) : ('confirmed' as const);
};

/** Below the recommendation a cell may lose requests: losing supports it, losing nothing says the values may be more than needed. */
const belowVerdictOf = (cells: readonly { valid: boolean; failed: number }[]) => {
  const valid = cells.filter((c) => c.valid);
  return !valid.length ? ('untested' as const) : valid.some((c) => c.failed > 0) ? ('supports' as const) : ('neutral' as const);
};

/** The cells that meet the recommendation, the nearest valid config with its cells, and how the cells below it fared. */
function checkOf(all: readonly RecommendCell[], rec: { preStopSeconds: number; terminationGracePeriodSeconds: number; deregistrationDelaySeconds: number; delayMin: number; readinessGate: boolean | null }): NonNullable<RecommendationSet['check']> {
  const meeting = all.filter((c) => meets(c.config, rec)).map(checked);
  const configs = new Map<string, RecommendCell[]>();
  for (const c of all) if (c.valid) configs.set(configKey(c.config), [...(configs.get(configKey(c.config)) ?? []), c]);
  let nearest: NonNullable<RecommendationSet['check']>['nearest'] = null;
  // Ties go to the config that meets the recommendation, then to the first in key order: deterministic.
  for (const key of [...configs.keys()].sort()) {
    const cells = configs.get(key)!;
    const config = cells[0].config;
    const distance = distanceOf(config, rec);
    const ok = meets(config, rec);
    if (nearest && (distance > nearest.distance || (distance === nearest.distance && (nearest.meets || !ok)))) continue;
    const list = cells.map(checked);
    nearest = { config: { ...config }, distance, meets: ok, cells: list, verdict: ok ? verdictOf(list) : belowVerdictOf(list) };
  }
  const below = all.filter((c) => c.valid && !meets(c.config, rec));
  return { meeting, verdict: verdictOf(meeting), nearest, below: { cells: below.length, lost: below.filter((c) => failedOf(c) > 0).length } };
}

/** The recommendation over one scope. */
function recommendScope(scope: string, all: readonly RecommendCell[], margin: { seconds: number; share: number }): RecommendationSet {
  const cells = all.filter((c) => c.valid);
  const excluded = all.filter((c) => !c.valid).map((c) => c.id);
  const withLags = cells.filter((c) => c.explain?.lags).length;
  const m = (x: number) => marginOf(x, margin.seconds, margin.share);
  const mText = marginText(margin.seconds, margin.share);
  const readinessGate = gateOf(cells);
  const dereg = largest(cells, 'deregistration');
  const longest = largest(cells, 'longestRequest');
  const rules = {
    preStop: `≥ the largest deregistration lag + ${mText}`,
    grace: `≥ preStop + the longest request + ${mText}`,
    delay: `≤ preStop − ${DELAY_BELOW_PRESTOP_SECONDS} s (AWS support: preStop ≥ delay + ~10 s) and ≥ the longest request + ${mText}`,
  };
  if (!dereg || !longest) {
    const why = !withLags
      ? `no valid cell has measured lags (no explain data${cells.length ? '' : '; no valid cell'}): no recommendation rather than a guess`
      : !dereg
        ? `no deregistration lag was measured in ${count(withLags, 'cell')} with lags (no target deregistered while it had traffic): no recommendation rather than a guess`
        : `no request duration was measured in ${count(withLags, 'cell')} with lags: no recommendation rather than a guess`;
    const none = (rule: string) => ({ state: 'not-tested' as const, value: null, rule, evidence: [], why });
    return {
      scope,
      cells: cells.length,
      excluded,
      withLags,
      preStopSeconds: none(rules.preStop),
      terminationGracePeriodSeconds: none(rules.grace),
      deregistrationDelaySeconds: { ...none(rules.delay), min: null, max: null },
      readinessGate,
      check: null,
    };
  }
  const D = dereg.seconds;
  const L = longest.seconds;
  const delayMin = wholeUp(L + m(L));
  let preStop = wholeUp(D + m(D));
  // e.g. "21.3 + max(5, 20 % × 21.3 = 4.26) = 26.3 → 27"
  const marginAt = (x: number) => `max(${fig(margin.seconds)}, ${fig(margin.share * 100)} % × ${fig(x)} = ${fig(margin.share * x)})`;
  let preStopArithmetic = `${fig(D)} + ${marginAt(D)} = ${fig(D + m(D))} → ${preStop}`;
  // The delay must fit below the pod's wait and above the longest request; if it cannot, preStop grows.
  if (preStop - DELAY_BELOW_PRESTOP_SECONDS < delayMin) {
    const raised = delayMin + DELAY_BELOW_PRESTOP_SECONDS;
    preStopArithmetic += `, raised to ${raised} so that a delay ≥ ${delayMin} s fits ${DELAY_BELOW_PRESTOP_SECONDS} s below it`;
    preStop = raised;
  }
  const grace = wholeUp(preStop + L + m(L));
  const delayMax = Math.min(MAX_DELAY_SECONDS, preStop - DELAY_BELOW_PRESTOP_SECONDS);
  const rec = { preStopSeconds: preStop, terminationGracePeriodSeconds: grace, deregistrationDelaySeconds: delayMax, delayMin, readinessGate: readinessGate.value };
  return {
    scope,
    cells: cells.length,
    excluded,
    withLags,
    preStopSeconds: { state: 'value', value: preStop, rule: rules.preStop, arithmetic: preStopArithmetic, evidence: [dereg] },
    terminationGracePeriodSeconds: { state: 'value', value: grace, rule: rules.grace, arithmetic: `${preStop} + ${fig(L)} + ${marginAt(L)} = ${fig(preStop + L + m(L))} → ${grace}`, evidence: [longest] },
    deregistrationDelaySeconds: {
      state: 'value',
      value: delayMax,
      rule: rules.delay,
      // The largest value the rule allows: in-flight requests get the most room, and the pod's wait (preStop) is what a rollout pays, not the delay.
      arithmetic: `${fig(L)} + ${marginAt(L)} = ${fig(L + m(L))} → ${delayMin} ≤ delay ≤ ${preStop} − ${DELAY_BELOW_PRESTOP_SECONDS} = ${delayMax}; the largest`,
      evidence: [longest],
      min: delayMin,
      max: delayMax,
    },
    readinessGate,
    check: checkOf(all, rec),
  };
}

/** The recommended settings from the valid cells' measured lags: over all cells, and per disruption. */
export function recommend(cells: readonly RecommendCell[], options: RecommendOptions = {}): Recommendation {
  const seconds = options.marginSeconds ?? DEFAULT_MARGIN_SECONDS;
  const share = options.marginShare ?? DEFAULT_MARGIN_SHARE;
  if (!Number.isFinite(seconds) || seconds < 0) throw new RangeError(`recommend: expected marginSeconds to be a number ≥ 0, got ${seconds}`);
  if (!Number.isFinite(share) || share < 0 || share > 10) throw new RangeError(`recommend: expected marginShare to be a number in 0..10, got ${share}`);
  const margin = { seconds, share };
  const labels = [...new Set(cells.map((c) => disruptionLabel(c.disruption)))];
  return {
    margin: { seconds, share, rule: `each measured value + ${marginText(seconds, share)} of it, then rounded up to whole seconds` },
    overall: recommendScope('all disruptions', cells, margin),
    byDisruption: labels.map((l) => recommendScope(l, cells.filter((c) => disruptionLabel(c.disruption) === l), margin)),
  };
}
