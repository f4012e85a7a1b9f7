/** Builds ALB access-log lines in the documented format (every field, in order, quoted as documented) for tests. */
import { parseAlbLogLine } from '../../../harness/explain/alb-log.ts';
import type { Cause, CellLogEntry } from '../../../harness/explain/attribute.ts';
import type { TimelineEvent } from '../../../harness/observe/timeline.ts';

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

export const ORIGIN = Date.UTC(2026, 9, 1, 12, 0, 0);
export const settings = { preStopSeconds: 5, terminationGracePeriodSeconds: 30, deregistrationDelaySeconds: 20 };

// p-old-1 and p-old-2 terminate at 10 (SIGTERM at 15, SIGKILL at 40), their targets drain at 11
// (the delay elapses at 31); p-new starts at 11, Ready at 20, its target healthy at 25; p-spot is
// on node n2, whose spot notice comes at 5 and whose instance is terminated at 35; p-run runs.
export const timeline: TimelineEvent[] = [
  { t: 0, type: 'stage', stage: 'traffic' },
  { t: 0, type: 'pod', pod: 'p-old-1', change: 'present', node: 'n1', ip: '10.0.0.1' },
  { t: 0, type: 'pod', pod: 'p-old-2', change: 'present', node: 'n1', ip: '10.0.0.5' },
  { t: 0, type: 'pod', pod: 'p-spot', change: 'present', node: 'n2', ip: '10.0.0.3' },
  { t: 0, type: 'pod', pod: 'p-run', change: 'present', node: 'n1', ip: '10.0.0.4' },
  { t: 0.2, type: 'target', target: '10.0.0.1:8080', state: 'healthy' },
  { t: 0.2, type: 'target', target: '10.0.0.5:8080', state: 'healthy' },
  { t: 0.2, type: 'target', target: '10.0.0.3:8080', state: 'healthy' },
  { t: 0.2, type: 'target', target: '10.0.0.4:8080', state: 'healthy' },
  { t: 5, type: 'disruption', action: 'spot-notice', detail: 'n2 (i-0abc123), termination in 30 s' },
  { t: 5.1, type: 'disruption', action: 'cordon', detail: 'n2' },
  { t: 10, type: 'pod', pod: 'p-old-1', change: 'terminating', node: 'n1', ip: '10.0.0.1' },
  { t: 10, type: 'pod', pod: 'p-old-2', change: 'terminating', node: 'n1', ip: '10.0.0.5' },
  { t: 11, type: 'pod', pod: 'p-new', change: 'created', node: 'n1' },
  { t: 11, type: 'target', target: '10.0.0.1:8080', state: 'draining', from: 'healthy' },
  { t: 11, type: 'target', target: '10.0.0.5:8080', state: 'draining', from: 'healthy' },
  { t: 12, type: 'target', target: '10.0.0.2:8080', state: 'initial' },
  { t: 20, type: 'pod', pod: 'p-new', change: 'ready', node: 'n1', ip: '10.0.0.2' },
  { t: 25, type: 'target', target: '10.0.0.2:8080', state: 'healthy', from: 'initial' },
  { t: 35, type: 'disruption', action: 'terminate-instance', detail: 'i-0abc123' },
  { t: 45, type: 'pod', pod: 'p-old-1', change: 'deleted', node: 'n1', ip: '10.0.0.1' },
];

export const cases: Array<[Cause, EntrySpec]> = [
  ['app-5xx', { t: 3, elb: 500, targetStatus: 500, target: '10.0.0.4:8080', path: '/boom' }],
  ['no-healthy-target', { t: 4, elb: 503, target: null, targetTime: null }],
  ['keepalive-race', { t: 8, elb: 502, targetStatus: null, target: '10.0.0.4:8080', targetTime: null }],
  ['routed-after-sigterm', { t: 20, elb: 502, targetStatus: null, target: '10.0.0.5:8080', targetTime: null }],
  ['registered-not-healthy', { t: 22, elb: 502, targetStatus: null, target: '10.0.0.2:8080', targetTime: null }],
  ['delay-elapsed-in-flight', { t: 28, elb: 502, targetStatus: null, target: '10.0.0.1:8080', targetTime: 3.5 }],
  ['grace-expired-in-flight', { t: 35, elb: 502, targetStatus: null, target: '10.0.0.5:8080', targetTime: 5.5 }],
  ['instance-gone', { t: 36, elb: 504, targetStatus: null, target: '10.0.0.3:8080', targetTime: null }],
  ['routed-to-gone-pod', { t: 50, elb: 502, targetStatus: null, target: '10.0.0.1:8080', targetTime: null }],
  ['unknown', { t: 52, elb: 504, targetStatus: null, target: '10.0.0.4:8080', targetTime: 10 }],
];

