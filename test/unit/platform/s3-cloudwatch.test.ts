/** The S3, CloudWatch and new ELBv2 adapter calls against a real moto_server on loopback. */
import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { CreateLoadBalancerCommand, CreateTargetGroupCommand, CreateListenerCommand, CreateRuleCommand, ElasticLoadBalancingV2Client, ModifyLoadBalancerAttributesCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { EC2Client, CreateVpcCommand, CreateSubnetCommand } from '@aws-sdk/client-ec2';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { gzipSync, gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError } from '../../../harness/core/errors.ts';
import { createCloudWatchAdapter } from '../../../harness/platform/cloudwatch/adapter.ts';
import { createElbv2Adapter } from '../../../harness/platform/elbv2/adapter.ts';
import { parseLoadBalancerArn } from '../../../harness/platform/ports.ts';
import { createS3Adapter } from '../../../harness/platform/s3/adapter.ts';
import { isAlive } from '../../helpers/processes.ts';
import { MOTO_CREDENTIALS, startMoto, type Moto } from './moto.ts';
import { chooseTrafficAddress, readRouting } from '../../../harness/orchestrator/traffic-address.ts';

let moto: Moto;
const region = 'us-east-1';

beforeAll(async () => {
  moto = await startMoto();
}, 30_000);

afterAll(async () => {
  await moto?.stop();
  expect(isAlive(moto.pid)).toBe(false);
});

describe('AccessLogStore on S3', () => {
  it('lists every object under a prefix across pages, after a key, and reads bytes back', async () => {
    const raw = new S3Client({ region, endpoint: moto.endpoint, credentials: MOTO_CREDENTIALS, forcePathStyle: true });
    await raw.send(new CreateBucketCommand({ Bucket: 'alb-logs' }));
    const prefix = 'logs/AWSLogs/123456789012/elasticloadbalancing/us-east-1/2026/10/01/';
    const keys = Array.from({ length: 1005 }, (_, i) => `${prefix}k-${String(i).padStart(4, '0')}.log.gz`);
    // 1005 keys: more than one ListObjectsV2 page (1000).
    for (let i = 0; i < keys.length; i += 50) await Promise.all(keys.slice(i, i + 50).map((Key) => raw.send(new PutObjectCommand({ Bucket: 'alb-logs', Key, Body: gzipSync(Buffer.from(Key)) }))));
    await raw.send(new PutObjectCommand({ Bucket: 'alb-logs', Key: 'other/x', Body: 'x' }));
    raw.destroy();

    const store = createS3Adapter({ region, endpoint: moto.endpoint, credentials: MOTO_CREDENTIALS });
    const listed = await store.listObjects('alb-logs', prefix);
    expect(listed.map((o) => o.key)).toEqual(keys);
    expect(listed[0].size).toBeGreaterThan(10);
    expect(listed[0].lastModified).toMatch(/^\d{4}-\d{2}-\d{2}T/);
    expect((await store.listObjects('alb-logs', prefix, keys[1002])).map((o) => o.key)).toEqual(keys.slice(1003));
    expect(gunzipSync(await store.getObject('alb-logs', keys[7])).toString()).toBe(keys[7]);
  }, 60_000);

  it('names the call, the bucket and the endpoint when it fails', async () => {
    const store = createS3Adapter({ region, endpoint: moto.endpoint, credentials: MOTO_CREDENTIALS });
    const error = await store.getObject('no-such-bucket', 'k').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as Error).message).toMatch(new RegExp(`^S3 getObject\\(no-such-bucket, k\\) at ${moto.endpoint.replace(/\./g, '\\.')}: expected an answer, got 404 NoSuchBucket`));
  });
});

describe('Metrics on CloudWatch', () => {
  it('reads sums per period for the queries, ascending, with empty series for metrics without data', async () => {
    const raw = new CloudWatchClient({ region, endpoint: moto.endpoint, credentials: MOTO_CREDENTIALS });
    const start = Math.floor(Date.now() / 60_000) * 60_000 - 10 * 60_000;
    const dims = [{ Name: 'LoadBalancer', Value: 'app/my-alb/50dc6c495c0c9188' }];
    for (const [minute, value] of [[1, 3], [1, 2], [3, 5]]) {
      await raw.send(new PutMetricDataCommand({ Namespace: 'AWS/ApplicationELB', MetricData: [{ MetricName: 'HTTPCode_ELB_5XX_Count', Dimensions: dims, Timestamp: new Date(start + minute * 60_000 + 1000), Value: value, Unit: 'Count' }] }));
    }
    raw.destroy();
    const metrics = createCloudWatchAdapter({ region, endpoint: moto.endpoint, credentials: MOTO_CREDENTIALS });
    const q = { namespace: 'AWS/ApplicationELB', dimensions: { LoadBalancer: 'app/my-alb/50dc6c495c0c9188' }, stat: 'Sum', periodSeconds: 60 };
    const [elb, target] = await metrics.getMetricData([{ id: 'elb5xx', metricName: 'HTTPCode_ELB_5XX_Count', ...q }, { id: 'target5xx', metricName: 'HTTPCode_Target_5XX_Count', ...q }], start, start + 10 * 60_000);
    expect(elb.id).toBe('elb5xx');
    expect(elb.values.reduce((a, b) => a + b, 0)).toBe(10);
    expect(elb.timestamps).toEqual([...elb.timestamps].sort((a, b) => a - b));
    expect(target).toMatchObject({ id: 'target5xx', values: [] });
  });
});

describe('ELBv2: the load balancer of a target group and its access-log attributes', () => {
  it('finds the load balancer and reads access_logs.s3.*', async () => {
    const ec2 = new EC2Client({ region, endpoint: moto.endpoint, credentials: MOTO_CREDENTIALS });
    const vpc = (await ec2.send(new CreateVpcCommand({ CidrBlock: '10.0.0.0/16' }))).Vpc!.VpcId!;
    const subnets = await Promise.all(['a', 'b'].map(async (z, i) => (await ec2.send(new CreateSubnetCommand({ VpcId: vpc, CidrBlock: `10.0.${i}.0/24`, AvailabilityZone: `us-east-1${z}` }))).Subnet!.SubnetId!));
    ec2.destroy();
    const raw = new ElasticLoadBalancingV2Client({ region, endpoint: moto.endpoint, credentials: MOTO_CREDENTIALS });
    const lb = (await raw.send(new CreateLoadBalancerCommand({ Name: 'my-alb', Subnets: subnets, Type: 'application' }))).LoadBalancers![0].LoadBalancerArn!;
    const tg = (await raw.send(new CreateTargetGroupCommand({ Name: 'my-tg', Protocol: 'HTTP', Port: 8080, VpcId: vpc, TargetType: 'ip' }))).TargetGroups![0].TargetGroupArn!;
    await raw.send(new CreateListenerCommand({ LoadBalancerArn: lb, Protocol: 'HTTP', Port: 80, DefaultActions: [{ Type: 'forward', TargetGroupArn: tg }] }));
    await raw.send(new ModifyLoadBalancerAttributesCommand({ LoadBalancerArn: lb, Attributes: [{ Key: 'access_logs.s3.enabled', Value: 'true' }, { Key: 'access_logs.s3.bucket', Value: 'alb-logs' }, { Key: 'access_logs.s3.prefix', Value: 'logs' }] }));
    raw.destroy();

    const elbv2 = createElbv2Adapter({ region, endpoint: moto.endpoint, credentials: MOTO_CREDENTIALS });
    expect(await elbv2.loadBalancersOf(tg)).toEqual([lb]);
    expect(await elbv2.describeLoadBalancerAttributes(lb)).toMatchObject({ 'access_logs.s3.enabled': 'true', 'access_logs.s3.bucket': 'alb-logs', 'access_logs.s3.prefix': 'logs' });
    expect(parseLoadBalancerArn(lb)).toMatchObject({ region, name: 'my-alb', resource: expect.stringMatching(/^app\/my-alb\/[0-9a-f]+$/) });
  });

  it('reads listeners and rules (DescribeListeners, DescribeRules) into the shapes the traffic address is chosen from', async () => {
    const ec2 = new EC2Client({ region, endpoint: moto.endpoint, credentials: MOTO_CREDENTIALS });
    const vpc = (await ec2.send(new CreateVpcCommand({ CidrBlock: '10.1.0.0/16' }))).Vpc!.VpcId!;
    const subnets = await Promise.all(['a', 'b'].map(async (z, i) => (await ec2.send(new CreateSubnetCommand({ VpcId: vpc, CidrBlock: `10.1.${i}.0/24`, AvailabilityZone: `us-east-1${z}` }))).Subnet!.SubnetId!));
    ec2.destroy();
    const raw = new ElasticLoadBalancingV2Client({ region, endpoint: moto.endpoint, credentials: MOTO_CREDENTIALS });
    const lb = (await raw.send(new CreateLoadBalancerCommand({ Name: 'k8s-shared', Subnets: subnets, Type: 'application' }))).LoadBalancers![0];
    const tg = (await raw.send(new CreateTargetGroupCommand({ Name: 'k8s-shop-web', Protocol: 'HTTP', Port: 8080, VpcId: vpc, TargetType: 'ip' }))).TargetGroups![0].TargetGroupArn!;
    const other = (await raw.send(new CreateTargetGroupCommand({ Name: 'k8s-shop-grpc', Protocol: 'HTTP', Port: 8080, VpcId: vpc, TargetType: 'ip' }))).TargetGroups![0].TargetGroupArn!;
    await raw.send(new CreateListenerCommand({ LoadBalancerArn: lb.LoadBalancerArn, Protocol: 'HTTP', Port: 80, DefaultActions: [{ Type: 'redirect', RedirectConfig: { Protocol: 'HTTPS', Port: '443', StatusCode: 'HTTP_301' } }] }));
    const l8080 = (await raw.send(new CreateListenerCommand({ LoadBalancerArn: lb.LoadBalancerArn, Protocol: 'HTTP', Port: 8080, DefaultActions: [{ Type: 'fixed-response', FixedResponseConfig: { StatusCode: '404', ContentType: 'text/plain' } }] }))).Listeners![0].ListenerArn!;
    await raw.send(
      new CreateRuleCommand({
        ListenerArn: l8080,
        Priority: 5,
        Conditions: [{ Field: 'host-header', HostHeaderConfig: { Values: ['shop.example.test'] } }, { Field: 'path-pattern', PathPatternConfig: { Values: ['/api/*'] } }],
        Actions: [{ Type: 'forward', ForwardConfig: { TargetGroups: [{ TargetGroupArn: tg, Weight: 3 }, { TargetGroupArn: other, Weight: 1 }] } }],
      }),
    );
    raw.destroy();

    const elbv2 = createElbv2Adapter({ region, endpoint: moto.endpoint, credentials: MOTO_CREDENTIALS });
    const rules = await elbv2.describeRules(l8080);
    expect(rules.find((r) => r.priority === '5')).toMatchObject({
      isDefault: false,
      hosts: ['shop.example.test'],
      paths: ['/api/*'],
      otherConditions: [],
      actions: [{ type: 'forward', targetGroups: [{ arn: tg, weight: 3 }, { arn: other, weight: 1 }] }],
    });
    expect(rules.find((r) => r.isDefault)).toMatchObject({ priority: 'default', actions: [{ type: 'fixed-response', fixedStatus: '404' }] });
    const routing = await readRouting(elbv2, tg);
    expect(routing.listeners.map((l) => `${l.protocol}:${l.port}:${l.defaultActions[0].type}`).sort()).toEqual(['HTTP:8080:fixed-response', 'HTTP:80:redirect']);
    expect(routing.listeners.find((l) => l.port === 80)?.defaultActions[0].redirectStatus).toBe('HTTP_301');
    expect(chooseTrafficAddress(routing, tg, ['/'])).toMatchObject({ url: `http://${lb.DNSName}:8080/api`, hostHeader: 'shop.example.test' });
  });
});
