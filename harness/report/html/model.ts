/**
 * What the HTML report draws, computed from the cell results alone (pure): the heatmap's rows and
 * columns, and per cell the lanes of its timeline on one model-seconds axis — requests per second
 * by outcome, targets by state (per LB node when the events name one), pods by phase, nodes by
 * state, the marks, and each failed request with its cause. Fields other helpers may add to a cell
 * (`explain`, per-node target events) are read as optional, so the report works with and without them.
 */
import { disruptionLabel } from '../../matrix/expand.ts';
import { nthNotice } from '../../explain/cell-context.ts';
import { configKey, onNodeText } from '../markdown.ts';
import { NOT_FAILED_CAUSES, type CellResult } from '../types.ts';

/** A span of one lane in one state. */
export interface Span {
  from: number;
  to: number;
  state: string;
}

/** One row of a lane chart (a target, a pod, a node). */
export interface Lane {
  label: string;
  /** Subgroup the lane belongs to (the LB node for targets; '' when the data has none). */
  group: string;
  spans: Span[];
}

/** One failed request on the timeline. */
export interface FailurePoint {
  t: number;
  cause: string;
  detail: string;
}

/** One bucket of traffic (`width` model seconds), in real requests per second by outcome. */
export interface SeriesPoint {
  t: number;
  width: number;
  ok: number;
  fiveXX: number;
  net: number;
  other: number;
}

/** One bucket's latency (`width` model seconds): percentiles of the requests sent in it, ms. */
export interface LatencyPoint {
  t: number;
  width: number;
  p50: number;
  p99: number;
  max: number;
}

type LatencyStatsView = NonNullable<CellResult['latency']>['window'];

/** A labelled instant (a mark or a disruption action). */
export interface Instant {
  t: number;
  label: string;
}

/** Where a cell's causes come from, best first. */
export type CauseSource = 'explain' | 'twin' | 'status';

/** One cell, ready to draw. */
export interface CellView {
  id: string;
  repeat: number;
  /** Failed requests (5xx + network errors); null when the cell is INVALID. */
  failed: number | null;
  valid: boolean;
  invalidReason?: string;
  /** End of the time axis, model seconds. */
  end: number;
  series: SeriesPoint[];
  /** Real seconds per bucket of `series` and `latencySeries`. */
  bucketSeconds: number;
  latencySeries: LatencyPoint[];
  /** Latency of the disruption window and the warm-up baseline, ms, when the cell measured it. */
  latency?: CellResult['latency'];
  /** Requests sent. */
  sent: number;
  targets: Lane[];
  pods: Lane[];
  nodes: Lane[];
  marks: Instant[];
  actions: Instant[];
  failures: FailurePoint[];
  /** Failed requests the cell counted (the points are at most the first 500). */
  failuresCounted: number;
  causeSource: CauseSource;
  /** Failures by cause, over the whole cell when the source says so, else over the points. */
  causes: Record<string, number>;
  /** Requests the gateway retried to a success (a gateway cell): counted, not failed. */
  gatewayRetried?: number;
  validity: Array<[string, string]>;
  crossChecks?: unknown;
  lags?: unknown;
}

/** A heatmap cell: the repeats of one config × disruption. */
export interface GroupView {
  key: string;
  column: string;
  /** Summed failed requests; null when any repeat is INVALID. */
  failed: number | null;
  /** Summed requests sent. */
  sent: number;
  invalidReasons: string[];
  cells: CellView[];
}

/** A heatmap row: one config. */
export interface RowView {
  key: string;
  config: CellResult['config'];
  groups: Map<string, GroupView>;
}

/** The whole report. */
export interface ReportView {
  columns: string[];
  rows: RowView[];
  maxFailed: number;
  /** The largest failed / sent of a valid heatmap cell (0 when none failed). */
  maxRate: number;
}

/** A cell result, with the optional fields the report reads when another stage adds them. */
export type ReportCell = CellResult;

/** Builds the report's view of a run's cells. */
export function buildReportView(cells: ReportCell[]): ReportView {
  const columns = [...new Set(cells.map((c) => disruptionLabel(c.disruption)))];
  const rows = new Map<string, RowView>();
  for (const cell of cells) {
    const key = configKey(cell.config);
    const row = rows.get(key) ?? { key, config: cell.config, groups: new Map<string, GroupView>() };
    rows.set(key, row);
    const column = disruptionLabel(cell.disruption);
    const group = row.groups.get(column) ?? { key: `${key}|${column}`, column, failed: 0, sent: 0, invalidReasons: [], cells: [] };
    row.groups.set(column, group);
    const view = buildCellView(cell);
    group.cells.push(view);
    group.sent += view.sent;
    if (!view.valid) group.invalidReasons.push(`${cell.id}: ${cell.invalidReason ?? 'invalid'}`);
    group.failed = group.invalidReasons.length ? null : (group.failed ?? 0) + (view.failed ?? 0);
  }
  const all = [...rows.values()].flatMap((r) => [...r.groups.values()]);
  const rates = all.map((g) => (g.failed && g.sent ? g.failed / g.sent : 0));
  return { columns, rows: [...rows.values()], maxFailed: Math.max(0, ...all.map((g) => g.failed ?? 0)), maxRate: Math.max(0, ...rates) };
}

/** Builds one cell's view. */
export function buildCellView(cell: ReportCell): CellView {
  const explain = asRecord(cell.explain as unknown);
  const lastEvent = Math.max(0, ...cell.timeline.map((e) => e.t), ...cell.series.map((s) => s.t + 1), ...(cell.rates?.points ?? []).map((p) => p.t), ...cell.failures.map((f) => f.t));
  const end = Math.max(cell.durationSeconds, lastEvent, 1);
  const failuresCounted = cell.fiveXX + cell.requests.networkErrors;
  const { failures, causeSource, causes } = failurePoints(cell, explain);
  return {
    id: cell.id,
    repeat: cell.repeat,
    failed: cell.valid ? failuresCounted : null,
    valid: cell.valid,
    ...(cell.invalidReason ? { invalidReason: cell.invalidReason } : {}),
    end,
    ...seriesOf(cell),
    ...(cell.latency ? { latency: cell.latency } : {}),
    sent: cell.requests.sent,
    targets: targetLanes(cell, end),
    pods: podLanes(cell, end),
    nodes: nodeLanes(cell, end),
    marks: (['trafficStart', 'disruptionStart', 'settled', 'trafficStop'] as const).flatMap((k) => (cell.marks[k] === undefined ? [] : [{ t: cell.marks[k], label: k }])),
    actions: cell.timeline.flatMap((e) => (e.type === 'disruption' ? [{ t: e.t, label: e.detail ? `${e.action}: ${e.detail}` : e.action }] : [])),
    failures,
    failuresCounted,
    causeSource,
    causes,
    ...(typeof asRecord(explain?.causes)?.['gateway-retried'] === 'number' && (asRecord(explain?.causes)!['gateway-retried'] as number) > 0 ? { gatewayRetried: asRecord(explain?.causes)!['gateway-retried'] as number } : {}),
    validity: validityRows(cell),
    ...(explain && (explain.crossCheck ?? explain.crossChecks) !== undefined ? { crossChecks: explain.crossCheck ?? explain.crossChecks } : {}),
    // The distributions without their raw values (up to 500 each): the summary is what the page shows.
    ...(explain?.lags !== undefined ? { lags: withoutValues(explain.lags) } : {}),
  };
}

/**
 * Rate and latency over time: from the cell's `rates` (buckets sized to the run) when it has them,
 * else from its per-real-second `series` (cells written before rates were kept). Either way in real
 * requests per second, the rate the traffic was sent at.
 */
function seriesOf(cell: ReportCell): Pick<CellView, 'series' | 'bucketSeconds' | 'latencySeries'> {
  const rates = cell.rates;
  if (rates?.points.length) {
    const scale = cell.realDurationSeconds && cell.durationSeconds > 0 ? cell.durationSeconds / cell.realDurationSeconds : 1;
    const width = rates.points.length > 1 ? bucketWidth(rates.points.map((p) => p.t)) : rates.bucketSeconds * scale;
    const per = rates.bucketSeconds;
    return {
      bucketSeconds: per,
      series: rates.points.map((p) => ({ t: p.t, width, ok: p.ok / per, fiveXX: p.fiveXX / per, net: p.net / per, other: p.other / per })),
      latencySeries: rates.points.flatMap((p) => (p.p50 === undefined || p.p99 === undefined || p.max === undefined ? [] : [{ t: p.t, width, p50: p.p50, p99: p.p99, max: p.max }])),
    };
  }
  const width = bucketWidth(cell.series.map((x) => x.t));
  return {
    bucketSeconds: 1,
    series: cell.series.map((s) => {
      let ok = 0;
      let fiveXX = 0;
      let other = 0;
      for (const [status, n] of Object.entries(s.byStatus)) {
        const code = Number(status);
        if (code >= 200 && code < 300) ok += n;
        else if (code >= 500) fiveXX += n;
        else other += n;
      }
      return { t: s.t, width, ok, fiveXX, net: s.networkErrors, other };
    }),
    latencySeries: [],
  };
}

/**
 * The series' buckets are real seconds, stamped in model seconds: one bucket spans 1 / time scale
 * model seconds — the smallest gap between buckets (empty seconds leave none); 1 with one bucket.
 */
function bucketWidth(ts: number[]): number {
  let width = Infinity;
  for (let i = 1; i < ts.length; i++) if (ts[i] - ts[i - 1] > 1e-6) width = Math.min(width, ts[i] - ts[i - 1]);
  return Number.isFinite(width) ? width : 1;
}

function withoutValues(lags: unknown): unknown {
  const r = asRecord(lags);
  if (!r) return lags;
  return Object.fromEntries(Object.entries(r).map(([k, v]) => {
    const d = asRecord(v);
    return [k, d && Array.isArray(d.values) ? Object.fromEntries(Object.entries(d).filter(([x]) => x !== 'values')) : v];
  }));
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

/** Per-failure causes from `explain` (a list of {t, cause}, under any of the names it may use). */
function explainedFailures(explain: Record<string, unknown> | undefined): FailurePoint[] | undefined {
  if (!explain) return undefined;
  for (const name of ['failures', 'attributions', 'attributed', 'causes']) {
    const list = explain[name];
    if (!Array.isArray(list) || !list.length) continue;
    const points = list.flatMap((item): FailurePoint[] => {
      const r = asRecord(item);
      if (!r || typeof r.t !== 'number' || typeof r.cause !== 'string') return [];
      const detail = [r.status, r.path, r.target, r.pod].filter((x) => typeof x === 'string' || typeof x === 'number').join(' ');
      return [{ t: r.t, cause: r.cause, detail }];
    });
    if (points.length) return points;
  }
  return undefined;
}

/**
 * The failed requests as points, coloured by the best cause known: the explain pipeline's per-failure
 * cause; else the twin's reason when only one reason has that status (every 502 of a cell whose 502s
 * are all "502 connect-refused" is one); else the status (or the network error's code).
 */
function failurePoints(cell: ReportCell, explain: Record<string, unknown> | undefined): { failures: FailurePoint[]; causeSource: CauseSource; causes: Record<string, number> } {
  const explained = explainedFailures(explain);
  const explainCounts = asRecord(explain?.causes);
  if (explained) {
    return { failures: explained, causeSource: 'explain', causes: explainCounts ? numbers(explainCounts) : tally(explained) };
  }
  const reasons = cell.fiveXXByReason ?? {};
  const byStatus = new Map<string, string[]>();
  for (const reason of Object.keys(reasons)) {
    const status = reason.split(' ')[0];
    byStatus.set(status, [...(byStatus.get(status) ?? []), reason]);
  }
  const failures = cell.failures.map((f): FailurePoint => {
    if (f.status === undefined) return { t: f.t, cause: `net ${f.error ?? 'error'}`, detail: f.path };
    const known = byStatus.get(String(f.status));
    return { t: f.t, cause: known?.length === 1 ? known[0] : String(f.status), detail: f.path };
  });
  const source: CauseSource = explainCounts ? 'explain' : Object.keys(reasons).length ? 'twin' : 'status';
  const causes = explainCounts ? numbers(explainCounts) : Object.keys(reasons).length ? { ...reasons, ...netCounts(cell) } : tally(failures);
  return { failures, causeSource: source, causes };
}

function numbers(r: Record<string, unknown>): Record<string, number> {
  // Counts of 0 (explain lists every cause class) are left out: the legend names what happened;
  // so are the classes that count requests that did not fail (a gateway's successful retries).
  return Object.fromEntries(Object.entries(r).filter((e): e is [string, number] => typeof e[1] === 'number' && e[1] > 0 && !NOT_FAILED_CAUSES.includes(e[0])));
}

function netCounts(cell: CellResult): Record<string, number> {
  return Object.fromEntries(Object.entries(cell.requests.networkErrorsByCode).map(([code, n]) => [`net ${code}`, n]));
}

function tally(points: FailurePoint[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const p of points) out[p.cause] = (out[p.cause] ?? 0) + 1;
  return out;
}

/** Closes the last span of a lane and opens the next one (same-state changes extend the span). */
function step(lane: Lane, t: number, state: string): void {
  const last = lane.spans.at(-1);
  if (last && last.state === state) return;
  if (last) last.to = t;
  lane.spans.push({ from: t, to: t, state });
}

function close(lanes: Iterable<Lane>, end: number): Lane[] {
  const out = [...lanes];
  for (const lane of out) {
    const last = lane.spans.at(-1);
    if (last) last.to = Math.max(last.from, end);
    lane.spans = lane.spans.filter((s) => s.to > s.from || s === lane.spans.at(-1));
  }
  return out;
}

/** Targets by state, one lane per target and LB node (events without a node share one group). */
function targetLanes(cell: CellResult, end: number): Lane[] {
  const podByIp = new Map<string, string>();
  for (const e of cell.timeline) if (e.type === 'pod' && e.ip) podByIp.set(e.ip, e.pod);
  const lanes = new Map<string, Lane>();
  for (const e of cell.timeline) {
    if (e.type !== 'target') continue;
    const group = lbNodeOf(e);
    const key = `${group}\u0000${e.target}`;
    let lane = lanes.get(key);
    if (!lane) {
      const pod = podByIp.get(e.target.split(':')[0]);
      lane = { label: pod ? `${e.target} ${pod}` : e.target, group, spans: [] };
      lanes.set(key, lane);
    }
    step(lane, e.t, e.state);
  }
  return close(lanes.values(), end).sort((a, b) => a.group.localeCompare(b.group));
}

/** The LB node a target event was seen from, when the event names one. */
function lbNodeOf(event: object): string {
  const e = event as { lbNode?: unknown; loadBalancerNode?: unknown };
  const node = e.lbNode ?? e.loadBalancerNode;
  return typeof node === 'string' ? node : '';
}

/**
 * Pods by phase: starting (created, not ready), running, not ready, in preStop (from deletion for
 * the config's preStop seconds), terminating (SIGTERM sent, not yet gone), gone.
 */
function podLanes(cell: CellResult, end: number): Lane[] {
  const lanes = new Map<string, Lane & { terminatingAt?: number }>();
  const preStop = cell.config.preStopSeconds;
  for (const e of cell.timeline) {
    if (e.type !== 'pod') continue;
    let lane = lanes.get(e.pod);
    // A gateway cell has both Deployments' pods: the gateway's say so.
    const name = e.role === 'gateway' ? `${e.pod} (gateway)` : e.pod;
    if (!lane) {
      lane = { label: name, group: '', spans: [] };
      lanes.set(e.pod, lane);
    }
    if (e.node && !lane.label.includes(' on ')) lane.label = `${name} on ${e.node}`;
    if (e.change === 'present') step(lane, e.t, 'running');
    else if (e.change === 'created') step(lane, e.t, 'starting');
    else if (e.change === 'ready') {
      if (lane.terminatingAt === undefined) step(lane, e.t, 'running');
    } else if (e.change === 'not-ready') {
      if (lane.terminatingAt === undefined) step(lane, e.t, 'not ready');
    } else if (e.change === 'terminating') {
      lane.terminatingAt = e.t;
      step(lane, e.t, preStop > 0 ? 'in preStop' : 'terminating');
    } else if (e.change === 'deleted') {
      splitPreStop(lane, e.t, preStop);
      step(lane, e.t, 'gone');
    }
  }
  for (const lane of lanes.values()) if (lane.spans.at(-1)?.state === 'in preStop') splitPreStop(lane, end, preStop);
  return close(lanes.values(), end).map(({ label, group, spans }) => ({ label, group, spans }));
}

/** Ends the preStop span at terminating + preStop (or `until`, whichever comes first). */
function splitPreStop(lane: Lane & { terminatingAt?: number }, until: number, preStop: number): void {
  if (lane.terminatingAt === undefined || lane.spans.at(-1)?.state !== 'in preStop') return;
  const sigterm = lane.terminatingAt + preStop;
  if (sigterm < until) step(lane, sigterm, 'terminating');
}

/** Nodes by state, from the pods' nodes and the disruption's cordon, spot notice (taint) and termination. */
function nodeLanes(cell: CellResult, end: number): Lane[] {
  const lanes = new Map<string, Lane & { cordoned?: boolean; tainted?: boolean }>();
  const lane = (name: string) => {
    let l = lanes.get(name);
    if (!l) {
      l = { label: name, group: '', spans: [] };
      lanes.set(name, l);
    }
    return l;
  };
  const instanceNode = new Map<string, string>();
  for (const e of cell.timeline) {
    if (e.type === 'pod' && e.node && !lanes.has(e.node)) step(lane(e.node), 0, 'schedulable');
    if (e.type !== 'disruption' || !e.detail) continue;
    const name = e.detail.split(' ')[0];
    if (e.action === 'cordon') {
      const l = lane(name);
      l.cordoned = true;
      step(l, e.t, l.tainted ? 'tainted, cordoned' : 'cordoned');
    } else if (e.action === 'spot-notice' || e.action === 'rebalance-recommendation' || e.action === 'node-replace' || e.action === 'taint') {
      const l = lane(name);
      const instance = /\((i-[^)]+)\)/.exec(e.detail)?.[1];
      if (instance) instanceNode.set(instance, name);
      // NTH taints at the notice; the other handlers' taints are events of their own.
      if (e.action === 'taint' || (e.action === 'spot-notice' && nthNotice(e.detail))) {
        l.tainted = true;
        step(l, e.t, l.cordoned ? 'tainted, cordoned' : 'tainted');
      }
    } else if (e.action === 'terminate-instance') {
      const node = instanceNode.get(name);
      if (node) step(lane(node), e.t, 'terminated');
    }
  }
  return close(lanes.values(), end)
    .map(({ label, group, spans }) => ({ label, group, spans }))
    .sort((a, b) => a.label.localeCompare(b.label));
}

function validityRows(cell: CellResult): Array<[string, string]> {
  const r = cell.requests;
  const rows: Array<[string, string]> = [
    ['valid', cell.valid ? 'yes' : `INVALID: ${cell.invalidReason ?? 'no reason recorded'}`],
    ['requests', `${r.sent} sent of ${r.planned} planned; achieved ${(r.achieved * 100).toFixed(1)} %${r.cutAtStop.count ? `; ${r.cutAtStop.count} cut at stop` : ''}`],
    ['failed', `${cell.fiveXX} 5xx, ${r.networkErrors} network errors${Object.keys(r.networkErrorsByCode).length ? ` (${Object.entries(r.networkErrorsByCode).map(([k, v]) => `${k}×${v}`).join(', ')})` : ''}`],
  ];
  if (cell.baseline) {
    const share = cell.baseline.sent ? ((cell.baseline.sent - cell.baseline.not2xx) / cell.baseline.sent) * 100 : 0;
    rows.push(['baseline', `${cell.baseline.sent} sent in the warm-up's second half, ${cell.baseline.not2xx} not 2xx (${share.toFixed(2)} % 2xx; a valid cell needs ≥ 99 %)`]);
  } else rows.push(['baseline', 'not measured']);
  if (cell.schedule) {
    const sc = cell.schedule;
    rows.push(['on schedule', `${sc.behindSeconds ? `behind for ${sc.behindSeconds}` : 'every one'} of ${sc.seconds} s of the disruption window (a second is behind with under 90 % of its due requests sent within 1 s); latest send ${sc.maxLateSeconds} s after its due time`]);
  }
  if (cell.latency) {
    const side = (l: LatencyStatsView | undefined) => (l ? `p50 ${l.p50}, p95 ${l.p95}, p99 ${l.p99}, max ${l.max} ms (${l.count} requests)` : 'no requests');
    rows.push(['latency, baseline', side(cell.latency.baseline)], ['latency, window', side(cell.latency.window)]);
  }
  rows.push(['disruption', cell.disruptionOutcome.completed ? `completed${cell.disruptionOutcome.detail ? `: ${cell.disruptionOutcome.detail}` : ''}` : `not completed: ${cell.disruptionOutcome.reason ?? 'no reason recorded'}`]);
  if (cell.disruptionOutcome.onNode) rows.push(['pods on the node', onNodeText(cell.disruptionOutcome.onNode)]);
  if (cell.disruptionOutcome.actedOn) rows.push(['acted on', `${cell.disruptionOutcome.actedOn.pods} pod(s) of the ${cell.disruptionOutcome.actedOn.needed} needed: ${cell.disruptionOutcome.actedOn.summary}`]);
  rows.push(['settled', cell.settled ? `yes${cell.marks.settled !== undefined ? ` at ${cell.marks.settled} s` : ''}` : 'no']);
  const driver = typeof cell.driver === 'string' ? cell.driver : `k6-operator (k6 ${cell.driver.version}, TestRun ${cell.driver.testRun}: ${cell.driver.runners.map((r) => `${r.name} ${r.segment} sent ${r.sent} of ${r.planned}${r.failed ? ` — ${r.failed}` : ''}`).join('; ')})`;
  rows.push(['duration', `${cell.durationSeconds} model s${cell.realDurationSeconds !== undefined ? ` (${cell.realDurationSeconds.toFixed(1)} s real)` : ''}; driver ${driver}`]);
  return rows;
}
