/**
 * The composition root's connection: builds the real adapters (client-node, AWS SDK v3) against
 * the local twin (started in-process, reached over its wire APIs like any cluster) or a real cluster
 * through a kubeconfig context, and hands the orchestrator a `Target` of ports. Safety checks happen
 * here, before anything is changed: the context must be allowed by the spec and the namespace must
 * carry the opt-in label.
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import net from 'node:net';
import path from 'node:path';
import { scaledClock } from '../core/clock.ts';
import { ApiError, EnvironmentError, SafetyError } from '../core/errors.ts';
import { ALLOWED_LABEL } from '../core/labels.ts';
import { delayChannel } from '../orchestrator/settings.ts';
import type { Connect } from '../orchestrator/target.ts';
import { createCloudWatchAdapter } from '../platform/cloudwatch/adapter.ts';
import { createEc2Adapter } from '../platform/ec2/adapter.ts';
import { createS3Adapter } from '../platform/s3/adapter.ts';
import { resolveRegion } from '../platform/aws-region.ts';
import { createElbv2Adapter, type AwsClientOptions } from '../platform/elbv2/adapter.ts';
import { createKubernetesAdapter, loadKubeConfig } from '../platform/kubernetes/adapter.ts';
import type { Elbv2Port, KObject, KubernetesPort } from '../platform/ports.ts';
import { ingressOf, type Spec } from '../matrix/schema.ts';
import { defaultConfigPath, loadTwinConfig } from '../twin/config.ts';
import { startTwin } from '../twin/twin.ts';

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

/** Reads what the run needs; a missing object is an environment error saying what was expected and what came. */
async function need<T>(what: string, read: Promise<T>): Promise<T> {
  try {
    return await read;
  } catch (cause) {
    const came = cause instanceof ApiError && cause.status === 404 ? 'it does not exist (404)' : (cause as Error).message;
    throw new EnvironmentError(`Expected ${what}, got: ${came}`, { cause });
  }
}

/**
 * Where traffic goes: `target.url` when the spec gives one, else the load balancer of the target
 * group itself (DescribeLoadBalancers DNSName with the port and protocol of the listener that
 * forwards to it). Its host must resolve before anything is changed.
 */
export async function trafficUrl(t: Spec['target'], elbv2: Elbv2Port, targetGroupArn: string, lookup: (host: string) => Promise<unknown>): Promise<{ url: string; source: string }> {
  let url = t.url;
  let source = 'target.url';
  if (!url) {
    const listener = await elbv2.listenerOf(targetGroupArn);
    if (!listener) throw new EnvironmentError(`Expected a load balancer listener that forwards to ${targetGroupArn}, got none; set target.url to send traffic elsewhere`);
    const proto = listener.protocol.toLowerCase() === 'https' ? 'https' : 'http';
    const defaultPort = proto === 'https' ? 443 : 80;
    url = `${proto}://${listener.dnsName}${listener.port === defaultPort ? '' : `:${listener.port}`}`;
    source = `load balancer ${listener.loadBalancerName}, ${listener.protocol} listener on port ${listener.port}`;
  }
  const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
  if (!net.isIP(host)) {
    try {
      await lookup(host);
    } catch (cause) {
      throw new EnvironmentError(`Expected the traffic address ${host} (${source}) to resolve, got ${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}; nothing was changed`, { cause });
    }
  }
  return { url, source };
}

/** Connects to the spec's target (for the twin, starts it first); changes nothing. */
export const connectTarget: Connect = async (spec, opts) => {
  const t = spec.target;
  const lookup = opts.lookup ?? ((host: string) => dnsLookup(host));
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
    const twin = await startTwin({ config, stateDir: path.join(opts.resultsDir, 'twin'), log: opts.log });
    try {
      const kc = loadKubeConfig(twin.endpoints.kubeconfig);
      const aws: AwsClientOptions = { region: twin.endpoints.region, endpoint: twin.endpoints.awsApiUrl, credentials: { accessKeyId: 'twin', secretAccessKey: 'twin' } };
      const k8s = createKubernetesAdapter(kc, twin.clock);
      const elbv2 = createElbv2Adapter(aws);
      const ingress = ingressOf(t);
      const d = await need(`deployment ${t.namespace}/${t.deployment} on the twin`, k8s.getDeployment(t.namespace, t.deployment));
      const binding = await findBinding(k8s, { ...t, ingress }, d);
      const { url, source } = await trafficUrl(t, elbv2, binding.arn, lookup);
      return {
        kind: 'twin',
        k8s,
        elbv2,
        ec2: createEc2Adapter(aws),
        clock: twin.clock,
        namespace: t.namespace,
        deployment: t.deployment,
        ingress,
        bindingName: binding.name,
        targetGroupArn: binding.arn,
        labelSelector: labelSelectorOf(d),
        delayVia: delayChannel(spec, ingress),
        url,
        urlSource: source,
        region: twin.endpoints.region,
        regionSource: 'the local twin',
        twin: { timeScale: twin.config.timeScale, seed: twin.config.seed, stateDir: path.dirname(twin.endpoints.envFile), accessLogFile: twin.endpoints.accessLogFile },
        // The twin serves S3 and CloudWatch on its AWS endpoint, like ELBv2 and EC2.
        explain: { store: createS3Adapter({ ...aws, forcePathStyle: true }), metrics: createCloudWatchAdapter(aws) },
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
  const ns = await need(`namespace ${t.namespace} in context ${context}`, k8s.getNamespace(t.namespace));
  if (ns.metadata?.labels?.[ALLOWED_LABEL] !== 'true') {
    throw new SafetyError(`Namespace ${t.namespace} does not carry the label ${ALLOWED_LABEL}=true; label it to allow rollout-harness to change it`);
  }
  const d = await need(`deployment ${t.namespace}/${t.deployment} in context ${context}`, k8s.getDeployment(t.namespace, t.deployment));
  if (t.ingress) await need(`ingress ${t.namespace}/${t.ingress} in context ${context}`, k8s.getIngress(t.namespace, t.ingress));
  const binding = await findBinding(k8s, t, d);
  const { region, source: regionSource } = opts.region ?? (await resolveRegion(t.region, opts.env ?? process.env));
  const elbv2 = createElbv2Adapter({ region, endpoint: t.endpoints.elbv2 });
  const { url, source } = await trafficUrl(t, elbv2, binding.arn, lookup);
  return {
    kind: 'cluster',
    k8s,
    elbv2,
    ec2: createEc2Adapter({ region, endpoint: t.endpoints.ec2 }),
    clock,
    namespace: t.namespace,
    deployment: t.deployment,
    ingress: t.ingress,
    bindingName: binding.name,
    targetGroupArn: binding.arn,
    labelSelector: labelSelectorOf(d),
    delayVia: delayChannel(spec, t.ingress),
    url,
    urlSource: source,
    region,
    regionSource,
    explain: {
      store: createS3Adapter({ region, endpoint: t.endpoints.s3 }),
      metrics: createCloudWatchAdapter({ region, endpoint: t.endpoints.cloudwatch }),
    },
    close: async () => {},
  };
};
