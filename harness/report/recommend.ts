/**
 * Recommended settings from the lags the explain pipeline measured: the smallest preStop, grace
 * period and deregistration delay that cover the largest lags seen (plus a margin), whether the
 * readiness gate is needed, and which matrix cells confirm or contradict them. Every setting is in
 * one of three states: a value with its evidence; not tested (no cell could show it); inconclusive
 * (the cells that could show it do not decide it: the counts, the p-value, and the repeats that
 * would). Beside it, which other axes of the matrix changed the failures beyond noise (cells alike
 * but for one axis, the same exact test). Pure: cells in, a `Recommendation` (plain data, valid
 * against `recommendationSchema`) out.
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
  /** Set when the cell disrupted an app behind a gateway: the ALB's lags acted on the gateway's pods, not on the disrupted ones. */
  behindGateway?: unknown;
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

/** A config value as run.json stores it (the config is a record of JSON values); null: the key is absent from the cells' config. */
const axisValueSchema = z.json();
/** The other axes' values a group of cells shares: only the keys that vary among the valid cells of the run. */
/** The repeats at which an undecided pair's test would decide (shared by the gate pairs and the axis pairs). */
const decideSchema = z
  .object({ repeats: z.number().int().min(1).nullable().describe('null: not even at MAX_DECIDING_SCALE times the repeats'), pValue: z.number().min(0).max(1) })
  .strict();

const alikeSchema = z.record(z.string(), axisValueSchema);

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
            alike: alikeSchema.optional().describe('the other axes (beyond the four) these cells share, when any varies in the run'),
            off: z.object({ cells: z.array(z.string()), failed: z.number().int().min(0) }).strict(),
            on: z.object({ cells: z.array(z.string()), failed: z.number().int().min(0) }).strict(),
            pValue: z.number().min(0).max(1),
            verdict: z.enum(['gate-helps', 'undecided', 'no-increase']).describe('gate-helps: off lost more beyond noise; undecided: off lost more, within noise; no-increase: off lost no more'),
            decide: decideSchema
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

const axisSideSchema = z.object({ value: axisValueSchema, cells: z.array(z.string()), failed: z.number().int().min(0) }).strict();

const axisPairSchema = z
  .object({
    disruption: z.string(),
    alike: alikeSchema.describe('the other varying settings, as every cell of the pair has them'),
    a: axisSideSchema.describe('the value seen first'),
    b: axisSideSchema,
    lostMore: z.enum(['a', 'b']).nullable().describe('the side that lost more per repeat; null: the same'),
    pValue: z.number().min(0).max(1).describe('two-sided: twice the exact test\'s one-sided p-value in the direction seen, at most 1'),
    verdict: z.enum(['changed', 'inconclusive', 'no-difference']).describe('changed: one value lost more beyond noise; inconclusive: one lost more, within noise; no-difference: both lost the same per repeat'),
    decide: decideSchema
      .optional()
      .describe('inconclusive only: the repeats of each cell at which the same test decides, if the difference per repeat stays as observed'),
  })
  .strict();

const otherAxisSchema = z
  .object({
    axis: z.string().describe('a config key beyond the four, or axes.NAME for a generic axis'),
    values: z.array(axisValueSchema).describe('every value the valid cells had, in the order first seen'),
    state: stateSchema.describe('value: decided (changed says how); not-tested: no two cells are alike but for this axis; inconclusive: a pair lost more, within noise, and none beyond it'),
    changed: z.boolean().nullable().describe('true: a pair changed the failures beyond noise; false: every pair lost the same per repeat; null: not tested or inconclusive'),
    pairs: z.array(axisPairSchema).describe('per group of cells alike but for this axis (same disruption, every other key equal, repeats pooled), per pair of its values'),
    why: z.string(),
  })
  .strict();

/** The recommendation of a run (`recommendation` in run.json). */
export const recommendationSchema = z
  .object({
    margin: z.object({ seconds: z.number().min(0), share: z.number().min(0), rule: z.string() }).strict(),
    behindGateway: z.object({ cells: z.number().int().min(1), why: z.string() }).strict().optional().describe('cells left out: they disrupted the app behind a gateway, whose pods were the ALB\'s targets'),
    overall: setSchema,
    byDisruption: z.array(setSchema),
    otherAxes: z.array(otherAxisSchema).optional().describe('the axes beyond preStop, grace, delay and gate that vary among the valid cells, and whether they changed the failures (absent in runs before it was computed)'),
  })
  .strict();

/** The recommendation of a run. */
export type Recommendation = z.infer<typeof recommendationSchema>;
/** The recommendation over one scope (all disruptions, or one). */
export type RecommendationSet = z.infer<typeof recommendationSchema>['overall'];
/** One evidence item. */
export type Evidence = z.infer<typeof evidenceSchema>;
/** What the cells alike but for one other axis say about it. */
export type OtherAxis = z.infer<typeof otherAxisSchema>;
/** One pair of values of an other axis, within one group of cells alike but for it. */
export type AxisPair = OtherAxis['pairs'][number];
/** A config value as stored in the recommendation. */
export type AxisValue = z.infer<typeof axisValueSchema>;

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

/** Whether the exact test decides that the second side lost more: p below alpha (default GATE_PAIR_ALPHA) and at least GATE_PAIR_MIN_CHANGE more. */
const decides = (failedOn: number, on: number, failedOff: number, off: number, alpha = GATE_PAIR_ALPHA) => {
  const { pValue, excess } = comparePoissonCounts(failedOn, on, failedOff, off);
  return { pValue, excess, decided: excess >= GATE_PAIR_MIN_CHANGE && pValue < alpha };
};

/**
 * The smallest k for which the same test decides when both counts are k times what they are (k
 * times the repeats, at the observed failures per repeat), with its p-value; null when even
 * MAX_DECIDING_SCALE does not. The tail falls as k grows at a fixed positive difference, so the k
 * is found by doubling and then halving the interval (a few dozen tests, not thousands).
 */
export function scaleToDecide(failedOn: number, on: number, failedOff: number, off: number, alpha = GATE_PAIR_ALPHA): { k: number; pValue: number } | null {
  const at = (k: number) => decides(failedOn * k, on * k, failedOff * k, off * k, alpha);
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

/** The four settings the recommendation is about; every other config key, and each `axes.NAME`, is an other axis. */
export const RECOMMENDED_SETTINGS: readonly string[] = ['preStopSeconds', 'terminationGracePeriodSeconds', 'readinessGate', 'deregistrationDelaySeconds'];
/** The config key of the generic axes (axis name → value name): each entry is an axis of its own, `axes.NAME`. */
const GENERIC_AXES = 'axes';

const isRecord = (x: unknown): x is Readonly<Record<string, unknown>> => typeof x === 'object' && x !== null && !Array.isArray(x);

/** A config value as JSON with object keys sorted, so that equal values compare equal; an absent key is null. */
function jsonOf(x: unknown): AxisValue {
  if (x === undefined || x === null) return null;
  if (typeof x === 'string' || typeof x === 'boolean') return x;
  if (typeof x === 'number') return Number.isFinite(x) ? x : String(x);
  if (Array.isArray(x)) return x.map(jsonOf);
  if (isRecord(x)) return Object.fromEntries(Object.keys(x).sort().map((k) => [k, jsonOf(x[k])]));
  return String(x);
}

/** A cell's config as axis → value: each key, and each entry of the generic `axes` record as `axes.NAME`. */
export function axesOf(config: CellConfig): Map<string, AxisValue> {
  // Whatever keys the config schema grows, the config is a record of JSON values.
  const record: Readonly<Record<string, unknown>> = config;
  const out = new Map<string, AxisValue>();
  for (const [key, value] of Object.entries(record)) {
    if (key === GENERIC_AXES && isRecord(value)) for (const [name, v] of Object.entries(value)) out.set(`${GENERIC_AXES}.${name}`, jsonOf(v));
    else if (value !== undefined) out.set(key, jsonOf(value));
  }
  return out;
}

const valueKey = (v: AxisValue | undefined) => JSON.stringify(v ?? null);

/** The axes whose value differs between the cells (an absent key is a value of its own), in the order first seen. */
export function varyingAxes(cells: readonly RecommendCell[]): string[] {
  const flat = cells.map((c) => axesOf(c.config));
  const names = [...new Set(flat.flatMap((a) => [...a.keys()]))];
  return names.filter((n) => new Set(flat.map((a) => valueKey(a.get(n)))).size > 1);
}

/** Cells alike in everything but one axis, by that axis's value. */
interface AlikeGroup {
  disruption: string;
  /** The `shown` axes (but the one grouped by) as these cells share them. */
  alike: Record<string, AxisValue>;
  /** By the value of the axis, in the order first seen. */
  sides: { value: AxisValue; cells: RecommendCell[] }[];
}

/** The cells grouped by disruption and by every axis but `axis` (an absent key is a value of its own); repeats fall in the same group. */
function alikeGroups(cells: readonly RecommendCell[], axis: string, shown: readonly string[]): AlikeGroup[] {
  const flat = cells.map((c) => ({ c, axes: axesOf(c.config) }));
  const names = [...new Set(flat.flatMap((f) => [...f.axes.keys()]))].filter((n) => n !== axis);
  const groups = new Map<string, AlikeGroup>();
  for (const { c, axes } of flat) {
    const disruption = disruptionLabel(c.disruption);
    const key = JSON.stringify([disruption, ...names.map((n) => axes.get(n) ?? null)]);
    const g = groups.get(key) ?? { disruption, alike: Object.fromEntries(shown.filter((n) => n !== axis).map((n) => [n, axes.get(n) ?? null])), sides: [] };
    const value = axes.get(axis) ?? null;
    const side = g.sides.find((s) => valueKey(s.value) === valueKey(value));
    if (side) side.cells.push(c);
    else g.sides.push({ value, cells: [c] });
    groups.set(key, g);
  }
  return [...groups.values()];
}

/**
 * Every group of cells alike but for the gate (same disruption and every other setting; repeats
 * pooled), with the exact test of two Poisson counts on equal traffic per cell: gate-helps when the
 * gate-off cells lost more at GATE_PAIR_ALPHA and by at least GATE_PAIR_MIN_CHANGE; undecided when
 * they lost more but not beyond noise (with the repeats that would decide); else no-increase.
 */
export function gatePairs(cells: readonly RecommendCell[]): GatePair[] {
  const others = varyingAxes(cells).filter((n) => !RECOMMENDED_SETTINGS.includes(n));
  const pairs: GatePair[] = [];
  for (const g of alikeGroups(cells, 'readinessGate', others)) {
    const on = g.sides.find((s) => s.value === true)?.cells ?? [];
    const off = g.sides.find((s) => s.value === false)?.cells ?? [];
    if (!on.length || !off.length) continue;
    const failedOn = on.reduce((s, c) => s + failedOf(c), 0);
    const failedOff = off.reduce((s, c) => s + failedOf(c), 0);
    const { pValue, excess, decided } = decides(failedOn, on.length, failedOff, off.length);
    const verdict = decided ? 'gate-helps' : excess > 0 ? 'undecided' : 'no-increase';
    const c = off[0].config;
    const pair: GatePair = {
      disruption: g.disruption,
      preStopSeconds: c.preStopSeconds,
      terminationGracePeriodSeconds: c.terminationGracePeriodSeconds,
      deregistrationDelaySeconds: c.deregistrationDelaySeconds,
      ...(others.length ? { alike: g.alike } : {}),
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

/**
 * The level of the other axes' pairs, two-sided: no value of an axis is expected to lose more, so
 * the gate pairs' one-sided test runs in the direction seen at half of it, and its p-value is doubled.
 */
export const AXIS_PAIR_ALPHA = GATE_PAIR_ALPHA;

/** One pair of values within a group alike but for the axis: changed, inconclusive (with the repeats that would decide) or no difference. */
function axisPair(g: AlikeGroup, a: AlikeGroup['sides'][number], b: AlikeGroup['sides'][number]): AxisPair {
  const side = (s: AlikeGroup['sides'][number]) => ({ value: s.value, cells: s.cells.map((c) => c.id), failed: s.cells.reduce((n, c) => n + failedOf(c), 0) });
  const A = side(a);
  const B = side(b);
  // Per repeat: A.failed / a.cells.length against B.failed / b.cells.length, in whole numbers.
  const order = A.failed * b.cells.length - B.failed * a.cells.length;
  const lostMore = order > 0 ? ('a' as const) : order < 0 ? ('b' as const) : null;
  const [more, less] = lostMore === 'b' ? [b, a] : [a, b];
  const [failedMore, failedLess] = lostMore === 'b' ? [B.failed, A.failed] : [A.failed, B.failed];
  const { pValue, decided } = decides(failedLess, less.cells.length, failedMore, more.cells.length, AXIS_PAIR_ALPHA / 2);
  const twoSided = (p: number) => Math.min(1, 2 * p);
  const verdict = decided ? 'changed' : lostMore ? 'inconclusive' : 'no-difference';
  const pair: AxisPair = { disruption: g.disruption, alike: g.alike, a: A, b: B, lostMore, pValue: twoSided(pValue), verdict };
  if (verdict === 'inconclusive') {
    const scale = scaleToDecide(failedLess, less.cells.length, failedMore, more.cells.length, AXIS_PAIR_ALPHA / 2);
    pair.decide = scale ? { repeats: scale.k * Math.max(a.cells.length, b.cells.length), pValue: twoSided(scale.pValue) } : { repeats: null, pValue: pair.pValue };
  }
  return pair;
}

/** At most this many pairs are written out in an axis's `why` (run.json holds them all). */
const PAIRS_IN_WHY = 5;

/**
 * The axes beyond the four that vary among the valid cells, each with every group of cells alike
 * but for it (same disruption, every other key equal, repeats pooled) and, per pair of its values,
 * the gate pairs' exact test made two-sided: changed (beyond noise: which lost more), inconclusive
 * (the repeats that would decide), or no difference. An axis that never varies is not listed.
 */
export function otherAxes(cells: readonly RecommendCell[]): OtherAxis[] {
  const valid = cells.filter((c) => c.valid);
  const varying = varyingAxes(valid);
  return varying
    .filter((axis) => !RECOMMENDED_SETTINGS.includes(axis))
    .map((axis) => {
      const values: AxisValue[] = [];
      for (const c of valid) {
        const v = axesOf(c.config).get(axis) ?? null;
        if (!values.some((x) => valueKey(x) === valueKey(v))) values.push(v);
      }
      const rank = (v: AxisValue) => values.findIndex((x) => valueKey(x) === valueKey(v));
      const pairs = alikeGroups(valid, axis, varying).flatMap((g) => {
        const sides = [...g.sides].sort((x, y) => rank(x.value) - rank(y.value));
        return sides.flatMap((a, i) => sides.slice(i + 1).map((b) => axisPair(g, a, b)));
      });
      const changed = pairs.filter((p) => p.verdict === 'changed');
      const open = pairs.filter((p) => p.verdict === 'inconclusive');
      const list = (ps: readonly AxisPair[], text: (p: AxisPair) => string) => ps.slice(0, PAIRS_IN_WHY).map(text).join('; ') + (ps.length > PAIRS_IN_WHY ? `; ${ps.length - PAIRS_IN_WHY} more in run.json` : '');
      const test = `exact test, two-sided, ${AXIS_PAIR_ALPHA}, at least ${GATE_PAIR_MIN_CHANGE} more`;
      const of = `${changed.length || open.length} of ${count(pairs.length, 'pair')}`;
      if (!pairs.length) {
        const why = `it varies (${values.map(valueText).join(', ')}), but no two valid cells are alike but for it (same disruption, every other setting equal): nothing shows what it changes`;
        return { axis, values, state: 'not-tested' as const, changed: null, pairs, why };
      }
      if (changed.length) {
        const rest = open.length ? `; ${count(open.length, 'more pair')} within noise` : '';
        return { axis, values, state: 'value' as const, changed: true, pairs, why: `changed the failures beyond noise in ${of} (${test}): ${list(changed, (p) => axisPairText(axis, p))}${rest}` };
      }
      if (open.length) return { axis, values, state: 'inconclusive' as const, changed: null, pairs, why: `one value lost more, within noise, in ${of} (${test}): ${list(open, (p) => `${axisPairText(axis, p)}; ${axisDecideText(p)}`)}` };
      return { axis, values, state: 'value' as const, changed: false, pairs, why: `no difference: ${pairs.length === 1 ? 'the pair' : `each of the ${pairs.length} pairs`} lost the same per repeat (${list(pairs, (p) => axisPairText(axis, p))})` };
    });
}

const pValueText = (p: number) => (p < 0.0001 ? 'p < 0.0001' : `p = ${Number(p.toPrecision(2))}`);
/** A config value as the text shows it: strings bare, an absent key as "unset". */
export const valueText = (v: AxisValue): string => (v === null ? 'unset' : typeof v === 'string' ? v : JSON.stringify(v));
/** "maxSurge 25%, axes.keepalive above-alb". */
export const alikeText = (alike: Readonly<Record<string, AxisValue>>): string =>
  Object.entries(alike)
    .map(([k, v]) => `${k} ${valueText(v)}`)
    .join(', ');
const pairWhere = (p: GatePair) =>
  `${p.disruption} at preStop ${p.preStopSeconds} s, grace ${p.terminationGracePeriodSeconds} s, delay ${p.deregistrationDelaySeconds} s${p.alike && Object.keys(p.alike).length ? `, ${alikeText(p.alike)}` : ''}`;
/** "rollout at healthCheckIntervalSeconds 5: maxSurge 100% lost 40 vs 12 with 25% (p = 0.0001)". */
function axisPairText(axis: string, p: AxisPair): string {
  const where = Object.keys(p.alike).length ? `${p.disruption} at ${alikeText(p.alike)}` : p.disruption;
  const [more, less] = p.lostMore === 'b' ? [p.b, p.a] : [p.a, p.b];
  const same = p.a.cells.length === p.b.cells.length;
  const n = (s: AxisPair['a']) => (p.a.cells.length === 1 && p.b.cells.length === 1 ? '' : ` in ${count(s.cells.length, 'repeat')}`);
  if (!p.lostMore) return `${where}: ${axis} ${valueText(p.a.value)} and ${valueText(p.b.value)} lost ${same ? `${p.a.failed}${n(p.a)} each` : `${p.a.failed}${n(p.a)} and ${p.b.failed}${n(p.b)}`} (${pValueText(p.pValue)})`;
  return `${where}: ${axis} ${valueText(more.value)} lost ${more.failed}${n(more)} vs ${less.failed}${n(less)} with ${valueText(less.value)} (${pValueText(p.pValue)})`;
}
const axisDecideText = (p: AxisPair) =>
  p.decide?.repeats
    ? `${count(p.decide.repeats, 'repeat')} of each cell would decide it if each repeat lost as these did (${pValueText(p.decide.pValue)}; ${count(Math.max(p.a.cells.length, p.b.cells.length), 'repeat')} ran)`
    : `not even ${MAX_DECIDING_SCALE} × the repeats would decide it at this difference`;
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
    const four = { preStopSeconds: config.preStopSeconds, terminationGracePeriodSeconds: config.terminationGracePeriodSeconds, readinessGate: config.readinessGate, deregistrationDelaySeconds: config.deregistrationDelaySeconds };
    nearest = { config: four, distance, meets: ok, cells: list, verdict: ok ? verdictOf(list) : belowVerdictOf(list) };
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

/** The recommended settings from the valid cells' measured lags, over all cells and per disruption; beside them, the other axes that changed the failures. */
export function recommend(cells: readonly RecommendCell[], options: RecommendOptions = {}): Recommendation {
  const seconds = options.marginSeconds ?? DEFAULT_MARGIN_SECONDS;
  const share = options.marginShare ?? DEFAULT_MARGIN_SHARE;
  if (!Number.isFinite(seconds) || seconds < 0) throw new RangeError(`recommend: expected marginSeconds to be a number ≥ 0, got ${seconds}`);
  if (!Number.isFinite(share) || share < 0 || share > 10) throw new RangeError(`recommend: expected marginShare to be a number in 0..10, got ${share}`);
  const margin = { seconds, share };
  // The four settings answer the ALB's lags on the disrupted pods. Behind a gateway that disrupted the
  // app, the ALB's targets were the gateway's pods: those cells say nothing of what the app's preStop,
  // grace or delay must cover, so they are left out here (and compared beside it, under other axes).
  const direct = cells.filter((c) => !c.behindGateway);
  const left = cells.length - direct.length;
  const labels = [...new Set(direct.map((c) => disruptionLabel(c.disruption)))];
  return {
    margin: { seconds, share, rule: `each measured value + ${marginText(seconds, share)} of it, then rounded up to whole seconds` },
    ...(left ? { behindGateway: { cells: left, why: `${left} cell${left === 1 ? '' : 's'} disrupted the app behind a gateway, whose pods were the ALB's targets: the ALB's lags there say nothing of what the app's preStop, grace or delay must cover, so ${left === 1 ? 'it is' : 'they are'} left out of the recommendation` } } : {}),
    overall: recommendScope('all disruptions', direct, margin),
    byDisruption: labels.map((l) => recommendScope(l, direct.filter((c) => disruptionLabel(c.disruption) === l), margin)),
    otherAxes: otherAxes(cells),
  };
}
