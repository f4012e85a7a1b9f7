import { describe, expect, it } from 'vitest';
import { healthCheckFromAnnotations, parseAttributes } from '../../../../harness/twin/lbc/controller.ts';

describe('Ingress annotations', () => {
  it('parses target-group-attributes', () => {
    expect(parseAttributes('deregistration_delay.timeout_seconds=30, slow_start.duration_seconds=0')).toEqual({
      'deregistration_delay.timeout_seconds': '30',
      'slow_start.duration_seconds': '0',
    });
    expect(parseAttributes(undefined)).toEqual({});
    expect(parseAttributes('junk,,a=b=c')).toEqual({ a: 'b=c' });
  });

  it('maps health-check annotations to the target group health check', () => {
    const a = 'alb.ingress.kubernetes.io/';
    expect(
      healthCheckFromAnnotations({
        [`${a}healthcheck-path`]: '/healthz',
        [`${a}healthcheck-interval-seconds`]: '5',
        [`${a}healthy-threshold-count`]: '3',
        [`${a}success-codes`]: '200-299',
        other: 'x',
      }),
    ).toEqual({ path: '/healthz', intervalSeconds: 5, healthyThreshold: 3, matcher: '200-299' });
  });
});
