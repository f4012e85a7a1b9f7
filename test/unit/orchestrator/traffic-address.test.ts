/** The traffic address read from listeners and rules, as a real ALB routes (harness/orchestrator/traffic-address.ts). */
import { describe, expect, it } from 'vitest';
import { EnvironmentError } from '../../../harness/core/errors.ts';
import type { Spec } from '../../../harness/matrix/schema.ts';
import { routeOf } from '../../../harness/orchestrator/cell.ts';
import { chooseTrafficAddress, readRouting, ruleFor, type Routing } from '../../../harness/orchestrator/traffic-address.ts';
import type { Elbv2Port, ListenerInfo, ListenerRule, RuleAction } from '../../../harness/platform/ports.ts';

const TG = 'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/k8s-shop-web/1a';
const OTHER = 'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/k8s-shop-grpc/2b';
const LB = { arn: 'arn:lb', name: 'k8s-shared', dnsName: 'k8s-shared-123.us-east-1.elb.amazonaws.com' };

const forward = (...groups: Array<string | { arn: string; weight: number }>): RuleAction => ({ type: 'forward', targetGroups: groups.map((g) => (typeof g === 'string' ? { arn: g } : g)) });
const redirect: RuleAction = { type: 'redirect', redirectStatus: 'HTTP_301' };
const notFound: RuleAction = { type: 'fixed-response', fixedStatus: '404' };
const listener = (port: number, protocol: string, defaultAction: RuleAction = notFound): ListenerInfo => ({ arn: `arn:listener/${port}`, loadBalancerArn: LB.arn, port, protocol, defaultActions: [defaultAction] });
const rule = (priority: number, over: Partial<ListenerRule>): ListenerRule => ({ arn: `arn:rule/${priority}`, priority: String(priority), isDefault: false, hosts: [], paths: [], otherConditions: [], actions: [], ...over });
const defaultRule = (action: RuleAction): ListenerRule => ({ arn: 'arn:rule/default', priority: 'default', isDefault: true, hosts: [], paths: [], otherConditions: [], actions: [action] });

function routing(listeners: ListenerInfo[], rules: Record<number, ListenerRule[]> = {}): Routing {
  return { loadBalancers: [LB], listeners, rules: Object.fromEntries(Object.entries(rules).map(([port, r]) => [`arn:listener/${port}`, r])) };
}

describe('chooseTrafficAddress', () => {
  it('takes a listener whose default action forwards: the load balancer address, no Host header, plain HTTP first', () => {
    const r = chooseTrafficAddress(routing([listener(443, 'HTTPS', forward(TG)), listener(80, 'HTTP', forward(TG))]), TG, ['/']);
    expect(r).toEqual({ url: `http://${LB.dnsName}`, reason: `load balancer k8s-shared, HTTP listener on port 80: its default action forwards to the target group` });
  });

  it('says when an HTTPS listener is the only one and no rule host names the certificate', () => {
    const r = chooseTrafficAddress(routing([listener(443, 'HTTPS', forward(TG))]), TG, ['/']);
    expect(r.url).toBe(`https://${LB.dnsName}`);
    expect(r.servername).toBeUndefined();
    expect(r.reason).toContain(`no rule host: the certificate is checked against ${LB.dnsName}`);
  });

  it('finds a host rule behind a 404 default: Host header is the rule host, the address is the load balancer\'s', () => {
    const r = chooseTrafficAddress(routing([listener(80, 'HTTP')], { 80: [rule(1, { hosts: ['shop.example.test'], actions: [forward(TG)] }), defaultRule(notFound)] }), TG, ['/', '/api?x=1']);
    expect(r.url).toBe(`http://${LB.dnsName}`);
    expect(r.hostHeader).toBe('shop.example.test');
    expect(r.servername).toBeUndefined();
    expect(r.reason).toBe('load balancer k8s-shared, HTTP listener on port 80: rule 1 (host shop.example.test): forward to ' + TG + '; Host shop.example.test');
  });

  it('prefers HTTPS with the rule host as TLS server name, never the port-80 redirect (ssl-redirect)', () => {
    const r = chooseTrafficAddress(
      routing([listener(80, 'HTTP'), listener(443, 'HTTPS')], {
        80: [rule(1, { actions: [redirect] }), defaultRule(notFound)],
        443: [rule(1, { hosts: ['shop.example.test'], actions: [forward(TG)] }), defaultRule(notFound)],
      }),
      TG,
      ['/'],
    );
    expect(r).toMatchObject({ url: `https://${LB.dnsName}`, hostHeader: 'shop.example.test', servername: 'shop.example.test' });
    expect(r.reason).toContain('HTTPS listener on port 443');
    expect(r.reason).toContain('Host and TLS server name shop.example.test');
  });

  it('prefers HTTPS to HTTP when both forward for the host, and keeps a non-default port', () => {
    const hostRule = rule(3, { hosts: ['shop.example.test'], actions: [forward(TG)] });
    const r = chooseTrafficAddress(routing([listener(80, 'HTTP'), listener(8443, 'HTTPS')], { 80: [hostRule, defaultRule(notFound)], 8443: [hostRule, defaultRule(notFound)] }), TG, ['/']);
    expect(r.url).toBe(`https://${LB.dnsName}:8443`);
  });

  it('adds a concrete path prefix when the rule\'s path does not match the mix as it is', () => {
    const r = chooseTrafficAddress(routing([listener(80, 'HTTP')], { 80: [rule(2, { paths: ['/api', '/api/*'], actions: [forward(TG)] }), defaultRule(notFound)] }), TG, ['/', '/health']);
    expect(r.url).toBe(`http://${LB.dnsName}/api`);
    expect(r.reason).toContain('path prefix /api');
  });

  it('uses the mix paths as they are when the rule matches them', () => {
    const r = chooseTrafficAddress(routing([listener(80, 'HTTP')], { 80: [rule(2, { paths: ['/api/*'], actions: [forward(TG)] }), defaultRule(notFound)] }), TG, ['/api/items']);
    expect(r.url).toBe(`http://${LB.dnsName}`);
  });

  it('replaces wildcards in the rule host and path by literal segments', () => {
    const r = chooseTrafficAddress(routing([listener(443, 'HTTPS')], { 443: [rule(4, { hosts: ['*.shop.example.test'], paths: ['/v?/*'], actions: [forward(TG)] }), defaultRule(notFound)] }), TG, ['/']);
    expect(r.hostHeader).toBe('rollout-harness.shop.example.test');
    expect(r.url).toBe(`https://${LB.dnsName}/vx`);
  });

  it('skips a prefix that a higher-priority rule of another action would catch', () => {
    // Rule 1 sends /api/admin elsewhere; rule 2 forwards /api/* to the group: /api/admin must not be the path used.
    const rules = [rule(1, { paths: ['/api/admin*'], actions: [forward(OTHER)] }), rule(2, { paths: ['/api/*'], actions: [forward(TG)] }), defaultRule(notFound)];
    expect(ruleFor(rules, LB.dnsName, '/api/admin/x')?.priority).toBe('1');
    expect(() => chooseTrafficAddress(routing([listener(80, 'HTTP')], { 80: rules }), TG, ['/admin'])).toThrow(EnvironmentError);
    expect(chooseTrafficAddress(routing([listener(80, 'HTTP')], { 80: rules }), TG, ['/items']).url).toBe(`http://${LB.dnsName}/api`);
  });

  it('takes a weighted forward, preferring one where every request reaches the group, and says when only part do', () => {
    const weighted = chooseTrafficAddress(routing([listener(80, 'HTTP')], { 80: [rule(1, { actions: [forward({ arn: TG, weight: 90 }, { arn: OTHER, weight: 10 })] }), defaultRule(notFound)] }), TG, ['/']);
    expect(weighted.reason).toContain('only 90 % of its requests reach the target group');
    const both = chooseTrafficAddress(
      routing([listener(80, 'HTTP')], { 80: [rule(1, { hosts: ['a.example.test'], actions: [forward({ arn: TG, weight: 50 }, { arn: OTHER, weight: 50 })] }), rule(2, { hosts: ['b.example.test'], actions: [forward({ arn: TG, weight: 1 })] }), defaultRule(notFound)] }),
      TG,
      ['/'],
    );
    expect(both.hostHeader).toBe('b.example.test');
    // Weight 0: nothing reaches the group.
    expect(() => chooseTrafficAddress(routing([listener(80, 'HTTP')], { 80: [rule(1, { actions: [forward({ arn: TG, weight: 0 }, { arn: OTHER, weight: 1 })] }), defaultRule(notFound)] }), TG, ['/'])).toThrow(EnvironmentError);
  });

  it('ignores rules with conditions the harness cannot meet (a header, a source IP)', () => {
    expect(() => chooseTrafficAddress(routing([listener(80, 'HTTP')], { 80: [rule(1, { otherConditions: ['http-header'], actions: [forward(TG)] }), defaultRule(notFound)] }), TG, ['/'])).toThrow(/rule 1 \(http-header\)/);
  });

  it('says which listeners and rules it saw when none forwards to the group', () => {
    const seen = routing([listener(80, 'HTTP'), listener(443, 'HTTPS')], {
      80: [rule(1, { actions: [redirect] }), defaultRule(notFound)],
      443: [rule(1, { hosts: ['grpc.example.test'], actions: [forward(OTHER)] }), defaultRule(notFound)],
    });
    expect(() => chooseTrafficAddress(seen, TG, ['/'])).toThrow(
      new EnvironmentError(
        `Expected a load balancer listener whose default action or a rule forwards to ${TG} for the paths /, got k8s-shared HTTP:80 [rule 1: redirect HTTP_301; rule default: fixed-response 404] | k8s-shared HTTPS:443 [rule 1 (host grpc.example.test): forward to ${OTHER}; rule default: fixed-response 404]; set target.url (and traffic.mix) to send traffic elsewhere`,
      ),
    );
    expect(() => chooseTrafficAddress({ loadBalancers: [], listeners: [], rules: {} }, TG, ['/'])).toThrow(/got no listener/);
  });

  it('connects to the loopback address the twin reports', () => {
    const twin = { loadBalancers: [{ ...LB, dnsName: '127.0.0.1' }], listeners: [listener(41234, 'HTTPS')], rules: { 'arn:listener/41234': [rule(1, { hosts: ['shop.example.test'], actions: [forward(TG)] }), defaultRule(notFound)] } };
    expect(chooseTrafficAddress(twin, TG, ['/'])).toMatchObject({ url: 'https://127.0.0.1:41234', servername: 'shop.example.test' });
  });
});

describe('readRouting', () => {
  it('reads the rules only of listeners whose default action does not forward to the group', async () => {
    const asked: string[] = [];
    const elbv2 = {
      loadBalancersOf: async () => [LB.arn],
      describeLoadBalancers: async (arns: string[]) => (arns.includes(LB.arn) ? [LB] : []),
      describeListeners: async () => [listener(80, 'HTTP', forward(TG)), listener(443, 'HTTPS')],
      describeRules: async (arn: string) => {
        asked.push(arn);
        return [defaultRule(notFound)];
      },
    } as unknown as Elbv2Port;
    const r = await readRouting(elbv2, TG);
    expect(asked).toEqual(['arn:listener/443']);
    expect(Object.keys(r.rules)).toEqual(['arn:listener/443']);
    expect(r.listeners).toHaveLength(2);
  });
});

describe('routeOf (what a cell hands the driver)', () => {
  const spec = (insecure: boolean) => ({ traffic: { insecureSkipTLSVerify: insecure } }) as Spec;
  it('passes the Host header, and TLS only for an https URL', () => {
    expect(routeOf({ url: 'http://lb.example.test', hostHeader: 'shop.example.test' }, spec(false))).toEqual({ hostHeader: 'shop.example.test' });
    expect(routeOf({ url: 'https://127.0.0.1:41234', hostHeader: 'shop.example.test', servername: 'shop.example.test', caFile: '/twin/ca.pem' }, spec(false))).toEqual({
      hostHeader: 'shop.example.test',
      tls: { servername: 'shop.example.test', caFile: '/twin/ca.pem' },
    });
    expect(routeOf({ url: 'https://web.staging.example.test' }, spec(true))).toEqual({ tls: { insecureSkipVerify: true } });
    expect(routeOf({ url: 'http://127.0.0.1:1' }, spec(true))).toEqual({});
  });
});
