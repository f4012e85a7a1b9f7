import { execa } from 'execa';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../harness/core/clock.ts';
import { seededRandom } from '../../../harness/core/random.ts';
import { startAwsApiServer } from '../../../harness/twin/aws/server.ts';
import { parseTwinConfig } from '../../../harness/twin/config.ts';
import { startNodeLifecycle } from '../../../harness/twin/controllers/nodes.ts';
import { ObjectStore } from '../../../harness/twin/kube/store.ts';
import { startAwsApiFixture, type AwsApiFixture } from '../../helpers/aws-api-fixture.ts';
import { requirement } from '../../helpers/requirement.ts';

// The aws CLI is an external tool: without it on PATH these checks cannot run.
const hasAws = await execa('aws', ['--version'], { reject: false }).then((r) => r.exitCode === 0, () => false);
const needsAws = requirement('the aws CLI', hasAws, 'apt-get install -y awscli; .ci/run installs it');

let f: AwsApiFixture;

const awsEnv = { AWS_ACCESS_KEY_ID: 'AKIDTWIN', AWS_SECRET_ACCESS_KEY: 'twin-secret', AWS_DEFAULT_REGION: 'us-east-1', AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null', AWS_MAX_ATTEMPTS: '1' };

async function aws(...args: string[]): Promise<unknown> {
  return awsAt(f.api.url, ...args);
}

async function awsAt(endpoint: string, ...args: string[]): Promise<unknown> {
  const result = await execa('aws', [...args, '--endpoint-url', endpoint, '--output', 'json'], { env: awsEnv, timeout: 30_000 });
  return JSON.parse(result.stdout);
}

describe.runIf(needsAws.run)('the aws CLI against the twin', () => {
  beforeEach(() => needsAws.check());
  beforeAll(async () => {
    f = await startAwsApiFixture('127.0.22');
  });
  afterAll(async () => {
    await f?.close();
  });

  it('elbv2 describe-target-health lists both targets with their states', async () => {
    const out = (await aws('elbv2', 'describe-target-health', '--target-group-arn', f.tg.arn)) as {
      TargetHealthDescriptions: Array<{ Target: { Id: string; Port: number }; TargetHealth: { State: string; Reason?: string } }>;
    };
    expect(out.TargetHealthDescriptions.map((d) => [d.Target.Id, d.Target.Port, d.TargetHealth.State])).toEqual([
      [f.healthy.id, f.healthy.port, 'healthy'],
      [f.refused.id, f.refused.port, 'unhealthy'],
    ]);
    expect(out.TargetHealthDescriptions[1].TargetHealth.Reason).toBe('Target.FailedHealthChecks');
  });

  it('elbv2 describe-target-groups shows the group and its load balancer', async () => {
    const out = (await aws('elbv2', 'describe-target-groups')) as { TargetGroups: Array<Record<string, unknown>> };
    expect(out.TargetGroups).toHaveLength(1);
    expect(out.TargetGroups[0]).toMatchObject({ TargetGroupArn: f.tg.arn, TargetGroupName: 'web-tg', Port: 8080, LoadBalancerArns: [f.lb.arn] });
  });

  // Before terminate-instances below: the experiment interrupts the spot instance that test terminates.
  it('fis create-experiment-template, list-experiment-templates, start-experiment, get-experiment until completed, delete-experiment-template', async () => {
    const spot = 'i-0a1b2c3d4e5f60002';
    expect(f.ec2.instances().find((i) => i.instanceId === spot)?.state).toBe('running');
    const input = {
      description: 'spot interruption of node-b2',
      roleArn: 'arn:aws:iam::123456789012:role/fis',
      stopConditions: [{ source: 'none' }],
      targets: { SpotInstance: { resourceType: 'aws:ec2:spot-instance', resourceArns: [`arn:aws:ec2:us-east-1:123456789012:instance/${spot}`], selectionMode: 'ALL' } },
      actions: { interrupt: { actionId: 'aws:ec2:send-spot-instance-interruptions', parameters: { durationBeforeInterruption: 'PT2M' }, targets: { SpotInstances: 'SpotInstance' } } },
      tags: { 'rollout-harness.io/run': 'r-cli' },
    };
    const created = (await aws('fis', 'create-experiment-template', '--cli-input-json', JSON.stringify(input))) as { experimentTemplate: { id: string; tags: Record<string, string> } };
    const templateId = created.experimentTemplate.id;
    expect(created.experimentTemplate.tags).toEqual({ 'rollout-harness.io/run': 'r-cli' });
    const listed = (await aws('fis', 'list-experiment-templates')) as { experimentTemplates: Array<{ id: string; tags: Record<string, string> }> };
    expect(listed.experimentTemplates.map((t) => [t.id, t.tags['rollout-harness.io/run']])).toEqual([[templateId, 'r-cli']]);
    const started = (await aws('fis', 'start-experiment', '--experiment-template-id', templateId)) as { experiment: { id: string; state: { status: string } } };
    expect(started.experiment.state.status).toBe('pending');
    const seen = new Set<string>();
    // Bounded: 2 model minutes are 1.2 s on the fixture's clock; each CLI call takes about a second.
    for (let i = 0; i < 20 && !seen.has('completed'); i++) {
      const got = (await aws('fis', 'get-experiment', '--id', started.experiment.id)) as { experiment: { state: { status: string }; experimentTemplateId: string } };
      expect(got.experiment.experimentTemplateId).toBe(templateId);
      seen.add(got.experiment.state.status);
    }
    expect(seen.has('completed')).toBe(true);
    expect(f.interruptions).toEqual([{ instanceId: spot, durationMs: 120_000 }]);
    const deleted = (await aws('fis', 'delete-experiment-template', '--id', templateId)) as { experimentTemplate: { id: string } };
    expect(deleted.experimentTemplate.id).toBe(templateId);
    expect(((await aws('fis', 'list-experiment-templates')) as { experimentTemplates: unknown[] }).experimentTemplates).toEqual([]);
  });

  it('fis create-experiment-template with another action fails with the ValidationException the CLI prints', async () => {
    const input = {
      description: 'stop',
      roleArn: 'arn:aws:iam::123456789012:role/fis',
      stopConditions: [{ source: 'none' }],
      targets: { I: { resourceType: 'aws:ec2:instance', resourceTags: { a: 'b' }, selectionMode: 'ALL' } },
      actions: { stop: { actionId: 'aws:ec2:stop-instances', targets: { Instances: 'I' } } },
    };
    const r = await execa('aws', ['fis', 'create-experiment-template', '--cli-input-json', JSON.stringify(input), '--endpoint-url', f.api.url], {
      env: { AWS_ACCESS_KEY_ID: 'AKIDTWIN', AWS_SECRET_ACCESS_KEY: 'twin-secret', AWS_DEFAULT_REGION: 'us-east-1', AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null', AWS_MAX_ATTEMPTS: '1' },
      timeout: 30_000,
      reject: false,
    });
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toContain('(ValidationException) when calling the CreateExperimentTemplate operation');
    expect(r.stderr).toContain('serves "aws:ec2:spot-instance" only, got "aws:ec2:instance"');
  });

  it('ec2 describe-instances and terminate-instances', async () => {
    const described = (await aws('ec2', 'describe-instances', '--filters', 'Name=instance-lifecycle,Values=spot')) as {
      Reservations: Array<{ Instances: Array<{ InstanceId: string; PrivateDnsName: string; State: { Name: string } }> }>;
    };
    const instances = described.Reservations.flatMap((r) => r.Instances);
    expect(instances.map((i) => [i.InstanceId, i.PrivateDnsName, i.State.Name])).toEqual([
      ['i-0a1b2c3d4e5f60002', 'node-b2', 'running'],
      ['i-0a1b2c3d4e5f60003', 'node-old', 'terminated'],
    ]);
    const terminated = (await aws('ec2', 'terminate-instances', '--instance-ids', 'i-0a1b2c3d4e5f60002')) as {
      TerminatingInstances: Array<{ InstanceId: string; CurrentState: { Code: number; Name: string }; PreviousState: { Name: string } }>;
    };
    expect(terminated.TerminatingInstances).toEqual([
      { InstanceId: 'i-0a1b2c3d4e5f60002', CurrentState: { Code: 32, Name: 'shutting-down' }, PreviousState: { Code: 16, Name: 'running' } },
    ]);
    expect(f.ec2.terminated).toEqual(['i-0a1b2c3d4e5f60002']);
  });

  it('ec2 run-instances launches one instance that joins as a Karpenter node; unsupported parameters get an EC2 error naming them', async () => {
    // The EC2 API over a node lifecycle (its nodes, RunInstances), beside the fixture's ALB.
    const clock = new ManualClock(Date.parse('2026-01-01T00:00:00Z'));
    const store = new ObjectStore(clock);
    const config = parseTwinConfig({ cluster: { spotHandler: 'karpenter', nodeLaunchSeconds: 30 } });
    const nodes = startNodeLifecycle({ store, clock, random: seededRandom(3), config, kubelets: { killNode: () => {} } });
    const api = await startAwsApiServer({
      alb: f.twin,
      ec2: { instances: () => nodes.instances(), terminate: (id) => nodes.instanceTerminated(id), launch: (r) => nodes.launchInstance(r), region: 'us-east-1' },
      region: 'us-east-1',
    });
    try {
      const run = (await awsAt(
        api.url,
        'ec2',
        'run-instances',
        '--instance-type',
        'c5.large',
        '--placement',
        'AvailabilityZone=us-east-1b',
        '--instance-market-options',
        'MarketType=spot',
        '--count',
        '1',
        '--tag-specifications',
        'ResourceType=instance,Tags=[{Key=karpenter.sh/nodepool,Value=default},{Key=team,Value=web}]',
      )) as { Instances: Array<{ InstanceId: string; InstanceType: string; InstanceLifecycle?: string; State: { Name: string }; Placement: { AvailabilityZone: string }; PrivateDnsName: string }> };
      expect(run.Instances).toHaveLength(1);
      const launched = run.Instances[0];
      expect(launched).toMatchObject({ InstanceType: 'c5.large', InstanceLifecycle: 'spot', State: { Name: 'pending' }, Placement: { AvailabilityZone: 'us-east-1b' } });
      expect(launched.PrivateDnsName).toMatch(/^default-[a-z0-9]{5}$/);
      await clock.advance(30_000);
      const node = store.get('nodes', undefined, launched.PrivateDnsName)!;
      expect(node.metadata.labels).toMatchObject({ 'karpenter.sh/nodepool': 'default', 'karpenter.sh/capacity-type': 'spot' });
      expect(node.spec.providerID).toBe(`aws:///us-east-1b/${launched.InstanceId}`);
      const described = (await awsAt(api.url, 'ec2', 'describe-instances', '--instance-ids', launched.InstanceId)) as {
        Reservations: Array<{ Instances: Array<{ State: { Name: string }; Tags: Array<{ Key: string; Value: string }> }> }>;
      };
      const instance = described.Reservations[0].Instances[0];
      expect(instance.State.Name).toBe('running');
      expect(Object.fromEntries(instance.Tags.map((t) => [t.Key, t.Value]))).toEqual({ 'karpenter.sh/nodepool': 'default', team: 'web' });

      const refused = await execa('aws', ['ec2', 'run-instances', '--image-id', 'ami-0123456789abcdef0', '--instance-type', 'm5.large', '--placement', 'AvailabilityZone=us-east-1a', '--count', '1', '--endpoint-url', api.url], { env: awsEnv, reject: false, timeout: 30_000 });
      expect(refused.exitCode).not.toBe(0);
      expect(refused.stderr).toContain('(UnknownParameter)');
      expect(refused.stderr).toContain('The parameter ImageId is not recognized');
    } finally {
      await api.close();
      nodes.stop();
    }
  });
});
