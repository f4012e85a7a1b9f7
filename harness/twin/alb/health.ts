/**
 * Health checks: the pure state-machine step that turns one check's outcome into the target's
 * next state, and the real HTTP probe (clock-driven timeout, blackholed hosts time out).
 */
import http from 'node:http';
import { stallTolerantTimeout, type Clock } from '../../core/clock.ts';
import type { Network } from '../network.ts';
import type { TargetState } from './types.ts';

/** What one probe saw: a status, no answer within the timeout, or a connection error. */
export type ProbeResult = { kind: 'status'; status: number } | { kind: 'timeout' } | { kind: 'error'; detail: string };

/** Runs one health check against `host:port` + `path`, answering within `timeoutMs` model ms. */
export type HealthProbe = (target: { host: string; port: number; path: string }, timeoutMs: number) => Promise<ProbeResult>;

/** A failed check, with the ELBv2 reason code and description. */
export interface CheckFailure {
  reason: 'Target.ResponseCodeMismatch' | 'Target.Timeout' | 'Target.FailedHealthChecks';
  description: string;
}

/** Classifies a probe result against the matcher: null = passed. */
export function classifyProbe(result: ProbeResult, matches: (status: number) => boolean): CheckFailure | null {
  switch (result.kind) {
    case 'status':
      return matches(result.status)
        ? null
        : { reason: 'Target.ResponseCodeMismatch', description: `Health checks failed with these codes: [${result.status}]` };
    case 'timeout':
      return { reason: 'Target.Timeout', description: 'Request timed out' };
    case 'error':
      return { reason: 'Target.FailedHealthChecks', description: 'Health checks failed' };
  }
}

/** The states in which a target is health-checked. */
export type CheckedState = Extract<TargetState, 'initial' | 'healthy' | 'unhealthy'>;

/** Where a checked target stands: its state and its consecutive passes/failures. */
export interface HealthStanding {
  state: CheckedState;
  passes: number;
  failures: number;
  reason?: string;
  description?: string;
}

/** Thresholds of the state machine. */
export interface Thresholds {
  /** Passing checks a newly registered target needs (1 or the healthy threshold). */
  newTargetPassingChecks: number;
  healthyThreshold: number;
  unhealthyThreshold: number;
}

/** ELBv2's descriptions of the reason codes the twin sets outside health checks. */
export const reasonDescriptions: Record<string, string> = {
  'Elb.RegistrationInProgress': 'Target registration is in progress',
  'Elb.InitialHealthChecking': 'Initial health checks in progress',
  'Target.DeregistrationInProgress': 'Target deregistration is in progress',
  'Target.NotRegistered': 'Target is not registered to the target group',
  'Target.NotInUse': 'Target group is not configured to receive traffic from the load balancer',
};

/** One step of the target state machine: the standing after a check that passed (`failure` null) or failed. */
export function healthStep(current: HealthStanding, failure: CheckFailure | null, t: Thresholds): HealthStanding {
  const passes = failure ? 0 : current.passes + 1;
  const failures = failure ? current.failures + 1 : 0;
  const failed = failure ? { reason: failure.reason, description: failure.description } : {};
  switch (current.state) {
    case 'initial':
      if (!failure && passes >= t.newTargetPassingChecks) return { state: 'healthy', passes, failures };
      if (failure && failures >= t.unhealthyThreshold) return { state: 'unhealthy', passes, failures, ...failed };
      return {
        state: 'initial',
        passes,
        failures,
        reason: 'Elb.InitialHealthChecking',
        description: reasonDescriptions['Elb.InitialHealthChecking'],
      };
    case 'healthy':
      if (failure && failures >= t.unhealthyThreshold) return { state: 'unhealthy', passes, failures, ...failed };
      return { state: 'healthy', passes, failures };
    case 'unhealthy':
      if (!failure && passes >= t.healthyThreshold) return { state: 'healthy', passes, failures };
      // Keeps the last failure's reason while passes accumulate.
      return failure
        ? { state: 'unhealthy', passes, failures, ...failed }
        : { state: 'unhealthy', passes, failures, reason: current.reason, description: current.description };
  }
}

/**
 * Health-check timeouts never go below this many real ms: at a fast time scale the 5 s default is
 * a few hundred real ms, close to a loaded machine's scheduling delays for the target's process.
 */
const MIN_REAL_CHECK_TIMEOUT_MS = 250;

/** The real probe: an HTTP GET like ELB-HealthChecker/2.0, timed out through the clock. */
export function httpProbe(deps: { clock: Clock; network: Network }): HealthProbe {
  return async ({ host, port, path }, timeoutMs) => {
    // An instance that is gone drops the SYN: the check can only time out.
    if (deps.network.isBlackholed(host, port)) {
      await deps.clock.sleep(timeoutMs);
      return { kind: 'timeout' };
    }
    return new Promise<ProbeResult>((resolve) => {
      let settled = false;
      const finish = (result: ProbeResult) => {
        if (settled) return;
        settled = true;
        timer.cancel();
        resolve(result);
      };
      const req = http.get(
        { host, port, path, agent: false, headers: { 'user-agent': 'ELB-HealthChecker/2.0', connection: 'close' } },
        (res) => {
          res.resume();
          finish({ kind: 'status', status: res.statusCode ?? 0 });
          res.on('error', () => undefined);
        },
      );
      // The timeout discounts the twin's own stalls and never goes below MIN_REAL_CHECK_TIMEOUT_MS.
      const timer = stallTolerantTimeout(
        deps.clock,
        () => {
          finish({ kind: 'timeout' });
          req.destroy();
        },
        Math.max(timeoutMs, deps.clock.toModelMs(MIN_REAL_CHECK_TIMEOUT_MS)),
      );
      req.on('error', (err: NodeJS.ErrnoException) => finish({ kind: 'error', detail: err.code ?? err.message }));
    });
  };
}
