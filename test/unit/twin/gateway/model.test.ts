import { describe, expect, it } from 'vitest';
import { buildModel, readyServers, servedByNginx, upstreamName, type Obj } from '../../../../harness/twin/gateway/model.ts';

const ingress = (name: string, spec: Record<string, unknown>, namespace = 'shop'): Obj => ({ metadata: { name, namespace }, spec });
const service = (name: string, ports: unknown[], namespace = 'shop'): Obj => ({ metadata: { name, namespace }, spec: { ports } });
const slice = (service: string, ports: unknown[], endpoints: Array<{ ip: string; ready: boolean }>, namespace = 'shop'): Obj => ({
  metadata: { name: `${service}-abcde`, namespace, labels: { 'kubernetes.io/service-name': service } },
  ports,
  endpoints: endpoints.map((e) => ({ addresses: [e.ip], conditions: { ready: e.ready, serving: e.ready, terminating: !e.ready } })),
});
const web = ingress('web-gateway', { ingressClassName: 'nginx', rules: [{ http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } } }] } }] });
const webSvc = service('web', [{ name: 'http', port: 80, targetPort: 8080 }]);

describe('the gateway model', () => {
  it('names upstreams <namespace>-<service>-<port> as ingress-nginx does', () => {
    expect(upstreamName('shop', 'web', 80)).toBe('shop-web-80');
    expect(upstreamName('shop', 'web', 'http')).toBe('shop-web-http');
  });

  it('serves only class-nginx Ingresses (spec.ingressClassName or the legacy annotation)', () => {
    expect(servedByNginx(web)).toBe(true);
    expect(servedByNginx(ingress('a', { ingressClassName: 'alb' }))).toBe(false);
    expect(servedByNginx({ metadata: { name: 'b', annotations: { 'kubernetes.io/ingress.class': 'nginx' } }, spec: {} })).toBe(true);
  });

  it('keeps only ready endpoints, at the slice port named like the Service port', () => {
    const slices = [slice('web', [{ name: 'http', port: 8080, protocol: 'TCP' }], [{ ip: '127.0.1.2', ready: true }, { ip: '127.0.1.1', ready: true }, { ip: '127.0.1.3', ready: false }])];
    expect(readyServers({ name: 'http', port: 80, targetPort: 8080 }, slices)).toEqual(['127.0.1.1:8080', '127.0.1.2:8080']);
    // A port of another name: the numeric targetPort stands in (ingress-nginx issue 7390).
    expect(readyServers({ name: 'metrics', port: 9090, targetPort: 9091 }, slices)).toEqual(['127.0.1.1:9091', '127.0.1.2:9091']);
    // In the twin's port mode the slice says where the pod really listens.
    expect(readyServers({ name: 'http', port: 80, targetPort: 'http' }, [slice('web', [{ name: 'http', port: 41234 }], [{ ip: '127.0.0.1', ready: true }])])).toEqual(['127.0.0.1:41234']);
  });

  it('builds one upstream per Service port and a route per path; a backend with no ready endpoint has no servers', () => {
    const other = ingress('api', { ingressClassName: 'nginx', rules: [{ host: 'api.example.com', http: { paths: [{ path: '/v1', pathType: 'Exact', backend: { service: { name: 'api', port: { name: 'http' } } } }] } }] });
    const alb = ingress('web', { ingressClassName: 'alb', defaultBackend: { service: { name: 'web', port: { number: 80 } } } });
    const model = buildModel(
      [web, other, alb],
      [webSvc, service('api', [{ name: 'http', port: 80, targetPort: 8080 }])],
      [slice('web', [{ name: 'http', port: 8080 }], [{ ip: '127.0.1.1', ready: true }]), slice('api', [{ name: 'http', port: 8080 }], [{ ip: '127.0.1.9', ready: false }])],
    );
    expect(model.upstreams).toEqual([
      { name: 'shop-api-http', servers: [] },
      { name: 'shop-web-80', servers: ['127.0.1.1:8080'] },
    ]);
    expect(model.servers).toEqual([
      { host: '_', routes: [{ path: '/', exact: false, upstream: 'shop-web-80' }] },
      { host: 'api.example.com', routes: [{ path: '/v1', exact: true, upstream: 'shop-api-http' }] },
    ]);
  });

  it('routes a default backend to the default server, and gives a missing Service an empty upstream', () => {
    const model = buildModel([ingress('d', { ingressClassName: 'nginx', defaultBackend: { service: { name: 'gone', port: { number: 80 } } } })], [], []);
    expect(model.servers).toEqual([{ host: '_', routes: [{ path: '/', exact: false, upstream: 'shop-gone-80' }] }]);
    expect(model.upstreams).toEqual([{ name: 'shop-gone-80', servers: [] }]);
  });
});
