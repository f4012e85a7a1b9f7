/**
 * The k6 invocation as data: which binary, which argv, which extra environment. Pure except
 * `findK6`, which looks at the filesystem to resolve the binary.
 */
import { accessSync, constants, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../../core/errors.ts';
import type { TrafficPlan } from '../types.ts';

/** The env-driven constant-arrival-rate script shipped with the harness. */
export const defaultK6Script = fileURLToPath(new URL('../../../k6-scripts/constant-rate.js', import.meta.url));

/** What `buildK6Args` needs besides the plan. */
export interface K6ArgsOptions {
  /** Path of the k6 script (see k6-scripts/constant-rate.js for the variables it reads). */
  script: string;
  /** Value of the `cell` tag on every request. */
  cell?: string;
  /** The k6 binary; default `k6` (looked up on PATH by the spawner). */
  k6Path?: string;
  /** VUs started up front; default a quarter second's worth of requests (at least 5, at most 1 000). */
  preAllocatedVUs?: number;
  /** VUs k6 may grow to when requests are slow; default enough for every request to hang until its timeout, capped at 10 000. */
  maxVUs?: number;
}

/** A ready-to-spawn k6 command. */
export interface K6Invocation {
  file: string;
  args: string[];
  /** Added to the child's environment. */
  env: Record<string, string>;
}

function positive(name: string, value: number): void {
  if (!(value > 0) || !Number.isFinite(value)) {
    throw new ConfigError(`Expected the traffic plan's ${name} to be a positive number, got ${String(value)}`);
  }
}

/** Builds `k6 run` for the plan: quiet, pure NDJSON on stdout, no REST API, no usage report. */
export function buildK6Args(plan: TrafficPlan, opts: K6ArgsOptions): K6Invocation {
  positive('rate', plan.rate);
  positive('durationSeconds', plan.durationSeconds);
  positive('timeoutSeconds', plan.timeoutSeconds);
  if (!plan.mix.length) throw new ConfigError('Expected the traffic plan to have at least one mix entry, got none');
  // In an open model the VUs busy at once are rate × latency; the worst latency is the timeout.
  const preAllocated = opts.preAllocatedVUs ?? Math.min(1000, Math.max(5, Math.ceil(plan.rate / 4)));
  const maxVUs = Math.max(preAllocated, opts.maxVUs ?? Math.min(10_000, Math.ceil(plan.rate * plan.timeoutSeconds) + 10));
  const vars: Record<string, string> = {
    TARGET: plan.url,
    RATE: String(plan.rate),
    DURATION: String(plan.durationSeconds),
    TIMEOUT: String(plan.timeoutSeconds),
    MIX: JSON.stringify(plan.mix.map(({ path: p, weight }) => ({ path: p, weight }))),
    PRE_ALLOCATED_VUS: String(preAllocated),
    MAX_VUS: String(maxVUs),
    ...(opts.cell !== undefined ? { CELL: opts.cell } : {}),
  };
  const args = [
    'run',
    '-q',
    '--no-summary',
    // Without this k6 listens on localhost:6565 and two concurrent runs clash.
    '--address',
    '',
    '--no-usage-report',
    '--out',
    'json=-',
    ...Object.entries(vars).flatMap(([k, v]) => ['-e', `${k}=${v}`]),
    opts.script,
  ];
  return { file: opts.k6Path ?? 'k6', args, env: { K6_NO_USAGE_REPORT: 'true' } };
}

function isExecutable(file: string): boolean {
  try {
    if (!statSync(file).isFile()) return false;
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The k6 binary: `K6_BIN` when set, else the first executable `k6` on PATH, else undefined. */
export function findK6(env: Record<string, string | undefined>): string | undefined {
  if (env.K6_BIN) return env.K6_BIN;
  const names = process.platform === 'win32' ? ['k6.exe', 'k6.cmd', 'k6'] : ['k6'];
  for (const dir of (env.PATH ?? env.Path ?? '').split(path.delimiter)) {
    if (!dir) continue;
    for (const name of names) {
      const candidate = path.join(dir, name);
      if (isExecutable(candidate)) return candidate;
    }
  }
  return undefined;
}
