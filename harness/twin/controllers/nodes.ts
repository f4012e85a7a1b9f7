/**
 * Node lifecycle and the node group: creates the cluster's Node objects (each backed by a
 * modelled EC2 instance), and plays what happens when an instance is terminated — the kubelet
 * goes silent at once, the node controller marks the node NotReady after the monitor grace
 * period, the cloud node controller deletes the Node, pod garbage collection removes its pods,
 * and the node group launches a replacement. Also EC2's side of a spot interruption (the
 * rebalance recommendation, the notice, the end) with the cluster's own handler reacting
 * (spot-handler.ts), and instances launched through the EC2 API (RunInstances).
 */
import type { Clock, Timer } from '../../core/clock.ts';
import { randomChars, type Random } from '../../core/random.ts';
import type { NodeConfig, SpotHandlerKind, TwinConfig } from '../config.ts';
import { ApiError, timestamp, type ObjectStore } from '../kube/store.ts';
import type { KubeObject } from '../kube/types.ts';
import { createSpotHandler, SPOT_NOTICE_MS, type SpotHandler } from './spot-handler.ts';

/** The kubelet version every twin node reports. */
export const KUBELET_VERSION = 'v1.31.0-twin';

/** A modelled EC2 instance behind a node, as the EC2 twin describes it. */
export interface InstanceInfo {
  instanceId: string;
  nodeName: string;
  zone: string;
  instanceType: string;
  lifecycle: 'on-demand' | 'spot';
  /** pending: launched through RunInstances or by a handler, its Node not joined yet. */
  state: 'pending' | 'running' | 'shutting-down' | 'terminated';
  launchTime: Date;
  /** EC2 tags: the Karpenter NodePool or the managed node group the instance belongs to. */
  tags: Record<string, string>;
}

/** The tag by which Karpenter's instances name their NodePool. */
export const KARPENTER_POOL_TAG = 'karpenter.sh/nodepool';
/** The tag by which a managed node group's instances name their group. */
export const NODEGROUP_TAG = 'eks:nodegroup-name';

/** Whose node an instance is: a Karpenter NodePool's, a managed node group's, or neither (self-managed, with NTH). */
export type Membership = { kind: 'karpenter' | 'managed-nodegroup'; group: string } | { kind: 'self-managed' };

/** The Node labels of a member: `karpenter.sh/nodepool` + `karpenter.sh/capacity-type`, or `eks.amazonaws.com/nodegroup`. */
export function membershipLabels(m: Membership, lifecycle: 'on-demand' | 'spot'): Record<string, string> {
  if (m.kind === 'karpenter') return { [KARPENTER_POOL_TAG]: m.group, 'karpenter.sh/capacity-type': lifecycle };
  if (m.kind === 'managed-nodegroup') return { 'eks.amazonaws.com/nodegroup': m.group };
  return {};
}

/** The EC2 tags of a member's instance. */
export function membershipTags(m: Membership): Record<string, string> {
  if (m.kind === 'karpenter') return { [KARPENTER_POOL_TAG]: m.group };
  if (m.kind === 'managed-nodegroup') return { [NODEGROUP_TAG]: m.group };
  return {};
}

/** A configured node's membership under the world's spot handler (its `group`, or the handler's default name). */
export function configuredMembership(handler: SpotHandlerKind, node: NodeConfig): Membership {
  if (handler === 'karpenter') return { kind: 'karpenter', group: node.group ?? 'default' };
  if (handler === 'managed-nodegroup') return { kind: 'managed-nodegroup', group: node.group ?? (node.lifecycle === 'spot' ? 'ng-spot' : 'ng-on-demand') };
  return { kind: 'self-managed' };
}

/** An instance asked for through the EC2 API's RunInstances (already validated). */
export interface LaunchRequest {
  instanceType: string;
  zone: string;
  lifecycle: 'on-demand' | 'spot';
  tags: Record<string, string>;
  /** RunInstances' idempotency token: the same token gives the same instance. */
  clientToken?: string;
}

/** What the node lifecycle needs. */
export interface NodeLifecycleDeps {
  store: ObjectStore;
  clock: Clock;
  random: Random;
  config: TwinConfig;
  kubelets: { killNode(nodeName: string): void };
  log?: (line: string) => void;
}

/** The running node lifecycle. */
export interface NodeLifecycle {
  /** Every instance ever launched (terminated ones included, as EC2 lists them for a while). */
  instances(): InstanceInfo[];
  /** The EC2 twin's TerminateInstances: false when the instance is unknown or already terminated. */
  instanceTerminated(instanceId: string): boolean;
  /**
   * The EC2 twin's RunInstances: a pending instance whose Node joins after nodeLaunchSeconds, as
   * its tags say (`karpenter.sh/nodepool` → a Karpenter node `<pool>-<5 alnum>`, `eks:nodegroup-name`
   * → a managed node group's node `<group>-<5 alnum>`, neither → `node-<5 alnum>`).
   */
  launchInstance(request: LaunchRequest): InstanceInfo;
  /** An AWS FIS aws:ec2:send-spot-instance-interruptions on `instanceId`: a rebalance recommendation at once when
   *  durationMs > 120_000, the interruption notice at (end − 120 s) (or at once when durationMs ≤ 120_000), the
   *  instance terminated at the end; the cluster's handler (cluster.spotHandler) reacts. False when the instance is
   *  unknown, not spot, or not running (or already being interrupted). */
  spotInterruption(instanceId: string, durationMs: number): boolean;
  /** Cancels pending timers (NotReady, deletion, replacements). */
  stop(): void;
}

/** An EC2-style instance id: `i-` and 17 hex characters drawn from `random`. */
export function instanceIdFrom(random: Random): string {
  let id = 'i-';
  for (let i = 0; i < 17; i++) id += random.int(0, 15).toString(16);
  return id;
}

/** The Node object for an instance. Only a Hostname address: no non-loopback IP appears anywhere. */
export function nodeObject(node: NodeConfig, instanceId: string, region: string, now: string, labels: Record<string, string> = {}): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: node.name,
      labels: {
        'kubernetes.io/hostname': node.name,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        'topology.kubernetes.io/region': region,
        'topology.kubernetes.io/zone': node.zone,
        'node.kubernetes.io/instance-type': node.instanceType,
        'eks.amazonaws.com/capacityType': node.lifecycle === 'spot' ? 'SPOT' : 'ON_DEMAND',
        ...labels,
      },
    },
    spec: { providerID: `aws:///${node.zone}/${instanceId}` },
    status: {
      conditions: [
        { type: 'MemoryPressure', status: 'False', reason: 'KubeletHasSufficientMemory', lastHeartbeatTime: now, lastTransitionTime: now },
        { type: 'DiskPressure', status: 'False', reason: 'KubeletHasNoDiskPressure', lastHeartbeatTime: now, lastTransitionTime: now },
        { type: 'PIDPressure', status: 'False', reason: 'KubeletHasSufficientPID', lastHeartbeatTime: now, lastTransitionTime: now },
        { type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status', lastHeartbeatTime: now, lastTransitionTime: now },
      ],
      addresses: [{ type: 'Hostname', address: node.name }],
      capacity: { cpu: '2', memory: '8Gi', pods: '110' },
      allocatable: { cpu: '1930m', memory: '7Gi', pods: '110' },
      nodeInfo: {
        kubeletVersion: KUBELET_VERSION,
        kubeProxyVersion: KUBELET_VERSION,
        containerRuntimeVersion: 'twin://1',
        operatingSystem: 'linux',
        architecture: 'amd64',
        osImage: 'rollout-harness twin',
        kernelVersion: 'twin',
        machineID: instanceId,
        systemUUID: instanceId,
        bootID: instanceId,
      },
    },
  };
}

/** One instance as the lifecycle keeps it. */
interface Instance extends InstanceInfo {
  membership: Membership;
  /** A spot interruption is under way. */
  interrupted?: boolean;
}

/** A copy of what EC2 shows of an instance. */
function info(i: Instance): InstanceInfo {
  return { instanceId: i.instanceId, nodeName: i.nodeName, zone: i.zone, instanceType: i.instanceType, lifecycle: i.lifecycle, state: i.state, launchTime: new Date(i.launchTime), tags: { ...i.tags } };
}

/** Creates the configured nodes and starts watching over their instances. */
export function startNodeLifecycle(deps: NodeLifecycleDeps): NodeLifecycle {
  const { store, clock, config } = deps;
  const log = deps.log ?? (() => {});
  const random = deps.random.fork('instances');
  // Its own stream: names drawn for launched nodes leave the instance ids of today's worlds as they were.
  const names = deps.random.fork('node-names');
  const cluster = config.cluster;
  const instances = new Map<string, Instance>();
  const byToken = new Map<string, string>();
  const timers = new Set<Timer>();
  const replacements = new Map<string, number>();
  // A managed node group's Auto Scaling group keeps its configured size.
  const groupSize = new Map<string, number>();
  let stopped = false;

  function later(fn: () => void, ms: number): void {
    const timer = clock.setTimeout(() => {
      timers.delete(timer);
      if (!stopped) fn();
    }, ms);
    timers.add(timer);
  }

  /** Creates the Node of an instance; false when a Node of that name exists already. */
  function join(instance: Instance): boolean {
    const node: NodeConfig = { name: instance.nodeName, zone: instance.zone, instanceType: instance.instanceType, lifecycle: instance.lifecycle };
    try {
      store.create('nodes', nodeObject(node, instance.instanceId, config.region, timestamp(clock.now()), membershipLabels(instance.membership, instance.lifecycle)));
    } catch (error) {
      if (!(error instanceof ApiError && error.reason === 'AlreadyExists')) throw error;
      log(`nodes: node ${instance.nodeName} already exists; left as it is`);
      return false;
    }
    instance.state = 'running';
    log(`nodes: ${instance.nodeName} (${instance.instanceId}, ${instance.zone}, ${instance.lifecycle}) joined`);
    return true;
  }

  function record(node: Omit<NodeConfig, 'group'>, membership: Membership, state: Instance['state'], tags: Record<string, string> = {}): Instance {
    const instance: Instance = {
      instanceId: instanceIdFrom(random),
      nodeName: node.name,
      zone: node.zone,
      instanceType: node.instanceType,
      lifecycle: node.lifecycle,
      state,
      launchTime: new Date(clock.now()),
      tags: { ...tags, ...membershipTags(membership) },
      membership,
    };
    instances.set(instance.instanceId, instance);
    return instance;
  }

  function launch(node: Omit<NodeConfig, 'group'>, membership: Membership): void {
    if (store.get('nodes', undefined, node.name)) {
      log(`nodes: node ${node.name} already exists; left as it is`);
      return;
    }
    join(record(node, membership, 'running'));
  }

  /** A pending instance whose Node joins after nodeLaunchSeconds; `onReady` then gets its name. */
  function launchPending(node: Omit<NodeConfig, 'group'>, membership: Membership, tags: Record<string, string>, onReady?: (nodeName: string) => void): Instance {
    const instance = record(node, membership, 'pending', tags);
    log(`nodes: ${instance.instanceId} (${node.name}, ${node.zone}, ${node.lifecycle}) pending`);
    later(() => {
      if (instance.state !== 'pending') return;
      if (join(instance)) onReady?.(instance.nodeName);
      // Its name was taken meanwhile: the instance never becomes a node.
      else instance.state = 'terminated';
    }, cluster.nodeLaunchSeconds * 1000);
    return instance;
  }

  /** A name like Karpenter's: `<prefix>-` and 5 lowercase letters or digits, not taken yet. */
  function generatedName(prefix: string): string {
    for (;;) {
      const candidate = `${prefix}-${randomChars(names, 5)}`;
      if (!store.get('nodes', undefined, candidate) && ![...instances.values()].some((i) => i.nodeName === candidate)) return candidate;
    }
  }

  const nameFor = (m: Membership) => generatedName(m.kind === 'self-managed' ? 'node' : m.group);

  /** A new name for the replacement of `name`: the base name with `-r<n>`. */
  function replacementName(name: string): string {
    const base = name.replace(/-r\d+$/, '');
    for (;;) {
      const n = (replacements.get(base) ?? 0) + 1;
      replacements.set(base, n);
      const candidate = `${base}-r${n}`;
      if (!store.get('nodes', undefined, candidate)) return candidate;
    }
  }

  /** Whether the Auto Scaling group behind a terminated instance launches a replacement. */
  function groupReplaces(instance: Instance): boolean {
    if (!cluster.replaceTerminatedNodes) return false;
    const m = instance.membership;
    // Karpenter is not an Auto Scaling group: its emulation launched the replacement already.
    if (m.kind === 'karpenter') return false;
    if (m.kind === 'self-managed') return true;
    // Capacity rebalancing may have launched the replacement first: the group is then at its size.
    const live = [...instances.values()].filter(
      (i) => i.membership.kind === 'managed-nodegroup' && i.membership.group === m.group && (i.state === 'pending' || i.state === 'running'),
    ).length;
    return live < (groupSize.get(m.group) ?? 0);
  }

  function markNotReady(nodeName: string): void {
    const at = timestamp(clock.now());
    store.modify('nodes', undefined, nodeName, (node) => {
      node.status = {
        ...node.status,
        conditions: (node.status?.conditions ?? []).map((c: { type: string }) => ({
          ...c,
          status: 'Unknown',
          reason: 'NodeStatusUnknown',
          message: 'Kubelet stopped posting node status.',
          lastTransitionTime: at,
        })),
      };
      const taints = (node.spec?.taints ?? []).filter((t: { key: string }) => t.key !== 'node.kubernetes.io/unreachable');
      node.spec = {
        ...node.spec,
        taints: [
          ...taints,
          { key: 'node.kubernetes.io/unreachable', effect: 'NoSchedule', timeAdded: at },
          { key: 'node.kubernetes.io/unreachable', effect: 'NoExecute', timeAdded: at },
        ],
      };
    });
    const bound = store.list('pods', { fieldSelector: `spec.nodeName=${nodeName}` }).items;
    // The node lifecycle controller marks the pods of an unreachable node not ready.
    for (const pod of bound) {
      store.modify('pods', pod.metadata.namespace, pod.metadata.name, (p) => {
        // eslint-disable-next-line @typescript-eslint/no-explicit-any
        const conditions = (p.status?.conditions ?? []).map((c: any) =>
          c.type === 'Ready' && c.status !== 'False' ? { ...c, status: 'False', reason: 'NodeNotReady', lastTransitionTime: at } : c,
        );
        p.status = { ...p.status, conditions };
      });
    }
    log(`nodes: ${nodeName} NotReady (NodeStatusUnknown)`);
    // The cloud node controller deletes a NotReady node whose instance is gone; pod GC then
    // removes the pods bound to a node that no longer exists.
    store.remove('nodes', undefined, nodeName);
    for (const pod of bound) {
      const current = store.get('pods', pod.metadata.namespace, pod.metadata.name);
      if (current?.metadata.uid === pod.metadata.uid) store.remove('pods', pod.metadata.namespace, pod.metadata.name);
    }
    log(`nodes: ${nodeName} deleted, ${bound.length} pod(s) garbage-collected`);
  }

  for (const node of cluster.nodes) {
    const membership = configuredMembership(node.handler ?? cluster.spotHandler, node);
    if (membership.kind === 'managed-nodegroup') groupSize.set(membership.group, (groupSize.get(membership.group) ?? 0) + 1);
    launch(node, membership);
  }

  const launchLike = (instanceId: string, onReady?: (nodeName: string) => void) => {
    const like = instances.get(instanceId);
    if (!like) return undefined;
    const node = { name: nameFor(like.membership), zone: like.zone, instanceType: like.instanceType, lifecycle: like.lifecycle };
    const launched = launchPending(node, like.membership, {}, onReady);
    return { instanceId: launched.instanceId, nodeName: launched.nodeName };
  };
  // The handler that manages a node reacts to its interruption: Karpenter for its NodePools' nodes, the
  // managed node group for its own, aws-node-termination-handler for self-managed ones. One each, made when first needed.
  const handlers = new Map<SpotHandlerKind, SpotHandler>();
  const handlerOf = (instance: Instance): SpotHandler => {
    const kind: SpotHandlerKind = instance.membership.kind === 'self-managed' ? 'nth' : instance.membership.kind;
    let handler = handlers.get(kind);
    if (!handler) handlers.set(kind, (handler = createSpotHandler({ kind, store, clock, later, log, launchLike })));
    return handler;
  };

  function terminate(instance: Instance): void {
    const wasPending = instance.state === 'pending';
    instance.state = 'terminated';
    log(`nodes: instance ${instance.instanceId} (${instance.nodeName}) terminated${wasPending ? ' before its node joined' : ''}`);
    if (wasPending) return;
    deps.kubelets.killNode(instance.nodeName);
    if (instance.interrupted) handlerOf(instance).terminated(instance);
    later(() => markNotReady(instance.nodeName), cluster.nodeNotReadySeconds * 1000);
    if (groupReplaces(instance)) {
      const membership = instance.membership;
      const node = { name: replacementName(instance.nodeName), zone: instance.zone, instanceType: instance.instanceType, lifecycle: instance.lifecycle };
      later(() => launch(node, membership), cluster.nodeLaunchSeconds * 1000);
    }
  }

  return {
    instances: () => [...instances.values()].map(info),
    instanceTerminated(instanceId) {
      const instance = instances.get(instanceId);
      if (!instance || (instance.state !== 'running' && instance.state !== 'pending')) return false;
      terminate(instance);
      return true;
    },
    launchInstance(request) {
      const known = request.clientToken ? instances.get(byToken.get(request.clientToken) ?? '') : undefined;
      if (known) return info(known);
      const pool = request.tags[KARPENTER_POOL_TAG];
      const group = request.tags[NODEGROUP_TAG];
      const membership: Membership = pool ? { kind: 'karpenter', group: pool } : group ? { kind: 'managed-nodegroup', group } : { kind: 'self-managed' };
      const node = { name: nameFor(membership), zone: request.zone, instanceType: request.instanceType, lifecycle: request.lifecycle };
      const instance = launchPending(node, membership, request.tags);
      if (request.clientToken) byToken.set(request.clientToken, instance.instanceId);
      return info(instance);
    },
    spotInterruption(instanceId, durationMs) {
      const instance = instances.get(instanceId);
      if (!instance || instance.lifecycle !== 'spot' || instance.state !== 'running' || instance.interrupted) return false;
      instance.interrupted = true;
      const at = { instanceId, nodeName: instance.nodeName };
      const end = clock.now() + durationMs;
      log(`nodes: spot interruption of ${instanceId} (${instance.nodeName}), reclaimed in ${durationMs / 1000} s`);
      // EC2 sends the rebalance recommendation first when there is time for it (FIS: durations over PT2M).
      const handler = handlerOf(instance);
      if (durationMs > SPOT_NOTICE_MS) handler.rebalance(at);
      const noticeIn = Math.max(0, durationMs - SPOT_NOTICE_MS);
      if (noticeIn === 0) handler.notice(at, end);
      else later(() => instance.state === 'running' && handler.notice(at, end), noticeIn);
      later(() => {
        if (instance.state === 'running') terminate(instance);
      }, durationMs);
      return true;
    },
    stop() {
      stopped = true;
      for (const timer of timers) timer.cancel();
      timers.clear();
    },
  };
}
