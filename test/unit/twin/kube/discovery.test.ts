import { describe, expect, it } from 'vitest';
import { apiGroup, apiGroupList, apiResourceList, apiVersions, openApiV3Document, openApiV3Index, twinVersion } from '../../../../harness/twin/kube/discovery.ts';

type Entry = { name: string; kind: string; group?: string; version?: string; verbs: string[]; namespaced: boolean; shortNames?: string[]; categories?: string[]; singularName: string };

describe('discovery documents', () => {
  it('announces a 1.31 server and the core version', () => {
    expect(twinVersion).toMatchObject({ major: '1', minor: '31', gitVersion: 'v1.31.0-twin' });
    expect(apiVersions('127.0.0.1:1234')).toMatchObject({ kind: 'APIVersions', versions: ['v1'] });
  });

  it('lists every named group with its preferred version', () => {
    const list = apiGroupList();
    expect(list.kind).toBe('APIGroupList');
    const names = list.groups.map((g) => g.name).sort();
    expect(names).toEqual(['apps', 'authentication.k8s.io', 'authorization.k8s.io', 'batch', 'discovery.k8s.io', 'elbv2.k8s.aws', 'k6.io', 'networking.k8s.io', 'policy', 'rbac.authorization.k8s.io']);
    expect(list.groups.find((g) => g.name === 'elbv2.k8s.aws')?.preferredVersion).toEqual({ groupVersion: 'elbv2.k8s.aws/v1beta1', version: 'v1beta1' });
    expect(apiGroup('apps')).toMatchObject({ kind: 'APIGroup', name: 'apps' });
    expect(apiGroup('nope')).toBeUndefined();
  });

  it('describes core resources and subresources as kubectl drain and api-resources expect', () => {
    const list = apiResourceList('', 'v1')!;
    expect(list).toMatchObject({ kind: 'APIResourceList', groupVersion: 'v1' });
    const byName = new Map((list.resources as Entry[]).map((r) => [r.name, r]));
    expect(byName.get('pods')).toMatchObject({ kind: 'Pod', namespaced: true, singularName: 'pod', shortNames: ['po'], categories: ['all'] });
    expect(byName.get('pods')!.verbs).toEqual(expect.arrayContaining(['get', 'list', 'watch', 'create', 'patch', 'delete']));
    expect(byName.get('nodes')).toMatchObject({ namespaced: false, shortNames: ['no'] });
    expect(byName.get('nodes')!.categories).toBeUndefined();
    // kubectl drain finds the eviction API by this entry.
    expect(byName.get('pods/eviction')).toMatchObject({ group: 'policy', version: 'v1', kind: 'Eviction', verbs: ['create'] });
    expect(byName.get('pods/status')).toMatchObject({ kind: 'Pod', verbs: ['get', 'patch', 'update'] });
    // kubectl logs needs pods/log (get) in discovery.
    expect(byName.get('pods/log')).toEqual({ name: 'pods/log', singularName: '', namespaced: true, kind: 'Pod', verbs: ['get'] });
  });

  it('describes group resources, the scale subresource and the CRD', () => {
    const apps = new Map((apiResourceList('apps', 'v1')!.resources as Entry[]).map((r) => [r.name, r]));
    expect(apps.get('deployments')).toMatchObject({ kind: 'Deployment', shortNames: ['deploy'], categories: ['all'] });
    expect(apps.get('deployments/scale')).toMatchObject({ group: 'autoscaling', version: 'v1', kind: 'Scale' });
    const tgb = apiResourceList('elbv2.k8s.aws', 'v1beta1')!.resources as Entry[];
    expect(tgb.map((r) => r.name)).toEqual(['targetgroupbindings', 'targetgroupbindings/status']);
    expect(apiResourceList('apps', 'v2')).toBeUndefined();
  });

  it('serves Endpoints (short name ep) in the core group and EndpointSlices in discovery.k8s.io/v1', () => {
    const core = new Map((apiResourceList('', 'v1')!.resources as Entry[]).map((r) => [r.name, r]));
    expect(core.get('endpoints')).toMatchObject({ kind: 'Endpoints', singularName: 'endpoints', namespaced: true, shortNames: ['ep'] });
    expect(core.get('endpoints')!.verbs).toEqual(expect.arrayContaining(['get', 'list', 'watch']));
    const discovery = apiResourceList('discovery.k8s.io', 'v1')!.resources as Entry[];
    expect(discovery).toEqual([expect.objectContaining({ name: 'endpointslices', kind: 'EndpointSlice', singularName: 'endpointslice', namespaced: true })]);
    expect(discovery[0].verbs).toEqual(expect.arrayContaining(['get', 'list', 'watch']));
  });

  it('serves RBAC objects and the access reviews (create only), as kubectl auth can-i finds them', () => {
    const rbac = new Map((apiResourceList('rbac.authorization.k8s.io', 'v1')!.resources as Entry[]).map((r) => [r.name, r]));
    expect([...rbac.keys()]).toEqual(['roles', 'clusterroles', 'rolebindings', 'clusterrolebindings']);
    expect(rbac.get('clusterroles')).toMatchObject({ kind: 'ClusterRole', namespaced: false });
    expect(rbac.get('rolebindings')).toMatchObject({ kind: 'RoleBinding', namespaced: true });
    const reviews = apiResourceList('authorization.k8s.io', 'v1')!.resources as Entry[];
    expect(reviews.map((r) => [r.name, r.verbs])).toEqual([
      ['selfsubjectaccessreviews', ['create']],
      ['selfsubjectrulesreviews', ['create']],
      ['subjectaccessreviews', ['create']],
    ]);
    const core = new Map((apiResourceList('', 'v1')!.resources as Entry[]).map((r) => [r.name, r]));
    expect(core.get('serviceaccounts')).toMatchObject({ kind: 'ServiceAccount', namespaced: true, shortNames: ['sa'] });
  });

  it('offers OpenAPI v3 operations that tell kubectl the server validates fields', () => {
    expect(openApiV3Index().paths['api/v1']).toEqual({ serverRelativeURL: '/openapi/v3/api/v1?hash=twin' });
    const doc = openApiV3Document('apps', 'v1')!;
    const item = doc.paths['/apis/apps/v1/namespaces/{namespace}/deployments/{name}'] as { patch: { parameters: Array<{ name: string }>; 'x-kubernetes-group-version-kind': unknown } };
    expect(item.patch['x-kubernetes-group-version-kind']).toEqual({ group: 'apps', version: 'v1', kind: 'Deployment' });
    expect(item.patch.parameters.map((p) => p.name)).toContain('fieldValidation');
    expect(openApiV3Document('', 'v1')!.paths).toHaveProperty('/api/v1/nodes/{name}');
    expect(openApiV3Document('nope', 'v1')).toBeUndefined();
  });
});
