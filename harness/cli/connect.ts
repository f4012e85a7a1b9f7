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
import type { Connect, Target } from '../orchestrator/target.ts';
import { chooseTrafficAddress, readRouting } from '../orchestrator/traffic-address.ts';
import { createCloudWatchAdapter } from '../platform/cloudwatch/adapter.ts';
import { createEc2Adapter } from '../platform/ec2/adapter.ts';
import { createFisAdapter } from '../platform/fis/adapter.ts';
import { createEc2CapacityAdapter } from '../platform/ec2/capacity.ts';
import { createClusterCapacityAdapter } from '../platform/kubernetes/capacity.ts';
import { createS3Adapter } from '../platform/s3/adapter.ts';
import { resolveRegion } from '../platform/aws-region.ts';
import { createElbv2Adapter, type AwsClientOptions } from '../platform/elbv2/adapter.ts';
import { createKubernetesAdapter, loadKubeConfig } from '../platform/kubernetes/adapter.ts';
import { createK6OperatorAdapter } from '../platform/kubernetes/k6-operator.ts';
import type { Elbv2Port, KObject, KubernetesPort } from '../platform/ports.ts';
import { gatewayOf, ingressOf, type Spec } from '../matrix/schema.ts';
import { topologiesOf } from '../matrix/expand.ts';
import type { TargetTopology, TrafficPath } from '../orchestrator/topology.ts';
import { nginxAvailable } from '../twin/gateway/index.ts';
import { defaultConfigPath, loadTwinConfig } from '../twin/config.ts';
import { startTwinThread } from '../twin/thread/host.ts';
import { TWIN_CA_ENV } from '../twin/tls.ts';

/** The experiment role of `spot: { via: fis }` on the twin when the spec names none (the twin's FIS accepts any). */
export const TWIN_FIS_ROLE_ARN = 'arn:aws:iam::123456789012:role/rollout-harness-fis';

function labelSelectorOf(d: KObject): string {
  const labels: Record<string, string> = d.spec?.selector?.matchLabels ?? {};
  if (!Object.keys(labels).length) throw new EnvironmentError(`deployment ${d.metadata?.name} has no spec.selector.matchLabels`);
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

/** The Ingress annotation that puts it in an explicit IngressGroup (one ALB shared by its members). */
export const GROUP_NAME_ANNOTATION = 'alb.ingress.kubernetes.io/group.name';

/** A service port as an Ingress backend or a TargetGroupBinding names it. */
interface ServiceRef {
  name: string;
  port?: string;
}

/** The services an Ingress sends to: its default backend and every rule path's backend. */
export function ingressBackends(ingress: KObject): ServiceRef[] {
  const refOf = (b: { service?: { name?: string; port?: { number?: number; name?: string } } } | undefined): ServiceRef[] => {
    const s = b?.service;
    if (!s?.name) return [];
    const port = s.port?.number ?? s.port?.name;
    return [{ name: s.name, ...(port !== undefined ? { port: String(port) } : {}) }];
  };
  const rules: Array<{ http?: { paths?: Array<{ backend?: Parameters<typeof refOf>[0] }> } }> = ingress.spec?.rules ?? [];
  return [...refOf(ingress.spec?.defaultBackend), ...rules.flatMap((r) => (r.http?.paths ?? []).flatMap((p) => refOf(p.backend)))];
}

/**
 * The labels the load balancer controller puts on an Ingress's TargetGroupBindings
 * (aws-load-balancer-controller pkg/deploy/tracking/provider.go, StackLabels): an explicit group
 * (`group.name`) is labelled `ingress.k8s.aws/stack: <group>`; an implicit one (the Ingress alone)
 * `ingress.k8s.aws/stack-namespace` and `ingress.k8s.aws/stack-name`.
 */
export function stackLabelsOf(ingress: KObject): Record<string, string> {
  const group = ingress.metadata?.annotations?.[GROUP_NAME_ANNOTATION];
  if (group) return { 'ingress.k8s.aws/stack': group };
  return { 'ingress.k8s.aws/stack-namespace': ingress.metadata?.namespace ?? '', 'ingress.k8s.aws/stack-name': ingress.metadata?.name ?? '' };
}

/**
 * Finds the binding (and its target group) for the Deployment's pods: the one named in the spec, or
 * the Ingress's (by the controller's stack labels; in a group, the binding of the Ingress's own
 * backend service, since every member's bindings carry the group label), whose service selects the pods.
 */
export async function findBinding(
  k8s: KubernetesPort,
  spec: Pick<Spec['target'], 'namespace' | 'deployment' | 'ingress' | 'targetGroupBinding'>,
  d: KObject,
  tagsOf?: (targetGroupArn: string) => Promise<Record<string, string>>,
): Promise<{ name: string; arn: string }> {
  const bindings = await k8s.listTargetGroupBindings(spec.namespace);
  let candidates = bindings;
  let labelled = '';
  let backends: ServiceRef[] | undefined;
  if (spec.targetGroupBinding) candidates = bindings.filter((b) => b.metadata?.name === spec.targetGroupBinding);
  else if (spec.ingress) {
    const ingress = await need(`ingress ${spec.namespace}/${spec.ingress}`, k8s.getIngress(spec.namespace, spec.ingress));
    const labels = stackLabelsOf(ingress);
    labelled = ` labelled ${Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(',')}`;
    candidates = bindings.filter((b) => Object.entries(labels).every(([k, v]) => b.metadata?.labels?.[k] === v));
    backends = ingressBackends(ingress);
  }
  const podLabels: Record<string, string> = d.spec?.template?.metadata?.labels ?? {};
  const found: KObject[] = [];
  for (const b of candidates) {
    const ref = b.spec?.serviceRef ?? {};
    // A group member's bindings are only those of services its own rules name.
    if (backends && !backends.some((s) => s.name === ref.name && (s.port === undefined || ref.port === undefined || s.port === String(ref.port)))) continue;
    const svc = await k8s.getService(spec.namespace, ref.name).catch(() => undefined);
    const selector: Record<string, string> = svc?.spec?.selector ?? {};
    if (Object.keys(selector).length && Object.entries(selector).every(([k, v]) => podLabels[k] === v)) found.push(b);
  }
  // Members of a group that share a service each get a target group and binding of their own; the
  // bindings do not name the Ingress, the target group's tag does: ingress.k8s.aws/resource = <ns>/<ingress>-<service>:<port>.
  if (found.length > 1 && spec.ingress && tagsOf) {
    const own = [];
    for (const b of found) if ((await tagsOf(b.spec?.targetGroupARN))[RESOURCE_TAG]?.startsWith(`${spec.namespace}/${spec.ingress}-`)) own.push(b);
    if (own.length === 1) return { name: own[0].metadata?.name ?? '', arn: own[0].spec?.targetGroupARN };
  }
  if (found.length === 1) return { name: found[0].metadata?.name ?? '', arn: found[0].spec?.targetGroupARN };
  const what = spec.targetGroupBinding ? `TargetGroupBinding ${spec.targetGroupBinding}` : spec.ingress ? `TargetGroupBinding of ingress ${spec.ingress}${labelled}` : 'TargetGroupBinding';
  if (found.length > 1) {
    const names = found.map((b) => `${b.metadata?.name} (service ${b.spec?.serviceRef?.name}:${b.spec?.serviceRef?.port ?? '?'}, ${b.spec?.targetGroupARN})`);
    throw new EnvironmentError(`Expected one ${what} in namespace ${spec.namespace} whose service selects the pods of deployment ${spec.deployment}, got ${found.length}: ${names.join('; ')}; name one in target.targetGroupBinding`);
  }
  const seen = candidates.length ? ` (${candidates.length} candidate${candidates.length === 1 ? '' : 's'}: ${candidates.map((b) => `${b.metadata?.name} → service ${b.spec?.serviceRef?.name}`).join(', ')})` : ` (${bindings.length} in the namespace${bindings.length ? `: ${bindings.map((b) => b.metadata?.name).join(', ')}` : ''})`;
  throw new EnvironmentError(`Found no ${what} in namespace ${spec.namespace} whose service selects the pods of deployment ${spec.deployment}${seen}`);
}

/** The controller's target-group tag naming the Ingress and service a target group is for. */
const RESOURCE_TAG = 'ingress.k8s.aws/resource';

/** Reads what the run needs; a missing object is an environment error saying what was expected and what came. */
export async function need<T>(what: string, read: Promise<T>): Promise<T> {
  try {
    return await read;
  } catch (cause) {
    const came = cause instanceof ApiError && cause.status === 404 ? 'it does not exist (404)' : (cause as Error).message;
    throw new EnvironmentError(`Expected ${what}, got: ${came}`, { cause });
  }
}

/** Where traffic goes and why (see harness/orchestrator/traffic-address.ts). */
export interface TrafficRoute {
  url: string;
  source: string;
  /** The Host header (a listener rule's host), when the load balancer routes by host. */
  hostHeader?: string;
  /** The TLS server name to send and verify (HTTPS with a rule's host). */
  servername?: string;
}

/**
 * Where traffic goes: `target.url` when the spec gives one, else the load balancer of the target
 * group itself, through the listener and rule that forward to it (`chooseTrafficAddress`). The
 * load balancer's address must resolve before anything is changed; a rule's host is never resolved
 * (it is sent as the Host header and TLS server name).
 */
export async function trafficUrl(t: Pick<Spec['target'], 'url'>, mixPaths: string[], elbv2: Elbv2Port, targetGroupArn: string, lookup: (host: string) => Promise<unknown>): Promise<TrafficRoute> {
  let route: TrafficRoute = { url: t.url ?? '', source: 'target.url' };
  if (!t.url) {
    const chosen = chooseTrafficAddress(await readRouting(elbv2, targetGroupArn), targetGroupArn, mixPaths);
    route = { url: chosen.url, source: chosen.reason, ...(chosen.hostHeader ? { hostHeader: chosen.hostHeader } : {}), ...(chosen.servername ? { servername: chosen.servername } : {}) };
  }
  const host = new URL(route.url).hostname.replace(/^\[|\]$/g, '');
  if (!net.isIP(host)) {
    try {
      await lookup(host);
    } catch (cause) {
      throw new EnvironmentError(`Expected the traffic address ${host} (${route.source}) to resolve, got ${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}; nothing was changed`, { cause });
    }
  }
  return route;
}

/** A path's names: the namespace of its Deployment, Ingress and binding, and where its traffic goes. */
type PathNames = Pick<Spec['target'], 'namespace' | 'deployment' | 'ingress' | 'targetGroupBinding' | 'url'>;

/** One path: the binding (and target group) registering the Deployment's pods, and the address its traffic goes to. */
async function pathOf(k8s: KubernetesPort, elbv2: Elbv2Port, spec: Spec, names: PathNames, d: KObject, lookup: (host: string) => Promise<unknown>): Promise<TrafficPath> {
  const binding = await findBinding(k8s, names, d, (arn) => elbv2.targetGroupTags(arn));
  const route = await trafficUrl(names, spec.traffic.mix.map((m) => m.path), elbv2, binding.arn, lookup);
  return { namespace: names.namespace, ingress: names.ingress, bindingName: binding.name, targetGroupArn: binding.arn, delayVia: delayChannel(spec, names.ingress), url: route.url, urlSource: route.source, hostHeader: route.hostHeader, servername: route.servername };
}

/**
 * The paths the spec's cells take (`target.topology`, the `topology` axis): the app's direct one and
 * the gateway's, each with its binding and traffic address. `where` says where the objects were
 * looked for; `allowed` checks the gateway's namespace like the app's (a real cluster's opt-in label).
 */
export async function connectTopology(
  k8s: KubernetesPort,
  elbv2: Elbv2Port,
  spec: Spec,
  app: { names: PathNames; deployment: KObject },
  lookup: (host: string) => Promise<unknown>,
  where: string,
  allowed: (namespace: string) => Promise<void> = async () => {},
): Promise<TargetTopology> {
  const used = topologiesOf(spec);
  const topology: TargetTopology = { app: { namespace: app.names.namespace, deployment: app.names.deployment, labelSelector: labelSelectorOf(app.deployment) } };
  if (used.includes('direct')) topology.direct = await pathOf(k8s, elbv2, spec, app.names, app.deployment, lookup);
  if (used.includes('gateway')) {
    const g = gatewayOf(spec.target);
    if (g.namespace !== app.names.namespace) await allowed(g.namespace);
    const gd = await need(`the gateway's deployment ${g.namespace}/${g.deployment} ${where} (target.topology.gateway)`, k8s.getDeployment(g.namespace, g.deployment));
    const path = await pathOf(k8s, elbv2, spec, g, gd, lookup);
    topology.gateway = { ...path, gateway: { namespace: g.namespace, deployment: g.deployment, labelSelector: labelSelectorOf(gd) }, disrupt: g.disrupt };
  }
  return topology;
}

/** The target's fields of its first path (the one run.json records; each cell takes its own through `viewOf`). */
function firstPath(topology: TargetTopology): Pick<Target, 'namespace' | 'deployment' | 'labelSelector' | 'ingress' | 'bindingName' | 'targetGroupArn' | 'delayVia' | 'url' | 'urlSource' | 'hostHeader' | 'servername'> {
  const p = (topology.direct ?? topology.gateway)!;
  const d = topology.direct || topology.gateway?.disrupt !== 'gateway' ? topology.app : topology.gateway.gateway;
  return {
    ...d,
    ingress: p.ingress,
    bindingName: p.bindingName,
    targetGroupArn: p.targetGroupArn,
    delayVia: p.delayVia,
    url: p.url,
    urlSource: p.urlSource,
    ...(p.hostHeader ? { hostHeader: p.hostHeader } : {}),
    ...(p.servername ? { servername: p.servername } : {}),
  };
}

/** Refuses a spec whose cells take the twin's gateway on a machine without nginx, before the twin starts. */
export async function refuseGatewayWithoutNginx(spec: Spec, check: () => ReturnType<typeof nginxAvailable> = nginxAvailable): Promise<void> {
  if (!topologiesOf(spec).includes('gateway')) return;
  const found = await check();
  if (!found.ok) throw new EnvironmentError(`The spec's cells go through the twin's gateway (topology: gateway), whose pods run nginx: ${found.message}; nothing was started`);
}

/** Connects to the spec's target (for the twin, starts it first); changes nothing. */
export const connectTarget: Connect = async (spec, opts) => {
  const t = spec.target;
  const lookup = opts.lookup ?? ((host: string) => dnsLookup(host));
  if (!t.context) {
    await refuseGatewayWithoutNginx(spec, opts.nginxAvailable);
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
    // Its own thread: the driver and the orchestrator in this one do not delay its data plane.
    const twin = await startTwinThread({ config, stateDir: path.join(opts.resultsDir, 'twin'), log: opts.log });
    try {
      const kc = loadKubeConfig(twin.endpoints.kubeconfig);
      const aws: AwsClientOptions = { region: twin.endpoints.region, endpoint: twin.endpoints.awsApiUrl, credentials: { accessKeyId: 'twin', secretAccessKey: 'twin' } };
      const k8s = createKubernetesAdapter(kc, twin.clock);
      const elbv2 = createElbv2Adapter(aws);
      const ingress = ingressOf(t);
      const d = await need(`deployment ${t.namespace}/${t.deployment} on the twin`, k8s.getDeployment(t.namespace, t.deployment));
      const topology = await connectTopology(k8s, elbv2, spec, { names: { ...t, ingress }, deployment: d }, lookup, 'on the twin');
      // The twin's CA signs its HTTPS listeners' certificates (harness/twin/tls.ts).
      const caFile = twin.caFile;
      return {
        kind: 'twin',
        k8s,
        elbv2,
        ec2: createEc2Adapter(aws),
        // The twin's FIS takes any role: the spec's, else one in the twin's account.
        fis: { port: createFisAdapter(aws), roleArn: t.fisRoleArn ?? TWIN_FIS_ROLE_ARN, region: twin.endpoints.region },
        // The twin's EC2 API launches a node for RunInstances, joining as the tags say.
        capacity: createEc2CapacityAdapter(aws, k8s),
        k6Operator: createK6OperatorAdapter(kc),
        clock: twin.clock,
        topology,
        ...firstPath(topology),
        ...(caFile ? { caFile } : {}),
        region: twin.endpoints.region,
        regionSource: 'the local twin',
        twin: { timeScale: twin.config.timeScale, seed: twin.config.seed, stateDir: path.dirname(twin.endpoints.envFile), accessLogFile: twin.endpoints.accessLogFile },
        twinStalls: (from, to) => twin.stalls(from, to),
        // The twin serves S3 and CloudWatch on its AWS endpoint, like ELBv2 and EC2.
        explain: { store: createS3Adapter({ ...aws, forcePathStyle: true }), metrics: createCloudWatchAdapter(aws), logIntervalSeconds: twin.config.alb.accessLogs.intervalSeconds },
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
  const { region, source: regionSource } = opts.region ?? (await resolveRegion(t.region, opts.env ?? process.env));
  const elbv2 = createElbv2Adapter({ region, endpoint: t.endpoints.elbv2 });
  // The gateway's namespace is changed too (its Deployment, its Ingress): it must carry the opt-in label as well.
  const allowed = async (namespace: string) => {
    const other = await need(`the gateway's namespace ${namespace} in context ${context}`, k8s.getNamespace(namespace));
    if (other.metadata?.labels?.[ALLOWED_LABEL] !== 'true') throw new SafetyError(`Namespace ${namespace} (the gateway's) does not carry the label ${ALLOWED_LABEL}=true; label it to allow rollout-harness to change it`);
  };
  const topology = await connectTopology(k8s, elbv2, spec, { names: t, deployment: d }, lookup, `in context ${context}`, allowed);
  // A twin started apart (`twin up`) names its CA in its env file; in staging the system roots do.
  const caFile = (opts.env ?? process.env)[TWIN_CA_ENV] || undefined;
  return {
    kind: 'cluster',
    k8s,
    elbv2,
    ec2: createEc2Adapter({ region, endpoint: t.endpoints.ec2 }),
    fis: { port: createFisAdapter({ region, endpoint: t.endpoints.fis }), ...(t.fisRoleArn ? { roleArn: t.fisRoleArn } : {}), region },
    // A real cluster adds capacity through its handler: a Karpenter NodeClaim, never a bare RunInstances.
    capacity: createClusterCapacityAdapter(kc, clock),
    k6Operator: createK6OperatorAdapter(kc),
    clock,
    topology,
    ...firstPath(topology),
    ...(caFile ? { caFile } : {}),
    region,
    regionSource,
    explain: {
      store: createS3Adapter({ region, endpoint: t.endpoints.s3 }),
      metrics: createCloudWatchAdapter({ region, endpoint: t.endpoints.cloudwatch }),
    },
    close: async () => {},
  };
};
