/** The permission list: derived from the spec, rendered as RBAC and IAM, and held to the port methods that use it and the checks that check it. */
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { parseSpec } from '../../../harness/matrix/load.ts';
import { PROBED_ACTIONS } from '../../../harness/preflight/checks.ts';
import { AWS_METHOD_ACTIONS, CAPACITY_CALLS, K6_OPERATOR_CALLS, KUBE_METHOD_CALLS, describeKube, permissionsOf, type KubeCall, type KubePermission, type Permission } from '../../../harness/preflight/permissions.ts';
import { renderIamPolicy, renderRbac } from '../../../harness/preflight/render.ts';

const matrix = { preStopSeconds: [0], terminationGracePeriodSeconds: [30], readinessGate: [true], deregistrationDelaySeconds: [300] };
const FIS_ROLE = 'arn:aws:iam::123456789012:role/fis-spot';
const specOf = (input: Record<string, unknown>) => parseSpec({ matrix, disruptions: ['rollout'], ...input, target: { context: 'staging', allowedContexts: ['staging'], ingress: 'web', ...(input.target as object) } }).spec;
const kube = (perms: Permission[]) => perms.filter((p): p is KubePermission => p.api === 'kubernetes').map(describeKube);
const actions = (perms: Permission[]) => perms.flatMap((p) => (p.api === 'aws' ? [p.action] : []));

/** Every feature at once: a gateway axis, every node disruption, FIS, a pdb axis, access logs turned on, traffic on k6-operator. */
const everything = specOf({
  traffic: { driver: 'k6-operator', k6Operator: { namespace: 'load' } },
  target: { fisRoleArn: FIS_ROLE, topology: { gateway: { ingress: 'gateway' } } },
  matrix: { ...matrix, topology: ['direct', 'gateway'] },
  axes: { budget: { object: 'pdb', values: { one: { spec: { maxUnavailable: 1 } } } } },
  disruptions: ['rollout', 'drain', 'spot', 'rebalance', { spot: { handler: 'karpenter' } }, { 'node-replace': { handler: 'karpenter' } }, { spot: { via: 'fis' } }],
  explain: { enableAccessLogs: { bucket: 'alb-logs', prefix: 'nightly' } },
});

describe('permissionsOf', () => {
  it('a rollout-only spec needs the Deployment, its pods, the Ingress and the target group, but no node, eviction or EC2 action', () => {
    const perms = permissionsOf(specOf({}));
    expect(kube(perms)).toEqual([
      'get namespaces cluster-wide',
      'patch namespaces cluster-wide',
      'get deployments.apps in namespace shop',
      'patch deployments.apps in namespace shop',
      'list pods in namespace shop',
      'watch pods in namespace shop',
      'get services in namespace shop',
      'list targetgroupbindings.elbv2.k8s.aws in namespace shop',
      'get targetgroupbindings.elbv2.k8s.aws in namespace shop',
      'list nodes cluster-wide',
      'get ingresses.networking.k8s.io in namespace shop',
      'patch ingresses.networking.k8s.io in namespace shop',
      'list events in namespace shop',
      // The gate is an axis: preflight checks the controller's CRD and webhook.
      'get customresourcedefinitions.apiextensions.k8s.io cluster-wide',
      'list mutatingwebhookconfigurations.admissionregistration.k8s.io cluster-wide',
    ]);
    expect(actions(perms)).not.toContain('ec2:TerminateInstances');
    expect(actions(perms)).toContain('elasticloadbalancing:DescribeTargetHealth');
    expect(actions(perms)).toContain('s3:ListBucket');
  });

  it('without the gate, nothing of the webhook', () => {
    expect(kube(permissionsOf(specOf({ matrix: { ...matrix, readinessGate: [false] } }))).filter((p) => /customresourcedefinitions|mutatingwebhook/.test(p))).toEqual([]);
  });

  it('a drain evicts cluster-wide (pods/eviction) and patches nodes, but terminates no instance', () => {
    const perms = permissionsOf(specOf({ disruptions: ['drain'] }));
    expect(kube(perms)).toEqual(expect.arrayContaining(['create pods/eviction cluster-wide', 'list pods cluster-wide', 'patch nodes cluster-wide', 'get nodes cluster-wide']));
    expect(actions(perms)).toContain('ec2:DescribeInstances');
    expect(actions(perms)).not.toContain('ec2:TerminateInstances');
  });

  it('a harness-played spot terminates the instance; FIS passes its role instead; a Karpenter replacement creates NodeClaims', () => {
    expect(actions(permissionsOf(specOf({ disruptions: ['spot'] })))).toContain('ec2:TerminateInstances');
    const fis = permissionsOf(specOf({ target: { fisRoleArn: FIS_ROLE }, disruptions: [{ spot: { via: 'fis' } }] }));
    expect(actions(fis)).not.toContain('ec2:TerminateInstances');
    expect(fis).toContainEqual(expect.objectContaining({ action: 'iam:PassRole', resource: FIS_ROLE }));
    expect(actions(fis)).toEqual(expect.arrayContaining(['fis:CreateExperimentTemplate', 'fis:StartExperiment', 'fis:ListExperimentTemplates']));
    expect(kube(permissionsOf(specOf({ disruptions: [{ 'node-replace': { handler: 'karpenter' } }] })))).toContain('create nodeclaims.karpenter.sh cluster-wide');
  });

  it('a gateway adds its namespace, and its pods/log when explaining; explain off drops S3 and CloudWatch', () => {
    const gw = permissionsOf(specOf({ target: { topology: { gateway: { ingress: 'gateway' } } } }));
    expect(kube(gw)).toEqual(expect.arrayContaining(['patch deployments.apps in namespace ingress-nginx', 'get pods/log in namespace ingress-nginx']));
    const off = permissionsOf(specOf({ explain: { enabled: false } }));
    expect(actions(off).filter((a) => a.startsWith('s3:') || a.startsWith('cloudwatch:'))).toEqual([]);
  });

  it('traffic on k6-operator: the TestRuns and script ConfigMaps of its namespace, its runner pods and their logs, the CRD', () => {
    const own = kube(permissionsOf(specOf({ traffic: { driver: 'k6-operator', k6Operator: { namespace: 'load' } } })));
    expect(own).toEqual(
      expect.arrayContaining([
        'create testruns.k6.io in namespace load',
        'get testruns.k6.io in namespace load',
        'list testruns.k6.io in namespace load',
        'delete testruns.k6.io in namespace load',
        'create configmaps in namespace load',
        'delete configmaps in namespace load',
        'list pods in namespace load',
        'delete pods in namespace load',
        'get pods/log in namespace load',
        'get customresourcedefinitions.apiextensions.k8s.io cluster-wide',
      ]),
    );
    expect(kube(permissionsOf(specOf({})))).not.toContain('create testruns.k6.io in namespace shop');
  });

  it('lists each permission once, with every use that needs it', () => {
    const perms = permissionsOf(everything);
    const keys = perms.map((p) => JSON.stringify({ ...p, why: undefined }));
    expect(new Set(keys).size).toBe(keys.length);
    const patchNodes = perms.find((p) => p.api === 'kubernetes' && p.verb === 'patch' && p.resource === 'nodes');
    expect(patchNodes?.why).toContain('cordons');
  });
});

const matches = (p: KubePermission, c: KubeCall) => p.verb === c.verb && p.group === c.group && p.resource === c.resource && (p.subresource ?? '') === (c.subresource ?? '') && (c.scope === 'namespace' ? p.namespace !== undefined : p.namespace === undefined);

describe('each permission is both used and checked', () => {
  const perms = permissionsOf(everything);
  const kubePerms = perms.filter((p): p is KubePermission => p.api === 'kubernetes');
  const calls = [...Object.values(KUBE_METHOD_CALLS), ...Object.values(CAPACITY_CALLS), ...Object.values(K6_OPERATOR_CALLS)].flat();
  const awsActions = Object.values(AWS_METHOD_ACTIONS).flatMap((port) => Object.values(port).flat());

  it('every Kubernetes permission is what some port method sends, and everything a port method sends is listed', () => {
    expect(kubePerms.filter((p) => !calls.some((c) => matches(p, c))).map(describeKube)).toEqual([]);
    expect(calls.filter((c) => !kubePerms.some((p) => matches(p, c)))).toEqual([]);
  });

  it('every AWS action is what some port method needs, and every action a port method needs is listed', () => {
    expect(actions(perms).filter((a) => !awsActions.includes(a))).toEqual([]);
    expect(awsActions.filter((a) => !actions(perms).includes(a))).toEqual([]);
  });

  it('every AWS action has its line in preflight: a harmless call, or said to be not checkable', () => {
    expect(actions(perms).filter((a) => !PROBED_ACTIONS.includes(a))).toEqual([]);
  });
});

describe('rendering', () => {
  it('RBAC: a ClusterRole for the cluster-wide part, a Role per namespace, each bound to the ServiceAccount', () => {
    const docs = parseAllDocuments(renderRbac(permissionsOf(everything), { subject: { namespace: 'ops', name: 'nightly' } })).map((d) => d.toJS() as { kind: string; metadata: { name: string; namespace?: string }; rules?: Array<{ apiGroups: string[]; resources: string[]; verbs: string[] }>; subjects?: unknown[] });
    expect(docs.map((d) => `${d.kind} ${d.metadata.namespace ?? ''}`.trim())).toEqual(['ClusterRole', 'ClusterRoleBinding', 'Role shop', 'RoleBinding shop', 'Role ingress-nginx', 'RoleBinding ingress-nginx', 'Role load', 'RoleBinding load']);
    // The k6-operator namespace's Role: its TestRuns, their ConfigMaps, the runner pods and logs.
    expect(docs[6].rules).toContainEqual({ apiGroups: ['k6.io'], resources: ['testruns'], verbs: ['create', 'get', 'list', 'delete'] });
    const cluster = docs[0].rules!;
    expect(cluster).toContainEqual({ apiGroups: [''], resources: ['pods/eviction'], verbs: ['create'] });
    expect(cluster).toContainEqual({ apiGroups: [''], resources: ['nodes'], verbs: ['list', 'get', 'patch'] });
    expect(docs[2].rules).toContainEqual({ apiGroups: ['apps'], resources: ['deployments'], verbs: ['get', 'patch'] });
    for (const binding of [docs[1], docs[3], docs[5], docs[7]]) expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'nightly', namespace: 'ops' }]);
  });

  it('IAM: one statement per service and resource, PassRole bound to the experiment role', () => {
    const policy = renderIamPolicy(permissionsOf(everything));
    expect(policy.Version).toBe('2012-10-17');
    expect(policy.Statement.find((s) => s.Action.includes('iam:PassRole'))).toEqual({ Sid: 'RolloutHarnessIam', Effect: 'Allow', Action: ['iam:PassRole'], Resource: FIS_ROLE });
    expect(policy.Statement.find((s) => s.Action.includes('s3:GetObject'))?.Resource).toBe('arn:aws:s3:::alb-logs/nightly/AWSLogs/*');
    expect(new Set(policy.Statement.map((s) => s.Sid)).size).toBe(policy.Statement.length);
    // The same list, rendered: every action of the list is granted.
    expect(policy.Statement.flatMap((s) => s.Action).sort()).toEqual([...new Set(actions(permissionsOf(everything)))].sort());
  });
});
