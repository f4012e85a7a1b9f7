/**
 * The API server with bearer tokens and RBAC: 401 and 403 on the wire, the self-reviews, and what
 * kubectl (`auth can-i`, a forbidden patch) and client-node see per context.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { AuthorizationV1Api, CoreV1Api } from '@kubernetes/client-node';
import { execa } from 'execa';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadKubeConfig } from '../../../harness/platform/kubernetes/adapter.ts';
import { TokenAuthenticator } from '../../../harness/twin/kube/authn.ts';
import { bootstrapPolicy } from '../../../harness/twin/kube/rbac.ts';
import { resourceForKind } from '../../../harness/twin/kube/resources.ts';
import type { KubeObject } from '../../../harness/twin/kube/types.ts';
import { requirement } from '../../helpers/requirement.ts';
import { openWatch, startApiFixture, type ApiFixture } from './fixture.ts';

const KUBECTL = process.env.KUBECTL ?? 'kubectl';
const available = await execa(KUBECTL, ['version', '--client'], { reject: false, timeout: 20_000 }).then(
  (r) => r.exitCode === 0,
  () => false,
);
const needsKubectl = requirement(`kubectl (${KUBECTL})`, available, 'apt-get install -y kubernetes-client, or set KUBECTL to its path; .ci/run installs it');

const RBAC = 'rbac.authorization.k8s.io/v1';

/** The default world's reader (see fixtures/twin/default.yaml), and a ServiceAccount that may scale `web` in default. */
const policy: KubeObject[] = [
  ...bootstrapPolicy(),
  {
    apiVersion: RBAC,
    kind: 'ClusterRole',
    metadata: { name: 'read' },
    rules: [
      { apiGroups: [''], resources: ['pods', 'pods/log', 'nodes', 'namespaces'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: ['apps'], resources: ['deployments'], verbs: ['get', 'list', 'watch'] },
    ],
  },
  { apiVersion: RBAC, kind: 'ClusterRoleBinding', metadata: { name: 'read' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'read' }, subjects: [{ kind: 'User', name: 'restricted' }] },
  { apiVersion: RBAC, kind: 'Role', metadata: { name: 'scale-web', namespace: 'default' }, rules: [{ apiGroups: ['apps'], resources: ['deployments/scale'], resourceNames: ['web'], verbs: ['get', 'patch'] }] },
  { apiVersion: RBAC, kind: 'RoleBinding', metadata: { name: 'scale-web', namespace: 'default' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'scale-web' }, subjects: [{ kind: 'ServiceAccount', name: 'harness', namespace: 'default' }] },
];

let fx: ApiFixture;
let tokens: TokenAuthenticator;
let admin: string;
let reader: string;
let cacheDir: string;

beforeAll(async () => {
  cacheDir = await mkdtemp(path.join(os.tmpdir(), 'kubectl-cache-'));
});
afterAll(async () => {
  await rm(cacheDir, { recursive: true, force: true });
});
beforeEach(async () => {
  tokens = new TokenAuthenticator();
  admin = tokens.issue({ name: 'twin', groups: ['system:masters'] });
  reader = tokens.issue({ name: 'restricted', groups: [] });
  fx = await startApiFixture({ auth: { tokens, token: admin, users: [{ context: 'twin-restricted', token: reader }] } });
  for (const obj of policy) fx.store.create(resourceForKind(obj.kind)!.plural, obj);
});
afterEach(async () => {
  await fx.close();
});

async function call(method: string, path: string, token: string | undefined, body?: unknown, contentType = 'application/json') {
  const res = await fetch(`${fx.api.url}${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': contentType } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- wire JSON, inspected field by field
  return { status: res.status, body: (text.startsWith('{') ? JSON.parse(text) : text) as any };
}

describe('authentication', () => {
  it('answers 401 without a token or with one it did not issue, and lets anyone read the public paths', async () => {
    const none = await call('GET', '/api/v1/namespaces/default/pods', undefined);
    expect(none).toEqual({ status: 401, body: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'Unauthorized', reason: 'Unauthorized', code: 401 } });
    expect((await call('GET', '/api/v1/namespaces/default/pods', 'forged')).status).toBe(401);
    expect((await call('GET', '/version', 'forged')).status).toBe(401);
    expect((await call('GET', '/api', undefined)).status).toBe(401);
    expect((await call('GET', '/version', undefined)).status).toBe(200);
    expect((await call('GET', '/healthz', undefined)).status).toBe(200);
    expect((await call('GET', '/api/v1/namespaces/default/pods', admin)).status).toBe(200);
  });
});

describe('authorization', () => {
  it('lets the reader read and answers 403 in the Status shape for a write', async () => {
    expect((await call('GET', '/apis/apps/v1/namespaces/default/deployments/web', reader)).status).toBe(200);
    const watch = await openWatch(`${fx.api.url}/api/v1/namespaces/default/pods?watch=true`, { authorization: `Bearer ${reader}` });
    watch.close();
    expect(watch.status).toBe(200);
    const patch = await call('PATCH', '/apis/apps/v1/namespaces/default/deployments/web', reader, { spec: { replicas: 3 } }, 'application/merge-patch+json');
    expect(patch).toEqual({
      status: 403,
      body: {
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message: 'deployments.apps "web" is forbidden: User "restricted" cannot patch resource "deployments" in API group "apps" in the namespace "default"',
        reason: 'Forbidden',
        details: { name: 'web', group: 'apps', kind: 'deployments' },
        code: 403,
      },
    });
    expect(fx.store.get('deployments', 'default', 'web')!.spec.replicas).toBe(2);
    const node = await call('PATCH', '/api/v1/nodes/node-a1', reader, { spec: { unschedulable: true } }, 'application/merge-patch+json');
    expect(node.body.message).toBe('nodes "node-a1" is forbidden: User "restricted" cannot patch resource "nodes" in API group "" at the cluster scope');
    const evict = await call('POST', '/api/v1/namespaces/default/pods/web-1/eviction', reader, { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: 'web-1' } });
    expect(evict.body.message).toBe('pods "web-1" is forbidden: User "restricted" cannot create resource "pods/eviction" in API group "" in the namespace "default"');
    expect(fx.store.get('pods', 'default', 'web-1')).toBeDefined();
  });

  it('authenticates a ServiceAccount token as its account and applies its RoleBinding to the named object only', async () => {
    const sa = tokens.serviceAccountToken('default', 'harness');
    expect(tokens.serviceAccountToken('default', 'harness')).toBe(sa);
    const scale = await call('PATCH', '/apis/apps/v1/namespaces/default/deployments/web/scale', sa, { spec: { replicas: 4 } }, 'application/merge-patch+json');
    expect(scale.status).toBe(200);
    expect(fx.store.get('deployments', 'default', 'web')!.spec.replicas).toBe(4);
    const whole = await call('GET', '/apis/apps/v1/namespaces/default/deployments/web', sa);
    expect(whole.body.message).toBe('deployments.apps "web" is forbidden: User "system:serviceaccount:default:harness" cannot get resource "deployments" in API group "apps" in the namespace "default"');
  });
});

describe('access reviews', () => {
  const ssar = (attrs: Record<string, string>) => ({ apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', spec: { resourceAttributes: attrs } });

  it('answers SelfSubjectAccessReview per user, with the reason', async () => {
    const attrs = { namespace: 'default', verb: 'patch', group: 'apps', resource: 'deployments' };
    const asAdmin = await call('POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', admin, ssar(attrs));
    expect(asAdmin.status).toBe(201);
    expect(asAdmin.body).toMatchObject({ kind: 'SelfSubjectAccessReview', spec: { resourceAttributes: attrs }, status: { allowed: true, reason: expect.stringContaining('ClusterRoleBinding "cluster-admin"') } });
    expect((await call('POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', reader, ssar(attrs))).body.status).toEqual({ allowed: false });
    expect((await call('POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', reader, ssar({ ...attrs, verb: 'list' }))).body.status.allowed).toBe(true);
    const both = await call('POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', reader, { spec: { resourceAttributes: attrs, nonResourceAttributes: { path: '/api', verb: 'get' } } });
    expect(both.status).toBe(422);
    expect((await call('GET', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', admin)).status).toBe(405);
  });

  it('answers SubjectAccessReview for the admin only, about another user', async () => {
    const sar = { apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', spec: { user: 'restricted', resourceAttributes: { verb: 'list', resource: 'pods' } } };
    expect((await call('POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', admin, sar)).body.status.allowed).toBe(true);
    const denied = await call('POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', reader, sar);
    expect(denied.status).toBe(403);
  });
});

describe.runIf(needsKubectl.run)('kubectl per context', () => {
  function kubectl(...args: string[]) {
    return execa(KUBECTL, ['--cache-dir', cacheDir, ...args], { env: { KUBECONFIG: fx.kubeconfig }, timeout: 30_000, reject: false });
  }

  it('auth can-i answers per user', async () => {
    const asAdmin = await kubectl('auth', 'can-i', 'patch', 'deployments', '-n', 'default');
    expect([asAdmin.exitCode, asAdmin.stdout.trim()]).toEqual([0, 'yes']);
    const asReader = await kubectl('--context', 'twin-restricted', 'auth', 'can-i', 'patch', 'deployments', '-n', 'default');
    expect([asReader.exitCode, asReader.stdout.trim()]).toEqual([1, 'no']);
    const read = await kubectl('--context', 'twin-restricted', 'auth', 'can-i', 'list', 'pods', '-n', 'default');
    expect(read.stdout.trim()).toBe('yes');
  });

  it('a Role and RoleBinding applied by the admin with kubectl apply take effect at once', async () => {
    const manifest = [
      'apiVersion: rbac.authorization.k8s.io/v1',
      'kind: Role',
      'metadata: { name: patcher, namespace: default }',
      'rules: [{ apiGroups: [apps], resources: [deployments], verbs: [patch] }]',
      '---',
      'apiVersion: rbac.authorization.k8s.io/v1',
      'kind: RoleBinding',
      'metadata: { name: patcher, namespace: default }',
      'roleRef: { apiGroup: rbac.authorization.k8s.io, kind: Role, name: patcher }',
      'subjects: [{ apiGroup: rbac.authorization.k8s.io, kind: User, name: restricted }]',
    ].join('\n');
    const refused = await execa(KUBECTL, ['--cache-dir', cacheDir, '--context', 'twin-restricted', 'apply', '-f', '-'], { env: { KUBECONFIG: fx.kubeconfig }, input: manifest, timeout: 30_000, reject: false });
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toContain('is forbidden: User "restricted" cannot');
    const applied = await execa(KUBECTL, ['--cache-dir', cacheDir, 'apply', '-f', '-'], { env: { KUBECONFIG: fx.kubeconfig }, input: manifest, timeout: 30_000, reject: false });
    expect(applied.exitCode, applied.stderr).toBe(0);
    const can = await kubectl('--context', 'twin-restricted', 'auth', 'can-i', 'patch', 'deployments', '-n', 'default');
    expect(can.stdout.trim()).toBe('yes');
    expect((await kubectl('--context', 'twin-restricted', 'auth', 'can-i', 'patch', 'deployments', '-n', 'kube-system')).stdout.trim()).toBe('no');
  });

  it('auth whoami names the user and groups of each context', async () => {
    const reader = await kubectl('--context', 'twin-restricted', 'auth', 'whoami', '-o', 'json');
    expect(reader.exitCode, reader.stderr).toBe(0);
    expect(JSON.parse(reader.stdout)).toMatchObject({ kind: 'SelfSubjectReview', status: { userInfo: { username: 'restricted', groups: ['system:authenticated'] } } });
    expect(JSON.parse((await kubectl('auth', 'whoami', '-o', 'json')).stdout).status.userInfo).toEqual({ username: 'twin', groups: ['system:masters', 'system:authenticated'] });
  });

  it('auth can-i --list prints the reader\'s rules', async () => {
    const r = await kubectl('--context', 'twin-restricted', 'auth', 'can-i', '--list', '-n', 'default');
    expect(r.exitCode, r.stderr).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toMatch(/^Resources\s+Non-Resource URLs\s+Resource Names\s+Verbs/);
    expect(lines.find((l) => l.startsWith('deployments.apps '))).toMatch(/\[get list watch\]$/);
    expect(lines.find((l) => /^\s+\[\/version\]/.test(l))).toBeDefined();
  });

  it('a forbidden patch fails with the API server\'s message, and a read works', async () => {
    const r = await kubectl('--context', 'twin-restricted', 'scale', 'deployment', 'web', '--replicas', '5');
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('Error from server (Forbidden): deployments.apps "web" is forbidden: User "restricted" cannot patch resource "deployments/scale" in API group "apps" in the namespace "default"');
    const get = await kubectl('--context', 'twin-restricted', 'get', 'deployment', 'web', '-o', 'name');
    expect([get.exitCode, get.stdout.trim()]).toEqual([0, 'deployment.apps/web']);
  });
});

describe('client-node', () => {
  it('sends the context\'s token: the reader lists pods and is refused a delete', async () => {
    const core = loadKubeConfig(fx.kubeconfig, 'twin-restricted').makeApiClient(CoreV1Api);
    expect((await core.listNamespacedPod({ namespace: 'default' })).items.map((p) => p.metadata?.name).sort()).toEqual(['web-1', 'web-2']);
    await expect(core.deleteNamespacedPod({ namespace: 'default', name: 'web-1' })).rejects.toMatchObject({ code: 403 });
    expect(fx.store.get('pods', 'default', 'web-1')).toBeDefined();
  });

  it('asks SelfSubjectAccessReview through AuthorizationV1Api, as a preflight does', async () => {
    const review = (context: string) =>
      loadKubeConfig(fx.kubeconfig, context)
        .makeApiClient(AuthorizationV1Api)
        .createSelfSubjectAccessReview({ body: { spec: { resourceAttributes: { namespace: 'default', verb: 'patch', group: 'apps', resource: 'deployments' } } } });
    expect((await review('twin')).status?.allowed).toBe(true);
    expect((await review('twin-restricted')).status?.allowed).toBe(false);
  });
});
