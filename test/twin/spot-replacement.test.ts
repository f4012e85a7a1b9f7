/**
 * After a spot interruption (pod evicted at the notice, instance terminated while its preStop still
 * runs) and the replacement node, the next disruption sees every pod of the Deployment answer
 * through the ALB: the terminated instance's black hole covers its own pods' addresses only. Run
 * with one loopback IP per pod and with pods sharing 127.0.0.1 on distinct ports (macOS's mode).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { scaledClock } from '../../harness/core/clock.ts';
import { RESTARTED_AT } from '../../harness/disruptions/rollout.ts';
import { pollUntil, rolloutComplete } from '../../harness/disruptions/wait.ts';
import { createEc2Adapter } from '../../harness/platform/ec2/adapter.ts';
import { createElbv2Adapter } from '../../harness/platform/elbv2/adapter.ts';
import { createKubernetesAdapter, loadKubeConfig } from '../../harness/platform/kubernetes/adapter.ts';
import { instanceIdOf } from '../../harness/platform/ports.ts';
import { runBuiltinTraffic } from '../../harness/traffic/builtin/driver.ts';
import type { AccessLogRecord } from '../../harness/twin/alb/types.ts';
import { PORT_ANNOTATION } from '../../harness/twin/controllers/kubelet.ts';
import { startTwin } from '../../harness/twin/twin.ts';
import { fiveXXByReason, testTwinConfig } from '../helpers/twin.ts';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

describe.each([
  { mode: 'one loopback IP per pod', forcePortMode: false },
  { mode: 'pods on 127.0.0.1 with distinct ports', forcePortMode: true },
])('spot interruption, then the replacement node ($mode)', ({ forcePortMode }) => {
  it('every pod of the Deployment answers through the ALB in the next rollout: no connect-timeout', async () => {
    const config = await testTwinConfig({
      namespaceLabels: { 'elbv2.k8s.aws/pod-readiness-gate-inject': 'enabled' },
      // A preStop longer than the gap between eviction and termination: the instance goes while it runs.
      container: { lifecycle: { preStop: { exec: { command: ['sleep', '120'] } } } },
      podSpec: { terminationGracePeriodSeconds: 150 },
      ingressAnnotations: { 'alb.ingress.kubernetes.io/target-group-attributes': 'deregistration_delay.timeout_seconds=10' },
      cluster: { nodeNotReadySeconds: 10, nodeLaunchSeconds: 20 },
      noPdb: true,
    });
    const dir = await mkdtemp(path.join(os.tmpdir(), 'rh-spot-'));
    const records: AccessLogRecord[] = [];
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    // startTwin stops what it started when it fails.
    const twin = await startTwin({ config, stateDir: dir, onAccessLog: (r) => records.push(r), addresses: { forcePortMode } });
    cleanups.push(() => twin.stop());
    const { clock } = twin;
    const k8s = createKubernetesAdapter(loadKubeConfig(twin.endpoints.kubeconfig), clock);
    const aws = { region: twin.endpoints.region, endpoint: twin.endpoints.awsApiUrl, credentials: { accessKeyId: 'twin', secretAccessKey: 'twin' } };
    const elbv2 = createElbv2Adapter(aws);
    const ec2 = createEc2Adapter(aws);
    const tg = (await k8s.listTargetGroupBindings('shop'))[0]?.spec?.targetGroupARN as string;
    const never = new AbortController().signal;
    const targetStates = async () => (await elbv2.describeTargetHealth(tg)).map((t) => `${t.id}:${t.port} ${t.state}`).sort();
    const waitSteady = async (what: string) => {
      const steady = await pollUntil(clock, 300_000, never, async () => {
        const d = await k8s.getDeployment('shop', 'web');
        const targets = await elbv2.describeTargetHealth(tg);
        return rolloutComplete(d) && targets.length === d.spec?.replicas && targets.every((t) => t.state === 'healthy');
      });
      if (!steady) throw new Error(`${what}: expected every target healthy within 300 model s, got ${(await targetStates()).join(', ')}`);
      // Every LB node routes to a newly healthy target only after its registration lag.
      await clock.sleep(config.alb.registrationLag.tailMax * 1000 + 1000);
    };
    const podAddress = (p: { status?: { podIP?: string }; metadata?: { annotations?: Record<string, string> }; spec?: { containers?: Array<{ ports?: Array<{ containerPort?: number }> }> } }) =>
      `${p.status?.podIP}:${p.metadata?.annotations?.[PORT_ANNOTATION] ?? p.spec?.containers?.[0]?.ports?.[0]?.containerPort}`;

    await waitSteady('at the start');

    // The spot interruption: cordon, evict at the notice, terminate before the preStop is over.
    const spot = (await k8s.listPodsOnNode('node-b2')).find((p) => p.metadata?.namespace === 'shop');
    expect(spot, 'a pod of shop/web on the spot node node-b2').toBeDefined();
    const instanceId = instanceIdOf((await k8s.getNode('node-b2')).spec?.providerID);
    await k8s.setNodeUnschedulable('node-b2', true);
    expect(await k8s.evictPod('shop', spot!.metadata!.name!)).toEqual({ kind: 'evicted' });
    // Its replacement pod starts before the instance goes (as with a two-minute notice).
    await waitSteady('after the eviction');
    const evicted = (await k8s.listPodsOnNode('node-b2')).find((p) => p.metadata?.uid === spot!.metadata?.uid);
    expect(evicted?.metadata?.deletionTimestamp, 'the evicted pod still in its preStop at the termination').toBeDefined();
    await ec2.terminateInstance(instanceId!);

    // The node goes, its pod is garbage-collected, the replacement node joins.
    const replaced = await pollUntil(clock, 120_000, never, async () => {
      const names = (await k8s.listNodes()).map((n) => n.metadata?.name);
      return names.includes('node-b2-r1') && !names.includes('node-b2');
    });
    expect(replaced, 'node-b2 deleted and node-b2-r1 joined').toBe(true);
    await waitSteady('after the replacement node joined');

    // The next disruption: a rollout under traffic. New pods spread onto the replacement node.
    const from = records.length;
    const traffic = runBuiltinTraffic({ url: twin.endpoints.albUrl, rate: 100, durationSeconds: 12, timeoutSeconds: 10, mix: [{ path: '/', weight: 1 }] }, { clock: scaledClock(1) });
    await k8s.patchDeployment('shop', 'web', { spec: { template: { metadata: { annotations: { [RESTARTED_AT]: new Date(clock.now()).toISOString() } } } } });
    await clock.sleep(1000);
    const rolled = await pollUntil(clock, 300_000, never, async () => rolloutComplete(await k8s.getDeployment('shop', 'web')));
    expect(rolled, 'the rollout completes').toBe(true);
    await waitSteady('after the rollout');
    const result = await traffic;
    const during = records.slice(from);

    const pods = (await k8s.listPods('shop', 'app=web')).filter((p) => !p.metadata?.deletionTimestamp);
    expect(pods.map((p) => p.spec?.nodeName)).toContain('node-b2-r1');
    const answered = new Set(during.filter((r) => r.elbStatus === 200 && r.targetStatus === 200).map((r) => r.target));
    // Every pod of the Deployment answered through the ALB, the replacement node's included.
    for (const p of pods) expect(answered, `${p.metadata?.name} on ${p.spec?.nodeName} (${podAddress(p)})`).toContain(podAddress(p));
    expect(fiveXXByReason(during)['504 connect-timeout'] ?? 0).toBe(0);
    expect(result.sent).toBeGreaterThan(0);
    expect(during.length).toBe(result.sent);
  });
});
