/**
 * The kubelet twin: one logical kubelet per Node object, running the pods bound to it as real OS
 * processes on their own loopback addresses, with the pod lifecycle of a real kubelet. This file
 * dispatches store events to the parts: spec.ts (what the spec asks), processes.ts (start, restart),
 * probes.ts (readiness), termination.ts (preStop, SIGTERM, grace, SIGKILL), status.ts (what is
 * reported); `killNode` makes an instance vanish — processes SIGKILLed, addresses blackholed,
 * nothing reported.
 *
 * Store listeners never write synchronously (the store delivers events from inside its writes);
 * every event is handled on a microtask queue in order.
 */
import { rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Clock } from '../../../core/clock.ts';
import type { Random } from '../../../core/random.ts';
import type { ObjectStore } from '../../kube/store.ts';
import type { WatchEvent } from '../../kube/types.ts';
import type { Network } from '../../network.ts';
import { DEFAULT_LOG_LIMITS, type LogLimits, type LogRequest, type LogSource } from '../../runtime/logs.ts';
import type { AddressAllocator, ProcessSupervisor } from '../../runtime/types.ts';
import { cancelTimers, killProcesses, releaseAddresses, type KubeletContext, type PodRuntime } from './runtime.ts';
import { runHandler, runProbe } from './probes.ts';
import { openLog } from './logs.ts';
import { startPod } from './processes.ts';
import { removeVolumes } from './volumes.ts';
import { scheduleSync } from './status.ts';
import { beginTermination, updateGrace } from './termination.ts';

export { HOST_IP, TEST_APP_IMAGE, resolveContainerCommand, sleepSecondsOf } from './spec.ts';
export { PORT_ANNOTATION } from './status.ts';
export type { LogRequest } from '../../runtime/logs.ts';

/** What the kubelets need. */
export interface KubeletDeps {
  store: ObjectStore;
  clock: Clock;
  /** Accepted for symmetry with the other controllers; a kubelet's timing has no jitter. */
  random?: Random;
  supervisor: ProcessSupervisor;
  addresses: AddressAllocator;
  network: Network;
  /** Image → command (argv). Lookup tries the full image, then the image without tag or digest. */
  images: Record<string, string[]>;
  /** The project root: working directory of containers and hooks, and where fixtures/app is. */
  projectRoot: string;
  /** Where pods' configMap and emptyDir volumes go (default: a directory under the OS's temp dir, removed at stop). */
  volumesDir?: string;
  log?: (line: string) => void;
  /** Crash-loop back-off in model seconds (k8s: 10 s doubling to 300 s). */
  restartBackoff?: { initialSeconds: number; maxSeconds: number };
  /** What each container instance's log keeps (default DEFAULT_LOG_LIMITS). */
  logLimits?: Partial<LogLimits>;
  /** Image (without tag) → a check before its container starts; a message it returns fails the pod with it. */
  imageChecks?: Record<string, () => Promise<string | undefined>>;
  /**
   * The in-cluster env every container gets (KUBERNETES_SERVICE_HOST/PORT, the token file of the
   * pod's ServiceAccount, the CA file); read when a pod starts.
   */
  inClusterEnv?: (pod: { namespace: string; serviceAccountName: string }) => Record<string, string>;
}

/** The running kubelets. */
export interface Kubelets {
  /** Stops watches and timers, SIGKILLs every pod process and releases every address. */
  stop(): Promise<void>;
  /** The node's instance is gone: SIGKILL its pods' processes, blackhole their addresses, report nothing more. */
  killNode(nodeName: string): void;
  /** The log a `pods/log` request reads, or the kubelet's reason there is none (a 400). */
  openLog(req: LogRequest): LogSource | string;
}

let contexts = 0;

/** The context of a set of kubelets; `checks` replaces the real probes and hooks (for tests without network or exec). */
export function kubeletContext(deps: KubeletDeps, checks: Partial<Pick<KubeletContext, 'probe' | 'hook'>> = {}): KubeletContext {
  const ctx: KubeletContext = {
    store: deps.store,
    clock: deps.clock,
    supervisor: deps.supervisor,
    addresses: deps.addresses,
    network: deps.network,
    images: deps.images,
    projectRoot: deps.projectRoot,
    volumesDir: deps.volumesDir ?? path.join(os.tmpdir(), `rh-kubelet-volumes-${process.pid}-${++contexts}`),
    log: deps.log ?? (() => {}),
    backoff: deps.restartBackoff ?? { initialSeconds: 10, maxSeconds: 300 },
    logLimits: { ...DEFAULT_LOG_LIMITS, ...deps.logLimits },
    imageChecks: deps.imageChecks ?? {},
    inClusterEnv: deps.inClusterEnv ?? (() => ({})),
    probe: checks.probe ?? ((rt, c, plan) => runProbe(ctx, rt, c, plan)),
    hook: checks.hook ?? ((rt, c, hook, signal) => runHandler(ctx, rt, c, hook, signal)),
    pods: new Map(),
    stopped: false,
  };
  return ctx;
}

/** Starts one logical kubelet per Node in the store. */
export function startKubelets(deps: KubeletDeps): Kubelets {
  return runKubelets(kubeletContext(deps));
}

/** Starts the kubelets of a context: watches nodes and pods and runs the pods bound to known nodes. */
export function runKubelets(ctx: KubeletContext): Kubelets {
  const { store, network, pods, log } = ctx;
  const nodes = new Map<string, { killed: boolean }>();
  const podsOn = (nodeName: string) => [...pods.values()].filter((rt) => rt.nodeName === nodeName);

  function onRemoved(rt: PodRuntime): void {
    pods.delete(rt.uid);
    const prior = rt.state;
    const dropVolumes = () => void removeVolumes(ctx.volumesDir, rt.uid).catch(() => {});
    if (prior === 'finished') return dropVolumes();
    // Force-deleted (grace 0) or garbage-collected while running: nothing waits any longer.
    rt.state = prior === 'dead' ? 'dead' : 'finished';
    cancelTimers(rt);
    if (prior === 'starting') return; // launch() releases what it allocated.
    void killProcesses(rt).then(() => {
      releaseAddresses(ctx, rt);
      dropVolumes();
    });
  }

  function onPodEvent(event: WatchEvent): void {
    if (ctx.stopped) return;
    const pod = event.object;
    const uid = pod.metadata.uid;
    const nodeName: string | undefined = pod.spec?.nodeName;
    if (!uid || !nodeName) return;
    const rt = pods.get(uid);
    if (event.type === 'DELETED') {
      if (rt) onRemoved(rt);
      return;
    }
    if (event.type !== 'ADDED' && event.type !== 'MODIFIED') return;
    if (rt) {
      rt.pod = pod;
      // A completed pod deleted: nothing runs any longer, so it goes at once.
      if (rt.completed && pod.metadata.deletionTimestamp) {
        const current = store.get('pods', pod.metadata.namespace, pod.metadata.name);
        if (current?.metadata.uid === uid) store.remove('pods', pod.metadata.namespace, pod.metadata.name);
        return;
      }
      if (rt.state === 'running' && pod.metadata.deletionTimestamp) beginTermination(ctx, rt);
      // A second delete may shorten the grace period.
      else if (rt.state === 'terminating') updateGrace(ctx, rt, pod);
      // Conditions written by others (readiness gates) change Ready.
      if (rt.state === 'running' || rt.state === 'terminating') scheduleSync(ctx, rt);
      return;
    }
    const node = nodes.get(nodeName);
    if (!node || node.killed) return;
    if (pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') return;
    if (pod.metadata.deletionTimestamp) {
      // Deleted before it ever ran: nothing to stop.
      const current = store.get('pods', pod.metadata.namespace, pod.metadata.name);
      if (current?.metadata.uid === uid) store.remove('pods', pod.metadata.namespace, pod.metadata.name);
      return;
    }
    startPod(ctx, pod);
  }

  function addNode(name: string): void {
    if (nodes.has(name)) return;
    nodes.set(name, { killed: false });
    for (const pod of store.list('pods', { fieldSelector: `spec.nodeName=${name}` }).items) {
      onPodEvent({ type: 'ADDED', object: pod });
    }
  }

  // Handle store events in order on the microtask queue, never inside the store's own write.
  const inOrder = (fn: (event: WatchEvent) => void) => (event: WatchEvent) => queueMicrotask(() => fn(event));
  const unwatchNodes = store.watch(
    'nodes',
    {},
    inOrder((event) => {
      if (ctx.stopped) return;
      if (event.type === 'ADDED' || event.type === 'MODIFIED') addNode(event.object.metadata.name);
      else if (event.type === 'DELETED') nodes.delete(event.object.metadata.name);
    }),
  );
  const unwatchPods = store.watch('pods', {}, inOrder(onPodEvent));
  for (const node of store.list('nodes').items) addNode(node.metadata.name);

  return {
    openLog: (req) => openLog(ctx, req),
    killNode(nodeName) {
      const node = nodes.get(nodeName) ?? { killed: true };
      node.killed = true;
      nodes.set(nodeName, node);
      for (const rt of podsOn(nodeName)) {
        if (rt.state === 'finished' || rt.state === 'dead') continue;
        const wasStarting = rt.state === 'starting';
        rt.state = 'dead';
        cancelTimers(rt);
        if (wasStarting) continue;
        void killProcesses(rt);
        // Addresses stay allocated (and blackholed) until the pod object is gone. Pods that share
        // 127.0.0.1 (port mode) lose only their own ports, not the host every other pod is on.
        for (const a of rt.owned) network.blackhole(a.host, ctx.addresses.perPodAddresses ? undefined : a.port);
      }
      log(`kubelet ${nodeName}: instance gone, pods killed`);
    },
    async stop() {
      if (ctx.stopped) return;
      ctx.stopped = true;
      unwatchNodes();
      unwatchPods();
      const all = [...pods.values()];
      pods.clear();
      for (const rt of all) cancelTimers(rt);
      await Promise.all(all.map((rt) => killProcesses(rt)));
      for (const rt of all) releaseAddresses(ctx, rt);
      await rm(ctx.volumesDir, { recursive: true, force: true }).catch(() => {});
    },
  };
}
