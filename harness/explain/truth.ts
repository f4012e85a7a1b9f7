/**
 * The twin's ground truth: its JSON-lines `access.log` (AccessLogRecord of harness/twin/alb/types.ts,
 * read as data: explain/ does not import the twin) with the exact reason of every 5xx. Joined to
 * the inferred causes by trace id, else by time, path and target; the agreement is the share of
 * 5xx whose inferred class is one the reason accepts (README.md beside this file has the table).
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Attributed, Cause } from './attribute.ts';
import { outcomeOf, type GatewayLogLine } from './gateway-log.ts';

/** The fields of a twin access-log record that scoring reads. */
export interface TruthRecord {
  /** Model seconds since the epoch: when the request arrived. */
  time: number;
  path: string;
  target: string;
  targetState?: string;
  elbStatus: number;
  reason?: string;
  traceId?: string;
  userAgent?: string;
}

/**
 * Reads the ground-truth 5xx records with `time` in [fromS, toS] (model epoch seconds), this
 * User-Agent's when records carry one. Streams the file and parses only the lines of a 5xx: the
 * twin's log has every request of the run.
 */
export async function readTruth(file: string, fromS: number, toS: number, userAgent?: string): Promise<TruthRecord[]> {
  const out: TruthRecord[] = [];
  const lines = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
  let n = 0;
  let bad: string | undefined;
  for await (const line of lines) {
    n++;
    if (bad) throw new Error(bad);
    if (!/"elbStatus":\s*5\d\d/.test(line)) continue;
    let r: TruthRecord & { type?: string };
    try {
      r = JSON.parse(line);
    } catch (error) {
      // Only the last line may be half-written (the twin is still running): fail on any other.
      bad = `${file}:${n}: expected a JSON access-log record, got: ${(error as Error).message}`;
      continue;
    }
    if (r.type !== undefined && r.type !== 'request') continue;
    if (typeof r.time !== 'number' || r.time < fromS || r.time > toS) continue;
    if (userAgent && r.userAgent !== undefined && r.userAgent !== userAgent) continue;
    out.push(r);
  }
  return out;
}

/** The classes right for a twin reason. */
export function acceptedCauses(r: TruthRecord): Cause[] {
  switch (r.reason) {
    case 'no-routable-targets':
      return ['no-healthy-target'];
    case 'connect-refused':
      return r.targetState === 'initial' || r.targetState === 'unhealthy' ? ['registered-not-healthy', 'routed-after-sigterm', 'routed-to-gone-pod'] : ['routed-after-sigterm', 'routed-to-gone-pod'];
    case 'connect-timeout':
      return ['instance-gone'];
    case 'idle-timeout':
      return ['instance-gone', 'grace-expired-in-flight'];
    case 'closed-mid-request':
      return ['grace-expired-in-flight', 'routed-after-sigterm', 'instance-gone'];
    case 'keepalive-race':
      return ['keepalive-race', 'routed-after-sigterm'];
    case 'delay-elapsed-in-flight':
      return ['delay-elapsed-in-flight'];
    case 'target-5xx':
      return ['app-5xx'];
    default:
      return ['unknown'];
  }
}

/**
 * The gateway hop's truth: what the gateway's own record says it did, try by try (no endpoint to
 * send to; no endpoint tried answered; the endpoint answered 5xx; a failed try then a success),
 * with the classes right for it. On the twin the gateway is a real nginx: its record is what
 * happened, read without the cell's timeline.
 */
export function gatewayTruth(l: GatewayLogLine): { truth: string; accepted: Cause[] } {
  const outcome = outcomeOf(l);
  const accepted: Record<string, Cause[]> = { 'no-upstream': ['gateway-no-upstream'], 'upstream-unanswered': ['gateway-upstream-gone'], 'upstream-5xx': ['app-5xx'], retried: ['gateway-retried'] };
  return { truth: `gateway ${outcome}`, accepted: accepted[outcome] ?? ['unknown'] };
}

/** The classes right for a twin reason when the target is a gateway pod: the direct ones, with the gateway pod in the app pod's place. */
export function gatewayTargetCauses(r: TruthRecord): Cause[] {
  return [...new Set(acceptedCauses(r).map((c): Cause => (c === 'routed-after-sigterm' || c === 'routed-to-gone-pod' ? 'gateway-pod-gone' : c)))];
}

/** 5xx by the twin's reason, e.g. `{"502 connect-refused": 7}`. */
export function fiveXXByReason(records: readonly TruthRecord[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of records) {
    if (r.elbStatus < 500) continue;
    const key = `${r.elbStatus} ${r.reason ?? 'unknown'}`;
    out[key] = (out[key] ?? 0) + 1;
  }
  return out;
}

/** How the inferred causes compare with the truth. */
export interface Agreement {
  compared: number;
  agreed: number;
  share: number;
  unmatched: number;
  disagreements: Array<{ t: number; traceId: string | null; inferred: string; truth: string; accepted: string[] }>;
}

/**
 * Scores attributed 5xx (not before-alb: the twin never saw those) against the truth records.
 * `originS` is the model epoch second of the cell's t = 0.
 */
export function score(attributed: readonly Attributed[], truth: readonly TruthRecord[], originS: number, toleranceS = 0.5, gateway?: { lineOf: ReadonlyMap<Attributed, GatewayLogLine> }): Agreement {
  const fiveXX = truth.filter((r) => r.elbStatus >= 500);
  const byTrace = new Map(fiveXX.filter((r) => r.traceId).map((r) => [r.traceId!, r]));
  const used = new Set<TruthRecord>();
  let compared = 0;
  let agreed = 0;
  let unmatched = 0;
  const disagreements: Agreement['disagreements'] = [];
  for (const a of attributed) {
    if (a.cause === 'before-alb') continue;
    let r = a.traceId ? byTrace.get(a.traceId) : undefined;
    if (!r) {
      const at = originS + a.t;
      let best: TruthRecord | undefined;
      for (const c of fiveXX) {
        if (used.has(c) || c.elbStatus !== a.status || c.path !== a.path || (a.target ?? '-') !== c.target) continue;
        if (Math.abs(c.time - at) <= toleranceS && (!best || Math.abs(c.time - at) < Math.abs(best.time - at))) best = c;
      }
      r = best;
    }
    if (!r) {
      unmatched++;
      continue;
    }
    used.add(r);
    compared++;
    // A gateway cell: the gateway's answer (target-5xx at the ALB) is judged by the gateway's own
    // record of the request; the ALB hop's other reasons with the gateway pod as the target.
    const line = gateway?.lineOf.get(a);
    const hop = line && r.reason === 'target-5xx' ? gatewayTruth(line) : undefined;
    const accepted = hop ? hop.accepted : gateway ? gatewayTargetCauses(r) : acceptedCauses(r);
    if (accepted.includes(a.cause)) agreed++;
    else if (disagreements.length < 50) disagreements.push({ t: a.t, traceId: a.traceId, inferred: a.cause, truth: `${r.elbStatus} ${r.reason ?? 'unknown'}${hop ? `; ${hop.truth}` : ''}`, accepted });
  }
  return { compared, agreed, share: compared ? Math.round((agreed / compared) * 10000) / 10000 : 0, unmatched, disagreements };
}
