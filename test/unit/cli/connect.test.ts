import { describe, expect, it } from 'vitest';
import { findBinding, GROUP_NAME_ANNOTATION, trafficUrl } from '../../../harness/cli/connect.ts';
import { EnvironmentError } from '../../../harness/core/errors.ts';
import type { Elbv2Port, KObject, KubernetesPort } from '../../../harness/platform/ports.ts';
import { parseSpec } from '../../../harness/matrix/load.ts';

const target = (over: Record<string, unknown> = {}) =>
  parseSpec({
    target: { context: 'staging', allowedContexts: ['staging'], ingress: 'web', ...over },
    matrix: { preStopSeconds: [0], terminationGracePeriodSeconds: [30], readinessGate: [true], deregistrationDelaySeconds: [300] },
    disruptions: ['rollout'],
  }).spec.target;
/** A load balancer with one listener whose default action forwards to arn:tg (or none). */
const elbv2 = (listener: { loadBalancerName: string; dnsName: string; port: number; protocol: string } | undefined) =>
  ({
    loadBalancersOf: async () => (listener ? ['arn:lb'] : []),
    describeLoadBalancers: async () => (listener ? [{ arn: 'arn:lb', name: listener.loadBalancerName, dnsName: listener.dnsName }] : []),
    describeListeners: async () => (listener ? [{ arn: 'arn:l', loadBalancerArn: 'arn:lb', port: listener.port, protocol: listener.protocol, defaultActions: [{ type: 'forward', targetGroups: [{ arn: 'arn:tg' }] }] }] : []),
    describeRules: async () => [],
  }) as unknown as Elbv2Port;
const MIX = ['/'];
const noLookup = async (host: string) => {
  throw new Error(`no lookup expected, got one for ${host}`);
};

describe('trafficUrl', () => {
  it('takes the load balancer DNS name with the forwarding listener, leaving out the default port', async () => {
    const resolved: string[] = [];
    const lookup = async (host: string) => void resolved.push(host);
    const http = await trafficUrl(target(), MIX, elbv2({ loadBalancerName: 'lb', dnsName: 'lb-1.example.test', port: 80, protocol: 'HTTP' }), 'arn:tg', lookup);
    expect(http).toEqual({ url: 'http://lb-1.example.test', source: 'load balancer lb, HTTP listener on port 80: its default action forwards to the target group' });
    const https = await trafficUrl(target(), MIX, elbv2({ loadBalancerName: 'lb', dnsName: 'lb-1.example.test', port: 8443, protocol: 'HTTPS' }), 'arn:tg', lookup);
    expect(https.url).toBe('https://lb-1.example.test:8443');
    expect(resolved).toEqual(['lb-1.example.test', 'lb-1.example.test']);
  });

  it('resolves nothing for an IP address (the twin: 127.0.0.1)', async () => {
    const r = await trafficUrl(target(), MIX, elbv2({ loadBalancerName: 'twin', dnsName: '127.0.0.1', port: 41234, protocol: 'HTTP' }), 'arn:tg', noLookup);
    expect(r.url).toBe('http://127.0.0.1:41234');
  });

  it('fails before any change when the address does not resolve, or no listener forwards to the group', async () => {
    const enotfound = async () => {
      throw Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' });
    };
    await expect(trafficUrl(target({ url: 'https://web.staging.example.test' }), MIX, elbv2(undefined), 'arn:tg', enotfound)).rejects.toThrow(
      new EnvironmentError('Expected the traffic address web.staging.example.test (target.url) to resolve, got ENOTFOUND; nothing was changed'),
    );
    await expect(trafficUrl(target(), MIX, elbv2(undefined), 'arn:tg', noLookup)).rejects.toThrow(/^Expected a load balancer listener whose default action or a rule forwards to arn:tg for the paths \/, got no listener/);
  });
});

describe('trafficUrl with listener rules', () => {
  it('resolves the load balancer\'s name, never the rule\'s host, and returns Host and server name', async () => {
    const resolved: string[] = [];
    const port = {
      loadBalancersOf: async () => ['arn:lb'],
      describeLoadBalancers: async () => [{ arn: 'arn:lb', name: 'k8s-shared', dnsName: 'k8s-shared-1.elb.example.test' }],
      describeListeners: async () => [
        { arn: 'arn:l80', loadBalancerArn: 'arn:lb', port: 80, protocol: 'HTTP', defaultActions: [{ type: 'redirect', redirectStatus: 'HTTP_301' }] },
        { arn: 'arn:l443', loadBalancerArn: 'arn:lb', port: 443, protocol: 'HTTPS', defaultActions: [{ type: 'fixed-response', fixedStatus: '404' }] },
      ],
      describeRules: async (arn: string) =>
        arn === 'arn:l443'
          ? [{ arn: 'arn:r1', priority: '1', isDefault: false, hosts: ['shop.example.test'], paths: [], otherConditions: [], actions: [{ type: 'forward', targetGroups: [{ arn: 'arn:tg' }] }] }]
          : [{ arn: 'arn:r0', priority: 'default', isDefault: true, hosts: [], paths: [], otherConditions: [], actions: [{ type: 'redirect', redirectStatus: 'HTTP_301' }] }],
    } as unknown as Elbv2Port;
    const r = await trafficUrl(target(), MIX, port, 'arn:tg', async (h) => void resolved.push(h));
    expect(r).toMatchObject({ url: 'https://k8s-shared-1.elb.example.test', hostHeader: 'shop.example.test', servername: 'shop.example.test' });
    expect(resolved).toEqual(['k8s-shared-1.elb.example.test']);
  });
});

describe('findBinding', () => {
  const podLabels = { app: 'web' };
  const deployment: KObject = { metadata: { name: 'web' }, spec: { template: { metadata: { labels: podLabels } } } };
  const binding = (name: string, service: string, labels: Record<string, string>, port = 80): KObject => ({ metadata: { name, labels }, spec: { serviceRef: { name: service, port }, targetGroupARN: `arn:tg/${name}` } });
  const ingress = (name: string, backends: string[], group?: string): KObject => ({
    metadata: { name, namespace: 'shop', annotations: group ? { [GROUP_NAME_ANNOTATION]: group } : {} },
    spec: { rules: [{ host: `${name}.example.test`, http: { paths: backends.map((svc) => ({ path: '/', pathType: 'Prefix', backend: { service: { name: svc, port: { number: 80 } } } })) } }] },
  });
  function k8s(bindings: KObject[], ingresses: KObject[]): KubernetesPort {
    const services: Record<string, KObject> = { web: { spec: { selector: podLabels } }, grpc: { spec: { selector: { app: 'grpc' } } }, 'web-canary': { spec: { selector: podLabels } } };
    return {
      listTargetGroupBindings: async () => bindings,
      getIngress: async (_ns: string, name: string) => {
        const found = ingresses.find((i) => i.metadata?.name === name);
        if (!found) throw new Error(`ingress ${name} not found`);
        return found;
      },
      getService: async (_ns: string, name: string) => services[name],
    } as unknown as KubernetesPort;
  }
  const spec = (ingress: string) => ({ namespace: 'shop', deployment: 'web', ingress });

  it('finds an implicit group\'s binding by stack-namespace and stack-name', async () => {
    const port = k8s([binding('k8s-shop-web-1', 'web', { 'ingress.k8s.aws/stack-namespace': 'shop', 'ingress.k8s.aws/stack-name': 'web' })], [ingress('web', ['web'])]);
    expect(await findBinding(port, spec('web'), deployment)).toEqual({ name: 'k8s-shop-web-1', arn: 'arn:tg/k8s-shop-web-1' });
  });

  it('does not take the stack=<namespace>.<ingress> label no controller writes', async () => {
    const port = k8s([binding('k8s-shop-web-1', 'web', { 'ingress.k8s.aws/stack': 'shop.web' })], [ingress('web', ['web'])]);
    await expect(findBinding(port, spec('web'), deployment)).rejects.toThrow(/^Found no TargetGroupBinding of ingress web labelled ingress.k8s.aws\/stack-namespace=shop,ingress.k8s.aws\/stack-name=web in namespace shop .*\(1 in the namespace: k8s-shop-web-1\)$/);
  });

  it('finds an explicit group\'s binding by stack=<group>, picking the member\'s own backend among the group\'s bindings', async () => {
    // Seed 001: the http and gRPC Ingresses share one ALB; both members' bindings carry the group label.
    const group = { 'ingress.k8s.aws/stack': 'shop-public' };
    const port = k8s([binding('k8s-shop-grpc-2', 'grpc', group), binding('k8s-shop-web-1', 'web', group)], [ingress('web', ['web'], 'shop-public'), ingress('grpc', ['grpc'], 'shop-public')]);
    expect(await findBinding(port, spec('web'), deployment)).toEqual({ name: 'k8s-shop-web-1', arn: 'arn:tg/k8s-shop-web-1' });
  });

  it('leaves out a group binding whose service is not a backend of this Ingress, even when it selects the pods', async () => {
    const group = { 'ingress.k8s.aws/stack': 'shop-public' };
    const port = k8s([binding('k8s-shop-canary-3', 'web-canary', group), binding('k8s-shop-web-1', 'web', group)], [ingress('web', ['web'], 'shop-public')]);
    expect((await findBinding(port, spec('web'), deployment)).name).toBe('k8s-shop-web-1');
  });

  it('refuses to guess between several bindings of the Deployment, listing them', async () => {
    const group = { 'ingress.k8s.aws/stack': 'shop-public' };
    const port = k8s([binding('k8s-shop-web-1', 'web', group), binding('k8s-shop-webcanary-3', 'web-canary', group)], [ingress('web', ['web', 'web-canary'], 'shop-public')]);
    await expect(findBinding(port, spec('web'), deployment)).rejects.toThrow(
      new EnvironmentError(
        'Expected one TargetGroupBinding of ingress web labelled ingress.k8s.aws/stack=shop-public in namespace shop whose service selects the pods of deployment web, got 2: k8s-shop-web-1 (service web:80, arn:tg/k8s-shop-web-1); k8s-shop-webcanary-3 (service web-canary:80, arn:tg/k8s-shop-webcanary-3); name one in target.targetGroupBinding',
      ),
    );
  });

  it('tells group members that share a service apart by their target groups\' ingress.k8s.aws/resource tag', async () => {
    const group = { 'ingress.k8s.aws/stack': 'edge' };
    const port = k8s([binding('k8s-shop-web-api', 'web', group), binding('k8s-shop-web-1', 'web', group)], [ingress('web', ['web'], 'edge')]);
    const tags: Record<string, Record<string, string>> = {
      'arn:tg/k8s-shop-web-api': { 'ingress.k8s.aws/resource': 'shop/api-web:80' },
      'arn:tg/k8s-shop-web-1': { 'ingress.k8s.aws/resource': 'shop/web-web:80' },
    };
    expect(await findBinding(port, spec('web'), deployment, async (arn) => tags[arn] ?? {})).toEqual({ name: 'k8s-shop-web-1', arn: 'arn:tg/k8s-shop-web-1' });
    // Without the tags it cannot tell: it lists both rather than guess.
    await expect(findBinding(port, spec('web'), deployment)).rejects.toThrow(/got 2: k8s-shop-web-api .*k8s-shop-web-1/);
  });

  it('takes the binding the spec names, whatever its labels', async () => {
    const port = k8s([binding('mine', 'web', {}), binding('other', 'web', {})], []);
    expect(await findBinding(port, { namespace: 'shop', deployment: 'web', targetGroupBinding: 'mine' }, deployment)).toEqual({ name: 'mine', arn: 'arn:tg/mine' });
  });
});
