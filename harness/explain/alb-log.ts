/**
 * Application Load Balancer access logs, as the ALB user guide documents them
 * (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-access-logs.html):
 * one entry per line, space-separated fields in a fixed order, some double-quoted (with `\"` and
 * `\\` escapes inside), `-` for "no value" and `-1` for a processing time that could not be taken.
 * AWS adds fields at the end from time to time and says to ignore what follows the fields one
 * knows: they are kept in `extra`. Objects are gzip, named
 * `…/AWSLogs/<account>/elasticloadbalancing/<region>/yyyy/mm/dd/<account>_elasticloadbalancing_<region>_app.<lb-name>.<lb-id>_<end-time>_<ip>_<random>.log.gz`,
 * one per LB node (`<ip>`) and 5-minute interval ending at `<end-time>`.
 */
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';

/** The documented fields, in order (the ALB user guide's "Syntax"). */
export const ALB_LOG_FIELDS = [
  'type',
  'time',
  'elb',
  'client:port',
  'target:port',
  'request_processing_time',
  'target_processing_time',
  'response_processing_time',
  'elb_status_code',
  'target_status_code',
  'received_bytes',
  'sent_bytes',
  'request',
  'user_agent',
  'ssl_cipher',
  'ssl_protocol',
  'target_group_arn',
  'trace_id',
  'domain_name',
  'chosen_cert_arn',
  'matched_rule_priority',
  'request_creation_time',
  'actions_executed',
  'redirect_url',
  'error_reason',
  'target:port_list',
  'target_status_code_list',
  'classification',
  'classification_reason',
  'conn_trace_id',
] as const;

/** An `ip:port` pair (IPv6 addresses keep their colons: the port is after the last one). */
export interface HostPort {
  ip: string;
  port: number;
}

/** One access-log entry. `null` where the log has `-` (or `-1` for a time). Times in seconds. */
export interface AlbLogEntry {
  type: string;
  /** When the ALB generated the response (ISO 8601, µs) and as epoch ms. */
  time: string;
  timeMs: number;
  /** `app/<name>/<id>`. */
  elb: string;
  client: HostPort | null;
  target: HostPort | null;
  requestProcessingTime: number | null;
  targetProcessingTime: number | null;
  responseProcessingTime: number | null;
  elbStatusCode: number | null;
  targetStatusCode: number | null;
  receivedBytes: number;
  sentBytes: number;
  /** The request line (`GET http://host:80/path?q HTTP/1.1`) and its parts; path includes the query. */
  request: string;
  method: string | null;
  url: string | null;
  path: string | null;
  userAgent: string | null;
  sslCipher: string | null;
  sslProtocol: string | null;
  targetGroupArn: string | null;
  traceId: string | null;
  domainName: string | null;
  chosenCertArn: string | null;
  matchedRulePriority: number | null;
  /** When the ALB received the request (ISO 8601) and as epoch ms. */
  requestCreationTime: string;
  requestCreationMs: number;
  actionsExecuted: string[];
  redirectUrl: string | null;
  errorReason: string | null;
  /** Every target tried, and what each answered (`-` entries dropped). */
  targetPortList: string[];
  targetStatusCodeList: string[];
  classification: string | null;
  classificationReason: string | null;
  connTraceId: string | null;
  /** Fields after the documented ones (newer formats), as written. */
  extra: string[];
}

/** A line the parser cannot read: says where and what. */
export class AlbLogError extends Error {
  constructor(
    readonly source: string,
    readonly line: number,
    message: string,
  ) {
    super(`${source}:${line}: ${message}`);
  }
}

/** Splits one line into fields: quoted fields lose their quotes and escapes; `quoted` says which were. */
export function splitFields(line: string): { value: string; quoted: boolean }[] {
  const out: { value: string; quoted: boolean }[] = [];
  let i = 0;
  const n = line.length;
  while (i < n) {
    if (line[i] === ' ') {
      i++;
      continue;
    }
    if (line[i] === '"') {
      let value = '';
      i++;
      let closed = false;
      while (i < n) {
        const c = line[i];
        if (c === '\\' && i + 1 < n) {
          const next = line[i + 1];
          if (next === 'x' && /^[0-9a-fA-F]{2}$/.test(line.slice(i + 2, i + 4))) {
            value += String.fromCharCode(parseInt(line.slice(i + 2, i + 4), 16));
            i += 4;
          } else {
            // \" and \\ as documented; any other escaped character stands for itself.
            value += next;
            i += 2;
          }
          continue;
        }
        if (c === '"') {
          closed = true;
          i++;
          break;
        }
        value += c;
        i++;
      }
      if (!closed) throw new Error(`a quoted field starting at column ${out.length + 1} has no closing quote`);
      out.push({ value, quoted: true });
      continue;
    }
    const end = line.indexOf(' ', i);
    const stop = end < 0 ? n : end;
    out.push({ value: line.slice(i, stop), quoted: false });
    i = stop;
  }
  return out;
}

const dash = (v: string): string | null => (v === '-' ? null : v);

function hostPort(v: string, field: string): HostPort | null {
  if (v === '-') return null;
  const at = v.lastIndexOf(':');
  const port = Number(v.slice(at + 1));
  if (at <= 0 || !Number.isInteger(port)) throw new Error(`${field}: expected ip:port or -, got "${v}"`);
  return { ip: v.slice(0, at).replace(/^\[|\]$/g, ''), port };
}

function seconds(v: string, field: string): number | null {
  if (v === '-1' || v === '-') return null;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${field}: expected seconds ≥ 0 or -1, got "${v}"`);
  return n;
}

function integer(v: string, field: string): number | null {
  if (v === '-') return null;
  const n = Number(v);
  if (!Number.isInteger(n)) throw new Error(`${field}: expected an integer or -, got "${v}"`);
  return n;
}

function timestamp(v: string, field: string): number {
  const ms = Date.parse(v);
  if (!/^\d{4}-\d{2}-\d{2}T/.test(v) || Number.isNaN(ms)) throw new Error(`${field}: expected an ISO 8601 time, got "${v}"`);
  // Date.parse keeps ms; the log has µs: add the rest.
  const micro = /\.(\d{3})(\d+)Z$/.exec(v);
  return micro ? ms + Number(`0.${micro[2]}`) : ms;
}

function list(v: string): string[] {
  return v === '-' || v === '' ? [] : v.split(/[ ,]/).filter((x) => x && x !== '-');
}

/** Parses one entry; throws an Error (without the location: `parseAlbLogLines` adds it). */
export function parseAlbLogLine(line: string): AlbLogEntry {
  const fields = splitFields(line);
  if (fields.length < ALB_LOG_FIELDS.length) {
    const missing = ALB_LOG_FIELDS.slice(fields.length);
    throw new Error(`expected ${ALB_LOG_FIELDS.length} fields (${ALB_LOG_FIELDS[0]} … ${ALB_LOG_FIELDS.at(-1)}), got ${fields.length}: missing ${missing.join(', ')}`);
  }
  const f = (name: (typeof ALB_LOG_FIELDS)[number]) => fields[ALB_LOG_FIELDS.indexOf(name)].value;
  for (const name of ['request', 'user_agent', 'trace_id', 'domain_name', 'chosen_cert_arn', 'actions_executed', 'redirect_url', 'error_reason'] as const) {
    if (!fields[ALB_LOG_FIELDS.indexOf(name)].quoted) throw new Error(`${name}: expected a double-quoted field, got ${f(name)}`);
  }
  const request = f('request');
  const m = /^(\S+) (\S+) (\S+)$/.exec(request);
  const method = m && m[1] !== '-' ? m[1] : null;
  const url = m && m[2] !== '-' ? m[2] : null;
  let path: string | null = null;
  if (url) {
    try {
      const u = new URL(url);
      path = u.pathname + u.search;
    } catch {
      path = url.startsWith('/') ? url : null;
    }
  }
  return {
    type: f('type'),
    time: f('time'),
    timeMs: timestamp(f('time'), 'time'),
    elb: f('elb'),
    client: hostPort(f('client:port'), 'client:port'),
    target: hostPort(f('target:port'), 'target:port'),
    requestProcessingTime: seconds(f('request_processing_time'), 'request_processing_time'),
    targetProcessingTime: seconds(f('target_processing_time'), 'target_processing_time'),
    responseProcessingTime: seconds(f('response_processing_time'), 'response_processing_time'),
    elbStatusCode: integer(f('elb_status_code'), 'elb_status_code'),
    targetStatusCode: integer(f('target_status_code'), 'target_status_code'),
    receivedBytes: integer(f('received_bytes'), 'received_bytes') ?? 0,
    sentBytes: integer(f('sent_bytes'), 'sent_bytes') ?? 0,
    request,
    method,
    url,
    path,
    userAgent: dash(f('user_agent')),
    sslCipher: dash(f('ssl_cipher')),
    sslProtocol: dash(f('ssl_protocol')),
    targetGroupArn: dash(f('target_group_arn')),
    traceId: dash(f('trace_id')),
    domainName: dash(f('domain_name')),
    chosenCertArn: dash(f('chosen_cert_arn')),
    matchedRulePriority: integer(f('matched_rule_priority'), 'matched_rule_priority'),
    requestCreationTime: f('request_creation_time'),
    requestCreationMs: timestamp(f('request_creation_time'), 'request_creation_time'),
    actionsExecuted: list(f('actions_executed')),
    redirectUrl: dash(f('redirect_url')),
    errorReason: dash(f('error_reason')),
    targetPortList: list(f('target:port_list')),
    targetStatusCodeList: list(f('target_status_code_list')),
    classification: dash(f('classification')),
    classificationReason: dash(f('classification_reason')),
    connTraceId: dash(f('conn_trace_id')),
    extra: fields.slice(ALB_LOG_FIELDS.length).map((x) => x.value),
  };
}

/** Parses lines as they come (blank lines skipped); a bad line throws an AlbLogError naming `source` and the line. */
export async function* parseAlbLogLines(lines: AsyncIterable<string> | Iterable<string>, source: string): AsyncGenerator<AlbLogEntry> {
  let n = 0;
  for await (const raw of lines) {
    n++;
    const line = raw.replace(/\r$/, '');
    if (!line.trim()) continue;
    try {
      yield parseAlbLogLine(line);
    } catch (error) {
      throw new AlbLogError(source, n, (error as Error).message);
    }
  }
}

/** Entries of one gzip log object, streamed (gunzip → lines → entries). */
export function parseAlbLogObject(gzipped: Uint8Array | Readable, source: string): AsyncGenerator<AlbLogEntry> {
  const input = gzipped instanceof Readable ? gzipped : Readable.from([Buffer.from(gzipped)]);
  const gunzip = createGunzip();
  input.on('error', (e) => gunzip.destroy(e));
  gunzip.on('error', () => {});
  const lines = createInterface({ input: input.pipe(gunzip), crlfDelay: Infinity });
  return (async function* () {
    try {
      yield* parseAlbLogLines(lines, source);
    } catch (error) {
      if (error instanceof AlbLogError) throw error;
      throw new AlbLogError(source, 0, `expected a gzip file of log lines, got: ${(error as Error).message}`);
    } finally {
      lines.close();
      gunzip.destroy();
    }
  })();
}

/** What a log object's key says: whose log, which LB node, which interval. */
export interface AlbLogKey {
  prefix: string;
  account: string;
  region: string;
  loadBalancerName: string;
  loadBalancerId: string;
  /** End of the 5-minute interval, epoch ms. */
  endTimeMs: number;
  /** The LB node's IP address, as written in the key. */
  nodeIp: string;
  random: string;
}

const KEY =
  /^(.*?)AWSLogs\/(\d+)\/elasticloadbalancing\/([^/]+)\/(\d{4})\/(\d{2})\/(\d{2})\/(\d+)_elasticloadbalancing_([^_]+)_app\.([A-Za-z0-9-]+)\.([0-9a-f]+)_(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})Z_([^_]+)_([^_/]+)\.log\.gz$/;

/** Parses a documented log object key; undefined for any other key (e.g. the ELBAccessLogTestFile). */
export function parseAlbLogKey(key: string): AlbLogKey | undefined {
  const m = KEY.exec(key);
  if (!m) return undefined;
  const [, prefix, account, region, , , , account2, region2, name, id, y, mo, d, h, mi, ip, random] = m;
  if (account2 !== account || region2 !== region) return undefined;
  return { prefix: prefix.replace(/\/$/, ''), account, region, loadBalancerName: name, loadBalancerId: id, endTimeMs: Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi)), nodeIp: ip, random };
}

/** The S3 prefix of one day's log objects of a load balancer's account and region. */
export function albLogDayPrefix(prefix: string, account: string, region: string, dayMs: number): string {
  const day = new Date(dayMs).toISOString().slice(0, 10).replace(/-/g, '/');
  return `${prefix ? `${prefix.replace(/\/$/, '')}/` : ''}AWSLogs/${account}/elasticloadbalancing/${region}/${day}/`;
}
