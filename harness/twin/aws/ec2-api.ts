/**
 * The EC2 Query API subset (Version 2016-11-15): DescribeInstances, TerminateInstances and
 * RunInstances (one instance, which joins as a node) over the twin's nodes — TerminateInstances with
 * `DryRun=true` answers DryRunOperation as EC2 does for an allowed caller, terminating nothing — in EC2's XML shapes
 * (`<item>` lists, `<requestId>`). No IP addresses: the twin's nodes have none worth reporting.
 */
import { hashString } from '../../core/random.ts';
import {
  describeInstances,
  instanceStateCodes,
  runInstances,
  terminateInstances,
  type Ec2Failure,
  type Ec2Instance,
  type Ec2Provider,
  type InstanceStateName,
  type RunInstancesParams,
} from './ec2.ts';
import { el, listParam, structListParam, text, type QueryParams, type QueryResponse } from './query.ts';
import { TWIN_ACCOUNT_ID } from '../alb/ids.ts';

/** The EC2 API version the twin serves. */
export const EC2_VERSION = '2016-11-15';
const NS = `http://ec2.amazonaws.com/doc/${EC2_VERSION}/`;

/** An EC2 error response (`<Response><Errors><Error>…`). */
export function ec2Error(code: string, message: string, requestId: string, status = 400): QueryResponse {
  return {
    status,
    body: `<?xml version="1.0" encoding="UTF-8"?>\n<Response>${el('Errors', el('Error', text('Code', code), text('Message', message)))}${text('RequestID', requestId)}</Response>`,
  };
}

function ok(action: string, inner: string, requestId: string): QueryResponse {
  return {
    status: 200,
    body: `<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="${NS}">${text('requestId', requestId)}${inner}</${action}Response>`,
  };
}

const stateXml = (tag: string, state: InstanceStateName) => el(tag, text('code', instanceStateCodes[state]), text('name', state));

function hex(seed: string, digits: number): string {
  let out = '';
  for (let i = 0; out.length < digits; i++) out += hashString(`${seed}:${i}`).toString(16).padStart(8, '0');
  return out.slice(0, digits);
}

function instanceXml(i: Ec2Instance): string {
  return el(
    'item',
    text('instanceId', i.instanceId),
    text('imageId', `ami-${hex('eks-node-image', 17)}`),
    stateXml('instanceState', i.state),
    text('privateDnsName', i.nodeName),
    el('dnsName'),
    el('reason'),
    text('amiLaunchIndex', 0),
    el('productCodes'),
    text('instanceType', i.instanceType),
    text('launchTime', i.launchTime.toISOString()),
    el('placement', text('availabilityZone', i.zone), el('groupName'), text('tenancy', 'default')),
    el('monitoring', text('state', 'disabled')),
    i.lifecycle === 'spot' ? text('instanceLifecycle', 'spot') : '',
    text('architecture', 'x86_64'),
    text('rootDeviceType', 'ebs'),
    text('rootDeviceName', '/dev/xvda'),
    text('virtualizationType', 'hvm'),
    text('hypervisor', 'xen'),
    el('tagSet', ...Object.entries(i.tags ?? {}).map(([k, v]) => el('item', text('key', k), text('value', v)))),
  );
}

const failure = (f: Ec2Failure, requestId: string) => ec2Error(f.code, f.message, requestId);

/** EC2's answer to a DryRun request it would have carried out (HTTP 412, code DryRunOperation). */
export const DRY_RUN_MESSAGE = 'Request would have succeeded, but DryRun flag is set.';

/** The EC2 actions the twin serves. */
export const EC2_ACTIONS = ['DescribeInstances', 'TerminateInstances', 'RunInstances'] as const;

/** The RunInstances parameters the twin reads; any other is refused (UnknownParameter). */
const RUN_PARAMS = ['InstanceType', 'Placement.AvailabilityZone', 'InstanceMarketOptions.MarketType', 'MinCount', 'MaxCount', 'ClientToken'];
const TAG_SPEC_PARAM = /^TagSpecification\.\d+\.(ResourceType|Tag\.\d+\.(Key|Value))$/;

/** Reads a RunInstances request, or the first parameter the twin does not support. */
function runParams(params: QueryParams): RunInstancesParams | { unknown: string } {
  for (const key of params.keys()) {
    if (key === 'Action' || key === 'Version' || RUN_PARAMS.includes(key) || TAG_SPEC_PARAM.test(key)) continue;
    return { unknown: key };
  }
  return {
    instanceType: params.get('InstanceType'),
    zone: params.get('Placement.AvailabilityZone'),
    marketType: params.get('InstanceMarketOptions.MarketType'),
    minCount: params.get('MinCount'),
    maxCount: params.get('MaxCount'),
    clientToken: params.get('ClientToken'),
    tagSpecifications: structListParam(params, 'TagSpecification').map((spec) => ({
      resourceType: spec.ResourceType,
      tags: structListParam(new Map(Object.entries(spec)), 'Tag').map((t) => ({ key: t.Key, value: t.Value })),
    })),
  };
}

/** Answers one EC2 Query API request. */
export function handleEc2(ec2: Ec2Provider, params: QueryParams, requestId: string): QueryResponse {
  const action = params.get('Action') ?? '';
  switch (action) {
    case 'DescribeInstances': {
      const filters = structListParam(params, 'Filter').map((f) => ({
        name: f.Name ?? '',
        values: Object.keys(f)
          .filter((k) => k.startsWith('Value.'))
          .sort((a, b) => Number(a.slice(6)) - Number(b.slice(6)))
          .map((k) => f[k]),
      }));
      const result = describeInstances(ec2, { instanceIds: listParam(params, 'InstanceId'), filters });
      if (!result.ok) return failure(result, requestId);
      // One reservation per instance: the twin launches nodes one at a time.
      const reservations = result.instances.map((i) =>
        el(
          'item',
          text('reservationId', `r-${hex(i.instanceId, 17)}`),
          text('ownerId', TWIN_ACCOUNT_ID),
          el('groupSet'),
          el('instancesSet', instanceXml(i)),
        ),
      );
      return ok(action, el('reservationSet', ...reservations), requestId);
    }
    case 'TerminateInstances': {
      const ids = listParam(params, 'InstanceId');
      if (!ids.length) return ec2Error('MissingParameter', "The request must contain the parameter 'InstanceId'", requestId);
      if (params.get('DryRun') === 'true') {
        // The ids are checked, nothing is terminated; the twin has no IAM, so the answer is always "allowed".
        const known = describeInstances(ec2, { instanceIds: ids });
        if (!known.ok) return failure(known, requestId);
        return ec2Error('DryRunOperation', DRY_RUN_MESSAGE, requestId, 412);
      }
      const result = terminateInstances(ec2, ids);
      if (!result.ok) return failure(result, requestId);
      const items = result.changes.map((c) => el('item', text('instanceId', c.instanceId), stateXml('currentState', c.current), stateXml('previousState', c.previous)));
      return ok(action, el('instancesSet', ...items), requestId);
    }
    case 'RunInstances': {
      const request = runParams(params);
      if ('unknown' in request) {
        return ec2Error(
          'UnknownParameter',
          `The parameter ${request.unknown} is not recognized: the twin's RunInstances reads ${RUN_PARAMS.join(', ')} and TagSpecification.N (ResourceType=instance, Tag.N.Key/Value)`,
          requestId,
        );
      }
      const result = runInstances(ec2, request);
      if (!result.ok) return failure(result, requestId);
      const i = result.instance;
      return ok(
        action,
        [text('reservationId', `r-${hex(i.instanceId, 17)}`), text('ownerId', TWIN_ACCOUNT_ID), el('groupSet'), el('instancesSet', instanceXml(i))].join(''),
        requestId,
      );
    }
    default:
      return ec2Error('InvalidAction', `The action ${action} is not valid for this web service.`, requestId);
  }
}
