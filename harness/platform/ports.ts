/**
 * The narrow ports through which the harness talks to the world: shaped for what a run needs,
 * not for what the APIs offer. Adapters beside this file implement them with @kubernetes/client-node
 * and the AWS SDK v3; nothing else in the harness talks to a cluster or to AWS.
 */

/** A JSON object as the Kubernetes API returns it (typed loosely: we read few fields). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type KObject = { metadata?: { name?: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string>; resourceVersion?: string; deletionTimestamp?: string | Date; creationTimestamp?: string | Date; generation?: number; uid?: string }; spec?: any; status?: any };

/** A core/v1 Event: what happened to an object, and who said so. */
export type KEvent = KObject & {
  involvedObject?: { kind?: string; name?: string; namespace?: string };
  type?: string;
  reason?: string;
  message?: string;
  lastTimestamp?: string;
  eventTime?: string;
  source?: { component?: string };
  reportingComponent?: string;
};

/** How an eviction ended: expected outcomes are values. */
export type EvictionOutcome = { kind: 'evicted' } | { kind: 'blocked'; message: string } | { kind: 'gone' } | { kind: 'failed'; code: number; message: string };

/** A watch event on pods. */
export interface PodEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  pod: KObject;
  /** True for the pods that existed when the watch started. */
  initial?: boolean;
}

/** An object the harness marks and changes. */
export interface ObjectRef {
  kind: 'Namespace' | 'Deployment' | 'Ingress' | 'Node';
  name: string;
  /** For namespaced kinds. */
  namespace?: string;
}

/** Patch content types. */
export type PatchKind = 'strategic' | 'merge' | 'json';

/** The pod-logs API's options the harness uses (PodLogOptions). */
export interface PodLogOptions {
  container?: string;
  sinceSeconds?: number;
  timestamps?: boolean;
  previous?: boolean;
}

/** What a SelfSubjectAccessReview asks (its spec.resourceAttributes): may I `verb` this resource? No namespace: cluster-wide. */
export interface AccessAttributes {
  verb: string;
  /** The API group ('' for core). */
  group: string;
  resource: string;
  subresource?: string;
  namespace?: string;
  name?: string;
}

/** The API server's answer (the review's status). */
export interface AccessAnswer {
  allowed: boolean;
  /** Denied explicitly (not merely not allowed). */
  denied?: boolean;
  reason?: string;
  evaluationError?: string;
}

/** What the harness needs of Kubernetes. */
export interface KubernetesPort {
  /** The context in use (from the kubeconfig). */
  readonly context: string;
  getDeployment(namespace: string, name: string): Promise<KObject>;
  patchDeployment(namespace: string, name: string, patch: unknown, kind?: PatchKind): Promise<KObject>;
  getNamespace(name: string): Promise<KObject>;
  /** Sets (string) or removes (null) namespace labels. */
  setNamespaceLabels(name: string, labels: Record<string, string | null>): Promise<KObject>;
  getIngress(namespace: string, name: string): Promise<KObject>;
  /** The namespace's Events matching a field selector (e.g. `involvedObject.kind=Ingress,involvedObject.name=web`). */
  listEvents(namespace: string, fieldSelector: string): Promise<KEvent[]>;
  /** The namespace's Ingresses (the members of an IngressGroup that live beside the target's). */
  listIngresses(namespace: string): Promise<KObject[]>;
  /** Sets (string) or removes (null) Ingress annotations. */
  setIngressAnnotations(namespace: string, name: string, annotations: Record<string, string | null>): Promise<KObject>;
  /** The namespace's PodDisruptionBudgets (policy/v1). */
  listPodDisruptionBudgets(namespace: string): Promise<KObject[]>;
  getPodDisruptionBudget(namespace: string, name: string): Promise<KObject>;
  patchPodDisruptionBudget(namespace: string, name: string, patch: unknown, kind?: PatchKind): Promise<KObject>;
  getTargetGroupBinding(namespace: string, name: string): Promise<KObject>;
  listTargetGroupBindings(namespace: string): Promise<KObject[]>;
  getService(namespace: string, name: string): Promise<KObject>;
  listPods(namespace: string, labelSelector?: string): Promise<KObject[]>;
  /** Every pod bound to `nodeName`, in all namespaces. */
  listPodsOnNode(nodeName: string): Promise<KObject[]>;
  listNodes(): Promise<KObject[]>;
  getNode(name: string): Promise<KObject>;
  setNodeUnschedulable(name: string, unschedulable: boolean): Promise<KObject>;
  /** Adds a taint (replacing one with the same key) or removes it (effect null). */
  setNodeTaint(name: string, key: string, taint: { value?: string; effect: 'NoSchedule' | 'NoExecute' | 'PreferNoSchedule' } | null): Promise<KObject>;
  evictPod(namespace: string, name: string): Promise<EvictionOutcome>;
  /** Sets (string) or removes (null) annotations on a namespace, Deployment, Ingress or node (merge patch). */
  annotate(ref: ObjectRef, annotations: Record<string, string | null>): Promise<KObject>;
  /** The same port with every write sent as a server-side dry run (`dryRun=All`: validated and admitted, never stored). */
  dryRun?(): KubernetesPort;
  /**
   * A container's log through the pod-logs API (`GET …/pods/NAME/log`): with `timestamps` each line
   * starts with the kubelet's RFC 3339 time; `previous` reads the instance before the last restart;
   * `sinceSeconds` only the lines of the last so many seconds. A pod that is gone fails with 404.
   */
  readPodLog(namespace: string, name: string, opts?: PodLogOptions): Promise<string>;
  /** A CustomResourceDefinition by name (apiextensions.k8s.io/v1), e.g. `targetgroupbindings.elbv2.k8s.aws`; 404 when absent. */
  getCustomResourceDefinition(name: string): Promise<KObject>;
  /** The MutatingWebhookConfigurations (admissionregistration.k8s.io/v1): where the readiness-gate injection webhook is registered. */
  listMutatingWebhookConfigurations(): Promise<KObject[]>;
  /** Whether the caller may do what `attrs` say: a SelfSubjectAccessReview (authorization.k8s.io/v1), which changes nothing. */
  accessReview(attrs: AccessAttributes): Promise<AccessAnswer>;
  /** Watches pods until the signal aborts; reconnects from the last resourceVersion on a dropped stream. */
  watchPods(namespace: string, labelSelector: string, onEvent: (e: PodEvent) => void, signal: AbortSignal): Promise<void>;
}

/** One target's health, as DescribeTargetHealth returns it. */
export interface TargetHealthRow {
  id: string;
  port: number;
  state: string;
  reason?: string;
}

/** What the harness needs of ELBv2. */
export interface Elbv2Port {
  /** The target group of an Ingress-managed ALB, found by the controller's tags. */
  findTargetGroupByTags(tags: Record<string, string>): Promise<string | undefined>;
  describeTargetHealth(targetGroupArn: string): Promise<TargetHealthRow[]>;
  getAttributes(targetGroupArn: string): Promise<Record<string, string>>;
  /** The target group's tags (DescribeTags), e.g. the controller's `ingress.k8s.aws/resource`. */
  targetGroupTags(targetGroupArn: string): Promise<Record<string, string>>;
  /** The target group's own health check, as DescribeTargetGroups shows it (what the ALB probes with). */
  getHealthCheck(targetGroupArn: string): Promise<TargetGroupHealthCheck>;
  modifyAttributes(targetGroupArn: string, attributes: Record<string, string>): Promise<Record<string, string>>;
  /** The load balancers with these ARNs (DescribeLoadBalancers). */
  describeLoadBalancers(loadBalancerArns: string[]): Promise<LoadBalancerInfo[]>;
  /** A load balancer's listeners with their default actions (DescribeListeners, all pages). */
  describeListeners(loadBalancerArn: string): Promise<ListenerInfo[]>;
  /** A listener's rules, the default rule included (DescribeRules, all pages). */
  describeRules(listenerArn: string): Promise<ListenerRule[]>;
  /** The load balancers that forward to the target group (DescribeTargetGroups LoadBalancerArns). */
  loadBalancersOf(targetGroupArn: string): Promise<string[]>;
  /** A load balancer's attributes, e.g. `access_logs.s3.enabled`, `access_logs.s3.bucket`, `access_logs.s3.prefix`. */
  describeLoadBalancerAttributes(loadBalancerArn: string): Promise<Record<string, string>>;
}

/** A target group's health check: the fields the health-check axes set. */
export interface TargetGroupHealthCheck {
  intervalSeconds: number;
  timeoutSeconds: number;
  healthyThresholdCount: number;
  unhealthyThresholdCount: number;
  path: string;
}

/** A load balancer as DescribeLoadBalancers shows it. */
export interface LoadBalancerInfo {
  arn: string;
  name: string;
  /** Where clients connect: the DNS name in AWS, a loopback address on the twin. */
  dnsName: string;
}

/** A listener as DescribeListeners shows it. */
export interface ListenerInfo {
  arn: string;
  loadBalancerArn: string;
  port: number;
  /** HTTP or HTTPS. */
  protocol: string;
  defaultActions: RuleAction[];
}

/** One action of a listener or rule (ELBv2 Action), reduced to what decides where a request goes. */
export interface RuleAction {
  /** forward, redirect, fixed-response, authenticate-oidc, authenticate-cognito, … */
  type: string;
  order?: number;
  /** forward: the target groups and their weights (TargetGroupArn alone is one group of weight 1). */
  targetGroups?: Array<{ arn: string; weight?: number }>;
  /** redirect: the status code, e.g. HTTP_301. */
  redirectStatus?: string;
  /** fixed-response: the status code, e.g. 404. */
  fixedStatus?: string;
}

/** A listener rule as DescribeRules shows it. */
export interface ListenerRule {
  arn: string;
  /** A number as a string, or "default" for the default rule. */
  priority: string;
  isDefault: boolean;
  /** host-header values (HostHeaderConfig.Values or the legacy Values); empty: any host. */
  hosts: string[];
  /** path-pattern values; empty: any path. */
  paths: string[];
  /** The fields of the other conditions (http-header, query-string, http-request-method, source-ip), which the harness cannot count on meeting. */
  otherConditions: string[];
  actions: RuleAction[];
}

/** One object of a bucket, as a listing returns it. */
export interface StoredObject {
  key: string;
  size: number;
  /** ISO 8601, when the store says. */
  lastModified?: string;
}

/** What the harness needs of S3: reading the load balancer's access-log objects. */
export interface AccessLogStore {
  /** Every object under `prefix` (all pages), in key order; only keys after `startAfter` when given. */
  listObjects(bucket: string, prefix: string, startAfter?: string): Promise<StoredObject[]>;
  /** An object's bytes (as stored: the ALB's are gzip). */
  getObject(bucket: string, key: string): Promise<Uint8Array>;
}

/** What `--results-s3` needs of S3: listing and reading a run's objects, and writing them. */
export interface ResultsStore extends AccessLogStore {
  /** Stores (or replaces) one object. */
  putObject(bucket: string, key: string, body: Uint8Array, contentType: string): Promise<void>;
}

/** One CloudWatch metric to read, e.g. AWS/ApplicationELB HTTPCode_ELB_5XX_Count by LoadBalancer, Sum per 60 s. */
export interface MetricQuery {
  /** Lower-case id of the query (GetMetricData `Id`). */
  id: string;
  namespace: string;
  metricName: string;
  dimensions: Record<string, string>;
  stat: string;
  periodSeconds: number;
}

/** What came back for one query: datapoints in time order. */
export interface MetricSeries {
  id: string;
  label?: string;
  /** Epoch ms of each period's start. */
  timestamps: number[];
  values: number[];
  /** Complete, PartialData, InternalError, Forbidden. */
  status?: string;
}

/** What the harness needs of CloudWatch. */
export interface Metrics {
  /** GetMetricData over [startMs, endMs) for the queries (all pages). */
  getMetricData(queries: MetricQuery[], startMs: number, endMs: number): Promise<MetricSeries[]>;
}

/** A load balancer ARN's parts: `arn:aws:elasticloadbalancing:<region>:<account>:loadbalancer/app/<name>/<id>`. */
export function parseLoadBalancerArn(arn: string): { region: string; account: string; name: string; id: string; resource: string } | undefined {
  const m = /^arn:[^:]+:elasticloadbalancing:([^:]+):(\d+):loadbalancer\/(app\/([^/]+)\/([0-9a-f]+))$/.exec(arn);
  return m ? { region: m[1], account: m[2], resource: m[3], name: m[4], id: m[5] } : undefined;
}

/** An EC2 instance as the harness sees it. */
export interface InstanceInfo {
  instanceId: string;
  state: string;
  lifecycle: 'spot' | 'on-demand';
  zone?: string;
}

/** What the harness needs of EC2. */
export interface Ec2Port {
  describeInstance(instanceId: string): Promise<InstanceInfo | undefined>;
  terminateInstance(instanceId: string): Promise<void>;
}

/** How a DryRun request ended: AWS answers DryRunOperation when allowed, UnauthorizedOperation when not. */
export type DryRunOutcome = { allowed: true } | { allowed: false; code: string; message: string };

/** Harmless AWS calls that show what the identity may do, for preflight: nothing they call changes anything. */
export interface AwsAccessPort {
  /** STS GetCallerIdentity (needs no permission: it fails only without valid credentials). */
  callerIdentity(): Promise<{ account: string; arn: string; userId: string }>;
  /** EC2 TerminateInstances with DryRun on one instance. */
  dryRunTerminate(instanceId: string): Promise<DryRunOutcome>;
  /** S3 ListObjectsV2 with MaxKeys 1 on a prefix: the first key, if any (not every page, as reading logs does). */
  firstObject(bucket: string, prefix: string): Promise<string | undefined>;
  /** S3 HeadObject (what s3:GetObject allows, without the body). */
  headObject(bucket: string, key: string): Promise<void>;
}

/** The instance id in a node's `spec.providerID` (`aws:///us-east-1a/i-0abc…`). */
export function instanceIdOf(providerId: string | undefined): string | undefined {
  return /\/(i-[0-9a-f]+)$/.exec(providerId ?? '')?.[1];
}

/** An AWS FIS experiment's state, as GetExperiment shows it. */
export interface FisExperimentState {
  id: string;
  /** pending, initiating, running, completed, stopping, stopped, failed, cancelled. */
  status: string;
  reason?: string;
}

/** One `aws:ec2:send-spot-instance-interruptions` experiment template: on which instance, when, with which role and tags. */
export interface SpotInterruptionTemplate {
  /** `arn:<partition>:ec2:<region>:<account>:instance/<id>`. */
  instanceArn: string;
  /** ISO 8601, PT2M..PT15M. */
  durationBeforeInterruption: string;
  /** The experiment role FIS assumes (passed with iam:PassRole). */
  roleArn: string;
  description: string;
  tags: Record<string, string>;
  /** Idempotency token: a retried create makes one template. */
  clientToken: string;
}

/** What the harness needs of AWS FIS: a spot interruption experiment, and finding and deleting its templates. */
export interface FisPort {
  /** CreateExperimentTemplate (stop condition `none`); resolves with the template id. */
  createSpotInterruptionTemplate(template: SpotInterruptionTemplate): Promise<string>;
  /** StartExperiment; resolves with the experiment's first state. */
  startExperiment(templateId: string, clientToken: string, tags: Record<string, string>): Promise<FisExperimentState>;
  getExperiment(experimentId: string): Promise<FisExperimentState>;
  /** DeleteExperimentTemplate; false when it was already gone. */
  deleteTemplate(templateId: string): Promise<boolean>;
  /** The ids of the templates carrying the tag `key`=`value` (ListExperimentTemplates, all pages). */
  listTemplatesByTag(key: string, value: string): Promise<string[]>;
}

/** Capacity the harness adds when it plays a handler that launches a replacement. */
export interface CapacityPort {
  /** Launches one instance like `like` (same zone, instance type, capacity type) as `handler`'s node would join;
   *  resolves with its instance id (the Node joins later: wait for it through KubernetesPort). */
  launchReplacement(like: { nodeName: string; instanceId: string }, handler: 'karpenter' | 'managed-nodegroup'): Promise<{ instanceId: string }>;
}

/** What the k6-operator traffic driver needs of the cluster: its TestRun, the script's ConfigMap, the runner pods and their logs. */
export interface K6OperatorPort {
  createConfigMap(namespace: string, body: KObject): Promise<KObject>;
  /** False when it was not there. */
  deleteConfigMap(namespace: string, name: string): Promise<boolean>;
  createTestRun(namespace: string, body: KObject): Promise<KObject>;
  getTestRun(namespace: string, name: string): Promise<KObject>;
  /** Deletes it and, in the background, what it owns (its runner Jobs and their pods); false when it was not there. */
  deleteTestRun(namespace: string, name: string): Promise<boolean>;
  listTestRuns(namespace: string, labelSelector: string): Promise<KObject[]>;
  listPods(namespace: string, labelSelector: string): Promise<KObject[]>;
  /** Deletes a pod (its container gets SIGTERM and its grace period); false when it was not there. */
  deletePod(namespace: string, name: string): Promise<boolean>;
  /** Follows a container's log (`pods/log?follow=true`) until it ends or `signal` aborts, handing each chunk of text to `onText`. */
  followPodLog(namespace: string, name: string, container: string, onText: (text: string) => void, signal: AbortSignal): Promise<void>;
}
