/** Builds ALB access-log lines in the documented format (every field, in order, quoted as documented) for tests. */
import { parseAlbLogLine } from '../../../harness/explain/alb-log.ts';
import type { CellLogEntry } from '../../../harness/explain/attribute.ts';

/** What a test says about one entry; the rest takes plain values. Times are model seconds since `originMs`. */
export interface EntrySpec {
  /** When the ALB received the request. */
  t: number;
  /** target_processing_time (s); null = -1. Default 0.002. */
  targetTime?: number | null;
  elb: number;
  targetStatus?: number | null;
  /** ip:port, or null for `-`. */
  target: string | null;
  path?: string;
  userAgent?: string;
  traceId?: string;
  client?: string;
  errorReason?: string;
}

const iso = (ms: number) => {
  const s = new Date(Math.floor(ms)).toISOString();
  const micro = String(Math.round((ms - Math.floor(ms)) * 1000)).padStart(3, '0');
  return s.replace('Z', `${micro}Z`);
};

let traces = 0;

/** One log line as an ALB writes it. */
export function albLine(originMs: number, s: EntrySpec): string {
  const arrival = originMs + s.t * 1000;
  const targetTime = s.targetTime === undefined ? 0.002 : s.targetTime;
  const end = arrival + (targetTime ?? 0) * 1000 + 1;
  const q = (v: string) => `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  const targetStatus = s.targetStatus === undefined ? (s.target ? s.elb : null) : s.targetStatus;
  return [
    'http',
    iso(end),
    'app/k8s-shop-web-1a2b3c/0123456789abcdef',
    s.client ?? '127.0.0.1:50000',
    s.target ?? '-',
    '0.001',
    targetTime === null ? '-1' : targetTime.toFixed(3),
    targetTime === null ? '-1' : '0.000',
    String(s.elb),
    targetStatus === null ? '-' : String(targetStatus),
    '120',
    '272',
    q(`GET http://127.0.0.1:41234${s.path ?? '/'} HTTP/1.1`),
    q(s.userAgent ?? 'rollout-harness/0.1.0 run-1/cell-1'),
    '-',
    '-',
    'arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/k8s-shop-web/0123456789abcdef',
    q(s.traceId ?? `Root=1-00000000-${String(++traces).padStart(24, '0')}`),
    q('-'),
    q('-'),
    '0',
    iso(arrival),
    q('forward'),
    q('-'),
    q(s.errorReason ?? '-'),
    q(s.target ?? '-'),
    q(targetStatus === null ? '-' : String(targetStatus)),
    q('-'),
    q('-'),
    'TID_0123456789abcdef',
  ].join(' ');
}

/** The parsed entry of `albLine`, from LB node `lbNode`. */
export function albEntry(originMs: number, s: EntrySpec, lbNode = '10.0.1.10'): CellLogEntry {
  return { ...parseAlbLogLine(albLine(originMs, s)), lbNode };
}
