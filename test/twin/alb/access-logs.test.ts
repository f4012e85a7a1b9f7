/**
 * The whole twin writes real ALB access logs to its S3 subset and serves CloudWatch metrics: read
 * back with @aws-sdk/client-s3, @aws-sdk/client-cloudwatch and the aws CLI (the twin's env), each
 * entry parsed with a regex built from the user guide's field list and joined to the twin's ground
 * truth by trace id, and the CloudWatch sums checked against the log.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { CloudWatchClient, GetMetricDataCommand, GetMetricStatisticsCommand } from '@aws-sdk/client-cloudwatch';
import { DescribeLoadBalancersCommand, ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { execa } from 'execa';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AccessLogRecord } from '../../../harness/twin/alb/types.ts';
import { twinEnv } from '../../../harness/twin/twin.ts';
import { requirement } from '../../helpers/requirement.ts';
import { startTestTwin, type TwinHarness } from '../../helpers/twin.ts';

const hasAws = await execa('aws', ['--version'], { reject: false }).then((r) => r.exitCode === 0, () => false);
const needsAws = requirement('the aws CLI', hasAws, 'apt-get install -y awscli; .ci/run installs it');

const BUCKET = 'rollout-harness-alb-logs';
const UA = 'rollout-harness/0.0.0 run-logs/cell-1';
const INTERVAL_SECONDS = 30;

// The documented fields in order (ALB user guide, "Access log entries"), each with what it may hold.
const FIELDS: Array<[string, string]> = [
  ['type', 'http'],
  ['time', '\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{6}Z'],
  ['elb', 'app/[^ ]+/[0-9a-f]{16}'],
  ['client', '[\\d.]+:\\d+'],
  ['target', '[\\d.]+:\\d+|-'],
  ['request_processing_time', '-1|\\d+\\.\\d{3}'],
  ['target_processing_time', '-1|\\d+\\.\\d{3}'],
  ['response_processing_time', '-1|\\d+\\.\\d{3}'],
  ['elb_status_code', '\\d{3}'],
  ['target_status_code', '\\d{3}|-'],
  ['received_bytes', '\\d+'],
  ['sent_bytes', '\\d+'],
  ['request', '"[A-Z]+ http://[^ ]+:\\d+/[^ ]* HTTP/1\\.[01]"'],
  ['user_agent', '"(?:[^"\\\\]|\\\\.)*"'],
  ['ssl_cipher', '-'],
  ['ssl_protocol', '-'],
  ['target_group_arn', 'arn:aws:elasticloadbalancing:[^ ]+:targetgroup/[^ ]+'],
  ['trace_id', '"Root=1-[0-9a-f]{8}-[0-9a-f]{24}"'],
  ['domain_name', '"-"'],
  ['chosen_cert_arn', '"-"'],
  ['matched_rule_priority', '\\d+'],
  ['request_creation_time', '\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{6}Z'],
  ['actions_executed', '"forward"'],
  ['redirect_url', '"-"'],
  ['error_reason', '"-"'],
  ['target_port_list', '"(?:[\\d.]+:\\d+|-)"'],
  ['target_status_code_list', '"(?:\\d{3}|-)"'],
  ['classification', '"-"'],
  ['classification_reason', '"-"'],
  ['conn_trace_id', 'TID_[0-9a-f]{32}'],
];
const LINE = new RegExp(`^${FIELDS.map(([, p]) => `(${p})`).join(' ')}$`);
const unquote = (s: string) => (s.startsWith('"') ? s.slice(1, -1) : s);

type Entry = Record<string, string>;

function parse(line: string): Entry {
  const m = LINE.exec(line);
  if (!m) throw new Error(`Expected an ALB access-log entry, got: ${line}`);
  return Object.fromEntries(FIELDS.map(([name], i) => [name, unquote(m[i + 1])]));
}

let h: TwinHarness;
let s3: S3Client;
let cw: CloudWatchClient;
let keys: string[] = [];
const entries: Entry[] = [];
/** The first and last entry time (ms) of each object, by key. */
const spanByKey = new Map<string, { first: number; last: number }>();
let started = 0;
let ended = 0;
let loadBalancer = '';
let loadBalancerArn = '';
let cliDir = '';

const client = () => ({ region: h.twin.endpoints.region, endpoint: h.twin.endpoints.awsApiUrl, credentials: { accessKeyId: 'twin', secretAccessKey: 'twin' } });

async function aws(...args: string[]) {
  // The twin's env (as its env file writes it), and the endpoint once more on the command line.
  return execa('aws', [...args, '--endpoint-url', h.twin.endpoints.awsApiUrl, '--output', 'json'], {
    env: { ...twinEnv(h.twin.endpoints), AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null', AWS_EC2_METADATA_DISABLED: 'true', AWS_MAX_ATTEMPTS: '1' },
    timeout: 30_000,
    reject: false,
  });
}

async function sum(metric: string, dimensions: Record<string, string>): Promise<{ total: number; minutes: number[] }> {
  const out = await cw.send(
    new GetMetricStatisticsCommand({
      Namespace: 'AWS/ApplicationELB',
      MetricName: metric,
      Dimensions: Object.entries(dimensions).map(([Name, Value]) => ({ Name, Value })),
      StartTime: new Date(started - 120_000),
      EndTime: new Date(ended + 120_000),
      Period: 60,
      Statistics: ['Sum', 'SampleCount', 'Maximum'],
    }),
  );
  const points = out.Datapoints ?? [];
  return { total: points.reduce((a, p) => a + (p.Sum ?? 0), 0), minutes: points.map((p) => p.Timestamp!.getTime()).sort((a, b) => a - b) };
}

beforeAll(async () => {
  h = await startTestTwin({ alb: { accessLogs: { intervalSeconds: INTERVAL_SECONDS, dropShare: 0 } } });
  s3 = new S3Client({ ...client(), forcePathStyle: true, maxAttempts: 1 });
  cw = new CloudWatchClient({ ...client(), maxAttempts: 1 });
  cliDir = await mkdtemp(path.join(os.tmpdir(), 'rh-logs-cli-'));
  await h.waitSteady();
  // Host counts are sampled once a model minute: let one sample see the three healthy targets.
  await h.twin.clock.sleep(61_000);
  const elbv2 = new ElasticLoadBalancingV2Client({ ...client(), maxAttempts: 1 });
  // The app's load balancer (the default world's gateway has its own, whose Ingress may reconcile first).
  loadBalancerArn = (await elbv2.send(new DescribeLoadBalancersCommand({}))).LoadBalancers!.find((lb) => lb.LoadBalancerName!.startsWith('k8s-shop-web'))!.LoadBalancerArn!;
  elbv2.destroy();
  loadBalancer = loadBalancerArn.slice(loadBalancerArn.indexOf(':loadbalancer/') + 14);
  const agent = new Agent({ connections: 4 });
  const get = async (p: string) => {
    const res = await request(`${h.twin.endpoints.albUrl}${p}`, { dispatcher: agent, headers: { 'user-agent': UA } });
    await res.body.text();
    return res.statusCode;
  };
  try {
    started = h.twin.clock.now();
    for (let i = 0; i < 40; i++) await get(`/?i=${i}`);
    for (let i = 0; i < 10; i++) await get('/status/500');
    // No replicas: requests routed during the deregistration lag get 502, then 503.
    h.twin.store.modify('deployments', 'shop', 'web', (d) => {
      d.spec.replicas = 0;
    });
    let saw503 = false;
    for (let i = 0; i < 400 && !saw503; i++) saw503 = (await get(`/after?i=${i}`)) === 503;
    for (let i = 0; i < 5; i++) await get('/after');
    ended = h.twin.clock.now();
  } finally {
    await agent.close();
  }
  // Every entry is delivered at the end of its interval: wait two intervals (model time).
  await h.twin.clock.sleep(2 * INTERVAL_SECONDS * 1000 + 1000);
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'twin/AWSLogs/', MaxKeys: 2, ContinuationToken: token }));
    keys.push(...(page.Contents ?? []).map((c) => c.Key!));
    expect(page.KeyCount).toBe((page.Contents ?? []).length);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  keys = keys.filter((k) => k.endsWith('.log.gz'));
  for (const key of keys) {
    const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    const text = gunzipSync(Buffer.from(await got.Body!.transformToByteArray())).toString('utf8');
    const parsed = text.trim().split('\n').map(parse);
    const times = parsed.map((e) => Date.parse(e.time));
    spanByKey.set(key, { first: Math.min(...times), last: Math.max(...times) });
    entries.push(...parsed);
  }
}, 120_000);

afterAll(async () => {
  s3?.destroy();
  cw?.destroy();
  await h?.stop();
  if (cliDir) await rm(cliDir, { recursive: true, force: true });
});

describe('ALB access logs from the twin', () => {
  it('are delivered under the documented key layout, one object per LB node and interval', () => {
    const name = /^twin\/AWSLogs\/123456789012\/elasticloadbalancing\/us-east-1\/\d{4}\/\d\d\/\d\d\/123456789012_elasticloadbalancing_us-east-1_app\.([^.]+)\.([0-9a-f]{16})_(\d{8}T\d{4}Z)_(10\.0\.\d+\.\d+)_[a-z0-9]{8}\.log\.gz$/;
    expect(keys.length).toBeGreaterThanOrEqual(2);
    for (const key of keys) expect(key).toMatch(name);
    // One object per LB node and interval: an object's entries span at most one interval (an entry
    // is written when its request ends, so its arrival time may lie a little before the interval),
    // and no two objects of a node end in the same interval. (The key's end time has minute
    // resolution, so two 30 s intervals can end in the same minute; the random part keeps their
    // keys apart.)
    const seen = new Set<string>();
    for (const key of keys) {
      const { first, last } = spanByKey.get(key)!;
      expect(last - first, key).toBeLessThan(INTERVAL_SECONDS * 1000 + 5000);
      const slot = `${name.exec(key)![4]} ${Math.floor(last / (INTERVAL_SECONDS * 1000))}`;
      expect(seen.has(slot), slot).toBe(false);
      seen.add(slot);
    }
    expect(new Set(keys.map((k) => name.exec(k)![4])).size).toBe(2);
  });

  it('hold one entry per request of the ground truth, each field matching it', () => {
    const truth = h.records.filter((r) => r.time * 1000 >= started - 1 && r.time * 1000 <= ended + 1);
    expect(truth.length).toBeGreaterThan(50);
    expect(entries).toHaveLength(truth.length);
    const byTrace = new Map<string, AccessLogRecord>(truth.map((r) => [r.traceId, r]));
    expect(byTrace.size).toBe(truth.length);
    for (const e of entries) {
      const r = byTrace.get(e.trace_id);
      expect(r, `ground truth for ${e.trace_id}`).toBeDefined();
      expect(e.elb).toBe(loadBalancer);
      expect(Number(e.elb_status_code)).toBe(r!.elbStatus);
      expect(e.target_status_code).toBe(r!.targetStatus === null ? '-' : String(r!.targetStatus));
      expect(e.target_status_code_list).toBe(e.target_status_code);
      expect(e.target).toBe(r!.target);
      expect(e.target_port_list).toBe(r!.target);
      expect(e.client).toBe(r!.client);
      expect(e.user_agent).toBe(UA);
      expect(r!.userAgent).toBe(UA);
      expect(e.request).toBe(`GET http://127.0.0.1:80${r!.path} HTTP/1.1`);
      expect(Date.parse(e.request_creation_time)).toBeCloseTo(r!.time * 1000, -1);
      expect(Date.parse(e.time) - Date.parse(e.request_creation_time)).toBeCloseTo(r!.totalTime * 1000, -1);
      if (r!.targetStatus === null) expect([e.request_processing_time, e.target_processing_time, e.response_processing_time]).toEqual(['-1', '-1', '-1']);
      else expect(Number(e.target_processing_time)).toBeCloseTo(r!.targetProcessingTime, 2);
    }
    const statuses = new Set(entries.map((e) => `${e.elb_status_code} ${e.target_status_code}`));
    expect(statuses).toContain('200 200');
    expect(statuses).toContain('500 500');
    expect(statuses).toContain('503 -');
  });

  it('are served to HeadObject with ETag, size and date, and missing keys and buckets get S3 errors', async () => {
    const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: keys[0] }));
    const body = await readFile(path.join(h.twin.endpoints.s3Dir, BUCKET, keys[0]));
    expect(head.ContentLength).toBe(body.length);
    expect(head.ETag).toMatch(/^"[0-9a-f]{32}"$/);
    expect(head.LastModified!.getTime()).toBeGreaterThan(started - 1000);
    await expect(s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'no/such/key' }))).rejects.toMatchObject({ name: 'NoSuchKey' });
    await expect(s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'no/such/key' }))).rejects.toMatchObject({ $metadata: { httpStatusCode: 404 } });
    await expect(s3.send(new ListObjectsV2Command({ Bucket: 'no-such-bucket' }))).rejects.toMatchObject({ name: 'NoSuchBucket' });
    expect((await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'twin/AWSLogs/123456789012/ELBAccessLogTestFile' }))).ContentLength).toBeGreaterThan(0);
  });

  it.runIf(needsAws.run)('are read by the aws CLI: s3api list-objects-v2 and get-object, s3 ls, s3 cp', async () => {
    needsAws.check();
    const listed = await aws('s3api', 'list-objects-v2', '--bucket', BUCKET, '--prefix', 'twin/AWSLogs/123456789012/elasticloadbalancing/');
    expect(listed.stderr).toBe('');
    expect((JSON.parse(listed.stdout) as { Contents: Array<{ Key: string }> }).Contents.map((c) => c.Key).sort()).toEqual([...keys].sort());
    const file = path.join(cliDir, 'log.gz');
    const got = await aws('s3api', 'get-object', '--bucket', BUCKET, '--key', keys[0], file);
    expect(got.exitCode, got.stderr).toBe(0);
    const lines = gunzipSync(await readFile(file)).toString('utf8').trim().split('\n');
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(line).toMatch(LINE);
    const ls = await execa('aws', ['s3', 'ls', '--recursive', `s3://${BUCKET}/twin/`, '--endpoint-url', h.twin.endpoints.awsApiUrl], {
      env: { ...twinEnv(h.twin.endpoints), AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null', AWS_EC2_METADATA_DISABLED: 'true', AWS_MAX_ATTEMPTS: '1' },
      timeout: 30_000,
    });
    for (const key of keys) expect(ls.stdout).toContain(key);
    // `aws s3 cp` of a log object: the same bytes as GetObject gave.
    const copied = path.join(cliDir, 'copied.log.gz');
    const cp = await execa('aws', ['s3', 'cp', `s3://${BUCKET}/${keys[0]}`, copied, '--endpoint-url', h.twin.endpoints.awsApiUrl], {
      env: { ...twinEnv(h.twin.endpoints), AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null', AWS_EC2_METADATA_DISABLED: 'true', AWS_MAX_ATTEMPTS: '1' },
      timeout: 30_000,
      reject: false,
    });
    expect(cp.exitCode, cp.stderr).toBe(0);
    expect((await readFile(copied)).equals(await readFile(file))).toBe(true);
  });
});

describe('CloudWatch metrics from the twin', () => {
  it('RequestCount and the 5xx counts sum to what the log holds, per load balancer and per zone', async () => {
    const lb = { LoadBalancer: loadBalancer };
    const routed = entries.filter((e) => e.target !== '-');
    const requests = await sum('RequestCount', lb);
    expect(requests.total).toBe(routed.length);
    // A minute without requests has no datapoint.
    const minutes = [...new Set(routed.map((e) => Math.floor(Date.parse(e.time) / 60_000) * 60_000))].sort((a, b) => a - b);
    expect(requests.minutes).toEqual(minutes);
    const elb5xx = entries.filter((e) => e.elb_status_code.startsWith('5') && e.target_status_code === '-');
    expect((await sum('HTTPCode_ELB_5XX_Count', lb)).total).toBe(elb5xx.length);
    for (const code of ['502', '503', '504']) {
      expect((await sum(`HTTPCode_ELB_${code}_Count`, lb)).total).toBe(elb5xx.filter((e) => e.elb_status_code === code).length);
    }
    expect((await sum('HTTPCode_Target_5XX_Count', lb)).total).toBe(entries.filter((e) => e.target_status_code.startsWith('5')).length);
    const connectErrors = h.records.filter((r) => r.time * 1000 >= started - 1 && (r.reason === 'connect-refused' || r.reason === 'connect-timeout')).length;
    expect((await sum('TargetConnectionErrorCount', lb)).total).toBe(connectErrors);
    let perZone = 0;
    for (const zone of ['us-east-1a', 'us-east-1b']) perZone += (await sum('HTTPCode_ELB_5XX_Count', { ...lb, AvailabilityZone: zone })).total;
    expect(perZone).toBe(elb5xx.length);
  });

  it('GetMetricData gives the same sums; HealthyHostCount is sampled per LB node and target group', async () => {
    const tg = h.targetGroupArn.slice(h.targetGroupArn.lastIndexOf(':') + 1);
    const out = await cw.send(
      new GetMetricDataCommand({
        StartTime: new Date(started - 120_000),
        EndTime: new Date(ended + 120_000),
        MetricDataQueries: [
          { Id: 'requests', MetricStat: { Metric: { Namespace: 'AWS/ApplicationELB', MetricName: 'RequestCount', Dimensions: [{ Name: 'LoadBalancer', Value: loadBalancer }, { Name: 'TargetGroup', Value: tg }] }, Period: 60, Stat: 'Sum' } },
          { Id: 'healthy', MetricStat: { Metric: { Namespace: 'AWS/ApplicationELB', MetricName: 'HealthyHostCount', Dimensions: [{ Name: 'LoadBalancer', Value: loadBalancer }, { Name: 'TargetGroup', Value: tg }] }, Period: 60, Stat: 'Maximum' } },
        ],
      }),
    );
    const [requests, healthy] = out.MetricDataResults!;
    expect(requests.Values!.reduce((a, b) => a + b, 0)).toBe(entries.filter((e) => e.target !== '-').length);
    // Newest first (ScanBy TimestampDescending, the default).
    expect(requests.Timestamps!.map((t) => t.getTime())).toEqual([...requests.Timestamps!.map((t) => t.getTime())].sort((a, b) => b - a));
    expect(healthy.Values!.length).toBeGreaterThan(0);
    expect(Math.max(...healthy.Values!)).toBe(3);
  });

  it.runIf(needsAws.run)('are read by the aws CLI (get-metric-statistics)', async () => {
    needsAws.check();
    const r = await aws(
      'cloudwatch', 'get-metric-statistics', '--namespace', 'AWS/ApplicationELB', '--metric-name', 'RequestCount',
      '--dimensions', `Name=LoadBalancer,Value=${loadBalancer}`, '--statistics', 'Sum', '--period', '60',
      '--start-time', new Date(started - 120_000).toISOString(), '--end-time', new Date(ended + 120_000).toISOString(),
    );
    expect(r.exitCode, r.stderr).toBe(0);
    const points = (JSON.parse(r.stdout) as { Datapoints: Array<{ Sum: number; Unit: string }> }).Datapoints;
    expect(points.reduce((a, p) => a + p.Sum, 0)).toBe(entries.filter((e) => e.target !== '-').length);
    expect(points.every((p) => p.Unit === 'Count')).toBe(true);
  });
});

describe('load balancer attributes', () => {
  it.runIf(needsAws.run)('show what the Ingress annotation set; a bucket that does not exist is refused as AWS refuses it', async () => {
    needsAws.check();
    const described = await aws('elbv2', 'describe-load-balancer-attributes', '--load-balancer-arn', loadBalancerArn);
    expect(described.exitCode, described.stderr).toBe(0);
    const attrs = Object.fromEntries((JSON.parse(described.stdout) as { Attributes: Array<{ Key: string; Value: string }> }).Attributes.map((a) => [a.Key, a.Value]));
    expect(attrs).toMatchObject({ 'access_logs.s3.enabled': 'true', 'access_logs.s3.bucket': BUCKET, 'access_logs.s3.prefix': 'twin', 'deletion_protection.enabled': 'false', 'idle_timeout.timeout_seconds': '60', 'routing.http2.enabled': 'true' });
    const refused = await aws('elbv2', 'modify-load-balancer-attributes', '--load-balancer-arn', loadBalancerArn, '--attributes', 'Key=access_logs.s3.bucket,Value=no-such-bucket');
    expect(refused.exitCode).not.toBe(0);
    expect(refused.stderr).toContain('InvalidConfigurationRequest');
    expect(refused.stderr).toContain('Access Denied for bucket: no-such-bucket');
    const modified = await aws('elbv2', 'modify-load-balancer-attributes', '--load-balancer-arn', loadBalancerArn, '--attributes', 'Key=deletion_protection.enabled,Value=true');
    expect(modified.exitCode, modified.stderr).toBe(0);
    const after = (JSON.parse(modified.stdout) as { Attributes: Array<{ Key: string; Value: string }> }).Attributes;
    expect(after).toContainEqual({ Key: 'deletion_protection.enabled', Value: 'true' });
    expect(after).toContainEqual({ Key: 'access_logs.s3.bucket', Value: BUCKET });
  });
});
