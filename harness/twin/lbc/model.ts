/**
 * The Load Balancer Controller twin's model of an IngressGroup: pure functions from the group's
 * Ingresses to the load balancer, listeners and rules the real controller builds, with its error
 * texts (aws-load-balancer-controller, pkg/ingress: group_loader.go, model_builder.go,
 * model_build_listener.go, model_build_listener_rules.go, model_build_actions.go,
 * model_build_load_balancer_attributes.go; pkg/deploy/tracking/provider.go).
 */
import { parseAttributeList } from '../../core/attributes.ts';
import type { KubeObject } from '../kube/types.ts';

const ANN = 'alb.ingress.kubernetes.io/';

/** An IngressGroup's identity: explicit (`group.name`) or implicit (one Ingress, `namespace/name`). */
export interface GroupId {
  explicit: boolean;
  /** The group name, or `namespace/name` of the Ingress for an implicit group. */
  name: string;
}

/** A model built, or the controller's error text (what it reports as `Failed build model due to <error>`). */
export type Built<T> = { ok: true; value: T } | { ok: false; error: string };

/** A backend of a rule or default action: a service port of one member Ingress. */
export interface BackendRef {
  namespace: string;
  ingress: string;
  service: string;
  port: number | string;
}

/** An action before target groups exist: forward names a backend. */
export type ModelAction =
  | { type: 'forward'; backend: BackendRef }
  | { type: 'fixed-response'; statusCode: string; contentType?: string; messageBody?: string }
  | { type: 'redirect'; statusCode: 'HTTP_301' | 'HTTP_302'; protocol?: string; port?: string };

/** A rule condition, as in ELBv2. */
export type ModelCondition = { field: 'host-header'; values: string[] } | { field: 'path-pattern'; values: string[] };

/** One listener of the group's load balancer. */
export interface ListenerModel {
  port: number;
  protocol: 'HTTP' | 'HTTPS';
  certificateArns: string[];
  defaultAction: ModelAction;
  /** In priority order, from 1. */
  rules: Array<{ priority: number; conditions: ModelCondition[]; action: ModelAction }>;
}

/** What the controller builds for one IngressGroup. */
export interface GroupModel {
  id: GroupId;
  /** Members in the controller's order. */
  members: KubeObject[];
  loadBalancerAttributes: Record<string, string>;
  /** By port, ascending. */
  listeners: ListenerModel[];
  /** Every backend a listener uses, once. */
  backends: BackendRef[];
}

const GROUP_NAME = /^([a-z0-9][-a-z0-9.]*)?[a-z0-9]$/;
const MIN_ORDER = -1000;
const MAX_ORDER = 1000;

const keyOf = (ing: KubeObject) => `${ing.metadata.namespace}/${ing.metadata.name}`;

/** The group an Ingress belongs to (group.name, else its implicit group); an invalid name keeps it out of every group. */
export function groupIdOf(ing: KubeObject): Built<GroupId> {
  const name = ing.metadata.annotations?.[ANN + 'group.name'];
  if (name === undefined) return { ok: true, value: { explicit: false, name: keyOf(ing) } };
  if (!GROUP_NAME.test(name)) {
    return { ok: false, error: "invalid ingress group: groupName must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character" };
  }
  if (name.length > 63) return { ok: false, error: 'invalid ingress group: groupName must be no more than 63 characters' };
  return { ok: true, value: { explicit: true, name } };
}

/** Sorts members by `group.order` (default 0, within [-1000, 1000]), then by `namespace/name`. */
export function sortMembers(members: KubeObject[]): Built<KubeObject[]> {
  const withOrder: Array<{ ing: KubeObject; order: number }> = [];
  for (const ing of members) {
    const raw = ing.metadata.annotations?.[ANN + 'group.order'];
    let order = 0;
    if (raw !== undefined) {
      if (!/^-?\d+$/.test(raw.trim())) return { ok: false, error: `failed to load Ingress group order for ingress: ${keyOf(ing)}: strconv.ParseInt: parsing "${raw}": invalid syntax` };
      order = Number(raw);
      if (order < MIN_ORDER || order > MAX_ORDER) {
        return { ok: false, error: `explicit Ingress group order must be within [${MIN_ORDER}:${MAX_ORDER}], Ingress: ${keyOf(ing)}, order: ${order}` };
      }
    }
    withOrder.push({ ing, order });
  }
  withOrder.sort((a, b) => a.order - b.order || (keyOf(a.ing) < keyOf(b.ing) ? -1 : keyOf(a.ing) > keyOf(b.ing) ? 1 : 0));
  return { ok: true, value: withOrder.map((w) => w.ing) };
}

/** The group's load-balancer attributes: every member's, refused when two disagree on a key. */
export function mergeLoadBalancerAttributes(members: KubeObject[]): Built<Record<string, string>> {
  const merged: Record<string, string> = {};
  for (const ing of members) {
    for (const [key, value] of parseAttributeList(ing.metadata.annotations?.[ANN + 'load-balancer-attributes'])) {
      if (key in merged && merged[key] !== value) return { ok: false, error: `conflicting attributes ${key}: ${merged[key]} | ${value}` };
      merged[key] = value;
    }
  }
  return { ok: true, value: merged };
}

/** ELBv2 path patterns for an Ingress path and its pathType. */
export function pathPatterns(path: string, pathType: string | undefined): Built<string[]> {
  const type = pathType ?? 'ImplementationSpecific';
  if (type === 'ImplementationSpecific') return { ok: true, value: [path] };
  if (type === 'Exact') {
    if (/[*?]/.test(path)) return { ok: false, error: `exact path shouldn't contain wildcards: ${path}` };
    return { ok: true, value: [path] };
  }
  if (type === 'Prefix') {
    if (path === '/') return { ok: true, value: ['/*'] };
    if (/[*?]/.test(path)) return { ok: false, error: `prefix path shouldn't contain wildcards: ${path}` };
    const normalized = path.replace(/\/$/, '');
    return { ok: true, value: [normalized, `${normalized}/*`] };
  }
  return { ok: false, error: `unsupported pathType: ${type}` };
}

interface IngressPath {
  path?: string;
  pathType?: string;
  backend?: { service?: { name: string; port?: { number?: number; name?: string } } };
}

/** Exact paths first, then Prefix paths longest first, then the rest in their order. */
function sortPaths(paths: IngressPath[]): IngressPath[] {
  const exact = paths.filter((p) => p.pathType === 'Exact');
  const prefix = paths.filter((p) => p.pathType === 'Prefix').sort((a, b) => (b.path ?? '').length - (a.path ?? '').length);
  const rest = paths.filter((p) => p.pathType !== 'Exact' && p.pathType !== 'Prefix');
  return [...exact, ...prefix, ...rest];
}

function backendOf(ing: KubeObject, b: IngressPath['backend']): BackendRef | undefined {
  if (!b?.service?.name) return undefined;
  return { namespace: ing.metadata.namespace!, ingress: ing.metadata.name, service: b.service.name, port: b.service.port?.number ?? b.service.port?.name ?? 80 };
}

/** The listen ports of one Ingress: `listen-ports`, else 443/HTTPS with a certificate, else 80/HTTP. */
export function listenPorts(ing: KubeObject): Built<Map<number, 'HTTP' | 'HTTPS'>> {
  const raw = ing.metadata.annotations?.[ANN + 'listen-ports'];
  const hasCertificate = Boolean(ing.metadata.annotations?.[ANN + 'certificate-arn']);
  if (raw === undefined) return { ok: true, value: new Map([hasCertificate ? [443, 'HTTPS'] : [80, 'HTTP']]) };
  let entries: unknown;
  try {
    entries = JSON.parse(raw);
  } catch (error) {
    return { ok: false, error: `failed to parse listen-ports configuration: \`${raw}\`: ${(error as Error).message}` };
  }
  if (!Array.isArray(entries) || entries.length === 0) return { ok: false, error: `empty listen-ports configuration: \`${raw}\`` };
  const ports = new Map<number, 'HTTP' | 'HTTPS'>();
  for (const entry of entries as Array<Record<string, unknown>>) {
    for (const [protocol, port] of Object.entries(entry ?? {})) {
      if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) return { ok: false, error: `listen port must be within [1, 65535]: ${String(port)}` };
      if (protocol !== 'HTTP' && protocol !== 'HTTPS') return { ok: false, error: `listen protocol must be within [HTTP, HTTPS]: ${protocol}` };
      ports.set(port, protocol);
    }
  }
  return { ok: true, value: ports };
}

const certificatesOf = (ing: KubeObject) =>
  (ing.metadata.annotations?.[ANN + 'certificate-arn'] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

/** Builds the group's model from its members (already sorted), as the controller's model builder does. */
export function buildGroupModel(id: GroupId, members: KubeObject[]): Built<GroupModel> {
  const attributes = mergeLoadBalancerAttributes(members);
  if (!attributes.ok) return attributes;

  // Listen ports: each member's, merged by port; members on a port build that listener.
  const byPort = new Map<number, { protocol: 'HTTP' | 'HTTPS'; provider: string; members: KubeObject[]; certificates: string[] }>();
  for (const ing of members) {
    const ports = listenPorts(ing);
    if (!ports.ok) return { ok: false, error: `ingress: ${keyOf(ing)}: ${ports.error}` };
    for (const [port, protocol] of ports.value) {
      const cfg = byPort.get(port);
      if (!cfg) {
        byPort.set(port, { protocol, provider: keyOf(ing), members: [ing], certificates: protocol === 'HTTPS' ? certificatesOf(ing) : [] });
        continue;
      }
      if (cfg.protocol !== protocol) {
        return { ok: false, error: `failed to merge listenPort config for port: ${port}: conflicting protocol, ${cfg.provider}: ${cfg.protocol} | ${keyOf(ing)}: ${protocol}` };
      }
      cfg.members.push(ing);
      if (protocol === 'HTTPS') for (const c of certificatesOf(ing)) if (!cfg.certificates.includes(c)) cfg.certificates.push(c);
    }
  }

  // ssl-redirect: one port for the whole group, and it must be an HTTPS listener.
  const redirectPorts = [...new Set(members.map((ing) => ing.metadata.annotations?.[ANN + 'ssl-redirect']).filter((v): v is string => v !== undefined))];
  let sslPort: number | undefined;
  if (redirectPorts.length > 1) return { ok: false, error: `conflicting sslRedirect port: [${redirectPorts.map(Number).sort((a, b) => a - b).join(' ')}]` };
  if (redirectPorts.length === 1) {
    sslPort = Number(redirectPorts[0]);
    const cfg = byPort.get(sslPort);
    if (!cfg) return { ok: false, error: `listener does not exist for SSLRedirect port: ${sslPort}` };
    if (cfg.protocol !== 'HTTPS') return { ok: false, error: `listener protocol non-SSL for SSLRedirect port: ${sslPort}` };
  }

  const backends = new Map<string, BackendRef>();
  const forward = (b: BackendRef): ModelAction => {
    backends.set(`${b.namespace}/${b.ingress}-${b.service}:${b.port}`, b);
    return { type: 'forward', backend: b };
  };
  const listeners: ListenerModel[] = [];
  for (const [port, cfg] of [...byPort].sort((a, b) => a[0] - b[0])) {
    if (cfg.protocol === 'HTTPS' && cfg.certificates.length === 0) {
      return { ok: false, error: `ingress: ${cfg.provider}: no certificate found for the HTTPS listener on port ${port} (the twin reads certificate-arn only)` };
    }
    const redirect = sslPort !== undefined && cfg.protocol === 'HTTP';
    let defaultAction: ModelAction;
    if (redirect) defaultAction = { type: 'redirect', statusCode: 'HTTP_301', protocol: 'HTTPS', port: String(sslPort) };
    else {
      const withDefault = cfg.members.filter((ing) => ing.spec?.defaultBackend);
      if (withDefault.length > 1) return { ok: false, error: `multiple ingress defined default backend: [${withDefault.map(keyOf).join(' ')}]` };
      const b = withDefault[0] ? backendOf(withDefault[0], withDefault[0].spec.defaultBackend) : undefined;
      defaultAction = b ? forward(b) : { type: 'fixed-response', contentType: 'text/plain', statusCode: '404' };
    }
    const rules: ListenerModel['rules'] = [];
    // With ssl-redirect the HTTP listeners only redirect: no rules.
    if (!redirect) {
      for (const ing of cfg.members) {
        for (const rule of (ing.spec?.rules ?? []) as Array<{ host?: string; http?: { paths?: IngressPath[] } }>) {
          if (!rule.http) continue;
          for (const p of sortPaths(rule.http.paths ?? [])) {
            const b = backendOf(ing, p.backend);
            if (!b) continue;
            const conditions: ModelCondition[] = [];
            if (rule.host) conditions.push({ field: 'host-header', values: [rule.host] });
            if (p.path) {
              const patterns = pathPatterns(p.path, p.pathType);
              if (!patterns.ok) return { ok: false, error: `ingress: ${keyOf(ing)}: ${patterns.error}` };
              conditions.push({ field: 'path-pattern', values: patterns.value });
            }
            if (conditions.length === 0) conditions.push({ field: 'path-pattern', values: ['/*'] });
            rules.push({ priority: rules.length + 1, conditions, action: forward(b) });
          }
        }
      }
    }
    listeners.push({ port, protocol: cfg.protocol, certificateArns: cfg.certificates, defaultAction, rules });
  }
  return { ok: true, value: { id, members, loadBalancerAttributes: attributes.value, listeners, backends: [...backends.values()] } };
}

/** The labels the controller puts on the Kubernetes objects it makes (TargetGroupBindings) for a group. */
export function stackLabels(id: GroupId): Record<string, string> {
  if (id.explicit) return { 'ingress.k8s.aws/stack': id.name };
  const [namespace, name] = id.name.split('/');
  return { 'ingress.k8s.aws/stack-namespace': namespace, 'ingress.k8s.aws/stack-name': name };
}
