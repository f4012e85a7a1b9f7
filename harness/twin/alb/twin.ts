/**
 * The ALB twin: control plane (load balancers, target groups, listeners, target state machine)
 * plus one data-plane listener per load balancer, as one object the Load Balancer Controller
 * twin calls in-process and the ELBv2 Query API serves.
 */
import type { Clock } from '../../core/clock.ts';
import type { Random } from '../../core/random.ts';
import { formatIssues } from '../../core/errors.ts';
import { healthCheckSchema, type HealthCheckConfig, type TwinConfig } from '../config.ts';
import type { Network } from '../network.ts';
import { DataPlane, LbNode } from './data-plane.ts';
import { AlbError } from './errors.ts';
import { httpProbe, type HealthProbe } from './health.ts';
import { idFactory } from './ids.ts';
import { parseMatcher } from './matcher.ts';
import { NodeView, TargetGroupModel, type TargetEntry } from './model.ts';
import type {
  AccessLogRecord,
  AlbControlPlane,
  AlbEvent,
  ListenerInfo,
  LoadBalancerInfo,
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
  /** The health checker; the real HTTP probe unless a test drives the state machine directly. */
  healthProbe?: HealthProbe;
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
}

interface LoadBalancerModel {
  info: LoadBalancerInfo;
  plane: DataPlane;
  listener?: ListenerInfo;
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
  'load_balancing.cross_zone.enabled': (v) =>
    ['true', 'false', 'use_load_balancer_configuration'].includes(v) ? null : `expected true, false or use_load_balancer_configuration, got '${v}'`,
};

/** Starts an ALB twin: no load balancer yet; `createLoadBalancer` starts each one's listener. */
export function createAlbTwin(deps: AlbTwinDeps): AlbTwin {
  const { clock, config, network } = deps;
  const ids = idFactory(deps.random.fork('alb-ids'), deps.region);
  const vpcId = ids.vpcId();
  const probe = deps.healthProbe ?? httpProbe({ clock, network });
  const listeners = new Set<(event: AlbEvent) => void>();
  const loadBalancers = new Map<string, LoadBalancerModel>();
  const groups = new Map<string, TargetGroupModel>();
  let closed = false;

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
    for (const lb of loadBalancers.values()) for (const node of lb.plane.nodes) node.dropPool(entry);
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
      const plane = await DataPlane.start({ clock, network, alb: config, accessLog: deps.accessLog, nodes }, config.listenerPort);
      const arn = ids.loadBalancerArn(name);
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
      loadBalancers.set(arn, { info, plane });
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

    createListener({ loadBalancerArn, port, defaultTargetGroupArn }) {
      const lb = lbOf(loadBalancerArn);
      const group = groupOf(defaultTargetGroupArn);
      if (lb.listener) throw new AlbError('DuplicateListener', `The load balancer ${lb.info.name} already has a listener (the twin serves one)`);
      // The listener reports the loopback port it really listens on (`port` stays the forwarded port).
      const listener: ListenerInfo = { arn: ids.listenerArn(loadBalancerArn), loadBalancerArn, port: Number(new URL(lb.plane.url).port), protocol: 'HTTP', defaultTargetGroupArn };
      lb.listener = listener;
      const views = lb.plane.nodes.map((node) => {
        node.view = new NodeView(node.name, group.info.arn, {
          clock,
          random: deps.random.fork(`lag:${lb.info.name}:${node.name}`),
          registrationLag: config.registrationLag,
          deregistrationLag: config.deregistrationLag,
          emit,
          onUnroutable: (entry) => node.closeIdle(entry),
        });
        return node.view;
      });
      lb.plane.setListener(port);
      group.attach(loadBalancerArn, views);
      return { ...listener };
    },

    describeLoadBalancers: () => [...loadBalancers.values()].map((lb) => copyLb(lb.info)),

    describeListeners(loadBalancerArn) {
      if (loadBalancerArn) lbOf(loadBalancerArn);
      return [...loadBalancers.values()]
        .filter((lb) => lb.listener && (!loadBalancerArn || lb.info.arn === loadBalancerArn))
        .map((lb) => ({ ...lb.listener! }));
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

    modifyTargetGroupAttributes(targetGroupArn, attributes) {
      const group = groupOf(targetGroupArn);
      for (const [key, value] of Object.entries(attributes)) {
        const rule = ATTRIBUTE_RULES[key];
        if (!rule) throw new AlbError('ValidationError', `Target group attribute key '${key}' is not recognized`);
        const problem = rule(value);
        if (problem) throw new AlbError('ValidationError', `Target group attribute '${key}': ${problem}`);
      }
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
      for (const group of groups.values()) group.close();
      await Promise.all([...loadBalancers.values()].map((lb) => lb.plane.close()));
      listeners.clear();
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
