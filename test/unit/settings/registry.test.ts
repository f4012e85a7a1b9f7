/**
 * Each registry entry through its whole lifecycle against the stand-in ports: recorded, applied
 * (read back as the config says), restored (read back as recorded), the run's markers gone. Each
 * restore expectation fails when restore skips that entry: the applied value differs from the
 * original, and is read back.
 */
import { describe, expect, it } from 'vitest';
import { describeConfig, markObjects, restoreSettings, settingsDiffering, snapshotSettings, applySettings } from '../../../harness/orchestrator/settings.ts';
import { expandConfigs } from '../../../harness/matrix/expand.ts';
import { parseSpec } from '../../../harness/matrix/load.ts';
import type { CellConfig } from '../../../harness/matrix/schema.ts';
import { RUN_MARKER } from '../../../harness/core/labels.ts';
import type { ManualClock } from '../../../harness/core/clock.ts';
import { SETTINGS, TG_ATTRIBUTES_ANNOTATION } from '../../../harness/settings/registry.ts';
import type { DelayChannel } from '../../../harness/settings/types.ts';
import { DELAY, world } from '../../helpers/settings-world.ts';

const ALB = 'alb.ingress.kubernetes.io/';
const base = { preStopSeconds: [5], terminationGracePeriodSeconds: [30], readinessGate: [false], deregistrationDelaySeconds: [30] };

type World = ReturnType<typeof world>;

/** One optional axis: two values, where the first shows on the stand-in cluster, and what it was before. */
interface Case {
  axis: keyof CellConfig;
  values: [unknown, unknown];
  now(w: World): unknown;
  /** The stand-in's value before the run. */
  before: unknown;
  via?: DelayChannel;
}

const strategy = (w: World, k: string) => w.dep.spec.strategy?.rollingUpdate?.[k];
const annotation = (w: World, k: string) => w.ing.metadata?.annotations?.[`${ALB}${k}`];

const CASES: Case[] = [
  { axis: 'maxSurge', values: ['100%', 1], now: (w) => strategy(w, 'maxSurge'), before: undefined },
  { axis: 'maxUnavailable', values: [0, '25%'], now: (w) => strategy(w, 'maxUnavailable'), before: undefined },
  { axis: 'minReadySeconds', values: [10, 0], now: (w) => w.dep.spec.minReadySeconds, before: undefined },
  { axis: 'replicas', values: [4, 2], now: (w) => w.dep.spec.replicas, before: undefined },
  { axis: 'healthCheckIntervalSeconds', values: [5, 15], now: (w) => annotation(w, 'healthcheck-interval-seconds'), before: undefined },
  { axis: 'healthCheckTimeoutSeconds', values: [2, 5], now: (w) => annotation(w, 'healthcheck-timeout-seconds'), before: undefined },
  { axis: 'healthyThresholdCount', values: [2, 5], now: (w) => annotation(w, 'healthy-threshold-count'), before: undefined },
  { axis: 'unhealthyThresholdCount', values: [2, 3], now: (w) => annotation(w, 'unhealthy-threshold-count'), before: undefined },
  { axis: 'healthCheckPath', values: ['/healthz', '/'], now: (w) => annotation(w, 'healthcheck-path'), before: undefined },
  { axis: 'slowStartSeconds', values: [60, 0], now: (w) => w.attributes['slow_start.duration_seconds'], before: undefined },
  { axis: 'slowStartSeconds', values: [60, 0], now: (w) => w.attributes['slow_start.duration_seconds'], before: undefined, via: 'api' },
  { axis: 'loadBalancingAlgorithm', values: ['least_outstanding_requests', 'weighted_random'], now: (w) => w.attributes['load_balancing.algorithm.type'], before: undefined },
  { axis: 'loadBalancingAlgorithm', values: ['least_outstanding_requests', 'weighted_random'], now: (w) => w.attributes['load_balancing.algorithm.type'], before: undefined, via: 'api' },
];

describe('each optional axis: snapshot → apply → read back → restore → read back', () => {
  for (const c of CASES) {
    it(`${c.axis}${c.via ? ` (through the ${c.via})` : ''}`, async () => {
      const w = world({ via: c.via ?? 'ingress', controller: true });
      const { spec } = parseSpec({ matrix: { ...base, [c.axis]: c.values }, disruptions: ['rollout'] });
      const original = await snapshotSettings(w.target, spec);
      expect(Object.keys(original.axes ?? {})).toEqual([c.axis]);
      await markObjects(w.target, 'r1');
      const config = expandConfigs(spec.matrix)[0];
      await applySettings(w.target, spec, config, () => {});
      expect(String(c.now(w))).toBe(String(c.values[0]));
      expect(await settingsDiffering(w.target, spec, config)).toEqual([]);
      const { differences, kept } = await restoreSettings(w.target, original, 'r1', () => {}, { spec });
      expect(c.now(w) ?? undefined).toEqual(
        c.axis === 'slowStartSeconds' ? '0' : c.axis === 'loadBalancingAlgorithm' ? 'round_robin' : c.before,
      );
      expect(w.ing.metadata?.annotations?.[TG_ATTRIBUTES_ANNOTATION]).toBeUndefined();
      expect(w.attributes[DELAY]).toBe('300');
      expect({ differences, kept }).toEqual({ differences: [], kept: [] });
      expect(w.dep.metadata?.annotations?.[RUN_MARKER]).toBeUndefined();
    });
  }

  it('leaves an axis the spec does not name alone: not recorded, not touched', async () => {
    const w = world({ via: 'ingress', controller: true });
    w.dep.spec.replicas = 3;
    const { spec } = parseSpec({ matrix: base, disruptions: ['rollout'] });
    const original = await snapshotSettings(w.target, spec);
    expect(original.axes).toBeUndefined();
    await markObjects(w.target, 'r1');
    await applySettings(w.target, spec, expandConfigs(spec.matrix)[0], () => {});
    w.dep.spec.replicas = 5; // an autoscaler's
    const { kept, differences } = await restoreSettings(w.target, original, 'r1', () => {}, { spec });
    expect(w.dep.spec.replicas).toBe(5);
    expect({ kept, differences }).toEqual({ kept: [], differences: [] });
  });

  it('keeps an optional axis changed since the run set it, and says so', async () => {
    const w = world({ via: 'ingress', controller: true });
    w.dep.spec.strategy = { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } };
    const { spec } = parseSpec({ matrix: { ...base, maxSurge: ['100%'] }, disruptions: ['rollout'] });
    const original = await snapshotSettings(w.target, spec);
    await markObjects(w.target, 'r1');
    await applySettings(w.target, spec, expandConfigs(spec.matrix)[0], () => {});
    w.dep.spec.strategy.rollingUpdate.maxSurge = 3; // someone else's
    const { kept } = await restoreSettings(w.target, original, 'r1', () => {}, { spec });
    expect(kept).toEqual(['deployment shop/web: spec.strategy.rollingUpdate.maxSurge is 3 (changed since the run set it; 25% before the run): left as it is']);
    expect(strategy(w, 'maxSurge')).toBe(3);
    expect(strategy(w, 'maxUnavailable')).toBe('25%');
  });
});

describe('a health-check axis: restore reads the target group\'s own health check back', () => {
  const { spec } = parseSpec({ matrix: { ...base, healthCheckIntervalSeconds: [5] }, disruptions: ['rollout'] });

  /** Records, applies (the controller applies the annotation), then restores with the controller as `after`; moves the manual clock meanwhile. */
  async function run(after: { stuck: boolean }) {
    const w = world({ via: 'ingress', controller: true });
    const original = await snapshotSettings(w.target, spec);
    expect(original.targetGroupHealthCheck).toEqual({ intervalSeconds: 15, timeoutSeconds: 5, healthyThresholdCount: 2, unhealthyThresholdCount: 2, path: '/' });
    await markObjects(w.target, 'r1');
    await applySettings(w.target, spec, expandConfigs(spec.matrix)[0], () => {});
    expect(w.healthCheck.intervalSeconds).toBe(5);
    if (after.stuck) {
      // From here on the controller applies nothing: the annotation goes back, the target group does not.
      const set = w.target.k8s.setIngressAnnotations.bind(w.target.k8s);
      w.target.k8s.setIngressAnnotations = async (ns, name, a) => {
        const interval = w.healthCheck.intervalSeconds;
        const out = await set(ns, name, a);
        w.healthCheck.intervalSeconds = interval;
        return out;
      };
    }
    const clock = w.target.clock as ManualClock;
    let report: Awaited<ReturnType<typeof restoreSettings>> | undefined;
    const done = restoreSettings(w.target, original, 'r1', () => {}, { spec }).then((r) => (report = r));
    for (let i = 0; i < 100 && !report; i++) await clock.advance(1000);
    await done;
    return { w, report: report! };
  }

  it('verifies when the controller put the target group back', async () => {
    const { w, report } = await run({ stuck: false });
    expect(w.healthCheck.intervalSeconds).toBe(15);
    expect({ differences: report.differences, kept: report.kept }).toEqual({ differences: [], kept: [] });
    expect(w.ns.metadata?.annotations?.[RUN_MARKER]).toBeUndefined();
  });

  it('reports the target group, expected against got, when it stays at the run\'s value (the markers stay)', async () => {
    const { w, report } = await run({ stuck: true });
    expect(w.ing.metadata?.annotations?.[`${ALB}healthcheck-interval-seconds`]).toBeUndefined();
    expect(report.differences).toEqual(['ingress shop/web: alb.ingress.kubernetes.io/healthcheck-interval-seconds is (unset) (target group intervalSeconds 5), was (unset) (target group intervalSeconds 15)']);
    expect(w.ns.metadata?.annotations?.[RUN_MARKER]).toBe('r1');
  });
});

describe('preStopAction', () => {
  it('switches the handler between exec and sleep without merging the two, and restores the exec one', async () => {
    const w = world({ via: 'api' });
    w.dep.spec.template.spec.containers[0].lifecycle = { preStop: { exec: { command: ['sleep', '3'] } } };
    const { spec } = parseSpec({ matrix: { ...base, preStopAction: ['sleep', 'exec'] }, disruptions: ['rollout'] });
    const original = await snapshotSettings(w.target, spec);
    await markObjects(w.target, 'r1');
    const [sleep, exec] = expandConfigs(spec.matrix);
    await applySettings(w.target, spec, sleep, () => {});
    expect(w.dep.spec.template.spec.containers[0].lifecycle).toEqual({ preStop: { sleep: { seconds: 5 } } });
    await applySettings(w.target, spec, exec, () => {});
    expect(w.dep.spec.template.spec.containers[0].lifecycle).toEqual({ preStop: { exec: { command: ['sleep', '5'] } } });
    await applySettings(w.target, spec, sleep, () => {});
    const { differences } = await restoreSettings(w.target, original, 'r1', () => {}, { spec });
    expect(w.dep.spec.template.spec.containers[0].lifecycle).toEqual({ preStop: { exec: { command: ['sleep', '3'] } } });
    expect(differences).toEqual([]);
  });
});

describe('the Deployment settings of a cell', () => {
  it('go out as one patch (one rollout), each read back', async () => {
    const w = world({ via: 'api' });
    const patches: unknown[] = [];
    const patch = w.target.k8s.patchDeployment.bind(w.target.k8s);
    w.target.k8s.patchDeployment = async (ns, name, p, kind) => (patches.push(p), patch(ns, name, p, kind));
    const { spec } = parseSpec({ matrix: { ...base, maxSurge: ['25%'], minReadySeconds: [5], replicas: [3] }, disruptions: ['rollout'] });
    const config = expandConfigs(spec.matrix)[0];
    await applySettings(w.target, spec, config, () => {});
    expect(patches).toHaveLength(1);
    expect(w.dep.spec).toMatchObject({ replicas: 3, minReadySeconds: 5, strategy: { rollingUpdate: { maxSurge: '25%' } }, template: { spec: { terminationGracePeriodSeconds: 30 } } });
    expect(await settingsDiffering(w.target, spec, config)).toEqual([]);
    w.dep.spec.replicas = 2;
    expect(await settingsDiffering(w.target, spec, config)).toEqual(['deployment shop/web: spec.replicas is 2, expected 3']);
  });
});

describe('plan', () => {
  it('shows each optional axis a config sets, on the object it changes', () => {
    const { spec } = parseSpec({ matrix: { ...base, maxSurge: ['25%'], healthCheckIntervalSeconds: [5], slowStartSeconds: [60], preStopAction: ['sleep'] }, disruptions: ['rollout'] });
    expect(describeConfig(expandConfigs(spec.matrix)[0], spec, { namespace: 'shop', deployment: 'web', ingress: 'web' })).toEqual([
      'deployment shop/web: preStop={"sleep":{"seconds":5}}, terminationGracePeriodSeconds=30, spec.strategy.rollingUpdate.maxSurge=25%',
      'namespace shop: label elbv2.k8s.aws/pod-readiness-gate-inject=(removed)',
      'ingress shop/web: annotation alb.ingress.kubernetes.io/healthcheck-interval-seconds=5',
      'ingress shop/web: annotation alb.ingress.kubernetes.io/target-group-attributes with deregistration_delay.timeout_seconds=30',
      'ingress shop/web: annotation alb.ingress.kubernetes.io/target-group-attributes with slow_start.duration_seconds=60',
      'roll out so every pod carries these settings, then wait until every target is healthy',
    ]);
  });

  it('has one entry per setting, each on a known object', () => {
    expect(new Set(SETTINGS.map((e) => e.key)).size).toBe(SETTINGS.length);
  });
});
