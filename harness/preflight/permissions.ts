/**
 * The one list of permissions a spec needs, derived from the spec alone (pure): which objects it
 * reads and changes, which disruptions it plays, whether it explains 5xx, whether FIS interrupts.
 * `preflight` checks exactly this list (a SelfSubjectAccessReview per Kubernetes permission, a
 * harmless call per AWS action), and `permissions --format rbac|iam` renders it; nothing else says
 * what the harness needs.
 */
import { laneSpec } from '../matrix/shards.ts';
import { topologiesOf } from '../matrix/expand.ts';
import { gatewayOf, ingressOf, k6OperatorOf, type Spec } from '../matrix/schema.ts';
import type { AccessLogStore, CapacityPort, Ec2Port, Elbv2Port, FisPort, K6OperatorPort, KubernetesPort, Metrics } from '../platform/ports.ts';

/** One Kubernetes permission, as SelfSubjectAccessReview's resourceAttributes name it; no namespace: cluster-wide. */
export interface KubePermission {
  api: 'kubernetes';
  verb: string;
  /** The API group ('' for core). */
  group: string;
  resource: string;
  subresource?: string;
  namespace?: string;
  /** What the harness does with it (one or more uses, joined). */
  why: string;
}

/** One AWS IAM action; `resource` an ARN when the action is bound to one (iam:PassRole), else '*'. */
export interface AwsPermission {
  api: 'aws';
  /** `service:Action`, as IAM names it. */
  action: string;
  resource: string;
  why: string;
}

/** One permission a spec needs. */
export type Permission = KubePermission | AwsPermission;

/** One use of the API: when the spec needs it, and what it takes. */
interface Use {
  why: string;
  when(spec: Spec): boolean;
  /** The permissions it takes, each carrying `why`. */
  needs(spec: Spec, why: string): Permission[];
}

const k = (verb: string, group: string, resource: string, why: string, namespace?: string, subresource?: string): KubePermission => ({
  api: 'kubernetes',
  verb,
  group,
  resource,
  ...(subresource ? { subresource } : {}),
  ...(namespace !== undefined ? { namespace } : {}),
  why,
});
const aws = (action: string, why: string, resource = '*'): AwsPermission => ({ api: 'aws', action, resource, why });

/** The namespaces whose objects the spec's cells touch: the app's, and the gateway's when a cell goes through it. */
export function namespacesOf(spec: Spec): string[] {
  const out = [spec.target.namespace];
  if (topologiesOf(spec).includes('gateway')) out.push(gatewayOf(spec.target).namespace);
  return [...new Set(out)];
}

const NODE_KINDS = new Set(['drain', 'spot', 'rebalance', 'node-replace']);
const nodeDisruptions = (spec: Spec) => spec.disruptions.some((d) => NODE_KINDS.has(d.kind));
/** Disruptions that end an EC2 instance through the EC2 API (a harness-played spot, rebalance, node-replace). */
const terminates = (spec: Spec) => spec.disruptions.some((d) => (d.kind === 'spot' && d.via !== 'fis') || d.kind === 'rebalance' || d.kind === 'node-replace');
const viaFis = (spec: Spec) => spec.disruptions.some((d) => d.kind === 'spot' && d.via === 'fis');
/** A Karpenter replacement in a cluster is a NodeClaim (harness/platform/kubernetes/capacity.ts). */
const karpenter = (spec: Spec) => spec.disruptions.some((d) => (d.kind === 'spot' || d.kind === 'rebalance' || d.kind === 'node-replace') && d.handler === 'karpenter');
/** The Ingresses the harness reads and annotates: the app's (or the twin's default), the gateway's. */
const hasIngress = (spec: Spec) => ingressOf(spec.target) !== undefined || (topologiesOf(spec).includes('gateway') && gatewayOf(spec.target).ingress !== undefined);
/** A cell with the readiness gate on: the controller's webhook must inject it. */
export const gateOn = (spec: Spec) => spec.matrix.readinessGate.includes(true);
const axisObject = (spec: Spec, object: string) => Object.values(spec.axes).some((a) => a.object === object);
const perNamespace = (spec: Spec, f: (ns: string) => Permission[]) => namespacesOf(spec).flatMap(f);

/**
 * Every use of an API the harness makes, with when a spec makes it. The order is the order of the
 * checklist and of the rendered rules.
 */
const USES: Use[] = [
  {
    why: 'reads the namespace (its opt-in label) and marks it while the run holds it; sets the readiness-gate injection label and namespace axes',
    when: () => true,
    needs: (_spec, why) => ['get', 'patch'].map((v) => k(v, '', 'namespaces', why)),
  },
  {
    why: 'reads the Deployment and patches its pod template (preStop, grace, axes), restarts it, marks it',
    when: () => true,
    needs: (spec, why) => perNamespace(spec, (ns) => ['get', 'patch'].map((v) => k(v, 'apps', 'deployments', why, ns))),
  },
  {
    why: 'lists and watches the pods of the Deployment (the timeline, readiness, rollout progress)',
    when: () => true,
    needs: (spec, why) => perNamespace(spec, (ns) => ['list', 'watch'].map((v) => k(v, '', 'pods', why, ns))),
  },
  {
    why: 'reads the Service a TargetGroupBinding names, to match it to the Deployment',
    when: () => true,
    needs: (spec, why) => perNamespace(spec, (ns) => [k('get', '', 'services', why, ns)]),
  },
  {
    why: "lists and reads the TargetGroupBindings to find the Deployment's target group",
    when: () => true,
    needs: (spec, why) => perNamespace(spec, (ns) => ['list', 'get'].map((v) => k(v, 'elbv2.k8s.aws', 'targetgroupbindings', why, ns))),
  },
  {
    why: "runs each cell's traffic as a k6-operator TestRun: creates, reads and deletes it and its script's ConfigMap, lists and stops its runner pods and follows their logs, and finds a killed run's TestRuns to delete them",
    when: (spec) => spec.traffic.driver === 'k6-operator',
    needs: (spec, why) => {
      const where = k6OperatorOf(spec.traffic).namespace ?? spec.target.namespace;
      return [
        ...['create', 'get', 'list', 'delete'].map((v) => k(v, 'k6.io', 'testruns', why, where)),
        ...['create', 'delete'].map((v) => k(v, '', 'configmaps', why, where)),
        ...['list', 'delete'].map((v) => k(v, '', 'pods', why, where)),
        k('get', '', 'pods', why, where, 'log'),
      ];
    },
  },
  {
    why: 'reads the TestRun CRD (k6-operator installed)',
    when: (spec) => spec.traffic.driver === 'k6-operator',
    needs: (_spec, why) => [k('get', 'apiextensions.k8s.io', 'customresourcedefinitions', why)],
  },
  {
    why: 'lists the nodes (where pods can go, which node a disruption takes, markers left on nodes)',
    when: () => true,
    needs: (_spec, why) => [k('list', '', 'nodes', why)],
  },
  {
    why: "reads and annotates the Ingress (the deregistration delay and target-group attributes through the controller's annotation), marks it",
    when: hasIngress,
    needs: (spec, why) => perNamespace(spec, (ns) => ['get', 'patch'].map((v) => k(v, 'networking.k8s.io', 'ingresses', why, ns))),
  },
  {
    why: "lists the Ingress's Events (whether the load balancer controller refused it)",
    when: hasIngress,
    needs: (spec, why) => perNamespace(spec, (ns) => [k('list', '', 'events', why, ns)]),
  },
  {
    why: "lists the Ingresses of the namespace (the members of the target's IngressGroup) to turn access logs on",
    when: (spec) => spec.explain.enableAccessLogs !== undefined,
    needs: (spec, why) => perNamespace(spec, (ns) => [k('list', 'networking.k8s.io', 'ingresses', why, ns)]),
  },
  {
    why: 'reads and patches the PodDisruptionBudget that selects the pods (a pdb axis)',
    when: (spec) => axisObject(spec, 'pdb'),
    needs: (spec, why) => ['list', 'get', 'patch'].map((v) => k(v, 'policy', 'poddisruptionbudgets', why, spec.target.namespace)),
  },
  {
    why: 'reads, cordons and taints the disrupted node and puts it back',
    when: nodeDisruptions,
    needs: (_spec, why) => ['get', 'patch'].map((v) => k(v, '', 'nodes', why)),
  },
  {
    why: 'lists the pods on the disrupted node in every namespace and evicts them (drain), as kubectl drain does',
    when: nodeDisruptions,
    needs: (_spec, why) => [k('list', '', 'pods', why), k('create', '', 'pods', why, undefined, 'eviction')],
  },
  {
    why: "launches a Karpenter replacement: reads the node's NodeClaim and creates one like it",
    when: karpenter,
    needs: (_spec, why) => ['list', 'get', 'create'].map((v) => k(v, 'karpenter.sh', 'nodeclaims', why)),
  },
  {
    why: "reads the gateway pods' logs (explaining each 5xx at the gateway hop)",
    when: (spec) => spec.explain.enabled && topologiesOf(spec).includes('gateway'),
    needs: (spec, why) => [k('get', '', 'pods', why, gatewayOf(spec.target).namespace, 'log')],
  },
  {
    why: "checks (preflight, before a run) that the controller's TargetGroupBinding CRD and its readiness-gate injection webhook are there, when the gate is an axis",
    when: gateOn,
    needs: (_spec, why) => [k('get', 'apiextensions.k8s.io', 'customresourcedefinitions', why), k('list', 'admissionregistration.k8s.io', 'mutatingwebhookconfigurations', why)],
  },
  {
    why: "reads the target group, its health, attributes and tags, and the load balancer's listeners, rules and attributes",
    when: () => true,
    needs: (_spec, why) =>
      ['DescribeTargetGroups', 'DescribeTargetHealth', 'DescribeTargetGroupAttributes', 'DescribeTags', 'DescribeLoadBalancers', 'DescribeListeners', 'DescribeRules', 'DescribeLoadBalancerAttributes'].map((a) =>
        aws(`elasticloadbalancing:${a}`, why),
      ),
  },
  {
    why: 'sets target-group attributes through the API (deregistrationDelayVia: api, the health-check axes, a targetGroup axis) and sets them back on restore',
    // Also with the Ingress channel: restore sets an attribute back through the API when the controller does not (harness/settings/registry.ts).
    when: () => true,
    needs: (_spec, why) => [aws('elasticloadbalancing:ModifyTargetGroupAttributes', why)],
  },
  {
    why: "reads the disrupted node's EC2 instance (its state, its lifecycle)",
    when: nodeDisruptions,
    needs: (_spec, why) => [aws('ec2:DescribeInstances', why)],
  },
  {
    why: "terminates the disrupted node's EC2 instance at the end of the notice, as the interruption does",
    when: terminates,
    needs: (_spec, why) => [aws('ec2:TerminateInstances', why)],
  },
  {
    why: 'creates, starts, watches and deletes an AWS FIS spot-interruption experiment (spot via fis), tagged for cleanup',
    when: viaFis,
    needs: (_spec, why) => ['CreateExperimentTemplate', 'StartExperiment', 'GetExperiment', 'ListExperimentTemplates', 'DeleteExperimentTemplate', 'TagResource'].map((a) => aws(`fis:${a}`, why)),
  },
  {
    why: 'passes the experiment role to FIS (target.fisRoleArn)',
    when: viaFis,
    needs: (spec, why) => [aws('iam:PassRole', why, spec.target.fisRoleArn ?? '*')],
  },
  {
    why: "lists and reads the load balancer's access-log objects (explaining each 5xx)",
    when: (spec) => spec.explain.enabled,
    needs: (spec, why) => {
      const logs = spec.explain.accessLogs ?? spec.explain.enableAccessLogs;
      const bucket = logs ? `arn:aws:s3:::${logs.bucket}` : '*';
      return [aws('s3:ListBucket', why, bucket), aws('s3:GetObject', why, logs ? `${bucket}/${logKeyPrefix(logs.prefix)}*` : '*')];
    },
  },
  {
    why: "reads the load balancer's CloudWatch metrics (the cross-check of the counted 5xx)",
    when: (spec) => spec.explain.enabled,
    needs: (_spec, why) => [aws('cloudwatch:GetMetricData', why)],
  },
];

/** Where a load balancer with access-log prefix `prefix` writes its objects: `<prefix>/AWSLogs/` (the ALB's layout). */
export function logKeyPrefix(prefix: string): string {
  return `${prefix ? `${prefix.replace(/\/$/, '')}/` : ''}AWSLogs/`;
}

/** The key that makes two entries the same permission. */
export function permissionKey(p: Permission): string {
  return p.api === 'kubernetes' ? `k8s ${p.verb} ${p.group}/${p.resource}${p.subresource ? `/${p.subresource}` : ''} ${p.namespace ?? '*'}` : `aws ${p.action} ${p.resource}`;
}

/**
 * Every permission the spec needs, once each (the uses that need one joined in its `why`), in the
 * order of the uses: with `target.lanes`, what every lane needs (a shard runs on its own lane).
 */
export function permissionsOf(spec: Spec): Permission[] {
  const out = new Map<string, Permission>();
  const lanes = spec.target.lanes ? spec.target.lanes.map((_, i) => laneSpec(spec, i + 1)) : [spec];
  for (const use of USES) {
    for (const p of lanes.flatMap((lane) => (use.when(lane) ? use.needs(lane, use.why) : []))) {
      const key = permissionKey(p);
      const seen = out.get(key);
      if (!seen) out.set(key, p);
      else if (!seen.why.includes(p.why)) seen.why = `${seen.why}; ${p.why}`;
    }
  }
  return [...out.values()];
}

/** A Kubernetes permission in kubectl's words: `patch deployments.apps in namespace shop`. */
export function describeKube(p: KubePermission): string {
  const resource = `${p.resource}${p.subresource ? `/${p.subresource}` : ''}${p.group ? `.${p.group}` : ''}`;
  return `${p.verb} ${resource} ${p.namespace !== undefined ? `in namespace ${p.namespace}` : 'cluster-wide'}`;
}

/** An AWS permission in IAM's words: `ec2:TerminateInstances` (on an ARN when bound to one). */
export function describeAws(p: AwsPermission): string {
  return p.resource === '*' ? p.action : `${p.action} on ${p.resource}`;
}

/**
 * What one port method asks of the API server: a resource in the object's namespace, a cluster-scoped
 * one, or one in whichever namespace the object is (`any-namespace`: the request is namespaced, but
 * only a cluster-wide grant covers every namespace — a drained node's pods).
 */
export interface KubeCall {
  verb: string;
  group: string;
  resource: string;
  subresource?: string;
  scope: 'namespace' | 'cluster' | 'any-namespace';
}

const ns = (verb: string, group: string, resource: string, subresource?: string): KubeCall => ({ verb, group, resource, ...(subresource ? { subresource } : {}), scope: 'namespace' });
const cl = (verb: string, group: string, resource: string, subresource?: string): KubeCall => ({ verb, group, resource, ...(subresource ? { subresource } : {}), scope: 'cluster' });

/**
 * What each KubernetesPort method sends (a test records the adapter's requests and holds it to this
 * table; another holds the table and the permission list to each other): a new method without an
 * entry does not compile. `accessReview` is every authenticated user's (system:basic-user).
 */
export const KUBE_METHOD_CALLS = {
  getDeployment: [ns('get', 'apps', 'deployments')],
  patchDeployment: [ns('patch', 'apps', 'deployments')],
  getNamespace: [cl('get', '', 'namespaces')],
  setNamespaceLabels: [cl('patch', '', 'namespaces')],
  getIngress: [ns('get', 'networking.k8s.io', 'ingresses')],
  listEvents: [ns('list', '', 'events')],
  listIngresses: [ns('list', 'networking.k8s.io', 'ingresses')],
  setIngressAnnotations: [ns('patch', 'networking.k8s.io', 'ingresses')],
  listPodDisruptionBudgets: [ns('list', 'policy', 'poddisruptionbudgets')],
  getPodDisruptionBudget: [ns('get', 'policy', 'poddisruptionbudgets')],
  patchPodDisruptionBudget: [ns('patch', 'policy', 'poddisruptionbudgets')],
  getTargetGroupBinding: [ns('get', 'elbv2.k8s.aws', 'targetgroupbindings')],
  listTargetGroupBindings: [ns('list', 'elbv2.k8s.aws', 'targetgroupbindings')],
  getService: [ns('get', '', 'services')],
  listPods: [ns('list', '', 'pods')],
  listPodsOnNode: [cl('list', '', 'pods')],
  listNodes: [cl('list', '', 'nodes')],
  getNode: [cl('get', '', 'nodes')],
  setNodeUnschedulable: [cl('patch', '', 'nodes')],
  setNodeTaint: [cl('get', '', 'nodes'), cl('patch', '', 'nodes')],
  // The pods of a drained node are in any namespace.
  evictPod: [{ verb: 'create', group: '', resource: 'pods', subresource: 'eviction', scope: 'any-namespace' }],
  // By the object's kind: a namespace, a node, a Deployment, an Ingress.
  annotate: [cl('patch', '', 'namespaces'), cl('patch', '', 'nodes'), ns('patch', 'apps', 'deployments'), ns('patch', 'networking.k8s.io', 'ingresses')],
  readPodLog: [ns('get', '', 'pods', 'log')],
  watchPods: [ns('list', '', 'pods'), ns('watch', '', 'pods')],
  getCustomResourceDefinition: [cl('get', 'apiextensions.k8s.io', 'customresourcedefinitions')],
  listMutatingWebhookConfigurations: [cl('list', 'admissionregistration.k8s.io', 'mutatingwebhookconfigurations')],
} satisfies Record<Exclude<keyof KubernetesPort, 'context' | 'dryRun' | 'accessReview'>, KubeCall[]>;

/** What each K6OperatorPort method sends (harness/platform/kubernetes/k6-operator.ts), held to the permission list as KUBE_METHOD_CALLS is. */
export const K6_OPERATOR_CALLS = {
  createConfigMap: [ns('create', '', 'configmaps')],
  deleteConfigMap: [ns('delete', '', 'configmaps')],
  createTestRun: [ns('create', 'k6.io', 'testruns')],
  getTestRun: [ns('get', 'k6.io', 'testruns')],
  deleteTestRun: [ns('delete', 'k6.io', 'testruns')],
  listTestRuns: [ns('list', 'k6.io', 'testruns')],
  listPods: [ns('list', '', 'pods')],
  deletePod: [ns('delete', '', 'pods')],
  followPodLog: [ns('get', '', 'pods', 'log')],
} satisfies Record<keyof K6OperatorPort, KubeCall[]>;

/** What the cluster capacity adapter sends for a Karpenter replacement (harness/platform/kubernetes/capacity.ts). */
export const CAPACITY_CALLS = {
  launchReplacement: [cl('list', 'karpenter.sh', 'nodeclaims'), cl('create', 'karpenter.sh', 'nodeclaims'), cl('get', 'karpenter.sh', 'nodeclaims')],
} satisfies Record<keyof CapacityPort, KubeCall[]>;

/** The IAM actions each AWS port method needs (a new method without an entry does not compile). */
export const AWS_METHOD_ACTIONS = {
  elbv2: {
    findTargetGroupByTags: ['elasticloadbalancing:DescribeTargetGroups', 'elasticloadbalancing:DescribeTags'],
    describeTargetHealth: ['elasticloadbalancing:DescribeTargetHealth'],
    getAttributes: ['elasticloadbalancing:DescribeTargetGroupAttributes'],
    targetGroupTags: ['elasticloadbalancing:DescribeTags'],
    getHealthCheck: ['elasticloadbalancing:DescribeTargetGroups'],
    modifyAttributes: ['elasticloadbalancing:ModifyTargetGroupAttributes'],
    describeLoadBalancers: ['elasticloadbalancing:DescribeLoadBalancers'],
    describeListeners: ['elasticloadbalancing:DescribeListeners'],
    describeRules: ['elasticloadbalancing:DescribeRules'],
    loadBalancersOf: ['elasticloadbalancing:DescribeTargetGroups'],
    describeLoadBalancerAttributes: ['elasticloadbalancing:DescribeLoadBalancerAttributes'],
  } satisfies Record<keyof Elbv2Port, string[]>,
  ec2: {
    describeInstance: ['ec2:DescribeInstances'],
    terminateInstance: ['ec2:TerminateInstances'],
  } satisfies Record<keyof Ec2Port, string[]>,
  s3: {
    listObjects: ['s3:ListBucket'],
    getObject: ['s3:GetObject'],
  } satisfies Record<keyof AccessLogStore, string[]>,
  cloudwatch: {
    getMetricData: ['cloudwatch:GetMetricData'],
  } satisfies Record<keyof Metrics, string[]>,
  fis: {
    // The template carries tags (fis:TagResource) and names the role FIS assumes (iam:PassRole).
    createSpotInterruptionTemplate: ['fis:CreateExperimentTemplate', 'fis:TagResource', 'iam:PassRole'],
    startExperiment: ['fis:StartExperiment', 'fis:TagResource'],
    getExperiment: ['fis:GetExperiment'],
    deleteTemplate: ['fis:DeleteExperimentTemplate'],
    listTemplatesByTag: ['fis:ListExperimentTemplates'],
  } satisfies Record<keyof FisPort, string[]>,
};
