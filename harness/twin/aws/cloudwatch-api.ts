/**
 * The CloudWatch API subset the twin serves, over the ALB twin's metrics: GetMetricStatistics and
 * GetMetricData for AWS/ApplicationELB. Two wire protocols, one model: AWS JSON 1.0
 * (`X-Amz-Target: GraniteServiceVersion20100801.<Op>`, what @aws-sdk/client-cloudwatch 3.x and the
 * aws CLI send; errors are query-compatible with `x-amzn-query-error`) and the Query protocol
 * (Version 2010-08-01, XML out) that older clients use. Timestamps are model time.
 */
import { ALB_NAMESPACE, type Aggregate, type AlbMetrics, type Dimensions } from '../alb/metrics.ts';
import { el, text, type QueryParams } from './query.ts';

/** The API version and the JSON target prefix. */
export const CLOUDWATCH_VERSION = '2010-08-01';
export const CLOUDWATCH_TARGET_PREFIX = 'GraniteServiceVersion20100801';
const NS = `http://monitoring.amazonaws.com/doc/${CLOUDWATCH_VERSION}/`;

const STATISTICS = ['SampleCount', 'Average', 'Sum', 'Minimum', 'Maximum'] as const;
type Statistic = (typeof STATISTICS)[number];

/** A request the API refuses, with CloudWatch's error code. */
class CloudWatchError extends Error {
  constructor(
    readonly code: 'InvalidParameterValue' | 'MissingParameter' | 'InvalidParameterCombination' | 'InvalidAction',
    message: string,
  ) {
    super(message);
  }
}

/** An answer in either protocol. */
export interface CloudWatchResponse {
  status: number;
  contentType: string;
  headers?: Record<string, string>;
  body: string;
}

type Input = Record<string, unknown>;

function value(stat: Statistic, a: Aggregate): number {
  switch (stat) {
    case 'SampleCount':
      return a.sampleCount;
    case 'Average':
      return a.sum / a.sampleCount;
    case 'Sum':
      return a.sum;
    case 'Minimum':
      return a.minimum;
    case 'Maximum':
      return a.maximum;
  }
}

/** Seconds since the epoch (JSON), or an ISO 8601 string (Query), to ms. */
function timeParam(input: Input, name: string): number {
  const raw = input[name];
  if (raw === undefined || raw === null || raw === '') throw new CloudWatchError('MissingParameter', `The parameter ${name} is required.`);
  const ms = typeof raw === 'number' ? raw * 1000 : /^\d+(\.\d+)?$/.test(String(raw)) ? Number(raw) * 1000 : Date.parse(String(raw));
  if (!Number.isFinite(ms)) throw new CloudWatchError('InvalidParameterValue', `Expected ${name} to be a timestamp, got '${String(raw)}'`);
  return ms;
}

function periodParam(raw: unknown, where: string): number {
  const period = Number(raw);
  if (raw === undefined || raw === '') throw new CloudWatchError('MissingParameter', `The parameter ${where} is required.`);
  if (!Number.isInteger(period) || period < 60 || period % 60 !== 0) {
    throw new CloudWatchError('InvalidParameterValue', `Expected ${where} to be a multiple of 60 (ALB metrics are published per minute), got '${String(raw)}'`);
  }
  return period * 1000;
}

function dimensionsParam(raw: unknown): Dimensions {
  const list = Array.isArray(raw) ? (raw as Array<{ Name?: string; Value?: string }>) : [];
  const out: Dimensions = {};
  for (const d of list) {
    if (!d?.Name || d.Value === undefined) throw new CloudWatchError('InvalidParameterValue', `Expected every dimension to have a Name and a Value, got ${JSON.stringify(d)}`);
    out[d.Name] = d.Value;
  }
  return out;
}

function statistic(raw: unknown, where: string): Statistic {
  if (!STATISTICS.includes(raw as Statistic)) throw new CloudWatchError('InvalidParameterValue', `Expected ${where} to be one of ${STATISTICS.join(', ')}, got '${String(raw)}'`);
  return raw as Statistic;
}

function windows(metrics: AlbMetrics, namespace: unknown, metricName: unknown, dimensions: Dimensions, start: number, end: number, periodMs: number) {
  if (namespace !== ALB_NAMESPACE) return [];
  return metrics.query(String(metricName ?? ''), dimensions, start, end, periodMs);
}

interface StatisticsResult {
  label: string;
  datapoints: Array<{ timestamp: number; unit: string } & Partial<Record<Statistic, number>>>;
}

function getMetricStatistics(metrics: AlbMetrics, input: Input): StatisticsResult {
  if (!input.Namespace) throw new CloudWatchError('MissingParameter', 'The parameter Namespace is required.');
  if (!input.MetricName) throw new CloudWatchError('MissingParameter', 'The parameter MetricName is required.');
  const start = timeParam(input, 'StartTime');
  const end = timeParam(input, 'EndTime');
  if (end <= start) throw new CloudWatchError('InvalidParameterValue', `The parameter StartTime must be less than the parameter EndTime.`);
  const periodMs = periodParam(input.Period, 'Period');
  const stats = (Array.isArray(input.Statistics) ? input.Statistics : []).map((s, i) => statistic(s, `Statistics[${i}]`));
  if (!stats.length && !(Array.isArray(input.ExtendedStatistics) && input.ExtendedStatistics.length)) {
    throw new CloudWatchError('MissingParameter', 'Must specify either Statistics or ExtendedStatistics.');
  }
  const rows = windows(metrics, input.Namespace, input.MetricName, dimensionsParam(input.Dimensions), start, end, periodMs);
  return {
    label: String(input.MetricName),
    datapoints: rows.map((r) => ({ timestamp: r.timestamp, unit: 'Count', ...Object.fromEntries(stats.map((s) => [s, value(s, r)])) })),
  };
}

interface DataResult {
  id: string;
  label: string;
  timestamps: number[];
  values: number[];
}

function getMetricData(metrics: AlbMetrics, input: Input): DataResult[] {
  const queries = Array.isArray(input.MetricDataQueries) ? (input.MetricDataQueries as Input[]) : [];
  if (!queries.length) throw new CloudWatchError('MissingParameter', 'The parameter MetricDataQueries is required.');
  const start = timeParam(input, 'StartTime');
  const end = timeParam(input, 'EndTime');
  if (end <= start) throw new CloudWatchError('InvalidParameterValue', 'The parameter StartTime must be less than the parameter EndTime.');
  const descending = (input.ScanBy ?? 'TimestampDescending') === 'TimestampDescending';
  const max = input.MaxDatapoints === undefined ? 100_800 : Number(input.MaxDatapoints);
  return queries.map((q, i) => {
    const where = `MetricDataQueries[${i}]`;
    if (!q.Id) throw new CloudWatchError('MissingParameter', `The parameter ${where}.Id is required.`);
    if (q.Expression) throw new CloudWatchError('InvalidParameterValue', `${where}: the rollout-harness twin does not evaluate metric math expressions; use MetricStat`);
    const stat = q.MetricStat as Input | undefined;
    if (!stat) throw new CloudWatchError('MissingParameter', `${where}: expected MetricStat or Expression, got neither`);
    const metric = (stat.Metric ?? {}) as Input;
    const rows = windows(metrics, metric.Namespace, metric.MetricName, dimensionsParam(metric.Dimensions), start, end, periodParam(stat.Period, `${where}.MetricStat.Period`));
    const s = statistic(stat.Stat, `${where}.MetricStat.Stat`);
    const ordered = descending ? [...rows].reverse() : rows;
    const kept = ordered.slice(0, Math.max(0, max));
    return { id: String(q.Id), label: String(q.Label ?? metric.MetricName ?? q.Id), timestamps: kept.map((r) => r.timestamp), values: kept.map((r) => value(s, r)) };
  });
}

/** Query form fields (`A.member.1.B`) to nested objects and arrays. */
export function unflattenQuery(params: QueryParams): Input {
  const root: Input = {};
  for (const [key, val] of params) {
    const parts = key.split('.');
    let node: Record<string, unknown> | unknown[] = root;
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i];
      const last = i === parts.length - 1;
      if (part === 'member' && Array.isArray(node)) continue;
      const nextIsMember = parts[i + 1] === 'member';
      const slot: string | number = Array.isArray(node) ? Number(part) - 1 : part;
      const container = node as Record<string | number, unknown>;
      if (last) container[slot] = val;
      else {
        container[slot] ??= nextIsMember ? [] : {};
        node = container[slot] as Record<string, unknown> | unknown[];
      }
    }
  }
  return root;
}

/** Answers an AWS JSON 1.0 request (`operation` from X-Amz-Target). */
export function handleCloudWatchJson(metrics: AlbMetrics, operation: string, body: string, requestId: string): CloudWatchResponse {
  const json = (status: number, payload: unknown, headers: Record<string, string> = {}): CloudWatchResponse => ({
    status,
    contentType: 'application/x-amz-json-1.0',
    headers: { 'x-amzn-requestid': requestId, ...headers },
    body: JSON.stringify(payload),
  });
  try {
    let input: Input;
    try {
      input = body ? (JSON.parse(body) as Input) : {};
    } catch {
      throw new CloudWatchError('InvalidParameterValue', 'Expected a JSON request body');
    }
    if (operation === 'GetMetricStatistics') {
      const r = getMetricStatistics(metrics, input);
      return json(200, { Label: r.label, Datapoints: r.datapoints.map(({ timestamp, unit, ...stats }) => ({ Timestamp: timestamp / 1000, ...stats, Unit: unit })) });
    }
    if (operation === 'GetMetricData') {
      const results = getMetricData(metrics, input);
      return json(200, {
        MetricDataResults: results.map((r) => ({ Id: r.id, Label: r.label, Timestamps: r.timestamps.map((t) => t / 1000), Values: r.values, StatusCode: 'Complete' })),
        Messages: [],
      });
    }
    return json(400, { __type: 'com.amazonaws.cloudwatch#UnknownOperationException', message: `The rollout-harness twin's CloudWatch serves GetMetricStatistics and GetMetricData, not ${operation}` });
  } catch (err) {
    if (!(err instanceof CloudWatchError)) throw err;
    const type = err.code === 'InvalidAction' ? 'UnknownOperationException' : `${err.code}Exception`;
    return json(400, { __type: `com.amazonaws.cloudwatch#${type}`, message: err.message }, { 'x-amzn-query-error': `${err.code};Sender` });
  }
}

/** Answers a Query-protocol request (Version 2010-08-01). */
export function handleCloudWatchQuery(metrics: AlbMetrics, params: QueryParams, requestId: string): CloudWatchResponse {
  const action = params.get('Action') ?? '';
  const xml = (status: number, body: string): CloudWatchResponse => ({ status, contentType: 'text/xml', body });
  const meta = el('ResponseMetadata', text('RequestId', requestId));
  try {
    const input = unflattenQuery(params);
    if (action === 'GetMetricStatistics') {
      const r = getMetricStatistics(metrics, input);
      const points = r.datapoints.map(({ timestamp, unit, ...stats }) =>
        el('member', text('Timestamp', new Date(timestamp).toISOString()), ...STATISTICS.map((s) => text(s, stats[s])), text('Unit', unit)),
      );
      return xml(200, `<GetMetricStatisticsResponse xmlns="${NS}">${el('GetMetricStatisticsResult', text('Label', r.label), el('Datapoints', ...points))}${meta}</GetMetricStatisticsResponse>`);
    }
    if (action === 'GetMetricData') {
      const results = getMetricData(metrics, input).map((r) =>
        el(
          'member',
          text('Id', r.id),
          text('Label', r.label),
          el('Timestamps', ...r.timestamps.map((t) => text('member', new Date(t).toISOString()))),
          el('Values', ...r.values.map((v) => text('member', v))),
          text('StatusCode', 'Complete'),
        ),
      );
      return xml(200, `<GetMetricDataResponse xmlns="${NS}">${el('GetMetricDataResult', el('MetricDataResults', ...results), el('Messages'))}${meta}</GetMetricDataResponse>`);
    }
    throw new CloudWatchError('InvalidAction', `The rollout-harness twin's CloudWatch serves GetMetricStatistics and GetMetricData, not '${action}'`);
  } catch (err) {
    if (!(err instanceof CloudWatchError)) throw err;
    return xml(400, `<ErrorResponse xmlns="${NS}"><Error><Type>Sender</Type>${text('Code', err.code)}${text('Message', err.message)}</Error>${text('RequestId', requestId)}</ErrorResponse>`);
  }
}
