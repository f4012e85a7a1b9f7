/**
 * `rollout-harness twin demo`: the twin end to end in under a minute. Starts it, shows the pods
 * (through the Kubernetes API) and the targets (through the ELBv2 API) with the harness's own
 * adapters, sends requests through the ALB, restarts the Deployment under steady traffic, and counts
 * the 5xx by the twin's reason.
 */
import path from 'node:path';
import { scaledClock } from '../core/clock.ts';
import { EnvironmentError, ExitCode } from '../core/errors.ts';
import { RESTARTED_AT } from '../disruptions/rollout.ts';
import { pollUntil, rolloutComplete } from '../disruptions/wait.ts';
import { parseSpec } from '../matrix/load.ts';
import { runBuiltinTraffic } from '../traffic/builtin/driver.ts';
import { routeOf } from '../orchestrator/cell.ts';
import { defaultConfigPath, loadTwinConfig } from '../twin/config.ts';
import { connectTarget } from './connect.ts';
import { readTruth } from '../explain/truth.ts';
import { formatTable } from './table.ts';

/** Flags of `twin demo`. */
export interface TwinDemoOptions {
  config?: string;
  timeScale: number;
  seed?: number;
  stateDir: string;
  rate: number;
}

/** Runs the demo; returns the exit code. */
export async function twinDemo(opts: TwinDemoOptions): Promise<number> {
  const say = (line = '') => console.log(line);
  say(`Starting the local twin (time scale ${opts.timeScale}: one model second takes ${opts.timeScale} s) …`);
  // The same path as `run`: a twin spec, connected by the composition root, reached through the ports.
  const config = await loadTwinConfig(opts.config ?? defaultConfigPath, {});
  const deployment = (config.objects as Array<{ kind: string; metadata: { name: string; namespace: string } }>).find((o) => o.kind === 'Deployment');
  if (!deployment) throw new EnvironmentError('The twin config has no Deployment to demonstrate with');
  const { spec } = parseSpec({
    name: 'demo',
    target: { namespace: deployment.metadata.namespace, deployment: deployment.metadata.name, twin: { config: opts.config ?? defaultConfigPath, timeScale: opts.timeScale, ...(opts.seed !== undefined ? { seed: opts.seed } : {}) } },
    matrix: { preStopSeconds: [0], terminationGracePeriodSeconds: [30], readinessGate: [false], deregistrationDelaySeconds: [300] },
    disruptions: ['rollout'],
  });
  const target = await connectTarget(spec, { resultsDir: path.resolve(opts.stateDir), log: () => {} });
  const onSignal = () => void target.close().then(() => process.exit(ExitCode.interrupted));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const { clock, k8s, elbv2, namespace, deployment: name, targetGroupArn: tgArn } = target;
    const never = new AbortController().signal;
    const steady = await pollUntil(clock, 600_000, never, async () => {
      const d = await k8s.getDeployment(namespace, name);
      const targets = await elbv2.describeTargetHealth(tgArn);
      return rolloutComplete(d) && targets.length === (d.spec?.replicas ?? 1) && targets.every((t) => t.state === 'healthy');
    });
    if (!steady) throw new EnvironmentError('Timed out after 600 model seconds waiting for every target to be healthy');
    const modelStart = clock.now();

    const pods = await k8s.listPods(namespace);
    say('\nPods (Kubernetes API, @kubernetes/client-node):');
    const ready = (p: (typeof pods)[number]) => String((p.status?.conditions ?? []).some((c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True'));
    say(formatTable(['pod', 'node', 'IP', 'ready'], pods.map((p) => [p.metadata?.name ?? '', p.spec?.nodeName ?? '', p.status?.podIP ?? '', ready(p)])));
    say(`\nTargets of ${target.bindingName} (ELBv2 API, AWS SDK v3):`);
    say(formatTable(['target', 'state'], (await elbv2.describeTargetHealth(tgArn)).map((t) => [`${t.id}:${t.port}`, t.state])));

    // Each LB node routes to a new target only after its registration lag (1–5 model s by default).
    await clock.sleep(6000);
    const byPod = new Map<string, number>();
    for (let i = 0; i < 30; i++) {
      const res = await fetch(target.url);
      await res.arrayBuffer();
      const pod = res.headers.get('x-pod') ?? `status ${res.status}`;
      byPod.set(pod, (byPod.get(pod) ?? 0) + 1);
    }
    say(`\n30 requests through the ALB at ${target.url} (round robin):`);
    say(formatTable(['answered by', 'requests'], [...byPod].map(([p, n]) => [p, String(n)])));

    say(`\nRestarting deployment/${name} under ${opts.rate} req/s …`);
    const fromModelS = clock.now() / 1000;
    const realClock = scaledClock(1);
    const traffic = runBuiltinTraffic(
      { url: target.url, rate: opts.rate, durationSeconds: 12, timeoutSeconds: 10, mix: [{ path: '/', weight: 1 }], ...routeOf(target, spec) },
      { clock: realClock },
    );
    await realClock.sleep(2000);
    await k8s.patchDeployment(namespace, name, { spec: { template: { metadata: { annotations: { [RESTARTED_AT]: new Date(clock.now()).toISOString() } } } } });
    const result = await traffic;
    say(formatTable(['status', 'requests'], [...Object.entries(result.byStatus), ...Object.entries(result.networkErrors).map(([c, n]) => [`network error ${c}`, n] as [string, number])].map(([s, n]) => [s, String(n)])));
    const reasons = new Map<string, number>();
    await clock.sleep(500); // the twin writes its access log once per event-loop tick
    const records = target.twin ? await readTruth(target.twin.accessLogFile, fromModelS, Infinity) : [];
    for (const r of records) if (r.elbStatus >= 500) reasons.set(`${r.elbStatus} ${r.reason ?? ''}`, (reasons.get(`${r.elbStatus} ${r.reason ?? ''}`) ?? 0) + 1);
    if (reasons.size) {
      say("\n5xx by the twin's reason (access log):");
      say(formatTable(['status and reason', 'requests'], [...reasons].map(([k, n]) => [k, String(n)])));
    }
    const total = Object.entries(result.byStatus).filter(([s]) => Number(s) >= 500).reduce((s, [, n]) => s + n, 0);
    say(`\n${result.sent} requests sent, ${total} 5xx during the restart (model time ${((clock.now() - modelStart) / 1000).toFixed(0)} s since steady).`);
    say('`rollout-harness run SPEC` measures this per setting; `rollout-harness twin up` keeps the twin running for kubectl and the aws CLI.');
    say(`Access log: ${target.twin?.accessLogFile}`);
    return 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await target.close();
  }
}
