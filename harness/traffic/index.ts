/**
 * The traffic drivers by name, and the choice between them: k6 when it is installed (or asked
 * for), the built-in undici driver otherwise.
 */
import type { Clock } from '../core/clock.ts';
import { runBuiltinTraffic } from './builtin/driver.ts';
import { defaultK6Script, findK6 } from './k6/args.ts';
import { runK6Traffic } from './k6/driver.ts';
import type { TrafficPlan, TrafficProgress, TrafficResult } from './types.ts';

/** What every driver gets besides the plan. */
export interface TrafficRunContext {
  /** A real-time clock (scale 1): traffic rates are real. */
  clock: Clock;
  signal?: AbortSignal;
  /** Ends the run early as complete: planned becomes the requests due until then. */
  stop?: AbortSignal;
  onProgress?: (progress: TrafficProgress) => void;
  /** Environment used to find k6 (K6_BIN, PATH) and passed to it; default this process's. */
  env?: Record<string, string | undefined>;
  /** k6 only: the script to run instead of k6-scripts/constant-rate.js. */
  script?: string;
  /** k6 only: value of the `cell` tag on every request. */
  cell?: string;
}

/** A way to send traffic. */
export interface TrafficDriver {
  name: TrafficDriverName;
  run(plan: TrafficPlan, context: TrafficRunContext): Promise<TrafficResult>;
}

/** The names a spec may choose (besides 'auto'). */
export type TrafficDriverName = 'builtin' | 'k6';

/** Every driver, by name. */
export const trafficDrivers = {
  builtin: {
    name: 'builtin',
    run: (plan, context) => runBuiltinTraffic(plan, { clock: context.clock, signal: context.signal, stop: context.stop, onProgress: context.onProgress }),
  },
  k6: {
    name: 'k6',
    run: (plan, context) => {
      const env = context.env ?? process.env;
      return runK6Traffic(plan, {
        // Not found: spawning plain `k6` fails with the "k6 not found" environment error.
        k6Path: findK6(env) ?? 'k6',
        script: context.script ?? defaultK6Script,
        clock: context.clock,
        signal: context.signal,
        stop: context.stop,
        onProgress: context.onProgress,
        cell: context.cell,
        env,
      });
    },
  },
} satisfies Record<TrafficDriverName, TrafficDriver>;

/** The driver a run will use, and one sentence saying why. */
export interface DriverChoice {
  name: TrafficDriverName;
  reason: string;
}

/** Resolves the spec's `traffic.driver` ('auto' = k6 when K6_BIN is set or k6 is on PATH). */
export function selectDriver(choice: 'auto' | TrafficDriverName, env: Record<string, string | undefined>): DriverChoice {
  if (choice === 'builtin') return { name: 'builtin', reason: 'Using the built-in driver because the spec asks for driver: builtin.' };
  const k6 = findK6(env);
  if (choice === 'k6') {
    return k6
      ? { name: 'k6', reason: `Using k6 at ${k6} because the spec asks for driver: k6.` }
      : { name: 'k6', reason: 'Using k6 because the spec asks for driver: k6, but K6_BIN is unset and k6 is not on PATH, so the run will fail to start it.' };
  }
  if (k6) {
    const where = env.K6_BIN ? 'K6_BIN points to it' : 'it is on PATH';
    return { name: 'k6', reason: `Using k6 at ${k6} (driver: auto) because ${where}.` };
  }
  return { name: 'builtin', reason: 'Using the built-in driver (driver: auto) because K6_BIN is unset and k6 is not on PATH.' };
}
