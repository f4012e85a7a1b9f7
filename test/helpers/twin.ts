/**
 * A whole local twin for tests: the default world with test-sized parameters, started in a temp
 * state dir, reached through the harness's own adapters (client-node, AWS SDK), with the ALB access
 * log collected in memory. `stop` ends every process the twin started.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { scaledClock } from '../../harness/core/clock.ts';
import { RESTARTED_AT } from '../../harness/disruptions/rollout.ts';
import { pollUntil, rolloutComplete } from '../../harness/disruptions/wait.ts';
import { createEc2Adapter } from '../../harness/platform/ec2/adapter.ts';
import { createElbv2Adapter } from '../../harness/platform/elbv2/adapter.ts';
import { createKubernetesAdapter, loadKubeConfig } from '../../harness/platform/kubernetes/adapter.ts';
import type { Ec2Port, Elbv2Port, KubernetesPort } from '../../harness/platform/ports.ts';
import { runBuiltinTraffic } from '../../harness/traffic/builtin/driver.ts';
import type { TrafficResult } from '../../harness/traffic/types.ts';
import type { AccessLogRecord } from '../../harness/twin/alb/types.ts';
import { loadTwinConfig, type TwinConfig } from '../../harness/twin/config.ts';
import { startTwin, type Twin } from '../../harness/twin/twin.ts';
import type { KubeObject } from '../../harness/twin/kube/types.ts';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/** What a test may change in the default world. */
export interface TwinTestOptions {
  timeScale?: number;
  seed?: number;
  /** Env of the app container (merged over the test defaults). */
  appEnv?: Record<string, string>;
  /** Merged into the Deployment's pod spec (e.g. terminationGracePeriodSeconds, nodeSelector). */
  podSpec?: Record<string, unknown>;
  /** Merged into the first container (e.g. lifecycle). */
  container?: Record<string, unknown>;
  /** Ingress annotations to add. */
  ingressAnnotations?: Record<string, string>;
  /** Labels of the namespace to add (e.g. the gate label). */
  namespaceLabels?: Record<string, string>;
  alb?: Partial<TwinConfig['alb']>;
  cluster?: Partial<TwinConfig['cluster']>;
  /** The gateway layer's settings (its sync lag). */
  gateway?: Partial<TwinConfig['gateway']>;
  replicas?: number;
  /** Drop the PodDisruptionBudget. */
  noPdb?: boolean;
}

/** A started twin with clients. */
export interface TwinHarness {
  twin: Twin;
  k8s: KubernetesPort;
  elbv2: Elbv2Port;
  ec2: Ec2Port;
  records: AccessLogRecord[];
  targetGroupArn: string;
  dir: string;
  stop(): Promise<void>;
  /** Polls (model time) until every target is healthy and the Deployment is complete. */
  waitSteady(boundModelSeconds?: number): Promise<void>;
  /** Runs open-model traffic through the ALB (real time) while `during` runs. */
  traffic(opts: { rate: number; seconds: number; timeoutSeconds?: number; mix?: Array<{ path: string; weight: number }> }, during?: () => Promise<void>): Promise<TrafficResult>;
}

/** Test-sized defaults: fast probes and a short, bounded deregistration lag. */
export async function testTwinConfig(o: TwinTestOptions = {}): Promise<TwinConfig> {
  const config = await loadTwinConfig(undefined, { timeScale: o.timeScale ?? 0.05, seed: o.seed ?? 7 });
  config.alb = {
    ...config.alb,
    deregistrationLag: { min: 2, max: 5, tailProbability: 0, tailMax: 5 },
    ...o.alb,
  };
  config.cluster = { ...config.cluster, ...o.cluster };
  config.gateway = { ...config.gateway, ...o.gateway };
  const objects = config.objects as KubeObject[];
  // Only the app's objects: the world's gateway (its own namespace, Deployment and Ingresses) stays as it is.
  for (const obj of objects) {
    const app = obj.metadata.namespace === 'shop' || obj.metadata.name === 'shop';
    if (obj.kind === 'Namespace' && app) obj.metadata.labels = { ...obj.metadata.labels, ...o.namespaceLabels };
    if (obj.kind === 'Ingress' && app && obj.metadata.name === 'web') obj.metadata.annotations = { ...obj.metadata.annotations, ...o.ingressAnnotations };
    if (obj.kind === 'Deployment' && app) {
      if (o.replicas) obj.spec.replicas = o.replicas;
      const pod = obj.spec.template.spec;
      Object.assign(pod, o.podSpec);
      const c = pod.containers[0];
      const env = { KEEPALIVE_TIMEOUT_MS: '65000', ...o.appEnv };
      c.env = [...c.env.filter((e: { name: string }) => !(e.name in env)), ...Object.entries(env).map(([name, value]) => ({ name, value }))];
      c.readinessProbe = { httpGet: { path: '/readyz', port: 8080 }, periodSeconds: 1 };
      Object.assign(c, o.container);
    }
  }
  config.objects = o.noPdb ? objects.filter((x) => x.kind !== 'PodDisruptionBudget') : objects;
  return config;
}

/** Starts a twin for a test. Call `stop` in afterEach/afterAll. */
export async function startTestTwin(o: TwinTestOptions = {}): Promise<TwinHarness> {
  const config = await testTwinConfig(o);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'rh-twin-'));
  const records: AccessLogRecord[] = [];
  const twin = await startTwin({ config, stateDir: dir, onAccessLog: (r) => records.push(r) });
  try {
    const kc = loadKubeConfig(twin.endpoints.kubeconfig);
    const aws = { region: twin.endpoints.region, endpoint: twin.endpoints.awsApiUrl, credentials: { accessKeyId: 'twin', secretAccessKey: 'twin' } };
    const k8s = createKubernetesAdapter(kc, twin.clock);
    const elbv2 = createElbv2Adapter(aws);
    const bindings = await k8s.listTargetGroupBindings('shop');
    const targetGroupArn = bindings[0]?.spec?.targetGroupARN as string;
    const h: TwinHarness = {
      twin,
      k8s,
      elbv2,
      ec2: createEc2Adapter(aws),
      records,
      targetGroupArn,
      dir,
      async stop() {
        await twin.stop();
        await rm(dir, { recursive: true, force: true });
      },
      async waitSteady(boundModelSeconds = 600) {
        const steady = await pollUntil(twin.clock, boundModelSeconds * 1000, new AbortController().signal, async () => {
          const d = await k8s.getDeployment('shop', 'web');
          const targets = await elbv2.describeTargetHealth(targetGroupArn);
          return rolloutComplete(d) && targets.length === (d.spec?.replicas ?? 1) && targets.every((t) => t.state === 'healthy');
        });
        if (!steady) throw new Error(`twin not steady after ${boundModelSeconds} model s`);
        // Each LB node routes to a newly healthy target only after its registration lag.
        await twin.clock.sleep(config.alb.registrationLag.tailMax * 1000 + 1000);
      },
      async traffic(t, during) {
        const running = runBuiltinTraffic(
          { url: twin.endpoints.albUrl, rate: t.rate, durationSeconds: t.seconds, timeoutSeconds: t.timeoutSeconds ?? 10, mix: t.mix ?? [{ path: '/', weight: 1 }] },
          { clock: scaledClock(1) },
        );
        await during?.();
        return running;
      },
    };
    return h;
  } catch (error) {
    await twin.stop();
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

/** 5xx access-log records by `<status> <reason>`. */
export function fiveXXByReason(records: AccessLogRecord[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of records) if (r.elbStatus >= 500) out[`${r.elbStatus} ${r.reason}`] = (out[`${r.elbStatus} ${r.reason}`] ?? 0) + 1;
  return out;
}

/** Restarts the Deployment through client-node and waits until the rollout is complete (model-time bound). */
export async function restartAndWait(h: TwinHarness, boundModelSeconds = 600): Promise<void> {
  await h.k8s.patchDeployment('shop', 'web', { spec: { template: { metadata: { annotations: { [RESTARTED_AT]: new Date().toISOString() } } } } });
  await h.twin.clock.sleep(1000);
  const done = await pollUntil(h.twin.clock, boundModelSeconds * 1000, new AbortController().signal, async () => rolloutComplete(await h.k8s.getDeployment('shop', 'web')));
  if (!done) throw new Error(`rollout not complete after ${boundModelSeconds} model s`);
}
