/**
 * The gateway layer on a running twin: the default world's ingress-nginx scaled to 2 serves the app
 * through its own ALB with real nginx; its access log (read with kubectl logs) names the app pods
 * in ingress-nginx's upstreaminfo format; an app pod that dies is retried past while the gateway
 * still has it (upstream_status "502, 200"), and dropped within the sync lag by the Lua balancer,
 * without a reload of nginx (no request lost to the ALB's keep-alive race with one).
 */
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { pollUntil } from '../../../harness/disruptions/wait.ts';
import { GATEWAY_DEPLOYMENT, GATEWAY_NAMESPACE, nginxAvailable } from '../../../harness/twin/gateway/index.ts';
import { requirement } from '../../helpers/requirement.ts';
import { fiveXXByReason, startTestTwin, type TwinHarness } from '../../helpers/twin.ts';

const needsNginx = requirement("Debian's nginx with its Lua module", (await nginxAvailable()).ok, 'apt-get install -y nginx libnginx-mod-http-lua lua-resty-core; .ci/run installs them');
const hasKubectl = await execa('kubectl', ['version', '--client'], { reject: false }).then((r) => r.exitCode === 0, () => false);
const needsKubectl = requirement('kubectl', hasKubectl, 'apt-get install -y kubernetes-client; .ci/run installs it');

/** Model seconds from an EndpointSlice change to nginx serving it, in this world: long enough for a window of requests. */
const SYNC_SECONDS = 5;
/** Model ms the controller's post of the backends may add to the sync lag (0.4 real s at this scale, a loaded machine). */
const RELOAD_MS = 4_000;
/** An upstreaminfo line (ingress-nginx's log-format-upstream) as kubectl logs --timestamps prints it. */
const LINE =
  /^(\S+) (\S+) - (\S+) \[([^\]]+)\] "([^"]*)" (\d{3}) (\d+) "([^"]*)" "([^"]*)" (\d+) ([\d.]+) \[([^\]]*)\] \[([^\]]*)\] (.+?) (\S+(?:, \S+)*) (\S+(?:, \S+)*) (\S+(?:, \S+)*) ([0-9a-f]{32})$/;

interface Entry {
  at: number;
  status: number;
  upstream: string;
  addrs: string[];
  statuses: string[];
  reqId: string;
}

function parse(text: string): Entry[] {
  const out: Entry[] = [];
  for (const line of text.split('\n')) {
    const m = LINE.exec(line);
    if (!m) continue;
    out.push({ at: Date.parse(m[1]), status: Number(m[6]), upstream: m[12], addrs: m[14].split(', '), statuses: m[17].split(', '), reqId: m[18] });
  }
  return out;
}

let h: TwinHarness;
let env: Record<string, string>;
let gatewayUrl = '';

async function gatewayPods(): Promise<string[]> {
  const pods = await h.k8s.listPods(GATEWAY_NAMESPACE);
  return pods.filter((p) => !p.metadata?.deletionTimestamp).map((p) => p.metadata!.name!);
}

async function logsOf(pod: string): Promise<string> {
  const r = await execa('kubectl', ['logs', pod, '-n', GATEWAY_NAMESPACE, '--timestamps'], { env, timeout: 20_000 });
  return r.stdout;
}

/** `count` requests, one after another, through the gateway's ALB (bounded in count and time). */
async function requests(count: number): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < count; i++) {
    const res = await fetch(gatewayUrl, { signal: AbortSignal.timeout(5_000) });
    await res.arrayBuffer();
    statuses.push(res.status);
  }
  return statuses;
}

beforeAll(async () => {
  if (!needsNginx.run || !needsKubectl.run) return;
  needsNginx.check();
  needsKubectl.check();
  h = await startTestTwin({ timeScale: 0.1, appEnv: { ON_SIGTERM: 'immediate' }, gateway: { syncSeconds: SYNC_SECONDS } });
  env = { ...process.env, KUBECONFIG: h.twin.endpoints.kubeconfig } as Record<string, string>;
  await h.waitSteady();
  await h.k8s.patchDeployment(GATEWAY_NAMESPACE, GATEWAY_DEPLOYMENT, { spec: { replicas: 2 } });
  const binding = (await h.k8s.listTargetGroupBindings(GATEWAY_NAMESPACE))[0];
  const tg = binding?.spec?.targetGroupARN as string;
  expect(tg, 'the gateway Ingress has its own target group').toBeTruthy();
  const healthy = await pollUntil(h.twin.clock, 300_000, new AbortController().signal, async () => {
    const targets = await h.elbv2.describeTargetHealth(tg);
    return targets.length === 2 && targets.every((t) => t.state === 'healthy');
  });
  expect(healthy, 'both gateway pods healthy targets of the gateway ALB').toBe(true);
  // Each LB node routes to a newly healthy target only after its registration lag.
  await h.twin.clock.sleep(h.twin.config.alb.registrationLag.tailMax * 1000 + 1000);
  const [lb] = await h.elbv2.describeLoadBalancers(await h.elbv2.loadBalancersOf(tg));
  const [listener] = await h.elbv2.describeListeners(lb.arn);
  gatewayUrl = `http://${lb.dnsName}:${listener.port}/`;
  expect(gatewayUrl).not.toBe(h.twin.endpoints.albUrl);
}, 120_000);

afterAll(async () => {
  await h?.stop();
});

describe.runIf(needsNginx.run && needsKubectl.run)('the gateway in the twin', () => {
  it('serves the app through the gateway ALB, and its access log names the app pods', async () => {
    const statuses = await requests(30);
    expect(statuses).toEqual(Array(30).fill(200));
    const appIps = new Set((await h.k8s.listPods('shop', 'app=web')).map((p) => `${p.status?.podIP}:8080`));
    const pods = await gatewayPods();
    expect(pods).toHaveLength(2);
    const entries = (await Promise.all(pods.map(logsOf))).flatMap(parse);
    expect(entries.length).toBeGreaterThanOrEqual(30);
    for (const e of entries) {
      expect(e.upstream).toBe('shop-web-80');
      expect(e.status).toBe(200);
      for (const a of e.addrs) expect(appIps.has(a), `${a} is an app pod`).toBe(true);
    }
    // Round robin over the app's three pods.
    expect(new Set(entries.flatMap((e) => e.addrs)).size).toBe(3);
  }, 60_000);

  it('retries past an app pod that died and drops it within the sync lag', async () => {
    const victim = (await h.k8s.listPods('shop', 'app=web'))[0];
    const addr = `${victim.status?.podIP}:8080`;
    const deletedAt = h.twin.clock.now();
    // Straight to the API (kubectl's own start-up would take model seconds at this scale).
    const deleted = await fetch(`${h.twin.endpoints.kubeApiUrl}/api/v1/namespaces/shop/pods/${victim.metadata!.name!}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${h.twin.endpoints.kubeToken}` },
      signal: AbortSignal.timeout(5_000),
    });
    expect(deleted.status).toBe(200);
    // Requests through the window and well past it (bounded: 3 sync lags and the reload of model time).
    const statuses: number[] = [];
    while (h.twin.clock.now() < deletedAt + 3 * SYNC_SECONDS * 1000 + RELOAD_MS) statuses.push(...(await requests(5)));
    const entries = (await Promise.all((await gatewayPods()).map(logsOf))).flatMap(parse).filter((e) => e.at >= deletedAt);
    // The gateway answered every request 200: it retried each one it sent to the dead pod.
    expect(entries.filter((e) => e.status !== 200)).toEqual([]);
    // And the client saw none fail: the endpoint change reached nginx without a reload, so no idle
    // connection of the ALB's was closed under it (no keep-alive race), as with ingress-nginx.
    expect(fiveXXByReason(h.records)).toEqual({});
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    // The controllers posted the endpoints without the dead pod and reloaded nothing (ingress-nginx's klog lines).
    const controller = (await Promise.all((await gatewayPods()).map(logsOf)))
      .flatMap((text) => text.split('\n'))
      .filter((line) => / [IWE]\d{4} [\d:.]+ +\d+ \S+\] "/.test(line) && Date.parse(line.split(' ')[0]) >= deletedAt);
    const posted = controller.filter((line) => line.includes('"Dynamic reconfiguration succeeded"'));
    expect(posted.length, controller.join('\n')).toBeGreaterThanOrEqual(2);
    for (const line of posted) expect(line).not.toContain(addr);
    expect(controller.filter((line) => /"Backend successfully reloaded"|"Configuration changes detected/.test(line))).toEqual([]);
    const retried = entries.filter((e) => e.addrs[0] === addr && e.statuses.length > 1);
    expect(retried.length, 'requests in the window were retried').toBeGreaterThan(0);
    for (const e of retried) {
      expect(e.statuses[0]).toBe('502');
      expect(e.statuses.at(-1)).toBe('200');
      expect(e.status).toBe(200);
    }
    // After the sync lag (and the post), nginx sends nothing more to it.
    const last = Math.max(...entries.filter((e) => e.addrs.includes(addr)).map((e) => e.at));
    expect(last - deletedAt).toBeLessThanOrEqual(SYNC_SECONDS * 1000 + RELOAD_MS);
    expect(entries.filter((e) => e.at > deletedAt + SYNC_SECONDS * 1000 + RELOAD_MS).length).toBeGreaterThan(10);
  }, 60_000);

  it('stops a gateway pod through /wait-shutdown: nginx quits gracefully and the pod goes long before its 300 s grace', async () => {
    const pods = await gatewayPods();
    // Follow both logs to the end (the ReplicaSet picks which pod goes): the controller's own lines come on stderr, in klog's format.
    const followers = pods.map((pod) => {
      const child = execa('kubectl', ['logs', '-f', pod, '-n', GATEWAY_NAMESPACE], { env, timeout: 60_000, reject: false });
      const f = { pod, child, text: '' };
      child.stdout!.on('data', (chunk: Buffer) => (f.text += chunk.toString()));
      return f;
    });
    try {
      for (const f of followers) await vi.waitFor(() => expect(f.text).toContain('"Starting NGINX process"'), { timeout: 20_000 });
      const startedAt = h.twin.clock.now();
      await h.k8s.patchDeployment(GATEWAY_NAMESPACE, GATEWAY_DEPLOYMENT, { spec: { replicas: 1 } });
      const one = await pollUntil(h.twin.clock, 60_000, new AbortController().signal, async () => (await h.k8s.listPods(GATEWAY_NAMESPACE)).length === 1);
      expect(one, 'one gateway pod left within 60 model s').toBe(true);
      expect(h.twin.clock.now() - startedAt).toBeLessThan(60_000);
      const left = await gatewayPods();
      const gone = followers.find((f) => !left.includes(f.pod))!;
      const ended = await gone.child;
      expect(ended.exitCode, String(ended.stderr)).toBe(0);
      expect(ended.stdout).toMatch(/^I\d{4} [\d:.]+ +\d+ main\.go:\d+\] "Received SIGTERM, shutting down" reason="SIGTERM"$/m);
      expect(ended.stdout).toMatch(/"NGINX process has stopped" exitCode=0$/m);
      expect(ended.stdout).toMatch(/"Exiting" code=0$/m);
      const events = await h.k8s.listEvents(GATEWAY_NAMESPACE, `involvedObject.name=${gone.pod}`);
      expect(events.map((e) => e.reason)).not.toContain('FailedPreStopHook');
    } finally {
      for (const f of followers) f.child.kill();
      await Promise.all(followers.map((f) => f.child));
    }
  }, 90_000);
});
