import { describe, expect, it } from 'vitest';
import { describeInstances, runInstances, terminateInstances, type Ec2Instance, type Ec2Provider, type RunInstanceRequest, type RunInstancesParams } from '../../../../harness/twin/aws/ec2.ts';
import { handleEc2 } from '../../../../harness/twin/aws/ec2-api.ts';

function provider(): Ec2Provider & { terminated: string[] } {
  const list: Ec2Instance[] = [
    { instanceId: 'i-00000000000000001', nodeName: 'node-a1', zone: 'us-east-1a', instanceType: 'm5.large', lifecycle: 'on-demand', state: 'running', launchTime: new Date(0), tags: { role: 'web' } },
    { instanceId: 'i-00000000000000002', nodeName: 'node-b2', zone: 'us-east-1b', instanceType: 'm5.large', lifecycle: 'spot', state: 'running', launchTime: new Date(0) },
    { instanceId: 'i-00000000000000003', nodeName: 'node-b3', zone: 'us-east-1b', instanceType: 'c5.large', lifecycle: 'spot', state: 'terminated', launchTime: new Date(0) },
  ];
  const terminated: string[] = [];
  return { terminated, instances: () => list, terminate: (id) => void terminated.push(id) };
}

const ids = (r: ReturnType<typeof describeInstances>) => (r.ok ? r.instances.map((i) => i.instanceId.slice(-1)) : r.code);

describe('EC2 model', () => {
  it('filters by state, zone, lifecycle, type, node name and tags, with wildcards', () => {
    const p = provider();
    expect(ids(describeInstances(p, {}))).toEqual(['1', '2', '3']);
    expect(ids(describeInstances(p, { filters: [{ name: 'instance-state-name', values: ['running'] }] }))).toEqual(['1', '2']);
    expect(ids(describeInstances(p, { filters: [{ name: 'availability-zone', values: ['us-east-1b'] }, { name: 'instance-type', values: ['c5.*'] }] }))).toEqual(['3']);
    expect(ids(describeInstances(p, { filters: [{ name: 'instance-lifecycle', values: ['spot'] }] }))).toEqual(['2', '3']);
    expect(ids(describeInstances(p, { filters: [{ name: 'private-dns-name', values: ['node-?1'] }] }))).toEqual(['1']);
    expect(ids(describeInstances(p, { filters: [{ name: 'tag:role', values: ['web'] }] }))).toEqual(['1']);
    expect(ids(describeInstances(p, { filters: [{ name: 'tag-key', values: ['role'] }] }))).toEqual(['1']);
    expect(ids(describeInstances(p, { filters: [{ name: 'bogus', values: ['x'] }] }))).toBe('InvalidParameterValue');
  });

  it('answers InvalidInstanceID.NotFound / .Malformed for unknown or malformed ids', () => {
    const p = provider();
    expect(ids(describeInstances(p, { instanceIds: ['i-00000000000000002'] }))).toEqual(['2']);
    const missing = describeInstances(p, { instanceIds: ['i-0000000000000000f', 'i-0000000000000000e'] });
    expect(missing).toMatchObject({ ok: false, code: 'InvalidInstanceID.NotFound', message: "The instance IDs 'i-0000000000000000f, i-0000000000000000e' do not exist" });
    expect(describeInstances(p, { instanceIds: ['node-a1'] })).toMatchObject({ ok: false, code: 'InvalidInstanceID.Malformed' });
  });

  it('terminates running instances through the provider, leaves terminated ones, and terminates nothing on a bad id', () => {
    const p = provider();
    expect(terminateInstances(p, ['i-00000000000000001', 'i-00000000000000003'])).toEqual({
      ok: true,
      changes: [
        { instanceId: 'i-00000000000000001', previous: 'running', current: 'shutting-down' },
        { instanceId: 'i-00000000000000003', previous: 'terminated', current: 'terminated' },
      ],
    });
    expect(p.terminated).toEqual(['i-00000000000000001']);
    expect(terminateInstances(p, ['i-00000000000000002', 'i-0000000000000000f'])).toMatchObject({ ok: false, code: 'InvalidInstanceID.NotFound' });
    expect(p.terminated).toEqual(['i-00000000000000001']);
  });
});

/** A provider that records launches and answers them with a pending instance. */
function launcher(): Ec2Provider & { launched: RunInstanceRequest[] } {
  const launched: RunInstanceRequest[] = [];
  return {
    launched,
    region: 'us-east-1',
    instances: () => [],
    terminate: () => {},
    launch(request) {
      launched.push(request);
      return { instanceId: 'i-0000000000000000a', nodeName: 'default-ab1cd', zone: request.zone, instanceType: request.instanceType, lifecycle: request.lifecycle, state: 'pending', launchTime: new Date(0), tags: request.tags };
    },
  };
}

const spotRequest: RunInstancesParams = {
  instanceType: 'm5.large',
  zone: 'us-east-1b',
  marketType: 'spot',
  minCount: '1',
  maxCount: '1',
  tagSpecifications: [{ resourceType: 'instance', tags: [{ key: 'karpenter.sh/nodepool', value: 'default' }] }],
};

describe('EC2 model: RunInstances', () => {
  it('launches one instance: spot with InstanceMarketOptions, on-demand without, tags from the instance TagSpecification', () => {
    const p = launcher();
    expect(runInstances(p, { ...spotRequest, clientToken: 'tok' })).toMatchObject({ ok: true, instance: { state: 'pending', lifecycle: 'spot' } });
    expect(runInstances(p, { ...spotRequest, marketType: undefined, tagSpecifications: [] })).toMatchObject({ ok: true, instance: { lifecycle: 'on-demand', tags: {} } });
    expect(p.launched).toEqual([
      { instanceType: 'm5.large', zone: 'us-east-1b', lifecycle: 'spot', tags: { 'karpenter.sh/nodepool': 'default' }, clientToken: 'tok' },
      { instanceType: 'm5.large', zone: 'us-east-1b', lifecycle: 'on-demand', tags: {} },
    ]);
  });

  it('refuses what the subset does not serve with EC2 error codes that say what was expected and what came', () => {
    const p = launcher();
    const refused = (params: Partial<RunInstancesParams>) => runInstances(p, { ...spotRequest, ...params });
    expect(refused({ minCount: '2', maxCount: '2' })).toEqual({ ok: false, code: 'InvalidParameterValue', message: 'The twin launches one instance per request: expected MinCount=1 and MaxCount=1, got MinCount=2 and MaxCount=2' });
    expect(refused({ maxCount: undefined })).toEqual({ ok: false, code: 'MissingParameter', message: 'The request must contain the parameter MaxCount' });
    expect(refused({ zone: undefined })).toMatchObject({ code: 'MissingParameter', message: 'The request must contain the parameter Placement.AvailabilityZone' });
    expect(refused({ zone: 'eu-west-1a' })).toMatchObject({ code: 'InvalidParameterValue', message: 'Invalid availability zone: [eu-west-1a]: expected a zone of us-east-1 (us-east-1a, us-east-1b, ...)' });
    expect(refused({ marketType: 'capacity-block' })).toMatchObject({ code: 'InvalidParameterValue' });
    expect(refused({ tagSpecifications: [{ resourceType: 'volume', tags: [] }] })).toMatchObject({ code: 'InvalidParameterValue', message: "TagSpecification.1.ResourceType: the twin tags instances only, expected instance, got 'volume'" });
    expect(refused({ tagSpecifications: [{ resourceType: 'instance', tags: [{ key: 'karpenter.sh/nodepool', value: 'a' }, { key: 'eks:nodegroup-name', value: 'b' }] }] })).toMatchObject({ code: 'InvalidParameterCombination' });
    expect(p.launched).toEqual([]);
    const { launch: _, ...without } = launcher();
    expect(runInstances(without, spotRequest)).toMatchObject({ ok: false, code: 'Unsupported' });
  });

  it('reads the Query parameters as the aws CLI sends them and refuses any other with UnknownParameter', () => {
    const p = launcher();
    const cli = new Map(
      Object.entries({
        Action: 'RunInstances',
        Version: '2016-11-15',
        InstanceType: 'm5.large',
        'Placement.AvailabilityZone': 'us-east-1b',
        'TagSpecification.1.ResourceType': 'instance',
        'TagSpecification.1.Tag.1.Key': 'eks:nodegroup-name',
        'TagSpecification.1.Tag.1.Value': 'ng-spot',
        'TagSpecification.1.Tag.2.Key': 'team',
        'TagSpecification.1.Tag.2.Value': 'web',
        'InstanceMarketOptions.MarketType': 'spot',
        MinCount: '1',
        MaxCount: '1',
        ClientToken: '6ab1cc5e-fc4a-4a02-a4c1-62b5c85245d1',
      }),
    );
    const ok = handleEc2(p, cli, 'req-1');
    expect(ok.status).toBe(200);
    expect(ok.body).toContain('<RunInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">');
    expect(ok.body).toContain('<instancesSet><item><instanceId>i-0000000000000000a</instanceId>');
    expect(ok.body).toContain('<instanceState><code>0</code><name>pending</name></instanceState>');
    expect(p.launched[0]).toEqual({ instanceType: 'm5.large', zone: 'us-east-1b', lifecycle: 'spot', tags: { 'eks:nodegroup-name': 'ng-spot', team: 'web' }, clientToken: '6ab1cc5e-fc4a-4a02-a4c1-62b5c85245d1' });
    const withImage = handleEc2(p, new Map([...cli, ['ImageId', 'ami-0123456789abcdef0']]), 'req-2');
    expect(withImage.status).toBe(400);
    expect(withImage.body).toContain('<Code>UnknownParameter</Code>');
    expect(withImage.body).toContain('The parameter ImageId is not recognized');
    expect(p.launched).toHaveLength(1);
  });
});
