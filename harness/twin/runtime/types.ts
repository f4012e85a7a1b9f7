/** The contract between the kubelet twin and the OS processes that are its pods' containers. */

/** Where a pod's container listens: its own loopback address, or a distinct port on 127.0.0.1. */
export interface PodAddress {
  host: string;
  port: number;
}

/** Hands out pod addresses (127.0.x.y:containerPort where possible). */
export interface AddressAllocator {
  /** True when distinct 127.0.x.y addresses are used; false when distinct ports on 127.0.0.1 are. */
  readonly perPodAddresses: boolean;
  /** A free address for a container that wants `containerPort`. */
  allocate(containerPort: number): Promise<PodAddress>;
  /** Gives an address back. */
  release(address: PodAddress): void;
  /** Gives up the address blocks this allocator holds (once no process of it listens any more). */
  close(): Promise<void>;
}

/** How a container process ended. */
export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** One running container process. */
export interface ContainerProcess {
  readonly pid: number;
  /** Resolves when the process has exited (never rejects). */
  readonly exited: Promise<ProcessExit>;
  /** True until `exited` resolves. */
  readonly running: boolean;
  /** Sends a signal (no-op once exited). */
  signal(sig: NodeJS.Signals): void;
  /** The last lines the process wrote (stdout and stderr), for diagnostics. */
  tail(): string[];
}

/** What to run for a container. */
export interface ContainerSpec {
  /** For logs and diagnostics, e.g. `default/web-abc12/app`. */
  name: string;
  /** argv; `command[0]` is resolved on PATH. */
  command: string[];
  env: Record<string, string>;
  cwd?: string;
  /** Called with every line this process writes, as it comes (the kubelet keeps the container's log). */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
}

/** Starts container processes and guarantees that none outlives the twin. */
export interface ProcessSupervisor {
  spawn(spec: ContainerSpec): ContainerProcess;
  /** PIDs of processes still running. */
  pids(): number[];
  /** SIGKILLs every process still running and waits until all have exited. */
  killAll(): Promise<void>;
}
