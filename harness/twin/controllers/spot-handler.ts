/**
 * The cluster's own spot handler, as the twin's world names it (cluster.spotHandler): what
 * aws-node-termination-handler, Karpenter or an EKS managed node group does when EC2 sends a
 * rebalance recommendation and then the two-minute interruption notice for one of its instances
 * (the twin's FIS API delivers both through the node lifecycle's `spotInterruption`).
 *
 * - nth (aws-node-termination-handler, IMDS or queue mode, enableRebalanceMonitoring): rebalance
 *   recommendation → cordon only; notice → taint `aws-node-termination-handler/spot-itn`, cordon,
 *   evict every pod at once. It launches nothing: the Auto Scaling group replaces the instance
 *   after it is gone.
 * - karpenter (v1, interruption queue): rebalance recommendation → an Event only; notice → launch
 *   the replacement at once (no waiting for it: interruption is a forceful method), taint
 *   `karpenter.sh/disrupted:NoSchedule`, evict through the Eviction API respecting PDBs, retrying.
 * - managed-nodegroup (capacity rebalancing): rebalance recommendation → launch the replacement,
 *   wait until its node is Ready, then cordon and drain; notice → cordon and drain at once (when
 *   the replacement is not Ready yet or there was no recommendation).
 *
 * Evictions go through `evictPod`, the code behind the twin's Eviction API (PDB checks included);
 * a refused one is retried every 5 s until the pods are gone or the instance is. Every step is a
 * core/v1 Event whose `action` is the timeline's action name, so `kubectl get events` shows the
 * sequence. Sources: the twin's README, "Spot handlers".
 */
import type { Clock } from '../../core/clock.ts';
import type { SpotHandlerKind } from '../config.ts';
import { timestamp, type ObjectStore } from '../kube/store.ts';
import type { KubeObject } from '../kube/types.ts';
import { evictPod } from './eviction.ts';
import { recordEvent, type EventType, type InvolvedObject } from './events.ts';
import { isPodTerminal } from './util.ts';

/** The taint aws-node-termination-handler puts on a node at a spot interruption notice. */
export const NTH_SPOT_TAINT = 'aws-node-termination-handler/spot-itn';
/** The taint Karpenter v1 puts on a node it disrupts (before v1: `karpenter.sh/disruption=disrupting`). */
export const KARPENTER_DISRUPTED_TAINT = 'karpenter.sh/disrupted';
/** EC2's interruption notice comes this long before the instance is reclaimed. */
export const SPOT_NOTICE_MS = 120_000;
/** Between two eviction attempts of a pod a budget protects (kubectl drain's 5 s; Karpenter retries too). */
export const EVICTION_RETRY_MS = 5_000;
/** How often a drain looks whether the node's pods are gone. */
const DRAIN_POLL_MS = 1_000;

/** The timeline's action names (harness/observe), carried by each Event as its `action`. */
export type SpotAction =
  | 'rebalance-recommendation'
  | 'spot-notice'
  | 'replacement-launched'
  | 'replacement-ready'
  | 'taint'
  | 'cordon'
  | 'evict'
  | 'drained'
  | 'drain-incomplete'
  | 'terminate-instance';

const REASONS: Record<SpotAction, string> = {
  'rebalance-recommendation': 'RebalanceRecommendation',
  'spot-notice': 'SpotInterruption',
  'replacement-launched': 'ReplacementLaunched',
  'replacement-ready': 'ReplacementReady',
  taint: 'Tainted',
  cordon: 'Cordoned',
  evict: 'Evicted',
  drained: 'Drained',
  'drain-incomplete': 'DrainIncomplete',
  'terminate-instance': 'InstanceTerminated',
};

/** The Event source of each handler (the managed node group's is the twin's stand-in: EKS records none). */
export const HANDLER_COMPONENTS: Record<SpotHandlerKind, string> = {
  nth: 'aws-node-termination-handler',
  karpenter: 'karpenter',
  'managed-nodegroup': 'eks-nodegroup',
};

/** The instance an interruption is about. */
export interface InterruptedInstance {
  instanceId: string;
  nodeName: string;
}

/** What the handler emulation needs from the node lifecycle. */
export interface SpotHandlerDeps {
  kind: SpotHandlerKind;
  store: ObjectStore;
  clock: Clock;
  /** Runs `fn` after `ms` model ms on the lifecycle's timers (cancelled when it stops). */
  later(fn: () => void, ms: number): void;
  /**
   * Launches an instance like `instanceId` (zone, type, capacity type, pool or group); `onReady`
   * gets the new node's name once its Node is Ready. Undefined when the instance is unknown.
   */
  launchLike(instanceId: string, onReady: (nodeName: string) => void): { instanceId: string; nodeName: string } | undefined;
  log?: (line: string) => void;
}

/** The handler emulation: the node lifecycle calls it as EC2's signals arrive. */
export interface SpotHandler {
  /** EC2's rebalance recommendation for the instance. */
  rebalance(instance: InterruptedInstance): void;
  /** EC2's interruption notice: the instance is reclaimed at `terminateAt` (model epoch ms). */
  notice(instance: InterruptedInstance, terminateAt: number): void;
  /** The interrupted instance is gone: a drain still running ends there. */
  terminated(instance: InterruptedInstance): void;
}

interface Interruption {
  node: string;
  draining: boolean;
  done: boolean;
  replacement?: string;
}

function isDaemonSetPod(pod: KubeObject): boolean {
  return (pod.metadata.ownerReferences ?? []).some((o: { kind: string }) => o.kind === 'DaemonSet');
}

function isMirrorPod(pod: KubeObject): boolean {
  return Boolean(pod.metadata.annotations?.['kubernetes.io/config.mirror']);
}

/** A pod tolerating Karpenter's disruption taint stays: Karpenter does not evict it. */
function toleratesDisrupted(pod: KubeObject): boolean {
  return ((pod.spec?.tolerations ?? []) as Array<{ key?: string; operator?: string; effect?: string }>).some(
    (t) => (t.key === KARPENTER_DISRUPTED_TAINT || (!t.key && t.operator === 'Exists')) && (!t.effect || t.effect === 'NoSchedule'),
  );
}

/** Starts the emulation of the world's spot handler. */
export function createSpotHandler(deps: SpotHandlerDeps): SpotHandler {
  const { kind, store, clock } = deps;
  const log = deps.log ?? (() => {});
  const component = HANDLER_COMPONENTS[kind];
  const interruptions = new Map<string, Interruption>();

  function emit(action: SpotAction | undefined, about: KubeObject | InvolvedObject, type: EventType, reason: string, message: string): void {
    recordEvent(store, clock, about, type, reason, message, component, action);
    log(`spot-handler(${kind}): ${action ?? reason} ${message}`);
  }

  /** The Node, or a reference to it once it is deleted. */
  const nodeRef = (name: string): KubeObject | InvolvedObject => store.get('nodes', undefined, name) ?? { apiVersion: 'v1', kind: 'Node', name };

  function record(action: SpotAction, node: string, message: string, type: EventType = 'Normal'): void {
    const reason = kind === 'karpenter' && action === 'spot-notice' ? 'SpotInterrupted' : kind === 'karpenter' && action === 'rebalance-recommendation' ? 'SpotRebalanceRecommendation' : REASONS[action];
    emit(action, nodeRef(node), type, reason, message);
  }

  function cordon(node: string): void {
    let changed = false;
    store.modify('nodes', undefined, node, (n) => {
      if (n.spec?.unschedulable) return;
      n.spec = { ...n.spec, unschedulable: true };
      changed = true;
    });
    if (changed) record('cordon', node, `${node} cordoned`);
  }

  function taint(node: string, key: string, value: string | undefined): void {
    let changed = false;
    store.modify('nodes', undefined, node, (n) => {
      const taints = (n.spec?.taints ?? []) as Array<{ key: string; effect: string }>;
      if (taints.some((t) => t.key === key && t.effect === 'NoSchedule')) return;
      n.spec = { ...n.spec, taints: [...taints, { key, ...(value !== undefined ? { value } : {}), effect: 'NoSchedule', timeAdded: timestamp(clock.now()) }] };
      changed = true;
    });
    if (changed) record('taint', node, `${node} ${key}${value !== undefined ? `=${value}` : ''}:NoSchedule`);
  }

  /** The pods a drain has to get off `node`: bound there, not finished, not DaemonSet or mirror pods. */
  function podsToDrain(node: string): KubeObject[] {
    return store
      .list('pods', { fieldSelector: `spec.nodeName=${node}` })
      .items.filter((p) => !isPodTerminal(p) && !isDaemonSetPod(p) && !isMirrorPod(p) && !(kind === 'karpenter' && toleratesDisrupted(p)));
  }

  /** Evicts every pod of the node at once, retries refusals, and records `drained` when they are gone. */
  function drain(instanceId: string, state: Interruption): void {
    if (state.draining) return;
    state.draining = true;
    const lastTry = new Map<string, number>();
    const tick = () => {
      if (state.done) return;
      const pods = podsToDrain(state.node);
      if (!pods.length) {
        state.done = true;
        record('drained', state.node, `${state.node} drained`);
        return;
      }
      const now = clock.now();
      for (const pod of pods) {
        const uid = pod.metadata.uid ?? pod.metadata.name;
        if (pod.metadata.deletionTimestamp) continue;
        const last = lastTry.get(uid);
        if (last !== undefined && now - last < EVICTION_RETRY_MS) continue;
        lastTry.set(uid, now);
        const ns = pod.metadata.namespace!;
        const name = pod.metadata.name;
        const result = evictPod(store, ns, name);
        if (result.code === 201) emit('evict', pod, 'Normal', REASONS.evict, `Evicted ${ns}/${name} from ${state.node} (${instanceId}): spot interruption`);
        else if (result.code !== 404) {
          const why = result.body.details?.causes?.[0]?.message ?? result.body.message ?? `HTTP ${result.code}`;
          emit(undefined, pod, 'Warning', result.code === 429 ? 'EvictionBlocked' : 'FailedEviction', `Cannot evict ${ns}/${name} (${result.code}): ${why}; retrying every ${EVICTION_RETRY_MS / 1000} s`);
        }
      }
      deps.later(tick, DRAIN_POLL_MS);
    };
    tick();
  }

  function launchReplacement(instanceId: string, state: Interruption, onReady?: () => void): void {
    if (state.replacement) return;
    const launched = deps.launchLike(instanceId, (nodeName) => {
      record('replacement-ready', nodeName, `${nodeName} Ready, the replacement of ${state.node} (${instanceId})`);
      onReady?.();
    });
    if (!launched) return;
    state.replacement = launched.nodeName;
    record('replacement-launched', state.node, `${launched.instanceId} (${launched.nodeName}) launched to replace ${state.node} (${instanceId})`);
  }

  const stateOf = (i: InterruptedInstance): Interruption => {
    let state = interruptions.get(i.instanceId);
    if (!state) interruptions.set(i.instanceId, (state = { node: i.nodeName, draining: false, done: false }));
    return state;
  };

  return {
    rebalance(i) {
      const state = stateOf(i);
      record('rebalance-recommendation', i.nodeName, `EC2 rebalance recommendation for ${i.instanceId} (${i.nodeName})`);
      if (kind === 'nth') cordon(i.nodeName);
      else if (kind === 'managed-nodegroup') {
        launchReplacement(i.instanceId, state, () => {
          if (state.done || state.draining) return;
          cordon(i.nodeName);
          drain(i.instanceId, state);
        });
      }
      // Karpenter records the recommendation and does nothing else.
    },
    notice(i, terminateAt) {
      const state = stateOf(i);
      record('spot-notice', i.nodeName, `EC2 spot interruption notice for ${i.instanceId} (${i.nodeName}): reclaimed at ${new Date(terminateAt).toISOString()}`);
      if (kind === 'nth') {
        // NTH's taint value is the interruption event's id.
        taint(i.nodeName, NTH_SPOT_TAINT, `spot-itn-${i.instanceId}`);
        cordon(i.nodeName);
      } else if (kind === 'karpenter') {
        launchReplacement(i.instanceId, state);
        taint(i.nodeName, KARPENTER_DISRUPTED_TAINT, undefined);
      } else {
        cordon(i.nodeName);
      }
      drain(i.instanceId, state);
    },
    terminated(i) {
      const state = interruptions.get(i.instanceId);
      if (!state) return;
      if (state.draining && !state.done) {
        const left = podsToDrain(state.node).map((p) => `${p.metadata.namespace}/${p.metadata.name}`);
        record('drain-incomplete', state.node, `${state.node}: ${left.length} pod(s) still on the node at the termination: ${left.join(', ')}`, 'Warning');
      }
      state.done = true;
      record('terminate-instance', state.node, `${i.instanceId} (${state.node}) terminated by EC2 at the end of the interruption`);
    },
  };
}
