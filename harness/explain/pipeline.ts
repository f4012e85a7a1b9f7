/**
 * One cell explained: locate the load balancer's access logs, wait for the objects covering the
 * cell's traffic window, pick the cell's entries by User-Agent, attribute each 5xx, measure the
 * lags, cross-check with the client and CloudWatch, and on the twin score against its ground
 * truth. Everything external comes through ports; a missing piece is said in the result, never
 * silently left out.
 */
import type { Clock } from '../core/clock.ts';
import type { AccessLogStore, Elbv2Port, Metrics } from '../platform/ports.ts';
import type { CellResult, Explain } from '../report/types.ts';
import { attribute, CAUSES, type Attributed, type Cause } from './attribute.ts';
import type { PhaseSettings } from './cell-context.ts';
import { clockSkew, crossCheck, fiveXXQueries, minuteWindow, type CrossCheckInput } from './cross-check.ts';
import { locateLogs, readCellEntries, waitForLogs, type Found, type LogLocation } from './fetch.ts';
import { attributeGatewayCell } from './gateway.ts';
import type { GatewayLogs } from './gateway-fetch.ts';
import { outcomeOf, type GatewayLogLine } from './gateway-log.ts';
import { measureLags } from './lags.ts';
import { fiveXXByReason, readTruth, score } from './truth.ts';

/** The ports explaining needs (built by the composition root). */
export interface ExplainPorts {
  store: AccessLogStore;
  metrics: Metrics;
  /** The load balancer's log delivery interval when the target knows it (the embedded twin's), seconds. */
  logIntervalSeconds?: number;
}

/** What explaining a cell needs besides the cell. */
export interface ExplainDeps extends ExplainPorts {
  elbv2: Elbv2Port;
  /** The cell's model clock (the log's times are on it). */
  clock: Clock;
  targetGroupArn: string;
  log: (line: string) => void;
  signal?: AbortSignal;
  /** The spec's `explain` options. */
  options: { accessLogs?: { bucket: string; prefix: string }; waitSeconds: number; pollSeconds: number; logIntervalSeconds?: number };
  /** Twin only: the ground-truth access.log. */
  truthFile?: string;
  /** The location looked up once per run (else looked up here). */
  location?: Promise<Found<LogLocation>>;
  /**
   * A gateway cell: its gateway logs (`readGatewayLogs`, at the end of the cell) and the gateway
   * pods' phase settings (preStop 0 for ingress-nginx's `/wait-shutdown`, its grace, the ALB's delay).
   */
  gateway?: { logs: GatewayLogs; settings: PhaseSettings };
}

const MAX_ATTRIBUTED = 500;

/**
 * How late the pod watch may deliver a SIGTERM or a deletion, in real ms: a loaded machine's event
 * loop and the watch stream. A refused request that came up to this long before the watch showed its
 * pod's SIGTERM belongs to it. On the twin's fast clock this is many model seconds (at scale 0.05,
 * 10 s; a one-second slack there is 50 real ms, and a loaded CI machine's watch was later than that
 * for 19 of 196 refused requests, which came out as keep-alive races).
 */
export const WATCH_LATENESS_REAL_MS = 500;

/** The pod watch's lateness in model seconds on `clock`: at least the timeline's one-second slack. */
export function watchSlackSeconds(clock: Pick<Clock, 'toModelMs'>): number {
  return Math.max(1, clock.toModelMs(WATCH_LATENESS_REAL_MS) / 1000);
}

const zeroCauses = (): Record<Cause, number> => Object.fromEntries(CAUSES.map((c) => [c, 0])) as Record<Cause, number>;

/**
 * The explanation of a cell that has its marks, timeline and `modelOrigin`; `userAgent` picks its
 * entries. On the twin also the 5xx by the twin's reason, from its ground truth, logs or not.
 */
export async function explainCell(cell: CellResult, userAgent: string, deps: ExplainDeps): Promise<{ explain: Explain; fiveXXByReason?: Record<string, number> }> {
  const explained = await explainFromLogs(cell, userAgent, deps);
  if (explained.fiveXXByReason || !deps.truthFile || cell.modelOrigin === undefined || cell.marks.trafficStart === undefined) return explained;
  try {
    const [from, to] = truthWindow(cell);
    return { ...explained, fiveXXByReason: fiveXXByReason(await readTruth(deps.truthFile, from, to, userAgent)) };
  } catch (error) {
    explained.explain.why = `${explained.explain.why ? `${explained.explain.why}; ` : ''}the twin's ground truth could not be read: ${(error as Error).message}`;
    return explained;
  }
}

/** Model epoch seconds of the cell's traffic, for the ground truth (requests arrive from the start until the stop). */
function truthWindow(cell: CellResult): [number, number] {
  const origin = cell.modelOrigin ?? 0;
  return [(origin + (cell.marks.trafficStart ?? 0) * 1000) / 1000, (origin + (cell.marks.trafficStop ?? cell.durationSeconds) * 1000) / 1000 + 1];
}

async function explainFromLogs(cell: CellResult, userAgent: string, deps: ExplainDeps): Promise<{ explain: Explain; fiveXXByReason?: Record<string, number> }> {
  const origin = cell.modelOrigin;
  const start = cell.marks.trafficStart;
  const stop = cell.marks.trafficStop ?? cell.durationSeconds;
  // Without the ALB's log the gateway's retries are still counted (they need no join).
  const retried = deps.gateway ? deps.gateway.logs.lines.filter((l) => outcomeOf(l) === 'retried').length : 0;
  const missing = (why: string, extra: Partial<Explain> = {}): { explain: Explain } => ({
    explain: {
      logs: 'missing',
      why,
      causes: { ...zeroCauses(), ...(deps.gateway ? { 'gateway-retried': retried } : {}) },
      attributed: [],
      crossCheck: { client: cell.fiveXX, accessLog: 0, mismatches: [] },
      ...(deps.gateway ? { gateway: gatewaySummary(deps.gateway.logs, { joined: 0, unjoined: 0, retried }) } : {}),
      ...extra,
    },
  });
  if (origin === undefined || start === undefined) return missing('the cell has no traffic window (it stopped before its traffic started)');
  const startMs = origin + start * 1000;
  const endMs = origin + stop * 1000;
  // CloudWatch sums whole minutes: the log is read over the same minutes, to compare like with like.
  const window = minuteWindow(startMs, endMs);
  const located = await (deps.location ?? locateLogs(deps.elbv2, deps.targetGroupArn, deps.options.accessLogs));
  if (!located.ok) return missing(located.why);
  const at: LogLocation = located.value;
  // The target's own (the embedded twin's), else the spec's; waitForLogs defaults to ALB's 5 minutes.
  const interval = deps.logIntervalSeconds ?? deps.options.logIntervalSeconds;
  const waited = await waitForLogs({
    store: deps.store,
    location: at,
    clock: deps.clock,
    startMs: window.startMs,
    endMs: window.endMs,
    // The bound counts from the window's end: after a run, the early cells' logs are long due.
    deadlineMs: window.endMs + deps.options.waitSeconds * 1000,
    pollMs: deps.options.pollSeconds * 1000,
    ...(interval === undefined ? {} : { intervalMs: interval * 1000 }),
    log: deps.log,
    signal: deps.signal,
    label: cell.id,
  });
  const source = { bucket: at.bucket, prefix: at.prefix, objects: waited.objects.length, entries: 0, userAgent };
  if (!waited.objects.length) return missing(waited.why ?? 'no log object', { source });
  let entries;
  let minutes;
  try {
    ({ entries, minutes } = await readCellEntries(deps.store, at.bucket, waited.objects, userAgent, window));
  } catch (error) {
    return missing(`reading the access logs failed: ${(error as Error).message}`, { source });
  }
  source.entries = entries.length;
  const settings = cell.config;
  // A request reaches the ALB a little after the client sent it, in real time: on the twin's fast
  // clock a real second is many model seconds.
  const matchToleranceSeconds = Math.max(2, deps.clock.toModelMs(1000) / 1000);
  const input = { entries, timeline: cell.timeline, settings, originMs: origin, clientFailures: cell.failures, matchToleranceSeconds, watchSlackSeconds: watchSlackSeconds(deps.clock) };
  const gw = deps.gateway ? attributeGatewayCell({ ...input, gateway: { lines: deps.gateway.logs.lines, unread: unreadPods(deps.gateway.logs) }, gatewaySettings: deps.gateway.settings }) : undefined;
  const attribution = gw ?? attribute(input);
  const lags = measureLags({ entries, timeline: cell.timeline, settings, originMs: origin });
  const logged = entries.filter((e) => (e.elbStatusCode ?? 0) >= 500).length;
  let cloudWatch: CrossCheckInput['cloudWatch'];
  try {
    cloudWatch = { series: await deps.metrics.getMetricData(fiveXXQueries(at.loadBalancerResource), window.startMs, window.endMs), ...window };
  } catch (error) {
    cloudWatch = { error: (error as Error).message };
  }
  const check = crossCheck({ client: cell.fiveXX, accessLog: logged, cloudWatch, accessLogMinutes: minutes });
  const skew = clockSkew(entries, startMs, endMs, Math.max(5000, matchToleranceSeconds * 1000));
  if (skew) check.mismatches.unshift(skew);
  for (const p of deps.gateway?.logs.pods ?? []) {
    if (p.status !== 'read') check.mismatches.push(`gateway pod ${p.pod}: ${p.why ?? p.status}; a 5xx it answered is not explained at the gateway hop`);
    else if (p.why) check.mismatches.push(`gateway pod ${p.pod}: ${p.why}`);
  }
  if (cell.failures.length < cell.fiveXX) check.mismatches.push(`the cell kept ${cell.failures.length} of its ${cell.fiveXX} client failures: before-alb counts only those`);
  const explain: Explain = {
    logs: waited.status === 'complete' ? 'complete' : 'partial',
    ...(waited.why ? { why: waited.why } : entries.length === 0 ? { why: `no entry of the log objects has the User-Agent ${userAgent}` } : skew ? { why: skew } : {}),
    source,
    causes: attribution.causes,
    attributed: attribution.attributed.slice(0, MAX_ATTRIBUTED),
    crossCheck: check,
    lags: { deregistration: lags.deregistration, registration: lags.registration, longestRequest: lags.longestRequest },
    ...(gw && deps.gateway ? { gateway: gatewaySummary(deps.gateway.logs, gw.gateway) } : {}),
  };
  let byReason: Record<string, number> | undefined;
  if (deps.truthFile) {
    try {
      const [from, to] = truthWindow(cell);
      const truth = await readTruth(deps.truthFile, from, to, userAgent);
      byReason = fiveXXByReason(truth);
      const agreement = score(attribution.attributed, truth, origin / 1000, undefined, gw ? { lineOf: gw.lineOf as ReadonlyMap<Attributed, GatewayLogLine> } : undefined);
      if (agreement.compared > 0) explain.agreement = agreement;
    } catch (error) {
      explain.why = `${explain.why ? `${explain.why}; ` : ''}the twin's ground truth could not be read: ${(error as Error).message}`;
    }
  }
  return { explain, ...(byReason ? { fiveXXByReason: byReason } : {}) };
}

/** The gateway pods whose log was not read, with why. */
function unreadPods(logs: GatewayLogs): Map<string, string> {
  return new Map(logs.pods.filter((p) => p.status !== 'read').map((p) => [p.pod, p.why ?? p.status]));
}

/** The result's gateway section. */
function gatewaySummary(logs: GatewayLogs, counts: { joined: number; unjoined: number; retried: number }): NonNullable<Explain['gateway']> {
  return { format: logs.format, pods: logs.pods, lines: logs.pods.reduce((n, p) => n + p.lines, 0), ...counts };
}
