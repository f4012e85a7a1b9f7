/**
 * A connected target, as the orchestrator receives it: the ports, the names, and how to reach and
 * close it. Building it (real adapters, the twin) is the composition root's job: `harness/cli/connect.ts`.
 */
import type { Clock } from '../core/clock.ts';
import type { FisAccess } from '../disruptions/types.ts';
import type { CapacityPort, Ec2Port, Elbv2Port, K6OperatorPort, KubernetesPort } from '../platform/ports.ts';
import type { Spec } from '../matrix/schema.ts';
import type { DelayChannel } from '../settings/types.ts';
import type { ExplainPorts } from '../explain/pipeline.ts';

/** A Deployment the run acts on, with the selector of its pods. */
export interface DeploymentRef {
  namespace: string;
  deployment: string;
  labelSelector: string;
}

/** One path of traffic, as connect found it: the ALB side (Ingress, binding, target group) and the address traffic goes to. */
export interface TrafficPath {
  /** The namespace of its Ingress and TargetGroupBinding. */
  namespace: string;
  ingress?: string;
  bindingName?: string;
  targetGroupArn: string;
  delayVia: DelayChannel;
  url: string;
  urlSource: string;
  hostHeader?: string;
  servername?: string;
}

/** The gateway path: its ALB side, the gateway's Deployment (whose pods are the targets), and which Deployment the disruptions hit. */
export interface GatewayPath extends TrafficPath {
  gateway: DeploymentRef;
  disrupt: 'app' | 'gateway';
}

/** The paths a connected target has (those the spec's cells take) and the app's Deployment. */
export interface TargetTopology {
  app: DeploymentRef;
  direct?: TrafficPath;
  gateway?: GatewayPath;
}

/** A connected target: ports, names, and (on the twin) what the twin says of itself. */
export interface Target {
  kind: 'twin' | 'cluster';
  k8s: KubernetesPort;
  elbv2: Elbv2Port;
  ec2: Ec2Port;
  /** AWS FIS for `spot: { via: fis }`, and the experiment role from `target.fisRoleArn` (the twin's own on the twin). */
  fis?: FisAccess;
  /** Adds a node as Karpenter or a managed node group would (the handlers that launch a replacement). */
  capacity: CapacityPort;
  /** TestRuns, their ConfigMaps, runner pods and logs: `traffic.driver: k6-operator`, and restore of what a run left. */
  k6Operator?: K6OperatorPort;
  /** Model time: the twin's scaled clock, or real time. */
  clock: Clock;
  namespace: string;
  deployment: string;
  ingress?: string;
  /** The paths the spec's cells take (connect finds each); `viewOf` (harness/orchestrator/topology.ts) gives a cell's view of the target. */
  topology?: TargetTopology;
  /** In a gateway cell that disrupts the app: the gateway's Deployment, whose pods (not `deployment`'s) are the target group's targets. */
  registered?: DeploymentRef;
  /** In a gateway cell that disrupts the app: the gateway's path, where the ALB settings land (harness/settings/types.ts). */
  albSide?: Target;
  /** The TargetGroupBinding that registers the Deployment's pods. */
  bindingName?: string;
  targetGroupArn: string;
  labelSelector: string;
  /** How the deregistration delay is set (decided once, when connecting). */
  delayVia: DelayChannel;
  /** Where traffic goes, and where that came from. */
  url: string;
  urlSource: string;
  /** The Host header traffic carries (a listener rule's host), when the load balancer routes by host. */
  hostHeader?: string;
  /** The TLS server name traffic sends and verifies the certificate against (HTTPS with a rule's host). */
  servername?: string;
  /** A CA certificate file (PEM) trusted besides the system roots: the twin's, for its HTTPS listeners. */
  caFile?: string;
  /** The AWS region the clients use, and where it came from (see `resolveRegion`). */
  region: string;
  regionSource: string;
  /** On the twin: its time scale and seed, and where its state (kubeconfig, env file, ground-truth access log) is. */
  twin?: { timeScale: number; seed: number; stateDir: string; accessLogFile: string };
  /** On the twin: the stalls of its event loop that overlap [fromMs, toMs] (model ms; harness/twin/thread/stall.ts). */
  twinStalls?(fromMs: number, toMs: number): Array<{ at: number; modelMs: number }>;
  /** The load balancer's access logs (S3) and metrics (CloudWatch), for explaining each 5xx. */
  explain?: ExplainPorts;
  close(): Promise<void>;
}

/** What connecting needs besides the spec. */
export interface ConnectOptions {
  resultsDir: string;
  log: (line: string) => void;
  /** Resolves a host name (default: the system resolver); injected so tests never look up made-up names. */
  lookup?: (host: string) => Promise<unknown>;
  /** The environment the region is read from (default: the process's). */
  env?: Record<string, string | undefined>;
  /** Whether the twin's gateway can run here (default: `nginxAvailable`, harness/twin/gateway/index.ts); injected so tests need no nginx, or lack one. */
  nginxAvailable?: () => Promise<{ ok: true; path: string } | { ok: false; message: string }>;
  /** A region decided before (the one a resumed or restored run recorded): used as is, not resolved again. */
  region?: { region: string; source: string };
}

/** Connects to a spec's target (for the twin, starts it first); changes nothing. */
export type Connect = (spec: Spec, opts: ConnectOptions) => Promise<Target>;
