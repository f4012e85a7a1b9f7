import { describe, expect, it } from 'vitest';
import { AlbMetrics } from '../../../../harness/twin/alb/metrics.ts';
import { handleCloudWatchJson, handleCloudWatchQuery, unflattenQuery } from '../../../../harness/twin/aws/cloudwatch-api.ts';
import { parseQuery } from '../../../../harness/twin/aws/query.ts';

const T0 = Date.parse('2025-03-01T10:00:00Z');
const LB = 'app/web/0123456789abcdef';

function metrics(): AlbMetrics {
  const m = new AlbMetrics();
  const base = { loadBalancer: LB, targetGroup: 'targetgroup/tg/0123456789abcdef', targetChosen: true, connectionError: false };
  // Minute 0: two 200s and a 502; minute 2: one 503 with no target chosen; minute 1: nothing.
  m.recordRequest({ ...base, time: T0 + 1000, zone: 'us-east-1a', elbStatus: 200, targetStatus: 200 });
  m.recordRequest({ ...base, time: T0 + 2000, zone: 'us-east-1b', elbStatus: 200, targetStatus: 200 });
  m.recordRequest({ ...base, time: T0 + 3000, zone: 'us-east-1b', elbStatus: 502, targetStatus: null, connectionError: true });
  m.recordRequest({ ...base, time: T0 + 125_000, zone: 'us-east-1a', elbStatus: 503, targetStatus: null, targetChosen: false, targetGroup: 'targetgroup/tg/0123456789abcdef' });
  return m;
}

describe('CloudWatch over the Query protocol', () => {
  it('unflattens member lists and nested structures', () => {
    const input = unflattenQuery(parseQuery('Dimensions.member.1.Name=LoadBalancer&Dimensions.member.1.Value=x&Statistics.member.1=Sum&Statistics.member.2=Maximum&Period=60'));
    expect(input).toEqual({ Dimensions: [{ Name: 'LoadBalancer', Value: 'x' }], Statistics: ['Sum', 'Maximum'], Period: '60' });
  });

  it('answers GetMetricStatistics in XML, leaving out minutes without requests', () => {
    const body = `Action=GetMetricStatistics&Version=2010-08-01&Namespace=AWS%2FApplicationELB&MetricName=RequestCount&Dimensions.member.1.Name=LoadBalancer&Dimensions.member.1.Value=${encodeURIComponent(LB)}&StartTime=2025-03-01T10:00:00Z&EndTime=2025-03-01T10:05:00Z&Period=60&Statistics.member.1=Sum&Statistics.member.2=Average`;
    const r = handleCloudWatchQuery(metrics(), parseQuery(body), 'req-1');
    expect(r.status).toBe(200);
    expect(r.body).toContain('<Label>RequestCount</Label>');
    expect(r.body.match(/<member>/g)).toHaveLength(1);
    expect(r.body).toContain('<Timestamp>2025-03-01T10:00:00.000Z</Timestamp><Average>1</Average><Sum>3</Sum><Unit>Count</Unit>');
  });

  it('counts ELB 5xx per code, and a 503 without a chosen target is not in RequestCount', () => {
    const m = metrics();
    const json = (metric: string) =>
      JSON.parse(
        handleCloudWatchJson(m, 'GetMetricStatistics', JSON.stringify({ Namespace: 'AWS/ApplicationELB', MetricName: metric, Dimensions: [{ Name: 'LoadBalancer', Value: LB }], StartTime: T0 / 1000, EndTime: T0 / 1000 + 600, Period: 300, Statistics: ['Sum'] }), 'r').body,
      ) as { Datapoints: Array<{ Timestamp: number; Sum: number }> };
    expect(json('RequestCount').Datapoints).toEqual([{ Timestamp: T0 / 1000, Sum: 3, Unit: 'Count' }]);
    expect(json('HTTPCode_ELB_5XX_Count').Datapoints).toEqual([{ Timestamp: T0 / 1000, Sum: 2, Unit: 'Count' }]);
    expect(json('HTTPCode_ELB_503_Count').Datapoints).toEqual([{ Timestamp: T0 / 1000, Sum: 1, Unit: 'Count' }]);
    expect(json('TargetConnectionErrorCount').Datapoints).toEqual([{ Timestamp: T0 / 1000, Sum: 1, Unit: 'Count' }]);
  });

  it('refuses a period that is not a multiple of 60 with a query-compatible error', () => {
    const r = handleCloudWatchJson(metrics(), 'GetMetricStatistics', JSON.stringify({ Namespace: 'AWS/ApplicationELB', MetricName: 'RequestCount', StartTime: 0, EndTime: 600, Period: 45, Statistics: ['Sum'] }), 'r');
    expect(r.status).toBe(400);
    expect(r.headers?.['x-amzn-query-error']).toBe('InvalidParameterValue;Sender');
    expect(JSON.parse(r.body).message).toBe("Expected Period to be a multiple of 60 (ALB metrics are published per minute), got '45'");
  });
});
