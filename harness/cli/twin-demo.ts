/**
 * `rollout-harness twin demo`: the twin end to end in under a minute. Starts it, shows the pods
 * (through the Kubernetes API) and the targets (through the ELBv2 API), sends requests through the
 * ALB, restarts the Deployment under steady traffic, and counts the 5xx by the twin's reason.
 */
import { DescribeTargetGroupsCommand, DescribeTargetHealthCommand, ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { AppsV1Api, CoreV1Api, KubeConfig, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import path from 'node:path';
import { scaledClock, type Clock } from '../core/clock.ts';
import { EnvironmentError } from '../core/errors.ts';
import { runBuiltinTraffic } from '../traffic/builtin/driver.ts';
import type { AccessLogRecord } from '../twin/alb/types.ts';
import { defaultConfigPath, loadTwinConfig } from '../twin/config.ts';
import { startTwin } from '../twin/twin.ts';
import { formatTable } from './table.ts';

/** Flags of `twin demo`. */
export interface TwinDemoOptions {
  config?: string;
  timeScale: number;
  seed?: number;
  stateDir: string;
  rate: number;
}

/** Polls `check` every model second until it returns a value, or fails after `boundMs` model ms. */
async function waitFor<T>(clock: Clock, what: string, boundMs: number, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = clock.now() + boundMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (clock.now() > deadline) throw new EnvironmentError(`Timed out after ${boundMs / 1000} model seconds waiting for ${what}`);
    await clock.sleep(1000);
  }
}

/** Runs the demo; returns the exit code. */
export async function twinDemo(opts: TwinDemoOptions): Promise<number> {
  const config = await loadTwinConfig(opts.config ?? defaultConfigPath, { timeScale: opts.timeScale, seed: opts.seed });
  const records: AccessLogRecord[] = [];
  const say = (line = '') => console.log(line);
  say(`Starting the local twin (time scale ${config.timeScale}: one model second takes ${config.timeScale} s) …`);
  const twin = await startTwin({ config, stateDir: path.resolve(opts.stateDir), onAccessLog: (r) => records.push(r) });
  const onSignal = () => void twin.stop().then(() => process.exit(130));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const { clock } = twin;
    const kc = new KubeConfig();
    kc.loadFromFile(twin.endpoints.kubeconfig);
    const apps = kc.makeApiClient(AppsV1Api);
    const core = kc.makeApiClient(CoreV1Api);
    const elbv2 = new ElasticLoadBalancingV2Client({
      endpoint: twin.endpoints.awsApiUrl,
      region: twin.endpoints.region,
      credentials: { accessKeyId: 'twin', secretAccessKey: 'twin' },
    });
    const deployment = (config.objects as Array<{ kind: string; metadata: { name: string; namespace: string } }>).find((o) => o.kind === 'Deployment');
    if (!deployment) throw new EnvironmentError('The twin config has no Deployment to demonstrate with');
    const { name, namespace } = deployment.metadata;

    const [tg] = (await elbv2.send(new DescribeTargetGroupsCommand({}))).TargetGroups ?? [];
    if (!tg?.TargetGroupArn) throw new EnvironmentError('The ALB twin has no target group');
    const targets = async () => (await elbv2.send(new DescribeTargetHealthCommand({ TargetGroupArn: tg.TargetGroupArn }))).TargetHealthDescriptions ?? [];
    const steady = async () => {
      const d = await apps.readNamespacedDeployment({ name, namespace });
      const want = d.spec?.replicas ?? 1;
      const t = await targets();
      const healthy = t.filter((x) => x.TargetHealth?.State === 'healthy').length;
      const ok = d.status?.availableReplicas === want && d.status?.updatedReplicas === want && (d.status?.replicas ?? 0) === want && healthy === want && t.length === want;
      return ok ? true : undefined;
    };
    await waitFor(clock, 'the Deployment to be available with every target healthy', 600_000, steady);
    const modelStart = clock.now();

    const pods = (await core.listNamespacedPod({ namespace })).items;
    say('\nPods (Kubernetes API, @kubernetes/client-node):');
    say(formatTable(['pod', 'node', 'IP', 'ready'], pods.map((p) => [p.metadata?.name ?? '', p.spec?.nodeName ?? '', p.status?.podIP ?? '', String(p.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True')])));
    say(`\nTargets of ${tg.TargetGroupName} (ELBv2 API, AWS SDK v3):`);
    say(formatTable(['target', 'state'], (await targets()).map((t) => [`${t.Target?.Id}:${t.Target?.Port}`, t.TargetHealth?.State ?? ''])));

    const byPod = new Map<string, number>();
    for (let i = 0; i < 30; i++) {
      const res = await fetch(twin.endpoints.albUrl);
      await res.arrayBuffer();
      const pod = res.headers.get('x-pod') ?? `status ${res.status}`;
      byPod.set(pod, (byPod.get(pod) ?? 0) + 1);
    }
    say(`\n30 requests through the ALB at ${twin.endpoints.albUrl} (round robin):`);
    say(formatTable(['answered by', 'requests'], [...byPod].map(([p, n]) => [p, String(n)])));

    say(`\nRestarting deployment/${name} under ${opts.rate} req/s …`);
    records.length = 0;
    const realClock = scaledClock(1);
    const traffic = runBuiltinTraffic(
      { url: twin.endpoints.albUrl, rate: opts.rate, durationSeconds: 12, timeoutSeconds: 10, mix: [{ path: '/', weight: 1 }] },
      { clock: realClock },
    );
    await realClock.sleep(2000);
    await apps.patchNamespacedDeployment(
      { name, namespace, body: { spec: { template: { metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': new Date().toISOString() } } } } } },
      setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
    );
    const result = await traffic;
    const fiveXX = Object.entries(result.byStatus).filter(([s]) => Number(s) >= 500);
    say(formatTable(['status', 'requests'], [...Object.entries(result.byStatus), ...Object.entries(result.networkErrors).map(([c, n]) => [`network error ${c}`, n] as [string, number])].map(([s, n]) => [s, String(n)])));
    const reasons = new Map<string, number>();
    for (const r of records) if (r.elbStatus >= 500) reasons.set(`${r.elbStatus} ${r.reason ?? ''}`, (reasons.get(`${r.elbStatus} ${r.reason ?? ''}`) ?? 0) + 1);
    if (reasons.size) {
      say('\n5xx by the twin\'s reason (access log):');
      say(formatTable(['status and reason', 'requests'], [...reasons].map(([k, n]) => [k, String(n)])));
    }
    const total = fiveXX.reduce((s, [, n]) => s + n, 0);
    say(`\n${result.sent} requests sent, ${total} 5xx during the restart (model time ${((clock.now() - modelStart) / 1000).toFixed(0)} s since steady).`);
    say('Defaults (no readiness gate, no preStop sleep) lose requests; `rollout-harness twin up` keeps the twin running for kubectl and the aws CLI.');
    say(`Access log: ${twin.endpoints.accessLogFile}`);
    return 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await twin.stop();
  }
}
