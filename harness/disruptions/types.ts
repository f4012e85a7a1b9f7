/** The disruption port: what a disruption gets and what it returns. */
import type { Clock } from '../core/clock.ts';
import type { Timeline } from '../observe/timeline.ts';
import type { CapacityPort, Ec2Port, FisPort, KubernetesPort } from '../platform/ports.ts';
import type { Disruption } from '../matrix/schema.ts';

/** Everything a disruption may use: platform ports only. */
export interface DisruptionContext {
  k8s: KubernetesPort;
  ec2: Ec2Port;
  /** Adds a node the way Karpenter or a managed node group would (a replacement launched first). */
  capacity: CapacityPort;
  /** Model time (the twin's clock, or real time against a cluster). */
  clock: Clock;
  timeline: Timeline;
  namespace: string;
  deployment: string;
  /** Selects the Deployment's pods. */
  labelSelector: string;
  /** Model ms: give up after this long. */
  boundMs: number;
  signal: AbortSignal;
  /**
   * Records a change to undo at restore (cordons, taints); awaited *before* the change is made, so
   * a harness killed in between still leaves a record. Changes the cluster already had (a node the
   * user cordoned) are not recorded, and so never undone.
   */
  recordChange(change: ClusterChange): Promise<void>;
  /** AWS FIS (`spot: { via: fis }`); absent when not connected. */
  fis?: FisAccess;
  /** The run's id: the marker tag on what a disruption creates outside Kubernetes (FIS experiment templates). */
  runId?: string;
}

/** AWS FIS as a run reaches it: the port, the experiment role FIS assumes (`target.fisRoleArn`), the region of the instances. */
export interface FisAccess {
  port: FisPort;
  roleArn?: string;
  region: string;
}

/** A node change restore undoes (a cordon, a taint); a taint without value and effect is `true:NoSchedule` (the spot notice's). */
export type NodeChange = { kind: 'cordon'; node: string } | { kind: 'taint'; node: string; key: string; value?: string; effect?: TaintEffect };

/** A taint's effect. */
export type TaintEffect = 'NoSchedule' | 'NoExecute' | 'PreferNoSchedule';

/**
 * A change to the cluster that restore undoes: a node change, or FIS experiment templates carrying
 * the run's marker tag (recorded before the create, whose id is not known yet: restore finds them by the tag).
 */
export type ClusterChange = NodeChange | { kind: 'fis-template'; runId: string } | { kind: 'k6-testrun'; runId: string; namespace: string };

/**
 * What a disruption did to the Deployment's pods: the evidence a valid cell needs. `pods` it
 * evicted, deleted or replaced; `needed` it must have (any one pod for a drain or a spot
 * interruption, every old pod for a rollout); `summary` says it in words, for the why.
 */
export interface ActedOn {
  pods: number;
  needed: number;
  summary: string;
}

/**
 * Where the Deployment's pods were when a node disruption acted: how many of its pods ran on the
 * disrupted node out of its replicas. All of them on one node is "packed", fewer "spread".
 */
export interface OnNode {
  node: string;
  podsOnNode: number;
  replicas: number;
}

/** How a disruption ended: completed with what it did to the Deployment's pods, or not with why. */
export type DisruptionOutcome = { completed: true; detail: string; actedOn: ActedOn; onNode?: OnNode } | { completed: false; reason: string; actedOn?: ActedOn; onNode?: OnNode };

/** A disruption kind: a pure description of what it will do, and the doing. */
export interface DisruptionRunner<D extends { kind: Disruption['kind'] } = Disruption> {
  kind: D['kind'];
  /** One sentence for `plan`: what this disruption changes. */
  describe(disruption: D, ctx: { namespace: string; deployment: string }): string;
  run(disruption: D, ctx: DisruptionContext): Promise<DisruptionOutcome>;
}
