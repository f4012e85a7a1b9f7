/** The cross-check compares like with like: CloudWatch's minutes of the whole load balancer with the log's same minutes and scope. */
import { describe, expect, it } from 'vitest';
import { crossCheck, fiveXXKind } from '../../../harness/explain/cross-check.ts';

const START = Date.UTC(2026, 0, 1, 12, 3);
const series = (elb: number[], target: number[]) => ({ series: [{ id: 'elb5xx', timestamps: elb.map((_, i) => START + i * 60_000), values: elb }, { id: 'target5xx', timestamps: target.map((_, i) => START + i * 60_000), values: target }], startMs: START, endMs: START + 120_000 });

describe('crossCheck', () => {
  it('finds no mismatch when CloudWatch counts the neighbouring cells too, as the log of the same minutes does', () => {
    // The cell's 6 5xx, and 11 of the cells before and after it in the same two minutes.
    const c = crossCheck({ client: 6, accessLog: 6, cloudWatch: series([9, 6], [1, 1]), accessLogMinutes: { elb5xx: 15, target5xx: 2, ofCell: 6 } });
    expect(c.mismatches).toEqual([]);
    expect(c.cloudWatch).toEqual({ elb5xx: 15, target5xx: 2, from: '2026-01-01T12:03:00.000Z', to: '2026-01-01T12:05:00.000Z', accessLog: { elb5xx: 15, target5xx: 2, ofCell: 6 } });
  });

  it('flags entries missing from the log, and metrics short of the log, per metric', () => {
    const dropped = crossCheck({ client: 6, accessLog: 4, cloudWatch: series([9, 6], [1, 1]), accessLogMinutes: { elb5xx: 12, target5xx: 2, ofCell: 4 } });
    expect(dropped.mismatches).toEqual([
      'the client saw 6 5xx, the access log has 4: 2 never reached the ALB\'s log (before-alb: a proxy, or a log object missing)',
      'CloudWatch\'s HTTPCode_ELB_5XX_Count summed 15 over 12:03–12:05, the access log has 12 such entries of the whole load balancer in the same minutes: 3 missing from the log (entries or objects not delivered); 4 of the log\'s were this cell\'s',
    ]);
    const late = crossCheck({ client: 6, accessLog: 6, cloudWatch: series([9], [0]), accessLogMinutes: { elb5xx: 15, target5xx: 2, ofCell: 6 } });
    expect(late.mismatches).toEqual([
      'CloudWatch\'s HTTPCode_ELB_5XX_Count summed 9 over 12:03–12:05, fewer than the 15 such entries of the whole load balancer in the access log for the same minutes (metrics late or incomplete); 6 of the log\'s were this cell\'s',
      'CloudWatch\'s HTTPCode_Target_5XX_Count summed 0 over 12:03–12:05, fewer than the 2 such entries of the whole load balancer in the access log for the same minutes (metrics late or incomplete); 6 of the log\'s were this cell\'s',
    ]);
  });

  it('compares CloudWatch with nothing when no log was read, and keeps its error', () => {
    expect(crossCheck({ client: 3, accessLog: undefined, cloudWatch: series([40], [0]) }).mismatches).toEqual([]);
    expect(crossCheck({ client: 3, accessLog: 3, cloudWatch: { error: 'AccessDenied' }, accessLogMinutes: { elb5xx: 3, target5xx: 0, ofCell: 3 } })).toMatchObject({ cloudWatchError: 'AccessDenied', mismatches: [] });
  });
});

describe('fiveXXKind', () => {
  it('splits entries as the two metrics do: a target\'s 5xx, or the load balancer\'s own', () => {
    expect(fiveXXKind({ elbStatusCode: 500, targetStatusCode: 500 })).toBe('target5xx');
    expect(fiveXXKind({ elbStatusCode: 502, targetStatusCode: null })).toBe('elb5xx');
    expect(fiveXXKind({ elbStatusCode: 460, targetStatusCode: null })).toBeUndefined();
    expect(fiveXXKind({ elbStatusCode: 200, targetStatusCode: 200 })).toBeUndefined();
    expect(fiveXXKind({ elbStatusCode: 599, targetStatusCode: null })).toBe('elb5xx');
    expect(fiveXXKind({ elbStatusCode: 600, targetStatusCode: null })).toBeUndefined();
  });
});
