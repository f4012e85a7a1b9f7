/**
 * Where traffic goes when the spec gives no `target.url`: read from the load balancer as a real ALB
 * routes. A listener's rules are evaluated by priority, the default rule last; the first whose
 * host-header and path-pattern conditions match a request decides its action. So the harness looks
 * for a listener, a host and a path prefix such that every path of `traffic.mix` is decided by a
 * rule that forwards to the target group — never by a redirect (ssl-redirect on port 80) or a fixed
 * response (the 404 default of an Ingress with no default backend). It connects to the load
 * balancer's own address and sends the rule's host as the Host header and, over HTTPS, as the TLS
 * server name: the rule's host is never resolved (it may not exist in DNS, or point elsewhere).
 *
 * Choice: an HTTPS listener when a rule's host names the certificate to verify; plain HTTP when
 * there is no host (the certificate names the app's hosts, not the load balancer's DNS name);
 * default actions before rules, then rule priority; all of a weighted forward's requests reaching
 * the target group before part of them.
 */
import { EnvironmentError } from '../core/errors.ts';
import type { Elbv2Port, ListenerInfo, ListenerRule, LoadBalancerInfo, RuleAction } from '../platform/ports.ts';

/** What the load balancers in front of a target group show (DescribeLoadBalancers, DescribeListeners, DescribeRules). */
export interface Routing {
  loadBalancers: LoadBalancerInfo[];
  listeners: ListenerInfo[];
  /** Each listener's rules by listener ARN (read only for listeners whose default action does not forward to the group). */
  rules: Record<string, ListenerRule[]>;
}

/** Where the harness sends traffic, and why. */
export interface TrafficAddress {
  /** Base URL: the load balancer's address, port and (when the rule needs one) a path prefix. */
  url: string;
  /** The Host header every request carries (a rule's host); absent: the URL's. */
  hostHeader?: string;
  /** The TLS server name, verified against the certificate (HTTPS with a rule's host). */
  servername?: string;
  /** One sentence: which load balancer, listener and rule, and why. */
  reason: string;
}

/** Reads the load balancers that forward to the target group, their listeners and (where needed) their rules. */
export async function readRouting(elbv2: Elbv2Port, targetGroupArn: string): Promise<Routing> {
  const loadBalancers = await elbv2.describeLoadBalancers(await elbv2.loadBalancersOf(targetGroupArn));
  const listeners: ListenerInfo[] = [];
  const rules: Record<string, ListenerRule[]> = {};
  for (const lb of loadBalancers) {
    for (const l of await elbv2.describeListeners(lb.arn)) {
      listeners.push(l);
      if (!forwardShare(terminal(l.defaultActions), targetGroupArn)) rules[l.arn] = await elbv2.describeRules(l.arn);
    }
  }
  return { loadBalancers, listeners, rules };
}

/** The action that ends a rule (forward, redirect or fixed-response): the last by `order`, after any authenticate-*. */
function terminal(actions: RuleAction[]): RuleAction | undefined {
  return [...actions].sort((a, b) => (a.order ?? 0) - (b.order ?? 0)).at(-1);
}

/** The share (0–1) of the action's requests that reach the target group. */
function forwardShare(action: RuleAction | undefined, targetGroupArn: string): number {
  if (action?.type !== 'forward' || !action.targetGroups?.length) return 0;
  const total = action.targetGroups.reduce((s, t) => s + (t.weight ?? 1), 0);
  const ours = action.targetGroups.filter((t) => t.arn === targetGroupArn).reduce((s, t) => s + (t.weight ?? 1), 0);
  return total > 0 ? ours / total : 0;
}

/** An ALB pattern (`*`: any characters, `?`: one) as a regular expression; hosts match case-insensitively. */
function patternRe(pattern: string, ignoreCase: boolean): RegExp {
  const body = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`, ignoreCase ? 'i' : '');
}

const matchesAny = (patterns: string[], value: string, ignoreCase: boolean) => !patterns.length || patterns.some((p) => patternRe(p, ignoreCase).test(value));

/** A literal a pattern matches: each wildcard replaced by a concrete segment. */
function literalOf(pattern: string): string {
  return pattern.replace(/\*/g, 'rollout-harness').replace(/\?/g, 'x');
}

/** The rule that decides a request to `host` and `path` (first by priority, the default rule last), as the ALB evaluates them. */
export function ruleFor(rules: ListenerRule[], host: string, path: string): ListenerRule | undefined {
  const pathOnly = path.split('?')[0];
  const ordered = [...rules].sort((a, b) => (a.isDefault ? 1 : 0) - (b.isDefault ? 1 : 0) || Number(a.priority) - Number(b.priority));
  return ordered.find((r) => r.isDefault || (!r.otherConditions.length && matchesAny(r.hosts, host, true) && matchesAny(r.paths, pathOnly, false)));
}

/** The request path the drivers send: the base URL's path (no trailing slash) followed by the mix path. */
const joined = (prefix: string, path: string) => `${prefix.replace(/\/$/, '')}${path}`;

/** What a rule does, for messages: `forward to …`, `redirect HTTP_301`, `fixed-response 404`. */
function describeAction(action: RuleAction | undefined): string {
  if (!action) return 'no action';
  if (action.type === 'forward') return `forward to ${(action.targetGroups ?? []).map((t) => `${t.arn}${t.weight !== undefined ? ` (weight ${t.weight})` : ''}`).join(', ')}`;
  if (action.type === 'redirect') return `redirect ${action.redirectStatus ?? ''}`.trim();
  if (action.type === 'fixed-response') return `fixed-response ${action.fixedStatus ?? ''}`.trim();
  return action.type;
}

function describeRule(r: ListenerRule): string {
  const conditions = [...(r.hosts.length ? [`host ${r.hosts.join('|')}`] : []), ...(r.paths.length ? [`path ${r.paths.join('|')}`] : []), ...r.otherConditions];
  return `rule ${r.priority}${conditions.length ? ` (${conditions.join(', ')})` : ''}: ${describeAction(terminal(r.actions))}`;
}

interface Candidate {
  lb: LoadBalancerInfo;
  listener: ListenerInfo;
  host?: string;
  prefix: string;
  share: number;
  /** Lower is better. */
  rank: number[];
  via: string;
}

/**
 * Chooses where traffic goes (pure): see the module's header for the order. `mixPaths` are the
 * spec's `traffic.mix` paths; a prefix is added only when the rule's paths do not match them as
 * they are. Throws an environment error naming every listener and rule seen when none forwards.
 */
export function chooseTrafficAddress(routing: Routing, targetGroupArn: string, mixPaths: string[]): TrafficAddress {
  const paths = mixPaths.length ? mixPaths : ['/'];
  const candidates: Candidate[] = [];
  for (const listener of routing.listeners) {
    const lb = routing.loadBalancers.find((b) => b.arn === listener.loadBalancerArn);
    if (!lb) continue;
    const https = listener.protocol.toUpperCase() === 'HTTPS';
    const defaultShare = forwardShare(terminal(listener.defaultActions), targetGroupArn);
    if (defaultShare > 0) {
      // The default action decides every request that no rule catches; the harness reads no rules then.
      candidates.push({ lb, listener, prefix: '', share: defaultShare, rank: [https ? 2 : 1, 0, 1 - defaultShare, 0], via: `its default action forwards to the target group` });
      continue;
    }
    const rules = routing.rules[listener.arn] ?? [];
    for (const rule of rules) {
      const share = forwardShare(terminal(rule.actions), targetGroupArn);
      if (rule.isDefault || !share || rule.otherConditions.length) continue;
      const host = rule.hosts.length ? literalOf(rule.hosts[0]) : undefined;
      const requestHost = host ?? lb.dnsName;
      // Each request must be decided by a rule that forwards to the group (this one or another).
      const decided = (prefix: string) => paths.every((p) => forwardShare(terminal(ruleFor(rules, requestHost, joined(prefix, p))?.actions ?? []), targetGroupArn) > 0);
      const prefixes = ['', ...rule.paths.map((p) => literalOf(p.replace(/\*$/, '')).replace(/\/$/, ''))];
      const prefix = prefixes.find(decided);
      if (prefix === undefined) continue;
      // With a host, HTTPS is best (the certificate names it); without one, plain HTTP (it names no load balancer).
      const protocolRank = host ? (https ? 0 : 1) : https ? 2 : 1;
      candidates.push({ lb, listener, host, prefix, share, rank: [protocolRank, 1, 1 - share, Number(rule.priority) || 0], via: describeRule(rule) });
    }
  }
  candidates.sort((a, b) => a.rank.map((v, i) => v - b.rank[i]).find((d) => d !== 0) ?? 0);
  const best = candidates[0];
  if (!best) {
    const seen = routing.listeners.map((l) => {
      const lb = routing.loadBalancers.find((b) => b.arn === l.loadBalancerArn);
      const rules = routing.rules[l.arn];
      const ruleText = rules ? rules.map(describeRule).join('; ') : `default: ${describeAction(terminal(l.defaultActions))}`;
      return `${lb?.name ?? l.loadBalancerArn} ${l.protocol}:${l.port} [${ruleText}]`;
    });
    throw new EnvironmentError(
      `Expected a load balancer listener whose default action or a rule forwards to ${targetGroupArn} for the paths ${paths.join(', ')}, got ${seen.length ? seen.join(' | ') : 'no listener'}; set target.url (and traffic.mix) to send traffic elsewhere`,
    );
  }
  const proto = best.listener.protocol.toUpperCase() === 'HTTPS' ? 'https' : 'http';
  const defaultPort = proto === 'https' ? 443 : 80;
  const address = best.lb.dnsName.includes(':') && !best.lb.dnsName.startsWith('[') ? `[${best.lb.dnsName}]` : best.lb.dnsName;
  const url = `${proto}://${address}${best.listener.port === defaultPort ? '' : `:${best.listener.port}`}${best.prefix}`;
  const parts = [`load balancer ${best.lb.name}, ${best.listener.protocol} listener on port ${best.listener.port}: ${best.via}`];
  if (best.host) parts.push(`Host${proto === 'https' ? ' and TLS server name' : ''} ${best.host}`);
  if (best.prefix) parts.push(`path prefix ${best.prefix} (the rule's paths do not match ${paths.join(', ')} as they are)`);
  if (proto === 'https' && !best.host) parts.push(`no rule host: the certificate is checked against ${best.lb.dnsName} (set traffic.insecureSkipTLSVerify, or target.url to a name it carries)`);
  if (best.share < 1) parts.push(`only ${Math.round(best.share * 100)} % of its requests reach the target group (weighted forward)`);
  return { url, ...(best.host ? { hostHeader: best.host } : {}), ...(best.host && proto === 'https' ? { servername: best.host } : {}), reason: parts.join('; ') };
}

/** A traffic address in one line: the URL, the Host header and server name when a rule's, and why. */
export function describeRoute(route: { url: string; source: string; hostHeader?: string; servername?: string }): string {
  const host = route.hostHeader ? `, Host ${route.hostHeader}${route.servername ? ' (and TLS server name)' : ''}` : '';
  return `${route.url}${host} (${route.source})`;
}
