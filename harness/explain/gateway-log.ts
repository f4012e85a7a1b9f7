/**
 * A gateway's access log, one request a line, in the two default formats a gateway in front of the
 * app writes to stdout (so the pod-logs API reads it):
 * - ingress-nginx's `upstreaminfo` (kubernetes/ingress-nginx,
 *   internal/ingress/controller/config/config.go, `logFormatUpstream`):
 *   `$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer"
 *   "$http_user_agent" $request_length $request_time [$proxy_upstream_name]
 *   [$proxy_alternative_upstream_name] $upstream_addr $upstream_response_length
 *   $upstream_response_time $upstream_status $req_id`. nginx writes one value per upstream try in
 *   the last four, separated by ", " (and " : " across an internal redirect), `-` for none;
 * - Istio's Envoy TEXT format, the default of `meshConfig.accessLogFile` (istio/istio,
 *   pilot/pkg/model/telemetry_logging.go, `EnvoyTextLogFormat`):
 *   `[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE%
 *   %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS%
 *   "%UPSTREAM_TRANSPORT_FAILURE_REASON%" %BYTES_RECEIVED% %BYTES_SENT% %DURATION%
 *   %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%"
 *   "%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%" %UPSTREAM_CLUSTER%
 *   %UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS%
 *   %REQUESTED_SERVER_NAME% %ROUTE_NAME%`. Envoy logs only the last upstream host and no per-try
 *   status: a retry that succeeded cannot be seen in it (README.md beside this file).
 * The pod-logs API with `timestamps=true` puts the kubelet's RFC 3339 time before each line; it is
 * kept (`loggedMs`) because it is on the same clock as the ALB's log on the twin (model time) and to
 * the ms everywhere, where `$time_local` has whole seconds. The pod's other lines (the controller's
 * klog lines on stderr, a start-up banner) are counted, not parsed. Pure.
 */

/** The formats understood. */
export const GATEWAY_LOG_FORMATS = ['nginx', 'envoy'] as const;
/** A gateway access-log format. */
export type GatewayLogFormat = (typeof GATEWAY_LOG_FORMATS)[number];

/** One upstream try: where it went and what came back (`null` for nginx's `-`). */
export interface UpstreamTry {
  addr: string | null;
  status: number | null;
  /** Seconds. */
  responseTime: number | null;
  responseLength: number | null;
}

/** One request the gateway logged. */
export interface GatewayLogLine {
  format: GatewayLogFormat;
  /** The line's number in what was parsed (1-based). */
  line: number;
  /** The kubelet's time of the line (epoch ms), when read with timestamps. */
  loggedMs?: number;
  /** The log's own time, epoch ms: nginx's `$time_local` (when the response was logged, whole seconds); Envoy's START_TIME (the request's start, ms). */
  timeMs: number;
  method: string | null;
  /** Path and query, as requested. */
  path: string | null;
  status: number;
  userAgent: string | null;
  /** nginx's `$req_id` / Envoy's x-request-id. */
  requestId: string | null;
  /** The whole request at the gateway, seconds (`$request_time`, Envoy's DURATION). */
  durationSeconds: number | null;
  /** nginx's `$proxy_upstream_name` (`<namespace>-<service>-<port>`), Envoy's UPSTREAM_CLUSTER. */
  upstream: string | null;
  /** In the order tried; Envoy: at most the last one. */
  tries: UpstreamTry[];
  /** Envoy's RESPONSE_FLAGS (e.g. UH, UF, URX); empty for nginx. */
  flags: string[];
  /** Envoy's RESPONSE_CODE_DETAILS. */
  details?: string;
}

/** A line that claims a format and does not follow it: names where and what was expected. */
export class GatewayLogError extends Error {
  constructor(
    readonly source: string,
    readonly lineNumber: number,
    detail: string,
  ) {
    super(`${source}:${lineNumber}: ${detail}`);
    this.name = 'GatewayLogError';
  }
}

/** The kubelet's `timestamps=true` prefix: RFC 3339 with up to nine fractional digits. */
const KUBELET_STAMP = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2}) /;

/** Splits off the kubelet's timestamp, if the line has one. */
export function splitTimestamp(raw: string): { loggedMs?: number; text: string } {
  const m = KUBELET_STAMP.exec(raw);
  if (!m) return { text: raw };
  const frac = m[2] ?? '';
  const ms = Date.parse(`${m[1]}${m[3]}`) + Number(`0.${frac || '0'}`) * 1000;
  return Number.isFinite(ms) ? { loggedMs: ms, text: raw.slice(m[0].length) } : { text: raw };
}

/** True for a line that claims to be an access-log line of `format` (the others are the pod's own output). */
export function looksLikeAccessLine(text: string, format: GatewayLogFormat): boolean {
  return format === 'nginx' ? /^\S+ - \S+ \[/.test(text) : /^\[\d{4}-\d{2}-\d{2}T/.test(text);
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** nginx's `$time_local`: `03/Dec/2026:15:37:57 +0000`. */
function timeLocal(v: string): number {
  const m = /^(\d{2})\/([A-Z][a-z]{2})\/(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})$/.exec(v);
  const month = m ? MONTHS.indexOf(m[2]) : -1;
  if (!m || month < 0) throw new Error(`$time_local: expected dd/Mon/yyyy:hh:mm:ss ±hhmm, got "${v}"`);
  const offset = (m[7] === '-' ? -1 : 1) * (Number(m[8]) * 60 + Number(m[9])) * 60_000;
  return Date.UTC(Number(m[3]), month, Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6])) - offset;
}

/** A quoted field as nginx (`escape=default`: `\"`, `\\`, `\xHH`) and Envoy write it. */
function unquote(v: string): string {
  return v.replace(/\\x([0-9a-fA-F]{2})|\\(.)/g, (_, hex: string | undefined, c: string | undefined) => (hex ? String.fromCharCode(parseInt(hex, 16)) : c!));
}

const dash = (v: string): string | null => (v === '-' || v === '' ? null : v);

function num(v: string, field: string, integer = false): number | null {
  if (v === '-') return null;
  const n = Number(v);
  if (v === '' || !Number.isFinite(n) || n < 0 || (integer && !Number.isInteger(n))) throw new Error(`${field}: expected ${integer ? 'an integer' : 'a number'} ≥ 0 or -, got "${v}"`);
  return n;
}

/** `"GET /p?q HTTP/1.1"` → method and path (the URL's path and query when it is absolute). */
function request(v: string): { method: string | null; path: string | null } {
  const m = /^(\S+) (\S+)(?: \S+)?$/.exec(v);
  if (!m) return { method: null, path: null };
  let path: string | null = m[2];
  if (!path.startsWith('/')) {
    try {
      const u = new URL(path);
      path = u.pathname + u.search;
    } catch {
      path = null;
    }
  }
  return { method: m[1], path };
}

const QUOTED = String.raw`"((?:[^"\\]|\\.)*)"`;
const NGINX = new RegExp(
  String.raw`^(\S+) - (\S+) \[([^\]]+)\] ${QUOTED} (\d{3}) (\d+|-) ${QUOTED} ${QUOTED} (\d+|-) (\S+) \[([^\]]*)\] \[([^\]]*)\] (.+)$`,
);
const NGINX_FIELDS = '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $request_length $request_time [$proxy_upstream_name] [$proxy_alternative_upstream_name]';
const NGINX_TAIL = ['$upstream_addr', '$upstream_response_length', '$upstream_response_time', '$upstream_status'] as const;

/**
 * The last fields of an upstreaminfo line: four lists (one value per try, ", " between tries,
 * " : " across an internal redirect) and `$req_id`.
 */
function upstreamLists(tail: string): { lists: string[][]; reqId: string } {
  const tokens = tail.split(' ').filter((t) => t !== '');
  const reqId = tokens.pop();
  const lists: string[][] = [];
  let open = false;
  for (const token of tokens) {
    if (token === ':') {
      open = true;
      continue;
    }
    if (!open) lists.push([]);
    lists.at(-1)!.push(token.replace(/,$/, ''));
    open = token.endsWith(',');
  }
  if (reqId === undefined || lists.length !== NGINX_TAIL.length || open) {
    throw new Error(`expected ${NGINX_TAIL.join(' ')} $req_id after [$proxy_alternative_upstream_name] (lists joined by ", "), got "${tail}"`);
  }
  return { lists, reqId };
}

/** Parses one upstreaminfo line (without the kubelet's timestamp); throws an Error saying what was expected. */
export function parseNginxLine(text: string, lineNumber = 1): GatewayLogLine {
  const m = NGINX.exec(text);
  if (!m) throw new Error(`expected ingress-nginx's upstreaminfo format (${NGINX_FIELDS} $upstream_addr … $req_id), got "${text.slice(0, 200)}"`);
  const [, , , local, req, status, , , ua, , requestTime, upstream, , tail] = m;
  const { lists, reqId } = upstreamLists(tail);
  const [addrs, lengths, times, statuses] = lists;
  if (!lists.every((l) => l.length === addrs.length)) {
    throw new Error(`expected one value per upstream try in each of ${NGINX_TAIL.join(', ')}, got ${lists.map((l, i) => `${NGINX_TAIL[i]} ${l.length}`).join(', ')}`);
  }
  const tries: UpstreamTry[] = addrs[0] === '-' && addrs.length === 1 ? [] : addrs.map((addr, i) => ({
    addr: dash(addr),
    status: num(statuses[i], '$upstream_status', true),
    responseTime: num(times[i], '$upstream_response_time'),
    responseLength: num(lengths[i], '$upstream_response_length', true),
  }));
  return {
    format: 'nginx',
    line: lineNumber,
    timeMs: timeLocal(local),
    ...request(unquote(req)),
    status: Number(status),
    userAgent: dash(unquote(ua)),
    requestId: dash(reqId),
    durationSeconds: num(requestTime, '$request_time'),
    upstream: dash(upstream),
    tries,
    flags: [],
  };
}

const ENVOY = new RegExp(
  String.raw`^\[([^\]]+)\] ${QUOTED} (\d+) (\S+) (\S+) (\S+) ${QUOTED} (\d+) (\d+) (\d+|-) (\S+) ${QUOTED} ${QUOTED} ${QUOTED} ${QUOTED} ${QUOTED} (\S+) (\S+) (\S+) (\S+) (\S+) (\S+)\s*$`,
);

/** Parses one line of Istio's default Envoy TEXT format (without the kubelet's timestamp). */
export function parseEnvoyLine(text: string, lineNumber = 1): GatewayLogLine {
  const m = ENVOY.exec(text);
  if (!m) {
    throw new Error(
      `expected Istio's Envoy TEXT format ([%START_TIME%] "%REQ(:METHOD)% %PATH% %PROTOCOL%" %RESPONSE_CODE% %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS% … "%UPSTREAM_HOST%" %UPSTREAM_CLUSTER% … %ROUTE_NAME%), got "${text.slice(0, 200)}"`,
    );
  }
  // 1 START_TIME, 2 request, 3 code, 4 flags, 5 details, 10 DURATION, 13 user agent, 14 request id, 16 upstream host, 17 cluster.
  const [start, req, code, flags, details, duration, ua, id, host, cluster] = [1, 2, 3, 4, 5, 10, 13, 14, 16, 17].map((i) => m[i]);
  const startMs = Date.parse(start);
  if (!/^\d{4}-\d{2}-\d{2}T/.test(start) || Number.isNaN(startMs)) throw new Error(`START_TIME: expected an ISO 8601 time, got "${start}"`);
  const status = Number(code);
  const upstreamHost = dash(unquote(host));
  const ms = num(duration, 'DURATION', true);
  return {
    format: 'envoy',
    line: lineNumber,
    timeMs: startMs,
    ...request(unquote(req)),
    status,
    userAgent: dash(unquote(ua)),
    requestId: dash(unquote(id)),
    durationSeconds: ms === null ? null : ms / 1000,
    upstream: dash(cluster),
    // Envoy names only the host of the last try, and no status of its own for it.
    tries: upstreamHost ? [{ addr: upstreamHost, status: null, responseTime: null, responseLength: null }] : [],
    flags: flags === '-' ? [] : flags.split(','),
    ...(details !== '-' ? { details } : {}),
  };
}

/** What parsing a pod's log gave: its access lines, and how many other lines it had. */
export interface ParsedGatewayLog {
  lines: GatewayLogLine[];
  /** Lines that are not access-log lines (the controller's own, a banner). */
  other: number;
}

/**
 * Parses a log as the pod-logs API returns it (with or without the kubelet's timestamps). A line
 * that starts like an access line of `format` and does not follow it throws a GatewayLogError
 * naming `source`, the line and what was expected; the pod's other lines are counted.
 */
export function parseGatewayLog(text: string, format: GatewayLogFormat, source: string): ParsedGatewayLog {
  const out: GatewayLogLine[] = [];
  let other = 0;
  const rows = text.split('\n');
  for (let i = 0; i < rows.length; i++) {
    const raw = rows[i].replace(/\r$/, '');
    if (!raw.trim()) continue;
    const { loggedMs, text: body } = splitTimestamp(raw);
    if (!looksLikeAccessLine(body, format)) {
      other++;
      continue;
    }
    try {
      const parsed = format === 'nginx' ? parseNginxLine(body, i + 1) : parseEnvoyLine(body, i + 1);
      out.push(loggedMs === undefined ? parsed : { ...parsed, loggedMs });
    } catch (error) {
      throw new GatewayLogError(source, i + 1, (error as Error).message);
    }
  }
  return { lines: out, other };
}

/** When the gateway finished the request (epoch ms): the kubelet's time, else nginx's log time, else Envoy's start + duration. */
export function lineEndMs(l: GatewayLogLine): number {
  if (l.loggedMs !== undefined) return l.loggedMs;
  return l.format === 'envoy' ? l.timeMs + (l.durationSeconds ?? 0) * 1000 : l.timeMs;
}

/** A try that got no answer: nginx's 502/504 with no bytes from the upstream (connect refused or reset, timeout), or none at all. */
export function unanswered(t: UpstreamTry): boolean {
  return t.status === null || ((t.status === 502 || t.status === 504) && !t.responseLength);
}

/** Envoy's flags that mean no upstream answered: connection failure, termination, reset, timeout, retries exhausted. */
const ENVOY_UPSTREAM_FAILED = new Set(['UF', 'UC', 'UR', 'UT', 'URX', 'UO']);

/** What the gateway's own record says happened, before any timeline is consulted. */
export type GatewayOutcome = 'ok' | 'retried' | 'no-upstream' | 'upstream-unanswered' | 'upstream-5xx' | 'gateway-5xx';

/**
 * The outcome of a line from the gateway's own record alone: no upstream to send to (nginx tried
 * none, or Envoy's UH/NR), no try answered, the upstream answered 5xx, or a failed try then a
 * success (nginx only: Envoy's default format has no per-try record).
 */
export function outcomeOf(l: GatewayLogLine): GatewayOutcome {
  if (l.format === 'envoy') {
    if (l.status < 500) return 'ok';
    if (l.flags.includes('UH') || l.flags.includes('NR') || (l.tries.length === 0 && l.status === 503)) return 'no-upstream';
    if (l.flags.some((f) => ENVOY_UPSTREAM_FAILED.has(f))) return 'upstream-unanswered';
    return l.tries.length ? 'upstream-5xx' : 'gateway-5xx';
  }
  const last = l.tries.at(-1);
  if (l.status < 500) return l.tries.slice(0, -1).some(unanswered) && last && !unanswered(last) ? 'retried' : 'ok';
  // ingress-nginx answers 503 itself when the upstream has no endpoint (its default backend's answer).
  if (!last || l.upstream === 'upstream-default-backend') return l.status === 503 ? 'no-upstream' : 'gateway-5xx';
  if (l.tries.every(unanswered)) return 'upstream-unanswered';
  return last.status !== null && last.status >= 500 ? 'upstream-5xx' : 'gateway-5xx';
}
