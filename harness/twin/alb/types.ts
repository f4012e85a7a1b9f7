/** The ALB twin's control plane as the Load Balancer Controller twin, the ELBv2 API and tests see it. */
import type { HealthCheckConfig } from '../config.ts';

/** Target states, as ELBv2 names them. */
export type TargetState = 'initial' | 'healthy' | 'unhealthy' | 'unused' | 'draining' | 'unavailable';

/** A target: an IP and port. */
export interface TargetRef {
  id: string;
  port: number;
}

/** One row of DescribeTargetHealth. */
export interface TargetHealth {
  target: TargetRef;
  /** The zone the target is in (from the pod's node). */
  availabilityZone?: string;
  state: TargetState;
  reason?: string;
  description?: string;
}

/** A target group's description. */
export interface TargetGroupInfo {
  arn: string;
  name: string;
  protocol: 'HTTP';
  port: number;
  targetType: 'ip';
  vpcId: string;
  loadBalancerArns: string[];
  healthCheck: HealthCheckConfig;
  tags: Record<string, string>;
}

/** A load balancer's description. */
export interface LoadBalancerInfo {
  arn: string;
  name: string;
  dnsName: string;
  scheme: 'internet-facing' | 'internal';
  zones: string[];
  vpcId: string;
  createdAt: Date;
  tags: Record<string, string>;
  /** Where the twin's data plane listens, e.g. http://127.0.0.1:41234. */
  listenerUrl: string;
}

/** A listener's protocol. */
export type ListenerProtocol = 'HTTP' | 'HTTPS';

/** A rule condition (ELBv2 RuleCondition): the host-header and path-pattern fields the controller writes. */
export type RuleCondition = { field: 'host-header'; values: string[] } | { field: 'path-pattern'; values: string[] };

/** A rule or default action (ELBv2 Action): forward, fixed-response or redirect. */
export type RuleAction =
  | { type: 'forward'; targetGroupArn: string }
  | { type: 'fixed-response'; statusCode: string; contentType?: string; messageBody?: string }
  | { type: 'redirect'; statusCode: 'HTTP_301' | 'HTTP_302'; protocol?: string; port?: string; host?: string; path?: string; query?: string };

/** A listener's description. */
export interface ListenerInfo {
  arn: string;
  loadBalancerArn: string;
  /** The loopback port the listener really listens on, so DNSName:Port reaches it (DescribeListeners' Port). */
  port: number;
  /** The load balancer port it stands for (80, 443): X-Forwarded-Port, a redirect's #{port}, the access log's request line. */
  albPort: number;
  protocol: ListenerProtocol;
  defaultActions: RuleAction[];
  /** Certificate ARNs (HTTPS); the twin serves one certificate of its own CA for every rule host. */
  certificateArns: string[];
  /** The target group the default action forwards to, when it forwards. */
  defaultTargetGroupArn?: string;
  /** e.g. https://127.0.0.1:41235 */
  url: string;
}

/** A listener rule's description (DescribeRules); the default rule has priority 'default'. */
export interface RuleInfo {
  arn: string;
  listenerArn: string;
  priority: number | 'default';
  conditions: RuleCondition[];
  actions: RuleAction[];
  isDefault: boolean;
}

/** What a rule is made of: the controller's rule model. */
export interface RuleSpec {
  priority: number;
  conditions: RuleCondition[];
  actions: RuleAction[];
}

/** The 5xx causes the twin can name, one per access-log record that has a 5xx. */
export type FailureReason =
  /** No registered targets, or none routable (only initial/draining/unused). */
  | 'no-routable-targets'
  /** Connect refused or reset (process gone, nothing listening). */
  | 'connect-refused'
  /** Connect did not complete within the connect timeout (instance gone). */
  | 'connect-timeout'
  /** The target closed or reset the connection while the request was outstanding. */
  | 'closed-mid-request'
  /** The request was sent on a kept-alive connection the target had just closed. */
  | 'keepalive-race'
  /** No response within the idle timeout. */
  | 'idle-timeout'
  /** The deregistration delay elapsed while the request was in flight. */
  | 'delay-elapsed-in-flight'
  /** The target answered with a 5xx itself. */
  | 'target-5xx'
  /** The response could not be parsed. */
  | 'malformed-response';

/** One line of the ALB twin's access log (JSON lines). Times are model seconds since the epoch. */
export interface AccessLogRecord {
  type: 'request';
  /** Model time the request arrived, seconds since the epoch (fractional). */
  time: number;
  /** The LB node (one per zone) that handled it, e.g. `us-east-1a`. */
  lbNode: string;
  method: string;
  path: string;
  /** `ip:port` of the target, or '-' when none was chosen. */
  target: string;
  /** The target's state in this LB node's view when routed (after propagation lag). */
  targetState: TargetState | '-';
  /** The target's state in the control plane when routed. */
  targetControlState: TargetState | '-';
  /** The status the client got. */
  elbStatus: number;
  /** The status the target sent, or null when none came. */
  targetStatus: number | null;
  /** Model seconds: request arrival → target chosen (request_processing_time). */
  requestProcessingTime: number;
  /** Model seconds: sent to target → response headers (target_processing_time); -1 if none. */
  targetProcessingTime: number;
  /** Model seconds: whole request. */
  totalTime: number;
  /** Set on every 5xx the LB generated, and on target 5xx. */
  reason?: FailureReason;
  /** Free text with details (error code, which timer fired). */
  detail?: string;
  /** The X-Amzn-Trace-Id sent to the target: the ALB log entry's trace_id, to join the two. */
  traceId: string;
  /** `ip:port` of the client (the ALB log's client:port). */
  client: string;
  /** The request's User-Agent, or '-' (the ALB log's user_agent). */
  userAgent: string;
}

/** Events the control plane emits, for the LBC twin (gate conditions) and timelines. `time` is model seconds since the epoch. */
export type AlbEvent =
  | { type: 'target-state'; time: number; targetGroupArn: string; target: TargetRef; from: TargetState; to: TargetState; reason?: string }
  | { type: 'target-routable'; time: number; targetGroupArn: string; target: TargetRef; lbNode: string; routable: boolean };

/** The ALB twin's control plane. */
export interface AlbControlPlane {
  /** Creates a load balancer with one LB node per zone and starts its data-plane listener. */
  createLoadBalancer(input: { name: string; zones: string[]; tags?: Record<string, string> }): Promise<LoadBalancerInfo>;
  createTargetGroup(input: { name: string; port: number; healthCheck?: Partial<HealthCheckConfig>; tags?: Record<string, string> }): TargetGroupInfo;
  /**
   * A listener on `port` (80, 443, …), served on its own loopback port: forwarding to
   * `defaultTargetGroupArn`, or running `defaultActions`. HTTPS needs the twin's certificate source.
   */
  createListener(input: {
    loadBalancerArn: string;
    port: number;
    protocol?: ListenerProtocol;
    defaultTargetGroupArn?: string;
    defaultActions?: RuleAction[];
    certificateArns?: string[];
  }): Promise<ListenerInfo>;
  /** Replaces a listener's default actions and certificates (ModifyListener). */
  modifyListener(listenerArn: string, input: { defaultActions?: RuleAction[]; certificateArns?: string[] }): Promise<ListenerInfo>;
  /**
   * Makes a listener's rules exactly `rules` (what the controller's rule synthesizer reaches with
   * CreateRule / ModifyRule / DeleteRule): a rule keeps its ARN while its priority does.
   */
  setRules(listenerArn: string, rules: RuleSpec[]): Promise<RuleInfo[]>;
  /** DescribeRules: a listener's rules with its default rule last, or the rules named by ARN. */
  describeRules(input: { listenerArn?: string; ruleArns?: string[] }): RuleInfo[];
  describeLoadBalancers(): LoadBalancerInfo[];
  describeListeners(loadBalancerArn?: string): ListenerInfo[];
  describeTargetGroups(filter?: { arns?: string[]; names?: string[]; loadBalancerArn?: string }): TargetGroupInfo[];
  describeTargetHealth(targetGroupArn: string, targets?: TargetRef[]): TargetHealth[];
  registerTargets(targetGroupArn: string, targets: Array<TargetRef & { availabilityZone?: string }>): void;
  deregisterTargets(targetGroupArn: string, targets: TargetRef[]): void;
  getTargetGroupAttributes(targetGroupArn: string): Record<string, string>;
  /** Every attribute of a load balancer, with the documented defaults. */
  describeLoadBalancerAttributes(loadBalancerArn: string): Record<string, string>;
  /** Validates and applies attribute changes (all or none); returns every attribute after the change. */
  modifyLoadBalancerAttributes(loadBalancerArn: string, attributes: Record<string, string>): Record<string, string>;
  modifyTargetGroupAttributes(targetGroupArn: string, attributes: Record<string, string>): Record<string, string>;
  modifyHealthCheck(targetGroupArn: string, healthCheck: Partial<HealthCheckConfig>): TargetGroupInfo;
  describeTags(arns: string[]): Array<{ arn: string; tags: Record<string, string> }>;
  /** Subscribes to control-plane events; returns the unsubscribe function. */
  on(listener: (event: AlbEvent) => void): () => void;
}
