/** Ec2Port over the AWS SDK v3. */
import { DescribeInstancesCommand, EC2Client, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import type { AwsClientOptions } from '../elbv2/adapter.ts';
import { awsErrorText, withApiErrors } from '../api-errors.ts';
import type { Ec2Port } from '../ports.ts';

/** Builds the EC2 adapter. */
export function createEc2Adapter(options: AwsClientOptions): Ec2Port {
  const client = new EC2Client({ region: options.region, endpoint: options.endpoint, credentials: options.credentials, maxAttempts: 5 });
  const port: Ec2Port = {
    async describeInstance(instanceId) {
      try {
        const out = await client.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
        const i = out.Reservations?.[0]?.Instances?.[0];
        if (!i) return undefined;
        return {
          instanceId,
          state: i.State?.Name ?? 'unknown',
          lifecycle: i.InstanceLifecycle === 'spot' ? 'spot' : 'on-demand',
          zone: i.Placement?.AvailabilityZone,
        };
      } catch (error) {
        if ((error as Error).name === 'InvalidInstanceID.NotFound') return undefined;
        throw error;
      }
    },
    async terminateInstance(instanceId) {
      await client.send(new TerminateInstancesCommand({ InstanceIds: [instanceId] }));
    },
  };
  return withApiErrors('EC2', options.endpoint, port, awsErrorText);
}
