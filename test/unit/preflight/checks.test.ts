/** preflight's checks on stand-in ports: one line per check, what to grant on each failure, exit 3 on any; `run` refuses with the same list. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { stringify } from 'yaml';
import { preflightCommand } from '../../../harness/cli/preflight.ts';
import { runCommand } from '../../../harness/cli/run.ts';
import { ApiError, ExitCode } from '../../../harness/core/errors.ts';
import { parseSpec } from '../../../harness/matrix/load.ts';
import { renderChecklist, runPreflight, type CheckLine, type PreflightPorts } from '../../../harness/preflight/checks.ts';
import { describeKube, permissionsOf, type KubePermission } from '../../../harness/preflight/permissions.ts';
import type { AccessAttributes, AwsAccessPort, Ec2Port, Elbv2Port, FisPort, KubernetesPort, Metrics } from '../../../harness/platform/ports.ts';

const TG = 'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123456789abcdef';
const LB = 'arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web/0123456789abcdef';
const input = {
  target: { context: 'staging', allowedContexts: ['staging'], ingress: 'web' },
  traffic: { driver: 'builtin' },
  matrix: { preStopSeconds: [0], terminationGracePeriodSeconds: [30], readinessGate: [true], deregistrationDelaySeconds: [300] },
  disruptions: ['rollout', 'spot'],
};
const spec = parseSpec(input).spec;
const hint = { rbac: 'rollout-harness permissions spec.yaml --format rbac', iam: 'rollout-harness permissions spec.yaml --format iam' };

interface World {
  /** `verb resource namespace` keys the review denies (describeKube's text). */
  deniedKube?: string[];
  terminateAllowed?: boolean;
  metricsDenied?: boolean;
  label?: string;
  /** Status of every review (404: the server does not serve it). */
  reviewStatus?: number;
  locateError?: string;
  /** No MutatingWebhookConfiguration carries the readiness-gate webhook. */
  noWebhook?: boolean;
  /** The server does not serve CRDs or webhook configurations (the twin). */
  controllerUnserved?: boolean;
}

/** Stand-in ports for a cluster: what the review was asked is recorded. */
function ports(world: World = {}): PreflightPorts & { asked: AccessAttributes[] } {
  const asked: AccessAttributes[] = [];
  const k8s = {
    context: 'staging',
    getNamespace: async (name: string) => ({ metadata: { name, labels: world.label === undefined ? { 'rollout-harness.io/allowed': 'true' } : { 'rollout-harness.io/allowed': world.label } } }),
    listNodes: async () => [{ metadata: { name: 'node-spot', labels: { 'eks.amazonaws.com/capacityType': 'SPOT' } }, spec: { providerID: 'aws:///us-east-1a/i-0a1b2c3d4e5f60002' } }],
    getCustomResourceDefinition: async (name: string) => {
      if (world.controllerUnserved) throw new ApiError('Kubernetes API getCustomResourceDefinition: expected an answer, got 404: the server could not find the requested resource', 404);
      return { metadata: { name }, spec: { versions: [{ name: 'v1alpha1', served: false }, { name: 'v1beta1', served: true }] } };
    },
    listMutatingWebhookConfigurations: async () => {
      if (world.controllerUnserved) throw new ApiError('Kubernetes API listMutatingWebhookConfigurations: expected an answer, got 404: the server could not find the requested resource', 404);
      return [{ metadata: { name: 'other' }, webhooks: [{ name: 'x.example.com' }] }, ...(world.noWebhook ? [] : [{ metadata: { name: 'aws-load-balancer-webhook' }, webhooks: [{ name: 'mpod.elbv2.k8s.aws' }, { name: 'mtargetgroupbinding.elbv2.k8s.aws' }] }])];
    },
    accessReview: async (a: AccessAttributes) => {
      asked.push(a);
      if (world.reviewStatus) throw new ApiError(`Kubernetes API accessReview: expected an answer, got ${world.reviewStatus}`, world.reviewStatus);
      const text = describeKube({ api: 'kubernetes', why: '', ...a });
      return world.deniedKube?.includes(text) ? { allowed: false, reason: '' } : { allowed: true, reason: 'RBAC: allowed by ClusterRoleBinding "rollout-harness"' };
    },
  } as unknown as KubernetesPort;
  const elbv2 = {
    loadBalancersOf: async () => [LB],
    describeListeners: async () => [{ arn: `${LB}/listener`, loadBalancerArn: LB, port: 80, protocol: 'HTTP', defaultActions: [] }],
    describeRules: async () => [{}],
    describeTargetHealth: async () => [{ id: '127.0.1.1', port: 8080, state: 'healthy' }],
    getAttributes: async () => ({ 'deregistration_delay.timeout_seconds': '300' }),
    targetGroupTags: async () => ({ 'ingress.k8s.aws/resource': 'shop/web-web:80' }),
    describeLoadBalancers: async () => [{ arn: LB, name: 'web', dnsName: 'web.example' }],
    describeLoadBalancerAttributes: async () => ({ 'access_logs.s3.enabled': 'true', 'access_logs.s3.bucket': 'alb-logs', 'access_logs.s3.prefix': 'web' }),
  } as unknown as Elbv2Port;
  const access: AwsAccessPort = {
    callerIdentity: async () => ({ account: '123456789012', arn: 'arn:aws:sts::123456789012:assumed-role/rollout-harness/nightly', userId: 'AROAEXAMPLE' }),
    dryRunTerminate: async () => (world.terminateAllowed === false ? { allowed: false, code: 'UnauthorizedOperation', message: 'You are not authorized to perform this operation.' } : { allowed: true }),
    firstObject: async () => 'web/AWSLogs/123456789012/elasticloadbalancing/us-east-1/2026/12/03/log.gz',
    headObject: async () => {},
  };
  const metrics = {
    getMetricData: async () => {
      if (world.metricsDenied) throw new ApiError('CloudWatch getMetricData: expected an answer, got 403 AccessDenied: User is not authorized to perform: cloudwatch:GetMetricData', 403);
      return [{ id: 'requests', timestamps: [0], values: [5] }];
    },
  } as unknown as Metrics;
  return {
    asked,
    kind: 'cluster',
    context: 'staging',
    k8s,
    elbv2,
    ec2: { describeInstance: async (id: string) => ({ instanceId: id, state: 'running', lifecycle: 'spot' }) } as unknown as Ec2Port,
    access,
    metrics,
    fis: { listTemplatesByTag: async () => [] } as unknown as FisPort,
    locate: async () => {
      if (world.locateError) throw new Error(world.locateError);
      return { targetGroupArns: [TG] };
    },
    driver: async () => ({ ok: true, detail: 'Using the built-in driver because the spec asks for driver: builtin.' }),
    now: () => Date.UTC(2026, 11, 3),
  };
}

const failed = (lines: CheckLine[]) => lines.filter((l) => l.status === 'fail');

describe('runPreflight', () => {
  it('passes every check a permitted identity has, and asks the review exactly the list', async () => {
    const p = ports();
    const lines = await runPreflight(spec, p, hint);
    expect(failed(lines)).toEqual([]);
    const kube = permissionsOf(spec).filter((x): x is KubePermission => x.api === 'kubernetes');
    expect(p.asked.map((a) => describeKube({ api: 'kubernetes', why: '', ...a }))).toEqual(kube.map(describeKube));
    expect(lines.find((l) => l.check === 'aws: ec2:TerminateInstances')).toMatchObject({ status: 'pass', detail: 'DryRun on i-0a1b2c3d4e5f60002: DryRunOperation (allowed)' });
    // The load balancer's log prefix, as the ALB writes under it: <prefix>/AWSLogs/.
    expect(lines.find((l) => l.check === 'aws: s3:ListBucket')?.detail).toBe('s3://alb-logs/web/AWSLogs/: first object web/AWSLogs/123456789012/elasticloadbalancing/us-east-1/2026/12/03/log.gz');
    expect(lines.find((l) => l.check.startsWith('AWS identity'))?.detail).toBe('arn:aws:sts::123456789012:assumed-role/rollout-harness/nightly (account 123456789012)');
    // Not harmless to call: said so, not failed.
    expect(lines.find((l) => l.check === 'aws: elasticloadbalancing:ModifyTargetGroupAttributes')?.status).toBe('skip');
  });

  it('a restricted identity: names each missing permission with what to grant', async () => {
    const lines = await runPreflight(spec, ports({ deniedKube: ['patch deployments.apps in namespace shop', 'create pods/eviction cluster-wide'], terminateAllowed: false, metricsDenied: true }), hint);
    expect(failed(lines).map((l) => l.check)).toEqual([
      'kubernetes: patch deployments.apps in namespace shop',
      'kubernetes: create pods/eviction cluster-wide',
      'aws: ec2:TerminateInstances',
      'aws: cloudwatch:GetMetricData',
    ]);
    expect(failed(lines).map((l) => l.grant)).toEqual([
      `patch deployments.apps in namespace shop (${hint.rbac})`,
      `create pods/eviction cluster-wide (${hint.rbac})`,
      `ec2:TerminateInstances (${hint.iam})`,
      `cloudwatch:GetMetricData (${hint.iam})`,
    ]);
    expect(failed(lines)[2].detail).toBe('UnauthorizedOperation: You are not authorized to perform this operation.');
  });

  it('refuses a context not allowed and a namespace not opted in, saying how to fix each', async () => {
    // The spec's own rules refuse such a spec; a spec edited after loading (or another kubeconfig's context) meets the check.
    const lines = await runPreflight({ ...spec, target: { ...spec.target, allowedContexts: ['other'] } }, ports({ label: 'false' }), hint);
    expect(failed(lines)).toEqual([
      { status: 'fail', check: 'context staging allowed', detail: 'not in target.allowedContexts (other)', grant: 'add staging to target.allowedContexts' },
      { status: 'fail', check: 'namespace shop opted in', detail: 'label rollout-harness.io/allowed=false', grant: 'kubectl label namespace shop rollout-harness.io/allowed=true' },
    ]);
  });

  it('missing objects fail once; the calls that need the target group are skipped, not failed', async () => {
    const lines = await runPreflight(spec, ports({ locateError: 'Expected ingress shop/web in context staging, got: it does not exist (404)' }), hint);
    expect(failed(lines).map((l) => l.detail)).toEqual(['Expected ingress shop/web in context staging, got: it does not exist (404)']);
    expect(lines.find((l) => l.check === 'aws: elasticloadbalancing:DescribeTargetHealth')).toMatchObject({ status: 'skip', detail: expect.stringContaining('does not exist (404)') });
  });

  it('with the gate as an axis: the controller\'s CRD and its webhook; a missing webhook fails, a server without the APIs skips', async () => {
    const ok = await runPreflight(spec, ports(), hint);
    expect(ok.filter((l) => /^CRD |^readiness-gate/.test(l.check))).toEqual([
      { status: 'pass', check: 'CRD targetgroupbindings.elbv2.k8s.aws', detail: 'served versions: v1beta1' },
      { status: 'pass', check: 'readiness-gate webhook mpod.elbv2.k8s.aws', detail: 'in MutatingWebhookConfiguration aws-load-balancer-webhook' },
    ]);
    expect(failed(await runPreflight(spec, ports({ noWebhook: true }), hint))).toEqual([expect.objectContaining({ check: 'readiness-gate webhook mpod.elbv2.k8s.aws', grant: expect.stringContaining('AWS Load Balancer Controller') })]);
    const twin = await runPreflight(spec, ports({ controllerUnserved: true }), hint);
    expect(twin.filter((l) => /^CRD |^readiness-gate/.test(l.check)).map((l) => l.status)).toEqual(['skip', 'skip']);
    const off = await runPreflight({ ...spec, matrix: { ...spec.matrix, readinessGate: [false] } }, ports({ noWebhook: true }), hint);
    expect(off.filter((l) => /^CRD |^readiness-gate/.test(l.check))).toEqual([]);
  });

  it("traffic on k6-operator: the TestRun CRD is checked (skipped where CRDs are not served), and a failing driver line says to pin the runner image", async () => {
    const k6op = parseSpec({ ...input, traffic: { driver: 'k6-operator' } }).spec;
    const lines = await runPreflight(k6op, ports(), hint);
    expect(lines.filter((l) => l.check === 'CRD testruns.k6.io')).toEqual([{ status: 'pass', check: 'CRD testruns.k6.io', detail: 'served versions: v1beta1' }]);
    expect((await runPreflight(k6op, ports({ controllerUnserved: true }), hint)).find((l) => l.check === 'CRD testruns.k6.io')?.status).toBe('skip');
    expect(lines.some((l) => l.check === 'kubernetes: create testruns.k6.io in namespace shop' && l.status === 'pass')).toBe(true);
    const refused = await runPreflight(k6op, { ...ports(), driver: async () => ({ ok: false, detail: 'latest' }) }, hint);
    expect(refused.find((l) => l.check === 'traffic driver (k6-operator)')).toMatchObject({ status: 'fail', grant: expect.stringContaining('pin traffic.k6Operator.runnerImage') });
    expect((await runPreflight(spec, ports(), hint)).some((l) => l.check === 'CRD testruns.k6.io')).toBe(false);
  });

  it('a server without SelfSubjectAccessReview: the Kubernetes lines are skipped with why', async () => {
    const p = ports({ reviewStatus: 404 });
    const lines = await runPreflight(spec, p, hint);
    expect(p.asked).toHaveLength(1);
    const kube = lines.filter((l) => l.check.startsWith('kubernetes:'));
    expect(kube.length).toBe(permissionsOf(spec).filter((x) => x.api === 'kubernetes').length);
    expect(new Set(kube.map((l) => l.status))).toEqual(new Set(['skip']));
    expect(kube[0].detail).toMatch(/does not serve SelfSubjectAccessReview \(authorization.k8s.io\/v1\): .*404/);
    expect(kube[1].detail).toBe('not asked: the API server does not serve SelfSubjectAccessReview (above)');
  });

  it('renders one ✓/✗/– line per check and the count', async () => {
    const text = renderChecklist(await runPreflight(spec, ports({ terminateAllowed: false }), hint));
    expect(text).toMatch(/^✓ context staging allowed: in target.allowedContexts$/m);
    expect(text).toMatch(/^✗ aws: ec2:TerminateInstances: UnauthorizedOperation: .*\n {4}grant: ec2:TerminateInstances \(rollout-harness permissions spec.yaml --format iam\)$/m);
    expect(text).toMatch(/^– aws: fis:|^– aws: elasticloadbalancing:ModifyTargetGroupAttributes: not checkable/m);
    expect(text).toMatch(/^1 failed, \d+ passed, \d+ not checkable; nothing was changed\.$/m);
    expect(renderChecklist([{ status: 'pass', check: 'a', detail: 'b' }, { status: 'skip', check: 'c', detail: 'd' }])).toMatch(/\nAll checked passed: 1 passed, 1 not checkable; nothing was changed\.$/);
  });
});

describe('preflight and run on a spec file', () => {
  let dir: string;
  let specFile: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'rh-preflight-'));
    specFile = path.join(dir, 'spec.yaml');
    // A kubeconfig that does not exist: anything past the checks would fail to load it.
    await writeFile(specFile, stringify({ ...input, target: { ...input.target, kubeconfig: path.join(dir, 'missing-kubeconfig') } }));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('preflight --format json: the checks as data, exit 3 on a failure, 0 without', async () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    try {
      expect(await preflightCommand(specFile, { format: 'json' }, { ports: ports({ terminateAllowed: false }) })).toBe(ExitCode.environment);
      const out = JSON.parse(String(log.mock.calls.at(-1)?.[0]));
      expect(out).toMatchObject({ spec: 'matrix', context: 'staging', exitCode: 3 });
      expect(out.checks.filter((c: CheckLine) => c.status === 'fail').map((c: CheckLine) => c.check)).toEqual(['aws: ec2:TerminateInstances']);
      expect(await preflightCommand(specFile, { format: 'text' }, { ports: ports() })).toBe(ExitCode.ok);
    } finally {
      log.mockRestore();
    }
  });

  it('run refuses with exit 3 and the same list before it connects', async () => {
    const err = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      const code = await runCommand(specFile, { resultsDir: path.join(dir, 'results') }, { preflight: ports({ deniedKube: ['patch deployments.apps in namespace shop'] }) });
      expect(code).toBe(ExitCode.environment);
      const said = err.mock.calls.map((c) => String(c[0])).join('\n');
      expect(said).toMatch(/^✗ kubernetes: patch deployments.apps in namespace shop: not allowed$/m);
      expect(said).toContain('rollout-harness: refusing to run: 1 preflight check failed (above)');
    } finally {
      err.mockRestore();
    }
  });
});
