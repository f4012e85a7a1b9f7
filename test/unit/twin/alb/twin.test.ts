import net from 'node:net';
import { gunzipSync } from 'node:zlib';
import { Agent, request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../../harness/core/clock.ts';
import { seededRandom } from '../../../../harness/core/random.ts';
import { AlbError } from '../../../../harness/twin/alb/errors.ts';
import { createAlbTwin, type AlbTwin } from '../../../../harness/twin/alb/twin.ts';
import type { AccessLogRecord } from '../../../../harness/twin/alb/types.ts';
import { S3Store } from '../../../../harness/twin/aws/s3.ts';
import { parseTwinConfig } from '../../../../harness/twin/config.ts';
import { Network } from '../../../../harness/twin/network.ts';

// Only the control plane: no load balancer, so no listener is started.
let twin: AlbTwin;
afterEach(async () => {
  await twin?.close();
});

function make(seed = 1): AlbTwin {
  twin = createAlbTwin({
    clock: new ManualClock(0),
    random: seededRandom(seed),
    config: parseTwinConfig({ alb: { deregistrationDelaySeconds: 120 } }).alb,
    region: 'eu-west-1',
    network: new Network(),
    healthProbe: async () => ({ kind: 'status', status: 200 }),
  });
  return twin;
}

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof AlbError) return err.code;
    throw err;
  }
  throw new Error('Expected an AlbError, got none');
}

describe('ALB twin control plane', () => {
  it('shapes target group ARNs like AWS and repeats them from the seed', () => {
    const a = make(9).createTargetGroup({ name: 'web-tg', port: 8080 });
    expect(a.arn).toMatch(/^arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup\/web-tg\/[0-9a-f]{16}$/);
    expect(a.vpcId).toMatch(/^vpc-[0-9a-f]{17}$/);
    const b = make(9).createTargetGroup({ name: 'web-tg', port: 8080 });
    expect(b.arn).toBe(a.arn);
  });

  it('applies config defaults and overrides to the health check, and rejects bad ones with ValidationError', () => {
    const t = make();
    const tg = t.createTargetGroup({ name: 'web-tg', port: 8080, healthCheck: { path: '/ready', matcher: '200-299' } });
    expect(tg.healthCheck).toEqual({ path: '/ready', port: 'traffic-port', intervalSeconds: 15, timeoutSeconds: 5, healthyThreshold: 2, unhealthyThreshold: 2, matcher: '200-299' });
    expect(codeOf(() => t.modifyHealthCheck(tg.arn, { matcher: '600' }))).toBe('ValidationError');
    expect(codeOf(() => t.modifyHealthCheck(tg.arn, { intervalSeconds: 1 }))).toBe('ValidationError');
    expect(t.modifyHealthCheck(tg.arn, { healthyThreshold: 3 }).healthCheck.healthyThreshold).toBe(3);
    expect(codeOf(() => t.createTargetGroup({ name: 'web-tg', port: 8080 }))).toBe('DuplicateTargetGroupName');
    expect(codeOf(() => t.createTargetGroup({ name: '-bad', port: 8080 }))).toBe('ValidationError');
  });

  it('validates target group attributes: deregistration delay 0-3600, known keys only', () => {
    const t = make();
    const tg = t.createTargetGroup({ name: 'web-tg', port: 8080 });
    expect(t.getTargetGroupAttributes(tg.arn)['deregistration_delay.timeout_seconds']).toBe('120');
    expect(t.modifyTargetGroupAttributes(tg.arn, { 'deregistration_delay.timeout_seconds': '0' })['deregistration_delay.timeout_seconds']).toBe('0');
    for (const bad of ['3601', '-1', '1.5', 'ten']) {
      expect(codeOf(() => t.modifyTargetGroupAttributes(tg.arn, { 'deregistration_delay.timeout_seconds': bad })), bad).toBe('ValidationError');
    }
    expect(codeOf(() => t.modifyTargetGroupAttributes(tg.arn, { 'no.such.key': '1' }))).toBe('ValidationError');
    expect(t.getTargetGroupAttributes(tg.arn)['deregistration_delay.timeout_seconds']).toBe('0');
  });

  it('refuses slow start with least outstanding requests or weighted random, and anomaly mitigation without weighted random (ELB guide)', () => {
    const t = make();
    const tg = t.createTargetGroup({ name: 'web-tg', port: 8080 });
    expect(t.modifyTargetGroupAttributes(tg.arn, { 'slow_start.duration_seconds': '30' })['slow_start.duration_seconds']).toBe('30');
    for (const algorithm of ['least_outstanding_requests', 'weighted_random']) {
      expect(codeOf(() => t.modifyTargetGroupAttributes(tg.arn, { 'load_balancing.algorithm.type': algorithm })), algorithm).toBe('InvalidConfigurationRequest');
    }
    expect(t.getTargetGroupAttributes(tg.arn)['load_balancing.algorithm.type']).toBe('round_robin');
    expect(() => t.modifyTargetGroupAttributes(tg.arn, { 'load_balancing.algorithm.type': 'weighted_random' })).toThrow('You cannot enable both slow start and weighted random algorithm on a target group');
    // Both in one call: slow start off, then the algorithm.
    const both = t.modifyTargetGroupAttributes(tg.arn, { 'slow_start.duration_seconds': '0', 'load_balancing.algorithm.type': 'weighted_random' });
    expect(both['load_balancing.algorithm.type']).toBe('weighted_random');
    expect(codeOf(() => t.modifyTargetGroupAttributes(tg.arn, { 'slow_start.duration_seconds': '60' }))).toBe('InvalidConfigurationRequest');
    expect(t.modifyTargetGroupAttributes(tg.arn, { 'load_balancing.algorithm.anomaly_mitigation': 'on' })['load_balancing.algorithm.anomaly_mitigation']).toBe('on');
    expect(codeOf(() => t.modifyTargetGroupAttributes(tg.arn, { 'load_balancing.algorithm.type': 'round_robin' }))).toBe('InvalidConfigurationRequest');
    expect(codeOf(() => t.modifyTargetGroupAttributes(tg.arn, { 'load_balancing.algorithm.anomaly_mitigation': 'maybe' }))).toBe('ValidationError');
  });

  it('names unknown ARNs and bad targets with the ELBv2 error codes', () => {
    const t = make();
    const tg = t.createTargetGroup({ name: 'web-tg', port: 8080 });
    const missing = tg.arn.replace(/[0-9a-f]{16}$/, 'ffffffffffffffff');
    expect(codeOf(() => t.describeTargetHealth(missing))).toBe('TargetGroupNotFound');
    expect(codeOf(() => t.describeTargetGroups({ names: ['nope'] }))).toBe('TargetGroupNotFound');
    expect(codeOf(() => t.describeListeners('arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/x/0'))).toBe('LoadBalancerNotFound');
    expect(codeOf(() => t.registerTargets(tg.arn, [{ id: 'pod-a', port: 8080 }]))).toBe('ValidationError');
    expect(codeOf(() => t.registerTargets(tg.arn, [{ id: '127.0.0.2', port: 0 }]))).toBe('ValidationError');
  });

  it('keeps targets of a group no listener uses unused/Target.NotInUse, and lists tags', () => {
    const t = make();
    const tg = t.createTargetGroup({ name: 'web-tg', port: 8080, tags: { team: 'web' } });
    t.registerTargets(tg.arn, [{ id: '127.0.0.2', port: 8080, availabilityZone: 'eu-west-1a' }]);
    expect(t.describeTargetHealth(tg.arn)).toEqual([
      {
        target: { id: '127.0.0.2', port: 8080 },
        availabilityZone: 'eu-west-1a',
        state: 'unused',
        reason: 'Target.NotInUse',
        description: 'Target group is not configured to receive traffic from the load balancer',
      },
    ]);
    expect(t.describeTags([tg.arn])).toEqual([{ arn: tg.arn, tags: { team: 'web' } }]);
  });
});

describe('ALB twin shutdown', () => {
  it('logs and delivers every request, the last answered and the one closing cut off, before close resolves', async () => {
    const clock = new ManualClock(Date.parse('2025-03-01T10:00:00Z'));
    const store = new S3Store({ clock, buckets: ['logs'] });
    const records: AccessLogRecord[] = [];
    // A target that answers /ok and holds every other request open.
    let held: () => void = () => undefined;
    const heldArrived = new Promise<void>((resolve) => (held = resolve));
    const target = net.createServer((socket) => {
      socket.on('data', (data) => {
        if (data.toString('latin1').startsWith('GET /ok ')) socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
        else held();
      });
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
    const agent = new Agent();
    try {
      twin = createAlbTwin({
        clock,
        random: seededRandom(1),
        config: parseTwinConfig({}).alb,
        region: 'eu-west-1',
        network: new Network(),
        healthProbe: async () => ({ kind: 'status', status: 200 }),
        logSink: store,
        accessLog: (r) => records.push(r),
      });
      const lb = await twin.createLoadBalancer({ name: 'web', zones: ['eu-west-1a'] });
      const tg = twin.createTargetGroup({ name: 'web-tg', port: 8080 });
      await twin.createListener({ loadBalancerArn: lb.arn, port: 80, defaultTargetGroupArn: tg.arn });
      twin.modifyLoadBalancerAttributes(lb.arn, { 'access_logs.s3.enabled': 'true', 'access_logs.s3.bucket': 'logs' });
      twin.registerTargets(tg.arn, [{ id: '127.0.0.1', port: (target.address() as net.AddressInfo).port }]);
      for (let i = 0; i < 120 && twin.route(lb.arn, 'eu-west-1a') === null; i++) await clock.advance(1000);
      expect(twin.route(lb.arn, 'eu-west-1a')).not.toBeNull();

      const ok = await request(`${lb.listenerUrl}/ok`, { dispatcher: agent });
      expect([ok.statusCode, await ok.body.text()]).toEqual([200, 'ok']);
      const cut = request(`${lb.listenerUrl}/cut`, { dispatcher: agent }).then(
        (r) => r.body.dump().then(() => r.statusCode),
        () => 'no response',
      );
      await heldArrived;
      await twin.close();

      expect(records.map((r) => r.path)).toEqual(['/ok', '/cut']);
      const keys = store.list('logs', { prefix: 'AWSLogs/123456789012/elasticloadbalancing/', maxKeys: 1000 }).contents.map((o) => o.key);
      expect(keys).toHaveLength(1);
      const lines = gunzipSync((await store.get('logs', keys[0]))!.body).toString('utf8').trimEnd().split('\n');
      expect(lines.map((l) => /"GET http:\/\/[^ ]+:80(\/\w+) HTTP/.exec(l)?.[1])).toEqual(['/ok', '/cut']);
      // The client of the cut request sees a 502 or its connection closed: either way it has ended.
      await cut;
    } finally {
      await agent.close();
      await new Promise<void>((resolve) => target.close(() => resolve()));
    }
  });
});
