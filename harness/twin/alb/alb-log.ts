/**
 * The ALB access-log entry as the ALB user guide documents it ("Access log entries": every field
 * in order, space-delimited, some enclosed in double quotes) and the S3 key of a delivered log
 * file ("Access log files"). Pure: the data plane fills an `AlbLogEntry`, this renders it.
 */

/** The documented fields of an HTTP entry, in order; quoted ones are written in double quotes. */
export const ALB_LOG_FIELDS = [
  { name: 'type', quoted: false },
  { name: 'time', quoted: false },
  { name: 'elb', quoted: false },
  { name: 'client:port', quoted: false },
  { name: 'target:port', quoted: false },
  { name: 'request_processing_time', quoted: false },
  { name: 'target_processing_time', quoted: false },
  { name: 'response_processing_time', quoted: false },
  { name: 'elb_status_code', quoted: false },
  { name: 'target_status_code', quoted: false },
  { name: 'received_bytes', quoted: false },
  { name: 'sent_bytes', quoted: false },
  { name: 'request', quoted: true },
  { name: 'user_agent', quoted: true },
  { name: 'ssl_cipher', quoted: false },
  { name: 'ssl_protocol', quoted: false },
  { name: 'target_group_arn', quoted: false },
  { name: 'trace_id', quoted: true },
  { name: 'domain_name', quoted: true },
  { name: 'chosen_cert_arn', quoted: true },
  { name: 'matched_rule_priority', quoted: false },
  { name: 'request_creation_time', quoted: false },
  { name: 'actions_executed', quoted: true },
  { name: 'redirect_url', quoted: true },
  { name: 'error_reason', quoted: true },
  { name: 'target:port_list', quoted: true },
  { name: 'target_status_code_list', quoted: true },
  { name: 'classification', quoted: true },
  { name: 'classification_reason', quoted: true },
  { name: 'conn_trace_id', quoted: false },
] as const;

/** One request as the ALB logs it. Times are model ms since the epoch; durations model seconds, -1 where documented. */
export interface AlbLogEntry {
  /** The response to the client was generated (the `time` field). */
  time: number;
  /** `app/<name>/<id>`. */
  elb: string;
  /** `ip:port` of the client. */
  client: string;
  /** `ip:port` of the target, or '-' when the request was not dispatched. */
  target: string;
  requestProcessingTime: number;
  targetProcessingTime: number;
  responseProcessingTime: number;
  elbStatusCode: number;
  /** null: no response came from a target ('-'). */
  targetStatusCode: number | null;
  receivedBytes: number;
  sentBytes: number;
  /** `METHOD http://host:port/path?query HTTP/1.1`. */
  request: string;
  /** The User-Agent header, or '-'. */
  userAgent: string;
  targetGroupArn: string;
  /** The X-Amzn-Trace-Id header as forwarded to the target. */
  traceId: string;
  /** The request arrived (`request_creation_time`). */
  requestCreationTime: number;
  /** `TID_` and 32 hex digits, one per client connection. */
  connTraceId: string;
  /** The listener's protocol (the `type` field); http when absent. */
  type?: 'http' | 'https';
  /** HTTPS: the SNI server name, the cipher (OpenSSL name) and the protocol of the client connection. */
  tls?: { domainName: string; cipher: string; protocol: string };
  /** The priority of the rule that matched; 0 (the default action) when absent. */
  matchedRulePriority?: number;
  /** forward (the default), fixed-response or redirect. */
  actionExecuted?: string;
}

/** The documented limit of the user_agent field. */
const USER_AGENT_MAX = 8 * 1024;

/** The last second `isoMicros` rendered: consecutive entries mostly fall in the same second. */
let isoSecond = NaN;
let isoSecondText = '';

/** Model ms since the epoch as ISO 8601 with microseconds, e.g. `2018-07-02T22:23:00.186641Z`. */
export function isoMicros(ms: number): string {
  const second = Math.floor(ms / 1000) * 1000;
  if (second !== isoSecond) {
    isoSecondText = new Date(second).toISOString().slice(0, 19);
    isoSecond = second;
  }
  const micros = Math.min(999_999, Math.floor((ms - second) * 1000));
  return `${isoSecondText}.${String(micros).padStart(6, '0')}Z`;
}

/** A processing time: seconds with millisecond precision, or -1. */
function seconds(value: number): string {
  return value < 0 ? '-1' : value.toFixed(3);
}

/** Inside a quoted field a double quote would end the field: the twin writes it as \" (the guide says nothing). */
function quote(value: string): string {
  if (!NEEDS_ESCAPE.test(value)) return `"${value}"`;
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

const NEEDS_ESCAPE = /["\\]/;

/** Renders one entry as one line (no newline), every field in the documented order. Runs once per request: one template, no arrays. */
export function formatAlbLogLine(e: AlbLogEntry): string {
  const userAgent = e.userAgent.length > USER_AGENT_MAX ? e.userAgent.slice(0, USER_AGENT_MAX) : e.userAgent;
  const targetStatus = e.targetStatusCode === null ? '-' : String(e.targetStatusCode);
  const tls = e.tls;
  return (
    `${e.type ?? 'http'} ${isoMicros(e.time)} ${e.elb} ${e.client} ${e.target} ` +
    `${seconds(e.requestProcessingTime)} ${seconds(e.targetProcessingTime)} ${seconds(e.responseProcessingTime)} ` +
    `${e.elbStatusCode} ${targetStatus} ${e.receivedBytes} ${e.sentBytes} ${quote(e.request)} ${quote(userAgent || '-')} ` +
    `${tls?.cipher ?? '-'} ${tls?.protocol ?? '-'} ${e.targetGroupArn || '-'} ${quote(e.traceId)} ${quote(tls?.domainName || '-')} ` +
    // chosen_cert_arn: the twin's certificate has no ARN of its own. The rule that matched: 0 is the listener's default action.
    `"-" ${e.matchedRulePriority ?? 0} ${isoMicros(e.requestCreationTime)} ${quote(e.actionExecuted ?? 'forward')} "-" ` +
    // Error reason codes are documented for authenticate, Lambda, WAF and weighted target groups only.
    `"-" ${quote(e.target)} "${targetStatus}" "-" "-" ${e.connTraceId}`
  );
}

/** `20140215T2340Z`: the documented end-time of a log file. */
export function endTimeStamp(ms: number): string {
  const iso = new Date(ms).toISOString();
  return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}T${iso.slice(11, 13)}${iso.slice(14, 16)}Z`;
}

/** Where one LB node's log file of one interval goes (without the bucket). */
export function albLogObjectKey(input: {
  prefix: string;
  account: string;
  region: string;
  /** `app/<name>/<id>`: slashes become periods in the file name. */
  elb: string;
  /** The interval ended, model ms. */
  endTime: number;
  /** The file was delivered, model ms: the date folders. */
  deliveredAt: number;
  nodeIp: string;
  random: string;
}): string {
  const day = new Date(input.deliveredAt).toISOString().slice(0, 10).replace(/-/g, '/');
  // The stamp has minute resolution: an interval shorter than a minute (alb.accessLogs.intervalSeconds
  // below 60) is stamped with the minute it ends by, so no entry is later than its file's end-time.
  const endMinute = Math.ceil(input.endTime / 60_000) * 60_000;
  const file = `${input.account}_elasticloadbalancing_${input.region}_${input.elb.replace(/\//g, '.')}_${endTimeStamp(endMinute)}_${input.nodeIp}_${input.random}.log.gz`;
  const head = input.prefix ? `${input.prefix.replace(/\/+$/, '')}/` : '';
  return `${head}AWSLogs/${input.account}/elasticloadbalancing/${input.region}/${day}/${file}`;
}

/** The load balancer's resource id `app/<name>/<id>` from its ARN (the LoadBalancer dimension too). */
export function loadBalancerResourceId(arn: string): string {
  return arn.slice(arn.indexOf(':loadbalancer/') + ':loadbalancer/'.length);
}

/** The target group's `targetgroup/<name>/<id>` from its ARN (the TargetGroup dimension). */
export function targetGroupResourceId(arn: string): string {
  return arn.slice(arn.lastIndexOf(':') + 1);
}
