/** Metrics over @aws-sdk/client-cloudwatch (default credential chain; endpoint override when configured). */
import { CloudWatchClient, GetMetricDataCommand, type MetricDataResult } from '@aws-sdk/client-cloudwatch';
import { awsErrorText, withApiErrors } from '../api-errors.ts';
import type { AwsClientOptions } from '../elbv2/adapter.ts';
import type { MetricSeries, Metrics } from '../ports.ts';

/** Builds the CloudWatch adapter. */
export function createCloudWatchAdapter(options: AwsClientOptions): Metrics {
  const client = new CloudWatchClient({ region: options.region, endpoint: options.endpoint, credentials: options.credentials, maxAttempts: 5 });
  const port: Metrics = {
    async getMetricData(queries, startMs, endMs) {
      if (!queries.length) return [];
      const byId = new Map<string, MetricSeries>();
      let token: string | undefined;
      // Pages repeat a query's id with more datapoints: merge them.
      do {
        const out = await client.send(
          new GetMetricDataCommand({
            StartTime: new Date(startMs),
            EndTime: new Date(endMs),
            ScanBy: 'TimestampAscending',
            NextToken: token,
            MetricDataQueries: queries.map((q) => ({
              Id: q.id,
              ReturnData: true,
              MetricStat: {
                Metric: { Namespace: q.namespace, MetricName: q.metricName, Dimensions: Object.entries(q.dimensions).map(([Name, Value]) => ({ Name, Value })) },
                Period: q.periodSeconds,
                Stat: q.stat,
              },
            })),
          }),
        );
        for (const r of out.MetricDataResults ?? []) merge(byId, r);
        token = out.NextToken;
      } while (token);
      return queries.map((q) => {
        const s = byId.get(q.id) ?? { id: q.id, timestamps: [], values: [] };
        // Ascending whatever the store did.
        const order = s.timestamps.map((_, i) => i).sort((a, b) => s.timestamps[a] - s.timestamps[b]);
        return { ...s, timestamps: order.map((i) => s.timestamps[i]), values: order.map((i) => s.values[i]) };
      });
    },
  };
  return withApiErrors('CloudWatch', options.endpoint, port, awsErrorText);
}

function merge(byId: Map<string, MetricSeries>, r: MetricDataResult): void {
  const id = r.Id ?? '';
  const s = byId.get(id) ?? { id, timestamps: [], values: [], ...(r.Label ? { label: r.Label } : {}) };
  s.timestamps.push(...(r.Timestamps ?? []).map((d) => d.getTime()));
  s.values.push(...(r.Values ?? []));
  if (r.StatusCode) s.status = r.StatusCode;
  byId.set(id, s);
}
