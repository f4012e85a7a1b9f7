/**
 * Lags measured from a cell's access-log entries and its timeline, per target and LB node: how
 * long each node kept sending new requests to a target after its deregistration, how long it took
 * to send the first one after the target turned healthy, and the longest request. Pure. A target's
 * change is taken at the middle of the poll interval that saw it (`changedAt`).
 */
import type { TimelineEvent } from '../observe/timeline.ts';
import { arrivalOf, durationOf, type CellLogEntry } from './attribute.ts';
import { changedAt, indexTimeline, podAt, type PhaseSettings } from './cell-context.ts';

/** A distribution of model seconds. */
export interface Distribution {
  count: number;
  min: number;
  p50: number;
  p90: number;
  max: number;
  /** The measurements themselves, ascending (at most 500 kept). */
  values: number[];
}

/** One measurement: which target and node, and the value (model s). */
export interface LagSample {
  target: string;
  lbNode: string;
  seconds: number;
}

/** The lags of a cell. */
export interface CellLags {
  deregistration: Distribution;
  registration: Distribution;
  longestRequest: Distribution;
  samples: { deregistration: LagSample[]; registration: LagSample[]; longestRequest: LagSample[] };
}

const round = (x: number) => Math.round(x * 1000) / 1000;

/** Nearest-rank percentile of ascending values. */
export function percentile(sorted: readonly number[], p: number): number {
  if (!sorted.length) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** count, min, p50, p90, max of the values (all 0 when there are none). */
export function distributionOf(values: readonly number[]): Distribution {
  const sorted = values.map(round).sort((a, b) => a - b);
  return { count: sorted.length, min: sorted[0] ?? 0, p50: percentile(sorted, 50), p90: percentile(sorted, 90), max: sorted.at(-1) ?? 0, values: sorted.slice(0, 500) };
}

/** What measuring needs. */
export interface LagInput {
  entries: readonly CellLogEntry[];
  timeline: readonly TimelineEvent[];
  settings: PhaseSettings;
  originMs: number;
  /** A node that sent the target nothing in this many model seconds before the deregistration is not measured for it; default 10. */
  recentSeconds?: number;
  /** A node counts as carrying traffic when it had a request within this many model seconds; default 1. */
  busySeconds?: number;
}

/** Measures the lags of a cell. */
export function measureLags(input: LagInput): CellLags {
  const index = indexTimeline(input.timeline, input.settings);
  const recent = input.recentSeconds ?? 10;
  // Arrivals per target and node, ascending.
  const byPair = new Map<string, { target: string; lbNode: string; arrivals: number[]; longest: number }>();
  for (const e of input.entries) {
    if (!e.target) continue;
    const target = `${e.target.ip}:${e.target.port}`;
    const k = `${target} ${e.lbNode}`;
    let pair = byPair.get(k);
    if (!pair) byPair.set(k, (pair = { target, lbNode: e.lbNode, arrivals: [], longest: 0 }));
    pair.arrivals.push(arrivalOf(e, input.originMs));
    pair.longest = Math.max(pair.longest, durationOf(e));
  }
  // Every arrival per LB node: a node that carried no request around a change says nothing of it
  // (clients keep connections to one node, so a node can sit idle for seconds).
  const byNode = new Map<string, number[]>();
  for (const pair of byPair.values()) byNode.set(pair.lbNode, [...(byNode.get(pair.lbNode) ?? []), ...pair.arrivals]);
  for (const list of byNode.values()) list.sort((a, b) => a - b);
  const busy = input.busySeconds ?? 1;
  /** True when the node had a request (to any target) in [from, to]. */
  const carried = (node: string, from: number, to: number) => (byNode.get(node) ?? []).some((a) => a >= from && a <= to);
  const deregistration: LagSample[] = [];
  const registration: LagSample[] = [];
  const longestRequest: LagSample[] = [];
  for (const pair of byPair.values()) {
    pair.arrivals.sort((a, b) => a - b);
    longestRequest.push({ target: pair.target, lbNode: pair.lbNode, seconds: round(pair.longest) });
    const spans = index.targets.get(pair.target) ?? [];
    // Deregistration: each turn to draining; the last request after it, before the target came back.
    for (let i = 0; i < spans.length; i++) {
      if (spans[i].state !== 'draining' || spans[i - 1]?.state === 'draining') continue;
      // The change happened before the poll saw it: measure from the best estimate of when.
      const from = changedAt(spans[i]);
      const back = spans.slice(i + 1).find((s) => s.state === 'initial' || s.state === 'healthy')?.t ?? Infinity;
      const before = pair.arrivals.filter((a) => a < from && a >= from - recent);
      const after = pair.arrivals.filter((a) => a >= from && a < back);
      if (!before.length && !after.length) continue;
      const last = after.length ? after.at(-1)! : from;
      // The node must have gone on sending requests elsewhere soon after: else it was idle, not done.
      if (!carried(pair.lbNode, last + 1e-6, last + busy)) continue;
      deregistration.push({ target: pair.target, lbNode: pair.lbNode, seconds: round(after.length ? after.at(-1)! - from : 0) });
    }
    // Registration: each turn to healthy from initial (or, without target events, the pod's Ready).
    const turns: number[] = [];
    for (let i = 0; i < spans.length; i++) if (spans[i].state === 'healthy' && spans[i - 1]?.state === 'initial') turns.push(changedAt(spans[i]));
    if (!spans.length) {
      const pod = podAt(index, pair.target.split(':').slice(0, -1).join(':'), pair.arrivals[0]);
      if (pod?.ready !== undefined && pod.ready > 0) turns.push(pod.ready);
    }
    for (const at of turns) {
      const first = pair.arrivals.find((a) => a >= at);
      // The node must have been sending requests elsewhere just before: else it was idle, not late.
      if (first !== undefined && carried(pair.lbNode, Math.max(at, first - busy), first - 1e-6)) registration.push({ target: pair.target, lbNode: pair.lbNode, seconds: round(first - at) });
    }
  }
  return {
    deregistration: distributionOf(deregistration.map((s) => s.seconds)),
    registration: distributionOf(registration.map((s) => s.seconds)),
    longestRequest: distributionOf(longestRequest.map((s) => s.seconds)),
    samples: { deregistration, registration, longestRequest },
  };
}
