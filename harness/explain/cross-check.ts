/**
 * The cross-check of a cell's 5xx: what the client counted, what the access log has for the
 * cell's User-Agent, and what CloudWatch summed over the window (whole minutes, whole load
 * balancer). Pure. Every difference is listed with what it may mean.
 */
import type { MetricQuery, MetricSeries } from '../platform/ports.ts';

/** The CloudWatch queries for a load balancer's 5xx (`app/<name>/<id>`), Sum per 60 s. */
export function fiveXXQueries(loadBalancer: string): MetricQuery[] {
  const base = { namespace: 'AWS/ApplicationELB', dimensions: { LoadBalancer: loadBalancer }, stat: 'Sum', periodSeconds: 60 };
  return [
    { id: 'elb5xx', metricName: 'HTTPCode_ELB_5XX_Count', ...base },
    { id: 'target5xx', metricName: 'HTTPCode_Target_5XX_Count', ...base },
  ];
}

/** The window widened to whole minutes (CloudWatch's 60 s periods). */
export function minuteWindow(startMs: number, endMs: number): { startMs: number; endMs: number } {
  return { startMs: Math.floor(startMs / 60_000) * 60_000, endMs: Math.ceil(endMs / 60_000) * 60_000 };
}

/** What the cross-check compares. */
export interface CrossCheckInput {
  client: number;
  accessLog: number | undefined;
  cloudWatch?: { series: MetricSeries[]; startMs: number; endMs: number } | { error: string };
}

/** The cross-check as the cell result keeps it. */
export interface CrossCheck {
  client: number;
  accessLog: number;
  cloudWatch?: { elb5xx: number; target5xx: number; from: string; to: string };
  cloudWatchError?: string;
  mismatches: string[];
}

const total = (s: MetricSeries | undefined) => (s?.values ?? []).reduce((a, b) => a + b, 0);

/** Compares the three counts. */
export function crossCheck(input: CrossCheckInput): CrossCheck {
  const mismatches: string[] = [];
  const log = input.accessLog ?? 0;
  if (input.accessLog !== undefined) {
    if (input.client > log) mismatches.push(`the client saw ${input.client} 5xx, the access log has ${log}: ${input.client - log} never reached the ALB's log (before-alb: a proxy, or a log object missing)`);
    else if (input.client < log) mismatches.push(`the access log has ${log} 5xx, the client saw ${input.client}: ${log - input.client} the client did not count (cut at the stop, or timed out client-side first)`);
  }
  const out: CrossCheck = { client: input.client, accessLog: log, mismatches };
  if (input.cloudWatch && 'error' in input.cloudWatch) {
    out.cloudWatchError = input.cloudWatch.error;
  } else if (input.cloudWatch) {
    const elb5xx = total(input.cloudWatch.series.find((s) => s.id === 'elb5xx'));
    const target5xx = total(input.cloudWatch.series.find((s) => s.id === 'target5xx'));
    out.cloudWatch = { elb5xx, target5xx, from: new Date(input.cloudWatch.startMs).toISOString(), to: new Date(input.cloudWatch.endMs).toISOString() };
    const cw = elb5xx + target5xx;
    if (input.accessLog !== undefined && cw < log) mismatches.push(`CloudWatch summed ${cw} 5xx over the window, fewer than the ${log} in the access log (metrics late or incomplete)`);
    if (input.accessLog !== undefined && cw > log) mismatches.push(`CloudWatch summed ${cw} 5xx (ELB ${elb5xx} + target ${target5xx}) over whole minutes of the whole load balancer, the access log ${log} for this cell: ${cw - log} from other clients or the minutes around the window`);
  }
  return out;
}

/**
 * The clocks: the cell's entries (picked by User-Agent) should have arrived inside its traffic
 * window as this machine's clock saw it. When most lie outside by more than `toleranceMs`, the load
 * balancer's clock and ours disagree and no timeline join can be trusted; says by how much.
 */
export function clockSkew(entries: Array<{ requestCreationMs: number }>, startMs: number, endMs: number, toleranceMs: number): string | undefined {
  if (entries.length === 0) return undefined;
  const offsets = entries.map((e) => (e.requestCreationMs < startMs - toleranceMs ? e.requestCreationMs - startMs : e.requestCreationMs > endMs + toleranceMs ? e.requestCreationMs - endMs : 0));
  const outside = offsets.filter((o) => o !== 0).sort((a, b) => a - b);
  if (outside.length * 2 <= entries.length) return undefined;
  const median = outside[Math.floor(outside.length / 2)];
  const clock = (ms: number) => new Date(ms).toISOString().slice(11, 19);
  return (
    `${outside.length} of the ${entries.length} entries with this cell's User-Agent were logged outside its traffic window ` +
    `(${clock(startMs)}–${clock(endMs)} by this machine's clock), by a median of ${(median / 1000).toFixed(1)} s: the load balancer's clock and this ` +
    `machine's disagree, so the causes are not to be trusted (a \`twin up\` is read as staging only at --time-scale 1)`
  );
}
