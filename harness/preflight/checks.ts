/**
 * `preflight`: everything a run needs, checked without changing anything — the context and the
 * namespaces' opt-in, the objects, every permission of the spec's list (permissions.ts) by a
 * SelfSubjectAccessReview or a harmless AWS call, the AWS identity, the traffic driver. One line per
 * check; a failed line says what to grant. Ports are injected: the composition root builds them.
 */
import { ALLOWED_LABEL } from '../core/labels.ts';
import type { Spec } from '../matrix/schema.ts';
import { parseLoadBalancerArn, instanceIdOf, type AwsAccessPort, type Ec2Port, type Elbv2Port, type FisPort, type KObject, type KubernetesPort, type Metrics } from '../platform/ports.ts';
import { ApiError } from '../core/errors.ts';
import { describeAws, describeKube, gateOn, logKeyPrefix, namespacesOf, permissionsOf, type AwsPermission, type KubePermission, type Permission } from './permissions.ts';

/** One checklist line: passed, failed, or not checked (with why). */
export interface CheckLine {
  status: 'pass' | 'fail' | 'skip';
  /** What was checked, e.g. `kubernetes: patch deployments.apps in namespace shop`. */
  check: string;
  /** What came: the identity, the object, the API's reason. */
  detail: string;
  /** On a failure: what to grant or change. */
  grant?: string;
  /** The permission checked, when the line is one of the list's. */
  permission?: Permission;
}

/** What preflight talks to (the run's own ports) and how it finds the target's objects. */
export interface PreflightPorts {
  kind: 'twin' | 'cluster';
  /** The context in use (a cluster). */
  context?: string;
  k8s: KubernetesPort;
  elbv2: Elbv2Port;
  ec2: Ec2Port;
  access: AwsAccessPort;
  metrics?: Metrics;
  fis?: FisPort;
  /**
   * Finds the target's objects as connecting does (Deployment, Ingress or TargetGroupBinding,
   * target group, listener): resolves with the target groups of the spec's paths, throws what is missing.
   */
  locate(): Promise<{ targetGroupArns: string[] }>;
  /** The traffic driver: k6 found and supported (or the built-in driver chosen). */
  driver(): Promise<{ ok: boolean; detail: string }>;
  /** Epoch ms now (the CloudWatch probe reads the last five minutes). */
  now(): number;
}

/** The command that prints what to grant, for the failure lines. */
export interface GrantHint {
  rbac: string;
  iam: string;
}

/** True when an AWS or Kubernetes error says the caller lacks the permission (403, AccessDenied, UnauthorizedOperation). */
export function isDenied(error: unknown): boolean {
  const status = error instanceof ApiError ? error.status : undefined;
  return status === 403 || /AccessDenied|UnauthorizedOperation|Forbidden|not authorized/i.test((error as Error)?.message ?? '');
}

const message = (error: unknown) => (error as Error)?.message ?? String(error);

/** Where the facts the AWS probes need come from, gathered once. */
interface Facts {
  targetGroupArn?: string;
  loadBalancerArn?: string;
  listenerArn?: string;
  instanceId?: string;
  logs?: { bucket: string; prefix: string };
  /** Why a fact is missing, for the skipped lines. */
  missing: Record<string, string>;
}

type Probe = (ports: PreflightPorts, facts: Facts) => Promise<string | { skip: string }>;

const needTg = (f: Facts) => f.targetGroupArn ?? thrown(f.missing.targetGroup ?? 'no target group found');
const needLb = (f: Facts) => f.loadBalancerArn ?? thrown(f.missing.loadBalancer ?? 'no load balancer forwards to the target group');
function thrown(why: string): never {
  throw new Skip(why);
}
/** A probe that cannot run (a fact is missing): the line is skipped with why. */
class Skip extends Error {}

const NOT_HARMLESS = (what: string): Probe => async () => ({ skip: `not checkable without a change (${what}); granted by the same policy` });

/** One harmless call per AWS action of the list; an action without one is listed as not checkable. */
const AWS_PROBES: Record<string, Probe> = {
  'elasticloadbalancing:DescribeTargetGroups': async (p, f) => `${(await p.elbv2.loadBalancersOf(needTg(f))).length} load balancer(s) forward to ${needTg(f)}`,
  'elasticloadbalancing:DescribeTargetHealth': async (p, f) => `${(await p.elbv2.describeTargetHealth(needTg(f))).length} target(s)`,
  'elasticloadbalancing:DescribeTargetGroupAttributes': async (p, f) => `deregistration_delay.timeout_seconds=${(await p.elbv2.getAttributes(needTg(f)))['deregistration_delay.timeout_seconds'] ?? '?'}`,
  'elasticloadbalancing:DescribeTags': async (p, f) => `${Object.keys(await p.elbv2.targetGroupTags(needTg(f))).length} tag(s)`,
  'elasticloadbalancing:DescribeLoadBalancers': async (p, f) => `${(await p.elbv2.describeLoadBalancers([needLb(f)]))[0]?.dnsName ?? '?'}`,
  'elasticloadbalancing:DescribeListeners': async (p, f) => `${(await p.elbv2.describeListeners(needLb(f))).length} listener(s)`,
  'elasticloadbalancing:DescribeRules': async (p, f) => `${(await p.elbv2.describeRules(f.listenerArn ?? thrown('the load balancer has no listener'))).length} rule(s)`,
  'elasticloadbalancing:DescribeLoadBalancerAttributes': async (p, f) => `access_logs.s3.enabled=${(await p.elbv2.describeLoadBalancerAttributes(needLb(f)))['access_logs.s3.enabled'] ?? '?'}`,
  'elasticloadbalancing:ModifyTargetGroupAttributes': NOT_HARMLESS('it has no DryRun'),
  'ec2:DescribeInstances': async (p, f) => {
    const id = f.instanceId ?? thrown(f.missing.instance ?? 'no node carries an EC2 instance');
    return `${id}: ${(await p.ec2.describeInstance(id))?.state ?? 'not found'}`;
  },
  'ec2:TerminateInstances': async (p, f) => {
    const id = f.instanceId ?? thrown(f.missing.instance ?? 'no node carries an EC2 instance');
    const out = await p.access.dryRunTerminate(id);
    if (!out.allowed) throw new ApiError(`${out.code}: ${out.message}`, 403);
    return `DryRun on ${id}: DryRunOperation (allowed)`;
  },
  'fis:ListExperimentTemplates': async (p) => {
    if (!p.fis) thrown('no FIS client');
    return `${(await p.fis.listTemplatesByTag('rollout-harness/preflight', 'true')).length} template(s) tagged by the harness`;
  },
  'fis:CreateExperimentTemplate': NOT_HARMLESS('it creates a template'),
  'fis:StartExperiment': NOT_HARMLESS('it starts an experiment'),
  'fis:GetExperiment': NOT_HARMLESS('it needs an experiment'),
  'fis:DeleteExperimentTemplate': NOT_HARMLESS('it needs a template'),
  'fis:TagResource': NOT_HARMLESS('it needs a template'),
  'iam:PassRole': NOT_HARMLESS('only FIS asks for it, when creating a template'),
  's3:ListBucket': async (p, f) => {
    const logs = f.logs ?? thrown(f.missing.logs ?? 'no access-log bucket');
    const key = await p.access.firstObject(logs.bucket, logs.prefix);
    return key ? `s3://${logs.bucket}/${logs.prefix}: first object ${key}` : `s3://${logs.bucket}/${logs.prefix}: no object yet`;
  },
  's3:GetObject': async (p, f) => {
    const logs = f.logs ?? thrown(f.missing.logs ?? 'no access-log bucket');
    const key = await p.access.firstObject(logs.bucket, logs.prefix).catch(() => undefined);
    if (!key) thrown(`no object under s3://${logs.bucket}/${logs.prefix} to read yet`);
    await p.access.headObject(logs.bucket, key);
    return `HeadObject s3://${logs.bucket}/${key}`;
  },
  'cloudwatch:GetMetricData': async (p, f) => {
    if (!p.metrics) thrown('no CloudWatch client');
    const lb = parseLoadBalancerArn(needLb(f));
    if (!lb) thrown(`${needLb(f)} is not an application load balancer's ARN`);
    const now = p.now();
    const series = await p.metrics.getMetricData([{ id: 'requests', namespace: 'AWS/ApplicationELB', metricName: 'RequestCount', dimensions: { LoadBalancer: lb.resource }, stat: 'Sum', periodSeconds: 60 }], now - 300_000, now);
    return `RequestCount of ${lb.resource}: ${series[0]?.values.length ?? 0} datapoint(s) in the last 5 minutes`;
  },
};

/** The AWS actions preflight has a probe for (a test holds every action of every list among them). */
export const PROBED_ACTIONS = Object.keys(AWS_PROBES);

/** Runs every check for the spec; never throws for what it checks (a failure is a line). */
export async function runPreflight(spec: Spec, ports: PreflightPorts, hint: GrantHint): Promise<CheckLine[]> {
  const lines: CheckLine[] = [];
  const t = spec.target;
  if (ports.kind === 'cluster') {
    const context = t.context ?? ports.context ?? '';
    const allowed = t.allowedContexts?.includes(context) ?? false;
    lines.push({ status: allowed ? 'pass' : 'fail', check: `context ${context} allowed`, detail: allowed ? 'in target.allowedContexts' : `not in target.allowedContexts (${(t.allowedContexts ?? []).join(', ') || 'none'})`, ...(allowed ? {} : { grant: `add ${context} to target.allowedContexts` }) });
    for (const ns of namespacesOf(spec)) {
      try {
        const label = (await ports.k8s.getNamespace(ns)).metadata?.labels?.[ALLOWED_LABEL];
        const ok = label === 'true';
        lines.push({ status: ok ? 'pass' : 'fail', check: `namespace ${ns} opted in`, detail: `label ${ALLOWED_LABEL}=${label ?? '(unset)'}`, ...(ok ? {} : { grant: `kubectl label namespace ${ns} ${ALLOWED_LABEL}=true` }) });
      } catch (error) {
        lines.push({ status: 'fail', check: `namespace ${ns} opted in`, detail: message(error), ...(isDenied(error) ? { grant: `get namespaces (${hint.rbac})` } : {}) });
      }
    }
  }
  const facts: Facts = { missing: {} };
  try {
    const { targetGroupArns } = await ports.locate();
    facts.targetGroupArn = targetGroupArns[0];
    lines.push({ status: 'pass', check: 'objects: deployment, ingress or binding, target group, listener', detail: `target group ${targetGroupArns.join(', ')}` });
  } catch (error) {
    facts.missing.targetGroup = `the target's objects were not found: ${message(error)}`;
    lines.push({ status: 'fail', check: 'objects: deployment, ingress or binding, target group, listener', detail: message(error) });
  }
  if (gateOn(spec)) lines.push(...(await controllerLines(ports.k8s)));
  if (spec.traffic.driver === 'k6-operator') lines.push(await crdLine(ports.k8s, TESTRUN_CRD, 'install grafana/k6-operator (its bundle or Helm chart: the TestRun CRD and the operator)'));
  const perms = permissionsOf(spec);
  lines.push(...(await kubeLines(ports.k8s, perms.filter((p): p is KubePermission => p.api === 'kubernetes'), hint)));
  try {
    const id = await ports.access.callerIdentity();
    lines.push({ status: 'pass', check: 'AWS identity (sts:GetCallerIdentity)', detail: `${id.arn} (account ${id.account})` });
  } catch (error) {
    lines.push({ status: 'fail', check: 'AWS identity (sts:GetCallerIdentity)', detail: message(error), grant: 'valid AWS credentials (IRSA, EKS Pod Identity, or the default chain)' });
  }
  await gatherFacts(spec, ports, facts);
  for (const p of perms.filter((x): x is AwsPermission => x.api === 'aws')) lines.push(await awsLine(p, ports, facts, hint));
  const driver = await ports.driver().catch((error: unknown) => ({ ok: false, detail: message(error) }));
  const driverGrant = spec.traffic.driver === 'k6-operator' ? 'pin traffic.k6Operator.runnerImage to a k6 release tag (v0.45 or newer), or name the release in traffic.k6Operator.k6Version' : 'install k6 v0.45 or newer (K6_BIN or PATH), or use traffic.driver: builtin';
  lines.push({ status: driver.ok ? 'pass' : 'fail', check: `traffic driver (${spec.traffic.driver})`, detail: driver.detail, ...(driver.ok ? {} : { grant: driverGrant }) });
  return lines;
}

/** One line per Kubernetes permission, by SelfSubjectAccessReview; a server that does not serve the review gets one skipped line per permission. */
async function kubeLines(k8s: KubernetesPort, perms: KubePermission[], hint: GrantHint): Promise<CheckLine[]> {
  const out: CheckLine[] = [];
  let unserved: string | undefined;
  for (const p of perms) {
    const check = `kubernetes: ${describeKube(p)}`;
    if (unserved) {
      out.push({ status: 'skip', check, detail: unserved, permission: p });
      continue;
    }
    try {
      const a = await k8s.accessReview({ verb: p.verb, group: p.group, resource: p.resource, ...(p.subresource ? { subresource: p.subresource } : {}), ...(p.namespace !== undefined ? { namespace: p.namespace } : {}) });
      const why = a.reason || a.evaluationError;
      out.push(a.allowed ? { status: 'pass', check, detail: why || 'allowed', permission: p } : { status: 'fail', check, detail: why ? `not allowed: ${why}` : 'not allowed', grant: `${describeKube(p)} (${hint.rbac})`, permission: p });
    } catch (error) {
      // Every cluster serves authorization.k8s.io/v1; a server that does not cannot be asked.
      if (error instanceof ApiError && error.status === 404) {
        // Asked once: the first line says what came, the others why they were not asked.
        out.push({ status: 'skip', check, detail: `the API server does not serve SelfSubjectAccessReview (authorization.k8s.io/v1): ${message(error)}`, permission: p });
        unserved = 'not asked: the API server does not serve SelfSubjectAccessReview (above)';
      }
      else out.push({ status: 'fail', check, detail: message(error), permission: p, ...(isDenied(error) ? { grant: `create selfsubjectaccessreviews.authorization.k8s.io (every authenticated user has it by default)` } : {}) });
    }
  }
  return out;
}

/** Whether a CRD is installed, and the versions it serves; `install` says what installs it. */
async function crdLine(k8s: KubernetesPort, name: string, install: string): Promise<CheckLine> {
  const check = `CRD ${name}`;
  try {
    const served = ((await k8s.getCustomResourceDefinition(name)).spec?.versions ?? []).filter((v: { served?: boolean }) => v.served).map((v: { name: string }) => v.name);
    return { status: 'pass', check, detail: `served versions: ${served.join(', ') || 'none'}` };
  } catch (error) {
    if (unserved(error)) return { status: 'skip', check, detail: `the API server does not serve CustomResourceDefinitions (apiextensions.k8s.io/v1): ${message(error)}` };
    return { status: 'fail', check, detail: message(error), grant: isDenied(error) ? 'get customresourcedefinitions.apiextensions.k8s.io cluster-wide' : install };
  }
}

/** grafana/k6-operator's CRD, for `traffic.driver: k6-operator`. */
export const TESTRUN_CRD = 'testruns.k6.io';

/** The AWS Load Balancer Controller's CRD the harness reads, and the webhook that injects the readiness gate into new pods. */
export const TARGET_GROUP_BINDING_CRD = 'targetgroupbindings.elbv2.k8s.aws';
/** The controller's pod mutating webhook (aws-load-balancer-controller `webhooks/core/pod_mutator.go`, chart `webhook.yaml`). */
export const READINESS_GATE_WEBHOOK = 'mpod.elbv2.k8s.aws';

/** True when a 404 says the API is not served at all (the twin), not that the object is missing. */
const unserved = (error: unknown) => error instanceof ApiError && error.status === 404 && /could not find the requested resource/.test(message(error));

/** With the gate as an axis: the controller's CRD and its readiness-gate webhook are there (else no pod would carry the gate). */
async function controllerLines(k8s: KubernetesPort): Promise<CheckLine[]> {
  const out: CheckLine[] = [await crdLine(k8s, TARGET_GROUP_BINDING_CRD, 'install the AWS Load Balancer Controller (its CRDs)')];
  const hook = `readiness-gate webhook ${READINESS_GATE_WEBHOOK}`;
  try {
    const found = (await k8s.listMutatingWebhookConfigurations()).find((c) => ((c as { webhooks?: Array<{ name?: string }> }).webhooks ?? []).some((w) => w.name === READINESS_GATE_WEBHOOK));
    out.push(
      found
        ? { status: 'pass', check: hook, detail: `in MutatingWebhookConfiguration ${found.metadata?.name}` }
        : { status: 'fail', check: hook, detail: 'no MutatingWebhookConfiguration has it: new pods would not get the readiness gate, and the gate cells would measure nothing', grant: 'install the AWS Load Balancer Controller with its webhook (enabled by default in its Helm chart)' },
    );
  } catch (error) {
    if (unserved(error)) out.push({ status: 'skip', check: hook, detail: `the API server does not serve MutatingWebhookConfigurations (admissionregistration.k8s.io/v1): ${message(error)}` });
    else out.push({ status: 'fail', check: hook, detail: message(error), ...(isDenied(error) ? { grant: 'list mutatingwebhookconfigurations.admissionregistration.k8s.io cluster-wide' } : {}) });
  }
  return out;
}

/** The facts the AWS probes need: the load balancer and a listener of the target group, an instance to DryRun, the access-log bucket. */
async function gatherFacts(spec: Spec, ports: PreflightPorts, facts: Facts): Promise<void> {
  if (facts.targetGroupArn) {
    try {
      facts.loadBalancerArn = (await ports.elbv2.loadBalancersOf(facts.targetGroupArn))[0];
      if (facts.loadBalancerArn) facts.listenerArn = (await ports.elbv2.describeListeners(facts.loadBalancerArn))[0]?.arn;
    } catch (error) {
      facts.missing.loadBalancer = `the load balancer could not be read: ${message(error)}`;
    }
  }
  try {
    facts.instanceId = instanceToProbe(spec, await ports.k8s.listNodes());
    if (!facts.instanceId) facts.missing.instance = 'no node the disruptions choose carries an EC2 providerID (aws:///<zone>/i-…)';
  } catch (error) {
    facts.missing.instance = `the nodes could not be listed: ${message(error)}`;
  }
  const logs = spec.explain.accessLogs ?? spec.explain.enableAccessLogs;
  if (logs) facts.logs = { bucket: logs.bucket, prefix: logKeyPrefix(logs.prefix) };
  else if (facts.loadBalancerArn) {
    try {
      const a = await ports.elbv2.describeLoadBalancerAttributes(facts.loadBalancerArn);
      if (a['access_logs.s3.enabled'] === 'true' && a['access_logs.s3.bucket']) facts.logs = { bucket: a['access_logs.s3.bucket'], prefix: logKeyPrefix(a['access_logs.s3.prefix'] ?? '') };
      else facts.missing.logs = "the load balancer's access logs are off (access_logs.s3.enabled) and the spec names no explain.accessLogs or explain.enableAccessLogs";
    } catch (error) {
      facts.missing.logs = `the load balancer's attributes could not be read: ${message(error)}`;
    }
  } else facts.missing.logs = facts.missing.loadBalancer ?? facts.missing.targetGroup ?? 'no load balancer found';
}

/** The instance a node disruption would end: a spot node's when the spec picks spot nodes, else any node's with a providerID. */
export function instanceToProbe(spec: Spec, nodes: KObject[]): string | undefined {
  const named = spec.disruptions.flatMap((d) => (d.kind !== 'rollout' && d.node.startsWith('node:') ? [d.node.slice(5)] : []));
  const ordered = [...nodes.filter((n) => named.includes(n.metadata?.name ?? '')), ...nodes];
  return ordered.map((n) => instanceIdOf(n.spec?.providerID)).find((id) => id !== undefined);
}

async function awsLine(p: AwsPermission, ports: PreflightPorts, facts: Facts, hint: GrantHint): Promise<CheckLine> {
  const check = `aws: ${describeAws(p)}`;
  const probe = AWS_PROBES[p.action];
  if (!probe) return { status: 'skip', check, detail: 'no harmless call checks it', permission: p };
  try {
    const out = await probe(ports, facts);
    return typeof out === 'string' ? { status: 'pass', check, detail: out, permission: p } : { status: 'skip', check, detail: out.skip, permission: p };
  } catch (error) {
    if (error instanceof Skip) return { status: 'skip', check, detail: error.message, permission: p };
    return { status: 'fail', check, detail: message(error), permission: p, ...(isDenied(error) ? { grant: `${describeAws(p)} (${hint.iam})` } : {}) };
  }
}

const MARK = { pass: '✓', fail: '✗', skip: '–' } as const;

/** The checklist as text: one line per check, then how many failed. */
export function renderChecklist(lines: CheckLine[]): string {
  const out = lines.map((l) => `${MARK[l.status]} ${l.check}: ${l.detail}${l.grant ? `\n    grant: ${l.grant}` : ''}`);
  const failed = lines.filter((l) => l.status === 'fail').length;
  const skipped = lines.filter((l) => l.status === 'skip').length;
  const passed = lines.length - failed - skipped;
  out.push('', `${failed ? `${failed} failed, ` : 'All checked passed: '}${passed} passed, ${skipped} not checkable; nothing was changed.`);
  return out.join('\n');
}
