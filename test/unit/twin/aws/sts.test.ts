/** The twin's STS GetCallerIdentity and EC2 DryRun, as AWS answers them. */
import { describe, expect, it } from 'vitest';
import { DRY_RUN_MESSAGE, handleEc2 } from '../../../../harness/twin/aws/ec2-api.ts';
import type { Ec2Provider } from '../../../../harness/twin/aws/ec2.ts';
import { parseQuery } from '../../../../harness/twin/aws/query.ts';
import { accessKeyOf, handleSts } from '../../../../harness/twin/aws/sts.ts';

describe('STS GetCallerIdentity', () => {
  it('names the caller after the access key of the signature, in the twin account', () => {
    const key = accessKeyOf('AWS4-HMAC-SHA256 Credential=nightly/20261203/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=abc');
    expect(key).toBe('nightly');
    const r = handleSts(parseQuery('Action=GetCallerIdentity&Version=2011-06-15'), 'req-1', key);
    expect(r.status).toBe(200);
    expect(r.body).toContain('<GetCallerIdentityResult><Arn>arn:aws:iam::123456789012:user/nightly</Arn><UserId>nightly</UserId><Account>123456789012</Account></GetCallerIdentityResult>');
    expect(r.body).toContain('<RequestId>req-1</RequestId>');
  });

  it('refuses an unsigned request and any other action', () => {
    expect(handleSts(parseQuery('Action=GetCallerIdentity&Version=2011-06-15'), 'r', undefined)).toMatchObject({ status: 403, body: expect.stringContaining('<Code>MissingAuthenticationToken</Code>') });
    expect(handleSts(parseQuery('Action=AssumeRole&Version=2011-06-15'), 'r', 'k')).toMatchObject({ status: 400, body: expect.stringContaining('<Code>InvalidAction</Code>') });
  });
});

describe('EC2 TerminateInstances with DryRun', () => {
  const terminated: string[] = [];
  const ec2: Ec2Provider = {
    instances: () => [{ instanceId: 'i-00000000000000001', nodeName: 'node-a1', zone: 'us-east-1a', instanceType: 'm5.large', lifecycle: 'spot', state: 'running', launchTime: new Date(0) }],
    terminate: (id) => void terminated.push(id),
  };

  it('answers DryRunOperation (412) and terminates nothing', () => {
    const r = handleEc2(ec2, parseQuery('Action=TerminateInstances&Version=2016-11-15&InstanceId.1=i-00000000000000001&DryRun=true'), 'r');
    expect(r.status).toBe(412);
    expect(r.body).toContain(`<Code>DryRunOperation</Code><Message>${DRY_RUN_MESSAGE}</Message>`);
    expect(terminated).toEqual([]);
  });

  it('checks the ids first, as the real call does', () => {
    const r = handleEc2(ec2, parseQuery('Action=TerminateInstances&Version=2016-11-15&InstanceId.1=i-0000000000000000f&DryRun=true'), 'r');
    expect(r.body).toContain('<Code>InvalidInstanceID.NotFound</Code>');
    expect(terminated).toEqual([]);
  });
});
