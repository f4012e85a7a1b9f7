/**
 * Getting a cell's access-log entries: where the logs are (the spec, or the load balancer's
 * access_logs.s3.* attributes), waiting — bounded, with progress, through the clock — until every
 * LB node has delivered an object whose interval ends at or after the window's end, then reading
 * the objects and keeping the entries whose User-Agent names the cell.
 */
import type { Clock } from '../core/clock.ts';
import { parseLoadBalancerArn, type AccessLogStore, type Elbv2Port, type StoredObject } from '../platform/ports.ts';
import { albLogDayPrefix, parseAlbLogKey, parseAlbLogObject, type AlbLogKey } from './alb-log.ts';
import type { CellLogEntry } from './attribute.ts';
import { fiveXXKind, type MinuteFiveXX } from './cross-check.ts';

/** Where a load balancer's access logs are. */
export interface LogLocation {
  bucket: string;
  prefix: string;
  account: string;
  region: string;
  loadBalancerArn: string;
  /** `app/<name>/<id>`: the CloudWatch LoadBalancer dimension. */
  loadBalancerResource: string;
  loadBalancerName: string;
  loadBalancerId: string;
}

/** A value or why there is none. */
export type Found<T> = { ok: true; value: T } | { ok: false; why: string };

/** Finds the logs of the target group's load balancer: `override` (the spec's bucket/prefix), else its attributes. */
export async function locateLogs(elbv2: Elbv2Port, targetGroupArn: string, override?: { bucket: string; prefix: string }): Promise<Found<LogLocation>> {
  let arns: string[];
  try {
    arns = await elbv2.loadBalancersOf(targetGroupArn);
  } catch (error) {
    return { ok: false, why: `could not find the load balancer of ${targetGroupArn}: ${(error as Error).message}` };
  }
  const arn = arns[0];
  if (!arn) return { ok: false, why: `no load balancer forwards to ${targetGroupArn}` };
  const lb = parseLoadBalancerArn(arn);
  if (!lb) return { ok: false, why: `expected an application load balancer ARN (arn:…:loadbalancer/app/<name>/<id>), got ${arn}` };
  const base = { account: lb.account, region: lb.region, loadBalancerArn: arn, loadBalancerResource: lb.resource, loadBalancerName: lb.name, loadBalancerId: lb.id };
  if (override) return { ok: true, value: { ...base, bucket: override.bucket, prefix: override.prefix.replace(/^\/|\/$/g, '') } };
  let attributes: Record<string, string>;
  try {
    attributes = await elbv2.describeLoadBalancerAttributes(arn);
  } catch (error) {
    return { ok: false, why: `could not read the access-log attributes of ${lb.name}: ${(error as Error).message}` };
  }
  if (attributes['access_logs.s3.enabled'] !== 'true') {
    return { ok: false, why: `access logs are off on load balancer ${lb.name} (access_logs.s3.enabled=${attributes['access_logs.s3.enabled'] ?? 'unset'}); enable them (README: "Explaining 5xx") or name the bucket in explain.accessLogs` };
  }
  const bucket = attributes['access_logs.s3.bucket'];
  if (!bucket) return { ok: false, why: `load balancer ${lb.name} has access logs on but no access_logs.s3.bucket` };
  return { ok: true, value: { ...base, bucket, prefix: (attributes['access_logs.s3.prefix'] ?? '').replace(/^\/|\/$/g, '') } };
}

/** The log objects that may hold entries of [startMs, endMs]: this load balancer's, intervals overlapping the window. */
export interface LogObjects {
  objects: Array<StoredObject & { parsed: AlbLogKey }>;
  /** LB nodes seen, and how far each has delivered (latest interval end, epoch ms). */
  nodes: Map<string, number>;
}

/** ALB's delivery interval: every 5 minutes (user guide, "Access log files"). */
const ALB_LOG_INTERVAL_MS = 5 * 60_000;

/**
 * How far an object shows its LB node has delivered: its interval's end, from the key — but a key
 * names its end to the minute, so with intervals shorter than a minute (a twin's) several objects
 * carry one end-time, and only the delivery time (LastModified) says which of them came last.
 */
function deliveredUpTo(endTimeMs: number, lastModified: string | undefined): number {
  const at = lastModified ? Date.parse(lastModified) : Number.NaN;
  return Number.isFinite(at) ? Math.min(endTimeMs, at) : endTimeMs;
}

/** Lists the candidate objects for a window (one listing per delivery day); `intervalMs` is the delivery interval. */
export async function listLogObjects(store: AccessLogStore, at: LogLocation, startMs: number, endMs: number, untilMs: number, intervalMs = ALB_LOG_INTERVAL_MS): Promise<LogObjects> {
  // An object holds (end − interval, end]; a key's minute resolution widens that to a minute at least.
  const span = Math.max(intervalMs, 60_000);
  const objects: LogObjects['objects'] = [];
  const nodes = new Map<string, number>();
  const days = new Set<string>();
  for (let d = startMs; d <= untilMs + 86_400_000; d += 86_400_000) {
    const prefix = albLogDayPrefix(at.prefix, at.account, at.region, Math.min(d, untilMs));
    if (days.has(prefix)) continue;
    days.add(prefix);
    for (const o of await store.listObjects(at.bucket, prefix)) {
      const parsed = parseAlbLogKey(o.key);
      if (!parsed || parsed.loadBalancerName !== at.loadBalancerName || parsed.loadBalancerId !== at.loadBalancerId) continue;
      // It may be late, and a node may deliver more than one per interval.
      const upTo = deliveredUpTo(parsed.endTimeMs, o.lastModified);
      if (parsed.endTimeMs < startMs || parsed.endTimeMs - span > endMs) {
        if (parsed.endTimeMs > endMs) nodes.set(parsed.nodeIp, Math.max(nodes.get(parsed.nodeIp) ?? 0, upTo));
        continue;
      }
      objects.push({ ...o, parsed });
      nodes.set(parsed.nodeIp, Math.max(nodes.get(parsed.nodeIp) ?? 0, upTo));
    }
  }
  return { objects, nodes };
}

/** How waiting ended. */
export interface WaitOutcome extends LogObjects {
  status: 'complete' | 'partial' | 'missing';
  why?: string;
}

/** What waiting needs. */
export interface WaitOptions {
  store: AccessLogStore;
  location: LogLocation;
  clock: Clock;
  /** The window (model/real epoch ms, as the log's times). */
  startMs: number;
  endMs: number;
  /** Give up at this time (epoch ms on `clock`). */
  deadlineMs: number;
  pollMs: number;
  log: (line: string) => void;
  signal?: AbortSignal;
  /** Names the cell in progress lines. */
  label: string;
  /** The load balancer's delivery interval (default ALB's 5 minutes; a twin's may be shorter). */
  intervalMs?: number;
}

const clockText = (ms: number) => new Date(ms).toISOString().slice(11, 19);

/** Errors no amount of waiting changes: the endpoint's name does not resolve, or nothing listens there. */
const TERMINAL_NETWORK_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'CERT_HAS_EXPIRED', 'ERR_TLS_CERT_ALTNAME_INVALID']);

/** The network error code of `error` or of one of its causes (e.g. ENOTFOUND), if any. */
function networkCode(error: unknown): string | undefined {
  for (let e: unknown = error, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && TERMINAL_NETWORK_CODES.has(code)) return code;
  }
  return undefined;
}

/**
 * When an LB node that delivered earlier objects has surely delivered everything up to `endMs`:
 * one whole interval after the delivery that covers `endMs`. A node that got no request after its
 * last object writes no further object, so waiting for one past `endMs` would never end.
 */
export function quietAfterMs(endMs: number, intervalMs = ALB_LOG_INTERVAL_MS): number {
  return Math.ceil(endMs / intervalMs) * intervalMs + intervalMs;
}

/** Waits until every LB node seen has delivered past the window's end, or the deadline. */
export async function waitForLogs(o: WaitOptions): Promise<WaitOutcome> {
  let last: LogObjects = { objects: [], nodes: new Map() };
  let listError: string | undefined;
  for (let attempt = 0; ; attempt++) {
    try {
      last = await listLogObjects(o.store, o.location, o.startMs, o.endMs, Math.max(o.clock.now(), o.endMs), o.intervalMs);
      listError = undefined;
    } catch (error) {
      listError = (error as Error).message;
      // Refused (403 AccessDenied, 404 NoSuchBucket, …): waiting will not change it.
      const status = (error as { status?: number }).status;
      if (status !== undefined && status >= 400 && status < 500 && status !== 429) {
        return { ...last, status: 'missing', why: `listing s3://${o.location.bucket}/${o.location.prefix} was refused: ${listError}` };
      }
      const code = networkCode(error);
      if (code) {
        return { ...last, status: 'missing', why: `listing s3://${o.location.bucket}/${o.location.prefix} cannot reach S3 (${code}; is the S3 endpoint set? AWS_ENDPOINT_URL_S3, or target.endpoints.s3): ${listError}` };
      }
    }
    // A node behind the window's end that has been quiet for a whole interval more has nothing left to deliver.
    const quiet = o.clock.now() >= quietAfterMs(o.endMs, o.intervalMs);
    const behind = [...last.nodes].filter(([, upTo]) => upTo < o.endMs && !quiet);
    if (!listError && last.nodes.size > 0 && behind.length === 0) return { ...last, status: 'complete' };
    const left = o.deadlineMs - o.clock.now();
    if (left <= 0 || o.signal?.aborted) {
      const why = o.signal?.aborted
        ? 'interrupted while waiting for the access logs'
        : listError
          ? `listing s3://${o.location.bucket}/${o.location.prefix} failed: ${listError}`
          : last.nodes.size === 0
            ? `no access-log object of ${o.location.loadBalancerName} covering ${clockText(o.startMs)}–${clockText(o.endMs)} arrived in s3://${o.location.bucket}/${o.location.prefix} by the wait bound`
            : `LB node(s) ${behind.map(([n, upTo]) => `${n} (delivered up to ${clockText(upTo)})`).join(', ')} had not delivered past ${clockText(o.endMs)} by the wait bound`;
      return { ...last, status: last.objects.length ? 'partial' : 'missing', why };
    }
    o.log(
      `${o.label}: waiting for access logs past ${clockText(o.endMs)} — ${last.nodes.size ? `${last.nodes.size - behind.length} of ${last.nodes.size} LB node(s) delivered` : 'no object yet'}${listError ? ` (listing failed: ${listError})` : ''}, ${Math.ceil(left / 1000)} s left${attempt === 0 && (o.intervalMs ?? ALB_LOG_INTERVAL_MS) === ALB_LOG_INTERVAL_MS ? ' (ALBs deliver every 5 minutes)' : ''}`,
    );
    await o.clock.sleep(Math.min(o.pollMs, left), o.signal).catch(() => {});
  }
}

/**
 * Reads the objects and keeps the entries whose User-Agent is `userAgent`, each with its LB node;
 * with `minutes`, also counts the 5xx of every client in [startMs, endMs) by response time, split
 * as CloudWatch splits them (the same scope as its metrics, for the cross-check).
 */
export async function readCellEntries(
  store: AccessLogStore,
  bucket: string,
  objects: LogObjects['objects'],
  userAgent: string,
  minutes?: { startMs: number; endMs: number },
): Promise<{ entries: CellLogEntry[]; read: number; minutes?: MinuteFiveXX }> {
  const entries: CellLogEntry[] = [];
  let read = 0;
  const counted: MinuteFiveXX = { elb5xx: 0, target5xx: 0, ofCell: 0 };
  for (const o of objects) {
    const bytes = await store.getObject(bucket, o.key);
    for await (const e of parseAlbLogObject(bytes, `s3://${bucket}/${o.key}`)) {
      read++;
      const mine = e.userAgent === userAgent;
      if (mine) entries.push({ ...e, lbNode: o.parsed.nodeIp });
      const kind = minutes && e.timeMs >= minutes.startMs && e.timeMs < minutes.endMs ? fiveXXKind(e) : undefined;
      if (kind) {
        counted[kind]++;
        if (mine) counted.ofCell++;
      }
    }
  }
  return { entries, read, ...(minutes ? { minutes: counted } : {}) };
}
