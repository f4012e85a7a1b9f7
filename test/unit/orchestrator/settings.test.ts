import { describe, expect, it } from 'vitest';
import { describeConfig, preStopFor, withDelay } from '../../../harness/orchestrator/settings.ts';
import { parseSpec } from '../../../harness/matrix/load.ts';

describe('settings helpers', () => {
  it('sets the deregistration delay in the annotation and keeps other attributes', () => {
    expect(withDelay(undefined, 30)).toBe('deregistration_delay.timeout_seconds=30');
    expect(withDelay('slow_start.duration_seconds=30,deregistration_delay.timeout_seconds=300', 0)).toBe('slow_start.duration_seconds=30,deregistration_delay.timeout_seconds=0');
  });

  it('writes preStop as exec sleep or the native sleep action, and none for 0', () => {
    expect(preStopFor(0, 'exec')).toBeNull();
    expect(preStopFor(15, 'exec')).toEqual({ exec: { command: ['sleep', '15'] } });
    expect(preStopFor(15, 'native')).toEqual({ sleep: { seconds: 15 } });
  });

  it('describes exactly what a config changes', () => {
    const { spec } = parseSpec({ matrix: { preStopSeconds: [5], terminationGracePeriodSeconds: [30], readinessGate: [true], deregistrationDelaySeconds: [20] }, disruptions: ['rollout'] });
    expect(describeConfig({ preStopSeconds: 5, terminationGracePeriodSeconds: 30, readinessGate: true, deregistrationDelaySeconds: 20 }, spec, { namespace: 'shop', deployment: 'web', ingress: 'web' })).toEqual([
      'deployment shop/web: preStop={"exec":{"command":["sleep","5"]}}, terminationGracePeriodSeconds=30',
      'namespace shop: label elbv2.k8s.aws/pod-readiness-gate-inject=enabled',
      'ingress shop/web: annotation alb.ingress.kubernetes.io/target-group-attributes with deregistration_delay.timeout_seconds=20',
      'roll out so every pod carries these settings, then wait until every target is healthy',
    ]);
  });
});
