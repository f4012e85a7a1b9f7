/**
 * The EC2 model behind the twin's EC2 Query API: instances come from the node lifecycle
 * (a provider function) and terminations and launches go back to it. Filtering, state codes and
 * the checks of a RunInstances request live here.
 */

/** Instance states the twin models, as EC2 names them. */
export type InstanceStateName = 'pending' | 'running' | 'shutting-down' | 'terminated';

/** One EC2 instance (one Kubernetes node of the twin). */
export interface Ec2Instance {
  instanceId: string;
  /** The node name, reported as privateDnsName. */
  nodeName: string;
  zone: string;
  instanceType: string;
  lifecycle: 'on-demand' | 'spot';
  state: InstanceStateName;
  launchTime: Date;
  tags?: Record<string, string>;
}

/** One instance asked for through RunInstances, after its parameters were read and checked. */
export interface RunInstanceRequest {
  instanceType: string;
  zone: string;
  lifecycle: 'on-demand' | 'spot';
  tags: Record<string, string>;
  clientToken?: string;
}

/** Where the EC2 API gets its instances and sends terminations and launches. */
export interface Ec2Provider {
  instances(): Ec2Instance[];
  terminate(instanceId: string): void;
  /** Launches one instance (pending until its node joins); without it RunInstances is refused. */
  launch?(request: RunInstanceRequest): Ec2Instance;
  /** The region whose zones RunInstances accepts. */
  region?: string;
}

/** EC2's numeric state codes. */
export const instanceStateCodes: Record<InstanceStateName, number> = {
  pending: 0,
  running: 16,
  'shutting-down': 32,
  terminated: 48,
};

/** An EC2 error as the API reports it. */
export interface Ec2Failure {
  ok: false;
  code:
    | 'InvalidInstanceID.NotFound'
    | 'InvalidInstanceID.Malformed'
    | 'InvalidParameterValue'
    | 'MissingParameter'
    | 'UnknownParameter'
    | 'InvalidParameterCombination'
    | 'Unsupported';
  message: string;
}

/** A DescribeInstances filter: a name and values (with * and ? wildcards). */
export interface InstanceFilter {
  name: string;
  values: string[];
}

const KNOWN_FILTERS = new Set([
  'instance-id',
  'instance-state-name',
  'instance-state-code',
  'availability-zone',
  'instance-type',
  'instance-lifecycle',
  'private-dns-name',
  'tag-key',
]);

const INSTANCE_ID = /^i-[0-9a-f]{8,17}$/;

function glob(pattern: string): RegExp {
  const source = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${source}$`);
}

/** The value(s) of an instance a (known) filter name looks at. */
function filterValues(instance: Ec2Instance, name: string): string[] {
  if (name.startsWith('tag:')) {
    const value = instance.tags?.[name.slice(4)];
    return value === undefined ? [] : [value];
  }
  switch (name) {
    case 'instance-id':
      return [instance.instanceId];
    case 'instance-state-name':
      return [instance.state];
    case 'instance-state-code':
      return [String(instanceStateCodes[instance.state])];
    case 'availability-zone':
      return [instance.zone];
    case 'instance-type':
      return [instance.instanceType];
    case 'instance-lifecycle':
      return instance.lifecycle === 'spot' ? ['spot'] : [];
    case 'private-dns-name':
      return [instance.nodeName];
    case 'tag-key':
      return Object.keys(instance.tags ?? {});
    default:
      return [];
  }
}

function unknownIds(ids: string[]): Ec2Failure {
  return ids.length === 1
    ? { ok: false, code: 'InvalidInstanceID.NotFound', message: `The instance ID '${ids[0]}' does not exist` }
    : { ok: false, code: 'InvalidInstanceID.NotFound', message: `The instance IDs '${ids.join(', ')}' do not exist` };
}

function checkIds(ids: string[], known: Map<string, Ec2Instance>): Ec2Failure | null {
  const malformed = ids.filter((id) => !INSTANCE_ID.test(id));
  if (malformed.length) return { ok: false, code: 'InvalidInstanceID.Malformed', message: `Invalid id: "${malformed[0]}"` };
  const missing = ids.filter((id) => !known.has(id));
  return missing.length ? unknownIds(missing) : null;
}

/** DescribeInstances: by ids (all must exist) and filters (every filter must match one of its values). */
export function describeInstances(
  provider: Ec2Provider,
  query: { instanceIds?: string[]; filters?: InstanceFilter[] },
): { ok: true; instances: Ec2Instance[] } | Ec2Failure {
  const all = provider.instances();
  const byId = new Map(all.map((i) => [i.instanceId, i]));
  const ids = query.instanceIds ?? [];
  const failure = checkIds(ids, byId);
  if (failure) return failure;
  let list = ids.length ? ids.map((id) => byId.get(id)!) : all;
  for (const filter of query.filters ?? []) {
    if (!filter.name.startsWith('tag:') && !KNOWN_FILTERS.has(filter.name)) {
      return { ok: false, code: 'InvalidParameterValue', message: `The filter '${filter.name}' is invalid` };
    }
    const patterns = filter.values.map(glob);
    list = list.filter((instance) => filterValues(instance, filter.name).some((v) => patterns.some((p) => p.test(v))));
  }
  return { ok: true, instances: list };
}

/** One TerminateInstances row. */
export interface StateChange {
  instanceId: string;
  previous: InstanceStateName;
  current: InstanceStateName;
}

/** TerminateInstances: every id must exist; pending/running ones are terminated through the provider. */
export function terminateInstances(provider: Ec2Provider, instanceIds: string[]): { ok: true; changes: StateChange[] } | Ec2Failure {
  const byId = new Map(provider.instances().map((i) => [i.instanceId, i]));
  const failure = checkIds(instanceIds, byId);
  if (failure) return failure;
  return {
    ok: true,
    changes: instanceIds.map((id) => {
      const previous = byId.get(id)!.state;
      if (previous === 'terminated') return { instanceId: id, previous, current: 'terminated' };
      if (previous !== 'shutting-down') provider.terminate(id);
      return { instanceId: id, previous, current: 'shutting-down' };
    }),
  };
}

/** The tags that make a launched instance join as a Karpenter node or a managed node group's node. */
export const MEMBERSHIP_TAGS = ['karpenter.sh/nodepool', 'eks:nodegroup-name'] as const;

/** The parameters of one RunInstances request, as the Query protocol names them (strings, unchecked). */
export interface RunInstancesParams {
  instanceType?: string;
  zone?: string;
  marketType?: string;
  minCount?: string;
  maxCount?: string;
  tagSpecifications: Array<{ resourceType?: string; tags: Array<{ key?: string; value?: string }> }>;
  clientToken?: string;
}

/**
 * RunInstances, the subset the twin serves: one instance (MinCount = MaxCount = 1) of a type in a
 * zone of the provider's region, spot or on-demand, with instance tags. Every other case is an EC2 error that says
 * what the twin expected and what came.
 */
export function runInstances(provider: Ec2Provider, p: RunInstancesParams): { ok: true; instance: Ec2Instance } | Ec2Failure {
  const region = provider.region ?? 'us-east-1';
  if (!provider.launch) return { ok: false, code: 'Unsupported', message: 'This twin launches no instances: RunInstances needs the node lifecycle' };
  for (const [name, value] of [['MinCount', p.minCount], ['MaxCount', p.maxCount], ['InstanceType', p.instanceType], ['Placement.AvailabilityZone', p.zone]] as const) {
    if (value === undefined || value === '') return { ok: false, code: 'MissingParameter', message: `The request must contain the parameter ${name}` };
  }
  if (p.minCount !== '1' || p.maxCount !== '1') {
    return { ok: false, code: 'InvalidParameterValue', message: `The twin launches one instance per request: expected MinCount=1 and MaxCount=1, got MinCount=${p.minCount} and MaxCount=${p.maxCount}` };
  }
  if (!/^[a-z][a-z0-9-]*\.[a-z0-9]+$/.test(p.instanceType!)) return { ok: false, code: 'InvalidParameterValue', message: `Invalid value '${p.instanceType}' for InstanceType: expected a type like m5.large` };
  if (!p.zone!.startsWith(region) || !/^[a-z]$/.test(p.zone!.slice(region.length))) {
    return { ok: false, code: 'InvalidParameterValue', message: `Invalid availability zone: [${p.zone}]: expected a zone of ${region} (${region}a, ${region}b, ...)` };
  }
  if (p.marketType !== undefined && p.marketType !== 'spot') {
    return { ok: false, code: 'InvalidParameterValue', message: `Invalid value '${p.marketType}' for InstanceMarketOptions.MarketType: expected spot (or no InstanceMarketOptions for on-demand)` };
  }
  const tags: Record<string, string> = {};
  for (const [i, spec] of p.tagSpecifications.entries()) {
    if (spec.resourceType !== 'instance') {
      return { ok: false, code: 'InvalidParameterValue', message: `TagSpecification.${i + 1}.ResourceType: the twin tags instances only, expected instance, got '${spec.resourceType ?? ''}'` };
    }
    for (const [j, tag] of spec.tags.entries()) {
      if (!tag.key) return { ok: false, code: 'InvalidParameterValue', message: `TagSpecification.${i + 1}.Tag.${j + 1}.Key: expected a tag key, got none` };
      tags[tag.key] = tag.value ?? '';
    }
  }
  const members = MEMBERSHIP_TAGS.filter((t) => t in tags);
  if (members.length > 1) {
    return { ok: false, code: 'InvalidParameterCombination', message: `An instance joins as a Karpenter node (karpenter.sh/nodepool) or a managed node group's node (eks:nodegroup-name), not both: got ${members.map((t) => `${t}=${tags[t]}`).join(' and ')}` };
  }
  const instance = provider.launch({ instanceType: p.instanceType!, zone: p.zone!, lifecycle: p.marketType === 'spot' ? 'spot' : 'on-demand', tags, ...(p.clientToken ? { clientToken: p.clientToken } : {}) });
  return { ok: true, instance };
}
