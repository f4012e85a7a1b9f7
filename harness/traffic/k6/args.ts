/**
 * The k6 invocation as data: which binary, which argv, which extra environment. Pure except
 * `findK6`, which looks at the filesystem to resolve the binary.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import { ConfigError, EnvironmentError } from '../../core/errors.ts';
import { projectRoot } from '../../core/paths.ts';
import type { TrafficPlan } from '../types.ts';

/** The env-driven constant-arrival-rate script shipped with the harness. */
export const defaultK6Script = path.join(projectRoot, 'k6-scripts/constant-rate.js');

/** A k6 release, as `k6 version` names it. */
export interface K6Version {
  major: number;
  minor: number;
  patch: number;
  /** e.g. `rc1` of v1.0.0-rc1; undefined for a release. */
  prerelease?: string;
  /** `v0.48.0`, `v1.0.0-rc1`: what run.json records. */
  text: string;
}

/** The oldest k6 the harness drives: `exec.vu.metrics.metadata` (the send time) arrived in v0.45. */
export const MIN_K6_VERSION = { major: 0, minor: 45 } as const;

/**
 * A line of `k6 version`: the binary's own file name (k6 ≥ v0.49 and every v1/v2 print cobra's
 * `{{.Name}} v{{.Version}}`, the name being the base name the binary was started as: `k6`,
 * `k6.exe`, `k6-v0.48.0`, `k6-linux-amd64`), a space, the release, then ` (…)` or the line's end.
 */
const K6_VERSION_LINE = /^(\S.*?) v(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?(?= \(|\s*$)/;

/**
 * Reads the version line of `k6 version`, whatever the release and whatever the binary is named:
 * `k6 v0.48.0 (go1.21.4, linux/amd64)`, `k6 v0.45.1 (2023-07-17T…/v0.45.1-0-g…, go1.20.6, linux/amd64)`,
 * `k6-v0.48.0 v0.48.0 (go1.19.8, linux/amd64)`, `k6 v1.0.0 (commit/41b4984b75, go1.24.2, linux/amd64)`,
 * `k6 v2.0.0-rc1 (commit/…, …)`; the first line that has this shape counts, extension lines after
 * it (`Extensions:`, `  github.com/grafana/xk6-sql v0.4.0, k6/x/sql [js]`) are ignored.
 */
export function parseK6Version(output: string): K6Version {
  const m = output
    .split(/\r?\n/)
    .map((line) => K6_VERSION_LINE.exec(line.trimEnd()))
    .find((match) => match !== null);
  if (!m) {
    const first = output.trim().split('\n')[0] ?? '';
    throw new EnvironmentError(`Expected \`k6 version\` to print "<binary name> vMAJOR.MINOR.PATCH (…)" (e.g. "k6 v1.0.0 (commit/…, go1.24.2, linux/amd64)"), got ${JSON.stringify(first.slice(0, 200))}`);
  }
  const [, , major, minor, patch, prerelease] = m;
  return {
    major: Number(major),
    minor: Number(minor),
    patch: Number(patch),
    ...(prerelease ? { prerelease } : {}),
    text: `v${major}.${minor}.${patch}${prerelease ? `-${prerelease}` : ''}`,
  };
}

/** Throws when the harness cannot drive this k6 (older than v0.45). */
export function checkK6Version(version: K6Version): void {
  if (version.major === MIN_K6_VERSION.major && version.minor < MIN_K6_VERSION.minor) {
    throw new EnvironmentError(
      `Expected k6 v${MIN_K6_VERSION.major}.${MIN_K6_VERSION.minor} or newer (the script records send times with exec.vu.metrics.metadata), got ${version.text}; upgrade k6 or use driver: builtin`,
    );
  }
}

/**
 * The run flags this k6 documents for: no end-of-test summary, no REST API, no usage report, quiet,
 * NDJSON on stdout. k6 rejects an unknown flag (exit 255) so each release gets only its own:
 *
 * | k6 | summary off | REST API off |
 * |---|---|---|
 * | v0.45 – v1.2 | `--no-summary` (`--summary-mode` is v1.0+, its `disabled` value v1.3+) | `--address ""` (default localhost:6565) |
 * | v1.3 – v1.x | `--summary-mode=disabled` (`--no-summary` deprecated: a warning) | `--address ""` |
 * | v2.0 +      | `--summary-mode=disabled` (`--no-summary` removed) | nothing: v2 starts it only with `--address` |
 */
export function k6RunFlags(version: K6Version): string[] {
  const summaryModeDisabled = version.major >= 2 || (version.major === 1 && version.minor >= 3);
  return [
    '-q',
    ...(summaryModeDisabled ? ['--summary-mode=disabled'] : ['--no-summary']),
    // Before v2 k6 listens on localhost:6565 unless told otherwise, and two concurrent runs clash.
    ...(version.major >= 2 ? [] : ['--address', '']),
    '--no-usage-report',
    '--out',
    'json=-',
  ];
}

/** What `buildK6Args` needs besides the plan. */
export interface K6ArgsOptions {
  /** Path of the k6 script (see k6-scripts/constant-rate.js for the variables it reads). */
  script: string;
  /** The k6 that will run it (see `parseK6Version`): the flags differ between releases. */
  version: K6Version;
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

/** Builds `k6 run` for the plan and this k6: quiet, pure NDJSON on stdout, no REST API, no usage report. */
export function buildK6Args(plan: TrafficPlan, opts: K6ArgsOptions): K6Invocation {
  checkK6Version(opts.version);
  positive('rate', plan.rate);
  positive('durationSeconds', plan.durationSeconds);
  positive('timeoutSeconds', plan.timeoutSeconds);
  if (!plan.mix.length) throw new ConfigError('Expected the traffic plan to have at least one mix entry, got none');
  // In an open model the VUs busy at once are rate × latency; the worst latency is the timeout.
  const preAllocated = opts.preAllocatedVUs ?? Math.min(1000, Math.max(5, Math.ceil(plan.rate / 4)));
  const maxVUs = Math.max(preAllocated, opts.maxVUs ?? Math.min(10_000, Math.ceil(plan.rate * plan.timeoutSeconds) + 10));
  const route = k6Route(plan);
  const vars: Record<string, string> = {
    TARGET: route.target,
    RATE: String(plan.rate),
    DURATION: String(plan.durationSeconds),
    TIMEOUT: String(plan.timeoutSeconds),
    MIX: JSON.stringify(plan.mix.map(({ path: p, weight }) => ({ path: p, weight }))),
    PRE_ALLOCATED_VUS: String(preAllocated),
    MAX_VUS: String(maxVUs),
    ...(opts.cell !== undefined ? { CELL: opts.cell } : {}),
    ...(plan.userAgent ? { USER_AGENT: plan.userAgent } : {}),
    ...(route.hosts ? { HOSTS: JSON.stringify(route.hosts) } : {}),
    ...(route.hostHeader ? { HOST_HEADER: route.hostHeader } : {}),
    ...(plan.tls?.insecureSkipVerify ? { INSECURE_SKIP_TLS_VERIFY: 'true' } : {}),
  };
  const args = [
    'run',
    ...k6RunFlags(opts.version),
    ...Object.entries(vars).flatMap(([k, v]) => ['-e', `${k}=${v}`]),
    opts.script,
  ];
  // Go reads its roots from SSL_CERT_FILE (Unix): the twin's CA then is the one k6 trusts, which is all its traffic needs.
  return { file: opts.k6Path ?? 'k6', args, env: { K6_NO_USAGE_REPORT: 'true', ...(plan.tls?.caFile && !plan.tls.insecureSkipVerify ? { SSL_CERT_FILE: plan.tls.caFile } : {}) } };
}

/**
 * How k6 reaches a rule's host. k6 (Go's transport) takes the TLS server name from the URL, never
 * from a Host header, so when the load balancer's address is an IP (the twin) the URL names the
 * rule's host and k6's `hosts` option maps it to that IP: Host and server name are the rule's, and
 * nothing resolves the name. With a DNS name (staging) `hosts` cannot map to it (k6 documents IPs),
 * so the URL keeps the load balancer's name and a Host header carries the rule's host; over HTTPS
 * that sends the wrong server name, so it needs `traffic.insecureSkipTLSVerify` (or driver: builtin).
 */
export function k6Route(plan: TrafficPlan): { target: string; hosts?: Record<string, string>; hostHeader?: string } {
  const servername = plan.tls?.servername ?? plan.hostHeader;
  const host = plan.hostHeader ?? servername;
  if (!host) return { target: plan.url };
  const url = new URL(plan.url);
  const address = url.hostname.replace(/^\[|\]$/g, '');
  if (isIP(address)) {
    // The rest of the URL (port, path prefix) as it was: no trailing slash added to a bare origin.
    const rest = plan.url.slice(plan.url.indexOf(url.host) + url.host.length);
    return { target: `${url.protocol}//${host}${url.port ? `:${url.port}` : ''}${rest}`, hosts: { [host]: address } };
  }
  if (url.protocol === 'https:' && servername && servername !== url.hostname && !plan.tls?.insecureSkipVerify) {
    throw new ConfigError(
      `Expected k6 to reach ${host} at the load balancer ${url.hostname} with a verified certificate, but k6 sends the URL's host (${url.hostname}) as the TLS server name, not the Host header's; set traffic.insecureSkipTLSVerify: true, use driver: builtin, or set target.url to an address whose name the certificate carries`,
    );
  }
  return { target: plan.url, hostHeader: host };
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
