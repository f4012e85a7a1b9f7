import { describe, expect, it } from 'vitest';
import { negotiate, parseApiPath, requestAttributes, statusObject } from '../../../../harness/twin/kube/server.ts';

function resource(path: string) {
  const route = parseApiPath(path);
  if (route.kind !== 'resource') throw new Error(`expected a resource route for ${path}, got ${route.kind}`);
  return { plural: route.info.plural, namespace: route.namespace, name: route.name, subresource: route.subresource, watch: route.watch };
}

describe('parseApiPath', () => {
  it('routes discovery paths', () => {
    expect(parseApiPath('/version')).toEqual({ kind: 'version' });
    expect(parseApiPath('/api')).toEqual({ kind: 'apiVersions' });
    expect(parseApiPath('/apis')).toEqual({ kind: 'apiGroupList' });
    expect(parseApiPath('/apis/apps')).toEqual({ kind: 'apiGroup', group: 'apps' });
    expect(parseApiPath('/api/v1')).toEqual({ kind: 'resourceList', group: '', version: 'v1' });
    expect(parseApiPath('/apis/elbv2.k8s.aws/v1beta1/')).toEqual({ kind: 'resourceList', group: 'elbv2.k8s.aws', version: 'v1beta1' });
    expect(parseApiPath('/openapi/v3')).toEqual({ kind: 'openApiV3Index' });
    expect(parseApiPath('/openapi/v3/apis/apps/v1')).toEqual({ kind: 'openApiV3', group: 'apps', version: 'v1' });
  });

  it('routes core and group resources, namespaced and cluster-wide', () => {
    expect(resource('/api/v1/pods')).toEqual({ plural: 'pods', namespace: undefined, name: undefined, subresource: undefined, watch: false });
    expect(resource('/api/v1/namespaces/default/pods')).toMatchObject({ plural: 'pods', namespace: 'default' });
    expect(resource('/api/v1/namespaces/default/pods/web-1/eviction')).toMatchObject({ plural: 'pods', namespace: 'default', name: 'web-1', subresource: 'eviction' });
    expect(resource('/api/v1/namespaces/default/pods/web-1/log')).toMatchObject({ plural: 'pods', name: 'web-1', subresource: 'log' });
    expect(resource('/apis/apps/v1/namespaces/ns1/deployments/web/scale')).toMatchObject({ plural: 'deployments', name: 'web', subresource: 'scale' });
    expect(resource('/apis/elbv2.k8s.aws/v1beta1/namespaces/ns1/targetgroupbindings/tgb')).toMatchObject({ plural: 'targetgroupbindings', name: 'tgb' });
    expect(resource('/api/v1/nodes/node-a1/status')).toMatchObject({ plural: 'nodes', name: 'node-a1', subresource: 'status' });
  });

  it('tells a namespace object from the namespace prefix of a namespaced resource', () => {
    expect(resource('/api/v1/namespaces/default')).toMatchObject({ plural: 'namespaces', name: 'default', namespace: undefined });
    expect(resource('/api/v1/namespaces')).toMatchObject({ plural: 'namespaces', name: undefined });
    expect(parseApiPath('/api/v1/namespaces/default/finalize')).toEqual({ kind: 'notFound' });
  });

  it('routes the legacy watch prefix', () => {
    expect(resource('/api/v1/watch/namespaces/default/pods')).toMatchObject({ plural: 'pods', namespace: 'default', watch: true });
    expect(resource('/api/v1/watch/namespaces/default/pods/web-1')).toMatchObject({ name: 'web-1', watch: true });
    expect(resource('/apis/apps/v1/watch/deployments')).toMatchObject({ plural: 'deployments', watch: true });
  });

  it('decodes percent-encoded segments', () => {
    expect(resource('/api/v1/namespaces/default/pods/web%2D1')).toMatchObject({ name: 'web-1' });
  });

  it('rejects unknown resources, wrong groups, bad scopes and unknown subresources', () => {
    for (const path of [
      '/',
      '/healthz/x',
      '/api/v1/widgets',
      '/apis/apps/v1/pods',
      '/api/v1/deployments',
      '/api/v1/namespaces/default/nodes',
      '/api/v1/pods/web-1',
      '/api/v1/namespaces/default/pods/web-1/exec',
      '/apis/apps/v1/namespaces/default/deployments/web/log',
      '/api/v1/namespaces/default/pods/web-1/status/extra',
      '/api/v1/watch/namespaces/default/pods/web-1/status',
      '/api/v1/namespaces/default/pods/%E0%A4%A',
      '/api/v1/constructor',
    ]) {
      expect(parseApiPath(path), path).toEqual({ kind: 'notFound' });
    }
  });
});

describe('negotiate', () => {
  const kubectlGet = 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json';
  const kubectlDiscovery = 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json';

  it('serves a Table to kubectl get and plain JSON otherwise', () => {
    expect(negotiate(kubectlGet, true)).toEqual({ kind: 'table', apiVersion: 'meta.k8s.io/v1' });
    expect(negotiate(kubectlGet, false)).toEqual({ kind: 'json' });
    expect(negotiate('application/json;as=Table;v=v1beta1;g=meta.k8s.io', true)).toEqual({ kind: 'table', apiVersion: 'meta.k8s.io/v1beta1' });
    expect(negotiate(undefined, true)).toEqual({ kind: 'json' });
    expect(negotiate('application/json, */*', true)).toEqual({ kind: 'json' });
  });

  it('falls back from aggregated discovery to the legacy documents', () => {
    expect(negotiate(kubectlDiscovery, false)).toEqual({ kind: 'json' });
  });

  it('finds nothing acceptable when only other encodings are offered', () => {
    expect(negotiate('application/vnd.kubernetes.protobuf', true)).toBeUndefined();
    expect(negotiate('application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList', false)).toBeUndefined();
  });
});

describe('statusObject', () => {
  it('builds a Failure or Success Status', () => {
    expect(statusObject(404, 'NotFound', 'pods "x" not found', { name: 'x' })).toEqual({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'pods "x" not found',
      reason: 'NotFound',
      details: { name: 'x' },
      code: 404,
    });
    expect(statusObject(201, '', '')).toMatchObject({ status: 'Success', code: 201 });
  });
});

describe('requestAttributes', () => {
  const attrs = (method: string, url: string) => {
    const u = new URL(url, 'http://x');
    return requestAttributes(parseApiPath(u.pathname), method, u.pathname, u.searchParams);
  };

  it('names the verb of a resource request as RequestInfo does', () => {
    expect(attrs('GET', '/api/v1/namespaces/shop/pods')).toEqual({ kind: 'resource', verb: 'list', group: '', resource: 'pods', namespace: 'shop', name: undefined, subresource: undefined });
    expect(attrs('GET', '/api/v1/pods?watch=true')).toMatchObject({ verb: 'watch', namespace: undefined });
    expect(attrs('GET', '/api/v1/watch/namespaces/shop/pods')).toMatchObject({ verb: 'watch', namespace: 'shop' });
    expect(attrs('GET', '/apis/apps/v1/namespaces/shop/deployments/web')).toMatchObject({ verb: 'get', group: 'apps', resource: 'deployments', name: 'web' });
    expect(attrs('PATCH', '/apis/apps/v1/namespaces/shop/deployments/web/scale')).toMatchObject({ verb: 'patch', resource: 'deployments', subresource: 'scale', name: 'web' });
    expect(attrs('PUT', '/api/v1/nodes/node-a1')).toMatchObject({ verb: 'update', resource: 'nodes', namespace: undefined });
    expect(attrs('POST', '/api/v1/namespaces/shop/pods/web-1/eviction')).toMatchObject({ verb: 'create', resource: 'pods', subresource: 'eviction' });
    expect(attrs('GET', '/api/v1/namespaces/shop/pods/web-1/log?follow=true')).toMatchObject({ verb: 'get', subresource: 'log' });
    expect(attrs('DELETE', '/api/v1/namespaces/shop/pods/web-1')).toMatchObject({ verb: 'delete' });
    expect(attrs('DELETE', '/api/v1/namespaces/shop/pods')).toMatchObject({ verb: 'deletecollection' });
    expect(attrs('POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews')).toMatchObject({ verb: 'create', group: 'authorization.k8s.io', resource: 'selfsubjectaccessreviews' });
  });

  it('names a path outside the resources by its lower-case method, and nothing for an unserved path', () => {
    expect(attrs('GET', '/apis/apps/v1')).toEqual({ kind: 'nonResource', verb: 'get', path: '/apis/apps/v1' });
    expect(attrs('GET', '/healthz')).toEqual({ kind: 'nonResource', verb: 'get', path: '/healthz' });
    expect(attrs('POST', '/version')).toEqual({ kind: 'nonResource', verb: 'post', path: '/version' });
    expect(attrs('GET', '/api/v1/widgets')).toBeUndefined();
  });
});
