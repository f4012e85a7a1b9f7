/**
 * What a setting needs of a connected target: the ports and names it reads and writes. Kept apart
 * from `harness/orchestrator/target.ts` (which holds more: traffic URL, twin, explain ports) so that
 * the settings and the target do not import each other.
 */
import type { Clock } from '../core/clock.ts';
import type { Elbv2Port, KubernetesPort } from '../platform/ports.ts';

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
}
