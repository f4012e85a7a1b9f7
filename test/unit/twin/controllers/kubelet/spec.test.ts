import { describe, expect, it } from 'vitest';
import { graceMs, hookOf, ownEnvOf, probePlanOf } from '../../../../../harness/twin/controllers/kubelet/spec.ts';

const container = { name: 'app', ports: [{ name: 'http', containerPort: 8080 }] };

describe('kubelet spec interpretation', () => {
  it('fills in the Kubernetes probe defaults and resolves a named port', () => {
    expect(probePlanOf({ ...container, readinessProbe: { httpGet: { path: '/readyz', port: 'http' } } })).toEqual({
      action: { kind: 'http', path: '/readyz', port: 8080 },
      initialDelayMs: 0,
      periodMs: 10_000,
      timeoutMs: 1_000,
      successThreshold: 1,
      failureThreshold: 3,
    });
    const tcp = probePlanOf({ ...container, readinessProbe: { tcpSocket: { port: 9000 }, periodSeconds: 2, timeoutSeconds: 3, successThreshold: 2, failureThreshold: 5, initialDelaySeconds: 4 } });
    expect(tcp).toEqual({ action: { kind: 'tcp', port: 9000 }, initialDelayMs: 4_000, periodMs: 2_000, timeoutMs: 3_000, successThreshold: 2, failureThreshold: 5 });
  });

  it('has no probe plan without a probe, or for a probe that only sleeps', () => {
    expect(probePlanOf(container)).toBeUndefined();
    expect(probePlanOf({ ...container, readinessProbe: { exec: { command: ['sleep', '1'] } } })).toBeUndefined();
  });

  it('turns preStop handlers into hooks; an exec that only sleeps runs on the clock', () => {
    expect(hookOf(container, { sleep: { seconds: 5 } })).toEqual({ kind: 'sleep', ms: 5_000 });
    expect(hookOf(container, { exec: { command: ['sh', '-c', 'sleep 7'] } })).toEqual({ kind: 'sleep', ms: 7_000 });
    expect(hookOf(container, { exec: { command: ['node', 'drain.mjs'] } })).toEqual({ kind: 'exec', command: ['node', 'drain.mjs'] });
    expect(hookOf(container, { httpGet: { path: '/drain', port: 'http' } })).toEqual({ kind: 'http', path: '/drain', port: 8080 });
    expect(hookOf(container, undefined)).toBeUndefined();
  });

  it('takes the grace period from the deletion, else the spec, else 30 s', () => {
    const pod = (metadata: Record<string, unknown>, spec: Record<string, unknown>) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', ...metadata }, spec });
    expect(graceMs(pod({ deletionGracePeriodSeconds: 5 }, { terminationGracePeriodSeconds: 60 }))).toBe(5_000);
    expect(graceMs(pod({}, { terminationGracePeriodSeconds: 60 }))).toBe(60_000);
    expect(graceMs(pod({}, {}))).toBe(30_000);
  });

  it('builds the container env from literal values and the downward-API fields it knows', () => {
    const env = [
      { name: 'A', value: 1 },
      { name: 'MY_POD', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: 'UNKNOWN', valueFrom: { fieldRef: { fieldPath: 'metadata.labels' } } },
    ];
    expect(ownEnvOf({ env }, { 'metadata.name': 'web-1' })).toEqual({ A: '1', MY_POD: 'web-1' });
  });
});
