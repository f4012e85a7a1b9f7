// Node lifecycle: the Node objects, the instances behind them, and what an instance termination
// does — with real pod processes and a scaled clock, and timing checks on a manual clock.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { EC2Client, RunInstancesCommand } from '@aws-sdk/client-ec2';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ManualClock, scaledClock, type Clock } from '../../../harness/core/clock.ts';
import { seededRandom } from '../../../harness/core/random.ts';
import { parseTwinConfig } from '../../../harness/twin/config.ts';
import { projectRoot } from '../../../harness/core/paths.ts';
import { startKubelets, type Kubelets } from '../../../harness/twin/controllers/kubelet.ts';
import { KUBELET_VERSION, startNodeLifecycle, type NodeLifecycle } from '../../../harness/twin/controllers/nodes.ts';
import { ObjectStore } from '../../../harness/twin/kube/store.ts';
import type { KubeObject, WatchEvent } from '../../../harness/twin/kube/types.ts';
import { Network } from '../../../harness/twin/network.ts';
import { createAddressAllocator } from '../../../harness/twin/runtime/addresses.ts';
import { createProcessSupervisor } from '../../../harness/twin/runtime/processes.ts';
import type { ProcessSupervisor } from '../../../harness/twin/runtime/types.ts';
import { startTwin } from '../../../harness/twin/twin.ts';
import { isAlive } from '../../helpers/processes.ts';

const nodesConfig = [
  { name: 'node-a1', zone: 'us-east-1a', instanceType: 'm5.large', lifecycle: 'on-demand' },
  { name: 'node-b2', zone: 'us-east-1b', instanceType: 'c5.xlarge', lifecycle: 'spot' },
];

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

function config(cluster: Record<string, unknown> = {}) {
  return parseTwinConfig({ cluster: { nodes: nodesConfig, nodeNotReadySeconds: 10, nodeLaunchSeconds: 20, ...cluster } });
}


function ready(obj: KubeObject | undefined): string | undefined {
  return obj?.status?.conditions?.find((c: { type: string }) => c.type === 'Ready')?.status;
}

function lifecycleOnManualClock(cluster: Record<string, unknown> = {}, seed = 7) {
  const clock = new ManualClock(Date.parse('2026-01-01T00:00:00Z'));
  const store = new ObjectStore(clock);
  const killed: string[] = [];
  const nodes = startNodeLifecycle({ store, clock, random: seededRandom(seed), config: config(cluster), kubelets: { killNode: (n) => void killed.push(n) } });
  cleanups.push(() => nodes.stop());
  return { clock, store, nodes, killed };
}

describe('node lifecycle: nodes and instances', () => {
  it('creates one Node per configured node, with EKS labels, a providerID and only a Hostname address', () => {
    const { store, nodes } = lifecycleOnManualClock();
    const list = store.list('nodes').items;
    expect(list.map((n) => n.metadata.name)).toEqual(['node-a1', 'node-b2']);
    const spot = store.get('nodes', undefined, 'node-b2')!;
    expect(spot.metadata.labels).toMatchObject({
      'kubernetes.io/hostname': 'node-b2',
      'topology.kubernetes.io/zone': 'us-east-1b',
      'node.kubernetes.io/instance-type': 'c5.xlarge',
      'eks.amazonaws.com/capacityType': 'SPOT',
    });
    expect(store.get('nodes', undefined, 'node-a1')!.metadata.labels?.['eks.amazonaws.com/capacityType']).toBe('ON_DEMAND');
    expect(Object.keys(spot.metadata.labels ?? {}).some((k) => k.startsWith('karpenter'))).toBe(false);
    expect(spot.spec.providerID).toMatch(/^aws:\/\/\/us-east-1b\/i-[0-9a-f]{17}$/);
    expect(ready(spot)).toBe('True');
    expect(spot.status.addresses).toEqual([{ type: 'Hostname', address: 'node-b2' }]);
    expect(spot.status.nodeInfo.kubeletVersion).toBe(KUBELET_VERSION);
    // No IPv4 address of any kind appears on a node.
    expect(JSON.stringify(list)).not.toMatch(/\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b/);

    const instances = nodes.instances();
    expect(instances).toHaveLength(2);
    expect(instances[1]).toMatchObject({ nodeName: 'node-b2', zone: 'us-east-1b', instanceType: 'c5.xlarge', lifecycle: 'spot', state: 'running' });
    expect(spot.spec.providerID.endsWith(instances[1].instanceId)).toBe(true);
    expect(instances[1].launchTime).toBeInstanceOf(Date);
  });

  it('draws instance ids from the seed: the same seed gives the same ids, another seed others', () => {
    const ids = (seed: number) => lifecycleOnManualClock({}, seed).nodes.instances().map((i) => i.instanceId);
    expect(ids(7)).toEqual(ids(7));
    expect(ids(7)).not.toEqual(ids(8));
    expect(new Set(ids(7)).size).toBe(2);
  });

  it('on termination: kills the kubelet at once, NotReady after nodeNotReadySeconds, then deletes the node and its pods', async () => {
    const { clock, store, nodes, killed } = lifecycleOnManualClock();
    store.create('namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default' } });
    store.create('pods', { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p1', namespace: 'default' }, spec: { nodeName: 'node-b2', containers: [] } });
    store.create('pods', { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p2', namespace: 'default' }, spec: { nodeName: 'node-a1', containers: [] } });
    const nodeEvents: WatchEvent[] = [];
    const podEvents: WatchEvent[] = [];
    store.watch('nodes', {}, (e) => nodeEvents.push(e));
    store.watch('pods', {}, (e) => podEvents.push(e));
    const id = nodes.instances().find((i) => i.nodeName === 'node-b2')!.instanceId;

    expect(nodes.instanceTerminated(id)).toBe(true);
    expect(killed).toEqual(['node-b2']);
    expect(nodes.instances().find((i) => i.instanceId === id)?.state).toBe('terminated');
    expect(nodes.instanceTerminated(id)).toBe(false);
    expect(nodes.instanceTerminated('i-00000000000000000')).toBe(false);

    await clock.advance(9_999);
    expect(ready(store.get('nodes', undefined, 'node-b2'))).toBe('True');
    await clock.advance(1);
    const notReady = nodeEvents.find((e) => e.type === 'MODIFIED')!.object;
    expect(notReady.status.conditions.find((c: { type: string }) => c.type === 'Ready')).toMatchObject({ status: 'Unknown', reason: 'NodeStatusUnknown' });
    expect(notReady.spec.taints.map((t: { key: string; effect: string }) => `${t.key}:${t.effect}`)).toEqual([
      'node.kubernetes.io/unreachable:NoSchedule',
      'node.kubernetes.io/unreachable:NoExecute',
    ]);
    expect(nodeEvents.at(-1)).toMatchObject({ type: 'DELETED', object: { metadata: { name: 'node-b2' } } });
    expect(store.get('nodes', undefined, 'node-b2')).toBeUndefined();
    // The pod is marked not ready, then garbage-collected; the pod on the other node stays.
    const p1 = podEvents.filter((e) => e.object.metadata.name === 'p1');
    expect(p1.map((e) => e.type)).toEqual(['MODIFIED', 'DELETED']);
    expect(store.get('pods', 'default', 'p1')).toBeUndefined();
    expect(store.get('pods', 'default', 'p2')).toBeDefined();

    // The replacement joins nodeLaunchSeconds after the termination, same zone and lifecycle.
    await clock.advance(9_999);
    expect(store.get('nodes', undefined, 'node-b2-r1')).toBeUndefined();
    await clock.advance(1);
    const replacement = store.get('nodes', undefined, 'node-b2-r1')!;
    expect(ready(replacement)).toBe('True');
    expect(replacement.metadata.labels).toMatchObject({ 'topology.kubernetes.io/zone': 'us-east-1b', 'eks.amazonaws.com/capacityType': 'SPOT' });
    const newInstance = nodes.instances().find((i) => i.nodeName === 'node-b2-r1')!;
    expect(newInstance).toMatchObject({ state: 'running', zone: 'us-east-1b', lifecycle: 'spot', instanceType: 'c5.xlarge' });
    expect(newInstance.instanceId).not.toBe(id);
    expect(replacement.spec.providerID).toBe(`aws:///us-east-1b/${newInstance.instanceId}`);
    // A replacement's replacement keeps the base name.
    nodes.instanceTerminated(newInstance.instanceId);
    await clock.advance(20_000);
    expect(store.get('nodes', undefined, 'node-b2-r2')).toBeDefined();
  });

  it('does not replace a node when replaceTerminatedNodes is false, and stop() cancels what is pending', async () => {
    const { clock, store, nodes } = lifecycleOnManualClock({ replaceTerminatedNodes: false });
    nodes.instanceTerminated(nodes.instances()[0].instanceId);
    await clock.advance(60_000);
    expect(store.list('nodes').items.map((n) => n.metadata.name)).toEqual(['node-b2']);

    const second = lifecycleOnManualClock();
    second.nodes.instanceTerminated(second.nodes.instances()[0].instanceId);
    second.nodes.stop();
    await second.clock.advance(60_000);
    expect(second.store.list('nodes').items.map((n) => n.metadata.name)).toEqual(['node-a1', 'node-b2']);
  });
});

describe('node lifecycle with real pods', () => {
  async function twin(): Promise<{ clock: Clock; store: ObjectStore; network: Network; kubelets: Kubelets; nodes: NodeLifecycle; supervisor: ProcessSupervisor }> {
    const clock = scaledClock(0.02);
    const store = new ObjectStore(clock);
    store.create('namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default' } });
    const supervisor = createProcessSupervisor();
    const network = new Network();
    const kubelets = startKubelets({ store, clock, supervisor, network, addresses: await createAddressAllocator(), images: {}, projectRoot });
    const nodes = startNodeLifecycle({ store, clock, random: seededRandom(3), config: config(), kubelets });
    cleanups.push(async () => {
      nodes.stop();
      await kubelets.stop();
      await supervisor.killAll();
    });
    return { clock, store, network, kubelets, nodes, supervisor };
  }

  function appPod(name: string, nodeName: string): KubeObject {
    return {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace: 'default' },
      spec: { nodeName, containers: [{ name: 'app', image: 'rollout-harness/test-app', ports: [{ containerPort: 8080 }] }] },
    };
  }

  const pidOf = (p: KubeObject | undefined) => Number(String(p?.status?.containerStatuses?.[0]?.containerID ?? '').replace('twin://', ''));

  it('an instance termination kills its pods at once, then the node goes NotReady, its pods go, and a replacement runs new pods', async () => {
    const { clock, store, network, nodes } = await twin();
    store.create('pods', appPod('spot-1', 'node-b2'));
    store.create('pods', appPod('od-1', 'node-a1'));
    const running = (name: string) => {
      const p = store.get('pods', 'default', name);
      return ready(p) === 'True' && pidOf(p) > 0 ? p : undefined;
    };
    const spot = await vi.waitFor(() => running('spot-1') ?? Promise.reject(new Error('not running')), { timeout: 15_000 });
    const od = await vi.waitFor(() => running('od-1') ?? Promise.reject(new Error('not running')), { timeout: 15_000 });
    const nodeEvents: WatchEvent[] = [];
    store.watch('nodes', {}, (e) => nodeEvents.push(e));

    const terminatedAt = clock.now();
    nodes.instanceTerminated(nodes.instances().find((i) => i.nodeName === 'node-b2')!.instanceId);
    // At once: the pod's address goes dark and its process is killed, while the node is still Ready
    // (checked in the same tick: at this time scale a busy machine's pause is many model seconds).
    expect(network.isBlackholed(spot!.status.podIP)).toBe(true);
    expect(ready(store.get('nodes', undefined, 'node-b2'))).toBe('True');
    await vi.waitFor(() => expect(isAlive(pidOf(spot))).toBe(false), { timeout: 5_000 });

    await vi.waitFor(() => expect(store.get('pods', 'default', 'spot-1')).toBeUndefined(), { timeout: 10_000 });
    const notReadyEvent = nodeEvents.find((e) => e.type === 'MODIFIED' && ready(e.object) === 'Unknown');
    expect(notReadyEvent).toBeDefined();
    expect(clock.now() - terminatedAt).toBeGreaterThanOrEqual(9_500);
    expect(store.get('nodes', undefined, 'node-b2')).toBeUndefined();
    // The other node's pod keeps running.
    expect(isAlive(pidOf(od))).toBe(true);

    await vi.waitFor(() => expect(store.get('nodes', undefined, 'node-b2-r1')).toBeDefined(), { timeout: 10_000 });
    store.create('pods', appPod('spot-2', 'node-b2-r1'));
    const fresh = await vi.waitFor(() => running('spot-2') ?? Promise.reject(new Error('not running')), { timeout: 15_000 });
    expect(isAlive(pidOf(fresh))).toBe(true);
    expect(fresh!.status.podIP).toMatch(/^127\./);
  });
});

describe('the twin wires RunInstances to its node lifecycle', () => {
  it('a managed node group world: its nodes carry their group, and an SDK RunInstances joins as that group\'s node', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'rh-spot-handler-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const config = parseTwinConfig({ timeScale: 0.01, cluster: { spotHandler: 'managed-nodegroup', nodeLaunchSeconds: 5 } });
    const twin = await startTwin({ config, stateDir: dir });
    cleanups.push(() => twin.stop());
    expect(twin.store.get('nodes', undefined, 'node-b2')!.metadata.labels?.['eks.amazonaws.com/nodegroup']).toBe('ng-spot');
    const client = new EC2Client({ endpoint: twin.endpoints.awsApiUrl, region: twin.endpoints.region, credentials: { accessKeyId: 'twin', secretAccessKey: 'twin' }, maxAttempts: 1 });
    cleanups.push(() => client.destroy());
    const out = await client.send(
      new RunInstancesCommand({
        InstanceType: 'm5.large',
        Placement: { AvailabilityZone: 'us-east-1b' },
        InstanceMarketOptions: { MarketType: 'spot' },
        MinCount: 1,
        MaxCount: 1,
        TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'eks:nodegroup-name', Value: 'ng-spot' }] }],
      }),
    );
    const name = out.Instances![0].PrivateDnsName!;
    expect(name).toMatch(/^ng-spot-[a-z0-9]{5}$/);
    // 5 model s = 50 real ms; bounded at 30 model s.
    for (let i = 0; i < 30 && !twin.store.get('nodes', undefined, name); i++) await twin.clock.sleep(1000);
    expect(twin.store.get('nodes', undefined, name)?.metadata.labels).toMatchObject({ 'eks.amazonaws.com/nodegroup': 'ng-spot', 'eks.amazonaws.com/capacityType': 'SPOT' });
  });
});
