/**
 * The process runtime: starts pods' containers as real OS processes and guarantees that none
 * outlives the twin. Three layers make sure of it: `killAll()` on a clean stop, a synchronous
 * SIGKILL of every live child in a `process.on('exit')` hook (crash, `process.exit`), and
 * `EXIT_WITH_PARENT=1` with stdin kept as a pipe, so a child exits by itself when the twin is
 * SIGKILLed and the pipe reaches end of file.
 */
import { spawn as spawnChild, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';
import type { ContainerProcess, ContainerSpec, ProcessExit, ProcessSupervisor } from './types.ts';

/** Options of a process supervisor. */
export interface SupervisorOptions {
  /** Lines kept per process for `tail()` (default 50). */
  tailLines?: number;
  /** Called with every line a process writes (stdout and stderr). */
  onOutput?: (name: string, line: string, pid: number) => void;
}

/**
 * How much nicer than the twin every container process runs. Pods stand for other machines' CPUs;
 * here they share this one with the twin, whose clock-keeping (the ALB's lags, the controllers, the
 * data plane) must not wait behind them: a twin that runs late is a stall, and its cells INVALID.
 * Lower priority for the pods makes the pods slower under load, never the twin's timings.
 */
export const POD_NICENESS = 10;

/**
 * Runs a pod's process POD_NICENESS nicer than the twin. The child leads its own session
 * (`detached`), and where Linux weighs each session's CPU share as a whole (autogroup, on by default
 * in many kernels), a process's nice value counts only against its own session's processes: every
 * pod would get as much CPU as the twin and the harness together, whatever its nice value. So the
 * pod's session group is made as nice as the pod (/proc/PID/autogroup; sched(7), "The autogroup
 * feature").
 */
function lowerPriority(pid: number): void {
  const niceness = Math.min(19, getPriority() + POD_NICENESS);
  try {
    setPriority(pid, niceness);
  } catch {
    // Not permitted: the pod runs at the twin's priority.
  }
  try {
    writeFileSync(`/proc/${pid}/autogroup`, String(niceness));
  } catch {
    // No autogroup (another system, a kernel without it, or it is off): the nice value above is all.
  }
}

/** Every live child of this Node process, across supervisors, for the exit hook. */
const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // 'exit' handlers must be synchronous: signals are, awaiting the exits is not possible here.
  process.on('exit', () => {
    for (const child of live) killGroup(child, 'SIGKILL');
  });
}

/**
 * Signals a child. SIGKILL goes to its whole process group (the container and anything it
 * started, as a container runtime kills a cgroup); other signals go to the child only, as
 * SIGTERM goes to a container's PID 1. Only while the child is unreaped, so its PID and group
 * id cannot belong to anyone else.
 */
function killGroup(child: ChildProcess, sig: NodeJS.Signals): void {
  const pid = child.pid;
  if (!pid || pid <= 0 || child.exitCode !== null || child.signalCode !== null) return;
  if (sig === 'SIGKILL') {
    try {
      process.kill(-pid, sig);
      return;
    } catch {
      // No such group (e.g. setsid not available): fall back to the child itself.
    }
  }
  try {
    process.kill(pid, sig);
  } catch {
    // Already gone.
  }
}

/** Creates a supervisor whose children each run in their own process group. */
export function createProcessSupervisor(opts: SupervisorOptions = {}): ProcessSupervisor {
  const tailLines = opts.tailLines ?? 50;
  const mine = new Map<number, { child: ChildProcess; proc: ContainerProcess }>();
  // Spawns that failed before getting a PID still need awaiting in killAll.
  const pending = new Set<Promise<ProcessExit>>();

  function spawn(spec: ContainerSpec): ContainerProcess {
    if (spec.command.length === 0) {
      throw new TypeError(`Expected a non-empty command for container ${spec.name}, got []`);
    }
    const [first, ...args] = spec.command;
    const file = first === 'node' ? process.execPath : first;
    const lines: string[] = [];
    const remember = (line: string) => {
      lines.push(line);
      if (lines.length > tailLines) lines.splice(0, lines.length - tailLines);
    };
    const child = spawnChild(file, args, {
      cwd: spec.cwd,
      // A container does not inherit the host's environment; PATH is kept so commands resolve.
      env: { PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin', ...spec.env, EXIT_WITH_PARENT: '1' },
      // Own process group: a terminal Ctrl-C reaches only the twin, which then ends the pods itself.
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const pid = child.pid ?? 0;
    let running = pid > 0;
    if (pid > 0) lowerPriority(pid);
    if (running) {
      live.add(child);
      installExitHook();
    }
    child.stdin?.on('error', () => {
      // The child may exit while the pipe is open; nothing is ever written to it.
    });
    for (const [which, stream] of [
      ['stdout', child.stdout],
      ['stderr', child.stderr],
    ] as const) {
      if (!stream) continue;
      const line = (text: string) => {
        remember(text);
        opts.onOutput?.(spec.name, text, pid);
        spec.onLine?.(text, which);
      };
      let partial = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        const parts = (partial + chunk).split('\n');
        partial = parts.pop() ?? '';
        for (const text of parts) line(text);
      });
      stream.on('end', () => {
        if (partial) {
          line(partial);
          partial = '';
        }
      });
    }

    const exited = new Promise<ProcessExit>((resolve) => {
      let result: ProcessExit | undefined;
      const done = () => {
        if (!result) return;
        running = false;
        live.delete(child);
        if (pid > 0) mine.delete(pid);
        child.stdin?.destroy();
        resolve(result);
      };
      child.on('error', (error) => {
        // Spawn failures (ENOENT, EACCES) come here without an exit; report them like a shell.
        if (pid > 0) return;
        const text = `cannot start ${JSON.stringify(first)}: ${error.message}`;
        remember(text);
        spec.onLine?.(text, 'stderr');
        result = { code: 127, signal: null };
        done();
      });
      child.on('exit', (code, signal) => {
        result = { code, signal };
        // Wait for the output pipes so tail() is complete, but not for grandchildren that hold them.
        // Not a timer: two event-loop turns let the pipes deliver what the process wrote before it exited.
        // eslint-disable-next-line no-restricted-globals
        setImmediate(() =>
          // eslint-disable-next-line no-restricted-globals
          setImmediate(() => {
            child.stdout?.destroy();
            child.stderr?.destroy();
          }),
        );
      });
      child.on('close', done);
    });

    const proc: ContainerProcess = {
      pid,
      exited,
      get running() {
        return running;
      },
      signal(sig) {
        if (running) killGroup(child, sig);
      },
      tail: () => [...lines],
    };
    if (pid > 0) mine.set(pid, { child, proc });
    else {
      pending.add(exited);
      void exited.then(() => pending.delete(exited));
    }
    return proc;
  }

  return {
    spawn,
    pids: () => [...mine.values()].filter((p) => p.proc.running).map((p) => p.proc.pid),
    async killAll() {
      const entries = [...mine.values()];
      for (const { proc } of entries) proc.signal('SIGKILL');
      await Promise.all([...entries.map((e) => e.proc.exited), ...pending]);
    },
  };
}
