/**
 * Node lifecycle and the node group: creates the cluster's Node objects (each backed by a
 * modelled EC2 instance), and plays what happens when an instance is terminated — the kubelet
 * goes silent at once, the node controller marks the node NotReady after the monitor grace
 * period, the cloud node controller deletes the Node, pod garbage collection removes its pods,
 * and the node group launches a replacement.
 */
import type { Clock, Timer } from '../../core/clock.ts';
import type { Random } from '../../core/random.ts';
import type { NodeConfig, TwinConfig } from '../config.ts';
import { ApiError, timestamp, type ObjectStore } from '../kube/store.ts';
import type { KubeObject } from '../kube/types.ts';

/** The kubelet version every twin node reports. */
export const KUBELET_VERSION = 'v1.31.0-twin';

/** A modelled EC2 instance behind a node, as the EC2 twin describes it. */
export interface InstanceInfo {
  instanceId: string;
  nodeName: string;
  zone: string;
  instanceType: string;
  lifecycle: 'on-demand' | 'spot';
  state: 'running' | 'shutting-down' | 'terminated';
  launchTime: Date;
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
export function nodeObject(node: NodeConfig, instanceId: string, region: string, now: string): KubeObject {
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

/** Creates the configured nodes and starts watching over their instances. */
export function startNodeLifecycle(deps: NodeLifecycleDeps): NodeLifecycle {
  const { store, clock, config } = deps;
  const log = deps.log ?? (() => {});
  const random = deps.random.fork('instances');
  const cluster = config.cluster;
  const instances = new Map<string, InstanceInfo>();
  const timers = new Set<Timer>();
  const replacements = new Map<string, number>();
  let stopped = false;

  function later(fn: () => void, ms: number): void {
    const timer = clock.setTimeout(() => {
      timers.delete(timer);
      if (!stopped) fn();
    }, ms);
    timers.add(timer);
  }

  function launch(node: NodeConfig): void {
    const instanceId = instanceIdFrom(random);
    const at = clock.now();
    try {
      store.create('nodes', nodeObject(node, instanceId, config.region, timestamp(at)));
    } catch (error) {
      if (!(error instanceof ApiError && error.reason === 'AlreadyExists')) throw error;
      log(`nodes: node ${node.name} already exists; left as it is`);
      return;
    }
    instances.set(instanceId, {
      instanceId,
      nodeName: node.name,
      zone: node.zone,
      instanceType: node.instanceType,
      lifecycle: node.lifecycle,
      state: 'running',
      launchTime: new Date(at),
    });
    log(`nodes: ${node.name} (${instanceId}, ${node.zone}, ${node.lifecycle}) joined`);
  }

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

  for (const node of cluster.nodes) launch(node);

  return {
    instances: () => [...instances.values()].map((i) => ({ ...i, launchTime: new Date(i.launchTime) })),
    instanceTerminated(instanceId) {
      const instance = instances.get(instanceId);
      if (!instance || instance.state !== 'running') return false;
      instance.state = 'terminated';
      log(`nodes: instance ${instanceId} (${instance.nodeName}) terminated`);
      deps.kubelets.killNode(instance.nodeName);
      later(() => markNotReady(instance.nodeName), cluster.nodeNotReadySeconds * 1000);
      if (cluster.replaceTerminatedNodes) {
        later(
          () =>
            launch({
              name: replacementName(instance.nodeName),
              zone: instance.zone,
              instanceType: instance.instanceType,
              lifecycle: instance.lifecycle,
            }),
          cluster.nodeLaunchSeconds * 1000,
        );
      }
      return true;
    },
    stop() {
      stopped = true;
      for (const timer of timers) timer.cancel();
      timers.clear();
    },
  };
}
