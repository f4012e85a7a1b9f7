/**
 * Recommended settings from the lags the explain pipeline measured: the smallest preStop, grace
 * period and deregistration delay that cover the largest lags seen (plus a margin), whether the
 * readiness gate is needed, each with its evidence, and which matrix cells confirm or contradict
 * them. Pure: cells in, a `Recommendation` (plain data, valid against `recommendationSchema`) out.
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

const secondsSettingSchema = z
  .object({
    value: z.number().int().min(0).nullable().describe('whole seconds; null: no recommendation (why says)'),
    rule: z.string(),
    arithmetic: z.string().optional().describe('the computation with the measured figures, e.g. "21.3 + max(5, 20 % = 4.26) = 26.3 → 27"'),
    evidence: z.array(evidenceSchema),
    why: z.string().optional(),
  })
  .strict();

const gateSchema = z
  .object({
    value: z.boolean().nullable().describe('true: turn the gate on; false: no cell showed a need; null: no cell has cause data'),
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
          })
          .strict(),
      )
      .optional()
      .describe('cells alike but for the gate, where the gate-off ones lost more beyond noise'),
    why: z.string(),
  })
  .strict();

const checkedCellSchema = z.object({ id: z.string(), valid: z.boolean(), failed: z.number().int().min(0) }).strict();
const verdictSchema = z.enum(['confirmed', 'contradicted', 'untested']);

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
        verdict: verdictSchema,
      })
      .strict()
      .nullable()
      .describe('the valid config with the smallest normalized distance to the recommendation'),
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

type GatePair = NonNullable<RecommendationSet['readinessGate']['pairs']>[number];

/**
 * Cells alike but for the gate (same disruption, preStop, grace, delay; repeats pooled) where the
 * gate-off ones lost more than the gate-on ones beyond noise: the exact test of two Poisson counts
 * on equal traffic per cell, at GATE_PAIR_ALPHA, and at least GATE_PAIR_MIN_CHANGE more.
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
    const scaledOn = (failedOn * off.length) / on.length;
    if (failedOff - scaledOn < GATE_PAIR_MIN_CHANGE) continue;
    const { pValue } = comparePoissonCounts(failedOn, on.length, failedOff, off.length);
    if (pValue >= GATE_PAIR_ALPHA) continue;
    const c = off[0].config;
    pairs.push({
      disruption: disruptionLabel(off[0].disruption),
      preStopSeconds: c.preStopSeconds,
      terminationGracePeriodSeconds: c.terminationGracePeriodSeconds,
      deregistrationDelaySeconds: c.deregistrationDelaySeconds,
      off: { cells: off.map((x) => x.id), failed: failedOff },
      on: { cells: on.map((x) => x.id), failed: failedOn },
      pValue,
    });
  }
  return pairs;
}

const pValueText = (p: number) => (p < 0.0001 ? 'p < 0.0001' : `p = ${Number(p.toPrecision(2))}`);

/**
 * Is the readiness gate needed: any 5xx to a target that was not yet healthy, or cells alike but
 * for the gate where the gate-off ones lost more beyond noise (the gate paces a rollout by the
 * targets' health, so without it the old pods go sooner, whatever the cause of each 5xx).
 */
function gateOf(cells: readonly RecommendCell[]): RecommendationSet['readinessGate'] {
  const pairs = gatePairs(cells);
  const pairText = pairs.length
    ? `cells alike but for the gate lost more with it off (exact test, ${GATE_PAIR_ALPHA}): ${pairs
        .map((p) => `${p.disruption} at preStop ${p.preStopSeconds} s, grace ${p.terminationGracePeriodSeconds} s, delay ${p.deregistrationDelaySeconds} s: ${p.off.failed} off vs ${p.on.failed} on (${pValueText(p.pValue)})`)
        .join('; ')}`
    : '';
  const withPairs = pairs.length ? { pairs } : {};
  const withCauses = cells.filter((c) => c.explain?.causes);
  if (!withCauses.length) {
    if (pairs.length) return { value: true, lost: 0, cells: [], ...withPairs, why: pairText };
    return { value: null, lost: 0, cells: [], why: 'no valid cell has its 5xx attributed to causes (no explain data), and no cells alike but for the gate differ beyond noise: nothing to decide the gate from' };
  }
  const losing = withCauses
    .map((c) => ({ id: c.id, lost: NOT_YET_HEALTHY_CAUSES.reduce((s, k) => s + (c.explain?.causes?.[k] ?? 0), 0), readinessGate: c.config.readinessGate }))
    .filter((c) => c.lost > 0);
  const lost = losing.reduce((s, c) => s + c.lost, 0);
  if (!lost) {
    if (pairs.length) return { value: true, lost: 0, cells: [], ...withPairs, why: `${pairText}; no cell lost a request to a not-yet-healthy target itself (${count(withCauses.length, 'cell')} with causes)` };
    return { value: false, lost: 0, cells: [], why: `no cell lost a request to a not-yet-healthy target (${count(withCauses.length, 'cell')} with causes), and no cells alike but for the gate differ beyond noise` };
  }
  const gated = losing.filter((c) => c.readinessGate).length;
  let why = `${count(lost, 'request')} lost to not-yet-healthy targets (${NOT_YET_HEALTHY_CAUSES.join(', ')}) in ${count(losing.length, 'cell')}`;
  if (gated) why += `; ${gated} of them had the gate on already, so the gate alone does not prevent it there (too few replicas left, maxUnavailable)`;
  if (pairs.length) why += `; ${pairText}`;
  return { value: true, lost, cells: losing, ...withPairs, why };
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

/** The cells that meet the recommendation, and the nearest valid config with its cells. */
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
    nearest = { config: { ...config }, distance, meets: ok, cells: list, verdict: verdictOf(list) };
  }
  return { meeting, verdict: verdictOf(meeting), nearest };
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
    const none = (rule: string) => ({ value: null, rule, evidence: [], why });
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
    preStopSeconds: { value: preStop, rule: rules.preStop, arithmetic: preStopArithmetic, evidence: [dereg] },
    terminationGracePeriodSeconds: { value: grace, rule: rules.grace, arithmetic: `${preStop} + ${fig(L)} + ${marginAt(L)} = ${fig(preStop + L + m(L))} → ${grace}`, evidence: [longest] },
    deregistrationDelaySeconds: {
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
