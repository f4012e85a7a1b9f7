/**
 * The twin's thread runs ahead of everything else on the machine where the system lets it. It keeps
 * model time by real timers, and at a fast time scale a short wait for a CPU is a long model pause
 * (harness/twin/thread/stall.ts): a cell whose twin stalled is INVALID. Its pods already run
 * nicer than it (harness/twin/runtime/processes.ts); where the process may raise a priority (root,
 * or CAP_SYS_NICE), this thread also runs TWIN_THREAD_NICENESS below the rest of the process (the
 * harness, the built-in driver), so a busy machine slows them before the twin's clock. Elsewhere
 * nothing changes and the stall check stays the judge.
 */
import { readlinkSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';

/** The twin thread's nice value relative to its process (Linux weighs -5 about three times 0). */
export const TWIN_THREAD_NICENESS = -5;

/**
 * Raises the calling thread's priority (Linux: setpriority on the thread's id, which names one
 * thread); returns the thread id and the nice value it runs at, or why it could not.
 */
export function raiseThisThread(): { tid: number; nice: number } | { error: string } {
  let tid: number;
  try {
    // "/proc/thread-self" links to "<pid>/task/<tid>" (proc(5)).
    tid = Number(readlinkSync('/proc/thread-self').split('/').at(-1));
  } catch (error) {
    return { error: `no /proc/thread-self: ${(error as Error).message}` };
  }
  const nice = Math.max(-20, getPriority() + TWIN_THREAD_NICENESS);
  try {
    setPriority(tid, nice);
    return { tid, nice };
  } catch (error) {
    return { error: `cannot raise thread ${tid} to nice ${nice}: ${(error as Error).message}` };
  }
}
