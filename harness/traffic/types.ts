/** The traffic driver port: both drivers (built-in, k6) produce this result. */
import type { RequestTimings } from './timing.ts';

/** One entry of the request mix. */
export interface MixEntry {
  path: string;
  weight: number;
}

/** What to send. Rates and durations are real (not model) time. */
export interface TrafficPlan {
  /** Base URL, e.g. http://127.0.0.1:41234 */
  url: string;
  /** Requests per second (open model: sent on schedule even when earlier ones hang). */
  rate: number;
  durationSeconds: number;
  /** Per-request timeout; a request that takes longer counts as a network error `timeout`. */
  timeoutSeconds: number;
  mix: MixEntry[];
  /**
   * The User-Agent every request carries, e.g. `rollout-harness/0.1.0 <run-id>/<cell-id>`: the ALB
   * logs it, so a cell's entries can be picked out of a busy load balancer's access log.
   */
  userAgent?: string;
  /** The Host header every request carries (a listener rule's host), when it differs from the URL's host. */
  hostHeader?: string;
  /** TLS for an https URL: the server name sent and verified, an extra CA, or no verification at all. */
  tls?: TrafficTls;
}

/** How an HTTPS connection is made and checked. */
export interface TrafficTls {
  /** The name sent as SNI and checked against the certificate (default: the URL's host). */
  servername?: string;
  /** A PEM file of a CA trusted besides the system roots (the twin's). */
  caFile?: string;
  /** Accept any certificate (`traffic.insecureSkipTLSVerify`). */
  insecureSkipVerify?: boolean;
}

/** Counts of one second of traffic, by status ("200", "502", ...) and network error code. */
export interface SecondBucket {
  /** Seconds since the traffic started. */
  second: number;
  byStatus: Record<string, number>;
  networkErrors: number;
}

/** A request that did not get a 2xx. */
export interface FailedRequest {
  /** Epoch ms (real) the request was sent. */
  sentAt: number;
  /** Epoch ms (real) it ended (answered or failed). */
  endedAt: number;
  path: string;
  status?: number;
  /** Network error code, e.g. ECONNRESET, timeout. */
  error?: string;
}

/**
 * Requests still in flight when the traffic was stopped (or aborted): sent, then cut by the
 * driver before an answer. Neither answered nor failed: left out of the 5xx and of the achieved
 * share. Behind an ALB they show up as 460 (client closed) in its log.
 */
export interface CutAtStop {
  count: number;
  /** Epoch ms (real) each cut request was sent, earliest first; at most a bounded number kept (count stays exact). */
  sentAt: number[];
}

/**
 * What a traffic run measured. Accounting is exact:
 * sent = Σ byStatus + Σ networkErrors + cutAtStop.count.
 */
export interface TrafficResult {
  driver: string;
  /** Requests due from the first request's due time until the end of the plan (or the stop). */
  planned: number;
  sent: number;
  byStatus: Record<string, number>;
  networkErrors: Record<string, number>;
  cutAtStop: CutAtStop;
  series: SecondBucket[];
  failures: FailedRequest[];
  /** Epoch ms (real) of the first scheduled request. */
  startedAt: number;
  endedAt: number;
  /** Set when the run did not complete as planned (aborted, driver crashed). */
  incomplete?: string;
  /** Send time, duration and status of every answered or failed request: latency, schedule and rate over time. */
  timings?: RequestTimings;
  /** Epoch ms request 0 was due (open model: request n is due rate⁻¹·n later); default `startedAt`. */
  scheduleOrigin?: number;
}

/** Live counters for progress output. */
export interface TrafficProgress {
  sent: number;
  fiveXX: number;
  networkErrors: number;
}
