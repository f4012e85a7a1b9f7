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
  disruption: { completed: true, detail: 'ok' },
  settled: true,
  settleTimeoutSeconds: 900,
};

describe('verdictReasons', () => {
  it('finds a measured cell valid', () => {
    expect(verdictReasons(healthy)).toEqual([]);
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
});
