/** Elbv2Port over the AWS SDK v3 (default credential chain; endpoint override when configured). */
import {
  DescribeLoadBalancerAttributesCommand,
  DescribeLoadBalancersCommand,
  DescribeTagsCommand,
  DescribeTargetGroupsCommand,
  DescribeTargetGroupAttributesCommand,
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
  ModifyTargetGroupAttributesCommand,
  paginateDescribeListeners,
  paginateDescribeRules,
  paginateDescribeTargetGroups,
  type Action,
  type RuleCondition,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { awsErrorText, withApiErrors } from '../api-errors.ts';
import { ApiError } from '../../core/errors.ts';
import type { Elbv2Port, ListenerInfo, ListenerRule, RuleAction, TargetHealthRow } from '../ports.ts';

/** Where and how to reach ELBv2. */
export interface AwsClientOptions {
  region: string;
  /** Endpoint override (the twin, or a VPC endpoint); else the SDK's default resolution. */
  endpoint?: string;
  /** Explicit credentials (the twin's dummies); else the default credential chain. */
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

/** An SDK action, reduced to where it sends a request. */
function actionOf(a: Action): RuleAction {
  const groups = a.ForwardConfig?.TargetGroups?.length
    ? a.ForwardConfig.TargetGroups.map((t) => ({ arn: t.TargetGroupArn ?? '', ...(t.Weight !== undefined ? { weight: t.Weight } : {}) }))
    : a.TargetGroupArn
      ? [{ arn: a.TargetGroupArn }]
      : undefined;
  return {
    type: a.Type ?? 'unknown',
    ...(a.Order !== undefined ? { order: a.Order } : {}),
    ...(groups ? { targetGroups: groups } : {}),
    ...(a.RedirectConfig?.StatusCode ? { redirectStatus: a.RedirectConfig.StatusCode } : {}),
    ...(a.FixedResponseConfig?.StatusCode ? { fixedStatus: a.FixedResponseConfig.StatusCode } : {}),
  };
}

/** A condition's values: its Config's, else the legacy `Values` (set only with a single-value condition). */
function valuesOf(conditions: RuleCondition[], field: string, config: (c: RuleCondition) => string[] | undefined): string[] {
  return conditions.filter((c) => c.Field === field).flatMap((c) => config(c) ?? c.Values ?? []);
}

/** An http-request-method condition that GET (the harness's only method) meets. */
function sendsGet(c: RuleCondition): boolean {
  return c.Field === 'http-request-method' && (c.HttpRequestMethodConfig?.Values ?? []).includes('GET');
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
    async targetGroupTags(targetGroupArn) {
      const out = await client.send(new DescribeTagsCommand({ ResourceArns: [targetGroupArn] }));
      return Object.fromEntries((out.TagDescriptions?.[0]?.Tags ?? []).map((t) => [t.Key ?? '', t.Value ?? '']));
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
    async describeLoadBalancers(loadBalancerArns) {
      if (!loadBalancerArns.length) return [];
      const out = await client.send(new DescribeLoadBalancersCommand({ LoadBalancerArns: loadBalancerArns }));
      return (out.LoadBalancers ?? []).map((lb) => ({ arn: lb.LoadBalancerArn ?? '', name: lb.LoadBalancerName ?? '', dnsName: lb.DNSName ?? '' }));
    },
    async describeListeners(loadBalancerArn): Promise<ListenerInfo[]> {
      const listeners: ListenerInfo[] = [];
      for await (const page of paginateDescribeListeners({ client }, { LoadBalancerArn: loadBalancerArn })) {
        for (const l of page.Listeners ?? []) {
          listeners.push({ arn: l.ListenerArn ?? '', loadBalancerArn: l.LoadBalancerArn ?? loadBalancerArn, port: l.Port ?? 0, protocol: l.Protocol ?? 'HTTP', defaultActions: (l.DefaultActions ?? []).map(actionOf) });
        }
      }
      return listeners;
    },
    async describeRules(listenerArn): Promise<ListenerRule[]> {
      const rules: ListenerRule[] = [];
      for await (const page of paginateDescribeRules({ client }, { ListenerArn: listenerArn })) {
        for (const r of page.Rules ?? []) {
          const conditions = r.Conditions ?? [];
          rules.push({
            arn: r.RuleArn ?? '',
            priority: r.Priority ?? '',
            isDefault: r.IsDefault ?? r.Priority === 'default',
            hosts: valuesOf(conditions, 'host-header', (c) => c.HostHeaderConfig?.Values),
            paths: valuesOf(conditions, 'path-pattern', (c) => c.PathPatternConfig?.Values),
            otherConditions: conditions.filter((c) => !['host-header', 'path-pattern'].includes(c.Field ?? '') && !sendsGet(c)).map((c) => c.Field ?? 'unknown'),
            actions: (r.Actions ?? []).map(actionOf),
          });
        }
      }
      return rules;
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
