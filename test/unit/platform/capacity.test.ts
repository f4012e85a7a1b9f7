/**
 * The CapacityPort adapters. On an EC2 API (the twin's): RunInstances of one instance like the
 * interrupted one, with the parameters the twin's RunInstances subset reads (type, zone, spot
 * market, the handler's group tag), against a loopback EC2 Query stand-in that records each request.
 * Against a cluster: a Karpenter NodeClaim cloned from the node's, and a managed node group refused
 * with an error that says what is unsupported.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scaledClock } from '../../../harness/core/clock.ts';
import { EnvironmentError } from '../../../harness/core/errors.ts';
import { createEc2CapacityAdapter } from '../../../harness/platform/ec2/capacity.ts';
import { createClusterCapacityAdapter, replacementNodeClaim } from '../../../harness/platform/kubernetes/capacity.ts';
import type { KubernetesPort } from '../../../harness/platform/ports.ts';

/** The instances the stand-in describes, by id. */
const INSTANCES: Record<string, { type: string; zone: string; spot: boolean; tags: Record<string, string> }> = {
  'i-0b2': { type: 'm5.large', zone: 'us-east-1b', spot: true, tags: { 'karpenter.sh/nodepool': 'spot-pool' } },
  'i-0a1': { type: 'c5.xlarge', zone: 'us-east-1a', spot: false, tags: {} },
};

let server: http.Server;
let endpoint: string;
const runs: Array<Record<string, string>> = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const params = Object.fromEntries(new URLSearchParams(body));
      res.setHeader('content-type', 'text/xml');
      if (params.Action === 'DescribeInstances') {
        const i = INSTANCES[params['InstanceId.1']];
        const tags = Object.entries(i?.tags ?? {}).map(([k, v]) => `<item><key>${k}</key><value>${v}</value></item>`).join('');
        const item = i
          ? `<item><reservationId>r-1</reservationId><instancesSet><item><instanceId>${params['InstanceId.1']}</instanceId><instanceType>${i.type}</instanceType><placement><availabilityZone>${i.zone}</availabilityZone></placement>${i.spot ? '<instanceLifecycle>spot</instanceLifecycle>' : ''}<instanceState><code>16</code><name>running</name></instanceState><tagSet>${tags}</tagSet></item></instancesSet></item>`
          : '';
        res.end(`<DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>1</requestId><reservationSet>${item}</reservationSet></DescribeInstancesResponse>`);
      } else if (params.Action === 'RunInstances') {
        runs.push(params);
        res.end(`<RunInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>2</requestId><reservationId>r-2</reservationId><instancesSet><item><instanceId>i-0f${runs.length}</instanceId></item></instancesSet></RunInstancesResponse>`);
      } else {
        res.statusCode = 400;
        res.end(`<Response><Errors><Error><Code>InvalidAction</Code><Message>${params.Action}</Message></Error></Errors><RequestID>3</RequestID></Response>`);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

/** A Kubernetes port that knows only the nodes' labels. */
const k8sWith = (labels: Record<string, Record<string, string>>) => ({ getNode: async (name: string) => ({ metadata: { name, labels: labels[name] ?? {} } }) }) as unknown as KubernetesPort;
const options = () => ({ region: 'us-east-1', endpoint, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });

describe('EC2 capacity (RunInstances)', () => {
  it('launches a spot instance like the Karpenter node: its type and zone, the spot market, the node pool tag', async () => {
    runs.length = 0;
    const capacity = createEc2CapacityAdapter(options(), k8sWith({}));
    expect(await capacity.launchReplacement({ nodeName: 'node-b2', instanceId: 'i-0b2' }, 'karpenter')).toEqual({ instanceId: 'i-0f1' });
    // The SDK adds Version and an idempotency ClientToken of its own: the twin must accept (and may ignore) them.
    const { Version: version, ClientToken: token, ...sent } = runs[0];
    expect([version, typeof token]).toEqual(['2016-11-15', 'string']);
    expect(sent).toEqual({
      Action: 'RunInstances',
      MinCount: '1',
      MaxCount: '1',
      InstanceType: 'm5.large',
      'Placement.AvailabilityZone': 'us-east-1b',
      'InstanceMarketOptions.MarketType': 'spot',
      'TagSpecification.1.ResourceType': 'instance',
      'TagSpecification.1.Tag.1.Key': 'karpenter.sh/nodepool',
      'TagSpecification.1.Tag.1.Value': 'spot-pool',
    });
  });

  it('launches an on-demand instance into the managed node group its node is labelled with (no market options)', async () => {
    runs.length = 0;
    const capacity = createEc2CapacityAdapter(options(), k8sWith({ 'node-a1': { 'eks.amazonaws.com/nodegroup': 'ng-general' } }));
    await capacity.launchReplacement({ nodeName: 'node-a1', instanceId: 'i-0a1' }, 'managed-nodegroup');
    expect(runs[0]['InstanceMarketOptions.MarketType']).toBeUndefined();
    expect([runs[0].InstanceType, runs[0]['TagSpecification.1.Tag.1.Key'], runs[0]['TagSpecification.1.Tag.1.Value']]).toEqual(['c5.xlarge', 'eks:nodegroup-name', 'ng-general']);
  });

  it('refuses a node of no group of the handler, naming the tag and the label it looked for', async () => {
    const capacity = createEc2CapacityAdapter(options(), k8sWith({}));
    await expect(capacity.launchReplacement({ nodeName: 'node-a1', instanceId: 'i-0a1' }, 'karpenter')).rejects.toThrow(
      'RunInstances like node-a1: expected the instance tag karpenter.sh/nodepool or the node label karpenter.sh/nodepool (the karpenter group its replacement joins), got neither',
    );
  });
});

describe('cluster capacity', () => {
  it('clones the node\'s NodeClaim spec under its NodePool, Karpenter\'s way of naming', () => {
    const claim = { metadata: { name: 'spot-pool-x7k2q', labels: { 'karpenter.sh/nodepool': 'spot-pool', 'karpenter.sh/capacity-type': 'spot' } }, spec: { nodeClassRef: { group: 'karpenter.k8s.aws', kind: 'EC2NodeClass', name: 'default' }, requirements: [{ key: 'karpenter.sh/capacity-type', operator: 'In', values: ['spot'] }] }, status: { nodeName: 'node-b2' } };
    expect(replacementNodeClaim(claim)).toEqual({ apiVersion: 'karpenter.sh/v1', kind: 'NodeClaim', metadata: { labels: { 'karpenter.sh/nodepool': 'spot-pool' }, generateName: 'spot-pool-' }, spec: claim.spec });
  });

  it('refuses a managed node group replacement with an environment error that says what is unsupported, before any call', async () => {
    const kc = new KubeConfig();
    // Never contacted: the refusal comes first.
    kc.loadFromOptions({ clusters: [{ name: 'c', server: 'https://127.0.0.1:1' }], users: [{ name: 'u' }], contexts: [{ name: 'x', cluster: 'c', user: 'u' }], currentContext: 'x' });
    const failed = createClusterCapacityAdapter(kc, scaledClock(1)).launchReplacement({ nodeName: 'node-a1', instanceId: 'i-0a1' }, 'managed-nodegroup');
    await expect(failed).rejects.toBeInstanceOf(EnvironmentError);
    await expect(failed).rejects.toThrow(/unsupported against a cluster \(capacity rebalancing and node group updates scale the node group's Auto Scaling group/);
  });
});
