/**
 * Attribution: the cause class of each 5xx of a cell, from its ALB access-log entry joined with
 * the cell's timeline. Pure. The rules, in the order they are tried, are in README.md beside this
 * file; each attributed entry says which rule matched (`why`).
 */
import type { TimelineEvent } from '../observe/timeline.ts';
import { CAUSE_CLASSES } from '../report/types.ts';
import type { AlbLogEntry } from './alb-log.ts';
import { indexTimeline, phaseAt, podAt, targetStateAt, lastTurned, type CellIndex, type PhaseSettings } from './cell-context.ts';

/** The cause classes, as the design glossary names them (the result schema holds the list). */
export const CAUSES = CAUSE_CLASSES;
/** A cause class. */
export type Cause = (typeof CAUSES)[number];

/** An access-log entry with the LB node whose log object it came from (the key's `<ip>`). */
export interface CellLogEntry extends AlbLogEntry {
  lbNode: string;
}

/** A request the client saw fail (from the cell result's `failures`). */
export interface ClientFailure {
  /** Model seconds since the cell started, when it was sent. */
  t: number;
  path: string;
  status?: number;
  error?: string;
}

/** One attributed 5xx. */
export interface Attributed {
  /** Model seconds since the cell started: when the ALB received it (or the client sent it, for before-alb). */
  t: number;
  status: number;
  path: string | null;
  target: string | null;
  lbNode: string | null;
  pod?: string;
  traceId: string | null;
  /** The gateway's line this 5xx was joined to (gateway cells). */
  gateway?: { pod: string; line: number; status: number; tries: string };
  cause: Cause;
  why: string;
}

/** One entry's cause as a rule found it. */
export interface CauseFound {
  cause: Cause;
  why: string;
  pod?: string;
  gateway?: Attributed['gateway'];
}

/** What attribution needs besides the entries. */
export interface AttributionInput {
  entries: readonly CellLogEntry[];
  timeline: readonly TimelineEvent[];
  settings: PhaseSettings;
  /** Model epoch ms of the timeline's t = 0. */
  originMs: number;
  /** The client's failed requests, to find 5xx the ALB never logged. */
  clientFailures?: readonly ClientFailure[];
  /** How far apart (model s) a client failure and its log entry may be; default 2. */
  matchToleranceSeconds?: number;
  /** Slack (model s) for the timeline's own resolution (target health is polled); default 1. */
  slackSeconds?: number;
  /**
   * How late (model s) the pod watch may show a SIGTERM or a deletion; default `slackSeconds`. The
   * watch's delay is real time: on the twin's fast clock a tenth of a real second is seconds of model
   * time (explain/pipeline.ts scales it).
   */
  watchSlackSeconds?: number;
  /** The cause of an entry by other rules (a gateway cell's, explain/gateway.ts), instead of the direct ones. */
  causeOf?: (e: CellLogEntry) => CauseFound;
}

/** Attribution of a cell. */
export interface Attribution {
  causes: Record<Cause, number>;
  attributed: Attributed[];
  /** Client 5xx matched to a log entry / not matched (before-alb). */
  clientMatched: number;
  clientUnmatched: number;
}

const ms = (x: number | null) => (x === null ? 0 : x);

/** Seconds the ALB spent on the request (the processing times that were taken). */
export function durationOf(e: AlbLogEntry): number {
  return ms(e.requestProcessingTime) + ms(e.targetProcessingTime) + ms(e.responseProcessingTime);
}

/** Model seconds since the cell started at which the ALB received the entry's request. */
export function arrivalOf(e: AlbLogEntry, originMs: number): number {
  return (e.requestCreationMs - originMs) / 1000;
}

/** The cause of one 5xx entry; `slack` for the timeline's resolution, `watchSlack` for the pod watch's lateness (model s). */
export function causeOf(e: CellLogEntry, index: CellIndex, originMs: number, slack = 1, watchSlack = slack): { cause: Cause; why: string; pod?: string } {
  const status = e.elbStatusCode ?? 0;
  const t = arrivalOf(e, originMs);
  const end = Math.max(t, (e.timeMs - originMs) / 1000, t + durationOf(e));
  const { preStopSeconds: preStop, terminationGracePeriodSeconds: grace, deregistrationDelaySeconds: delay } = index.settings;
  if (e.targetStatusCode !== null && e.targetStatusCode >= 500 && e.targetStatusCode === status) return { cause: 'app-5xx', why: `the target answered ${e.targetStatusCode}` };
  if (!e.target) {
    if (status === 503) return { cause: 'no-healthy-target', why: '503 with no target chosen' };
    return { cause: 'unknown', why: `${status} with no target chosen` };
  }
  const key = `${e.target.ip}:${e.target.port}`;
  const pod = podAt(index, e.target.ip, t);
  const node = pod?.node ? index.nodes.get(pod.node) : undefined;
  const named = pod ? { pod: pod.name } : {};
  if (node?.terminated !== undefined && node.terminated <= end + slack) {
    return { cause: 'instance-gone', why: `node ${node.name}'s instance was terminated at ${node.terminated} s, ${node.terminated <= t ? 'before the request came' : 'while it was in flight'}`, ...named };
  }
  const atArrival = pod && phaseAt(index, pod, t);
  // A pod the watch had seen deleted before the request came had nothing in flight to cut or kill.
  const goneAtArrival = atArrival === 'gone';
  const drainedAt = lastTurned(index, key, 'draining', t + slack);
  if (drainedAt !== undefined && t < drainedAt + delay + slack && drainedAt + delay <= end + slack && !goneAtArrival) {
    return { cause: 'delay-elapsed-in-flight', why: `the deregistration delay (${delay} s from draining at ${drainedAt} s) elapsed while the request was in flight`, ...named };
  }
  if (pod?.terminating !== undefined) {
    const killAt = pod.terminating + grace;
    if (t < killAt + slack && killAt <= end + slack && !goneAtArrival) {
      return { cause: 'grace-expired-in-flight', why: `the grace period (${grace} s from terminating at ${pod.terminating} s) expired while the request was in flight`, ...named };
    }
  }
  if (!pod || !atArrival) return { cause: 'unknown', why: `no pod of the cell had the target IP ${e.target.ip}` };
  let phase = atArrival;
  // The pod watch sees a deletion or SIGTERM a little after it happened: a refused request just
  // before the event belongs to it — to the first of them: a SIGTERM the watch saw within the
  // window came before a deletion in it (a pod's app that quits at SIGTERM is deleted moments later).
  const soon = phaseAt(index, pod, t + watchSlack);
  if ((phase === 'running' || phase === 'prestop') && (soon === 'after-sigterm' || soon === 'gone') && e.targetStatusCode === null) {
    const sigtermAt = pod.terminating === undefined ? undefined : pod.terminating + preStop;
    phase = soon === 'gone' && sigtermAt !== undefined && sigtermAt < pod.deleted! ? 'after-sigterm' : soon;
  }
  const since = (at: number, what: string) => (t >= at ? `${round(t - at)} s after ${what}` : `${round(at - t)} s before the watch saw ${what} (the watch sees events late)`);
  if (phase === 'gone') return { cause: 'routed-to-gone-pod', why: `routed to ${pod.name} ${since(pod.deleted!, 'its deletion')} (deleted at ${pod.deleted} s)`, ...named };
  if (phase === 'after-sigterm') return { cause: 'routed-after-sigterm', why: `routed to ${pod.name} ${since(pod.terminating! + preStop, 'its SIGTERM')} (terminating at ${pod.terminating} s + preStop ${preStop} s)`, ...named };
  const state = targetStateAt(index, key, t);
  if (state === 'initial' || state === 'unhealthy' || phase === 'not-ready') {
    return { cause: 'registered-not-healthy', why: `routed to ${key} while it was ${state ?? 'not yet seen'} (pod ${phase})`, ...named };
  }
  if (status === 502 && e.targetStatusCode === null) {
    return { cause: 'keepalive-race', why: `502 without a target answer from ${pod.name} while it was ${phase} and the target ${state ?? 'not yet seen'}: a connection the target had just closed`, ...named };
  }
  return { cause: 'unknown', why: `${status} from ${key} (${pod.name} ${phase}, target ${state ?? 'not yet seen'}) fits no rule`, ...named };
}

const round = (x: number) => Math.round(x * 1000) / 1000;

/** Attributes every 5xx entry of a cell, and the client 5xx the ALB never logged. */
export function attribute(input: AttributionInput): Attribution {
  const index = indexTimeline(input.timeline, input.settings);
  const causes = Object.fromEntries(CAUSES.map((c) => [c, 0])) as Record<Cause, number>;
  const attributed: Attributed[] = [];
  const fiveXX = input.entries.filter((e) => (e.elbStatusCode ?? 0) >= 500).sort((a, b) => a.requestCreationMs - b.requestCreationMs);
  for (const e of fiveXX) {
    const c: CauseFound = input.causeOf ? input.causeOf(e) : causeOf(e, index, input.originMs, input.slackSeconds ?? 1, input.watchSlackSeconds ?? input.slackSeconds ?? 1);
    causes[c.cause]++;
    attributed.push({
      t: round(arrivalOf(e, input.originMs)),
      status: e.elbStatusCode ?? 0,
      path: e.path,
      target: e.target ? `${e.target.ip}:${e.target.port}` : null,
      lbNode: e.lbNode,
      ...(c.pod ? { pod: c.pod } : {}),
      traceId: e.traceId,
      ...(c.gateway ? { gateway: c.gateway } : {}),
      cause: c.cause,
      why: c.why,
    });
  }
  const { matched, unmatched } = matchClientFailures(input.clientFailures ?? [], fiveXX, input.originMs, input.matchToleranceSeconds ?? 2);
  for (const f of unmatched) {
    causes['before-alb']++;
    attributed.push({ t: f.t, status: f.status ?? 0, path: f.path, target: null, lbNode: null, traceId: null, cause: 'before-alb', why: `the client got ${f.status} for ${f.path} at ${f.t} s and no ALB log entry of the cell matches it` });
  }
  attributed.sort((a, b) => a.t - b.t);
  return { causes, attributed, clientMatched: matched, clientUnmatched: unmatched.length };
}

/**
 * Pairs each client 5xx with an unpaired 5xx log entry of the same status and path whose arrival
 * is nearest its send time, within the tolerance; the client 5xx left over never reached the log.
 */
export function matchClientFailures(failures: readonly ClientFailure[], entries: readonly AlbLogEntry[], originMs: number, tolerance: number): { matched: number; unmatched: ClientFailure[] } {
  const free = entries.map((e) => ({ t: arrivalOf(e, originMs), status: e.elbStatusCode, path: e.path, used: false }));
  const unmatched: ClientFailure[] = [];
  let matched = 0;
  for (const f of [...failures].filter((x) => x.status !== undefined && x.status >= 500).sort((a, b) => a.t - b.t)) {
    let best: (typeof free)[number] | undefined;
    for (const c of free) {
      if (c.used || c.status !== f.status || c.path !== f.path) continue;
      const d = Math.abs(c.t - f.t);
      if (d <= tolerance && (!best || d < Math.abs(best.t - f.t))) best = c;
    }
    if (best) {
      best.used = true;
      matched++;
    } else unmatched.push(f);
  }
  return { matched, unmatched };
}
