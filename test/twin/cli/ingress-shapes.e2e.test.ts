/**
 * Ingresses as the real controller builds them, run through the CLI against `twin up` as against
 * staging (no `target.url`): two members of one IngressGroup behind an HTTPS listener with host rules
 * and port 80 redirecting. A cell runs against either member, traffic going where the rules forward
 * (Host and TLS server name = the rule's host, verified against the twin's CA), restore verified;
 * a load-balancer attribute the members disagree on is refused by the controller, and a run says so
 * as an environment error.
 */
import { execa } from 'execa';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scaledClock } from '../../../harness/core/clock.ts';
import { pollUntil } from '../../../harness/disruptions/wait.ts';
import { startFaultsTwin, DELAY, type FaultsTwin } from '../../helpers/cli-faults.ts';
import type { World } from '../../helpers/twin-up.ts';

const ANN = 'alb.ingress.kubernetes.io/';
const CERT = 'arn:aws:acm:us-east-1:123456789012:certificate/twin-shop';

/** The default world's Ingress as group member `web` (host shop.example.com) beside member `api` (host api.example.com, path /api, ordered first). */
function groupBehindHttps(world: World): void {
  const objects = world.objects as Array<Record<string, any>>; // eslint-disable-line @typescript-eslint/no-explicit-any -- a world's objects are free-form YAML
  const web = objects.find((o) => o.kind === 'Ingress' && o.metadata?.name === 'web')!;
  const shared = { [`${ANN}group.name`]: 'edge', [`${ANN}listen-ports`]: '[{"HTTP":80},{"HTTPS":443}]', [`${ANN}ssl-redirect`]: '443', [`${ANN}certificate-arn`]: CERT, [`${ANN}target-type`]: 'ip', [`${ANN}healthcheck-path`]: '/healthz' };
  web.metadata.annotations = { ...web.metadata.annotations, ...shared, [`${ANN}load-balancer-attributes`]: 'idle_timeout.timeout_seconds=60' };
  delete web.spec.defaultBackend;
  web.spec.rules = [{ host: 'shop.example.com', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } } }] } }];
  objects.splice(objects.indexOf(web) + 1, 0, {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { name: 'api', namespace: 'shop', annotations: { ...shared, [`${ANN}group.order`]: '-1' } },
    spec: { ingressClassName: 'alb', rules: [{ host: 'api.example.com', http: { paths: [{ path: '/api', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } } }] } }] },
  });
}

let f: FaultsTwin;

beforeAll(async () => {
  f = await startFaultsTwin('rh-ingress-shapes-', groupBehindHttps);
}, 60_000);

afterAll(() => f?.stop(), 60_000);

/** The aws CLI with the twin's env file sourced, and its endpoint named too: never real AWS. */
const aws = async (args: string[]) => {
  const r = await execa('aws', [...args, '--endpoint-url', f.env.AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2, '--output', 'json'], { env: { ...process.env, ...f.env, AWS_MAX_ATTEMPTS: '1' }, reject: false, timeout: 30_000 });
  expect(r.exitCode, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
};

/** The target group of a member, by the controller's resource tag. */
async function targetGroupOf(ingress: string): Promise<string> {
  const bindings = await f.k8s.listTargetGroupBindings('shop');
  for (const b of bindings) if ((await f.elbv2.targetGroupTags(b.spec.targetGroupARN))['ingress.k8s.aws/resource'] === `shop/${ingress}-web:80`) return b.spec.targetGroupARN;
  throw new Error(`no target group of ingress ${ingress} among ${bindings.length} bindings`);
}

describe('an IngressGroup behind HTTPS, port 80 redirecting', () => {
  it('is one load balancer whose listeners and rules the aws CLI lists', async () => {
    // The controller builds the group member by member after `twin up` says it is up (as a real one
    // reconciles after the objects exist): its listeners are read once it has finished (bounded).
    const reconciled = () => f.k8s.listEvents('shop', 'involvedObject.kind=Ingress,reason=SuccessfullyReconciled').then((events) => new Set(events.map((e) => e.involvedObject?.name)).size === 2);
    expect(await pollUntil(scaledClock(1), 20_000, new AbortController().signal, reconciled, 100)).toBe(true);
    // The group's load balancer is the one both members' target groups belong to: the world holds
    // others (the gateway layer's ingress has its own, whose port 80 forwards), listed in no promised
    // order, and the twin's load balancers share one DNS name (127.0.0.1, on ports of their own).
    const owners = await Promise.all(['web', 'api'].map(async (name) => (await aws(['elbv2', 'describe-target-groups', '--target-group-arns', await targetGroupOf(name)])).TargetGroups[0].LoadBalancerArns));
    expect(owners[0]).toHaveLength(1);
    expect(owners[1]).toEqual(owners[0]);
    const all = (await aws(['elbv2', 'describe-load-balancers'])).LoadBalancers as Array<{ LoadBalancerArn: string }>;
    expect(all.length).toBeGreaterThan(1);
    const lb = all.find((l) => l.LoadBalancerArn === owners[0][0])!;
    expect(lb).toBeDefined();
    const listeners = (await aws(['elbv2', 'describe-listeners', '--load-balancer-arn', lb.LoadBalancerArn])).Listeners;
    const http = listeners.find((l: { Protocol: string }) => l.Protocol === 'HTTP');
    const https = listeners.find((l: { Protocol: string }) => l.Protocol === 'HTTPS');
    expect(http.DefaultActions[0]).toMatchObject({ Type: 'redirect', RedirectConfig: { Protocol: 'HTTPS', Port: '443', StatusCode: 'HTTP_301' } });
    expect(https.DefaultActions[0]).toMatchObject({ Type: 'fixed-response', FixedResponseConfig: { StatusCode: '404' } });
    const rules = (await aws(['elbv2', 'describe-rules', '--listener-arn', https.ListenerArn])).Rules;
    const hosts = rules.filter((r: { IsDefault: boolean }) => !r.IsDefault).map((r: { Priority: string; Conditions: Array<{ Field: string; Values?: string[] }> }) => [r.Priority, r.Conditions.find((c) => c.Field === 'host-header')?.Values?.[0]]);
    // api is ordered first (group.order -1), so its rule has the higher priority.
    expect(hosts).toEqual([
      ['1', 'api.example.com'],
      ['2', 'shop.example.com'],
    ]);
  }, 60_000);

  it('runs a valid cell against either member with no target.url: HTTPS to the rule host, verified, and restore verified', async () => {
    const before: Record<string, string | undefined> = {};
    for (const ingress of ['web', 'api']) before[ingress] = (await f.elbv2.getAttributes(await targetGroupOf(ingress)))[DELAY];
    for (const [ingress, host] of [
      ['web', 'shop.example.com'],
      ['api', 'api.example.com'],
    ]) {
      const spec = await f.specFile(`member-${ingress}`, {
        target: { ingress },
        traffic: { mix: [{ path: ingress === 'api' ? '/api' : '/', weight: 1 }] },
        matrix: { readinessGate: [false], preStopSeconds: [5], terminationGracePeriodSeconds: [30], deregistrationDelaySeconds: [30] },
      });
      const r = await f.cli(['run', spec, '--results-dir', f.results(), '--run-id', `member-${ingress}`], 240_000, { ROLLOUT_HARNESS_TWIN_CA: f.env.ROLLOUT_HARNESS_TWIN_CA });
      expect(r.exitCode, String(r.all)).toBe(0);
      expect(r.stderr).toMatch(new RegExp(`traffic to https://127\\.0\\.0\\.1:\\d+\\S*, Host ${host.replace(/\./g, '\\.')}`));
      const record = f.runJson(`member-${ingress}`);
      expect(record.restoreDifferences).toBeUndefined();
      const cell = JSON.parse(readFileSync(path.join(f.results(), `member-${ingress}`, 'cells', `${record.cells[0].id}.json`), 'utf8'));
      expect(cell.valid, cell.invalidReason).toBe(true);
      expect(cell.requests.byStatus['200']).toBeGreaterThan(100);
      // No redirect, no 404 of the default action: every answer came from the pods.
      expect(Object.keys(cell.requests.byStatus).filter((s) => s.startsWith('3') || s === '404')).toEqual([]);
      // The cell's delay went onto this member's own target group and came back.
      expect((await f.elbv2.getAttributes(await targetGroupOf(ingress)))[DELAY]).toBe(before[ingress]);
      expect(await f.markers()).toEqual([]);
    }
  }, 300_000);

  it('a load-balancer attribute the members disagree on: the controller refuses with its own error, and a run exits 3 saying so', async () => {
    const clock = scaledClock(1);
    const signal = new AbortController().signal;
    await f.k8s.setIngressAnnotations('shop', 'api', { [`${ANN}load-balancer-attributes`]: 'idle_timeout.timeout_seconds=30' });
    try {
      const refusal = async () => (await f.k8s.listEvents('shop', 'involvedObject.kind=Ingress,involvedObject.name=web')).find((e) => e.reason === 'FailedBuildModel');
      expect(await pollUntil(clock, 20_000, signal, async () => (await refusal()) !== undefined, 100)).toBe(true);
      expect((await refusal())?.message).toMatch(/^Failed build model due to conflicting attributes idle_timeout\.timeout_seconds: (60 \| 30|30 \| 60)$/);
      const spec = await f.specFile('refused-group', { target: { ingress: 'web' } });
      const r = await f.cli(['run', spec, '--results-dir', f.results(), '--run-id', 'refused-group'], 120_000, { ROLLOUT_HARNESS_TWIN_CA: f.env.ROLLOUT_HARNESS_TWIN_CA });
      expect(r.exitCode, String(r.all)).toBe(3);
      expect(r.stderr).toMatch(/Expected the AWS Load Balancer Controller to reconcile ingress shop\/web, got its Warning FailedBuildModel at \S+: Failed build model due to conflicting attributes idle_timeout\.timeout_seconds/);
      expect(await f.markers()).toEqual([]);
    } finally {
      await f.k8s.setIngressAnnotations('shop', 'api', { [`${ANN}load-balancer-attributes`]: null });
    }
  }, 180_000);
});
