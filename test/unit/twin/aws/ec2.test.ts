import { describe, expect, it } from 'vitest';
import { describeInstances, terminateInstances, type Ec2Instance, type Ec2Provider } from '../../../../harness/twin/aws/ec2.ts';

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
