/** The RBAC authorizer's decisions, over lists of Roles and bindings: rules, subjects, scopes, messages. */
import { describe, expect, it } from 'vitest';
import {
  ANONYMOUS,
  authorize,
  bootstrapPolicy,
  forbiddenMessage,
  ruleAllows,
  rulesFor,
  serviceAccountUser,
  type RbacSource,
  type RequestAttributes,
  type UserInfo,
} from '../../../../harness/twin/kube/rbac.ts';
import type { KubeObject } from '../../../../harness/twin/kube/types.ts';

const RBAC = 'rbac.authorization.k8s.io/v1';

function source(objects: KubeObject[]): RbacSource {
  const kinds = { roles: 'Role', clusterroles: 'ClusterRole', rolebindings: 'RoleBinding', clusterrolebindings: 'ClusterRoleBinding' } as const;
  return { list: (plural) => objects.filter((o) => o.kind === kinds[plural]) };
}

type ResourceAttributes = Extract<RequestAttributes, { kind: 'resource' }>;

function res(verb: string, group: string, resource: string, extra: Partial<ResourceAttributes> = {}): ResourceAttributes {
  return { kind: 'resource', verb, group, resource, ...extra };
}

const reader: UserInfo = { name: 'restricted', groups: ['system:authenticated'] };
const admin: UserInfo = { name: 'twin', groups: ['system:masters', 'system:authenticated'] };

const world: KubeObject[] = [
  ...bootstrapPolicy(),
  {
    apiVersion: RBAC,
    kind: 'ClusterRole',
    metadata: { name: 'read' },
    rules: [
      { apiGroups: [''], resources: ['pods', 'pods/log'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: ['apps'], resources: ['deployments'], verbs: ['get', 'list', 'watch'] },
    ],
  },
  { apiVersion: RBAC, kind: 'ClusterRoleBinding', metadata: { name: 'read-restricted' }, roleRef: { kind: 'ClusterRole', name: 'read' }, subjects: [{ kind: 'User', name: 'restricted' }] },
  {
    apiVersion: RBAC,
    kind: 'Role',
    metadata: { name: 'scaler', namespace: 'shop' },
    rules: [
      { apiGroups: ['apps'], resources: ['deployments/scale'], resourceNames: ['web'], verbs: ['patch'] },
      { apiGroups: [''], resources: ['pods/eviction'], verbs: ['create'] },
    ],
  },
  { apiVersion: RBAC, kind: 'RoleBinding', metadata: { name: 'scaler', namespace: 'shop' }, roleRef: { kind: 'Role', name: 'scaler' }, subjects: [{ kind: 'ServiceAccount', name: 'harness' }] },
  { apiVersion: RBAC, kind: 'RoleBinding', metadata: { name: 'read-shop', namespace: 'shop' }, roleRef: { kind: 'ClusterRole', name: 'read' }, subjects: [{ kind: 'Group', name: 'system:serviceaccounts:shop' }] },
];

describe('ruleAllows', () => {
  it('matches verbs, groups, resources and names, with * for any', () => {
    const rule = { apiGroups: ['apps'], resources: ['deployments'], verbs: ['get', 'patch'] };
    expect(ruleAllows(res('patch', 'apps', 'deployments'), rule)).toBe(true);
    expect(ruleAllows(res('delete', 'apps', 'deployments'), rule)).toBe(false);
    expect(ruleAllows(res('patch', '', 'deployments'), rule)).toBe(false);
    expect(ruleAllows(res('patch', 'apps', 'replicasets'), rule)).toBe(false);
    expect(ruleAllows(res('delete', 'x', 'y'), { apiGroups: ['*'], resources: ['*'], verbs: ['*'] })).toBe(true);
    const named = { apiGroups: [''], resources: ['nodes'], resourceNames: ['node-a1'], verbs: ['get'] };
    expect(ruleAllows(res('get', '', 'nodes', { name: 'node-a1' }), named)).toBe(true);
    expect(ruleAllows(res('get', '', 'nodes', { name: 'node-b1' }), named)).toBe(false);
    // A list names no object: resourceNames cannot allow it.
    expect(ruleAllows(res('list', '', 'nodes'), { ...named, verbs: ['list'] })).toBe(false);
  });

  it('reaches a subresource only by its own name or */sub', () => {
    const plain = { apiGroups: ['apps'], resources: ['deployments'], verbs: ['patch'] };
    expect(ruleAllows(res('patch', 'apps', 'deployments', { subresource: 'scale' }), plain)).toBe(false);
    expect(ruleAllows(res('patch', 'apps', 'deployments', { subresource: 'scale' }), { ...plain, resources: ['deployments/scale'] })).toBe(true);
    expect(ruleAllows(res('patch', 'apps', 'deployments', { subresource: 'scale' }), { ...plain, resources: ['*/scale'] })).toBe(true);
    expect(ruleAllows(res('patch', 'apps', 'deployments', { subresource: 'status' }), { ...plain, resources: ['*/scale'] })).toBe(false);
    expect(ruleAllows(res('patch', 'apps', 'deployments', { subresource: 'scale' }), { ...plain, resources: ['*'] })).toBe(true);
  });

  it('matches nonResourceURLs exactly, by a trailing * prefix, or *', () => {
    const get = (path: string): RequestAttributes => ({ kind: 'nonResource', verb: 'get', path });
    const rule = { nonResourceURLs: ['/version', '/apis/*'], verbs: ['get'] };
    expect(ruleAllows(get('/version'), rule)).toBe(true);
    expect(ruleAllows(get('/version/x'), rule)).toBe(false);
    expect(ruleAllows(get('/apis/apps/v1'), rule)).toBe(true);
    expect(ruleAllows(get('/apis'), rule)).toBe(false);
    expect(ruleAllows({ kind: 'nonResource', verb: 'post', path: '/version' }, rule)).toBe(false);
    // A resource rule never allows a path, nor a path rule a resource.
    expect(ruleAllows(get('/version'), { apiGroups: ['*'], resources: ['*'], verbs: ['*'] })).toBe(false);
    expect(ruleAllows(res('get', '', 'pods'), { nonResourceURLs: ['*'], verbs: ['*'] })).toBe(false);
  });
});

describe('authorize', () => {
  const rbac = source(world);

  it('lets system:masters do anything, by the cluster-admin binding', () => {
    const d = authorize(rbac, admin, res('patch', 'apps', 'deployments', { namespace: 'shop', name: 'web' }));
    expect(d).toEqual({ allowed: true, reason: 'RBAC: allowed by ClusterRoleBinding "cluster-admin" of ClusterRole "cluster-admin" to Group "system:masters"' });
  });

  it('lets a reader read everywhere but not write', () => {
    expect(authorize(rbac, reader, res('list', '', 'pods')).allowed).toBe(true);
    expect(authorize(rbac, reader, res('get', '', 'pods', { namespace: 'shop', name: 'web-1', subresource: 'log' })).allowed).toBe(true);
    expect(authorize(rbac, reader, res('patch', 'apps', 'deployments', { namespace: 'shop', name: 'web' }))).toEqual({ allowed: false, reason: '' });
    expect(authorize(rbac, reader, res('patch', 'apps', 'deployments', { namespace: 'shop', name: 'web', subresource: 'scale' })).allowed).toBe(false);
  });

  it('gives every authenticated user discovery and the self-reviews, the anonymous one only the public paths', () => {
    expect(authorize(rbac, reader, { kind: 'nonResource', verb: 'get', path: '/apis/apps/v1' }).allowed).toBe(true);
    expect(authorize(rbac, reader, res('create', 'authorization.k8s.io', 'selfsubjectaccessreviews')).allowed).toBe(true);
    expect(authorize(rbac, reader, res('create', 'authorization.k8s.io', 'subjectaccessreviews')).allowed).toBe(false);
    expect(authorize(rbac, ANONYMOUS, { kind: 'nonResource', verb: 'get', path: '/version' }).allowed).toBe(true);
    expect(authorize(rbac, ANONYMOUS, { kind: 'nonResource', verb: 'get', path: '/api' }).allowed).toBe(false);
    expect(authorize(rbac, ANONYMOUS, res('list', '', 'pods')).allowed).toBe(false);
  });

  it('applies a RoleBinding only in its namespace, to its ServiceAccount (namespace from the binding) and groups', () => {
    const sa = serviceAccountUser('shop', 'harness');
    expect(sa).toEqual({ name: 'system:serviceaccount:shop:harness', groups: ['system:serviceaccounts', 'system:serviceaccounts:shop', 'system:authenticated'] });
    const scale = res('patch', 'apps', 'deployments', { namespace: 'shop', name: 'web', subresource: 'scale' });
    expect(authorize(rbac, sa, scale)).toEqual({ allowed: true, reason: 'RBAC: allowed by RoleBinding "scaler/shop" of Role "scaler" to ServiceAccount "harness/shop"' });
    expect(authorize(rbac, sa, { ...scale, name: 'other' }).allowed).toBe(false);
    expect(authorize(rbac, sa, { ...scale, namespace: 'default' }).allowed).toBe(false);
    expect(authorize(rbac, serviceAccountUser('other', 'harness'), { ...scale, namespace: 'other' }).allowed).toBe(false);
    expect(authorize(rbac, sa, res('create', '', 'pods', { namespace: 'shop', name: 'web-1', subresource: 'eviction' })).allowed).toBe(true);
    // Through its group: the ClusterRole "read" bound in shop only.
    expect(authorize(rbac, serviceAccountUser('shop', 'any'), res('list', 'apps', 'deployments', { namespace: 'shop' })).allowed).toBe(true);
    expect(authorize(rbac, serviceAccountUser('shop', 'any'), res('list', 'apps', 'deployments', { namespace: 'kube-system' })).allowed).toBe(false);
    expect(authorize(rbac, serviceAccountUser('shop', 'any'), res('list', 'apps', 'deployments')).allowed).toBe(false);
  });

  it('names a binding whose role is missing in the reason', () => {
    const broken = source([...world, { apiVersion: RBAC, kind: 'RoleBinding', metadata: { name: 'b', namespace: 'shop' }, roleRef: { kind: 'Role', name: 'gone' }, subjects: [{ kind: 'User', name: 'restricted' }] }]);
    expect(authorize(broken, reader, res('delete', '', 'pods', { namespace: 'shop', name: 'x' }))).toEqual({ allowed: false, reason: 'RBAC: role.rbac.authorization.k8s.io "gone" not found' });
  });
});

describe('rulesFor', () => {
  it('lists the rules that apply in a namespace, resource and non-resource apart', () => {
    const rules = rulesFor(source(world), serviceAccountUser('shop', 'harness'), 'shop');
    expect(rules.incomplete).toBe(false);
    expect(rules.resourceRules).toContainEqual({ verbs: ['patch'], apiGroups: ['apps'], resources: ['deployments/scale'], resourceNames: ['web'] });
    expect(rules.resourceRules).toContainEqual({ verbs: ['get', 'list', 'watch'], apiGroups: ['apps'], resources: ['deployments'] });
    expect(rules.resourceRules).toContainEqual({ verbs: ['create'], apiGroups: ['authorization.k8s.io'], resources: ['selfsubjectaccessreviews', 'selfsubjectrulesreviews'] });
    expect(rules.nonResourceRules.flatMap((r) => r.nonResourceURLs)).toContain('/apis/*');
    const elsewhere = rulesFor(source(world), serviceAccountUser('shop', 'harness'), 'default');
    expect(elsewhere.resourceRules.flatMap((r) => r.resources)).not.toContain('deployments/scale');
  });
});

describe('forbiddenMessage', () => {
  it('says it as the API server does, for an object, a collection, the cluster scope and a path', () => {
    expect(forbiddenMessage(reader, res('patch', 'apps', 'deployments', { namespace: 'shop', name: 'web' }))).toBe(
      'deployments.apps "web" is forbidden: User "restricted" cannot patch resource "deployments" in API group "apps" in the namespace "shop"',
    );
    expect(forbiddenMessage(reader, res('list', '', 'pods', { namespace: 'shop' }))).toBe('pods is forbidden: User "restricted" cannot list resource "pods" in API group "" in the namespace "shop"');
    expect(forbiddenMessage(reader, res('patch', '', 'nodes', { name: 'node-a1' }))).toBe('nodes "node-a1" is forbidden: User "restricted" cannot patch resource "nodes" in API group "" at the cluster scope');
    expect(forbiddenMessage(reader, res('patch', 'apps', 'deployments', { namespace: 'shop', name: 'web', subresource: 'scale' }))).toBe(
      'deployments.apps "web" is forbidden: User "restricted" cannot patch resource "deployments/scale" in API group "apps" in the namespace "shop"',
    );
    expect(forbiddenMessage(reader, { kind: 'nonResource', verb: 'post', path: '/version' }, 'RBAC: x')).toBe('forbidden: User "restricted" cannot post path "/version": RBAC: x');
  });
});
