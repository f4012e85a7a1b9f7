/**
 * The traffic drivers by name, and the choice between them: k6 when it is installed (or asked
 * for), the built-in undici driver otherwise.
 */
import type { Clock } from '../core/clock.ts';
import { runBuiltinTraffic } from './builtin/driver.ts';
import { checkK6Version, defaultK6Script, findK6, type K6Version } from './k6/args.ts';
import { runnerK6Version, type K6OperatorSpec } from './k6-operator/testrun.ts';
import { readK6Version, runK6Traffic } from './k6/driver.ts';
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
    run: async (plan, context) => {
      const env = context.env ?? process.env;
      // Not found: spawning plain `k6` fails with the "k6 not found" environment error.
      const k6Path = findK6(env) ?? 'k6';
      return runK6Traffic(plan, {
        k6Path,
        version: await k6VersionFor(k6Path, env, context.clock),
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

// `k6 version` read once per environment and binary: a run's cells share one answer.
const k6Versions = new WeakMap<object, Map<string, Promise<K6Version>>>();

/** The version of the k6 at `k6Path` (see `readK6Version`), read once per environment object and path. */
export function k6VersionFor(k6Path: string, env: Record<string, string | undefined>, clock: Clock): Promise<K6Version> {
  let byPath = k6Versions.get(env);
  if (!byPath) k6Versions.set(env, (byPath = new Map()));
  let version = byPath.get(k6Path);
  if (!version) {
    version = readK6Version(k6Path, { clock, env });
    byPath.set(k6Path, version);
    // A failed read is not remembered: the next run may find k6 installed.
    version.catch(() => byPath.delete(k6Path));
  }
  return version;
}

/** Every driver a spec may name: the local ones, and k6-operator (the cluster runs k6; harness/orchestrator/k6-operator-traffic.ts). */
export type DriverName = TrafficDriverName | 'k6-operator';

/** The driver a run will use, and one sentence saying why. */
export interface DriverChoice {
  name: DriverName;
  reason: string;
  /** k6 only: the release found (`k6 version`), e.g. v0.48.0. */
  version?: string;
}

/** The choice with what it will run: for k6, its version (throws when k6 is missing or too old); for k6-operator, the runner image's release. */
export async function describeDriver(choice: DriverChoice, env: Record<string, string | undefined>, clock: Clock, operator?: Pick<K6OperatorSpec, 'runnerImage' | 'k6Version'>): Promise<DriverChoice> {
  if (choice.name === 'k6-operator') {
    if (!operator) throw new Error('Expected the k6-operator settings (traffic.k6Operator with its defaults) to describe the driver');
    const version = runnerK6Version(operator);
    checkK6Version(version);
    return { ...choice, version: version.text };
  }
  if (choice.name !== 'k6') return choice;
  const version = await k6VersionFor(findK6(env) ?? 'k6', env, clock);
  return { ...choice, version: version.text };
}

/** Resolves the spec's `traffic.driver` ('auto' = k6 when K6_BIN is set or k6 is on PATH). */
export function selectDriver(choice: 'auto' | DriverName, env: Record<string, string | undefined>): DriverChoice {
  if (choice === 'builtin') return { name: 'builtin', reason: 'Using the built-in driver because the spec asks for driver: builtin.' };
  if (choice === 'k6-operator') return { name: 'k6-operator', reason: "Using k6-operator (a TestRun per cell's traffic, its runners' logs merged) because the spec asks for driver: k6-operator." };
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
