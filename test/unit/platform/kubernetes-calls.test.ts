/**
 * The Kubernetes adapter's requests, recorded by an API server stand-in on loopback: each port
 * method sends exactly what KUBE_METHOD_CALLS says (so the permission list preflight checks is the
 * one the adapter needs), and accessReview sends a SelfSubjectAccessReview and reads its answer.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scaledClock } from '../../../harness/core/clock.ts';
import { createKubernetesAdapter } from '../../../harness/platform/kubernetes/adapter.ts';
import type { KubernetesPort, ObjectRef } from '../../../harness/platform/ports.ts';
import { KUBE_METHOD_CALLS, type KubeCall } from '../../../harness/preflight/permissions.ts';

/** A request as RBAC sees it: verb, group, resource, subresource, cluster or namespace scope. */
function callOf(method: string, url: string): KubeCall {
  const u = new URL(url, 'http://x');
  const parts = u.pathname.split('/').filter(Boolean);
  // /api/v1/… (core) or /apis/<group>/<version>/…
  const group = parts[0] === 'api' ? '' : parts[1];
  let rest = parts.slice(parts[0] === 'api' ? 2 : 3);
  let scope: KubeCall['scope'] = 'cluster';
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    scope = 'namespace';
    rest = rest.slice(2);
  }
  const [resource, name, subresource] = rest;
  const verb = method === 'GET' ? (name ? 'get' : u.searchParams.get('watch') === 'true' ? 'watch' : 'list') : method === 'PATCH' ? 'patch' : method === 'POST' ? 'create' : method === 'DELETE' ? 'delete' : method;
  return { verb, group, resource, ...(subresource ? { subresource } : {}), scope };
}

let server: http.Server;
let k8s: KubernetesPort;
const seen: Array<{ call: KubeCall; body: string }> = [];
let onWatch = () => {};

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const call = callOf(req.method ?? 'GET', req.url ?? '/');
      seen.push({ call, body: Buffer.concat(chunks).toString('utf8') });
      if (call.verb === 'watch') {
        onWatch();
        res.writeHead(200, { 'content-type': 'application/json' }).end();
        return;
      }
      if (call.subresource === 'log') {
        res.writeHead(200, { 'content-type': 'text/plain' }).end('a line\n');
        return;
      }
      if (call.resource === 'selfsubjectaccessreviews') {
        const spec = JSON.parse(Buffer.concat(chunks).toString('utf8')).spec;
        const allowed = spec.resourceAttributes.verb !== 'patch';
        res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', spec, status: { allowed, ...(allowed ? { reason: 'RBAC: allowed by RoleBinding "r/shop"' } : {}) } }));
        return;
      }
      const body = call.verb === 'list' ? { metadata: { resourceVersion: '1' }, items: [] } : { metadata: { name: 'x', resourceVersion: '1' } };
      res.writeHead(call.verb === 'create' ? 201 : 200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'stand-in', server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, skipTLSVerify: true }],
    users: [{ name: 'u', token: 'stand-in' }],
    contexts: [{ name: 'stand-in', cluster: 'stand-in', user: 'u' }],
    currentContext: 'stand-in',
  });
  k8s = createKubernetesAdapter(kc, scaledClock(1));
});

afterAll(
  () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
);

/** The calls of one port method, made with plausible arguments (annotate once per kind of object). */
const CALLS: Record<keyof typeof KUBE_METHOD_CALLS, () => Promise<unknown>> = {
  getDeployment: () => k8s.getDeployment('shop', 'web'),
  patchDeployment: () => k8s.patchDeployment('shop', 'web', { spec: {} }),
  getNamespace: () => k8s.getNamespace('shop'),
  setNamespaceLabels: () => k8s.setNamespaceLabels('shop', { a: 'b' }),
  getIngress: () => k8s.getIngress('shop', 'web'),
  listEvents: () => k8s.listEvents('shop', 'involvedObject.kind=Ingress'),
  listIngresses: () => k8s.listIngresses('shop'),
  setIngressAnnotations: () => k8s.setIngressAnnotations('shop', 'web', { a: 'b' }),
  listPodDisruptionBudgets: () => k8s.listPodDisruptionBudgets('shop'),
  getPodDisruptionBudget: () => k8s.getPodDisruptionBudget('shop', 'web'),
  patchPodDisruptionBudget: () => k8s.patchPodDisruptionBudget('shop', 'web', { spec: {} }),
  getTargetGroupBinding: () => k8s.getTargetGroupBinding('shop', 'web'),
  listTargetGroupBindings: () => k8s.listTargetGroupBindings('shop'),
  getService: () => k8s.getService('shop', 'web'),
  listPods: () => k8s.listPods('shop', 'app=web'),
  listPodsOnNode: () => k8s.listPodsOnNode('node-a1'),
  listNodes: () => k8s.listNodes(),
  getNode: () => k8s.getNode('node-a1'),
  setNodeUnschedulable: () => k8s.setNodeUnschedulable('node-a1', true),
  setNodeTaint: () => k8s.setNodeTaint('node-a1', 'k', { effect: 'NoSchedule' }),
  evictPod: () => k8s.evictPod('shop', 'web-1'),
  annotate: async () => {
    for (const ref of [{ kind: 'Namespace', name: 'shop' }, { kind: 'Node', name: 'node-a1' }, { kind: 'Deployment', name: 'web', namespace: 'shop' }, { kind: 'Ingress', name: 'web', namespace: 'shop' }] satisfies ObjectRef[]) await k8s.annotate(ref, { a: 'b' });
  },
  readPodLog: () => k8s.readPodLog('ingress-nginx', 'gw-1', { timestamps: true }),
  getCustomResourceDefinition: () => k8s.getCustomResourceDefinition('targetgroupbindings.elbv2.k8s.aws'),
  listMutatingWebhookConfigurations: () => k8s.listMutatingWebhookConfigurations(),
  watchPods: () => {
    const stop = new AbortController();
    onWatch = () => stop.abort();
    return k8s.watchPods('shop', 'app=web', () => {}, stop.signal);
  },
};

describe('the Kubernetes adapter sends what KUBE_METHOD_CALLS says', () => {
  for (const [method, call] of Object.entries(CALLS)) {
    it(method, async () => {
      seen.length = 0;
      await call();
      // A call in any namespace is a namespaced request.
      const declared = (KUBE_METHOD_CALLS[method as keyof typeof KUBE_METHOD_CALLS] as KubeCall[]).map((d) => (d.scope === 'any-namespace' ? { ...d, scope: 'namespace' } : d));
      // Each request is declared, and each declared call is made.
      expect(seen.map((s) => s.call).filter((c) => !declared.some((d) => JSON.stringify(d) === JSON.stringify(c)))).toEqual([]);
      expect(declared.filter((d) => !seen.some((s) => JSON.stringify(s.call) === JSON.stringify(d)))).toEqual([]);
    });
  }
});

describe('accessReview', () => {
  it('sends a SelfSubjectAccessReview with the attributes and returns its answer', async () => {
    seen.length = 0;
    expect(await k8s.accessReview({ verb: 'create', group: '', resource: 'pods', subresource: 'eviction' })).toEqual({ allowed: true, reason: 'RBAC: allowed by RoleBinding "r/shop"' });
    expect(await k8s.accessReview({ verb: 'patch', group: 'apps', resource: 'deployments', namespace: 'shop' })).toEqual({ allowed: false });
    expect(seen.map((s) => s.call)).toEqual([
      { verb: 'create', group: 'authorization.k8s.io', resource: 'selfsubjectaccessreviews', scope: 'cluster' },
      { verb: 'create', group: 'authorization.k8s.io', resource: 'selfsubjectaccessreviews', scope: 'cluster' },
    ]);
    expect(JSON.parse(seen[1].body).spec.resourceAttributes).toEqual({ verb: 'patch', group: 'apps', resource: 'deployments', namespace: 'shop' });
  });
});
