/**
 * `plan --server-dry-run` against a tiny API server on loopback standing in for a cluster's: every
 * write arrives with dryRun=All, a refused patch is reported with its cells and the field the API
 * names, and nothing is stored.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../harness/core/clock.ts';
import { parseSpec } from '../../../harness/matrix/load.ts';
import { serverDryRun } from '../../../harness/orchestrator/dry-run.ts';
import type { Target } from '../../../harness/orchestrator/target.ts';
import { createKubernetesAdapter } from '../../../harness/platform/kubernetes/adapter.ts';
import type { Elbv2Port, KObject } from '../../../harness/platform/ports.ts';
import { applyStrategicMergePatch } from '../../../harness/twin/kube/patch.ts';

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

/** The API server's objects, and every write it received (path, query, whether stored). */
async function apiServer() {
  const objects = new Map<string, KObject & { apiVersion: string; kind: string }>([
    ['/api/v1/namespaces/shop', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop', labels: {} } }],
    ['/apis/apps/v1/namespaces/shop/deployments/web', { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'shop' }, spec: { replicas: 2, template: { spec: { terminationGracePeriodSeconds: 30, containers: [{ name: 'app', image: 'app:1' }] } } } }],
    ['/apis/networking.k8s.io/v1/namespaces/shop/ingresses/web', { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name: 'web', namespace: 'shop', annotations: {} } }],
  ]);
  const writes: Array<{ path: string; dryRun: string | null; stored: boolean }> = [];
  const send = (res: ServerResponse, code: number, body: unknown) => {
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const current = objects.get(url.pathname);
    if (!current) return send(res, 404, { kind: 'Status', status: 'Failure', reason: 'NotFound', code: 404, message: `${url.pathname} not found` });
    if (req.method === 'GET') return send(res, 200, current);
    let text = '';
    req.on('data', (chunk: Buffer) => (text += chunk.toString()));
    req.on('end', () => {
      const merged = applyStrategicMergePatch(current, JSON.parse(text));
      const dryRun = url.searchParams.get('dryRun');
      const value = merged.ok ? (merged.value as KObject) : undefined;
      // As the API server's validation of a Deployment (apps/validation: replicas ≥ 0).
      if (value?.spec?.replicas !== undefined && value.spec.replicas < 0) {
        writes.push({ path: url.pathname, dryRun, stored: false });
        return send(res, 422, { kind: 'Status', status: 'Failure', reason: 'Invalid', code: 422, message: `Deployment.apps "web" is invalid: spec.replicas: Invalid value: ${value.spec.replicas}: must be greater than or equal to 0` });
      }
      const stored = dryRun !== 'All';
      writes.push({ path: url.pathname, dryRun, stored });
      if (stored && value) objects.set(url.pathname, { ...current, ...value });
      send(res, 200, value);
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'stand-in', server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, skipTLSVerify: true }],
    users: [{ name: 'u' }],
    contexts: [{ name: 'stand-in', cluster: 'stand-in', user: 'u' }],
    currentContext: 'stand-in',
  });
  const attributes: Record<string, string> = { 'deregistration_delay.timeout_seconds': '300' };
  const elbv2 = { getAttributes: async () => ({ ...attributes }), getHealthCheck: async () => ({ intervalSeconds: 15, timeoutSeconds: 5, healthyThresholdCount: 2, unhealthyThresholdCount: 2, path: '/' }), modifyAttributes: async (_: string, a: Record<string, string>) => Object.assign(attributes, a) } as unknown as Elbv2Port;
  const target = { k8s: createKubernetesAdapter(kc, new ManualClock()), elbv2, clock: new ManualClock(), namespace: 'shop', deployment: 'web', ingress: 'web', targetGroupArn: 'arn:tg', delayVia: 'ingress' } as unknown as Target;
  return { target, objects, writes, attributes };
}

const base = { preStopSeconds: [5], terminationGracePeriodSeconds: [30], readinessGate: [true], deregistrationDelaySeconds: [30] };

describe('serverDryRun', () => {
  it('names the cells and the field of a patch the API server refuses, and changes nothing', async () => {
    const api = await apiServer();
    const before = structuredClone([...api.objects.entries()]);
    const { spec } = parseSpec({
      matrix: { ...base, maxSurge: ['25%'] },
      axes: { size: { object: 'deployment', values: { two: { spec: { replicas: 2 } }, broken: { spec: { replicas: -1 } } } } },
      disruptions: ['rollout', 'drain'],
    });
    const findings = await serverDryRun(api.target, spec);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ kind: 'refused', cells: ['rollout.gate-on.prestop-5.grace-30.dereg-30.size-broken.r1', 'drain.gate-on.prestop-5.grace-30.dereg-30.size-broken.r1'] });
    expect(findings[0].kind === 'refused' && findings[0].message).toMatch(/spec\.replicas: Invalid value: -1/);
    expect(api.writes.length).toBeGreaterThan(0);
    expect(api.writes.every((w) => w.dryRun === 'All' && !w.stored)).toBe(true);
    expect([...api.objects.entries()]).toEqual(before);
    expect(api.attributes).toEqual({ 'deregistration_delay.timeout_seconds': '300' });
  });

  it('finds nothing when every change is admitted', async () => {
    const api = await apiServer();
    const { spec } = parseSpec({ matrix: { ...base, healthCheckIntervalSeconds: [5, 10] }, disruptions: ['rollout'] });
    expect(await serverDryRun(api.target, spec)).toEqual([]);
    expect(api.writes.map((w) => w.path).sort()).toEqual(expect.arrayContaining(['/api/v1/namespaces/shop', '/apis/apps/v1/namespaces/shop/deployments/web', '/apis/networking.k8s.io/v1/namespaces/shop/ingresses/web']));
  });

  it('reports an API server that stored a dry-run write, and puts the setting back', async () => {
    const api = await apiServer();
    // A server that ignores dryRun (as an API server without dry-run support would).
    const k8s = api.target.k8s;
    const careless = { ...k8s, dryRun: () => k8s };
    const { spec } = parseSpec({ matrix: { ...base, replicas: [3] }, disruptions: ['rollout'] });
    const findings = await serverDryRun({ ...api.target, k8s: careless }, spec);
    expect(findings.map((f) => f.message)).toContain('deployment shop/web: spec.replicas is 3 after the dry run, was 2: the API server stored a dry-run write (deployment shop/web: spec.replicas restored)');
    expect(api.objects.get('/apis/apps/v1/namespaces/shop/deployments/web')?.spec.replicas).toBe(2);
  });
});
