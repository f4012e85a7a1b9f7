/**
 * The ELBv2 Query API subset (Version 2015-12-01) over the ALB twin's control plane, answering
 * in the real service's XML shapes (checked against the service documentation and moto).
 */
import { hashString } from '../../core/random.ts';
import { AlbError } from '../alb/errors.ts';
import type { AlbControlPlane, ListenerInfo, LoadBalancerInfo, RuleAction, RuleCondition, RuleInfo, TargetGroupInfo, TargetHealth, TargetRef } from '../alb/types.ts';
import { el, listParam, structListParam, text, type QueryParams, type QueryResponse } from './query.ts';

/** The ELBv2 API version the twin serves. */
export const ELBV2_VERSION = '2015-12-01';
const NS = `http://elasticloadbalancing.amazonaws.com/doc/${ELBV2_VERSION}/`;

/** Route 53 hosted-zone ids of ALBs, per region (the DNS name is never resolved). */
const HOSTED_ZONES: Record<string, string> = {
  'us-east-1': 'Z35SXDOTRQ7X7K',
  'us-east-2': 'Z3AADJGX6KTTL2',
  'us-west-2': 'Z1H1FL5HABSF5',
  'eu-west-1': 'Z32O12XQLNTSW2',
  'eu-central-1': 'Z215JYRZR1TBD5',
  'ap-northeast-1': 'Z14GRHDCWA56QT',
};

/** A subnet id per zone, stable across runs. */
function subnetId(zone: string): string {
  const h = hashString(zone).toString(16).padStart(8, '0') + hashString(`subnet:${zone}`).toString(16).padStart(8, '0');
  return `subnet-${h}0`;
}

function ok(action: string, result: string, requestId: string): QueryResponse {
  return {
    status: 200,
    body: `<${action}Response xmlns="${NS}">${el(`${action}Result`, result)}<ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></${action}Response>`,
  };
}

/** An ELBv2 error response (`<ErrorResponse><Error><Type>Sender</Type>…`). */
export function elbv2Error(code: string, message: string, requestId: string, status = 400): QueryResponse {
  return {
    status,
    body: `<ErrorResponse xmlns="${NS}"><Error><Type>Sender</Type>${text('Code', code)}${text('Message', message)}</Error>${text('RequestId', requestId)}</ErrorResponse>`,
  };
}

const tagsXml = (tags: Record<string, string>) =>
  el('Tags', ...Object.entries(tags).map(([k, v]) => el('member', text('Key', k), text('Value', v))));

function loadBalancerXml(lb: LoadBalancerInfo, region: string): string {
  return el(
    'member',
    text('LoadBalancerArn', lb.arn),
    text('DNSName', lb.dnsName),
    text('CanonicalHostedZoneId', HOSTED_ZONES[region] ?? HOSTED_ZONES['us-east-1']),
    text('CreatedTime', lb.createdAt.toISOString()),
    text('LoadBalancerName', lb.name),
    text('Scheme', lb.scheme),
    text('VpcId', lb.vpcId),
    el('State', text('Code', 'active')),
    text('Type', 'application'),
    el('AvailabilityZones', ...lb.zones.map((zone) => el('member', text('ZoneName', zone), text('SubnetId', subnetId(zone)), el('LoadBalancerAddresses')))),
    el('SecurityGroups'),
    text('IpAddressType', 'ipv4'),
  );
}

function targetGroupXml(tg: TargetGroupInfo): string {
  const hc = tg.healthCheck;
  return el(
    'member',
    text('TargetGroupArn', tg.arn),
    text('TargetGroupName', tg.name),
    text('Protocol', tg.protocol),
    text('Port', tg.port),
    text('VpcId', tg.vpcId),
    text('HealthCheckProtocol', 'HTTP'),
    text('HealthCheckPort', String(hc.port)),
    text('HealthCheckEnabled', true),
    text('HealthCheckIntervalSeconds', hc.intervalSeconds),
    text('HealthCheckTimeoutSeconds', hc.timeoutSeconds),
    text('HealthyThresholdCount', hc.healthyThreshold),
    text('UnhealthyThresholdCount', hc.unhealthyThreshold),
    text('HealthCheckPath', hc.path),
    el('Matcher', text('HttpCode', hc.matcher)),
    el('LoadBalancerArns', ...tg.loadBalancerArns.map((arn) => text('member', arn))),
    text('TargetType', tg.targetType),
    text('ProtocolVersion', 'HTTP1'),
    text('IpAddressType', 'ipv4'),
  );
}

function targetHealthXml(row: TargetHealth, healthCheckPort: string): string {
  return el(
    'member',
    el('Target', text('Id', row.target.id), text('Port', row.target.port), text('AvailabilityZone', row.availabilityZone)),
    text('HealthCheckPort', healthCheckPort),
    el('TargetHealth', text('State', row.state), text('Reason', row.reason), text('Description', row.description)),
  );
}

/** One Action (DescribeListeners' DefaultActions, DescribeRules' Actions); `order` as ELBv2 numbers them from 1. */
function actionXml(action: RuleAction, order: number): string {
  switch (action.type) {
    case 'forward':
      return el(
        'member',
        text('Type', 'forward'),
        text('TargetGroupArn', action.targetGroupArn),
        el(
          'ForwardConfig',
          el('TargetGroups', el('member', text('TargetGroupArn', action.targetGroupArn), text('Weight', 1))),
          el('TargetGroupStickinessConfig', text('Enabled', false)),
        ),
        text('Order', order),
      );
    case 'fixed-response':
      return el(
        'member',
        text('Type', 'fixed-response'),
        el('FixedResponseConfig', text('MessageBody', action.messageBody), text('StatusCode', action.statusCode), text('ContentType', action.contentType)),
        text('Order', order),
      );
    case 'redirect':
      return el(
        'member',
        text('Type', 'redirect'),
        el(
          'RedirectConfig',
          text('Protocol', action.protocol),
          text('Port', action.port),
          text('Host', action.host),
          text('Path', action.path),
          text('Query', action.query),
          text('StatusCode', action.statusCode),
        ),
        text('Order', order),
      );
  }
}

/** One RuleCondition: the legacy Values and the field's own config, as ELBv2 answers both. */
function conditionXml(condition: RuleCondition): string {
  const values = el('Values', ...condition.values.map((v) => text('member', v)));
  const config = condition.field === 'host-header' ? 'HostHeaderConfig' : 'PathPatternConfig';
  return el('member', text('Field', condition.field), values, el(config, el('Values', ...condition.values.map((v) => text('member', v)))));
}

function listenerXml(l: ListenerInfo): string {
  return el(
    'member',
    text('ListenerArn', l.arn),
    text('LoadBalancerArn', l.loadBalancerArn),
    text('Port', l.port),
    text('Protocol', l.protocol),
    ...(l.protocol === 'HTTPS' ? [el('Certificates', ...l.certificateArns.map((arn) => el('member', text('CertificateArn', arn)))), text('SslPolicy', 'ELBSecurityPolicy-2016-08')] : []),
    el('DefaultActions', ...l.defaultActions.map((a, i) => actionXml(a, i + 1))),
  );
}

function ruleXml(r: RuleInfo): string {
  return el(
    'member',
    text('RuleArn', r.arn),
    text('Priority', String(r.priority)),
    el('Conditions', ...r.conditions.map(conditionXml)),
    el('Actions', ...r.actions.map((a, i) => actionXml(a, i + 1))),
    text('IsDefault', r.isDefault),
  );
}

function attributesXml(attributes: Record<string, string>): string {
  return el('Attributes', ...Object.entries(attributes).map(([k, v]) => el('member', text('Key', k), text('Value', v))));
}

function required(params: QueryParams, name: string): string {
  const value = params.get(name);
  if (value === undefined || value === '') {
    throw new AlbError('ValidationError', `1 validation error detected: Value null at '${name.charAt(0).toLowerCase()}${name.slice(1)}' failed to satisfy constraint: Member must not be null`);
  }
  return value;
}

function targetsParam(params: QueryParams, defaultPort: number): Array<TargetRef & { availabilityZone?: string }> {
  return structListParam(params, 'Targets.member').map((t) => {
    if (!t.Id) throw new AlbError('ValidationError', `Expected every target to have an Id, got ${JSON.stringify(t)}`);
    const port = t.Port === undefined ? defaultPort : Number(t.Port);
    return { id: t.Id, port, ...(t.AvailabilityZone ? { availabilityZone: t.AvailabilityZone } : {}) };
  });
}

/** The ELBv2 actions the twin serves. */
export const ELBV2_ACTIONS = [
  'DescribeLoadBalancers',
  'DescribeListeners',
  'DescribeRules',
  'DescribeTargetGroups',
  'DescribeTargetHealth',
  'DescribeTargetGroupAttributes',
  'ModifyTargetGroupAttributes',
  'DescribeLoadBalancerAttributes',
  'ModifyLoadBalancerAttributes',
  'DescribeTags',
  'RegisterTargets',
  'DeregisterTargets',
] as const;

/** Answers one ELBv2 Query API request. */
export function handleElbv2(alb: AlbControlPlane, params: QueryParams, requestId: string, region: string): QueryResponse {
  const action = params.get('Action') ?? '';
  try {
    return dispatch(alb, action, params, requestId, region);
  } catch (err) {
    if (err instanceof AlbError) return elbv2Error(err.code, err.message, requestId);
    throw err;
  }
}

function dispatch(alb: AlbControlPlane, action: string, params: QueryParams, requestId: string, region: string): QueryResponse {
  switch (action) {
    case 'DescribeLoadBalancers': {
      const arns = listParam(params, 'LoadBalancerArns.member');
      const names = listParam(params, 'Names.member');
      let list = alb.describeLoadBalancers();
      const missing = [...arns.filter((a) => !list.some((lb) => lb.arn === a)), ...names.filter((n) => !list.some((lb) => lb.name === n))];
      if (missing.length) throw new AlbError('LoadBalancerNotFound', `One or more load balancers not found: ${missing.join(', ')}`);
      if (arns.length) list = list.filter((lb) => arns.includes(lb.arn));
      if (names.length) list = list.filter((lb) => names.includes(lb.name));
      return ok(action, el('LoadBalancers', ...list.map((lb) => loadBalancerXml(lb, region))), requestId);
    }
    case 'DescribeListeners': {
      const lbArn = params.get('LoadBalancerArn');
      const arns = listParam(params, 'ListenerArns.member');
      let list = alb.describeListeners(lbArn || undefined);
      if (arns.length) {
        const missing = arns.filter((a) => !list.some((l) => l.arn === a));
        if (missing.length) throw new AlbError('ListenerNotFound', `One or more listeners not found: ${missing.join(', ')}`);
        list = list.filter((l) => arns.includes(l.arn));
      }
      if (!lbArn && !arns.length) throw new AlbError('ValidationError', 'Expected a load balancer ARN or listener ARNs, got neither');
      return ok(action, el('Listeners', ...list.map(listenerXml)), requestId);
    }
    case 'DescribeRules': {
      const listenerArn = params.get('ListenerArn') || undefined;
      const ruleArns = listParam(params, 'RuleArns.member');
      const rules = alb.describeRules({ listenerArn, ruleArns });
      return ok(action, el('Rules', ...rules.map(ruleXml)), requestId);
    }
    case 'DescribeTargetGroups': {
      const list = alb.describeTargetGroups({
        arns: listParam(params, 'TargetGroupArns.member'),
        names: listParam(params, 'Names.member'),
        loadBalancerArn: params.get('LoadBalancerArn') || undefined,
      });
      return ok(action, el('TargetGroups', ...list.map(targetGroupXml)), requestId);
    }
    case 'DescribeTargetHealth': {
      const arn = required(params, 'TargetGroupArn');
      const [tg] = alb.describeTargetGroups({ arns: [arn] });
      const targets = targetsParam(params, tg.port);
      const rows = alb.describeTargetHealth(arn, targets.length ? targets : undefined);
      const hcPort = String(tg.healthCheck.port);
      return ok(action, el('TargetHealthDescriptions', ...rows.map((r) => targetHealthXml(r, hcPort))), requestId);
    }
    case 'DescribeTargetGroupAttributes':
      return ok(action, attributesXml(alb.getTargetGroupAttributes(required(params, 'TargetGroupArn'))), requestId);
    case 'ModifyTargetGroupAttributes': {
      const arn = required(params, 'TargetGroupArn');
      const changes = Object.fromEntries(structListParam(params, 'Attributes.member').map((a) => [a.Key ?? '', a.Value ?? '']));
      const all = alb.modifyTargetGroupAttributes(arn, changes);
      // ELBv2 answers with the attributes that were modified.
      return ok(action, attributesXml(Object.fromEntries(Object.keys(changes).map((k) => [k, all[k]]))), requestId);
    }
    case 'DescribeLoadBalancerAttributes':
      return ok(action, attributesXml(alb.describeLoadBalancerAttributes(required(params, 'LoadBalancerArn'))), requestId);
    case 'ModifyLoadBalancerAttributes': {
      const arn = required(params, 'LoadBalancerArn');
      const changes = Object.fromEntries(structListParam(params, 'Attributes.member').map((a) => [a.Key ?? '', a.Value ?? '']));
      if (!Object.keys(changes).length) throw new AlbError('ValidationError', "Expected at least one attribute in 'Attributes', got none");
      // ELBv2 answers with every attribute of the load balancer after the change.
      return ok(action, attributesXml(alb.modifyLoadBalancerAttributes(arn, changes)), requestId);
    }
    case 'DescribeTags': {
      const rows = alb.describeTags(listParam(params, 'ResourceArns.member'));
      return ok(action, el('TagDescriptions', ...rows.map((r) => el('member', text('ResourceArn', r.arn), tagsXml(r.tags)))), requestId);
    }
    case 'RegisterTargets': {
      const arn = required(params, 'TargetGroupArn');
      const [tg] = alb.describeTargetGroups({ arns: [arn] });
      alb.registerTargets(arn, targetsParam(params, tg.port));
      return ok(action, '', requestId);
    }
    case 'DeregisterTargets': {
      const arn = required(params, 'TargetGroupArn');
      const [tg] = alb.describeTargetGroups({ arns: [arn] });
      const targets = targetsParam(params, tg.port);
      const unknown = alb.describeTargetHealth(arn, targets).filter((r) => r.reason === 'Target.NotRegistered');
      if (unknown.length) {
        throw new AlbError(
          'InvalidTarget',
          `The following targets are not registered in target group '${arn}': ${unknown.map((r) => `'${r.target.id}:${r.target.port}'`).join(', ')}`,
        );
      }
      alb.deregisterTargets(arn, targets);
      return ok(action, '', requestId);
    }
    default:
      return elbv2Error('InvalidAction', `Could not find operation ${action} for version ${ELBV2_VERSION}`, requestId);
  }
}
