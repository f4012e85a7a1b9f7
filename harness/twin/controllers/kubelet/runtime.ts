/**
 * The kubelet's state of each pod and container, and the context every part works in: the
 * injected capabilities (store, clock, supervisor, addresses, network) and the running kubelets' maps.
 */
import type { Clock, Timer } from '../../../core/clock.ts';
import { timestamp, type ObjectStore } from '../../kube/store.ts';
import type { KubeObject } from '../../kube/types.ts';
import type { Network } from '../../network.ts';
import { recordEvent } from '../events.ts';
import type { ContainerLog, LogLimits } from '../../runtime/logs.ts';
import type { AddressAllocator, ContainerProcess, PodAddress, ProcessSupervisor } from '../../runtime/types.ts';
import type { Hook, ProbePlan } from './spec.ts';

/** How a container ended, as reported in its status. */
export interface Terminated {
  exitCode: number;
  signal?: number;
  reason: string;
  startedAt?: string;
  finishedAt: string;
  containerID?: string;
}

/** One container of a pod the kubelet runs. */
export interface ContainerRuntime {
  name: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  spec: any;
  command: string[];
  env: Record<string, string>;
  declaredPort?: number;
  address?: PodAddress;
  readiness?: ProbePlan;
  preStop?: Hook;
  proc?: ContainerProcess;
  /** Logs of the previous and the current instance, oldest first (see logs.ts). */
  logs: ContainerLog[];
  /** Bumped at every start, so callbacks of an earlier process are ignored. */
  gen: number;
  restartCount: number;
  ready: boolean;
  startedAt?: string;
  waiting?: { reason: string; message?: string };
  lastTerminated?: Terminated;
  terminated?: Terminated;
  successes: number;
  failures: number;
  probeTimer?: Timer;
  restartTimer?: Timer;
  killTimer?: Timer;
}

/** The grace countdown of a terminating pod: it runs from the deletion, not from SIGTERM. */
export interface Termination {
  start: number;
  deadline: number;
  timer?: Timer;
  expired: Promise<void>;
  expire: () => void;
}

/** One pod the kubelet runs. */
export interface PodRuntime {
  uid: string;
  namespace: string;
  name: string;
  nodeName: string;
  pod: KubeObject;
  /** starting → running → terminating → finished; dead when the node was killed. */
  state: 'starting' | 'running' | 'terminating' | 'finished' | 'dead';
  containers: ContainerRuntime[];
  address?: PodAddress;
  /** Addresses to release when the pod is gone (more than one only in port mode). */
  owned: PodAddress[];
  startTime?: string;
  abort: AbortController;
  syncQueued: boolean;
  term?: Termination;
  /** Finished on its own (restartPolicy Never / OnFailure): the pod object stays until deleted. */
  completed?: boolean;
}

/** A probe's or hook's outcome, with the message a kubelet would put in its event. */
export interface CheckResult {
  ok: boolean;
  detail: string;
}

/** What every part of the kubelets works with. */
export interface KubeletContext {
  readonly store: ObjectStore;
  readonly clock: Clock;
  readonly supervisor: ProcessSupervisor;
  readonly addresses: AddressAllocator;
  readonly network: Network;
  readonly images: Record<string, string[]>;
  readonly projectRoot: string;
  /** Where pods' configMap and emptyDir volumes are (one directory per pod uid). */
  readonly volumesDir: string;
  readonly log: (line: string) => void;
  /** Crash-loop back-off in model seconds. */
  readonly backoff: { initialSeconds: number; maxSeconds: number };
  /** What each container instance's log keeps. */
  readonly logLimits: LogLimits;
  /** Image (without tag) → a check run before its container starts: a refusal message fails the pod. */
  readonly imageChecks: Record<string, () => Promise<string | undefined>>;
  /** The in-cluster env every container gets (the API server's address, token and CA files). */
  readonly inClusterEnv: (pod: { namespace: string; serviceAccountName: string }) => Record<string, string>;
  /** Runs one readiness probe of container `c`. */
  readonly probe: (rt: PodRuntime, c: ContainerRuntime, plan: ProbePlan) => Promise<CheckResult>;
  /** Runs a preStop hook that is not a sleep. */
  readonly hook: (rt: PodRuntime, c: ContainerRuntime, hook: Exclude<Hook, { kind: 'sleep' }>, signal: AbortSignal) => Promise<CheckResult>;
  readonly pods: Map<string, PodRuntime>;
  /** True once `stop()` was called: nothing more is written or reported. */
  stopped: boolean;
}

/** The model time as a Kubernetes timestamp. */
export function nowStamp(ctx: KubeletContext): string {
  return timestamp(ctx.clock.now());
}

/** Cancels every timer of the pod and aborts its probes and hooks. */
export function cancelTimers(rt: PodRuntime): void {
  rt.term?.timer?.cancel();
  for (const c of rt.containers) {
    c.probeTimer?.cancel();
    c.restartTimer?.cancel();
    c.killTimer?.cancel();
  }
  rt.abort.abort();
}

/** SIGKILLs the pod's running processes; resolves when they have exited. */
export function killProcesses(rt: PodRuntime): Promise<unknown> {
  const exits = rt.containers.filter((c) => c.proc?.running).map((c) => {
    c.proc!.signal('SIGKILL');
    return c.proc!.exited;
  });
  return Promise.all(exits);
}

/** Gives the pod's addresses back. */
export function releaseAddresses(ctx: KubeletContext, rt: PodRuntime): void {
  for (const a of rt.owned.splice(0)) ctx.addresses.release(a);
}

/** Records a kubelet event about the pod (never fails the caller). */
export function emit(ctx: KubeletContext, rt: PodRuntime, reason: string, message: string, type: 'Normal' | 'Warning' = 'Normal'): void {
  if (ctx.stopped) return;
  try {
    const involved = { apiVersion: 'v1', kind: 'Pod', name: rt.name, namespace: rt.namespace, uid: rt.uid };
    recordEvent(ctx.store, ctx.clock, involved, type, reason, message, 'kubelet');
  } catch (error) {
    ctx.log(`kubelet ${rt.nodeName}: cannot record event ${reason} for ${rt.namespace}/${rt.name}: ${(error as Error).message}`);
  }
}
