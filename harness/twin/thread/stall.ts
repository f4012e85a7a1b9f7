/**
 * Stalls of the twin's event loop. The twin keeps model time by real timers; when its thread does
 * not run (a busy machine, a long pause), its own actions run that much late against the pods and
 * the traffic, which run on, and at a fast time scale a short real pause is a long model one (0.1 s
 * real is 2.5 model s at 0.04). So the thread watches its own lateness and reports it; each cell
 * keeps its longest, and a long one makes it INVALID (orchestrator/verdict.ts).
 */
import type { Clock, Timer } from '../../core/clock.ts';

/** One stall: the loop ran `modelMs` late, noticed at model time `at`. */
export interface Stall {
  at: number;
  modelMs: number;
}

/** Model ms between the watch's ticks. */
const STALL_TICK_MODEL_MS = 500;
/** Lateness worth reporting (model ms); shorter ones are timer jitter. */
export const STALL_REPORT_MODEL_MS = 1000;

/** Calls `report` with every stall of this thread's event loop until cancelled. */
export function watchStalls(clock: Clock, report: (stall: Stall) => void): Timer {
  let last = clock.now();
  return clock.setInterval(() => {
    const now = clock.now();
    const late = now - last - STALL_TICK_MODEL_MS;
    last = now;
    if (late >= STALL_REPORT_MODEL_MS) report({ at: now, modelMs: Math.round(late) });
  }, STALL_TICK_MODEL_MS);
}

/** The stalls that overlap [fromMs, toMs] (model ms). */
export function stallsWithin(stalls: readonly Stall[], fromMs: number, toMs: number): Stall[] {
  return stalls.filter((s) => s.at >= fromMs && s.at - s.modelMs <= toMs);
}
