/**
 * Whether a cell's numbers can be trusted: pure rules over what the cell measured. A cell is valid
 * only with evidence that traffic reached the target and the system was healthy before the
 * disruption; anything else is INVALID with every reason, never a quiet 0.
 */
import type { DisruptionOutcome } from '../disruptions/types.ts';
import { MIN_ON_TIME, ON_TIME_TOLERANCE_MS } from '../traffic/timing.ts';
import type { FailedRequest, TrafficResult } from '../traffic/types.ts';

/** Share of planned requests a valid cell must achieve. */
export const MIN_ACHIEVED = 0.95;
/**
 * Share of warm-up requests that must get a 2xx: the healthy baseline before the disruption. One
 * failure is tolerated in a short warm-up (under 100 requests), where a single keep-alive race
 * would otherwise make the share fall below it.
 */
export const MIN_BASELINE_2XX = 0.99;

/**
 * The longest stall of the twin's event loop (model s) a valid cell may have had. A late timer
 * first lets the I/O that came meanwhile be read (harness/core/clock.ts), so a stall no longer
 * turns a timely answer into a timeout; what it still does is run the twin's own actions (its lags,
 * the kubelet's signals) that much late against the pods and the traffic, which run on. 5 s is the
 * ALB's default health-check timeout and the shortest deregistration lag the twin draws (5–20 s):
 * a longer shift could move a cell across what its settings decide.
 */
export const MAX_TWIN_STALL_SECONDS = 5;

/** Pods of the Deployment a disruption must act on, at the least, for its cell to be valid: evidence that it disrupted something. */
export const MIN_PODS_ACTED_ON = 1;

/** The warm-up's requests: sent before the disruption started, and how many of them did not get a 2xx. */
export interface Baseline {
  sent: number;
  not2xx: number;
}

/**
 * The warm-up baseline from a traffic result: the second half of the warm-up, right before the
 * disruption (the first half may still carry the start's transients: cold connections, LB nodes
 * that start routing to the targets of the cell's configure rollout after their registration lag).
 * Requests are sent on an open-model schedule, so the number due in that window follows from the
 * rate; the ones that did not get a 2xx before the disruption are in `failures`. A slow request that
 * fails after the disruption started is the disruption's, not the baseline's.
 */
export function baselineBefore(result: Pick<TrafficResult, 'startedAt' | 'sent' | 'failures'>, rate: number, realMs: number): Baseline {
  const from = result.startedAt + (realMs - result.startedAt) / 2;
  const due = (at: number) => Math.max(0, Math.min(result.sent, Math.floor(((at - result.startedAt) / 1000) * rate)));
  const sent = due(realMs) - due(from);
  const not2xx = result.failures.filter((f: FailedRequest) => f.sentAt >= from && f.sentAt < realMs && f.endedAt < realMs).length;
  return { sent, not2xx: Math.min(sent, not2xx) };
}

/** What the verdict looks at. */
export interface VerdictInput {
  interrupted: boolean;
  /** Why the traffic did not run as planned (driver aborted, crashed, ended early). */
  trafficProblem?: string;
  planned: number;
  sent: number;
  /** Requests in flight when the traffic was stopped: neither answered nor missed. */
  cutAtStop: number;
  answeredByStatus: number;
  twoXX: number;
  fiveXX: number;
  networkErrors: number;
  /** Undefined when the cell never reached the disruption. */
  baseline?: Baseline;
  /** Warm-ups abandoned before this one's (their second half failed): the baseline is the last of them all. */
  warmupsAbandoned?: number;
  disruption: DisruptionOutcome;
  settled: boolean;
  settleTimeoutSeconds: number;
  /** Seconds of the disruption window in which the driver sent under 90 % of the due requests within 1 s (see `checkSchedule`). */
  behindSeconds?: number;
  /** The twin's longest event-loop stall in the disruption window: how long (model s) and when (the cell's t). */
  twinStall?: { seconds: number; t: number };
}

const pct = (x: number) => `${(x * 100).toFixed(1)} %`;

/** Every reason the cell is invalid; empty when it is valid. */
export function verdictReasons(v: VerdictInput): string[] {
  const reasons: string[] = [];
  if (v.interrupted) reasons.push('interrupted');
  if (v.trafficProblem) reasons.push(v.trafficProblem);
  // Requests cut at the stop are out of both sides of the share.
  const cut = v.cutAtStop;
  const achieved = v.planned - cut > 0 ? (v.sent - cut) / (v.planned - cut) : 0;
  if (achieved < MIN_ACHIEVED) reasons.push(`traffic achieved ${pct(achieved)} of the ${v.planned} planned requests (< ${MIN_ACHIEVED * 100} %)`);
  if (v.answeredByStatus + v.networkErrors + cut !== v.sent) {
    reasons.push(`accounting: ${v.answeredByStatus} answered + ${v.networkErrors} network errors + ${cut} cut at the stop ≠ ${v.sent} sent`);
  }
  if (v.baseline) {
    const { sent, not2xx } = v.baseline;
    if (sent === 0) reasons.push('no healthy baseline: no request was sent during the warm-up');
    else if (not2xx > Math.max(1, Math.floor(sent * (1 - MIN_BASELINE_2XX)))) {
      const tries = v.warmupsAbandoned ? `, in the last of ${v.warmupsAbandoned + 1} warm-ups (each with fresh traffic)` : '';
      reasons.push(`no healthy baseline: ${sent - not2xx} of ${sent} warm-up requests got a 2xx (${pct((sent - not2xx) / sent)} < ${MIN_BASELINE_2XX * 100} %)${tries}`);
    }
  }
  // After a healthy baseline, heavy loss during the disruption is a finding, however large; traffic
  // that never got a single 2xx (or never got an HTTP answer at all) did not measure the target.
  const answered = v.sent - cut;
  if (answered > 0 && v.networkErrors === answered) reasons.push(`traffic failed wholesale: none of the ${answered} requests got an HTTP answer`);
  else if (answered > 0 && v.twoXX === 0) reasons.push(`traffic failed wholesale: none of the ${answered} requests got a 2xx`);
  // Traffic not sent on schedule did not observe the disruption, whatever stalled it.
  if (v.behindSeconds) reasons.push(`the driver fell behind for ${v.behindSeconds} s of the disruption window (under ${MIN_ON_TIME * 100} % of a second's due requests sent within ${ON_TIME_TOLERANCE_MS / 1000} s)`);
  if (v.twinStall && v.twinStall.seconds >= MAX_TWIN_STALL_SECONDS) {
    reasons.push(
      `the local twin stalled for ${v.twinStall.seconds} model s at t=${v.twinStall.t} (≥ ${MAX_TWIN_STALL_SECONDS} s): its actions ran that much late against the pods and the traffic, so its timings in this cell are not faithful; run on an idle machine or at a slower time scale`,
    );
  }
  if (!v.disruption.completed) reasons.push(`disruption did not complete: ${v.disruption.reason}`);
  else if (!v.settled) reasons.push(`not settled within ${v.settleTimeoutSeconds} s`);
  // A disruption that touched no pod of the Deployment (or a rollout that left old pods running) measured nothing.
  const d = v.disruption;
  if (d.completed && d.actedOn.pods < Math.max(MIN_PODS_ACTED_ON, d.actedOn.needed)) reasons.push(`disruption acted on too few pods: ${d.actedOn.summary}`);
  return reasons;
}
