/**
 * Connecting to the target: the local twin (started in-process, reached over its wire APIs like any
 * cluster) or a real cluster through a kubeconfig context. Safety checks happen here, before
 * anything is changed: the context must be allowed by the spec and the namespace must carry the
 * opt-in label.
 */
import path from 'node:path';
import { scaledClock, type Clock } from '../core/clock.ts';
import { EnvironmentError, SafetyError } from '../core/errors.ts';
import { createEc2Adapter } from '../platform/ec2/adapter.ts';
import { createElbv2Adapter, type AwsClientOptions } from '../platform/elbv2/adapter.ts';
import { createKubernetesAdapter, loadKubeConfig, statusOf } from '../platform/kubernetes/adapter.ts';
import type { Ec2Port, Elbv2Port, KObject, KubernetesPort } from '../platform/ports.ts';
import { ingressOf, type Spec } from '../spec/schema.ts';
import type { AccessLogRecord } from '../twin/alb/types.ts';
import { defaultConfigPath, loadTwinConfig } from '../twin/config.ts';
import { startTwin, type Twin } from '../twin/twin.ts';

/** The label a namespace must carry before a run changes anything in it. */
export const ALLOWED_LABEL = 'rollout-harness.io/allowed';

/** A connected target: ports, names, and (on the twin) the twin itself. */
export interface Target {
  kind: 'twin' | 'cluster';
  k8s: KubernetesPort;
  elbv2: Elbv2Port;
  ec2: Ec2Port;
  /** Model time: the twin's scaled clock, or real time. */
  clock: Clock;
  namespace: string;
  deployment: string;
  ingress?: string;
  /** The TargetGroupBinding that registers the Deployment's pods. */
  bindingName?: string;
  targetGroupArn: string;
  labelSelector: string;
  /** Where traffic goes. */
  url: string;
  twin?: Twin;
  /** Access-log records of the twin's ALB, as they come (twin only). */
  accessLog?: AccessLogRecord[];
  close(): Promise<void>;
}

function labelSelectorOf(d: KObject): string {
  const labels: Record<string, string> = d.spec?.selector?.matchLabels ?? {};
  if (!Object.keys(labels).length) throw new EnvironmentError(`deployment ${d.metadata?.name} has no spec.selector.matchLabels`);
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

/** Finds the binding (and its target group) for the Deployment's pods. */
async function findBinding(k8s: KubernetesPort, spec: Spec['target'], d: KObject): Promise<{ name: string; arn: string }> {
  const bindings = await k8s.listTargetGroupBindings(spec.namespace);
  let candidates = bindings;
  if (spec.targetGroupBinding) candidates = bindings.filter((b) => b.metadata?.name === spec.targetGroupBinding);
  else if (spec.ingress) candidates = bindings.filter((b) => b.metadata?.labels?.['ingress.k8s.aws/stack-name'] === spec.ingress || b.metadata?.labels?.['ingress.k8s.aws/stack'] === `${spec.namespace}.${spec.ingress}`);
  const podLabels: Record<string, string> = d.spec?.template?.metadata?.labels ?? {};
  for (const b of candidates) {
    const svc = await k8s.getService(spec.namespace, b.spec?.serviceRef?.name).catch(() => undefined);
    const selector: Record<string, string> = svc?.spec?.selector ?? {};
    if (Object.keys(selector).length && Object.entries(selector).every(([k, v]) => podLabels[k] === v)) {
      return { name: b.metadata?.name ?? '', arn: b.spec?.targetGroupARN };
    }
  }
  const what = spec.targetGroupBinding ? `TargetGroupBinding ${spec.targetGroupBinding}` : `a TargetGroupBinding of ingress ${spec.ingress}`;
  throw new EnvironmentError(`Found no ${what} in namespace ${spec.namespace} whose service selects the pods of deployment ${spec.deployment}`);
}

/** Connects to the spec's target; for the twin, starts it first. */
export async function connectTarget(spec: Spec, opts: { resultsDir: string; log: (line: string) => void }): Promise<Target> {
  const t = spec.target;
  if (!t.context) {
    const twinSpec = t.twin ?? {};
    const configFile = twinSpec.config ? path.resolve(twinSpec.config) : defaultConfigPath;
    const config = await loadTwinConfig(configFile, { timeScale: twinSpec.timeScale, seed: twinSpec.seed });
    if (twinSpec.app?.env) {
      for (const obj of config.objects as Array<{ kind?: string; metadata?: { name?: string; namespace?: string }; spec?: { template?: { spec?: { containers?: Array<{ env?: Array<{ name: string; value?: string }> }> } } } }>) {
        if (obj.kind !== 'Deployment' || obj.metadata?.name !== t.deployment) continue;
        const c = obj.spec?.template?.spec?.containers?.[0];
        if (!c) continue;
        const env = (c.env ?? []).filter((e) => !(e.name in twinSpec.app!.env));
        c.env = [...env, ...Object.entries(twinSpec.app.env).map(([name, value]) => ({ name, value }))];
      }
    }
    const accessLog: AccessLogRecord[] = [];
    const twin = await startTwin({ config, stateDir: path.join(opts.resultsDir, 'twin'), log: opts.log, onAccessLog: (r) => accessLog.push(r) });
    try {
      const kc = loadKubeConfig(twin.endpoints.kubeconfig);
      const aws: AwsClientOptions = { region: twin.endpoints.region, endpoint: twin.endpoints.awsApiUrl, credentials: { accessKeyId: 'twin', secretAccessKey: 'twin' } };
      const k8s = createKubernetesAdapter(kc, twin.clock);
      const ingress = ingressOf(t);
      const d = await k8s.getDeployment(t.namespace, t.deployment);
      const binding = await findBinding(k8s, { ...t, ingress }, d);
      return {
        kind: 'twin',
        k8s,
        elbv2: createElbv2Adapter(aws),
        ec2: createEc2Adapter(aws),
        clock: twin.clock,
        namespace: t.namespace,
        deployment: t.deployment,
        ingress,
        bindingName: binding.name,
        targetGroupArn: binding.arn,
        labelSelector: labelSelectorOf(d),
        url: t.url ?? twin.endpoints.albUrl,
        twin,
        accessLog,
        close: () => twin.stop(),
      };
    } catch (error) {
      await twin.stop();
      throw error;
    }
  }

  const context = t.context;
  if (!t.allowedContexts?.includes(context)) throw new SafetyError(`The context "${context}" is not in target.allowedContexts; refusing to change it`);
  const kc = loadKubeConfig(t.kubeconfig, context);
  const clock = scaledClock(1);
  const k8s = createKubernetesAdapter(kc, clock);
  let ns: KObject;
  try {
    ns = await k8s.getNamespace(t.namespace);
  } catch (cause) {
    throw new EnvironmentError(`Cannot read namespace ${t.namespace} in context ${context}: ${statusOf(cause) ?? (cause as Error).message}`, { cause });
  }
  if (ns.metadata?.labels?.[ALLOWED_LABEL] !== 'true') {
    throw new SafetyError(`Namespace ${t.namespace} does not carry the label ${ALLOWED_LABEL}=true; label it to allow rollout-harness to change it`);
  }
  const d = await k8s.getDeployment(t.namespace, t.deployment);
  const binding = await findBinding(k8s, t, d);
  let url = t.url;
  if (!url && t.ingress) {
    const host = (await k8s.getIngress(t.namespace, t.ingress)).status?.loadBalancer?.ingress?.[0]?.hostname;
    if (host) url = `http://${host}`;
  }
  if (!url) throw new EnvironmentError('Cannot tell where to send traffic: set target.url, or use an Ingress with a load balancer hostname');
  return {
    kind: 'cluster',
    k8s,
    elbv2: createElbv2Adapter({ region: t.region, endpoint: t.endpoints.elbv2 }),
    ec2: createEc2Adapter({ region: t.region, endpoint: t.endpoints.ec2 }),
    clock,
    namespace: t.namespace,
    deployment: t.deployment,
    ingress: t.ingress,
    bindingName: binding.name,
    targetGroupArn: binding.arn,
    labelSelector: labelSelectorOf(d),
    url,
    close: async () => {},
  };
}
