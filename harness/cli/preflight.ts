/**
 * `rollout-harness preflight SPEC` and `rollout-harness permissions SPEC`: the composition root of
 * harness/preflight/ — it builds the real adapters for the spec's context and hands them over. The
 * checks themselves, and the list they check, live in harness/preflight/.
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import { scaledClock } from '../core/clock.ts';
import { ConfigError, exitCodeOf } from '../core/errors.ts';
import { loadSpec } from '../matrix/load.ts';
import { ingressOf, k6OperatorOf, type Spec } from '../matrix/schema.ts';
import { renderChecklist, runPreflight, type CheckLine, type GrantHint, type PreflightPorts } from '../preflight/checks.ts';
import { permissionsOf } from '../preflight/permissions.ts';
import { renderIamPolicy, renderRbac } from '../preflight/render.ts';
import { describeDriver, selectDriver } from '../traffic/index.ts';

/** The formats of `permissions`. */
export const PERMISSION_FORMATS = ['rbac', 'iam', 'json'] as const;

/** Prints what the spec needs: RBAC objects (YAML), an IAM policy (JSON), or the list itself (json). */
export async function permissionsCommand(specFile: string, opts: { format: (typeof PERMISSION_FORMATS)[number]; serviceAccount?: string }): Promise<number> {
  const { spec } = await loadSpec(specFile);
  const perms = permissionsOf(spec);
  if (opts.format === 'json') console.log(JSON.stringify(perms, null, 2));
  else if (opts.format === 'iam') console.log(JSON.stringify(renderIamPolicy(perms), null, 2));
  else {
    const subject = opts.serviceAccount ? parseServiceAccount(opts.serviceAccount) : undefined;
    process.stdout.write(renderRbac(perms, subject ? { subject } : {}));
  }
  return 0;
}

/** `NAMESPACE/NAME` of a ServiceAccount. */
export function parseServiceAccount(value: string): { namespace: string; name: string } {
  const m = /^([a-z0-9][a-z0-9-]{0,62})\/([a-z0-9][a-z0-9.-]{0,252})$/.exec(value);
  if (!m) throw new ConfigError(`--service-account: expected NAMESPACE/NAME (e.g. rollout-harness/rollout-harness), got "${value}"`);
  return { namespace: m[1], name: m[2] };
}

/** The commands that print what to grant, named in the failed lines. */
export function grantHint(specFile: string): GrantHint {
  return { rbac: `rollout-harness permissions ${specFile} --format rbac`, iam: `rollout-harness permissions ${specFile} --format iam` };
}

/**
 * The real ports for the spec's context: built like `connectTarget` builds them for a cluster, but
 * nothing is refused on the way — every problem becomes a line of the checklist.
 */
export async function clusterPreflightPorts(spec: Spec, env: Record<string, string | undefined>, lookup: (host: string) => Promise<unknown> = (h) => dnsLookup(h)): Promise<PreflightPorts> {
  const t = spec.target;
  if (!t.context) throw new ConfigError('target.context: expected the context of the cluster to check (preflight checks a cluster, or a twin started apart with `twin up`); the embedded twin a run starts itself needs no permission');
  const [{ createKubernetesAdapter, loadKubeConfig }, { createElbv2Adapter }, { createEc2Adapter }, { createAwsAccessAdapter }, { createCloudWatchAdapter }, { createFisAdapter }, { resolveRegion }, { connectTopology, need }] = await Promise.all([
    import('../platform/kubernetes/adapter.ts'),
    import('../platform/elbv2/adapter.ts'),
    import('../platform/ec2/adapter.ts'),
    import('../platform/access/adapter.ts'),
    import('../platform/cloudwatch/adapter.ts'),
    import('../platform/fis/adapter.ts'),
    import('../platform/aws-region.ts'),
    import('./connect.ts'),
  ]);
  const clock = scaledClock(1);
  const kc = loadKubeConfig(t.kubeconfig, t.context);
  const k8s = createKubernetesAdapter(kc, clock);
  const { region } = await resolveRegion(t.region, env);
  const elbv2 = createElbv2Adapter({ region, endpoint: t.endpoints.elbv2 });
  return {
    kind: 'cluster',
    context: t.context,
    k8s,
    elbv2,
    ec2: createEc2Adapter({ region, endpoint: t.endpoints.ec2 }),
    access: createAwsAccessAdapter({ region, endpoints: { sts: t.endpoints.sts, ec2: t.endpoints.ec2, s3: t.endpoints.s3 } }),
    metrics: createCloudWatchAdapter({ region, endpoint: t.endpoints.cloudwatch }),
    fis: createFisAdapter({ region, endpoint: t.endpoints.fis }),
    async locate() {
      // In connect's words: what was expected, and what came.
      const d = await need(`deployment ${t.namespace}/${t.deployment} in context ${t.context}`, k8s.getDeployment(t.namespace, t.deployment));
      if (t.ingress) await need(`ingress ${t.namespace}/${t.ingress} in context ${t.context}`, k8s.getIngress(t.namespace, t.ingress));
      const topology = await connectTopology(k8s, elbv2, spec, { names: { ...t, ingress: ingressOf(t) }, deployment: d }, lookup, `in context ${t.context}`);
      return { targetGroupArns: [topology.direct?.targetGroupArn, topology.gateway?.targetGroupArn].filter((a): a is string => a !== undefined) };
    },
    async driver() {
      const choice = await describeDriver(selectDriver(spec.traffic.driver, env), env, clock, k6OperatorOf(spec.traffic));
      return { ok: true, detail: choice.version ? `k6 ${choice.version}: ${choice.reason}` : choice.reason };
    },
    now: () => clock.now(),
  };
}

/** Runs the checks and prints them (text or json); exit 0 when all pass, 3 otherwise. `ports` is injected by tests. */
export async function preflightCommand(specFile: string, opts: { format?: 'text' | 'json' }, deps: { ports?: PreflightPorts; env?: Record<string, string | undefined> } = {}): Promise<number> {
  const { spec } = await loadSpec(specFile);
  const lines = await preflightLines(spec, specFile, deps);
  const code = exitCodeOf({ command: 'preflight', failed: lines.filter((l) => l.status === 'fail').length });
  if (opts.format === 'json') console.log(JSON.stringify({ spec: spec.name, ...(spec.target.context ? { context: spec.target.context } : {}), exitCode: code, checks: lines }, null, 2));
  else console.log(renderChecklist(lines));
  return code;
}

/** The checklist of a loaded spec (what `run` checks first, too). */
export async function preflightLines(spec: Spec, specFile: string, deps: { ports?: PreflightPorts; env?: Record<string, string | undefined> } = {}): Promise<CheckLine[]> {
  const ports = deps.ports ?? (await clusterPreflightPorts(spec, deps.env ?? process.env));
  return runPreflight(spec, ports, grantHint(specFile));
}
