import { describe, expect, it } from 'vitest';
import { buildCellView, buildReportView, type ReportCell } from '../../../../harness/report/html/model.ts';
import { cellResult, dist, explainOf } from '../../../helpers/results.ts';

const config = (preStopSeconds: number) => ({ preStopSeconds, terminationGracePeriodSeconds: 30, readinessGate: true, deregistrationDelaySeconds: 300 });

describe('report view: pods by phase', () => {
  it('splits a deleted pod into running, in preStop (the config\'s seconds), terminating, gone', () => {
    const cell = cellResult({
      gate: true,
      kind: 'rollout',
      config: config(5),
      durationSeconds: 40,
      timeline: [
        { t: 0, type: 'pod', pod: 'web-a', change: 'present', node: 'node-a1', ip: '10.0.0.1' },
        { t: 10, type: 'pod', pod: 'web-a', change: 'terminating' },
        { t: 20, type: 'pod', pod: 'web-a', change: 'deleted' },
        { t: 11, type: 'pod', pod: 'web-b', change: 'created' },
        { t: 14, type: 'pod', pod: 'web-b', change: 'ready', node: 'node-a1', ip: '10.0.0.2' },
      ],
    });
    const pods = buildCellView(cell).pods;
    expect(pods.map((p) => p.label)).toEqual(['web-a on node-a1', 'web-b on node-a1']);
    const gateway = buildCellView({ ...cell, timeline: [...cell.timeline, { t: 0, type: 'pod', pod: 'gw-1', change: 'present', node: 'node-o1', ip: '10.0.9.1', role: 'gateway' }] }).pods;
    expect(gateway.map((p) => p.label)).toEqual(['web-a on node-a1', 'web-b on node-a1', 'gw-1 (gateway) on node-o1']);
    expect(pods[0].spans).toEqual([
      { from: 0, to: 10, state: 'running' },
      { from: 10, to: 15, state: 'in preStop' },
      { from: 15, to: 20, state: 'terminating' },
      { from: 20, to: 40, state: 'gone' },
    ]);
    expect(pods[1].spans).toEqual([
      { from: 11, to: 14, state: 'starting' },
      { from: 14, to: 40, state: 'running' },
    ]);
  });

  it('ends preStop at deletion when the pod went before its preStop did, and has no preStop span without one', () => {
    const early = buildCellView(
      cellResult({ gate: true, kind: 'rollout', config: config(30), durationSeconds: 40, timeline: [
        { t: 0, type: 'pod', pod: 'p', change: 'present' },
        { t: 10, type: 'pod', pod: 'p', change: 'terminating' },
        { t: 12, type: 'pod', pod: 'p', change: 'deleted' },
      ] }),
    );
    expect(early.pods[0].spans.map((s) => [s.state, s.from, s.to])).toEqual([['running', 0, 10], ['in preStop', 10, 12], ['gone', 12, 40]]);
    const none = buildCellView(
      cellResult({ gate: true, kind: 'rollout', config: config(0), durationSeconds: 40, timeline: [
        { t: 0, type: 'pod', pod: 'p', change: 'present' },
        { t: 10, type: 'pod', pod: 'p', change: 'terminating' },
      ] }),
    );
    expect(none.pods[0].spans.map((s) => s.state)).toEqual(['running', 'terminating']);
  });
});

describe('report view: targets and nodes', () => {
  it('labels targets with their pod and groups them by LB node when the events name one', () => {
    const cell = cellResult({
      gate: false,
      kind: 'rollout',
      durationSeconds: 30,
      timeline: [
        { t: 0, type: 'pod', pod: 'web-a', change: 'present', ip: '10.0.0.1' },
        { t: 1, type: 'target', target: '10.0.0.1:8080', state: 'healthy' },
        { t: 5, type: 'target', target: '10.0.0.1:8080', state: 'draining', from: 'healthy' },
        { t: 9, type: 'target', target: '10.0.0.1:8080', state: 'unused', from: 'draining' },
      ],
    }) as ReportCell;
    // A later result may see target states per LB node: the events carry the node.
    (cell.timeline as object[]).push({ t: 2, type: 'target', target: '10.0.0.1:8080', state: 'healthy', lbNode: 'us-east-1b' }, { t: 7, type: 'target', target: '10.0.0.1:8080', state: 'draining', lbNode: 'us-east-1b' });
    const targets = buildCellView(cell).targets;
    expect(targets.map((l) => [l.group, l.label])).toEqual([['', '10.0.0.1:8080 web-a'], ['us-east-1b', '10.0.0.1:8080 web-a']]);
    expect(targets[0].spans.map((s) => [s.state, s.from, s.to])).toEqual([['healthy', 1, 5], ['draining', 5, 9], ['unused', 9, 30]]);
    expect(targets[1].spans.map((s) => [s.state, s.from, s.to])).toEqual([['healthy', 2, 7], ['draining', 7, 30]]);
  });

  it('reads node states from the spot notice (taint), the cordon and the instance termination', () => {
    const cell = cellResult({
      gate: false,
      kind: 'drain',
      durationSeconds: 60,
      timeline: [
        { t: 0, type: 'pod', pod: 'a', change: 'present', node: 'node-b2' },
        { t: 0, type: 'pod', pod: 'b', change: 'present', node: 'node-a1' },
        { t: 10, type: 'disruption', action: 'spot-notice', detail: 'node-b2 (i-0abc), termination in 30 s' },
        { t: 11, type: 'disruption', action: 'cordon', detail: 'node-b2' },
        { t: 40, type: 'disruption', action: 'terminate-instance', detail: 'i-0abc' },
      ],
    });
    const nodes = buildCellView(cell).nodes;
    expect(nodes.map((n) => n.label)).toEqual(['node-a1', 'node-b2']);
    expect(nodes[0].spans).toEqual([{ from: 0, to: 60, state: 'schedulable' }]);
    expect(nodes[1].spans.map((s) => [s.state, s.from, s.to])).toEqual([['schedulable', 0, 10], ['tainted', 10, 11], ['tainted, cordoned', 11, 40], ['terminated', 40, 60]]);
  });
});

describe('report view: failures by cause', () => {
  const failures = [
    { t: 3, path: '/', status: 502 },
    { t: 4, path: '/', status: 503 },
    { t: 5, path: '/', error: 'ECONNRESET' },
  ];
  it("takes the twin's reason when it is the only one of that status, else the status", () => {
    const view = buildCellView(cellResult({ gate: false, kind: 'rollout', failures, fiveXX: 2, fiveXXByReason: { '502 connect-refused': 1, '503 no-routable-targets': 0, '503 other': 1 } }));
    expect(view.causeSource).toBe('twin');
    expect(view.failures.map((f) => f.cause)).toEqual(['502 connect-refused', '503', 'net ECONNRESET']);
  });

  it('colours by status without reasons, and by the explain pipeline\'s per-failure cause when present', () => {
    const plain = buildCellView(cellResult({ gate: false, kind: 'rollout', failures, fiveXX: 2 }));
    expect(plain.causeSource).toBe('status');
    expect(plain.causes).toEqual({ '502': 1, '503': 1, 'net ECONNRESET': 1 });
    const explained = { ...cellResult({ gate: false, kind: 'rollout', failures, fiveXX: 2 }), explain: explainOf({ causes: { 'routed-after-sigterm': 7 }, attributed: [{ t: 3.5, status: 502, path: null, target: null, lbNode: null, traceId: null, cause: 'routed-after-sigterm', why: 'w' }], crossCheck: { client: 2, accessLog: 2, mismatches: [] }, lags: { deregistration: dist(3, 4.2), registration: dist(0, 0), longestRequest: dist(0, 0) } }) };
    const view = buildCellView(explained);
    expect(view.causeSource).toBe('explain');
    expect(view.failures).toEqual([{ t: 3.5, cause: 'routed-after-sigterm', detail: '502' }]);
    expect(view.causes).toEqual({ 'routed-after-sigterm': 7 });
    expect(view.crossChecks).toEqual({ client: 2, accessLog: 2, mismatches: [] });
    expect(view.lags).toEqual({ deregistration: { count: 3, min: 0, p50: 0, p90: 0, max: 4.2 }, registration: { count: 0, min: 0, p50: 0, p90: 0, max: 0 }, longestRequest: { count: 0, min: 0, p50: 0, p90: 0, max: 0 } });
  });

  it('keeps a gateway cell\'s retries out of the failed requests by cause, and shows them apart', () => {
    const cell = { ...cellResult({ gate: false, kind: 'rollout', failures, fiveXX: 2 }), explain: explainOf({ causes: { 'gateway-upstream-gone': 2, 'gateway-retried': 9 }, attributed: [{ t: 3.5, status: 502, path: null, target: null, lbNode: null, traceId: null, cause: 'gateway-upstream-gone', why: 'w' }], crossCheck: { client: 2, accessLog: 2, mismatches: [] } }) };
    const view = buildCellView(cell);
    expect(view.causes).toEqual({ 'gateway-upstream-gone': 2 });
    expect(view.gatewayRetried).toBe(9);
    // What the client counted, whatever the gateway retried.
    expect(view.failed).toBe(cell.fiveXX + cell.requests.networkErrors);
  });
});

describe('report view: series and heatmap', () => {
  it('draws per-real-second buckets (cells without rates) in real requests per second, each spanning its model seconds', () => {
    const view = buildCellView(
      cellResult({ gate: false, kind: 'rollout', series: [
        { t: 0, byStatus: { '200': 180, '502': 20 }, networkErrors: 0 },
        { t: 20, byStatus: { '200': 190, '404': 6 }, networkErrors: 4 },
        { t: 60, byStatus: { '200': 200 }, networkErrors: 0 },
      ] }),
    );
    expect(view.series).toEqual([
      { t: 0, width: 20, ok: 180, fiveXX: 20, net: 0, other: 0 },
      { t: 20, width: 20, ok: 190, fiveXX: 0, net: 4, other: 6 },
      { t: 60, width: 20, ok: 200, fiveXX: 0, net: 0, other: 0 },
    ]);
    expect(view.bucketSeconds).toBe(1);
    expect(view.latencySeries).toEqual([]);
  });

  it('uses the cell\'s rate buckets when it has them: counts per bucket ÷ its real seconds, and each bucket\'s latency', () => {
    const cell = {
      ...cellResult({ gate: false, kind: 'rollout' }),
      durationSeconds: 40,
      realDurationSeconds: 2,
      rates: {
        bucketSeconds: 0.25,
        points: [
          { t: 0, ok: 24, fiveXX: 1, net: 0, other: 0, p50: 2, p99: 9, max: 9 },
          { t: 5, ok: 0, fiveXX: 0, net: 0, other: 0 },
          { t: 10, ok: 20, fiveXX: 0, net: 5, other: 0, p50: 3, p99: 2000, max: 2001 },
        ],
      },
    };
    const view = buildCellView(cell);
    expect(view.bucketSeconds).toBe(0.25);
    expect(view.series).toEqual([
      { t: 0, width: 5, ok: 96, fiveXX: 4, net: 0, other: 0 },
      { t: 5, width: 5, ok: 0, fiveXX: 0, net: 0, other: 0 },
      { t: 10, width: 5, ok: 80, fiveXX: 0, net: 20, other: 0 },
    ]);
    expect(view.latencySeries).toEqual([
      { t: 0, width: 5, p50: 2, p99: 9, max: 9 },
      { t: 10, width: 5, p50: 3, p99: 2000, max: 2001 },
    ]);
    // One bucket: its model width from the cell's time scale (40 model s in 2 real s).
    expect(buildCellView({ ...cell, rates: { bucketSeconds: 0.25, points: cell.rates.points.slice(0, 1) } }).series[0].width).toBe(5);
  });

  it('sums repeats per config × disruption, and an INVALID repeat makes the cell INVALID, not 0', () => {
    const a = cellResult({ gate: false, kind: 'rollout', repeat: 1, fiveXX: 3, requests: { planned: 100, sent: 100, byStatus: { '200': 96, '502': 3 }, networkErrors: 1, networkErrorsByCode: { ECONNRESET: 1 }, cutAtStop: { count: 0, t: [] }, achieved: 1 } });
    const b = cellResult({ gate: false, kind: 'rollout', repeat: 2, fiveXX: 2 });
    const bad = cellResult({ gate: true, kind: 'rollout', valid: false, invalidReason: 'baseline 90 % 2xx' });
    const view = buildReportView([a, b, bad]);
    expect(view.columns).toEqual(['rollout']);
    expect(view.rows.map((r) => r.groups.get('rollout')?.failed)).toEqual([6, null]);
    expect(view.rows[1].groups.get('rollout')?.invalidReasons).toEqual([`${bad.id}: baseline 90 % 2xx`]);
    expect(view.maxFailed).toBe(6);
    expect(view.rows[0].groups.get('rollout')?.sent).toBe(a.requests.sent + b.requests.sent);
    expect(view.maxRate).toBe(6 / (a.requests.sent + b.requests.sent));
  });
});

describe('report view: validity', () => {
  it('has a row with the pods the disruption acted on (none when the cell has no such record)', () => {
    const actedOn = { pods: 2, needed: 3, summary: 'the rollout replaced 2 of 3 old pod(s) of web: web-a still runs the old template' };
    const view = buildCellView(cellResult({ gate: true, kind: 'rollout', disruptionOutcome: { completed: true, detail: 'rollout complete', actedOn } }));
    expect(view.validity).toContainEqual(['acted on', '2 pod(s) of the 3 needed: the rollout replaced 2 of 3 old pod(s) of web: web-a still runs the old template']);
    expect(buildCellView(cellResult({ gate: true, kind: 'rollout' })).validity.map(([k]) => k)).not.toContain('acted on');
  });

  it("names a k6-operator cell's runners with their segments and parts, a failed one with why", () => {
    const driver = {
      name: 'k6-operator' as const,
      version: 'v1.1.0',
      testRun: 'rh-1b8c5f6b0151',
      runners: [
        { name: 'rh-1b8c5f6b0151-1-ab12c', segment: '0:1/2', planned: 300, sent: 300, answered: 300, networkErrors: 0, cut: 0 },
        { name: 'rh-1b8c5f6b0151-2-de34f', segment: '1/2:1', planned: 300, sent: 120, answered: 120, networkErrors: 0, cut: 0, failed: 'its pod was deleted before k6 finished' },
      ],
    };
    const row = buildCellView({ ...cellResult({ gate: true, kind: 'rollout' }), driver }).validity.find(([k]) => k === 'duration')![1];
    expect(row).toContain('driver k6-operator (k6 v1.1.0, TestRun rh-1b8c5f6b0151: rh-1b8c5f6b0151-1-ab12c 0:1/2 sent 300 of 300; rh-1b8c5f6b0151-2-de34f 1/2:1 sent 120 of 300 — its pod was deleted before k6 finished)');
  });
});
