/** Attribution and lags on a constructed timeline: one 5xx for every cause class, and known lags. */
import { describe, expect, it } from 'vitest';
import { attribute, CAUSES, causeOf, type Cause } from '../../../harness/explain/attribute.ts';
import { indexTimeline, phaseAt, podAt } from '../../../harness/explain/cell-context.ts';
import { distributionOf, measureLags, percentile } from '../../../harness/explain/lags.ts';
import type { TimelineEvent } from '../../../harness/observe/timeline.ts';
import { albEntry, type EntrySpec } from './fixtures.ts';

const ORIGIN = Date.UTC(2026, 9, 1, 12, 0, 0);
const settings = { preStopSeconds: 5, terminationGracePeriodSeconds: 30, deregistrationDelaySeconds: 20 };

// p-old-1 and p-old-2 terminate at 10 (SIGTERM at 15, SIGKILL at 40), their targets drain at 11
// (the delay elapses at 31); p-new starts at 11, Ready at 20, its target healthy at 25; p-spot is
// on node n2, whose spot notice comes at 5 and whose instance is terminated at 35; p-run runs.
const timeline: TimelineEvent[] = [
  { t: 0, type: 'stage', stage: 'traffic' },
  { t: 0, type: 'pod', pod: 'p-old-1', change: 'present', node: 'n1', ip: '10.0.0.1' },
  { t: 0, type: 'pod', pod: 'p-old-2', change: 'present', node: 'n1', ip: '10.0.0.5' },
  { t: 0, type: 'pod', pod: 'p-spot', change: 'present', node: 'n2', ip: '10.0.0.3' },
  { t: 0, type: 'pod', pod: 'p-run', change: 'present', node: 'n1', ip: '10.0.0.4' },
  { t: 0.2, type: 'target', target: '10.0.0.1:8080', state: 'healthy' },
  { t: 0.2, type: 'target', target: '10.0.0.5:8080', state: 'healthy' },
  { t: 0.2, type: 'target', target: '10.0.0.3:8080', state: 'healthy' },
  { t: 0.2, type: 'target', target: '10.0.0.4:8080', state: 'healthy' },
  { t: 5, type: 'disruption', action: 'spot-notice', detail: 'n2 (i-0abc123), termination in 30 s' },
  { t: 5.1, type: 'disruption', action: 'cordon', detail: 'n2' },
  { t: 10, type: 'pod', pod: 'p-old-1', change: 'terminating', node: 'n1', ip: '10.0.0.1' },
  { t: 10, type: 'pod', pod: 'p-old-2', change: 'terminating', node: 'n1', ip: '10.0.0.5' },
  { t: 11, type: 'pod', pod: 'p-new', change: 'created', node: 'n1' },
  { t: 11, type: 'target', target: '10.0.0.1:8080', state: 'draining', from: 'healthy' },
  { t: 11, type: 'target', target: '10.0.0.5:8080', state: 'draining', from: 'healthy' },
  { t: 12, type: 'target', target: '10.0.0.2:8080', state: 'initial' },
  { t: 20, type: 'pod', pod: 'p-new', change: 'ready', node: 'n1', ip: '10.0.0.2' },
  { t: 25, type: 'target', target: '10.0.0.2:8080', state: 'healthy', from: 'initial' },
  { t: 35, type: 'disruption', action: 'terminate-instance', detail: 'i-0abc123' },
  { t: 45, type: 'pod', pod: 'p-old-1', change: 'deleted', node: 'n1', ip: '10.0.0.1' },
];

const cases: Array<[Cause, EntrySpec]> = [
  ['app-5xx', { t: 3, elb: 500, targetStatus: 500, target: '10.0.0.4:8080', path: '/boom' }],
  ['no-healthy-target', { t: 4, elb: 503, target: null, targetTime: null }],
  ['keepalive-race', { t: 8, elb: 502, targetStatus: null, target: '10.0.0.4:8080', targetTime: null }],
  ['routed-after-sigterm', { t: 20, elb: 502, targetStatus: null, target: '10.0.0.5:8080', targetTime: null }],
  ['registered-not-healthy', { t: 22, elb: 502, targetStatus: null, target: '10.0.0.2:8080', targetTime: null }],
  ['delay-elapsed-in-flight', { t: 28, elb: 502, targetStatus: null, target: '10.0.0.1:8080', targetTime: 3.5 }],
  ['grace-expired-in-flight', { t: 35, elb: 502, targetStatus: null, target: '10.0.0.5:8080', targetTime: 5.5 }],
  ['instance-gone', { t: 36, elb: 504, targetStatus: null, target: '10.0.0.3:8080', targetTime: null }],
  ['routed-to-gone-pod', { t: 50, elb: 502, targetStatus: null, target: '10.0.0.1:8080', targetTime: null }],
  ['unknown', { t: 52, elb: 504, targetStatus: null, target: '10.0.0.4:8080', targetTime: 10 }],
];

describe('attribute', () => {
  it('gives each constructed 5xx its cause class, with the rule that matched', () => {
    const index = indexTimeline(timeline, settings);
    for (const [cause, spec] of cases) {
      const got = causeOf(albEntry(ORIGIN, spec), index, ORIGIN);
      expect({ t: spec.t, cause: got.cause }).toEqual({ t: spec.t, cause });
      expect(got.why.length).toBeGreaterThan(10);
    }
  });

  it('counts every cause, including client 5xx the ALB never logged (before-alb), and ignores non-5xx entries', () => {
    const entries = [...cases.map(([, s]) => albEntry(ORIGIN, s)), albEntry(ORIGIN, { t: 9, elb: 200, target: '10.0.0.4:8080' })];
    const clientFailures = [
      { t: 3.05, path: '/boom', status: 500 }, // the app-5xx entry
      { t: 4.02, path: '/', status: 503 }, // the no-healthy-target entry
      { t: 60, path: '/', status: 502 }, // nothing logged: before-alb
      { t: 61, path: '/', error: 'ECONNRESET' }, // not a 5xx
    ];
    const a = attribute({ entries, timeline, settings, originMs: ORIGIN, clientFailures });
    const expected = Object.fromEntries(CAUSES.map((c) => [c, c === 'before-alb' ? 1 : cases.filter(([k]) => k === c).length]));
    expect(a.causes).toEqual(expected);
    expect(a.clientMatched).toBe(2);
    expect(a.clientUnmatched).toBe(1);
    expect(a.attributed.map((x) => x.t)).toEqual([...a.attributed.map((x) => x.t)].sort((x, y) => x - y));
    expect(a.attributed.find((x) => x.cause === 'before-alb')).toMatchObject({ t: 60, status: 502, target: null });
    expect(a.attributed.find((x) => x.cause === 'routed-to-gone-pod')).toMatchObject({ pod: 'p-old-1', target: '10.0.0.1:8080', lbNode: '10.0.1.10' });
  });

  it('does not pair a client 5xx with a log entry of another path, status, or too far away', () => {
    const entries = [albEntry(ORIGIN, { t: 10, elb: 502, target: '10.0.0.4:8080', targetStatus: null, path: '/a' })];
    const a = attribute({ entries, timeline, settings, originMs: ORIGIN, clientFailures: [{ t: 10, path: '/b', status: 502 }, { t: 10, path: '/a', status: 504 }, { t: 14, path: '/a', status: 502 }] });
    expect(a.causes['before-alb']).toBe(3);
  });
});

describe('the cell index', () => {
  it('knows pod phases and reused IPs', () => {
    const index = indexTimeline([...timeline, { t: 60, type: 'pod', pod: 'p-reuse', change: 'created', node: 'n1', ip: '10.0.0.1' }], settings);
    const old = podAt(index, '10.0.0.1', 30)!;
    expect(old.name).toBe('p-old-1');
    expect(podAt(index, '10.0.0.1', 61)!.name).toBe('p-reuse');
    expect([5, 12, 16, 46].map((t) => phaseAt(index, old, t))).toEqual(['running', 'prestop', 'after-sigterm', 'gone']);
    expect(index.nodes.get('n2')).toEqual({ name: 'n2', instanceId: 'i-0abc123', tainted: 5, cordoned: 5.1, terminated: 35 });
  });
});

describe('measureLags', () => {
  it('measures deregistration and registration lags per target and LB node, and the longest request', () => {
    const A = '10.0.1.10';
    const B = '10.0.2.20';
    const entries = [
      ...[5, 8, 10.5, 12, 14].map((t) => albEntry(ORIGIN, { t, elb: 200, target: '10.0.0.1:8080' }, A)),
      ...[9, 10.9].map((t) => albEntry(ORIGIN, { t, elb: 200, target: '10.0.0.1:8080' }, B)),
      albEntry(ORIGIN, { t: 27, elb: 200, target: '10.0.0.2:8080', targetTime: 1.25 }, A),
      albEntry(ORIGIN, { t: 29.5, elb: 200, target: '10.0.0.2:8080' }, B),
      albEntry(ORIGIN, { t: 30, elb: 200, target: '10.0.0.2:8080' }, B),
    ];
    const lags = measureLags({ entries, timeline, settings, originMs: ORIGIN });
    expect(lags.samples.deregistration).toEqual([
      { target: '10.0.0.1:8080', lbNode: A, seconds: 3 },
      { target: '10.0.0.1:8080', lbNode: B, seconds: 0 },
    ]);
    expect(lags.samples.registration).toEqual([
      { target: '10.0.0.2:8080', lbNode: A, seconds: 2 },
      { target: '10.0.0.2:8080', lbNode: B, seconds: 4.5 },
    ]);
    expect(lags.deregistration).toMatchObject({ count: 2, min: 0, max: 3 });
    expect(lags.longestRequest.max).toBe(1.251);
  });

  it('summarises distributions with nearest-rank percentiles', () => {
    expect(distributionOf([5, 1, 4, 2, 3, 6, 7, 8, 9, 10])).toMatchObject({ count: 10, min: 1, p50: 5, p90: 9, max: 10 });
    expect(distributionOf([])).toMatchObject({ count: 0, min: 0, max: 0, values: [] });
    expect(percentile([1, 2, 3], 100)).toBe(3);
  });
});
