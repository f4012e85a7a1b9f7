/**
 * What a cell's timeline says at a given instant, indexed once: which pod had a target IP, the
 * pod's phase (running, in preStop, after SIGTERM, gone), the target's health state, and the
 * node's state (cordoned, tainted by a spot notice, instance terminated). Pure. Times are model
 * seconds since the cell started (the timeline's t).
 */
import type { TimelineEvent } from '../observe/timeline.ts';

/** The settings that decide a pod's phases. */
export interface PhaseSettings {
  preStopSeconds: number;
  terminationGracePeriodSeconds: number;
  deregistrationDelaySeconds: number;
}

/** One pod's life as the timeline saw it. */
export interface PodLife {
  name: string;
  ip?: string;
  node?: string;
  /** When it was first seen (created, or present when the cell started). */
  since: number;
  ready?: number;
  terminating?: number;
  deleted?: number;
}

/** A pod's phase at one instant. */
export type PodPhase = 'not-ready' | 'running' | 'prestop' | 'after-sigterm' | 'gone';

/** A node's life as the disruption events saw it. */
export interface NodeLife {
  name: string;
  instanceId?: string;
  cordoned?: number;
  tainted?: number;
  terminated?: number;
}

/** One state of a target from `t` on (seen at `t`; it changed in (`since`, `t`] when known). */
export interface TargetSpan {
  t: number;
  state: string;
  since?: number;
}

/** Best estimate of when a seen target change happened: the middle of (since, t], else half a 1 s poll before t. */
export function changedAt(s: TargetSpan): number {
  return s.since !== undefined && s.since <= s.t ? (s.since + s.t) / 2 : Math.max(0, s.t - 0.5);
}

/** The indexed timeline of one cell. */
export interface CellIndex {
  settings: PhaseSettings;
  pods: PodLife[];
  nodes: Map<string, NodeLife>;
  /** `ip:port` → its states in order. */
  targets: Map<string, TargetSpan[]>;
}

// The node named in a disruption event's detail (see harness/disruptions/): `node-a1`,
// `node-a1 (already cordoned; …)`, `node-b2 (i-0abc…), termination in 120 s`.
const NODE_DETAIL = /^(\S+)(?: \((i-[0-9a-f]+)\))?/;

/** True for a spot notice NTH handled (the default; its detail names another handler otherwise). */
export function nthNotice(detail: string): boolean {
  const handler = /; handler (\S+)$/.exec(detail)?.[1];
  return !handler || handler === 'nth';
}

/** Whose pods an index holds: the app's (the ALB's targets in a direct cell) or, in a gateway cell, the gateway's. */
export type PodRole = 'app' | 'gateway';

/** Indexes a cell's timeline: the pods of `role` (the app's by default), every node and target. */
export function indexTimeline(events: readonly TimelineEvent[], settings: PhaseSettings, role: PodRole = 'app'): CellIndex {
  const pods = new Map<string, PodLife>();
  const nodes = new Map<string, NodeLife>();
  const targets = new Map<string, TargetSpan[]>();
  const node = (name: string) => {
    let n = nodes.get(name);
    if (!n) nodes.set(name, (n = { name }));
    return n;
  };
  for (const e of events) {
    if (e.type === 'pod') {
      if ((e.role ?? 'app') !== role) continue;
      let p = pods.get(e.pod);
      if (!p) pods.set(e.pod, (p = { name: e.pod, since: e.t }));
      if (e.ip) p.ip = e.ip;
      if (e.node) p.node = e.node;
      // A pod present when the cell started was serving already (the cell starts from steady).
      if (e.change === 'ready' || e.change === 'present') p.ready ??= e.t;
      if (e.change === 'terminating') p.terminating ??= e.t;
      if (e.change === 'deleted') p.deleted ??= e.t;
    } else if (e.type === 'target') {
      const spans = targets.get(e.target) ?? [];
      spans.push({ t: e.t, state: e.state, ...(e.since !== undefined ? { since: e.since } : {}) });
      targets.set(e.target, spans);
    } else if (e.type === 'disruption' && e.detail) {
      const m = NODE_DETAIL.exec(e.detail);
      if (e.action === 'cordon' && m) node(m[1]).cordoned ??= e.t;
      // The event that names the node's instance: a spot notice, a rebalance recommendation, a node replacement.
      if ((e.action === 'spot-notice' || e.action === 'rebalance-recommendation' || e.action === 'node-replace') && m?.[2]) node(m[1]).instanceId = m[2];
      // NTH taints at the notice (results before handlers had no taint event); the other handlers' taints are events of their own.
      if (((e.action === 'spot-notice' && nthNotice(e.detail)) || e.action === 'taint') && m) node(m[1]).tainted ??= e.t;
      if (e.action === 'terminate-instance') {
        const id = e.detail.trim();
        const n = [...nodes.values()].find((x) => x.instanceId === id) ?? node(id);
        n.terminated ??= e.t;
      }
    }
  }
  return { settings, pods: [...pods.values()], nodes, targets };
}

/** True when the timeline has gateway pods: the cell ran the gateway topology. */
export function hasGatewayPods(events: readonly TimelineEvent[]): boolean {
  return events.some((e) => e.type === 'pod' && e.role === 'gateway');
}

/** The pod that had `ip` at `t`: the latest seen with it by then (IPs are reused after a pod is gone). */
export function podAt(index: CellIndex, ip: string, t: number): PodLife | undefined {
  let best: PodLife | undefined;
  for (const p of index.pods) {
    if (p.ip !== ip) continue;
    if (!best || (p.since <= t && p.since > best.since) || best.since > t) best = p;
  }
  return best;
}

/** A pod's phase at `t`. */
export function phaseAt(index: CellIndex, pod: PodLife, t: number): PodPhase {
  if (pod.deleted !== undefined && t >= pod.deleted) return 'gone';
  if (pod.terminating !== undefined && t >= pod.terminating) return t >= pod.terminating + index.settings.preStopSeconds ? 'after-sigterm' : 'prestop';
  return pod.ready !== undefined && t >= pod.ready ? 'running' : 'not-ready';
}

/** The target's state at `t` (undefined before the first poll saw it). */
export function targetStateAt(index: CellIndex, key: string, t: number): string | undefined {
  let state: string | undefined;
  for (const s of index.targets.get(key) ?? []) {
    if (s.t > t) break;
    state = s.state;
  }
  return state;
}

/** When the target last turned `state` at or before `before` (undefined when it never did). */
export function lastTurned(index: CellIndex, key: string, state: string, before = Infinity): number | undefined {
  let at: number | undefined;
  let prev: string | undefined;
  for (const s of index.targets.get(key) ?? []) {
    if (s.t > before) break;
    if (s.state === state && prev !== state) at = s.t;
    prev = s.state;
  }
  return at;
}
