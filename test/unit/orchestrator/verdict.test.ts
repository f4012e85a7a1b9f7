import { describe, expect, it } from 'vitest';
import { baselineBefore, verdictReasons, type VerdictInput } from '../../../harness/orchestrator/verdict.ts';

const healthy: VerdictInput = {
  interrupted: false,
  planned: 1000,
  sent: 1000,
  cutAtStop: 0,
  answeredByStatus: 1000,
  twoXX: 990,
  fiveXX: 10,
  networkErrors: 0,
  baseline: { sent: 200, not2xx: 0 },
  disruption: { completed: true, detail: 'ok', actedOn: { pods: 1, needed: 1, summary: 'the drain of node-b2 evicted 1 pod(s) of web' } },
  settled: true,
  settleTimeoutSeconds: 900,
};

describe('verdictReasons', () => {
  it('finds a measured cell valid', () => {
    expect(verdictReasons(healthy)).toEqual([]);
  });

  it('makes a cell in which the twin stalled for 5 model s INVALID, and a shorter stall not', () => {
    expect(verdictReasons({ ...healthy, twinStall: { seconds: 4.999, t: 40.5 } })).toEqual([]);
    expect(verdictReasons({ ...healthy, twinStall: { seconds: 5, t: 40.5 } })).toEqual([
      'the local twin stalled for 5 model s at t=40.5 (≥ 5 s): its actions ran that much late against the pods and the traffic, so its timings in this cell are not faithful; run on an idle machine or at a slower time scale',
    ]);
  });

  it('makes a cell whose every request was refused INVALID, never 0', () => {
    // target.url http://127.0.0.1:9: 263 of 263 requests ECONNREFUSED.
    const reasons = verdictReasons({ ...healthy, planned: 263, sent: 263, answeredByStatus: 0, twoXX: 0, fiveXX: 0, networkErrors: 263, baseline: { sent: 50, not2xx: 50 } });
    expect(reasons).toEqual(['no healthy baseline: 0 of 50 warm-up requests got a 2xx (0.0 % < 99 %)', 'traffic failed wholesale: none of the 263 requests got an HTTP answer']);
  });

  it('needs a healthy warm-up: 99 % 2xx, one failure tolerated in a short one', () => {
    expect(verdictReasons({ ...healthy, baseline: { sent: 29, not2xx: 1 } })).toEqual([]);
    expect(verdictReasons({ ...healthy, baseline: { sent: 29, not2xx: 2 } })).toEqual(['no healthy baseline: 27 of 29 warm-up requests got a 2xx (93.1 % < 99 %)']);
    expect(verdictReasons({ ...healthy, baseline: { sent: 500, not2xx: 5 } })).toEqual([]);
    expect(verdictReasons({ ...healthy, baseline: { sent: 500, not2xx: 6 } })[0]).toMatch(/^no healthy baseline: 494 of 500/);
    expect(verdictReasons({ ...healthy, baseline: { sent: 0, not2xx: 0 } })).toEqual(['no healthy baseline: no request was sent during the warm-up']);
  });

  it('says when the failing baseline was the last of several warm-ups, and holds a healthy last one valid', () => {
    expect(verdictReasons({ ...healthy, baseline: { sent: 29, not2xx: 2 }, warmupsAbandoned: 2 })).toEqual(['no healthy baseline: 27 of 29 warm-up requests got a 2xx (93.1 % < 99 %), in the last of 3 warm-ups (each with fresh traffic)']);
    expect(verdictReasons({ ...healthy, baseline: { sent: 29, not2xx: 0 }, warmupsAbandoned: 2 })).toEqual([]);
  });

  it('holds a cell that achieved exactly 95 % valid, and one request fewer INVALID', () => {
    // 950 of 1000 is exactly the threshold (and exactly 0.95 in floating point).
    expect(verdictReasons({ ...healthy, sent: 950, answeredByStatus: 950, twoXX: 940 })).toEqual([]);
    expect(verdictReasons({ ...healthy, sent: 949, answeredByStatus: 949, twoXX: 939 })).toEqual(['traffic achieved 94.9 % of the 1000 planned requests (< 95 %)']);
    // With requests cut at the stop out of both sides: (955 − 100) / (1000 − 100) = 95 %.
    expect(verdictReasons({ ...healthy, sent: 955, cutAtStop: 100, answeredByStatus: 855, twoXX: 845 })).toEqual([]);
    expect(verdictReasons({ ...healthy, sent: 954, cutAtStop: 100, answeredByStatus: 854, twoXX: 844 })[0]).toMatch(/^traffic achieved 94\.9 % of the 1000 planned/);
  });

  it('finds a cell whose every planned request was cut at the stop INVALID, never a share of 0 / 0', () => {
    expect(verdictReasons({ ...healthy, planned: 100, sent: 100, cutAtStop: 100, answeredByStatus: 0, twoXX: 0, fiveXX: 0 })).toEqual(['traffic achieved 0.0 % of the 100 planned requests (< 95 %)']);
  });

  it('leaves requests cut at the stop out of the achieved share and the accounting gap', () => {
    expect(verdictReasons({ ...healthy, planned: 1000, sent: 1000, cutAtStop: 72, answeredByStatus: 928, twoXX: 918 })).toEqual([]);
  });

  it('keeps heavy loss after a healthy baseline as a finding, but not traffic that never got a 2xx', () => {
    expect(verdictReasons({ ...healthy, twoXX: 336, fiveXX: 1124, networkErrors: 0, answeredByStatus: 1460, sent: 1460, planned: 1460 })).toEqual([]);
    expect(verdictReasons({ ...healthy, twoXX: 0, fiveXX: 1000, answeredByStatus: 1000 })).toEqual(['traffic failed wholesale: none of the 1000 requests got a 2xx']);
  });

  it('lists every other reason: interrupted, traffic, achieved share, accounting, disruption, settling', () => {
    const reasons = verdictReasons({ ...healthy, interrupted: true, trafficProblem: 'traffic failed: k6 exited 107', sent: 900, answeredByStatus: 899, disruption: { completed: false, reason: 'no node' } });
    expect(reasons).toEqual([
      'interrupted',
      'traffic failed: k6 exited 107',
      'traffic achieved 90.0 % of the 1000 planned requests (< 95 %)',
      'accounting: 899 answered + 0 network errors + 0 cut at the stop ≠ 900 sent',
      'disruption did not complete: no node',
    ]);
    expect(verdictReasons({ ...healthy, settled: false })).toEqual(['not settled within 900 s']);
  });
});

describe('verdictReasons: the disruption must act on the Deployment', () => {
  const acted = (pods: number, needed: number, summary: string): VerdictInput => ({ ...healthy, disruption: { completed: true, detail: 'done', actedOn: { pods, needed, summary } } });

  it('makes a drain or spot cell that evicted no pod of the Deployment INVALID, one pod is enough', () => {
    // spot, then a drain of `node: spot`: "evicted 0 pod(s) from node-b2" was a valid 0.
    expect(verdictReasons(acted(0, 1, 'the drain of node-b2 evicted no pod of web'))).toEqual(['disruption acted on too few pods: the drain of node-b2 evicted no pod of web']);
    expect(verdictReasons(acted(1, 1, 'the drain of node-b2 evicted 1 pod(s) of web'))).toEqual([]);
  });

  it('makes a rollout valid only when it replaced every old pod', () => {
    expect(verdictReasons(acted(3, 3, 'the rollout replaced 3 of 3 old pod(s) of web'))).toEqual([]);
    expect(verdictReasons(acted(2, 3, 'the rollout replaced 2 of 3 old pod(s) of web: web-a still runs the old template'))).toEqual([
      'disruption acted on too few pods: the rollout replaced 2 of 3 old pod(s) of web: web-a still runs the old template',
    ]);
    // `kubectl rollout undo` in the disrupt stage: valid `0 5xx of 703` before.
    expect(verdictReasons({ ...acted(0, 3, 'the rollout replaced 0 of 3 old pod(s) of web'), planned: 703, sent: 703, answeredByStatus: 703, twoXX: 703, fiveXX: 0 })).toEqual([
      'disruption acted on too few pods: the rollout replaced 0 of 3 old pod(s) of web',
    ]);
    // A Deployment without pods to replace proves nothing either.
    expect(verdictReasons(acted(0, 0, 'the rollout replaced 0 of 0 old pod(s) of web'))).toHaveLength(1);
  });

  it('gives the reason of a disruption that did not complete, not its partial count', () => {
    expect(verdictReasons({ ...healthy, disruption: { completed: false, reason: 'interrupted', actedOn: { pods: 0, needed: 1, summary: 'x' } } })).toEqual(['disruption did not complete: interrupted']);
  });
});

describe('verdictReasons on traffic off schedule', () => {
  it('makes a cell whose driver fell behind in the disruption window INVALID, whatever else it achieved', () => {
    // The Ctrl-Z: achieved 1, `0 5xx of 2212`, but 13 s of the window had nothing sent on time.
    const reasons = verdictReasons({ ...healthy, planned: 2212, sent: 2212, answeredByStatus: 2212, twoXX: 2212, fiveXX: 0, behindSeconds: 13 });
    expect(reasons).toEqual(["the driver fell behind for 13 s of the disruption window (under 90 % of a second's due requests sent within 1 s)"]);
    expect(verdictReasons({ ...healthy, behindSeconds: 0 })).toEqual([]);
  });
});

describe('baselineBefore', () => {
  it('judges the second half of the warm-up: requests due there from the rate, the non-2xx that ended before the disruption from the failures', () => {
    const failures = [
      { sentAt: 10_500, endedAt: 10_510, path: '/' }, // first half of the warm-up: a start transient
      { sentAt: 11_500, endedAt: 11_510, path: '/' },
      { sentAt: 11_990, endedAt: 11_999, path: '/' },
      { sentAt: 11_200, endedAt: 13_000, path: '/slow' }, // sent in the warm-up, failed in the disruption: not the baseline's
      { sentAt: 12_000, endedAt: 12_001, path: '/' },
    ];
    const result = { startedAt: 10_000, sent: 1000, failures };
    expect(baselineBefore(result, 100, 12_000)).toEqual({ sent: 100, not2xx: 2 });
    expect(baselineBefore(result, 100, 9_000)).toEqual({ sent: 0, not2xx: 0 });
  });

  it('counts a failure sent exactly at the half, not one that ended exactly at the disruption', () => {
    const failures = [
      { sentAt: 11_000, endedAt: 11_010, path: '/' }, // at the start of the second half: the baseline's
      { sentAt: 11_500, endedAt: 12_000, path: '/' }, // ended as the disruption started: not the baseline's
    ];
    expect(baselineBefore({ startedAt: 10_000, sent: 1000, failures }, 100, 12_000)).toEqual({ sent: 100, not2xx: 1 });
  });
});
