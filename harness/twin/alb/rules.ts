/**
 * Listener rules as the ALB evaluates them (ELB user guide, "Listener rules for your Application
 * Load Balancer"): rules in priority order, the first whose every condition matches decides, else
 * the default action. Host conditions compare the Host header without its port, case-insensitively;
 * path patterns compare the path without the query, case-sensitively; both take `*` (any run of
 * characters) and `?` (exactly one). Matchers are compiled once per rule change, never per request.
 */
import type { RuleAction, RuleCondition } from './types.ts';

/** An action as the data plane runs it. */
export type CompiledAction = RuleAction;

/** A listener's rules, compiled: what the data plane consults on every request. */
export interface RouteTable {
  /** Rules in priority order; each matches (host, path) → true when all its conditions hold. */
  readonly rules: ReadonlyArray<{ readonly priority: number; readonly match: (host: string, path: string) => boolean; readonly action: CompiledAction }>;
  readonly defaultAction: CompiledAction;
}

/** A glob with ALB wildcards (`*`, `?`) as an anchored regular expression; other characters are literal. */
export function wildcardRegExp(pattern: string, caseInsensitive: boolean): RegExp {
  let source = '';
  for (const ch of pattern) {
    if (ch === '*') source += '.*';
    else if (ch === '?') source += '.';
    else source += ch.replace(/[.+^${}()|[\]\\/-]/g, '\\$&');
  }
  return new RegExp(`^${source}$`, caseInsensitive ? 'is' : 's');
}

/** The host of a Host header value: without the port, lower-cased (IPv6 literals keep their brackets). */
export function hostOf(header: string): string {
  const h = header.startsWith('[') ? header.slice(0, header.indexOf(']') + 1) : header.split(':')[0];
  return h.toLowerCase();
}

/** The path of a request target: without the query string. */
export function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

/** One condition → a predicate over (host, path); any of its values may match. */
function compileCondition(condition: RuleCondition): (host: string, path: string) => boolean {
  if (condition.field === 'host-header') {
    const exact = new Set(condition.values.filter((v) => !/[*?]/.test(v)).map((v) => v.toLowerCase()));
    const globs = condition.values.filter((v) => /[*?]/.test(v)).map((v) => wildcardRegExp(v, true));
    return (host) => exact.has(host) || globs.some((g) => g.test(host));
  }
  const exact = new Set(condition.values.filter((v) => !/[*?]/.test(v)));
  const globs = condition.values.filter((v) => /[*?]/.test(v)).map((v) => wildcardRegExp(v, false));
  return (_host, path) => exact.has(path) || globs.some((g) => g.test(path));
}

/** Compiles rules (any order; sorted here by priority) and the default action into a route table. */
export function compileRoutes(rules: ReadonlyArray<{ priority: number; conditions: RuleCondition[]; actions: RuleAction[] }>, defaultActions: RuleAction[]): RouteTable {
  const compiled = [...rules]
    .sort((a, b) => a.priority - b.priority)
    .map((rule) => {
      const predicates = rule.conditions.map(compileCondition);
      const match =
        predicates.length === 1 ? predicates[0] : (host: string, path: string) => predicates.every((p) => p(host, path));
      return { priority: rule.priority, match, action: rule.actions[rule.actions.length - 1] };
    });
  return { rules: compiled, defaultAction: defaultActions[defaultActions.length - 1] };
}

/** The index of the first rule that matches a request, -1 for the default action. */
export function ruleIndexOf(table: RouteTable, host: string, path: string): number {
  const rules = table.rules;
  for (let i = 0; i < rules.length; i++) if (rules[i].match(host, path)) return i;
  return -1;
}

/** The action for a request: the first matching rule's, else the default action. */
export function routeOf(table: RouteTable, host: string, path: string): CompiledAction {
  const i = ruleIndexOf(table, host, path);
  return i < 0 ? table.defaultAction : table.rules[i].action;
}

/** What the redirect needs from the request: the `#{...}` values. */
export interface RedirectInput {
  protocol: 'http' | 'https';
  host: string;
  port: string;
  /** The path without its leading slash is `#{path}`. */
  path: string;
  /** Without the `?`. */
  query: string;
}

/**
 * The Location of a redirect action (ELBv2 RedirectActionConfig): each component may use
 * `#{protocol}`, `#{host}`, `#{port}`, `#{path}` (without the leading slash) and `#{query}`; unset
 * components keep the request's. The default port of the protocol is left out of the URL.
 */
export function redirectLocation(action: Extract<RuleAction, { type: 'redirect' }>, req: RedirectInput): string {
  const sub = (text: string) =>
    text
      .replace(/#\{protocol\}/g, req.protocol.toUpperCase())
      .replace(/#\{host\}/g, req.host)
      .replace(/#\{port\}/g, req.port)
      .replace(/#\{path\}/g, req.path.replace(/^\//, ''))
      .replace(/#\{query\}/g, req.query);
  const protocol = sub(action.protocol ?? '#{protocol}').toLowerCase();
  const host = sub(action.host ?? '#{host}');
  const port = sub(action.port ?? '#{port}');
  const path = sub(action.path ?? '/#{path}');
  const query = sub(action.query ?? '#{query}');
  const defaultPort = protocol === 'https' ? '443' : '80';
  return `${protocol}://${host}${port === defaultPort ? '' : `:${port}`}${path}${query ? `?${query}` : ''}`;
}

/** ELBv2 fills a redirect's unset components with the request's: `#{protocol}`, `#{host}` and so on, as DescribeRules reports them. */
export function withRedirectDefaults(action: RuleAction): RuleAction {
  if (action.type !== 'redirect') return action;
  return { protocol: '#{protocol}', port: '#{port}', host: '#{host}', path: '/#{path}', query: '#{query}', ...action };
}

/** The hosts a certificate must name for a listener's rules (wildcards with `?` cannot be named). */
export function certificateHosts(rules: ReadonlyArray<{ conditions: RuleCondition[] }>): string[] {
  const hosts = new Set<string>();
  for (const rule of rules) {
    for (const c of rule.conditions) if (c.field === 'host-header') for (const v of c.values) if (!v.includes('?')) hosts.add(v.toLowerCase());
  }
  return [...hosts].sort();
}
