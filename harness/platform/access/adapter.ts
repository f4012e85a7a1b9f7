/** AwsAccessPort over the AWS SDK v3: STS GetCallerIdentity, EC2 DryRun, S3 reads of one key. */
import { EC2Client, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import { HeadObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { awsErrorText, withApiErrors } from '../api-errors.ts';
import type { AwsClientOptions } from '../elbv2/adapter.ts';
import type { AwsAccessPort, DryRunOutcome } from '../ports.ts';

/** Where each service is reached (an endpoint override per service, else the SDK's resolution). */
export interface AccessClientOptions extends Omit<AwsClientOptions, 'endpoint'> {
  endpoints?: { sts?: string; ec2?: string; s3?: string };
}

/** Builds the access adapter. */
export function createAwsAccessAdapter(options: AccessClientOptions): AwsAccessPort {
  const common = { region: options.region, credentials: options.credentials, maxAttempts: 3 };
  const e = options.endpoints ?? {};
  const sts = new STSClient({ ...common, endpoint: e.sts });
  const ec2 = new EC2Client({ ...common, endpoint: e.ec2 });
  const s3 = new S3Client({ ...common, endpoint: e.s3, forcePathStyle: e.s3 !== undefined });
  const port: AwsAccessPort = {
    async callerIdentity() {
      const out = await sts.send(new GetCallerIdentityCommand({}));
      return { account: out.Account ?? '', arn: out.Arn ?? '', userId: out.UserId ?? '' };
    },
    async dryRunTerminate(instanceId): Promise<DryRunOutcome> {
      try {
        await ec2.send(new TerminateInstancesCommand({ InstanceIds: [instanceId], DryRun: true }));
      } catch (error) {
        const name = (error as Error).name;
        // EC2 checks the permission first and answers with an error either way.
        if (name === 'DryRunOperation') return { allowed: true };
        if (name === 'UnauthorizedOperation') return { allowed: false, code: name, message: (error as Error).message };
        throw error;
      }
      // A DryRun that succeeded would have terminated nothing, but EC2 never answers so: say what came.
      throw new Error(`Expected EC2 to answer a DryRun TerminateInstances of ${instanceId} with DryRunOperation or UnauthorizedOperation, got a success`);
    },
    async firstObject(bucket, prefix) {
      const out = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, MaxKeys: 1 }));
      return out.Contents?.[0]?.Key;
    },
    async headObject(bucket, key) {
      await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    },
  };
  return withApiErrors('AWS', undefined, port, awsErrorText);
}
