import { describe, expect, it } from 'vitest';
import { configureCell, describeConfig, preStopFor, snapshotSettings, withDelay } from '../../../harness/orchestrator/settings.ts';
import { parseSpec } from '../../../harness/matrix/load.ts';
import { expandConfigs } from '../../../harness/matrix/expand.ts';
import type { ManualClock } from '../../../harness/core/clock.ts';
import { world } from '../../helpers/settings-world.ts';

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

/** A stand-in world whose Deployment is rolled out, whose one pod carries the template, and whose target is healthy. */
function steadyWorld(opts: { stuckHealthCheck?: boolean }) {
  const w = world({ via: 'ingress', controller: true, ...opts });
  w.dep.spec.replicas = 1;
  w.dep.status = { observedGeneration: 0, updatedReplicas: 1, replicas: 1, availableReplicas: 1 };
  Object.assign(w.target.k8s, { listPods: async () => [{ metadata: { name: 'web-1' }, spec: structuredClone(w.dep.spec.template.spec) }] });
  Object.assign(w.target.elbv2, { describeTargetHealth: async () => [{ id: '127.0.1.1', port: 8080, state: 'healthy' }] });
  return w;
}

/** Runs `configureCell`, moving the stand-in's manual clock until it answers (bounded). */
async function configure(w: ReturnType<typeof world>, steadyTimeoutSeconds: number) {
  const { spec } = parseSpec({ matrix: { preStopSeconds: [5], terminationGracePeriodSeconds: [30], readinessGate: [false], deregistrationDelaySeconds: [30], healthCheckIntervalSeconds: [5] }, configure: { steadyTimeoutSeconds }, disruptions: ['rollout'] });
  const original = await snapshotSettings(w.target, spec);
  let outcome: Awaited<ReturnType<typeof configureCell>> | undefined;
  const done = configureCell(w.target, spec, expandConfigs(spec.matrix)[0], new AbortController().signal, () => {}, original).then((o) => (outcome = o));
  const clock = w.target.clock as ManualClock;
  for (let i = 0; i < 10 * steadyTimeoutSeconds && !outcome; i++) await clock.advance(1000);
  await done;
  return outcome;
}

describe('configure reads back the target group\'s own health check', () => {
  it('is configured once the controller applied the annotation to the target group', async () => {
    const w = steadyWorld({});
    expect(await configure(w, 30)).toEqual({ ok: true, detail: 'configured, verified and steady' });
    expect(w.healthCheck.intervalSeconds).toBe(5);
  });

  it('fails the cell, expected against got, when the target group never takes the value', async () => {
    const w = steadyWorld({ stuckHealthCheck: true });
    const outcome = await configure(w, 30);
    expect(outcome).toEqual({
      ok: false,
      reason: 'not applied within 30 s: ingress shop/web: alb.ingress.kubernetes.io/healthcheck-interval-seconds: the target group shows 15, expected 5',
    });
    expect(w.ing.metadata?.annotations?.['alb.ingress.kubernetes.io/healthcheck-interval-seconds']).toBe('5');
  });
});
