/** IRSA on the twin: AWS env only for pods whose ServiceAccount names an IAM role. */
import { describe, expect, it } from 'vitest';
import { podAwsEnv } from '../../../harness/twin/twin.ts';

const endpoints = { awsApiUrl: 'http://127.0.0.1:4566', region: 'eu-west-1', caFile: '/state/ca.crt' };
const account = (annotations?: Record<string, string>) => ({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'sa', namespace: 'ns', ...(annotations ? { annotations } : {}) } });

describe('podAwsEnv', () => {
  it("gives a role's pods the role, the twin's endpoints, region and credentials", () => {
    expect(podAwsEnv(account({ 'eks.amazonaws.com/role-arn': 'arn:aws:iam::111122223333:role/r' }), endpoints)).toEqual({
      AWS_ENDPOINT_URL: 'http://127.0.0.1:4566',
      AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2: 'http://127.0.0.1:4566',
      AWS_ENDPOINT_URL_EC2: 'http://127.0.0.1:4566',
      AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:4566',
      AWS_ENDPOINT_URL_CLOUDWATCH: 'http://127.0.0.1:4566',
      AWS_REGION: 'eu-west-1',
      AWS_DEFAULT_REGION: 'eu-west-1',
      AWS_ACCESS_KEY_ID: 'twin',
      AWS_SECRET_ACCESS_KEY: 'twin',
      ROLLOUT_HARNESS_TWIN_CA: '/state/ca.crt',
      AWS_ROLE_ARN: 'arn:aws:iam::111122223333:role/r',
    });
  });

  it('gives nothing to a pod whose ServiceAccount names no role, or that has none', () => {
    expect(podAwsEnv(account(), endpoints)).toEqual({});
    expect(podAwsEnv(account({ other: 'x' }), endpoints)).toEqual({});
    expect(podAwsEnv(undefined, endpoints)).toEqual({});
  });
});
