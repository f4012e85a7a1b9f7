import { describe, expect, it } from 'vitest';
import { classifyProbe, healthStep, type CheckFailure, type HealthStanding, type Thresholds } from '../../../../harness/twin/alb/health.ts';

const t: Thresholds = { newTargetPassingChecks: 1, healthyThreshold: 2, unhealthyThreshold: 2 };
const fail: CheckFailure = { reason: 'Target.ResponseCodeMismatch', description: 'Health checks failed with these codes: [503]' };
const timeout: CheckFailure = { reason: 'Target.Timeout', description: 'Request timed out' };

function run(start: HealthStanding, steps: Array<CheckFailure | null>, thresholds = t): HealthStanding[] {
  const out: HealthStanding[] = [];
  let s = start;
  for (const step of steps) out.push((s = healthStep(s, step, thresholds)));
  return out;
}

const initial: HealthStanding = { state: 'initial', passes: 0, failures: 0, reason: 'Elb.RegistrationInProgress' };

describe('healthStep', () => {
  it('a new target is healthy after one pass when newTargetPassingChecks is 1', () => {
    expect(run(initial, [null]).map((s) => s.state)).toEqual(['healthy']);
  });

  it('a new target needs HealthyThreshold passes when so configured, reporting InitialHealthChecking meanwhile', () => {
    const steps = run(initial, [null, null], { ...t, newTargetPassingChecks: 2 });
    expect(steps.map((s) => [s.state, s.reason])).toEqual([
      ['initial', 'Elb.InitialHealthChecking'],
      ['healthy', undefined],
    ]);
  });

  it('a new target turns unhealthy after UnhealthyThreshold failures, with the failure reason', () => {
    const steps = run(initial, [timeout, timeout]);
    expect(steps.map((s) => [s.state, s.reason])).toEqual([
      ['initial', 'Elb.InitialHealthChecking'],
      ['unhealthy', 'Target.Timeout'],
    ]);
    expect(steps[1].description).toBe('Request timed out');
  });

  it('healthy → unhealthy only after consecutive failures; a pass in between resets the count', () => {
    const healthy: HealthStanding = { state: 'healthy', passes: 3, failures: 0 };
    expect(run(healthy, [fail, null, fail]).map((s) => s.state)).toEqual(['healthy', 'healthy', 'healthy']);
    const steps = run(healthy, [fail, fail]);
    expect(steps.map((s) => s.state)).toEqual(['healthy', 'unhealthy']);
    expect(steps[1]).toMatchObject({ reason: 'Target.ResponseCodeMismatch', description: 'Health checks failed with these codes: [503]' });
  });

  it('unhealthy → healthy after HealthyThreshold passes, keeping the last reason until then', () => {
    const unhealthy: HealthStanding = { state: 'unhealthy', passes: 0, failures: 2, reason: 'Target.Timeout', description: 'Request timed out' };
    const steps = run(unhealthy, [null, null]);
    expect(steps.map((s) => [s.state, s.reason])).toEqual([
      ['unhealthy', 'Target.Timeout'],
      ['healthy', undefined],
    ]);
    expect(run(unhealthy, [null, fail, null]).map((s) => s.state)).toEqual(['unhealthy', 'unhealthy', 'unhealthy']);
  });
});

describe('classifyProbe', () => {
  const is200 = (s: number) => s === 200;
  it('names the reason of each kind of failure', () => {
    expect(classifyProbe({ kind: 'status', status: 200 }, is200)).toBeNull();
    expect(classifyProbe({ kind: 'status', status: 503 }, is200)).toEqual(fail);
    expect(classifyProbe({ kind: 'timeout' }, is200)).toEqual(timeout);
    expect(classifyProbe({ kind: 'error', detail: 'ECONNREFUSED' }, is200)?.reason).toBe('Target.FailedHealthChecks');
  });
});
