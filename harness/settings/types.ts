/**
 * What a setting needs of a connected target: the ports and names it reads and writes. Kept apart
 * from `harness/orchestrator/target.ts` (which holds more: traffic URL, twin, explain ports) so that
 * the settings and the target do not import each other.
 */
import type { Clock } from '../core/clock.ts';
import type { Elbv2Port, KubernetesPort, TargetGroupHealthCheck } from '../platform/ports.ts';
import type { CellConfig, Spec } from '../matrix/schema.ts';
import type { OptionalAxis } from '../matrix/axes.ts';
import type { ClusterChange } from '../disruptions/types.ts';

/** How target-group attributes (the deregistration delay, slow start, the algorithm) are set: decided once, when connecting, and stored with the originals. */
export type DelayChannel = 'ingress' | 'api';

/** The object a setting lives on. */
export type SettingObject = 'deployment' | 'namespace' | 'ingress' | 'targetGroup' | 'loadBalancer' | 'pdb';

/** The part of a connected target a setting reads and writes (`Target` satisfies it). */
export interface SettingTarget {
  k8s: KubernetesPort;
  elbv2: Elbv2Port;
  /** Model time: every wait for a controller goes through it. */
  clock: Clock;
  namespace: string;
  deployment: string;
  ingress?: string;
  targetGroupArn: string;
  delayVia: DelayChannel;
  /**
   * Under the gateway topology with the app disrupted: the gateway's path, where the ALB's settings
   * (the Ingress's annotations, the target group's attributes) land; the rest stays on this target.
   */
  albSide?: SettingTarget;
}

/** The original values, as found before the run changed anything (JSON-serializable). */
export interface OriginalSettings {
  container: string;
  /** The container's lifecycle.preStop (null when none). */
  preStop: unknown;
  /** The container's whole lifecycle (null when none), so that restore leaves no empty object behind. */
  lifecycle?: unknown;
  terminationGracePeriodSeconds: number | null;
  /** The namespace's gate label value (null when unset). */
  gateLabel: string | null;
  /** The Ingress annotation (null when unset; undefined when no Ingress is used). */
  ingressAttributes?: string | null;
  /** How this run sets the delay (decided once, at connect). */
  delayVia: DelayChannel;
  /** The target group's effective delay, read through DescribeTargetGroupAttributes. */
  deregistrationDelaySeconds: string;
  /** Changes disruptions made and not yet undone (cordons, taints). */
  changes: ClusterChange[];
  /** The load balancer's access-log attributes and the Ingress annotation, when the run enables the logs (`explain.enableAccessLogs`). */
  accessLogs?: OriginalAccessLogs;
  /** The original of each optional axis the spec sets (null: unset), keyed by axis; absent axes are left alone. */
  axes?: Partial<Record<OptionalAxis, string | number | null>>;
  /** The target group's own health check (DescribeTargetGroups) before the run, recorded when a health-check axis is in the matrix. */
  targetGroupHealthCheck?: TargetGroupHealthCheck;
  /** Each generic axis's object's values at the paths its patches name (harness/settings/generic.ts), keyed by axis name. */
  generic?: Record<string, Record<string, unknown>>;
  /** When cells take both paths: the gateway path's originals (its Ingress and target group, and the Deployment its cells disrupt); `changes` stays here. */
  gatewayPath?: OriginalSettings;
  /** A gateway Deployment the run scaled up from 0 before its first cell (harness/orchestrator/topology.ts): restore puts `replicas` back. */
  scaledFromZero?: { namespace: string; deployment: string; replicas: number };
}

/** A setting as restore finds it: at its original value, at one the run sets, or neither (changed since by someone else). */
export interface SettingState {
  atOriginal: boolean;
  ours: boolean;
  now: string;
  was: string;
}

/** The values the run may have left on the cluster, per entry key (an empty list: none of the run's values is there any more). */
export type RunValues = Record<string, unknown[]>;

/** One setting: where it lives and its whole lifecycle. */
export interface SettingEntry {
  /** Names it in records and in the values the run sets. */
  key: string;
  object: SettingObject;
  /** True when pods must be replaced before they carry the change. */
  rollout: boolean;
  /** The matrix axes that decide its value. */
  axes: ReadonlyArray<keyof CellConfig>;
  name(t: SettingTarget): string;
  /** The value a config sets, as `read` shows it (undefined: the config leaves it alone). */
  wants(config: CellConfig, spec: Spec, o: OriginalSettings): unknown;
  /** What `plan` prints for the value a config sets. */
  describe(want: unknown, t: PlanTarget): string;
  /** Its value now (undefined: the run does not touch it on this target). */
  read(t: SettingTarget, o: OriginalSettings): Promise<unknown>;
  /** Its original value, as `read` shows it (undefined: not recorded, so left alone). */
  was(o: OriginalSettings): unknown;
  /**
   * The value where it takes effect, when another object carries it out (a health-check annotation:
   * the target group's own health check, applied by the controller in its own time). Configure and
   * restore read it back besides `read`.
   */
  effective?(t: SettingTarget): Promise<unknown>;
  /** A Deployment setting: the strategic-merge fragment that sets `want`. */
  patch?(want: unknown, o: OriginalSettings): Record<string, unknown>;
  /** Any other setting: sets the config's value (the `wants` computed from the current cluster). */
  apply?(t: SettingTarget, config: CellConfig, spec: Spec, o?: OriginalSettings): Promise<string | undefined>;
  /** Puts the original back; returns what it did. */
  restore(t: SettingTarget, o: OriginalSettings, signal: AbortSignal): Promise<string[]>;
  /** How restore compares (default: `read` against `was`, and against the run's values). */
  state?(t: SettingTarget, o: OriginalSettings, values: RunValues): Promise<SettingState | undefined>;
}

/** What `plan` knows of the target without connecting. */
export interface PlanTarget {
  namespace: string;
  deployment: string;
  ingress?: string;
  delayVia: DelayChannel;
  /** Under a gateway with the app disrupted: the gateway's path, where the ALB settings land (as `SettingTarget.albSide`). */
  albSide?: PlanTarget;
}


/** Where the run sends the logs. */
export interface AccessLogsSetting {
  bucket: string;
  prefix: string;
}

/** What the run found before enabling (JSON-serializable, kept in the run record's originals). */
export interface OriginalAccessLogs {
  loadBalancerArn: string;
  /** The three access_logs.s3.* attributes as DescribeLoadBalancerAttributes showed them. */
  attributes: Record<string, string>;
  /** The Ingress annotation (null when unset). */
  annotation: string | null;
  /**
   * Other members of the target's IngressGroup that name access-log keys in their annotation, by
   * name, with their original annotation: the run writes the same values on them (see access-logs.ts).
   */
  members?: Record<string, string | null>;
}

