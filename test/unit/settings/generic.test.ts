/**
 * Generic axes (`axes:`): recorded at the paths their patches name, applied as original-then-value,
 * read back, and restored — each restore expectation fails when restore skips the axis.
 */
import { describe, expect, it } from 'vitest';
import { applySettings, describeConfig, markObjects, restoreSettings, settingsDiffering, snapshotSettings } from '../../../harness/orchestrator/settings.ts';
import { expandCells, expandConfigs } from '../../../harness/matrix/expand.ts';
import { parseSpec } from '../../../harness/matrix/load.ts';
import { ConfigError } from '../../../harness/core/errors.ts';
import { world } from '../../helpers/settings-world.ts';

const base = { preStopSeconds: [5], terminationGracePeriodSeconds: [30], readinessGate: [false], deregistrationDelaySeconds: [30] };
const env = (value: string) => ({ spec: { template: { spec: { containers: [{ name: 'app', env: [{ name: 'KEEPALIVE_TIMEOUT_MS', value }] }] } } } });

describe('a generic deployment axis (the issue\'s keep-alive example)', () => {
  const { spec } = parseSpec({ matrix: base, axes: { keepalive: { object: 'deployment', values: { 'node-default': env('5000'), 'above-alb': env('65000') } } }, disruptions: ['rollout'] });

  it('names cells by its value', () => {
    expect(expandCells(spec).map((c) => c.id)).toEqual(['rollout.gate-off.prestop-5.grace-30.dereg-30.keepalive-node-default.r1', 'rollout.gate-off.prestop-5.grace-30.dereg-30.keepalive-above-alb.r1']);
  });

  it('sets each value, reads it back, and restores the container as it was (the variable removed)', async () => {
    const w = world({ via: 'api' });
    w.dep.spec.template.spec.containers[0].env = [{ name: 'OTHER', value: 'x' }];
    const original = await snapshotSettings(w.target, spec);
    expect(original.generic).toEqual({ keepalive: { spec: { template: { spec: { containers: [{ name: 'app', env: [{ name: 'KEEPALIVE_TIMEOUT_MS', $patch: 'delete' }] }] } } } } });
    await markObjects(w.target, 'r1');
    const [nodeDefault, aboveAlb] = expandConfigs(spec.matrix, spec.axes);
    await applySettings(w.target, spec, aboveAlb, () => {}, original);
    expect(w.dep.spec.template.spec.containers[0].env).toEqual([{ name: 'OTHER', value: 'x' }, { name: 'KEEPALIVE_TIMEOUT_MS', value: '65000' }]);
    expect(await settingsDiffering(w.target, spec, aboveAlb, original)).toEqual([]);
    await applySettings(w.target, spec, nodeDefault, () => {}, original);
    expect(w.dep.spec.template.spec.containers[0].env).toEqual([{ name: 'OTHER', value: 'x' }, { name: 'KEEPALIVE_TIMEOUT_MS', value: '5000' }]);
    const { differences, kept } = await restoreSettings(w.target, original, 'r1', () => {}, { spec });
    expect(w.dep.spec.template.spec.containers[0].env).toEqual([{ name: 'OTHER', value: 'x' }]);
    expect({ differences, kept }).toEqual({ differences: [], kept: [] });
  });
});

describe('a generic deployment axis and the built-in Deployment settings', () => {
  it('go out as one patch (one rollout)', async () => {
    const { spec } = parseSpec({ matrix: { ...base, preStopSeconds: [7] }, axes: { keepalive: { object: 'deployment', values: { 'above-alb': env('65000') } } }, disruptions: ['rollout'] });
    const w = world({ via: 'api' });
    const original = await snapshotSettings(w.target, spec);
    const patches: unknown[] = [];
    const patch = w.target.k8s.patchDeployment.bind(w.target.k8s);
    w.target.k8s.patchDeployment = async (ns, name, p, kind) => (patches.push(p), patch(ns, name, p, kind));
    await applySettings(w.target, spec, expandConfigs(spec.matrix, spec.axes)[0], () => {}, original);
    expect(patches).toHaveLength(1);
    expect(w.dep.spec.template.spec.containers[0]).toEqual({ name: 'app', lifecycle: { preStop: { exec: { command: ['sleep', '7'] } } }, env: [{ name: 'KEEPALIVE_TIMEOUT_MS', value: '65000' }] });
  });
});

describe('a generic axis never inherits what another value left', () => {
  it('sets original-then-value at every path the axis names', async () => {
    const { spec } = parseSpec({
      matrix: base,
      axes: { probe: { object: 'deployment', values: { slow: { spec: { minReadySeconds: 10 } }, surge: { spec: { strategy: { rollingUpdate: { maxSurge: 2 } } } } } } },
      disruptions: ['rollout'],
    });
    const w = world({ via: 'api' });
    const original = await snapshotSettings(w.target, spec);
    const [slow, surge] = expandConfigs(spec.matrix, spec.axes);
    await applySettings(w.target, spec, slow, () => {}, original);
    await applySettings(w.target, spec, surge, () => {}, original);
    expect(w.dep.spec.minReadySeconds).toBeUndefined();
    expect(w.dep.spec.strategy.rollingUpdate.maxSurge).toBe(2);
  });
});

describe('generic ingress and targetGroup axes', () => {
  it('annotate the Ingress and set target-group attributes, then put both back', async () => {
    const { spec } = parseSpec({
      matrix: base,
      axes: {
        idle: { object: 'ingress', values: { short: { 'alb.ingress.kubernetes.io/healthcheck-port': '8081' } } },
        stick: { object: 'targetGroup', values: { on: { 'stickiness.enabled': 'true' }, off: { 'stickiness.enabled': 'false' } } },
      },
      disruptions: ['rollout'],
    });
    const w = world({ via: 'api' });
    w.attributes['stickiness.enabled'] = 'false';
    const original = await snapshotSettings(w.target, spec);
    await markObjects(w.target, 'r1');
    const on = expandConfigs(spec.matrix, spec.axes).find((c) => c.axes?.stick === 'on')!;
    await applySettings(w.target, spec, on, () => {}, original);
    expect(w.ing.metadata?.annotations?.['alb.ingress.kubernetes.io/healthcheck-port']).toBe('8081');
    expect(w.attributes['stickiness.enabled']).toBe('true');
    expect(await settingsDiffering(w.target, spec, on, original)).toEqual([]);
    const { differences } = await restoreSettings(w.target, original, 'r1', () => {}, { spec });
    expect(w.ing.metadata?.annotations?.['alb.ingress.kubernetes.io/healthcheck-port']).toBeUndefined();
    expect(w.attributes['stickiness.enabled']).toBe('false');
    expect(differences).toEqual([]);
  });

  it('a namespace axis labels the namespace, and restore removes the label', async () => {
    const { spec } = parseSpec({ matrix: base, axes: { team: { object: 'namespace', values: { a: { metadata: { labels: { team: 'a' } } }, b: { metadata: { labels: { team: 'b' } } } } } }, disruptions: ['rollout'] });
    const w = world({ via: 'api' });
    const original = await snapshotSettings(w.target, spec);
    await markObjects(w.target, 'r1');
    const b = expandConfigs(spec.matrix, spec.axes).find((c) => c.axes?.team === 'b')!;
    await applySettings(w.target, spec, b, () => {}, original);
    expect(w.ns.metadata?.labels?.team).toBe('b');
    expect(await settingsDiffering(w.target, spec, b, original)).toEqual([]);
    const { differences } = await restoreSettings(w.target, original, 'r1', () => {}, { spec });
    expect(w.ns.metadata?.labels?.team).toBeUndefined();
    expect(differences).toEqual([]);
  });

  it('reject a value of the wrong shape with its path', () => {
    let issues: string[] = [];
    try {
      parseSpec({
        matrix: base,
        axes: {
          stick: { object: 'targetGroup', values: { on: { 'stickiness.enabled': true } } },
          x: { object: 'service', values: { a: {} } },
          budget: { object: 'pdb', values: { other: { spec: { selector: { matchLabels: { app: 'api' } } } } } },
        },
        disruptions: ['rollout'],
      });
    } catch (error) {
      issues = [...(error as ConfigError).issues];
    }
    expect(issues).toEqual(
      expect.arrayContaining([
        'axes.stick.values.on.stickiness.enabled: expected an attribute value (a string), got true',
        'axes.x.object: expected "deployment", "namespace", "ingress", "targetGroup" or "pdb", got "service"',
        'axes.budget.values.other: expected a strategic-merge patch of the PodDisruptionBudget\'s spec without its selector (e.g. { spec: { maxUnavailable: 1 } }), got {"spec":{"selector":{"matchLabels":{"app":"api"}}}}',
      ]),
    );
  });
});

describe('a generic pdb axis (the PodDisruptionBudget that selects the Deployment\'s pods)', () => {
  const axes = { budget: { object: 'pdb', values: { strict: { spec: { maxUnavailable: 0 } }, half: { spec: { maxUnavailable: null, minAvailable: '50%' } } } } };
  const { spec } = parseSpec({ matrix: base, axes, disruptions: ['rollout'] });
  const other = { metadata: { name: 'api', namespace: 'shop' }, spec: { maxUnavailable: 2, selector: { matchLabels: { app: 'api' } } } };

  it('patches the matching PDB (not another one), reads it back, and restores it as it was', async () => {
    const w = world({ via: 'api', pdbs: [other, { metadata: { name: 'web', namespace: 'shop' }, spec: { maxUnavailable: 1, selector: { matchLabels: { app: 'web' } } } }] });
    const original = await snapshotSettings(w.target, spec);
    expect(original.generic).toEqual({ budget: { spec: { maxUnavailable: 1, minAvailable: null } } });
    await markObjects(w.target, 'r1');
    const [strict, half] = expandConfigs(spec.matrix, spec.axes);
    await applySettings(w.target, spec, half, () => {}, original);
    expect(w.pdbs.get('web')?.spec).toEqual({ minAvailable: '50%', selector: { matchLabels: { app: 'web' } } });
    expect(await settingsDiffering(w.target, spec, half, original)).toEqual([]);
    await applySettings(w.target, spec, strict, () => {}, original);
    expect(w.pdbs.get('web')?.spec).toEqual({ maxUnavailable: 0, selector: { matchLabels: { app: 'web' } } });
    w.pdbs.get('web')!.spec.maxUnavailable = 3;
    expect(await settingsDiffering(w.target, spec, strict, original)).toEqual(['the PodDisruptionBudget of deployment shop/web: axis budget is {"spec":{"maxUnavailable":3,"minAvailable":null}}, expected {"spec":{"maxUnavailable":0,"minAvailable":null}}']);
    await applySettings(w.target, spec, strict, () => {}, original);
    const { differences, kept } = await restoreSettings(w.target, original, 'r1', () => {}, { spec });
    expect(w.pdbs.get('web')?.spec).toEqual({ maxUnavailable: 1, selector: { matchLabels: { app: 'web' } } });
    expect(w.pdbs.get('api')).toEqual(other);
    expect({ differences, kept }).toEqual({ differences: [], kept: [] });
  });

  it('is a config error naming the axis when no PDB selects the pods', async () => {
    const w = world({ via: 'api', pdbs: [other] });
    const error = await snapshotSettings(w.target, spec).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toBe('axes.budget: expected one PodDisruptionBudget in namespace shop whose selector matches the pods of deployment shop/web (labels {"app":"web"}), got none');
  });

  it('is a config error naming both when two PDBs select the pods', async () => {
    const twin = (name: string) => ({ metadata: { name, namespace: 'shop' }, spec: { maxUnavailable: 1, selector: { matchExpressions: [{ key: 'app', operator: 'In', values: ['web', 'api'] }] } } });
    const w = world({ via: 'api', pdbs: [twin('a'), twin('b')] });
    await expect(snapshotSettings(w.target, spec)).rejects.toThrow('axes.budget: expected one PodDisruptionBudget in namespace shop whose selector matches the pods of deployment shop/web (labels {"app":"web"}), got a, b');
  });

  it('shows the value\'s patch in plan, on the PDB', () => {
    expect(describeConfig(expandConfigs(spec.matrix, spec.axes)[0], spec, { namespace: 'shop', deployment: 'web', ingress: 'web' })).toContain('the PodDisruptionBudget of deployment shop/web: axis budget {"spec":{"maxUnavailable":0}}');
  });
});
