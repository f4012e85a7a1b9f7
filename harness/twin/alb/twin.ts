/**
 * The ALB twin: control plane (load balancers, target groups, listeners and their rules, target
 * state machine) plus one data-plane server per listener, as one object the Load Balancer
 * Controller twin calls in-process and the ELBv2 Query API serves.
 */
import type { Clock } from '../../core/clock.ts';
import type { Random } from '../../core/random.ts';
import { formatIssues } from '../../core/errors.ts';
import { healthCheckSchema, type HealthCheckConfig, type TwinConfig } from '../config.ts';
import { hashString } from '../../core/random.ts';
import type { Network } from '../network.ts';
import { loadBalancerResourceId, targetGroupResourceId } from './alb-log.ts';
import { DataPlane, LbNode, type ListenerEndpoint, type RequestOutcome, type TlsIdentity } from './data-plane.ts';
import { AlbError } from './errors.ts';
import { httpProbe, type HealthProbe } from './health.ts';
import { idFactory, TWIN_ACCOUNT_ID } from './ids.ts';
import { AccessLogDelivery, type LogObjectSink } from './log-delivery.ts';
import { AlbMetrics } from './metrics.ts';
import { parseMatcher } from './matcher.ts';
import { NodeView, TargetGroupModel, type TargetEntry } from './model.ts';
import { certificateHosts, compileRoutes, withRedirectDefaults } from './rules.ts';
import type {
  AccessLogRecord,
  AlbControlPlane,
  AlbEvent,
  ListenerInfo,
  LoadBalancerInfo,
  RuleAction,
  RuleInfo,
  TargetGroupInfo,
  TargetRef,
  TargetState,
} from './types.ts';

/** What the ALB twin needs. */
export interface AlbTwinDeps {
  clock: Clock;
  random: Random;
  config: TwinConfig['alb'];
  region: string;
  network: Network;
  accessLog?: (record: AccessLogRecord) => void;
  /** The S3 store access logs are delivered to; without one, no bucket exists and access logs cannot be enabled. */
  logSink?: LogObjectSink;
  /** The health checker; the real HTTP probe unless a test drives the state machine directly. */
  healthProbe?: HealthProbe;
  /** Issues the certificate an HTTPS listener serves, naming `hosts` (its rules' hosts); without it, HTTPS listeners are refused. */
  certificates?: (hosts: string[]) => Promise<TlsIdentity>;
}

/** Where a request from one LB node would go now (for tests and diagnostics). */
export type RoutePreview = { target: string; viewState: TargetState; failOpen: boolean } | null;

/** The ALB twin: the control plane plus inspection for tests, and `close`. */
export interface AlbTwin extends AlbControlPlane {
  /** Stops every listener, timer and connection. */
  close(): Promise<void>;
  /** The LB node names (zones) of a load balancer. */
  lbNodes(loadBalancerArn: string): string[];
  /** Routes one (imaginary) request in an LB node, advancing its round robin; null = 503. */
  route(loadBalancerArn: string, lbNode: string): RoutePreview;
  /** An LB node's view of its target group. */
  nodeView(loadBalancerArn: string, lbNode: string): Array<{ target: string; state: TargetState; routable: boolean }>;
  /** In-flight requests and open LB connections of a registered target (undefined when not registered). */
  targetActivity(targetGroupArn: string, target: TargetRef): { inFlight: number; openConnections: number } | undefined;
  /** The CloudWatch metrics of every load balancer (AWS/ApplicationELB). */
  readonly metrics: AlbMetrics;
  /** Delivers the access-log entries buffered so far now (a real ALB waits for the interval's end). */
  flushAccessLogs(): void;
}

interface ListenerModel {
  info: ListenerInfo;
  endpoint: ListenerEndpoint;
  /** Non-default rules, by priority. */
  rules: RuleInfo[];
  defaultRuleArn: string;
  /** The hosts the served certificate names (HTTPS), joined: reissued when the rules' hosts change. */
  certificateHosts?: string;
}

interface LoadBalancerModel {
  info: LoadBalancerInfo;
  plane: DataPlane;
  listeners: Map<string, ListenerModel>;
  /** The server started with the load balancer, until the first HTTP listener takes it. */
  spare?: ListenerEndpoint;
  attributes: Record<string, string>;
}

const bool = (v: string) => (v === 'true' || v === 'false' ? null : `expected 'true' or 'false', got '${v}'`);
const intRange = (min: number, max: number) => (v: string) =>
  /^\d+$/.test(v) && Number(v) >= min && Number(v) <= max ? null : `expected an integer from ${min} to ${max}, got '${v}'`;
const oneOf = (...values: string[]) => (v: string) => (values.includes(v) ? null : `expected one of ${values.join(', ')}, got '${v}'`);
const anyText = () => null;

/**
 * The attribute keys of an Application Load Balancer (ELBv2 LoadBalancerAttribute), with their
 * documented defaults and a validator of each value. Only access_logs.s3.* and
 * idle_timeout.timeout_seconds change what the twin does; the rest are kept and reported.
 */
const LB_ATTRIBUTES: Record<string, { default: string; check: (value: string) => string | null }> = {
  'access_logs.s3.enabled': { default: 'false', check: bool },
  'access_logs.s3.bucket': { default: '', check: anyText },
  'access_logs.s3.prefix': { default: '', check: (v) => (v.includes('AWSLogs') ? `the prefix must not contain 'AWSLogs', got '${v}'` : null) },
  'connection_logs.s3.enabled': { default: 'false', check: bool },
  'connection_logs.s3.bucket': { default: '', check: anyText },
  'connection_logs.s3.prefix': { default: '', check: anyText },
  'deletion_protection.enabled': { default: 'false', check: bool },
  'idle_timeout.timeout_seconds': { default: '60', check: intRange(1, 4000) },
  'client_keep_alive.seconds': { default: '3600', check: intRange(60, 604800) },
  'routing.http2.enabled': { default: 'true', check: bool },
  'routing.http.desync_mitigation_mode': { default: 'defensive', check: oneOf('monitor', 'defensive', 'strictest') },
  'routing.http.drop_invalid_header_fields.enabled': { default: 'false', check: bool },
  'routing.http.preserve_host_header.enabled': { default: 'false', check: bool },
  'routing.http.x_amzn_tls_version_and_cipher_suite.enabled': { default: 'false', check: bool },
  'routing.http.xff_client_port.enabled': { default: 'false', check: bool },
  'routing.http.xff_header_processing.mode': { default: 'append', check: oneOf('append', 'preserve', 'remove') },
  'load_balancing.cross_zone.enabled': { default: 'true', check: bool },
  'waf.fail_open.enabled': { default: 'false', check: bool },
  'zonal_shift.config.enabled': { default: 'false', check: bool },
};

/** A stable private IP for an LB node (the log file name's ip-address). */
function nodeIp(lbName: string, zone: string): string {
  const h = hashString(`lb-node:${lbName}:${zone}`);
  return `10.0.${(h >>> 8) & 0xff}.${1 + (h % 254)}`;
}

const NAME = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?$/;
const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)$/;

/** The attribute keys a target group accepts, with a validator of each value (null = valid). */
const ATTRIBUTE_RULES: Record<string, (value: string) => string | null> = {
  'deregistration_delay.timeout_seconds': (v) =>
    /^\d+$/.test(v) && Number(v) <= 3600 ? null : `expected an integer from 0 to 3600, got '${v}'`,
  'stickiness.enabled': (v) => (v === 'true' || v === 'false' ? null : `expected 'true' or 'false', got '${v}'`),
  'stickiness.type': (v) => (['lb_cookie', 'app_cookie'].includes(v) ? null : `expected 'lb_cookie' or 'app_cookie', got '${v}'`),
  'stickiness.lb_cookie.duration_seconds': (v) =>
    /^\d+$/.test(v) && Number(v) >= 1 && Number(v) <= 604800 ? null : `expected an integer from 1 to 604800, got '${v}'`,
  'slow_start.duration_seconds': (v) =>
    /^\d+$/.test(v) && (Number(v) === 0 || (Number(v) >= 30 && Number(v) <= 900)) ? null : `expected 0 or an integer from 30 to 900, got '${v}'`,
  'load_balancing.algorithm.type': (v) =>
    ['round_robin', 'least_outstanding_requests', 'weighted_random'].includes(v) ? null : `expected round_robin, least_outstanding_requests or weighted_random, got '${v}'`,
  'load_balancing.algorithm.anomaly_mitigation': (v) => (v === 'on' || v === 'off' ? null : `expected 'on' or 'off', got '${v}'`),
  'load_balancing.cross_zone.enabled': (v) =>
    ['true', 'false', 'use_load_balancer_configuration'].includes(v) ? null : `expected true, false or use_load_balancer_configuration, got '${v}'`,
};

/**
 * The combinations the ELB guide rules out ("Edit target group attributes": slow start is not
 * available with least outstanding requests or weighted random; anomaly mitigation is weighted
 * random's), as ELBv2's message, or null. The weighted random text is ELBv2's (quoted in
 * aws-load-balancer-controller #3686); the other two are written after it.
 */
export function attributeConflict(attributes: Record<string, string>): string | null {
  const algorithm = attributes['load_balancing.algorithm.type'];
  const slowStart = Number(attributes['slow_start.duration_seconds'] ?? '0');
  if (slowStart > 0 && algorithm === 'weighted_random') return 'You cannot enable both slow start and weighted random algorithm on a target group';
  if (slowStart > 0 && algorithm === 'least_outstanding_requests') return 'You cannot enable both slow start and least outstanding requests algorithm on a target group';
  if (attributes['load_balancing.algorithm.anomaly_mitigation'] === 'on' && algorithm !== 'weighted_random') {
    return `You cannot enable anomaly mitigation with the ${algorithm} algorithm on a target group (weighted random only)`;
  }
  return null;
}

/** Starts an ALB twin: no load balancer yet; `createLoadBalancer` starts each one's listener. */
export function createAlbTwin(deps: AlbTwinDeps): AlbTwin {
  const { clock, config, network } = deps;
  const ids = idFactory(deps.random.fork('alb-ids'), deps.region);
  const vpcId = ids.vpcId();
  const probe = deps.healthProbe ?? httpProbe({ clock, network });
  const listeners = new Set<(event: AlbEvent) => void>();
  const loadBalancers = new Map<string, LoadBalancerModel>();
  const groups = new Map<string, TargetGroupModel>();
  const metrics = new AlbMetrics();
  const delivery = deps.logSink
    ? new AccessLogDelivery({ clock, random: deps.random.fork('alb-log-files'), sink: deps.logSink, account: TWIN_ACCOUNT_ID, region: deps.region, intervalSeconds: config.accessLogs.intervalSeconds, dropShare: config.accessLogs.dropShare })
    : undefined;
  let closed = false;

  const handOver = (lbArn: string, { node, record, entry }: RequestOutcome) => {
    deps.accessLog?.(record);
    delivery?.add(lbArn, node.name, entry);
    metrics.recordRequest({
      time: entry.time,
      loadBalancer: entry.elb,
      targetGroup: entry.targetGroupArn ? targetGroupResourceId(entry.targetGroupArn) : '',
      zone: node.name,
      elbStatus: record.elbStatus,
      targetStatus: record.targetStatus,
      targetChosen: record.target !== '-',
      connectionError: record.reason === 'connect-refused' || record.reason === 'connect-timeout',
    });
  };

  // The sinks get the outcomes in one batch once the callback that produced them is done: Node
  // sends a response it has corked on the next tick, queued before this hand-over, so the access
  // log, log files and metrics no longer delay it. Still before any other I/O: a client in this
  // process never sees a response whose record is not yet logged.
  let outcomes: Array<{ lbArn: string; outcome: RequestOutcome }> = [];
  let drainScheduled = false;
  const drain = () => {
    drainScheduled = false;
    const batch = outcomes;
    outcomes = [];
    let failure: unknown;
    for (const { lbArn, outcome } of batch) {
      try {
        handOver(lbArn, outcome);
      } catch (err) {
        // One sink's failure must not lose the other outcomes of the batch; it is raised after them.
        failure ??= err;
      }
    }
    if (failure !== undefined) throw failure;
  };
  const onRequest = (lbArn: string, outcome: RequestOutcome) => {
    outcomes.push({ lbArn, outcome });
    if (drainScheduled) return;
    drainScheduled = true;
    process.nextTick(drain);
  };

  // Host counts: each LB node reports once a model minute, as ALB does ("always reported" while there are targets).
  const sampleHosts = () => {
    const time = clock.now();
    for (const lb of loadBalancers.values()) for (const group of groups.values()) {
      if (!group.info.loadBalancerArns.includes(lb.info.arn)) continue;
      const rows = group.health();
      if (!rows.length) continue;
      const healthy = rows.filter((r) => r.state === 'healthy');
      const unhealthy = rows.filter((r) => r.state === 'unhealthy');
      for (const zone of lb.info.zones) {
        metrics.recordHosts({
          time,
          loadBalancer: loadBalancerResourceId(lb.info.arn),
          targetGroup: targetGroupResourceId(group.info.arn),
          zone,
          healthy: healthy.length,
          unhealthy: unhealthy.length,
          healthyInZone: healthy.filter((r) => r.availabilityZone === zone).length,
          unhealthyInZone: unhealthy.filter((r) => r.availabilityZone === zone).length,
        });
      }
    }
  };
  const hostTimer = clock.setInterval(sampleHosts, 60_000);

  const emit = (event: AlbEvent) => {
    for (const listener of listeners) {
      try {
        listener(event);
      } catch (err) {
        // A listener's bug must not break the state machine; surface it all the same.
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  };

  const onLeft = (entry: TargetEntry) => {
    for (const abort of [...entry.inFlightAborts]) abort();
    for (const lb of loadBalancers.values()) for (const node of lb.plane.nodes) void node.dropPool(entry);
  };

  const lbOf = (arn: string): LoadBalancerModel => {
    const lb = loadBalancers.get(arn);
    if (!lb) throw new AlbError('LoadBalancerNotFound', `Load balancer '${arn}' not found`);
    return lb;
  };
  const groupOf = (arn: string): TargetGroupModel => {
    const group = groups.get(arn);
    if (!group) throw new AlbError('TargetGroupNotFound', `Target groups '${arn}' not found`);
    return group;
  };
  const nodeOf = (lbArn: string, name: string): LbNode => {
    const node = lbOf(lbArn).plane.nodes.find((n) => n.name === name);
    if (!node) throw new AlbError('ValidationError', `Expected an LB node of ${lbArn} (${lbOf(lbArn).info.zones.join(', ')}), got '${name}'`);
    return node;
  };
  const validateHealthCheck = (merged: HealthCheckConfig): HealthCheckConfig => {
    const parsed = healthCheckSchema.safeParse(merged);
    if (!parsed.success) throw new AlbError('ValidationError', `Invalid health check: ${formatIssues(parsed.error).join('; ')}`);
    const matcher = parseMatcher(parsed.data.matcher);
    if (!matcher.ok) throw new AlbError('ValidationError', `Invalid health check matcher: ${matcher.error}`);
    if (!parsed.data.path.startsWith('/')) throw new AlbError('ValidationError', `Expected a health check path starting with '/', got '${parsed.data.path}'`);
    return parsed.data;
  };
  const validateTargets = (group: TargetGroupModel, targets: TargetRef[]) => {
    for (const t of targets) {
      if (!IPV4.test(t.id)) throw new AlbError('ValidationError', `Expected an IPv4 address as target id, got '${t.id}'`);
      if (!Number.isInteger(t.port) || t.port < 1 || t.port > 65535) {
        throw new AlbError('ValidationError', `Expected a target port from 1 to 65535 for ${t.id} in ${group.info.name}, got ${t.port}`);
      }
    }
  };
  const listenerOf = (arn: string): { lb: LoadBalancerModel; listener: ListenerModel } => {
    for (const lb of loadBalancers.values()) {
      const listener = lb.listeners.get(arn);
      if (listener) return { lb, listener };
    }
    throw new AlbError('ListenerNotFound', `One or more listeners not found: ${arn}`);
  };
  /** Checks actions as ELBv2 does and fills a redirect's unset components. */
  const validateActions = (actions: RuleAction[], what: string): RuleAction[] => {
    if (actions.length === 0) throw new AlbError('ValidationError', `Expected at least one action for ${what}, got none`);
    return actions.map((a) => {
      if (a.type === 'forward') groupOf(a.targetGroupArn);
      if (a.type === 'fixed-response' && !/^[2-5]\d\d$/.test(a.statusCode)) {
        throw new AlbError('ValidationError', `Expected a fixed-response status code 2XX, 4XX or 5XX for ${what}, got '${a.statusCode}'`);
      }
      return withRedirectDefaults(a);
    });
  };
  /** The load balancer's nodes start a view of a target group its listeners now forward to. */
  const attachForwards = (lb: LoadBalancerModel, actions: RuleAction[]) => {
    for (const a of actions) {
      if (a.type !== 'forward' || lb.plane.nodes[0]?.views.has(a.targetGroupArn)) continue;
      const group = groupOf(a.targetGroupArn);
      const views = lb.plane.nodes.map((node) => {
        const view = new NodeView(node.name, group.info.arn, {
          clock,
          random: deps.random.fork(`lag:${lb.info.name}:${node.name}${node.view ? `:${group.info.name}` : ''}`),
          registrationLag: config.registrationLag,
          deregistrationLag: config.deregistrationLag,
          emit,
          onUnroutable: (entry) => node.closeIdle(entry),
        });
        node.views.set(group.info.arn, view);
        node.view ??= view;
        return view;
      });
      group.attach(lb.info.arn, views);
    }
  };
  /** Recompiles a listener's routes; an HTTPS listener gets a certificate for its rules' hosts when they changed. */
  const refresh = async (listener: ListenerModel) => {
    const info = listener.info;
    listener.endpoint.setRoutes(
      info.albPort,
      compileRoutes(listener.rules.map((r) => ({ priority: r.priority as number, conditions: r.conditions, actions: r.actions })), info.defaultActions),
    );
    if (info.protocol !== 'HTTPS') return;
    const hosts = certificateHosts(listener.rules);
    if (listener.certificateHosts === hosts.join(',')) return;
    listener.certificateHosts = hosts.join(',');
    listener.endpoint.setIdentity(await issue(hosts));
  };
  const issue = (hosts: string[]): Promise<TlsIdentity> => {
    if (!deps.certificates) throw new AlbError('CertificateNotFound', 'Expected the ALB twin to have a certificate source for HTTPS listeners, got none');
    return deps.certificates(hosts);
  };
  const copyListener = (l: ListenerModel): ListenerInfo => ({
    ...l.info,
    defaultActions: l.info.defaultActions.map((a) => ({ ...a })),
    certificateArns: [...l.info.certificateArns],
  });
  const copyRule = (r: RuleInfo): RuleInfo => ({
    ...r,
    conditions: r.conditions.map((c) => ({ ...c, values: [...c.values] })),
    actions: r.actions.map((a) => ({ ...a })),
  });
  const defaultRule = (l: ListenerModel): RuleInfo => ({
    arn: l.defaultRuleArn,
    listenerArn: l.info.arn,
    priority: 'default',
    conditions: [],
    actions: l.info.defaultActions,
    isDefault: true,
  });

  const copyLb = (info: LoadBalancerInfo): LoadBalancerInfo => ({ ...info, zones: [...info.zones], tags: { ...info.tags }, createdAt: new Date(info.createdAt) });
  const copyGroup = (info: TargetGroupInfo): TargetGroupInfo => ({
    ...info,
    loadBalancerArns: [...info.loadBalancerArns],
    healthCheck: { ...info.healthCheck },
    tags: { ...info.tags },
  });

  const twin: AlbTwin = {
    async createLoadBalancer({ name, zones, tags = {} }) {
      if (closed) throw new Error('The ALB twin is closed');
      if (!NAME.test(name)) throw new AlbError('ValidationError', `Expected a load balancer name of 1-32 letters, digits and inner hyphens, got '${name}'`);
      if ([...loadBalancers.values()].some((lb) => lb.info.name === name)) {
        throw new AlbError('DuplicateLoadBalancerName', `A load balancer with the name '${name}' already exists`);
      }
      const uniqueZones = [...new Set(zones)];
      if (uniqueZones.length === 0) throw new AlbError('ValidationError', 'Expected at least one zone for the load balancer, got none');
      const nodes = uniqueZones.map((zone) => new LbNode(zone));
      const arn = ids.loadBalancerArn(name);
      const elb = loadBalancerResourceId(arn);
      const plane = await DataPlane.start({ clock, network, alb: config, elb, onRequest: (outcome) => onRequest(arn, outcome), nodes }, config.listenerPort);
      const info: LoadBalancerInfo = {
        arn,
        name,
        // The twin's load balancer is reached on loopback: its DNS name is the listener's address,
        // so clients that find the ALB through DescribeLoadBalancers (as the harness does) reach it.
        dnsName: new URL(plane.url).hostname,
        scheme: 'internet-facing',
        zones: uniqueZones,
        vpcId,
        createdAt: new Date(clock.now()),
        tags: { ...tags },
        listenerUrl: plane.url,
      };
      const attributes = Object.fromEntries(Object.entries(LB_ATTRIBUTES).map(([k, a]) => [k, a.default]));
      attributes['idle_timeout.timeout_seconds'] = String(config.idleTimeoutSeconds);
      loadBalancers.set(arn, { info, plane, listeners: new Map(), spare: plane.endpoints[0], attributes });
      delivery?.register(arn, elb, new Map(uniqueZones.map((zone) => [zone, nodeIp(name, zone)])));
      return copyLb(info);
    },

    createTargetGroup({ name, port, healthCheck = {}, tags = {} }) {
      if (!NAME.test(name)) throw new AlbError('ValidationError', `Expected a target group name of 1-32 letters, digits and inner hyphens, got '${name}'`);
      if ([...groups.values()].some((g) => g.info.name === name)) {
        throw new AlbError('DuplicateTargetGroupName', `A target group with the same name '${name}' exists, but with different settings`);
      }
      if (!Number.isInteger(port) || port < 1 || port > 65535) throw new AlbError('ValidationError', `Expected a target group port from 1 to 65535, got ${port}`);
      const info: TargetGroupInfo = {
        arn: ids.targetGroupArn(name),
        name,
        protocol: 'HTTP',
        port,
        targetType: 'ip',
        vpcId,
        loadBalancerArns: [],
        healthCheck: validateHealthCheck({ ...config.healthCheck, ...healthCheck }),
        tags: { ...tags },
      };
      groups.set(info.arn, new TargetGroupModel(info, { clock, random: deps.random.fork(`tg:${info.name}`), alb: config, probe, emit, onLeft }));
      return copyGroup(info);
    },

    async createListener({ loadBalancerArn, port, protocol = 'HTTP', defaultTargetGroupArn, defaultActions, certificateArns = [] }) {
      const lb = lbOf(loadBalancerArn);
      if (!Number.isInteger(port) || port < 1 || port > 65535) throw new AlbError('ValidationError', `Expected a listener port from 1 to 65535, got ${port}`);
      const actions = validateActions(defaultActions ?? (defaultTargetGroupArn ? [{ type: 'forward', targetGroupArn: defaultTargetGroupArn }] : []), `the listener on port ${port}`);
      if ([...lb.listeners.values()].some((l) => l.info.albPort === port)) {
        throw new AlbError('DuplicateListener', `A listener already exists on port ${port} of load balancer ${lb.info.name}`);
      }
      if (protocol === 'HTTPS' && certificateArns.length === 0) throw new AlbError('ValidationError', `Expected a certificate for the HTTPS listener on port ${port}, got none`);
      // The first HTTP listener takes the server started with the load balancer (its listenerUrl); every other gets its own.
      let endpoint = protocol === 'HTTP' ? lb.spare : undefined;
      if (endpoint) lb.spare = undefined;
      else endpoint = await lb.plane.listen(protocol === 'HTTPS' ? 'https' : 'http', 0, protocol === 'HTTPS' ? await issue([]) : undefined);
      const arn = ids.listenerArn(loadBalancerArn);
      const forward = actions[actions.length - 1];
      const info: ListenerInfo = {
        arn,
        loadBalancerArn,
        // The loopback port it really listens on, so DNSName:Port reaches it; `albPort` is the one asked for.
        port: Number(new URL(endpoint.url).port),
        albPort: port,
        protocol,
        defaultActions: actions,
        certificateArns: [...certificateArns],
        ...(forward.type === 'forward' ? { defaultTargetGroupArn: forward.targetGroupArn } : {}),
        url: endpoint.url,
      };
      const listener: ListenerModel = { info, endpoint, rules: [], defaultRuleArn: ids.defaultRuleArn(arn), ...(protocol === 'HTTPS' ? { certificateHosts: '' } : {}) };
      lb.listeners.set(arn, listener);
      attachForwards(lb, actions);
      await refresh(listener);
      return copyListener(listener);
    },

    async modifyListener(listenerArn, { defaultActions, certificateArns }) {
      const { lb, listener } = listenerOf(listenerArn);
      if (defaultActions) {
        const actions = validateActions(defaultActions, `listener ${listenerArn}`);
        const forward = actions[actions.length - 1];
        listener.info.defaultActions = actions;
        listener.info.defaultTargetGroupArn = forward.type === 'forward' ? forward.targetGroupArn : undefined;
        if (!listener.info.defaultTargetGroupArn) delete listener.info.defaultTargetGroupArn;
        attachForwards(lb, actions);
      }
      if (certificateArns) listener.info.certificateArns = [...certificateArns];
      await refresh(listener);
      return copyListener(listener);
    },

    async setRules(listenerArn, specs) {
      const { lb, listener } = listenerOf(listenerArn);
      const seen = new Set<number>();
      const rules = specs.map((spec): RuleInfo => {
        if (!Number.isInteger(spec.priority) || spec.priority < 1 || spec.priority > 50000) {
          throw new AlbError('ValidationError', `Expected a rule priority from 1 to 50000, got ${spec.priority}`);
        }
        if (seen.has(spec.priority)) throw new AlbError('PriorityInUse', `The specified priority is in use: ${spec.priority}`);
        seen.add(spec.priority);
        if (spec.conditions.length === 0 || spec.conditions.some((c) => c.values.length === 0)) {
          throw new AlbError('ValidationError', `Expected rule ${spec.priority} to have conditions, each with values, got ${JSON.stringify(spec.conditions)}`);
        }
        const actions = validateActions(spec.actions, `rule ${spec.priority}`);
        const kept = listener.rules.find((r) => r.priority === spec.priority);
        return {
          arn: kept?.arn ?? ids.ruleArn(listenerArn),
          listenerArn,
          priority: spec.priority,
          conditions: spec.conditions.map((c) => ({ ...c, values: [...c.values] })),
          actions,
          isDefault: false,
        };
      });
      rules.sort((a, b) => (a.priority as number) - (b.priority as number));
      for (const r of rules) attachForwards(lb, r.actions);
      listener.rules = rules;
      await refresh(listener);
      return rules.map(copyRule);
    },

    describeRules({ listenerArn, ruleArns }) {
      if (listenerArn) {
        const { listener } = listenerOf(listenerArn);
        const all = [...listener.rules, defaultRule(listener)];
        return (ruleArns?.length ? all.filter((r) => ruleArns.includes(r.arn)) : all).map(copyRule);
      }
      if (!ruleArns?.length) throw new AlbError('ValidationError', 'Expected a listener ARN or rule ARNs, got neither');
      const all = [...loadBalancers.values()].flatMap((lb) => [...lb.listeners.values()].flatMap((l) => [...l.rules, defaultRule(l)]));
      const missing = ruleArns.filter((arn) => !all.some((r) => r.arn === arn));
      if (missing.length) throw new AlbError('RuleNotFound', `One or more rules not found: ${missing.join(', ')}`);
      return ruleArns.map((arn) => copyRule(all.find((r) => r.arn === arn)!));
    },

    describeLoadBalancers: () => [...loadBalancers.values()].map((lb) => copyLb(lb.info)),

    describeListeners(loadBalancerArn) {
      if (loadBalancerArn) lbOf(loadBalancerArn);
      return [...loadBalancers.values()]
        .filter((lb) => !loadBalancerArn || lb.info.arn === loadBalancerArn)
        .flatMap((lb) => [...lb.listeners.values()].map(copyListener));
    },

    describeTargetGroups(filter = {}) {
      let list = [...groups.values()];
      if (filter.arns?.length) {
        for (const arn of filter.arns) groupOf(arn);
        list = list.filter((g) => filter.arns!.includes(g.info.arn));
      }
      if (filter.names?.length) {
        for (const name of filter.names) {
          if (!list.some((g) => g.info.name === name)) throw new AlbError('TargetGroupNotFound', `Target groups '${name}' not found`);
        }
        list = list.filter((g) => filter.names!.includes(g.info.name));
      }
      if (filter.loadBalancerArn) {
        lbOf(filter.loadBalancerArn);
        list = list.filter((g) => g.info.loadBalancerArns.includes(filter.loadBalancerArn!));
      }
      return list.map((g) => copyGroup(g.info));
    },

    describeTargetHealth: (targetGroupArn, targets) => groupOf(targetGroupArn).health(targets),

    registerTargets(targetGroupArn, targets) {
      const group = groupOf(targetGroupArn);
      validateTargets(group, targets);
      group.register(targets);
    },

    deregisterTargets(targetGroupArn, targets) {
      const group = groupOf(targetGroupArn);
      validateTargets(group, targets);
      group.deregister(targets);
    },

    getTargetGroupAttributes: (targetGroupArn) => ({ ...groupOf(targetGroupArn).attributes }),

    describeLoadBalancerAttributes: (loadBalancerArn) => ({ ...lbOf(loadBalancerArn).attributes }),

    modifyLoadBalancerAttributes(loadBalancerArn, attributes) {
      const lb = lbOf(loadBalancerArn);
      for (const [key, value] of Object.entries(attributes)) {
        const rule = LB_ATTRIBUTES[key];
        if (!rule) throw new AlbError('ValidationError', `Load balancer attribute key '${key}' is not recognized`);
        const problem = rule.check(value);
        if (problem) throw new AlbError('ValidationError', `Load balancer attribute '${key}': ${problem}`);
      }
      const next = { ...lb.attributes, ...attributes };
      if (next['access_logs.s3.enabled'] === 'true') {
        const bucket = next['access_logs.s3.bucket'];
        if (!bucket) throw new AlbError('ValidationError', "Expected 'access_logs.s3.bucket' to name a bucket when access_logs.s3.enabled is true, got none");
        // What ELBv2 answers when it cannot write its test file to the bucket (it does not exist, or its policy forbids it).
        if (!deps.logSink?.bucketExists(bucket)) throw new AlbError('InvalidConfigurationRequest', `Access Denied for bucket: ${bucket}. Please check S3bucket permission`);
      }
      const changed = Object.keys(attributes).some((k) => lb.attributes[k] !== attributes[k]);
      lb.attributes = next;
      if (attributes['idle_timeout.timeout_seconds'] !== undefined) lb.plane.setIdleTimeout(Number(next['idle_timeout.timeout_seconds']));
      if (changed) {
        delivery?.configure(loadBalancerArn, {
          enabled: next['access_logs.s3.enabled'] === 'true',
          bucket: next['access_logs.s3.bucket'],
          prefix: next['access_logs.s3.prefix'],
        });
      }
      return { ...lb.attributes };
    },

    modifyTargetGroupAttributes(targetGroupArn, attributes) {
      const group = groupOf(targetGroupArn);
      for (const [key, value] of Object.entries(attributes)) {
        const rule = ATTRIBUTE_RULES[key];
        if (!rule) throw new AlbError('ValidationError', `Target group attribute key '${key}' is not recognized`);
        const problem = rule(value);
        if (problem) throw new AlbError('ValidationError', `Target group attribute '${key}': ${problem}`);
      }
      const conflict = attributeConflict({ ...group.attributes, ...attributes });
      if (conflict) throw new AlbError('InvalidConfigurationRequest', conflict);
      Object.assign(group.attributes, attributes);
      return { ...group.attributes };
    },

    modifyHealthCheck(targetGroupArn, healthCheck) {
      const group = groupOf(targetGroupArn);
      group.setHealthCheck(validateHealthCheck({ ...group.info.healthCheck, ...healthCheck }));
      return copyGroup(group.info);
    },

    describeTags(arns) {
      return arns.map((arn) => {
        if (arn.includes(':targetgroup/')) return { arn, tags: { ...groupOf(arn).info.tags } };
        return { arn, tags: { ...lbOf(arn).info.tags } };
      });
    },

    on(listener) {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },

    async close() {
      if (closed) return;
      closed = true;
      hostTimer.cancel();
      for (const group of groups.values()) group.close();
      await Promise.all([...loadBalancers.values()].map((lb) => lb.plane.close()));
      // The outcomes of the last turn (and of the requests closing cut off) reach the sinks now.
      drain();
      // What is buffered is delivered at shutdown, so a run's last interval is not lost.
      delivery?.close();
      listeners.clear();
    },

    metrics,

    flushAccessLogs() {
      drain();
      delivery?.flush();
    },

    lbNodes: (loadBalancerArn) => lbOf(loadBalancerArn).plane.nodes.map((n) => n.name),

    route(loadBalancerArn, lbNode) {
      const choice = nodeOf(loadBalancerArn, lbNode).view?.pick();
      if (!choice || choice.kind === 'none') return null;
      return { target: choice.entry.key, viewState: choice.viewState, failOpen: choice.failOpen };
    },

    nodeView: (loadBalancerArn, lbNode) => nodeOf(loadBalancerArn, lbNode).view?.snapshot() ?? [],

    targetActivity(targetGroupArn, target) {
      const entry = groupOf(targetGroupArn).targets.get(`${target.id}:${target.port}`);
      return entry ? { inFlight: entry.inFlight, openConnections: entry.openConnections } : undefined;
    },
  };
  return twin;
}
