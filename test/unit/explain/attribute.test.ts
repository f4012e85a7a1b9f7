/** Attribution and lags on a constructed timeline: one 5xx for every cause class, and known lags. */
import { describe, expect, it } from 'vitest';
import { attribute, CAUSES, causeOf, matchClientFailures } from '../../../harness/explain/attribute.ts';
import { indexTimeline, phaseAt, podAt } from '../../../harness/explain/cell-context.ts';
import { distributionOf, measureLags, percentile } from '../../../harness/explain/lags.ts';
import { albEntry, cases, ORIGIN, settings, timeline } from './fixtures.ts';

describe('attribute', () => {
  it('gives each constructed 5xx its cause class, with the rule that matched', () => {
    const index = indexTimeline(timeline, settings);
    for (const [cause, spec] of cases) {
      const got = causeOf(albEntry(ORIGIN, spec), index, ORIGIN);
      expect({ t: spec.t, cause: got.cause }).toEqual({ t: spec.t, cause });
      expect(got.why.length).toBeGreaterThan(10);
    }
  });

  it('puts a refused request just before the watch saw the SIGTERM with it (within the slack), but not a request well before', () => {
    const noPreStop = indexTimeline(timeline, { ...settings, preStopSeconds: 0 });
    const refused = (t: number) => causeOf(albEntry(ORIGIN, { t, elb: 502, targetStatus: null, target: '10.0.0.5:8080', targetTime: null }), noPreStop, ORIGIN).cause;
    expect(refused(9.7)).toBe('routed-after-sigterm');
    expect(refused(8.5)).toBe('keepalive-race');
    // With a 5 s preStop the pod still serves right after it turned terminating: no SIGTERM yet.
    expect(causeOf(albEntry(ORIGIN, { t: 9.7, elb: 502, targetStatus: null, target: '10.0.0.5:8080', targetTime: null }), indexTimeline(timeline, settings), ORIGIN).cause).toBe('keepalive-race');
  });

  it('reaches as far before the watched SIGTERM as the watch may be late (watchSlack), and no further', () => {
    const noPreStop = indexTimeline(timeline, { ...settings, preStopSeconds: 0 });
    const refused = (t: number, watchSlack: number) => causeOf(albEntry(ORIGIN, { t, elb: 502, targetStatus: null, target: '10.0.0.5:8080', targetTime: null }), noPreStop, ORIGIN, 1, watchSlack).cause;
    // The watch showed the pod terminating at 10 s; on a fast clock it may have been late by seconds.
    expect(refused(8.5, 1)).toBe('keepalive-race');
    expect(refused(8.5, 2)).toBe('routed-after-sigterm');
    expect(refused(7.5, 2)).toBe('keepalive-race');
    // Through attribute(): the input's watchSlackSeconds, defaulting to slackSeconds.
    const entry = albEntry(ORIGIN, { t: 8.5, elb: 502, targetStatus: null, target: '10.0.0.5:8080', targetTime: null });
    const noPre = { ...settings, preStopSeconds: 0 };
    expect(attribute({ entries: [entry], timeline, settings: noPre, originMs: ORIGIN }).attributed[0].cause).toBe('keepalive-race');
    expect(attribute({ entries: [entry], timeline, settings: noPre, originMs: ORIGIN, watchSlackSeconds: 2 }).attributed[0].cause).toBe('routed-after-sigterm');
    expect(attribute({ entries: [entry], timeline, settings: noPre, originMs: ORIGIN, slackSeconds: 2 }).attributed[0].cause).toBe('routed-after-sigterm');
  });

  it('puts a refused request just before a watched SIGTERM and deletion with the SIGTERM, the first of them', () => {
    // p-old-2 (preStop 0) quits at its SIGTERM at 10 s and is deleted at 10.3 s; the watch may be 1 s late.
    const quick = timeline.concat([{ t: 10.3, type: 'pod', pod: 'p-old-2', change: 'deleted', node: 'n1', ip: '10.0.0.5' }]);
    const index = indexTimeline(quick, { ...settings, preStopSeconds: 0 });
    const refused = (t: number) => causeOf(albEntry(ORIGIN, { t, elb: 502, targetStatus: null, target: '10.0.0.5:8080', targetTime: null }), index, ORIGIN);
    // Both in the window: a connection closed at SIGTERM (keep-alive race) or refused fits the SIGTERM; "gone" fits only the refusal.
    expect(refused(9.7)).toMatchObject({ cause: 'routed-after-sigterm', why: expect.stringContaining('0.3 s before the watch saw its SIGTERM') });
    expect(refused(10.1).cause).toBe('routed-after-sigterm');
    expect(refused(10.4)).toMatchObject({ cause: 'routed-to-gone-pod', why: expect.stringContaining('0.1 s after its deletion') });
    // A pod deleted without a SIGTERM the watch saw (a force delete): the deletion.
    const forced = indexTimeline(quick.filter((e) => !(e.type === 'pod' && e.pod === 'p-old-2' && e.change === 'terminating')), { ...settings, preStopSeconds: 0 });
    expect(causeOf(albEntry(ORIGIN, { t: 9.7, elb: 502, targetStatus: null, target: '10.0.0.5:8080', targetTime: null }), forced, ORIGIN).cause).toBe('routed-to-gone-pod');
  });

  it('does not call a request the delay cut when the watch had seen its pod deleted before it came', () => {
    // p-old-1's target drains at 11 s, its 20 s delay elapses at 31 s; here its pod is deleted at 30.5 s.
    const deletedEarly = timeline.map((e) => (e.type === 'pod' && e.pod === 'p-old-1' && e.change === 'deleted' ? { ...e, t: 30.5 } : e));
    const index = indexTimeline(deletedEarly, settings);
    const refused = (t: number) => causeOf(albEntry(ORIGIN, { t, elb: 502, targetStatus: null, target: '10.0.0.1:8080', targetTime: null }), index, ORIGIN);
    // Within the slack of the delay's end either way; after the deletion nothing listened to be cut.
    expect(refused(30.6).cause).toBe('routed-to-gone-pod');
    expect(refused(30.4).cause).toBe('delay-elapsed-in-flight');
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

  it('pairs a log entry with one client 5xx only: the first sent takes it, the other never reached the log', () => {
    const entries = [albEntry(ORIGIN, { t: 10.2, elb: 502, target: '10.0.0.4:8080', targetStatus: null, path: '/a' })];
    const clientFailures = [
      { t: 10.5, path: '/a', status: 502 },
      { t: 10, path: '/a', status: 502 },
    ];
    const a = attribute({ entries, timeline, settings, originMs: ORIGIN, clientFailures });
    expect(a.clientMatched).toBe(1);
    expect(a.clientUnmatched).toBe(1);
    expect(a.causes['before-alb']).toBe(1);
    // Client failures are paired in send order: t = 10 takes the entry, t = 10.5 finds it used.
    expect(a.attributed.filter((x) => x.cause === 'before-alb')).toMatchObject([{ t: 10.5, status: 502, path: '/a' }]);
    expect(matchClientFailures(clientFailures, entries, ORIGIN, 2)).toEqual({ matched: 1, unmatched: [clientFailures[0]] });
  });

  it('pairs each client 5xx with the nearest free entry, so that later ones still find theirs', () => {
    // Taken in send order: 10 → 9.5 (the nearest, not the first listed nor the last), 11.6 → 11.7, 11.9 → 11.8.
    // Taking any other entry for 10 leaves 11.9 with only 9.5, 2.4 s away (> 2).
    const entries = [11.8, 9.5, 11.7].map((t) => albEntry(ORIGIN, { t, elb: 502, target: '10.0.0.4:8080', targetStatus: null, path: '/a' }));
    const failures = [10, 11.9, 11.6].map((t) => ({ t, path: '/a', status: 502 }));
    expect(matchClientFailures(failures, entries, ORIGIN, 2)).toEqual({ matched: 3, unmatched: [] });
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
    // Both nodes carry steady traffic to another target meanwhile (a node that sits idle says nothing).
    const steady = Array.from({ length: 80 }, (_, i) => [A, B].map((n) => albEntry(ORIGIN, { t: i * 0.5 + 0.25, elb: 200, target: '10.0.0.4:8080' }, n))).flat();
    entries.push(...steady);
    const lags = measureLags({ entries, timeline, settings, originMs: ORIGIN });
    // Without `since` a change is taken half a poll (0.5 s) before it was seen: draining at 10.5, healthy at 24.5.
    expect(lags.samples.deregistration).toEqual([
      { target: '10.0.0.1:8080', lbNode: A, seconds: 3.5 },
      { target: '10.0.0.1:8080', lbNode: B, seconds: 0.4 },
    ]);
    expect(lags.samples.registration).toEqual([
      { target: '10.0.0.2:8080', lbNode: A, seconds: 2.5 },
      { target: '10.0.0.2:8080', lbNode: B, seconds: 5 },
    ]);
    expect(lags.deregistration).toMatchObject({ count: 2, min: 0.4, max: 3.5 });
    // With `since` (the poll before was sent at 9.2): draining at the middle, 10.1.
    const withSince = timeline.map((e) => (e.type === 'target' && e.state === 'draining' ? { ...e, since: 9.2 } : e));
    expect(measureLags({ entries, timeline: withSince, settings, originMs: ORIGIN }).samples.deregistration.map((x) => x.seconds)).toEqual([3.9, 0.8]);

    // Node B idle after 11 s: its deregistration end and its first request to the new target are not measured.
    const idleB = entries.filter((e) => !(e.lbNode === B && e.target?.ip === '10.0.0.4' && (e.requestCreationMs - ORIGIN) / 1000 > 11));
    const idle = measureLags({ entries: idleB, timeline, settings, originMs: ORIGIN });
    expect(idle.samples.deregistration.map((x) => x.lbNode)).toEqual([A]);
    expect(idle.samples.registration.map((x) => x.lbNode)).toEqual([A]);
    expect(lags.longestRequest.max).toBe(1.251);
  });

  it('summarises distributions with nearest-rank percentiles', () => {
    expect(distributionOf([5, 1, 4, 2, 3, 6, 7, 8, 9, 10])).toMatchObject({ count: 10, min: 1, p50: 5, p90: 9, max: 10 });
    expect(distributionOf([])).toMatchObject({ count: 0, min: 0, max: 0, values: [] });
    expect(percentile([1, 2, 3], 100)).toBe(3);
  });
});
