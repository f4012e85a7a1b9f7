/**
 * CapacityPort on an EC2 API: RunInstances of one instance like the interrupted one (its type, zone
 * and market), tagged as the handler's node would be — `karpenter.sh/nodepool` for Karpenter,
 * `eks:nodegroup-name` for a managed node group — so that the node joins with that handler's
 * labels. This is how the twin's EC2 API adds a node; a real cluster's handler adds one its own way
 * (harness/platform/kubernetes/capacity.ts).
 */
import { DescribeInstancesCommand, EC2Client, RunInstancesCommand, type Instance } from '@aws-sdk/client-ec2';
import { ApiError } from '../../core/errors.ts';
import { awsErrorText, withApiErrors } from '../api-errors.ts';
import type { AwsClientOptions } from '../elbv2/adapter.ts';
import type { CapacityPort, KubernetesPort } from '../ports.ts';

/** The tag (and node label) that names a replacement's group, per handler. */
export const GROUP_TAG = { karpenter: { tag: 'karpenter.sh/nodepool', label: 'karpenter.sh/nodepool' }, 'managed-nodegroup': { tag: 'eks:nodegroup-name', label: 'eks.amazonaws.com/nodegroup' } } as const;

/** The group `like` belongs to: its instance's tag, else its Node's label. */
async function groupOf(instance: Instance, k8s: KubernetesPort, nodeName: string, handler: keyof typeof GROUP_TAG): Promise<string> {
  const { tag, label } = GROUP_TAG[handler];
  const tagged = instance.Tags?.find((t) => t.Key === tag)?.Value;
  if (tagged) return tagged;
  const labelled = (await k8s.getNode(nodeName)).metadata?.labels?.[label];
  if (labelled) return labelled;
  throw new ApiError(`RunInstances like ${nodeName}: expected the instance tag ${tag} or the node label ${label} (the ${handler} group its replacement joins), got neither`);
}

/** Builds the EC2 capacity adapter (the twin's EC2 endpoint; its RunInstances subset). */
export function createEc2CapacityAdapter(options: AwsClientOptions, k8s: KubernetesPort): CapacityPort {
  const client = new EC2Client({ region: options.region, endpoint: options.endpoint, credentials: options.credentials, maxAttempts: 5 });
  const port: CapacityPort = {
    async launchReplacement(like, handler) {
      const out = await client.send(new DescribeInstancesCommand({ InstanceIds: [like.instanceId] }));
      const instance = out.Reservations?.[0]?.Instances?.[0];
      if (!instance) throw new ApiError(`RunInstances like ${like.nodeName}: expected DescribeInstances to find ${like.instanceId}, got no instance`);
      const group = await groupOf(instance, k8s, like.nodeName, handler);
      const run = await client.send(
        new RunInstancesCommand({
          MinCount: 1,
          MaxCount: 1,
          InstanceType: instance.InstanceType,
          Placement: instance.Placement?.AvailabilityZone ? { AvailabilityZone: instance.Placement.AvailabilityZone } : undefined,
          InstanceMarketOptions: instance.InstanceLifecycle === 'spot' ? { MarketType: 'spot' } : undefined,
          TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: GROUP_TAG[handler].tag, Value: group }] }],
        }),
      );
      const instanceId = run.Instances?.[0]?.InstanceId;
      if (!instanceId) throw new ApiError(`RunInstances like ${like.nodeName}: expected an instance id in the answer, got ${JSON.stringify(run.Instances ?? [])}`);
      return { instanceId };
    },
  };
  return withApiErrors('EC2', options.endpoint, port, awsErrorText);
}
