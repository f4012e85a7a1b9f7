import {
  DeregisterTargetsCommand,
  DescribeListenersCommand,
  DescribeLoadBalancersCommand,
  DescribeRulesCommand,
  DescribeTagsCommand,
  DescribeTargetGroupAttributesCommand,
  DescribeTargetGroupsCommand,
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
  ModifyTargetGroupAttributesCommand,
  RegisterTargetsCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { DescribeInstancesCommand, EC2Client, RunInstancesCommand, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFisAdapter } from '../../../harness/platform/fis/adapter.ts';
import { ManualClock } from '../../../harness/core/clock.ts';
import { seededRandom } from '../../../harness/core/random.ts';
import { startAwsApiServer } from '../../../harness/twin/aws/server.ts';
import { parseTwinConfig } from '../../../harness/twin/config.ts';
import { startNodeLifecycle } from '../../../harness/twin/controllers/nodes.ts';
import { ObjectStore } from '../../../harness/twin/kube/store.ts';
import { startAwsApiFixture, type AwsApiFixture } from '../../helpers/aws-api-fixture.ts';

let f: AwsApiFixture;
let elb: ElasticLoadBalancingV2Client;
let ec2: EC2Client;
const credentials = { accessKeyId: 'AKIDTWIN', secretAccessKey: 'twin-secret' };

beforeAll(async () => {
  f = await startAwsApiFixture('127.0.21');
  elb = new ElasticLoadBalancingV2Client({ endpoint: f.api.url, region: 'us-east-1', credentials, maxAttempts: 1 });
  ec2 = new EC2Client({ endpoint: f.api.url, region: 'us-east-1', credentials, maxAttempts: 1 });
});

afterAll(async () => {
  elb?.destroy();
  ec2?.destroy();
  await f?.close();
});

async function errorName(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    return (err as Error).name;
  }
  throw new Error('Expected the call to fail, got success');
}

describe('ELBv2 Query API with the AWS SDK v3', () => {
  it('DescribeLoadBalancers lists, filters by ARN and name, and reports LoadBalancerNotFound', async () => {
    const all = await elb.send(new DescribeLoadBalancersCommand({}));
    expect(all.LoadBalancers).toHaveLength(1);
    const lb = all.LoadBalancers![0];
    expect(lb.LoadBalancerArn).toMatch(/^arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer\/app\/web\/[0-9a-f]{16}$/);
    // The twin's ALB is on loopback: its DNS name is the listener's address, never a made-up name.
    expect(lb.DNSName).toBe('127.0.0.1');
    expect(lb.Type).toBe('application');
    expect(lb.Scheme).toBe('internet-facing');
    expect(lb.State?.Code).toBe('active');
    expect(lb.VpcId).toMatch(/^vpc-[0-9a-f]{17}$/);
    expect(lb.AvailabilityZones?.map((z) => z.ZoneName)).toEqual(['us-east-1a', 'us-east-1b']);
    expect(lb.CreatedTime).toBeInstanceOf(Date);
    const byName = await elb.send(new DescribeLoadBalancersCommand({ Names: ['web'] }));
    expect(byName.LoadBalancers?.[0].LoadBalancerArn).toBe(f.lb.arn);
    const byArn = await elb.send(new DescribeLoadBalancersCommand({ LoadBalancerArns: [f.lb.arn] }));
    expect(byArn.LoadBalancers?.[0].LoadBalancerName).toBe('web');
    expect(await errorName(elb.send(new DescribeLoadBalancersCommand({ Names: ['nope'] })))).toBe('LoadBalancerNotFoundException');
  });

  it('DescribeListeners gives the forward action to the target group', async () => {
    const out = await elb.send(new DescribeListenersCommand({ LoadBalancerArn: f.lb.arn }));
    expect(out.Listeners).toHaveLength(1);
    const l = out.Listeners![0];
    expect(l.ListenerArn).toMatch(new RegExp(`^${f.lb.arn.replace(':loadbalancer/', ':listener/')}/[0-9a-f]{16}$`));
    // The loopback port the data plane listens on, so DNSName:Port reaches it.
    expect(l.Port).toBe(Number(new URL(f.lb.listenerUrl).port));
    expect(l.Protocol).toBe('HTTP');
    expect(l.DefaultActions).toEqual([
      {
        Type: 'forward',
        TargetGroupArn: f.tg.arn,
        ForwardConfig: { TargetGroups: [{ TargetGroupArn: f.tg.arn, Weight: 1 }], TargetGroupStickinessConfig: { Enabled: false } },
        Order: 1,
      },
    ]);
  });

  it('DescribeRules lists a listener without rules as its default rule, finds rules by ARN, and reports RuleNotFound', async () => {
    const [l] = (await elb.send(new DescribeListenersCommand({ LoadBalancerArn: f.lb.arn }))).Listeners!;
    const { Rules } = await elb.send(new DescribeRulesCommand({ ListenerArn: l.ListenerArn }));
    expect(Rules).toHaveLength(1);
    expect(Rules![0]).toMatchObject({ Priority: 'default', IsDefault: true, Conditions: [], Actions: [{ Type: 'forward', TargetGroupArn: f.tg.arn, Order: 1 }] });
    expect(Rules![0].RuleArn).toMatch(new RegExp(`^${l.ListenerArn!.replace(':listener/', ':listener-rule/')}/[0-9a-f]{16}$`));
    const byArn = await elb.send(new DescribeRulesCommand({ RuleArns: [Rules![0].RuleArn!] }));
    expect(byArn.Rules?.map((r) => r.RuleArn)).toEqual([Rules![0].RuleArn]);
    expect(await errorName(elb.send(new DescribeRulesCommand({ RuleArns: [`${Rules![0].RuleArn}0`] })))).toBe('RuleNotFoundException');
    expect(await errorName(elb.send(new DescribeRulesCommand({ ListenerArn: `${l.ListenerArn}0` })))).toBe('ListenerNotFoundException');
  });

  it('DescribeTargetGroups filters by ARN, name and load balancer, and reports TargetGroupNotFound', async () => {
    const byArn = await elb.send(new DescribeTargetGroupsCommand({ TargetGroupArns: [f.tg.arn] }));
    const tg = byArn.TargetGroups![0];
    expect(tg).toMatchObject({
      TargetGroupName: 'web-tg',
      Protocol: 'HTTP',
      Port: 8080,
      TargetType: 'ip',
      HealthCheckPath: '/healthz',
      HealthCheckPort: 'traffic-port',
      HealthCheckIntervalSeconds: 5,
      HealthCheckTimeoutSeconds: 5,
      HealthyThresholdCount: 2,
      UnhealthyThresholdCount: 2,
      Matcher: { HttpCode: '200' },
      LoadBalancerArns: [f.lb.arn],
    });
    expect((await elb.send(new DescribeTargetGroupsCommand({ Names: ['web-tg'] }))).TargetGroups?.[0].TargetGroupArn).toBe(f.tg.arn);
    expect((await elb.send(new DescribeTargetGroupsCommand({ LoadBalancerArn: f.lb.arn }))).TargetGroups).toHaveLength(1);
    const missing = f.tg.arn.replace(/[0-9a-f]{16}$/, '0000000000000000');
    expect(await errorName(elb.send(new DescribeTargetGroupsCommand({ TargetGroupArns: [missing] })))).toBe('TargetGroupNotFoundException');
  });

  it('DescribeTargetHealth reports healthy, unhealthy with its reason, and unused for an unknown target', async () => {
    const out = await elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: f.tg.arn }));
    const rows = out.TargetHealthDescriptions!;
    expect(rows.map((r) => [r.Target?.Id, r.Target?.AvailabilityZone, r.TargetHealth?.State])).toEqual([
      [f.healthy.id, 'us-east-1a', 'healthy'],
      [f.refused.id, 'us-east-1b', 'unhealthy'],
    ]);
    expect(rows[1].TargetHealth?.Reason).toBe('Target.FailedHealthChecks');
    expect(rows[0].HealthCheckPort).toBe('traffic-port');
    const one = await elb.send(
      new DescribeTargetHealthCommand({ TargetGroupArn: f.tg.arn, Targets: [{ Id: '127.0.21.50', Port: 8080 }] }),
    );
    expect(one.TargetHealthDescriptions?.[0].TargetHealth).toEqual({
      State: 'unused',
      Reason: 'Target.NotRegistered',
      Description: 'Target is not registered to the target group',
    });
    expect(await errorName(elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: `${f.tg.arn}0` })))).toBe('TargetGroupNotFoundException');
  });

  it('Describe/ModifyTargetGroupAttributes round-trip and reject an out-of-range delay with ValidationError', async () => {
    const before = await elb.send(new DescribeTargetGroupAttributesCommand({ TargetGroupArn: f.tg.arn }));
    expect(before.Attributes).toContainEqual({ Key: 'deregistration_delay.timeout_seconds', Value: '300' });
    const modified = await elb.send(
      new ModifyTargetGroupAttributesCommand({ TargetGroupArn: f.tg.arn, Attributes: [{ Key: 'deregistration_delay.timeout_seconds', Value: '30' }] }),
    );
    expect(modified.Attributes).toEqual([{ Key: 'deregistration_delay.timeout_seconds', Value: '30' }]);
    const after = await elb.send(new DescribeTargetGroupAttributesCommand({ TargetGroupArn: f.tg.arn }));
    expect(after.Attributes).toContainEqual({ Key: 'deregistration_delay.timeout_seconds', Value: '30' });
    const bad = new ModifyTargetGroupAttributesCommand({ TargetGroupArn: f.tg.arn, Attributes: [{ Key: 'deregistration_delay.timeout_seconds', Value: '3601' }] });
    expect(await errorName(elb.send(bad))).toBe('ValidationError');
    expect(f.twin.getTargetGroupAttributes(f.tg.arn)['deregistration_delay.timeout_seconds']).toBe('30');
  });

  it('DescribeTags returns the tags of load balancers and target groups', async () => {
    const out = await elb.send(new DescribeTagsCommand({ ResourceArns: [f.lb.arn, f.tg.arn] }));
    expect(out.TagDescriptions).toEqual([
      { ResourceArn: f.lb.arn, Tags: [{ Key: 'elbv2.k8s.aws/cluster', Value: 'twin' }] },
      { ResourceArn: f.tg.arn, Tags: [{ Key: 'ingress.k8s.aws/stack', Value: 'default/web' }] },
    ]);
  });

  it('RegisterTargets and DeregisterTargets change the control plane; deregistering an unknown target is InvalidTarget', async () => {
    const extra = { Id: '127.0.21.77', Port: 8080 };
    await elb.send(new RegisterTargetsCommand({ TargetGroupArn: f.tg.arn, Targets: [extra] }));
    const [row] = f.twin.describeTargetHealth(f.tg.arn, [{ id: extra.Id, port: extra.Port }]);
    expect(row.state).toBe('initial');
    await elb.send(new DeregisterTargetsCommand({ TargetGroupArn: f.tg.arn, Targets: [extra] }));
    // Nothing in flight and no connection: deregistration completes at once.
    expect(f.twin.describeTargetHealth(f.tg.arn, [{ id: extra.Id, port: extra.Port }])[0].state).toBe('unused');
    expect(await errorName(elb.send(new DeregisterTargetsCommand({ TargetGroupArn: f.tg.arn, Targets: [extra] })))).toBe('InvalidTargetException');
  });
});

describe('EC2 Query API with the AWS SDK v3', () => {
  it('DescribeInstances reports zone, type, spot lifecycle and node name, and no IP address', async () => {
    const out = await ec2.send(new DescribeInstancesCommand({}));
    const instances = out.Reservations!.flatMap((r) => r.Instances!);
    expect(instances.map((i) => i.InstanceId)).toEqual(['i-0a1b2c3d4e5f60001', 'i-0a1b2c3d4e5f60002', 'i-0a1b2c3d4e5f60003']);
    const spot = instances[1];
    expect(spot).toMatchObject({
      InstanceType: 'm5.xlarge',
      InstanceLifecycle: 'spot',
      PrivateDnsName: 'node-b2',
      Placement: { AvailabilityZone: 'us-east-1b' },
      State: { Code: 16, Name: 'running' },
      Tags: [{ Key: 'eks:nodegroup-name', Value: 'ng-spot' }],
    });
    expect(spot.LaunchTime?.toISOString()).toBe('2025-01-01T00:01:00.000Z');
    expect(instances[0].InstanceLifecycle).toBeUndefined();
    for (const i of instances) {
      expect(i.PrivateIpAddress).toBeUndefined();
      expect(i.PublicIpAddress).toBeUndefined();
    }
  });

  it('DescribeInstances filters by id, state and tag, and reports InvalidInstanceID.NotFound', async () => {
    const byId = await ec2.send(new DescribeInstancesCommand({ InstanceIds: ['i-0a1b2c3d4e5f60002'] }));
    expect(byId.Reservations?.flatMap((r) => r.Instances!).map((i) => i.PrivateDnsName)).toEqual(['node-b2']);
    const running = await ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: 'instance-state-name', Values: ['running'] }] }));
    expect(running.Reservations?.flatMap((r) => r.Instances!)).toHaveLength(2);
    const tagged = await ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: 'tag:eks:nodegroup-name', Values: ['ng-*'] }, { Name: 'instance-lifecycle', Values: ['spot'] }] }));
    expect(tagged.Reservations?.flatMap((r) => r.Instances!).map((i) => i.InstanceId)).toEqual(['i-0a1b2c3d4e5f60002']);
    expect(await errorName(ec2.send(new DescribeInstancesCommand({ InstanceIds: ['i-0fffffffffffffff0'] })))).toBe('InvalidInstanceID.NotFound');
  });

  it('TerminateInstances answers running → shutting-down and calls the provider', async () => {
    const out = await ec2.send(new TerminateInstancesCommand({ InstanceIds: ['i-0a1b2c3d4e5f60001'] }));
    expect(out.TerminatingInstances).toEqual([
      { InstanceId: 'i-0a1b2c3d4e5f60001', CurrentState: { Code: 32, Name: 'shutting-down' }, PreviousState: { Code: 16, Name: 'running' } },
    ]);
    expect(f.ec2.terminated).toEqual(['i-0a1b2c3d4e5f60001']);
    expect(await errorName(ec2.send(new TerminateInstancesCommand({ InstanceIds: ['i-0fffffffffffffff0'] })))).toBe('InvalidInstanceID.NotFound');
  });
});

describe('FIS REST-JSON API with the harness adapter (@aws-sdk/client-fis)', () => {
  it('creates a template with the marker tag, finds it by the tag, runs the experiment to completed, deletes it (false once gone)', async () => {
    const fis = createFisAdapter({ endpoint: f.api.url, region: 'us-east-1', credentials });
    const spot = 'i-0a1b2c3d4e5f60002';
    const templateId = await fis.createSpotInterruptionTemplate({
      instanceArn: `arn:aws:ec2:us-east-1:123456789012:instance/${spot}`,
      durationBeforeInterruption: 'PT2M30S',
      roleArn: 'arn:aws:iam::123456789012:role/fis',
      description: 'spot interruption of node-b2',
      tags: { 'rollout-harness.io/run': 'r-sdk' },
      clientToken: 'r-sdk-1',
    });
    expect(await fis.listTemplatesByTag('rollout-harness.io/run', 'r-sdk')).toEqual([templateId]);
    expect(await fis.listTemplatesByTag('rollout-harness.io/run', 'other')).toEqual([]);
    const started = await fis.startExperiment(templateId, 'r-sdk-2', { 'rollout-harness.io/run': 'r-sdk' });
    expect(started).toMatchObject({ status: 'pending' });
    let state = started;
    // Bounded: 152 model seconds are about 1.5 s on the fixture's clock.
    for (let i = 0; i < 100 && state.status !== 'completed' && state.status !== 'failed'; i++) {
      await f.clock.sleep(5000);
      state = await fis.getExperiment(started.id);
    }
    expect(state).toEqual({ id: started.id, status: 'completed', reason: 'Experiment completed.' });
    expect(f.interruptions.at(-1)).toEqual({ instanceId: spot, durationMs: 150_000 });
    expect(await fis.deleteTemplate(templateId)).toBe(true);
    expect(await fis.deleteTemplate(templateId)).toBe(false);
    expect(await fis.listTemplatesByTag('rollout-harness.io/run', 'r-sdk')).toEqual([]);
  });

  it('answers an unsigned request (curl) on FIS paths, and an SDK request for it as any signed one', async () => {
    const res = await fetch(`${f.api.url}/experimentTemplates?maxResults=1`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(Object.keys((await res.json()) as object)).toContain('experimentTemplates');
    const missing = await fetch(`${f.api.url}/experiments/EXPnone`);
    expect([missing.status, missing.headers.get('x-amzn-errortype')]).toEqual([404, 'ResourceNotFoundException']);
  });

  it('reports a ValidationException with the twin\'s message through the port', async () => {
    const fis = createFisAdapter({ endpoint: f.api.url, region: 'us-east-1', credentials });
    const failing = fis.createSpotInterruptionTemplate({
      instanceArn: 'arn:aws:ec2:us-east-1:123456789012:instance/i-0a1b2c3d4e5f60002',
      durationBeforeInterruption: 'PT16M',
      roleArn: 'arn:aws:iam::123456789012:role/fis',
      description: 'too long',
      tags: {},
      clientToken: 'r-sdk-3',
    });
    await expect(failing).rejects.toThrow(/FIS createSpotInterruptionTemplate\(\) at http:\/\/127\.0\.0\.1:\d+: expected an answer, got 400 ValidationException: .*expected an ISO 8601 duration from PT2M to PT15M, got "PT16M"/);
  });
});

describe('EC2 RunInstances with the AWS SDK v3', () => {
  it('launches a managed node group\'s on-demand node, idempotent by client token; the fixture without a node lifecycle refuses', async () => {
    const clock = new ManualClock(Date.parse('2026-01-01T00:00:00Z'));
    const store = new ObjectStore(clock);
    const nodes = startNodeLifecycle({ store, clock, random: seededRandom(4), config: parseTwinConfig({ cluster: { nodeLaunchSeconds: 30 } }), kubelets: { killNode: () => {} } });
    const api = await startAwsApiServer({
      alb: f.twin,
      ec2: { instances: () => nodes.instances(), terminate: (id) => nodes.instanceTerminated(id), launch: (r) => nodes.launchInstance(r), region: 'us-east-1' },
      region: 'us-east-1',
    });
    const client = new EC2Client({ endpoint: api.url, region: 'us-east-1', credentials, maxAttempts: 1 });
    try {
      const input = {
        InstanceType: 'm5.large' as const,
        Placement: { AvailabilityZone: 'us-east-1a' },
        MinCount: 1,
        MaxCount: 1,
        ClientToken: 'replace-node-a1',
        TagSpecifications: [{ ResourceType: 'instance' as const, Tags: [{ Key: 'eks:nodegroup-name', Value: 'ng-on-demand' }] }],
      };
      const out = await client.send(new RunInstancesCommand(input));
      const instance = out.Instances![0];
      expect(instance.InstanceId).toMatch(/^i-[0-9a-f]{17}$/);
      expect(instance.State?.Name).toBe('pending');
      expect(instance.InstanceLifecycle).toBeUndefined();
      expect(instance.PrivateDnsName).toMatch(/^ng-on-demand-[a-z0-9]{5}$/);
      expect((await client.send(new RunInstancesCommand(input))).Instances![0].InstanceId).toBe(instance.InstanceId);
      await clock.advance(30_000);
      expect(store.get('nodes', undefined, instance.PrivateDnsName!)!.metadata.labels).toMatchObject({ 'eks.amazonaws.com/nodegroup': 'ng-on-demand', 'eks.amazonaws.com/capacityType': 'ON_DEMAND' });
      expect(await errorName(client.send(new RunInstancesCommand({ ...input, ClientToken: undefined, Placement: { AvailabilityZone: 'eu-west-1a' } })))).toBe('InvalidParameterValue');
      expect(await errorName(client.send(new RunInstancesCommand({ ...input, ClientToken: undefined, TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'eks:nodegroup-name', Value: 'a' }, { Key: 'karpenter.sh/nodepool', Value: 'b' }] }] })))).toBe('InvalidParameterCombination');
      expect(await errorName(ec2.send(new RunInstancesCommand({ ...input, ClientToken: undefined })))).toBe('Unsupported');
    } finally {
      client.destroy();
      await api.close();
      nodes.stop();
    }
  });
});
