/** Polling helpers for disruptions and the orchestrator (through the clock, bounded). */
import type { Clock } from '../core/clock.ts';
import type { KObject } from '../platform/ports.ts';

/** Consecutive failed checks a poll rides out (an API restarting, a dropped connection) before it gives up. */
export const TRANSIENT_ERRORS = 5;

/**
 * Polls `check` every `everyMs` model ms until it returns true; false when `boundMs` passed or
 * aborted. A check that throws is retried, up to `TRANSIENT_ERRORS` times in a row; then the last
 * error is thrown.
 */
export async function pollUntil(clock: Clock, boundMs: number, signal: AbortSignal, check: () => Promise<boolean>, everyMs = 1000): Promise<boolean> {
  const deadline = clock.now() + boundMs;
  let errors = 0;
  while (!signal.aborted) {
    try {
      if (await check()) return true;
      errors = 0;
    } catch (error) {
      if (signal.aborted) return false;
      if (++errors >= TRANSIENT_ERRORS) throw error;
    }
    if (clock.now() >= deadline) return false;
    try {
      await clock.sleep(Math.min(everyMs, Math.max(1, deadline - clock.now())), signal);
    } catch {
      return false;
    }
  }
  return false;
}

/** True when a Deployment's rollout is complete (the check `kubectl rollout status` makes). */
export function rolloutComplete(d: KObject): boolean {
  const want = d.spec?.replicas ?? 1;
  const s = d.status ?? {};
  return (
    (s.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0) &&
    (s.updatedReplicas ?? 0) === want &&
    (s.replicas ?? 0) === want &&
    (s.availableReplicas ?? 0) === want
  );
}
