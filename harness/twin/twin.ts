/**
 * The local twin's composition root: builds the store, the controllers, the pods' runtime, the ALB
 * twin and the wire APIs, loads the config's objects, and writes the kubeconfig and env file that
 * point real clients at it. Everything it starts, `stop()` ends — processes included.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { anchoredClock, scaledClock, type Clock, type ClockAnchor } from '../core/clock.ts';
import { EnvironmentError } from '../core/errors.ts';
import { seededRandom } from '../core/random.ts';
import { createAccessLogWriter } from './alb/access-log.ts';
import { createAlbTwin } from './alb/twin.ts';
import type { AccessLogRecord } from './alb/types.ts';
import type { Ec2Provider } from './aws/ec2.ts';
import { createFisApi } from './aws/fis-api.ts';
import { S3Store } from './aws/s3.ts';
import { startAwsApiServer } from './aws/server.ts';
import { type TwinConfig } from './config.ts';
import { ALLOWED_LABEL } from '../core/labels.ts';
import { projectRoot } from '../core/paths.ts';
import { startClusterControllers } from './controllers/index.ts';
import { evictPod } from './controllers/eviction.ts';
import { startKubelets } from './controllers/kubelet.ts';
import { startNodeLifecycle } from './controllers/nodes.ts';
import { TokenAuthenticator } from './kube/authn.ts';
import { writeKubeconfig } from './kube/kubeconfig.ts';
import { bootstrapPolicy } from './kube/rbac.ts';
import { startKubeApiServer } from './kube/server.ts';
import { ObjectStore } from './kube/store.ts';
import type { KubeObject } from './kube/types.ts';
import { resourceForKind } from './kube/resources.ts';
import { startLoadBalancerController } from './lbc/controller.ts';
import { Network } from './network.ts';
import { createAddressAllocator, type AllocatorOptions } from './runtime/addresses.ts';
import { createProcessSupervisor } from './runtime/processes.ts';
import { openCertificateAuthority, TWIN_CA_ENV } from './tls.ts';
import { GATEWAY_IMAGE, gatewayCommand, gatewayImageRefusal } from './gateway/index.ts';
import { CA_FILE_ENV, TOKEN_FILE_ENV } from './gateway/informer.ts';

/** How to start the twin. */
export interface TwinOptions {
  config: TwinConfig;
  /** Where the kubeconfig, env file and access log go. */
  stateDir: string;
  /** Diagnostics (controller decisions, process output on failure). */
  log?: (line: string) => void;
  /** Also called with every access-log record (the file gets them too). */
  onAccessLog?: (record: AccessLogRecord) => void;
  /** How pod addresses are handed out (default: one loopback IP per pod where the host allows it). */
  addresses?: AllocatorOptions;
  /** Where model time starts (default: now): a twin in another thread shares its host's clock. */
  clockAnchor?: ClockAnchor;
}

/** Endpoints of a running twin, as written to `<stateDir>/env`. */
export interface TwinEndpoints {
  kubeconfig: string;
  /** The API over plain http (tokens required all the same). */
  kubeApiUrl: string;
  /** The API over HTTPS (the twin CA): where the kubeconfig and the pods' in-cluster env point. */
  kubeApiSecureUrl: string;
  awsApiUrl: string;
  albUrl: string;
  region: string;
  envFile: string;
  accessLogFile: string;
  /** Where the S3 subset's objects (the delivered ALB access logs) are written: `<dir>/<bucket>/<key>`. */
  s3Dir: string;
  /** The twin CA's certificate (PEM), which signs every HTTPS listener's certificate. */
  caFile: string;
  /** The bearer token of the kubeconfig's `twin` context (system:masters), for clients that do not read the kubeconfig. */
  kubeToken: string;
  /** The kubeconfig context of each of the config's `users`, by user name (`twin-<name>`). */
  userContexts: Record<string, string>;
}

/** A running twin. */
export interface Twin {
  readonly endpoints: TwinEndpoints;
  readonly clock: Clock;
  readonly store: ObjectStore;
  readonly config: TwinConfig;
  /** The twin CA's certificate (PEM): trust it to verify the HTTPS listeners (also `endpoints.caFile`). */
  readonly caFile: string;
  /** PIDs of the pod processes still running. */
  pids(): number[];
  /** Ends everything the twin started; safe to call twice. */
  stop(): Promise<void>;
}

/** The env file's variables. */
export function twinEnv(e: TwinEndpoints): Record<string, string> {
  return { KUBECONFIG: e.kubeconfig, ...twinAwsEnv(e), ROLLOUT_HARNESS_ALB_URL: e.albUrl };
}

/** The AWS part of the twin's env: its endpoints, region and credentials, and its CA. */
function twinAwsEnv(e: Pick<TwinEndpoints, 'awsApiUrl' | 'region' | 'caFile'>): Record<string, string> {
  return {
    // The catch-all: every other service goes to the twin too, which answers with an error naming
    // it, so no AWS call made with this env leaves loopback.
    AWS_ENDPOINT_URL: e.awsApiUrl,
    AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2: e.awsApiUrl,
    AWS_ENDPOINT_URL_EC2: e.awsApiUrl,
    AWS_ENDPOINT_URL_S3: e.awsApiUrl,
    AWS_ENDPOINT_URL_CLOUDWATCH: e.awsApiUrl,
    AWS_REGION: e.region,
    AWS_DEFAULT_REGION: e.region,
    AWS_ACCESS_KEY_ID: 'twin',
    AWS_SECRET_ACCESS_KEY: 'twin',
    [TWIN_CA_ENV]: e.caFile,
  };
}

/** The image of the harness itself (deploy/Dockerfile; any registry prefix stripped, any tag). */
export const HARNESS_IMAGE = 'rollout-harness';
/** k6's image (any tag), as k6-operator's runners name it. */
export const K6_IMAGE = 'grafana/k6';
/** The ServiceAccount annotation of IRSA (IAM roles for service accounts). */
export const IRSA_ROLE_ANNOTATION = 'eks.amazonaws.com/role-arn';

/**
 * What the twin gives a pod for its ServiceAccount, as IRSA's webhook does for one that names an
 * IAM role (`eks.amazonaws.com/role-arn`): the role, credentials, region and the twin's AWS
 * endpoints; nothing for any other.
 */
export function podAwsEnv(serviceAccount: KubeObject | undefined, e: Pick<TwinEndpoints, 'awsApiUrl' | 'region' | 'caFile'>): Record<string, string> {
  const role = serviceAccount?.metadata.annotations?.[IRSA_ROLE_ANNOTATION];
  return role ? { ...twinAwsEnv(e), AWS_ROLE_ARN: role } : {};
}

/** Namespaces first, then everything else in file order. */
function creationOrder(objects: KubeObject[]): KubeObject[] {
  return [...objects.filter((o) => o.kind === 'Namespace'), ...objects.filter((o) => o.kind !== 'Namespace')];
}

/** Starts the twin and waits until its ALB listener exists. */
export async function startTwin(options: TwinOptions): Promise<Twin> {
  const { config, stateDir } = options;
  const log = options.log ?? (() => {});
  await mkdir(stateDir, { recursive: true });
  const at = options.clockAnchor;
  if (at && at.scale !== config.timeScale) throw new RangeError(`Expected the clock anchor's scale to be the config's ${config.timeScale}, got ${at.scale}`);
  const clock = at ? anchoredClock(at) : scaledClock(config.timeScale);
  const random = seededRandom(config.seed);
  const store = new ObjectStore(clock);
  const network = new Network();
  const accessLogFile = path.join(stateDir, 'access.log');
  // Batched for 50 real ms on the clock: one file write per batch, off the request path.
  const accessLog = createAccessLogWriter(accessLogFile, { clock });
  const stops: Array<() => unknown> = [];
  let stopped = false;

  const stop = async () => {
    if (stopped) return;
    stopped = true;
    for (const s of stops.reverse()) {
      try {
        await s();
      } catch (error) {
        log(`twin: stopping: ${(error as Error).message}`);
      }
    }
  };

  try {
    // The gateway pods' nginx directories; removed once every pod process is gone.
    const gatewayDir = path.join(stateDir, 'gateway');
    stops.push(() => rm(gatewayDir, { recursive: true, force: true }));
    // The address blocks go back to the machine after every pod process is gone (stops run in reverse).
    const addresses = await createAddressAllocator(options.addresses);
    stops.push(() => addresses.close());
    const supervisor = createProcessSupervisor();
    stops.push(() => supervisor.killAll());
    // Every client authenticates with a token the twin issued: the kubeconfig's users, and each
    // ServiceAccount whose pod runs (its token file is written when its first pod starts).
    const tokens = new TokenAuthenticator();
    // Pods reach the API in-cluster style; the API server starts after the kubelets, before any pod.
    let inClusterEnv: (pod: { namespace: string; serviceAccountName: string }) => Record<string, string> = () => ({});
    const kubelets = startKubelets({
      store,
      clock,
      random: random.fork('kubelet'),
      supervisor,
      addresses,
      network,
      // The gateway's image runs the ingress-controller emulation; the world's own images come first.
      // The harness's own image (deploy/Dockerfile) runs this checkout's CLI: `kubectl apply -k deploy/twin` runs its Jobs here.
      // grafana/k6 (k6-operator's runners) runs the twin's k6: K6_BIN when set, else the stand-in, which is not k6.
      images: {
        [GATEWAY_IMAGE]: gatewayCommand(projectRoot, config.gateway.syncSeconds, gatewayDir),
        [HARNESS_IMAGE]: [process.execPath, path.join(projectRoot, 'bin/rollout-harness.js')],
        [K6_IMAGE]: process.env.K6_BIN ? [process.env.K6_BIN] : [process.execPath, path.join(projectRoot, 'bin/run-entry.mjs'), 'harness/traffic/k6/stand-in.ts'],
        ...config.cluster.images,
      },
      volumesDir: path.join(stateDir, 'volumes'),
      imageChecks: { [GATEWAY_IMAGE]: gatewayImageRefusal },
      inClusterEnv: (pod) => inClusterEnv(pod),
      logLimits: config.cluster.podLogs,
      projectRoot,
      log,
    });
    stops.push(() => kubelets.stop());
    const nodes = startNodeLifecycle({ store, clock, random: random.fork('nodes'), config, kubelets });
    stops.push(() => nodes.stop());
    const controllers = startClusterControllers({ store, clock, config, log });
    stops.push(() => controllers.stop());

    const s3Dir = path.join(stateDir, 's3');
    const s3 = new S3Store({ clock, buckets: config.s3.buckets, dir: s3Dir, maxMemoryBytes: config.s3.maxMemoryBytes });
    // Closed after the ALB twin, which delivers its buffered logs when it closes.
    stops.push(() => s3.close());
    const ca = await openCertificateAuthority(stateDir);
    const alb = createAlbTwin({
      clock,
      random: random.fork('alb'),
      config: config.alb,
      region: config.region,
      network,
      logSink: s3,
      certificates: (hosts) => ca.issue(hosts),
      accessLog: (record) => {
        accessLog.write(record);
        options.onAccessLog?.(record);
      },
    });
    // Stopped in reverse: the ALB first (its last requests' records), then the file they go to.
    stops.push(() => accessLog.close());
    stops.push(() => alb.close());
    const lbc = startLoadBalancerController({ store, clock, alb, config: config.controller, log });
    stops.push(() => lbc.stop());

    const kubeApi = await startKubeApiServer({
      store,
      clock,
      hooks: { evict: (ns, name, body) => evictPod(store, ns, name, body), logs: (req) => kubelets.openLog(req) },
      kubernetesVersion: config.cluster.kubernetesVersion,
      auth: tokens,
      // kubectl sends the kubeconfig's tokens only over TLS: the kubeconfig points at this port.
      tls: await ca.issue(['localhost']),
    });
    stops.push(() => kubeApi.close());
    // Pods reach the HTTPS port, verified by the CA file, as in-cluster clients reach a real API server.
    inClusterEnv = serviceAccountEnv(stateDir, kubeApi.secureUrl!, ca.caFile, tokens);
    const ec2: Ec2Provider = {
      instances: () => nodes.instances(),
      terminate: (id) => nodes.instanceTerminated(id),
      launch: (request) => nodes.launchInstance(request),
      region: config.region,
    };
    // An FIS spot interruption reaches the node lifecycle, whose handler emulation (cluster.spotHandler) reacts.
    const fis = createFisApi({ clock, region: config.region, ec2, spotInterruption: (id, ms) => nodes.spotInterruption(id, ms) });
    stops.push(() => fis.close());
    const awsApi = await startAwsApiServer({ alb, ec2, region: config.region, s3, metrics: alb.metrics, fis });
    stops.push(() => awsApi.close());
    // IRSA's webhook: a pod whose ServiceAccount names an IAM role gets AWS credentials, and here the
    // twin's endpoints too (every AWS call of the pod stays on loopback); any other pod gets none.
    const kubernetesEnv = inClusterEnv;
    inClusterEnv = (pod) => ({ ...kubernetesEnv(pod), ...podAwsEnv(store.get('serviceaccounts', pod.namespace, pod.serviceAccountName), { awsApiUrl: awsApi.url, region: config.region, caFile: ca.caFile }) });

    // The default namespace is the world's first opted in to rollout-harness (else the first of its own),
    // in the file's order: the gateway's namespace, opted in too, comes after the app's.
    const home = () => {
      const namespaces = (config.objects as KubeObject[]).filter((o) => o.kind === 'Namespace');
      return namespaces.find((n) => n.metadata.labels?.[ALLOWED_LABEL] === 'true') ?? namespaces[0];
    };
    for (const name of ['default', 'kube-system', 'kube-public']) {
      store.create('namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
    }
    for (const obj of bootstrapPolicy()) store.create(resourceForKind(obj.kind)!.plural, obj);
    for (const obj of creationOrder(config.objects as KubeObject[])) {
      const info = resourceForKind(String(obj.kind));
      if (!info) throw new EnvironmentError(`The twin config has an object of kind ${String(obj.kind)}, which the twin does not serve`);
      store.create(info.plural, obj);
    }

    const ingress = primaryIngress(store.list('ingresses').items, home()?.metadata.name);
    let albUrl = '';
    if (ingress) {
      // A real-time bound: creating the ALB involves no modelled delay.
      const bound = new AbortController();
      const timeout = clock.sleep(clock.toModelMs(10_000), bound.signal).then(() => {
        throw new EnvironmentError('The load balancer controller twin did not create the ALB within 10 s');
      });
      timeout.catch(() => {});
      try {
        albUrl = await Promise.race([lbc.listenerUrl(ingress.metadata.namespace!, ingress.metadata.name), timeout]);
      } finally {
        bound.abort();
      }
    }

    const kubeconfig = path.join(stateDir, 'kubeconfig');
    const kubeToken = tokens.issue({ name: 'twin', groups: ['system:masters'] });
    const users = config.users.map((u) => ({ context: `twin-${u.name}`, token: tokens.issue(u) }));
    await writeKubeconfig(kubeconfig, { server: kubeApi.secureUrl!, certificateAuthority: ca.caFile, namespace: home()?.metadata.name, token: kubeToken, users });
    const endpoints: TwinEndpoints = {
      kubeconfig,
      kubeApiUrl: kubeApi.url,
      kubeApiSecureUrl: kubeApi.secureUrl!,
      awsApiUrl: awsApi.url,
      albUrl,
      region: config.region,
      envFile: path.join(stateDir, 'env'),
      accessLogFile,
      s3Dir,
      caFile: ca.caFile,
      kubeToken,
      userContexts: Object.fromEntries(config.users.map((u) => [u.name, `twin-${u.name}`])),
    };
    const env = twinEnv(endpoints);
    await writeFile(
      endpoints.envFile,
      `# rollout-harness local twin: source this file to point kubectl and the aws CLI at it\n${Object.entries(env)
        .map(([k, v]) => `export ${k}=${shellQuote(v)}`)
        .join('\n')}\n`,
    );
    return { endpoints, clock, store, config, caFile: ca.caFile, pids: () => supervisor.pids(), stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * The Ingress whose ALB is "the" twin's (ROLLOUT_HARNESS_ALB_URL): the first ALB Ingress of the
 * opted-in namespace, else the first ALB Ingress, else the first. A world with a gateway has a
 * second ALB (in its own namespace) that must not take its place.
 */
export function primaryIngress(ingresses: KubeObject[], homeNamespace: string | undefined): KubeObject | undefined {
  const alb = ingresses.filter((i) => i.spec?.ingressClassName === 'alb' || i.metadata.annotations?.['kubernetes.io/ingress.class'] === 'alb');
  return alb.find((i) => i.metadata.namespace === homeNamespace) ?? alb[0] ?? ingresses[0];
}

/**
 * The pods' in-cluster env: the API's address, and their ServiceAccount's token and the CA in files
 * (a pod cannot have /var/run/secrets here): `<stateDir>/serviceaccount/<namespace>/<name>/token`,
 * written once per account, synchronously, as the kubelet asks while it starts a pod.
 */
function serviceAccountEnv(stateDir: string, apiUrl: string, caFile: string, tokens: TokenAuthenticator): (pod: { namespace: string; serviceAccountName: string }) => Record<string, string> {
  const url = new URL(apiUrl);
  const written = new Set<string>();
  return ({ namespace, serviceAccountName }) => {
    const base = { KUBERNETES_SERVICE_HOST: url.hostname, KUBERNETES_SERVICE_PORT: url.port, [CA_FILE_ENV]: caFile };
    // A name the API would refuse has no token (and cannot become a path outside the state dir).
    if (![namespace, serviceAccountName].every((n) => DNS_SUBDOMAIN.test(n))) return base;
    const tokenFile = path.join(stateDir, 'serviceaccount', namespace, serviceAccountName, 'token');
    if (!written.has(tokenFile)) {
      mkdirSync(path.dirname(tokenFile), { recursive: true });
      // No newline, as the kubelet's projected token (client-node's tokenFile provider sends the file as it is).
      writeFileSync(tokenFile, tokens.serviceAccountToken(namespace, serviceAccountName), { mode: 0o600 });
      written.add(tokenFile);
    }
    return { ...base, [TOKEN_FILE_ENV]: tokenFile };
  };
}

/** A Kubernetes object name (DNS-1123 subdomain). */
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

function shellQuote(value: string): string {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}
