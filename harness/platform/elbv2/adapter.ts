/** Elbv2Port over the AWS SDK v3 (default credential chain; endpoint override when configured). */
import {
  DescribeListenersCommand,
  DescribeLoadBalancerAttributesCommand,
  DescribeLoadBalancersCommand,
  DescribeTagsCommand,
  DescribeTargetGroupsCommand,
  DescribeTargetGroupAttributesCommand,
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
  ModifyTargetGroupAttributesCommand,
  paginateDescribeTargetGroups,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { awsErrorText, withApiErrors } from '../api-errors.ts';
import { ApiError } from '../../core/errors.ts';
import type { Elbv2Port, TargetHealthRow } from '../ports.ts';

/** Where and how to reach ELBv2. */
export interface AwsClientOptions {
  region: string;
  /** Endpoint override (the twin, or a VPC endpoint); else the SDK's default resolution. */
  endpoint?: string;
  /** Explicit credentials (the twin's dummies); else the default credential chain. */
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

/** Builds the ELBv2 adapter. */
export function createElbv2Adapter(options: AwsClientOptions): Elbv2Port {
  const client = new ElasticLoadBalancingV2Client({ region: options.region, endpoint: options.endpoint, credentials: options.credentials, maxAttempts: 5 });
  const port: Elbv2Port = {
    async findTargetGroupByTags(tags) {
      const arns: string[] = [];
      for await (const page of paginateDescribeTargetGroups({ client }, {})) {
        for (const tg of page.TargetGroups ?? []) if (tg.TargetGroupArn) arns.push(tg.TargetGroupArn);
      }
      // DescribeTags takes at most 20 ARNs per call.
      for (let i = 0; i < arns.length; i += 20) {
        const out = await client.send(new DescribeTagsCommand({ ResourceArns: arns.slice(i, i + 20) }));
        for (const d of out.TagDescriptions ?? []) {
          const have = Object.fromEntries((d.Tags ?? []).map((t) => [t.Key, t.Value]));
          if (Object.entries(tags).every(([k, v]) => have[k] === v)) return d.ResourceArn;
        }
      }
      return undefined;
    },
    async describeTargetHealth(targetGroupArn): Promise<TargetHealthRow[]> {
      const out = await client.send(new DescribeTargetHealthCommand({ TargetGroupArn: targetGroupArn }));
      return (out.TargetHealthDescriptions ?? []).map((d) => ({
        id: d.Target?.Id ?? '',
        port: d.Target?.Port ?? 0,
        state: d.TargetHealth?.State ?? 'unknown',
        ...(d.TargetHealth?.Reason ? { reason: d.TargetHealth.Reason } : {}),
      }));
    },
    async getAttributes(targetGroupArn) {
      const out = await client.send(new DescribeTargetGroupAttributesCommand({ TargetGroupArn: targetGroupArn }));
      return Object.fromEntries((out.Attributes ?? []).map((a) => [a.Key ?? '', a.Value ?? '']));
    },
    async getHealthCheck(targetGroupArn) {
      const tg = (await client.send(new DescribeTargetGroupsCommand({ TargetGroupArns: [targetGroupArn] }))).TargetGroups?.[0];
      if (!tg) throw new ApiError(`ELBv2 DescribeTargetGroups: expected the target group ${targetGroupArn}, got none`);
      return {
        intervalSeconds: tg.HealthCheckIntervalSeconds ?? 0,
        timeoutSeconds: tg.HealthCheckTimeoutSeconds ?? 0,
        healthyThresholdCount: tg.HealthyThresholdCount ?? 0,
        unhealthyThresholdCount: tg.UnhealthyThresholdCount ?? 0,
        path: tg.HealthCheckPath ?? '',
      };
    },
    async modifyAttributes(targetGroupArn, attributes) {
      const out = await client.send(
        new ModifyTargetGroupAttributesCommand({ TargetGroupArn: targetGroupArn, Attributes: Object.entries(attributes).map(([Key, Value]) => ({ Key, Value })) }),
      );
      return Object.fromEntries((out.Attributes ?? []).map((a) => [a.Key ?? '', a.Value ?? '']));
    },
    async listenerOf(targetGroupArn) {
      const tg = (await client.send(new DescribeTargetGroupsCommand({ TargetGroupArns: [targetGroupArn] }))).TargetGroups?.[0];
      for (const lbArn of tg?.LoadBalancerArns ?? []) {
        const lb = (await client.send(new DescribeLoadBalancersCommand({ LoadBalancerArns: [lbArn] }))).LoadBalancers?.[0];
        const listeners = (await client.send(new DescribeListenersCommand({ LoadBalancerArn: lbArn }))).Listeners ?? [];
        const forwards = (l: (typeof listeners)[number]) =>
          (l.DefaultActions ?? []).some((a) => a.TargetGroupArn === targetGroupArn || (a.ForwardConfig?.TargetGroups ?? []).some((t) => t.TargetGroupArn === targetGroupArn));
        // Plain HTTP first: the harness's own traffic needs no certificate for the ALB's DNS name.
        const ranked = [...listeners.filter(forwards)].sort((a, b) => (a.Protocol === 'HTTP' ? 0 : 1) - (b.Protocol === 'HTTP' ? 0 : 1));
        const l = ranked[0];
        if (lb?.DNSName && l?.Port) return { loadBalancerName: lb.LoadBalancerName ?? lbArn, dnsName: lb.DNSName, port: l.Port, protocol: l.Protocol ?? 'HTTP' };
      }
      return undefined;
    },
    async loadBalancersOf(targetGroupArn) {
      const tg = (await client.send(new DescribeTargetGroupsCommand({ TargetGroupArns: [targetGroupArn] }))).TargetGroups?.[0];
      return tg?.LoadBalancerArns ?? [];
    },
    async describeLoadBalancerAttributes(loadBalancerArn) {
      const out = await client.send(new DescribeLoadBalancerAttributesCommand({ LoadBalancerArn: loadBalancerArn }));
      return Object.fromEntries((out.Attributes ?? []).map((a) => [a.Key ?? '', a.Value ?? '']));
    },
  };
  return withApiErrors('ELBv2', options.endpoint, port, awsErrorText);
}
