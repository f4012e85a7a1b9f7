/** The AWS access adapter against the twin's AWS API server: the identity, and TerminateInstances DryRun read as allowed. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scaledClock } from '../../../harness/core/clock.ts';
import { ApiError } from '../../../harness/core/errors.ts';
import { seededRandom } from '../../../harness/core/random.ts';
import { createAwsAccessAdapter } from '../../../harness/platform/access/adapter.ts';
import type { AwsAccessPort } from '../../../harness/platform/ports.ts';
import { createAlbTwin, type AlbTwin } from '../../../harness/twin/alb/twin.ts';
import { ec2Error } from '../../../harness/twin/aws/ec2-api.ts';
import { startAwsApiServer, type AwsApiServer } from '../../../harness/twin/aws/server.ts';
import { parseTwinConfig } from '../../../harness/twin/config.ts';
import { Network } from '../../../harness/twin/network.ts';
import { memoryEc2 } from '../../helpers/aws-api-fixture.ts';

let alb: AlbTwin;
let api: AwsApiServer;
let access: AwsAccessPort;
const ec2 = memoryEc2([{ instanceId: 'i-0a1b2c3d4e5f60002', nodeName: 'node-b2', zone: 'us-east-1b', instanceType: 'm5.large', lifecycle: 'spot', state: 'running', launchTime: new Date(0) }]);

beforeAll(async () => {
  alb = createAlbTwin({ clock: scaledClock(0.01), random: seededRandom(7), config: parseTwinConfig({}).alb, region: 'us-east-1', network: new Network() });
  api = await startAwsApiServer({ alb, ec2, region: 'us-east-1' });
  access = createAwsAccessAdapter({ region: 'us-east-1', credentials: { accessKeyId: 'nightly', secretAccessKey: 'x' }, endpoints: { sts: api.url, ec2: api.url, s3: api.url } });
});
afterAll(async () => {
  await api?.close();
  await alb?.close();
});

describe('createAwsAccessAdapter', () => {
  it('reads the identity with STS GetCallerIdentity', async () => {
    expect(await access.callerIdentity()).toEqual({ account: '123456789012', arn: 'arn:aws:iam::123456789012:user/nightly', userId: 'nightly' });
  });

  it('reads DryRunOperation as allowed, and terminates nothing', async () => {
    expect(await access.dryRunTerminate('i-0a1b2c3d4e5f60002')).toEqual({ allowed: true });
    expect(ec2.terminated).toEqual([]);
  });

  it('passes on an answer that is neither allowed nor unauthorized, with the call named', async () => {
    const error = await access.dryRunTerminate('i-0000000000000000f').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as Error).message).toMatch(/^AWS dryRunTerminate\(i-0000000000000000f\): expected an answer, got 400 InvalidInstanceID.NotFound/);
  });
});

describe('an identity without ec2:TerminateInstances', () => {
  it('reads UnauthorizedOperation as not allowed, with EC2\'s message', async () => {
    // EC2's answer to a DryRun the caller may not make (the twin has no IAM, so a stand-in answers it).
    const message = 'You are not authorized to perform this operation. User: arn:aws:sts::123456789012:assumed-role/restricted/nightly is not authorized to perform: ec2:TerminateInstances';
    const server = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(403, { 'content-type': 'text/xml' }).end(ec2Error('UnauthorizedOperation', message, 'req-1', 403).body));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const denied = createAwsAccessAdapter({ region: 'us-east-1', credentials: { accessKeyId: 'restricted', secretAccessKey: 'x' }, endpoints: { ec2: url } });
      expect(await denied.dryRunTerminate('i-0a1b2c3d4e5f60002')).toEqual({ allowed: false, code: 'UnauthorizedOperation', message });
    } finally {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    }
  });
});
