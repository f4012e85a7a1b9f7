import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../../../../harness/core/paths.ts';
import { loadTwinConfig } from '../../../../harness/twin/config.ts';
import type { KubeObject } from '../../../../harness/twin/kube/types.ts';
import { buildGroupModel, groupIdOf, pathPatterns, sortMembers, stackLabels, type GroupId } from '../../../../harness/twin/lbc/model.ts';

const A = 'alb.ingress.kubernetes.io/';

function ingress(namespace: string, name: string, annotations: Record<string, string>, spec: Record<string, unknown>): KubeObject {
  return { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { namespace, name, annotations }, spec: { ingressClassName: 'alb', ...spec } } as KubeObject;
}
const backend = (service: string, port = 80) => ({ service: { name: service, port: { number: port } } });
const explicit = (name: string): GroupId => ({ explicit: true, name });

describe('IngressGroup membership and order', () => {
  it('takes group.name as an explicit group, else the Ingress alone; an invalid name is refused with the controller text', () => {
    expect(groupIdOf(ingress('shop', 'web', { [`${A}group.name`]: 'shared.edge' }, {}))).toEqual({ ok: true, value: explicit('shared.edge') });
    expect(groupIdOf(ingress('shop', 'web', {}, {}))).toEqual({ ok: true, value: { explicit: false, name: 'shop/web' } });
    const bad = groupIdOf(ingress('shop', 'web', { [`${A}group.name`]: 'Shared_Edge' }, {}));
    expect(bad.ok).toBe(false);
    expect(!bad.ok && bad.error).toMatch(/^invalid ingress group: groupName must consist of lower case alphanumeric characters/);
  });

  it('orders by group.order (default 0), then by namespace/name', () => {
    const members = [
      ingress('b', 'x', {}, {}),
      ingress('a', 'z', {}, {}),
      ingress('z', 'first', { [`${A}group.order`]: '-5' }, {}),
      ingress('a', 'last', { [`${A}group.order`]: '7' }, {}),
    ];
    const sorted = sortMembers(members);
    expect(sorted.ok && sorted.value.map((i) => `${i.metadata.namespace}/${i.metadata.name}`)).toEqual(['z/first', 'a/z', 'b/x', 'a/last']);
    const out = sortMembers([ingress('a', 'b', { [`${A}group.order`]: '1001' }, {})]);
    expect(!out.ok && out.error).toBe('explicit Ingress group order must be within [-1000:1000], Ingress: a/b, order: 1001');
  });

  it('labels an explicit group by stack, an implicit one by stack-namespace and stack-name', () => {
    expect(stackLabels(explicit('edge'))).toEqual({ 'ingress.k8s.aws/stack': 'edge' });
    expect(stackLabels({ explicit: false, name: 'shop/web' })).toEqual({ 'ingress.k8s.aws/stack-namespace': 'shop', 'ingress.k8s.aws/stack-name': 'web' });
  });
});

describe('group model', () => {
  it('maps pathType to path patterns as the controller does', () => {
    expect(pathPatterns('/api/', 'Prefix')).toEqual({ ok: true, value: ['/api', '/api/*'] });
    expect(pathPatterns('/', 'Prefix')).toEqual({ ok: true, value: ['/*'] });
    expect(pathPatterns('/exact', 'Exact')).toEqual({ ok: true, value: ['/exact'] });
    expect(pathPatterns('/img/*.png', 'ImplementationSpecific')).toEqual({ ok: true, value: ['/img/*.png'] });
    expect(pathPatterns('/img/*', undefined)).toEqual({ ok: true, value: ['/img/*'] });
    expect(pathPatterns('/a*', 'Exact')).toEqual({ ok: false, error: "exact path shouldn't contain wildcards: /a*" });
  });

  it('numbers rules across members in group order, paths Exact, then Prefix longest first, then the rest', () => {
    const web = ingress('shop', 'web', { [`${A}group.name`]: 'edge', [`${A}group.order`]: '2' }, {
      rules: [{ host: 'shop.example.com', http: { paths: [
        { path: '/', pathType: 'Prefix', backend: backend('web') },
        { path: '/static', pathType: 'ImplementationSpecific', backend: backend('cdn') },
        { path: '/cart/items', pathType: 'Prefix', backend: backend('cart') },
        { path: '/health', pathType: 'Exact', backend: backend('web') },
      ] } }],
    });
    const api = ingress('shop', 'api', { [`${A}group.name`]: 'edge', [`${A}group.order`]: '1' }, { rules: [{ http: { paths: [{ path: '/api', pathType: 'Prefix', backend: backend('api', 8080) }] } }] });
    const sorted = sortMembers([web, api]);
    const built = buildGroupModel(explicit('edge'), sorted.ok ? sorted.value : []);
    expect(built.ok).toBe(true);
    if (!built.ok) return;
    const [listener] = built.value.listeners;
    expect(listener).toMatchObject({ port: 80, protocol: 'HTTP', defaultAction: { type: 'fixed-response', statusCode: '404', contentType: 'text/plain' } });
    expect(listener.rules.map((r) => [r.priority, r.conditions, r.action.type === 'forward' && `${r.action.backend.ingress}/${r.action.backend.service}`])).toEqual([
      [1, [{ field: 'path-pattern', values: ['/api', '/api/*'] }], 'api/api'],
      [2, [{ field: 'host-header', values: ['shop.example.com'] }, { field: 'path-pattern', values: ['/health'] }], 'web/web'],
      [3, [{ field: 'host-header', values: ['shop.example.com'] }, { field: 'path-pattern', values: ['/cart/items', '/cart/items/*'] }], 'web/cart'],
      [4, [{ field: 'host-header', values: ['shop.example.com'] }, { field: 'path-pattern', values: ['/*'] }], 'web/web'],
      [5, [{ field: 'host-header', values: ['shop.example.com'] }, { field: 'path-pattern', values: ['/static'] }], 'web/cdn'],
    ]);
    // One target group per member backend: web/web appears once.
    expect(built.value.backends.map((b) => `${b.ingress}/${b.service}:${b.port}`)).toEqual(['api/api:8080', 'web/web:80', 'web/cart:80', 'web/cdn:80']);
  });

  it('keeps a single Ingress with a default backend as it was: one HTTP listener on 80 forwarding, no rules', () => {
    const built = buildGroupModel({ explicit: false, name: 'shop/web' }, [ingress('shop', 'web', {}, { defaultBackend: backend('web') })]);
    expect(built.ok && built.value.listeners).toEqual([
      { port: 80, protocol: 'HTTP', certificateArns: [], rules: [], defaultAction: { type: 'forward', backend: { namespace: 'shop', ingress: 'web', service: 'web', port: 80 } } },
    ]);
  });

  it('with certificate-arn, listen-ports and ssl-redirect: HTTPS carries the rules, HTTP only redirects with 301', () => {
    const ing = ingress(
      'shop',
      'web',
      { [`${A}listen-ports`]: '[{"HTTP":80},{"HTTPS":443}]', [`${A}ssl-redirect`]: '443', [`${A}certificate-arn`]: 'arn:aws:acm:us-east-1:123456789012:certificate/abc' },
      { rules: [{ host: 'shop.example.com', http: { paths: [{ path: '/', pathType: 'Prefix', backend: backend('web') }] } }] },
    );
    const built = buildGroupModel({ explicit: false, name: 'shop/web' }, [ing]);
    expect(built.ok).toBe(true);
    if (!built.ok) return;
    const [http, https] = built.value.listeners;
    expect(http).toEqual({ port: 80, protocol: 'HTTP', certificateArns: [], rules: [], defaultAction: { type: 'redirect', statusCode: 'HTTP_301', protocol: 'HTTPS', port: '443' } });
    expect(https).toMatchObject({ port: 443, protocol: 'HTTPS', certificateArns: ['arn:aws:acm:us-east-1:123456789012:certificate/abc'], defaultAction: { type: 'fixed-response', statusCode: '404' } });
    expect(https.rules).toHaveLength(1);
    // Only a certificate, no listen-ports: the controller listens on 443 alone.
    const tlsOnly = buildGroupModel({ explicit: false, name: 'shop/tls' }, [ingress('shop', 'tls', { [`${A}certificate-arn`]: 'arn:c' }, { defaultBackend: backend('web') })]);
    expect(tlsOnly.ok && tlsOnly.value.listeners.map((l) => [l.port, l.protocol])).toEqual([[443, 'HTTPS']]);
  });

  it('merges load-balancer attributes and refuses a disagreement with the controller error', () => {
    const a = ingress('shop', 'a', { [`${A}load-balancer-attributes`]: 'idle_timeout.timeout_seconds=120,access_logs.s3.enabled=true' }, { defaultBackend: backend('web') });
    const b = ingress('shop', 'b', { [`${A}load-balancer-attributes`]: 'idle_timeout.timeout_seconds=120' }, {});
    const ok = buildGroupModel(explicit('edge'), [a, b]);
    expect(ok.ok && ok.value.loadBalancerAttributes).toEqual({ 'idle_timeout.timeout_seconds': '120', 'access_logs.s3.enabled': 'true' });
    const c = ingress('shop', 'c', { [`${A}load-balancer-attributes`]: 'access_logs.s3.enabled=false' }, {});
    expect(buildGroupModel(explicit('edge'), [a, b, c])).toEqual({ ok: false, error: 'conflicting attributes access_logs.s3.enabled: true | false' });
  });

  it('refuses what the controller refuses: two default backends, an ssl-redirect port without HTTPS, a protocol clash', () => {
    const d1 = ingress('shop', 'a', {}, { defaultBackend: backend('web') });
    const d2 = ingress('shop', 'b', {}, { defaultBackend: backend('api') });
    expect(buildGroupModel(explicit('edge'), [d1, d2])).toEqual({ ok: false, error: 'multiple ingress defined default backend: [shop/a shop/b]' });
    expect(buildGroupModel(explicit('edge'), [ingress('shop', 'a', { [`${A}ssl-redirect`]: '443' }, {})])).toEqual({ ok: false, error: 'listener does not exist for SSLRedirect port: 443' });
    const h = ingress('shop', 'h', { [`${A}listen-ports`]: '[{"HTTP":8443}]' }, {});
    const s = ingress('shop', 's', { [`${A}listen-ports`]: '[{"HTTPS":8443}]', [`${A}certificate-arn`]: 'arn:c' }, {});
    expect(buildGroupModel(explicit('edge'), [h, s])).toEqual({
      ok: false,
      error: 'failed to merge listenPort config for port: 8443: conflicting protocol, shop/h: HTTP | shop/s: HTTPS',
    });
  });
});

describe('the example worlds', () => {
  const ingressesOf = async (file: string) =>
    ((await loadTwinConfig(path.join(projectRoot, 'fixtures/twin', file))).objects as KubeObject[]).filter((o) => o.kind === 'Ingress');

  it('ingress-group.yaml: two members of edge, one load balancer with the api rule first and web as the default', async () => {
    const members = await ingressesOf('ingress-group.yaml');
    expect(members.map((m) => groupIdOf(m))).toEqual([
      { ok: true, value: explicit('edge') },
      { ok: true, value: explicit('edge') },
    ]);
    const sorted = sortMembers(members);
    const built = buildGroupModel(explicit('edge'), sorted.ok ? sorted.value : []);
    expect(built.ok && built.value.listeners.map((l) => [l.port, l.protocol, l.defaultAction.type, l.rules.length])).toEqual([[80, 'HTTP', 'forward', 1]]);
    expect(built.ok && built.value.members.map((m) => m.metadata.name)).toEqual(['api', 'web']);
  });

  it('https-host-rule.yaml: 80 redirects to 443, which carries the host rule and a fixed 404', async () => {
    const [web] = await ingressesOf('https-host-rule.yaml');
    const built = buildGroupModel({ explicit: false, name: 'shop/web' }, [web]);
    expect(built.ok && built.value.listeners.map((l) => [l.port, l.protocol, l.defaultAction.type, l.rules.map((r) => r.conditions[0].values)])).toEqual([
      [80, 'HTTP', 'redirect', []],
      [443, 'HTTPS', 'fixed-response', [['shop.example.com']]],
    ]);
  });
});
