/**
 * Kubelets on a ManualClock with no real process, address or network: a fake supervisor whose
 * processes record the signals they get (and when) and exit as told, and a fake address allocator.
 */
import type { ManualClock } from '../../../../../harness/core/clock.ts';
import { kubeletContext, runKubelets, type KubeletDeps } from '../../../../../harness/twin/controllers/kubelet/index.ts';
import type { KubeletContext } from '../../../../../harness/twin/controllers/kubelet/runtime.ts';
import type { ObjectStore } from '../../../../../harness/twin/kube/store.ts';
import type { KubeObject } from '../../../../../harness/twin/kube/types.ts';
import { Network } from '../../../../../harness/twin/network.ts';
import type { AddressAllocator, ContainerProcess, PodAddress, ProcessExit, ProcessSupervisor } from '../../../../../harness/twin/runtime/types.ts';
import { makeStore } from '../helpers.ts';

/** What a fake process does on SIGTERM: exit at once, or carry on until SIGKILL. */
export type OnSigterm = 'exit' | 'ignore';

/** A container process that only records: its signals with their model times, and how it ended. */
export interface FakeProcess extends ContainerProcess {
  readonly name: string;
  /** The env it was started with. */
  readonly env: Record<string, string>;
  /** The argv it was started with. */
  readonly command: string[];
  readonly signals: Array<{ signal: NodeJS.Signals; at: number }>;
  /** Ends the process as if it exited on its own. */
  exit(code: number): void;
  /** Writes a line as the process would (to the kubelet's `onLine`). */
  write(text: string, stream?: 'stdout' | 'stderr'): void;
}

/** A supervisor that hands out FakeProcesses. */
export function fakeSupervisor(clock: ManualClock, onSigterm: OnSigterm = 'exit') {
  const spawned: FakeProcess[] = [];
  let nextPid = 1000;
  const supervisor: ProcessSupervisor = {
    spawn(spec) {
      let running = true;
      let resolveExit = (_: ProcessExit) => {};
      const exited = new Promise<ProcessExit>((resolve) => (resolveExit = resolve));
      const end = (exit: ProcessExit) => {
        if (!running) return;
        running = false;
        resolveExit(exit);
      };
      const signals: FakeProcess['signals'] = [];
      const proc: FakeProcess = {
        name: spec.name,
        env: spec.env,
        command: spec.command,
        pid: nextPid++,
        exited,
        get running() {
          return running;
        },
        signals,
        signal(sig) {
          if (!running) return;
          signals.push({ signal: sig, at: clock.now() });
          if (sig === 'SIGKILL' || onSigterm === 'exit') end({ code: null, signal: sig });
        },
        exit: (code) => end({ code, signal: null }),
        write: (text, stream = 'stdout') => spec.onLine?.(text, stream),
        tail: () => [],
      };
      spawned.push(proc);
      return proc;
    },
    pids: () => spawned.filter((p) => p.running).map((p) => p.pid),
    killAll: async () => {
      for (const p of spawned) p.signal('SIGKILL');
    },
  };
  return { supervisor, spawned };
}

/** An allocator of 127.0.1.x addresses that records releases. */
export function fakeAddresses() {
  let next = 1;
  const released: PodAddress[] = [];
  const allocator: AddressAllocator = {
    perPodAddresses: true,
    allocate: async (port) => ({ host: `127.0.1.${next++}`, port }),
    release: (a) => void released.push(a),
    close: async () => {},
  };
  return { allocator, released };
}

/** Options of a fake-kubelet harness. */
export interface KubeletHarnessOptions {
  onSigterm?: OnSigterm;
  checks?: Partial<Pick<KubeletContext, 'probe' | 'hook'>>;
  backoff?: { initialSeconds: number; maxSeconds: number };
  logLimits?: KubeletDeps['logLimits'];
  imageChecks?: KubeletDeps['imageChecks'];
  inClusterEnv?: KubeletDeps['inClusterEnv'];
  images?: KubeletDeps['images'];
  volumesDir?: string;
}

/** Kubelets for node `node-a` on a ManualClock, with fake processes and addresses. */
export function kubeletHarness(opts: KubeletHarnessOptions = {}) {
  const { clock, store } = makeStore([{ name: 'node-a' }]);
  const { supervisor, spawned } = fakeSupervisor(clock, opts.onSigterm);
  const { allocator, released } = fakeAddresses();
  const ctx = kubeletContext(
    { store, clock, supervisor, addresses: allocator, network: new Network(), images: opts.images ?? { app: ['app'] }, projectRoot: '/nonexistent', ...(opts.volumesDir ? { volumesDir: opts.volumesDir } : {}), restartBackoff: opts.backoff, logLimits: opts.logLimits, imageChecks: opts.imageChecks, inClusterEnv: opts.inClusterEnv },
    opts.checks,
  );
  const kubelets = runKubelets(ctx);
  return { clock, store, ctx, kubelets, spawned, released };
}

/** A pod bound to `node-a` with one container of image `app`. */
export function podObject(name: string, container: Record<string, unknown> = {}, spec: Record<string, unknown> = {}): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default' },
    spec: { nodeName: 'node-a', terminationGracePeriodSeconds: 30, containers: [{ name: 'app', image: 'app', ports: [{ name: 'http', containerPort: 8080 }], ...container }], ...spec },
  };
}

/** The pod object, if it is still there. */
export function getPod(store: ObjectStore, name: string): KubeObject | undefined {
  return store.get('pods', 'default', name);
}
