/**
 * The whole pipeline on fixture objects: gzip ALB log lines in the documented format under the
 * documented keys in a real S3 API (moto_server), the load balancer's access-log attributes and
 * CloudWatch sums from the same, a constructed timeline, and a ground-truth file as the twin writes it.
 */
import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { CreateListenerCommand, CreateLoadBalancerCommand, CreateTargetGroupCommand, ElasticLoadBalancingV2Client, ModifyLoadBalancerAttributesCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { CreateSubnetCommand, CreateVpcCommand, EC2Client } from '@aws-sdk/client-ec2';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scaledClock } from '../../../harness/core/clock.ts';
import { parseNginxLine } from '../../../harness/explain/gateway-log.ts';
import { explainCell, watchSlackSeconds } from '../../../harness/explain/pipeline.ts';
import { createCloudWatchAdapter } from '../../../harness/platform/cloudwatch/adapter.ts';
import { createElbv2Adapter } from '../../../harness/platform/elbv2/adapter.ts';
import { parseLoadBalancerArn } from '../../../harness/platform/ports.ts';
import { createS3Adapter } from '../../../harness/platform/s3/adapter.ts';
import { cellResultSchema, type CellResult } from '../../../harness/report/types.ts';
import { MOTO_CREDENTIALS, startMoto, type Moto } from '../platform/moto.ts';
import { albLine, cases, settings, timeline, type EntrySpec } from './fixtures.ts';

const region = 'us-east-1';
const UA = 'rollout-harness/0.1.0 run-1/rollout.gate-off.prestop-5.grace-30.dereg-20.r1';
const NODES = ['10.0.1.10', '10.0.2.20'];
// The cell started 20 minutes ago (whole minute), its traffic ran 0–60 s.
const ORIGIN = Math.floor(Date.now() / 60_000) * 60_000 - 20 * 60_000;
const truthReasons: Record<string, { reason: string; targetState?: string }> = {
  'app-5xx': { reason: 'target-5xx' },
  'no-healthy-target': { reason: 'no-routable-targets' },
  'keepalive-race': { reason: 'keepalive-race' },
  'routed-after-sigterm': { reason: 'connect-refused', targetState: 'draining' },
  'registered-not-healthy': { reason: 'connect-refused', targetState: 'initial' },
  'delay-elapsed-in-flight': { reason: 'delay-elapsed-in-flight' },
  'grace-expired-in-flight': { reason: 'closed-mid-request' },
  'instance-gone': { reason: 'connect-timeout' },
  'routed-to-gone-pod': { reason: 'connect-refused', targetState: 'draining' },
  // The one the rules cannot tell: the truth says idle-timeout, the log alone fits no rule.
  unknown: { reason: 'idle-timeout' },
};

let moto: Moto;
let dir: string;
let lbArn: string;
let tgArn: string;
let offTgArn: string;

const keyOf = (node: string, endMs: number, prefix = 'logs') => {
  const lb = parseLoadBalancerArn(lbArn)!;
  const d = new Date(endMs).toISOString();
  const stamp = `${d.slice(0, 4)}${d.slice(5, 7)}${d.slice(8, 10)}T${d.slice(11, 13)}${d.slice(14, 16)}Z`;
  return `${prefix}/AWSLogs/${lb.account}/elasticloadbalancing/${region}/${d.slice(0, 10).replace(/-/g, '/')}/${lb.account}_elasticloadbalancing_${region}_app.${lb.name}.${lb.id}_${stamp}_${node}_r${Math.round(endMs / 1000) % 1000}.log.gz`;
};

function cell(): CellResult {
  const failures = [...cases.map(([, s]) => ({ t: s.t, path: s.path ?? '/', status: s.elb })), { t: 58, path: '/', status: 502 }];
  return {
    schemaVersion: 1,
    id: 'rollout.gate-off.prestop-5.grace-30.dereg-20.r1',
    index: 0,
    disruption: { kind: 'rollout' },
    repeat: 1,
    config: { ...settings, readinessGate: false },
    valid: true,
    requests: { planned: 100, sent: 100, byStatus: { '200': 89, '502': 8, '503': 1, '504': 2, '500': 1 }, networkErrors: 0, networkErrorsByCode: {}, cutAtStop: { count: 0, t: [] }, achieved: 1 },
    fiveXX: 11,
    driver: 'builtin',
    disruptionOutcome: { completed: true },
    settled: true,
    marks: { trafficStart: 0, disruptionStart: 5, settled: 55, trafficStop: 60 },
    series: [],
    timeline,
    failures,
    startedAt: new Date(ORIGIN).toISOString(),
    durationSeconds: 62,
    modelOrigin: ORIGIN,
  };
}

beforeAll(async () => {
  moto = await startMoto();
  dir = mkdtempSync(path.join(tmpdir(), 'explain-pipeline-'));
  const creds = { region, endpoint: moto.endpoint, credentials: MOTO_CREDENTIALS };
  const ec2 = new EC2Client(creds);
  const vpc = (await ec2.send(new CreateVpcCommand({ CidrBlock: '10.0.0.0/16' }))).Vpc!.VpcId!;
  const subnets = await Promise.all(['a', 'b'].map(async (z, i) => (await ec2.send(new CreateSubnetCommand({ VpcId: vpc, CidrBlock: `10.0.${i}.0/24`, AvailabilityZone: `us-east-1${z}` }))).Subnet!.SubnetId!));
  ec2.destroy();
  const elb = new ElasticLoadBalancingV2Client(creds);
  const makeLb = async (name: string, logs: boolean) => {
    const lb = (await elb.send(new CreateLoadBalancerCommand({ Name: name, Subnets: subnets, Type: 'application' }))).LoadBalancers![0].LoadBalancerArn!;
    const tg = (await elb.send(new CreateTargetGroupCommand({ Name: `${name}-tg`, Protocol: 'HTTP', Port: 8080, VpcId: vpc, TargetType: 'ip' }))).TargetGroups![0].TargetGroupArn!;
    await elb.send(new CreateListenerCommand({ LoadBalancerArn: lb, Protocol: 'HTTP', Port: 80, DefaultActions: [{ Type: 'forward', TargetGroupArn: tg }] }));
    if (logs) await elb.send(new ModifyLoadBalancerAttributesCommand({ LoadBalancerArn: lb, Attributes: [{ Key: 'access_logs.s3.enabled', Value: 'true' }, { Key: 'access_logs.s3.bucket', Value: 'alb-logs' }, { Key: 'access_logs.s3.prefix', Value: 'logs' }] }));
    return { lb, tg };
  };
  ({ lb: lbArn, tg: tgArn } = await makeLb('shop', true));
  offTgArn = (await makeLb('quiet', false)).tg;
  elb.destroy();

  // The cell's entries (its 5xx and a steady 200 every second from each node) and another client's.
  const specs: Array<[EntrySpec, string]> = cases.map(([, s], i) => [s, NODES[i % 2]]);
  for (let t = 0; t < 60; t += 1) for (const n of NODES) specs.push([{ t: t + (n === NODES[0] ? 0.1 : 0.6), elb: 200, target: '10.0.0.4:8080' }, n]);
  specs.push([{ t: 30, elb: 502, target: '10.0.0.4:8080', targetStatus: null, userAgent: 'curl/8.4.0' }, NODES[0]]);
  specs.push([{ t: 45, elb: 503, target: null, targetTime: null, userAgent: 'curl/8.4.0' }, NODES[1]]);
  const byObject = new Map<string, string[]>();
  for (const [s, node] of specs) {
    const line = albLine(ORIGIN, { userAgent: UA, ...s, traceId: s.traceId ?? `Root=1-${node}-${s.t}` });
    const endMs = Math.ceil((ORIGIN + s.t * 1000 + 1) / 300_000) * 300_000;
    const key = keyOf(node, endMs);
    byObject.set(key, [...(byObject.get(key) ?? []), line]);
  }
  // Each node also delivered the interval after the window (no entries of the cell in it).
  for (const n of NODES) byObject.set(keyOf(n, Math.ceil((ORIGIN + 61_000) / 300_000) * 300_000 + 300_000), [albLine(ORIGIN, { t: 200, elb: 200, target: '10.0.0.4:8080', userAgent: 'curl/8.4.0' })]);
  const s3 = new S3Client({ ...creds, forcePathStyle: true });
  await s3.send(new CreateBucketCommand({ Bucket: 'alb-logs' }));
  for (const [Key, lines] of byObject) await s3.send(new PutObjectCommand({ Bucket: 'alb-logs', Key, Body: gzipSync(Buffer.from(`${lines.join('\n')}\n`)) }));
  s3.destroy();

  const cw = new CloudWatchClient(creds);
  const lb = parseLoadBalancerArn(lbArn)!;
  const put = (MetricName: string, Value: number, s: number) =>
    cw.send(new PutMetricDataCommand({ Namespace: 'AWS/ApplicationELB', MetricData: [{ MetricName, Dimensions: [{ Name: 'LoadBalancer', Value: lb.resource }], Timestamp: new Date(ORIGIN + s * 1000), Value, Unit: 'Count' }] }));
  // By the minute of the response, as the log's time: the 504 sent at 52 s answered at 62 s, after the window's minute.
  await put('HTTPCode_ELB_5XX_Count', 6, 10);
  await put('HTTPCode_ELB_5XX_Count', 4, 40);
  await put('HTTPCode_ELB_5XX_Count', 1, 62);
  await put('HTTPCode_Target_5XX_Count', 1, 3);
  cw.destroy();

  // The twin's ground truth: one JSON line per request, model seconds since the epoch.
  const truth = cases.map(([cause, s], i) => ({ type: 'request', time: (ORIGIN + s.t * 1000) / 1000, lbNode: 'us-east-1a', method: 'GET', path: s.path ?? '/', target: s.target ?? '-', targetState: truthReasons[cause].targetState ?? 'healthy', elbStatus: s.elb, reason: truthReasons[cause].reason, traceId: `Root=1-${NODES[i % 2]}-${s.t}`, userAgent: UA }));
  writeFileSync(path.join(dir, 'access.log'), `${truth.map((r) => JSON.stringify(r)).join('\n')}\n`);
}, 60_000);

afterAll(async () => {
  await moto?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const deps = (over: Partial<Parameters<typeof explainCell>[2]> = {}) => {
  const aws = { region, endpoint: moto.endpoint, credentials: MOTO_CREDENTIALS };
  const lines: string[] = [];
  return {
    lines,
    deps: {
      store: createS3Adapter(aws),
      metrics: createCloudWatchAdapter(aws),
      elbv2: createElbv2Adapter(aws),
      clock: scaledClock(0.001),
      targetGroupArn: tgArn,
      log: (l: string) => lines.push(l),
      options: { waitSeconds: 600, pollSeconds: 30 },
      truthFile: path.join(dir, 'access.log'),
      ...over,
    },
  };
};

describe('explainCell', () => {
  it('explains every 5xx of the cell from the logs, cross-checks, measures lags and scores against the truth', async () => {
    const { deps: d } = deps();
    const { explain, fiveXXByReason } = await explainCell(cell(), UA, d);
    expect(explain.logs).toBe('complete');
    expect(explain.source).toMatchObject({ bucket: 'alb-logs', prefix: 'logs', entries: cases.length + 120 });
    const expected = Object.fromEntries(Object.keys(explain.causes).map((c) => [c, c === 'before-alb' ? 1 : cases.filter(([k]) => k === c).length]));
    expect(explain.causes).toEqual(expected);
    expect(explain.attributed).toHaveLength(cases.length + 1);
    // CloudWatch counts another client's 502 and 503 too (11 in all, the cell's log has 10); so does
    // the log of the whole load balancer in the same minute: 8 of the cell's + 2 ELB 5xx (its 504
    // answered at 62 s is the next minute's), 1 target 5xx, 9 of them the cell's. No mismatch there.
    expect(explain.crossCheck).toMatchObject({ client: 11, accessLog: 10, cloudWatch: { elb5xx: 10, target5xx: 1, accessLog: { elb5xx: 10, target5xx: 1, ofCell: 9 } } });
    expect(explain.crossCheck.mismatches).toEqual(['the client saw 11 5xx, the access log has 10: 1 never reached the ALB\'s log (before-alb: a proxy, or a log object missing)']);
    expect(explain.agreement).toMatchObject({ compared: 10, agreed: 9, share: 0.9, unmatched: 0 });
    expect(explain.agreement!.disagreements).toEqual([expect.objectContaining({ inferred: 'unknown', truth: '504 idle-timeout' })]);
    expect(fiveXXByReason).toMatchObject({ '502 connect-refused': 3, '503 no-routable-targets': 1 });
    expect(explain.lags!.longestRequest.count).toBeGreaterThan(0);
    // The result with its explanation is a valid cell file.
    expect(() => cellResultSchema.parse({ ...cell(), explain, fiveXXByReason })).not.toThrow();
  }, 30_000);

  it('gives the pod watch half a real second to show a SIGTERM: one model second at scale 1, ten at 0.05', async () => {
    expect([watchSlackSeconds(scaledClock(1)), watchSlackSeconds(scaledClock(0.05)), watchSlackSeconds(scaledClock(4))]).toEqual([1, 10, 1]);
    // The watch showed p-old-2 terminating at 18 (SIGTERM at 23 after its 5 s preStop): the refused
    // request at 20 came 3 s before that.
    const late = cell();
    late.timeline = late.timeline.map((e) => (e.type === 'pod' && e.pod === 'p-old-2' && e.change === 'terminating' ? { ...e, t: 18 } : e)).sort((a, b) => a.t - b.t);
    const causeAt20 = async (scale: number) => (await explainCell(late, UA, deps({ clock: scaledClock(scale) }).deps)).explain.attributed.find((a) => a.t === 20)?.cause;
    expect(await causeAt20(1)).toBe('keepalive-race');
    expect(await causeAt20(0.05)).toBe('routed-after-sigterm');
  }, 30_000);

  it('flags CloudWatch against the log when entries were dropped from a log object', async () => {
    // The same objects, but the other client's 502 and one of the cell's 502s left out of what is read.
    // CloudWatch still counts them: 10 ELB 5xx in the minute, the log has 8.
    const { deps: d } = deps();
    const store = d.store;
    let dropped = 0;
    let ofCell = 0;
    const dropping = {
      listObjects: store.listObjects.bind(store),
      async getObject(bucket: string, key: string) {
        const lines = gunzipSync(await store.getObject(bucket, key)).toString('utf8').split('\n');
        const kept = lines.filter((l) => {
          const mine = l.includes(UA);
          const drop = / 502 - /.test(l) && (!mine || ofCell < 1);
          if (drop && mine) ofCell++;
          if (drop) dropped++;
          return !drop;
        });
        return gzipSync(Buffer.from(kept.join('\n')));
      },
    };
    const { explain } = await explainCell(cell(), UA, { ...d, store: dropping });
    expect(dropped).toBe(2);
    expect(explain.crossCheck.cloudWatch).toMatchObject({ elb5xx: 10, target5xx: 1, accessLog: { elb5xx: 8, target5xx: 1, ofCell: 8 } });
    expect(explain.crossCheck.mismatches).toContainEqual(
      expect.stringMatching(/^CloudWatch's HTTPCode_ELB_5XX_Count summed 10 over \d\d:\d\d–\d\d:\d\d, the access log has 8 such entries of the whole load balancer in the same minutes: 2 missing from the log \(entries or objects not delivered\); 8 of the log's were this cell's$/),
    );
    expect(explain.crossCheck.mismatches.join('\n')).not.toContain('HTTPCode_Target_5XX_Count');
  }, 30_000);

  it('says first, and as the why, when most of the cell\'s entries were logged outside its traffic window', async () => {
    // This machine's clock put the traffic at 45–105 s; the log has it at 0–60 s: two thirds lie
    // more than 5 s before the window (every object still overlaps it, whatever the minute).
    const shifted = cell();
    shifted.marks = { trafficStart: 45, disruptionStart: 50, settled: 100, trafficStop: 105 };
    // A real-time clock, as against staging (on a fast twin clock the tolerance is a real second's worth).
    const { deps: d } = deps({ clock: scaledClock(1) });
    const { explain } = await explainCell(shifted, UA, d);
    expect(explain.crossCheck.mismatches[0]).toMatch(/^\d+ of the \d+ entries with this cell's User-Agent were logged outside its traffic window \(\d\d:\d\d:\d\d–\d\d:\d\d:\d\d by this machine's clock\), by a median of -\d+\.\d s: the load balancer's clock and this machine's disagree/);
    expect(explain.why).toBe(explain.crossCheck.mismatches[0]);
  }, 30_000);

  it('says why when the load balancer writes no access logs', async () => {
    const { deps: d } = deps({ targetGroupArn: offTgArn });
    const { explain, fiveXXByReason } = await explainCell(cell(), UA, d);
    // On the twin the ground truth still gives the 5xx by reason.
    expect(fiveXXByReason).toMatchObject({ '502 connect-refused': 3, '504 connect-timeout': 1 });
    expect(explain).toMatchObject({ logs: 'missing', why: expect.stringMatching(/^access logs are off on load balancer quiet \(access_logs\.s3\.enabled=(false|unset)\); enable them/) });
  });

  it('waits through the clock with progress, and says which node never delivered (partial) or that nothing came (missing)', async () => {
    const late = cell();
    // A window ending later than every delivered object: no node has delivered past it. The bound
    // (240 s) comes before a node counts as quiet (a whole 5-minute interval past the window's
    // end, so at least 300 s after it): at 300 s the last poll would land on that point whenever the
    // window ends on a 5-minute boundary, and the node, quiet, would rightly count as complete.
    late.marks.trafficStop = 20 * 60;
    const { deps: d, lines } = deps({ options: { waitSeconds: 240, pollSeconds: 30 }, clock: scaledClock(0.005, ORIGIN + 20 * 60_000) });
    const { explain } = await explainCell(late, UA, d);
    expect(explain.logs).toBe('partial');
    expect(explain.why).toMatch(/^LB node\(s\) 10\.0\.1\.10 \(delivered up to \d\d:\d\d:00\), 10\.0\.2\.20 .* had not delivered past/);
    expect(lines.length).toBeGreaterThanOrEqual(3);
    expect(lines[0]).toMatch(/^rollout\.gate-off.*: waiting for access logs past \d\d:\d\d:\d\d — 0 of 2 LB node\(s\) delivered, \d+ s left \(ALBs deliver every 5 minutes\)$/);

    // The target's own delivery interval (the embedded twin passes its alb.accessLogs.intervalSeconds)
    // wins over the spec's: at 60 s the nodes that delivered earlier count as quiet within the same
    // bound, where the spec's 300 s left them behind.
    const own = deps({ options: { waitSeconds: 240, pollSeconds: 30, logIntervalSeconds: 300 }, logIntervalSeconds: 60, clock: scaledClock(0.005, ORIGIN + 20 * 60_000) });
    const quiet = await explainCell(late, UA, own.deps);
    expect(quiet.explain.logs).toBe('complete');
    expect(own.lines.join('\n')).not.toMatch(/ALBs deliver every 5 minutes/);
    const spec = deps({ options: { waitSeconds: 240, pollSeconds: 30, logIntervalSeconds: 300 }, clock: scaledClock(0.005, ORIGIN + 20 * 60_000) });
    expect((await explainCell(late, UA, spec.deps)).explain.logs).toBe('partial');

    // A bucket that does not exist: refused at once, no waiting.
    const wrong = deps({ options: { waitSeconds: 600, pollSeconds: 30, accessLogs: { bucket: 'no-such-bucket', prefix: 'x' } }, clock: scaledClock(0.0005, ORIGIN + 61_000) });
    const refused = await explainCell(cell(), UA, wrong.deps);
    expect(refused.explain).toMatchObject({ logs: 'missing', why: expect.stringMatching(/^listing s3:\/\/no-such-bucket\/x was refused: S3 listObjects\(no-such-bucket, .*404 NoSuchBucket/) });
    expect(wrong.lines).toEqual([]);

    const elsewhere = deps({ options: { waitSeconds: 60, pollSeconds: 30, accessLogs: { bucket: 'alb-logs', prefix: 'nothing-here' } }, clock: scaledClock(0.0005, ORIGIN + 61_000) });
    const none = await explainCell(cell(), UA, elsewhere.deps);
    expect(none.explain).toMatchObject({ logs: 'missing', why: expect.stringMatching(/^no access-log object of shop covering .* arrived in s3:\/\/alb-logs\/nothing-here by the wait bound$/) });
  }, 30_000);
});

describe('explainCell on a gateway cell', () => {
  const local = (ms: number) => `${new Date(ms).toUTCString().slice(5, 16).replace(/ /g, '/')}:${new Date(ms).toISOString().slice(11, 19)} +0000`;
  const line = (n: number, endS: number, text: string) => ({ ...parseNginxLine(`10.0.1.10 - - [${local(ORIGIN + endS * 1000)}] ${text}`, n), loggedMs: ORIGIN + endS * 1000, pod: 'gw-a' });
  const gatewayLogs = {
    format: 'nginx' as const,
    pods: [
      { pod: 'gw-a', status: 'read' as const, lines: 3 },
      { pod: 'gw-old', status: 'gone' as const, lines: 0, why: 'ingress-nginx/gw-old was gone when the cell ended: its log went with it' },
    ],
    lines: [
      line(4, 3.003, `"GET /boom HTTP/1.1" 500 21 "-" "${UA}" 112 0.002 [shop-web-80] [] 10.0.0.4:8080 21 0.002 500 a1`),
      line(9, 20.004, `"GET / HTTP/1.1" 200 2 "-" "${UA}" 112 0.004 [shop-web-80] [] 10.0.0.5:8080, 10.0.0.4:8080 0, 2 0.000, 0.004 502, 200 a2`),
    ],
  };

  it('joins the gateway\'s lines, counts its retries apart, says which pod\'s log was gone, and stays a valid cell file', async () => {
    const { deps: d } = deps({ gateway: { logs: gatewayLogs, settings: { preStopSeconds: 0, terminationGracePeriodSeconds: 300, deregistrationDelaySeconds: 20 } } });
    const { explain } = await explainCell(cell(), UA, d);
    expect(explain.gateway).toEqual({ format: 'nginx', pods: gatewayLogs.pods, lines: 3, joined: 1, unjoined: 0, retried: 1 });
    expect(explain.causes['gateway-retried']).toBe(1);
    expect(explain.attributed.find((a) => a.path === '/boom')).toMatchObject({ cause: 'app-5xx', gateway: { pod: 'gw-a', line: 4, status: 500, tries: '10.0.0.4:8080 500' } });
    expect(explain.crossCheck.mismatches).toContain('gateway pod gw-old: ingress-nginx/gw-old was gone when the cell ended: its log went with it; a 5xx it answered is not explained at the gateway hop');
    // The client's count is the cell's, whatever the gateway retried.
    expect(explain.crossCheck.client).toBe(cell().fiveXX);
    expect(() => cellResultSchema.parse({ ...cell(), explain })).not.toThrow();
  }, 30_000);

  it('still counts the gateway\'s retries when the ALB\'s logs are missing', async () => {
    const { deps: d } = deps({ targetGroupArn: offTgArn, gateway: { logs: gatewayLogs, settings: { preStopSeconds: 0, terminationGracePeriodSeconds: 300, deregistrationDelaySeconds: 20 } } });
    const { explain } = await explainCell(cell(), UA, d);
    expect(explain.logs).toBe('missing');
    expect(explain.causes['gateway-retried']).toBe(1);
    expect(explain.gateway).toMatchObject({ joined: 0, retried: 1, lines: 3 });
  }, 30_000);
});
