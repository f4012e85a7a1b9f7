/**
 * Restore against small in-memory stand-ins for the two ports (test/helpers/settings-world.ts): what it sets back, through which
 * channel, what it leaves alone, and what it reports when a setting will not come back.
 */
import { describe, expect, it } from 'vitest';
import { RUN_MARKER, UNDO_MARKER } from '../../../harness/core/labels.ts';
import { GATE_LABEL, markNodeChange, markObjects, restoreSettings, snapshotSettings, TG_ATTRIBUTES_ANNOTATION, type OriginalSettings } from '../../../harness/orchestrator/settings.ts';
import { DELAY, world } from '../../helpers/settings-world.ts';
import type { DelayChannel } from '../../../harness/settings/types.ts';
import { parseSpec } from '../../../harness/matrix/load.ts';

/** The spec of a run whose one cell sets these values (others at their defaults). */
function specOf(matrix: { preStopSeconds?: number; grace?: number; gate?: boolean; delay?: number } = {}) {
  return parseSpec({
    matrix: { preStopSeconds: [matrix.preStopSeconds ?? 5], terminationGracePeriodSeconds: [matrix.grace ?? 40], readinessGate: [matrix.gate ?? false], deregistrationDelaySeconds: [matrix.delay ?? 30] },
    disruptions: ['rollout'],
  }).spec;
}

type World = ReturnType<typeof world>;

/** Restore as run r1 would, its marker on the objects it changed (marked before it changed them). */
async function restoreAsRun(w: World, original: OriginalSettings, matrix: Parameters<typeof specOf>[0] = {}) {
  await markObjects(w.target, 'r1');
  return restoreSettings(w.target, original, 'r1', () => {}, { spec: specOf(matrix) });
}

describe('restoreSettings', () => {
  it('sets the delay back through the API when the Ingress never named it (the controller does not revert it)', async () => {
    const w = world({ via: 'ingress', controller: true });
    const original = await snapshotSettings(w.target);
    w.ing.metadata!.annotations![TG_ATTRIBUTES_ANNOTATION] = `${DELAY}=30`;
    w.attributes[DELAY] = '30';
    const { done, differences } = await restoreAsRun(w, original, { delay: 30 });
    expect(w.attributes[DELAY]).toBe('300');
    expect(w.ing.metadata?.annotations?.[TG_ATTRIBUTES_ANNOTATION]).toBeUndefined();
    expect(done).toContain(`target group: ${DELAY} set back to 300 through ModifyTargetGroupAttributes`);
    expect(differences).toEqual([]);
  });

  it('lets the controller apply a restored annotation that names the delay', async () => {
    const w = world({ via: 'ingress', controller: true, annotation: `${DELAY}=120` });
    w.attributes[DELAY] = '120';
    const original = await snapshotSettings(w.target);
    await w.target.k8s.setIngressAnnotations('shop', 'web', { [TG_ATTRIBUTES_ANNOTATION]: `${DELAY}=30` });
    const { done, differences } = await restoreAsRun(w, original, { delay: 30 });
    expect(w.attributes[DELAY]).toBe('120');
    expect(done).toContain(`ingress shop/web: ${TG_ATTRIBUTES_ANNOTATION} restored`);
    expect(done.some((line) => line.includes('ModifyTargetGroupAttributes'))).toBe(false);
    expect(differences).toEqual([]);
  });

  it('records and restores the delay when it is set through the API (a TargetGroupBinding)', async () => {
    const w = world({ via: 'api' });
    const original = await snapshotSettings(w.target);
    expect(original).toMatchObject({ delayVia: 'api', deregistrationDelaySeconds: '300' });
    w.attributes[DELAY] = '0';
    await restoreAsRun(w, original, { delay: 0 });
    expect(w.attributes[DELAY]).toBe('300');
  });

  it('undoes the changes a killed run left only on its node markers, and leaves the user cordon', async () => {
    const w = world({ via: 'api' });
    const original = await snapshotSettings(w.target);
    w.nodes.get('node-b1')!.spec.unschedulable = true; // the user's
    await markNodeChange(w.target, 'r1', { kind: 'cordon', node: 'node-a1' });
    await markNodeChange(w.target, 'r1', { kind: 'taint', node: 'node-a1', key: 'aws-node-termination-handler/spot-itn' });
    await w.target.k8s.setNodeUnschedulable('node-a1', true);
    await w.target.k8s.setNodeTaint('node-a1', 'aws-node-termination-handler/spot-itn', { value: 'true', effect: 'NoSchedule' });
    // The checkpoint never saw these changes: original.changes is empty.
    const { done, differences } = await restoreSettings(w.target, original, 'r1', () => {}, { spec: specOf() });
    expect(done).toEqual(['node node-a1: uncordoned', 'node node-a1: taint aws-node-termination-handler/spot-itn removed']);
    expect(w.nodes.get('node-a1')!.spec.unschedulable).toBeUndefined();
    expect(w.nodes.get('node-a1')!.spec.taints).toBeUndefined();
    expect(w.nodes.get('node-a1')!.metadata?.annotations).toEqual({});
    expect(w.nodes.get('node-b1')!.spec.unschedulable).toBe(true);
    expect(differences).toEqual([]);
  });

  it('reports what will not come back after reading everything again, and keeps the markers (the run still has a change there)', async () => {
    const w = world({ via: 'api', stuckDelay: true });
    const original = await snapshotSettings(w.target);
    w.attributes[DELAY] = '30';
    const { differences } = await restoreAsRun(w, original, { delay: 30 });
    expect(differences).toEqual([`target group: ${DELAY} is 30, was 300`]);
    expect(w.ns.metadata?.annotations?.[RUN_MARKER]).toBe('r1');
    // A retry, once the API takes the value, puts it back and removes the markers.
    const retry = world({ via: 'api' });
    Object.assign(w.target, { elbv2: retry.target.elbv2 });
    retry.attributes[DELAY] = '30';
    expect((await restoreSettings(w.target, original, 'r1', () => {}, { spec: specOf({ delay: 30 }) })).differences).toEqual([]);
    expect(retry.attributes[DELAY]).toBe('300');
    expect(w.ns.metadata?.annotations?.[RUN_MARKER]).toBeUndefined();
    expect(UNDO_MARKER).toBe('rollout-harness.io/undo');
  });
});

/**
 * One row per setting: how the run leaves it (a value its spec sets) and how a user changes it since
 * (a value the spec does not set), and how to read it. Restore puts back the first and leaves the second.
 */
const SETTINGS: Array<{ name: string; via?: DelayChannel; run(w: World): Promise<void>; user(w: World): Promise<void>; read(w: World): unknown; report: RegExp }> = [
  {
    name: 'preStop',
    run: async (w) => void (w.dep.spec.template.spec.containers[0].lifecycle = { preStop: { exec: { command: ['sleep', '5'] } } }),
    user: async (w) => void (w.dep.spec.template.spec.containers[0].lifecycle = { preStop: { exec: { command: ['sleep', '12'] } } }),
    read: (w) => w.dep.spec.template.spec.containers[0].lifecycle?.preStop ?? null,
    report: /^deployment shop\/web: preStop is \{"exec":\{"command":\["sleep","12"\]\}\} \(changed since the run set it; \(unset\) before the run\): left as it is$/,
  },
  {
    name: 'grace',
    run: async (w) => void (w.dep.spec.template.spec.terminationGracePeriodSeconds = 40),
    user: async (w) => void (w.dep.spec.template.spec.terminationGracePeriodSeconds = 45),
    read: (w) => w.dep.spec.template.spec.terminationGracePeriodSeconds,
    report: /^deployment shop\/web: terminationGracePeriodSeconds is 45 \(changed since the run set it; 30 before the run\): left as it is$/,
  },
  {
    name: 'readiness-gate namespace label',
    run: async (w) => void delete w.ns.metadata!.labels![GATE_LABEL],
    user: async (w) => void (w.ns.metadata!.labels![GATE_LABEL] = 'disabled'),
    read: (w) => w.ns.metadata?.labels?.[GATE_LABEL] ?? null,
    report: new RegExp(`^namespace shop: ${GATE_LABEL} is disabled \\(changed since the run set it; enabled before the run\\): left as it is$`),
  },
  {
    name: 'deregistration delay (API)',
    via: 'api',
    run: async (w) => void (w.attributes[DELAY] = '30'),
    user: async (w) => void (w.attributes[DELAY] = '120'),
    read: (w) => w.attributes[DELAY],
    report: new RegExp(`^target group: ${DELAY} is 120 \\(changed since the run set it; 300 before the run\\): left as it is$`),
  },
  {
    name: 'deregistration delay annotation (Ingress)',
    via: 'ingress',
    run: async (w) => void (w.ing.metadata!.annotations![TG_ATTRIBUTES_ANNOTATION] = `slow_start.duration_seconds=30,${DELAY}=30`),
    user: async (w) => void (w.ing.metadata!.annotations![TG_ATTRIBUTES_ANNOTATION] = `slow_start.duration_seconds=60`),
    read: (w) => w.ing.metadata?.annotations?.[TG_ATTRIBUTES_ANNOTATION],
    report: new RegExp(`^ingress shop/web: ${TG_ATTRIBUTES_ANNOTATION} is slow_start.duration_seconds=60 \\(changed since the run set it; slow_start.duration_seconds=30 before the run\\): left as it is$`),
  },
  {
    name: 'node cordon',
    run: async (w) => {
      await markNodeChange(w.target, 'r1', { kind: 'cordon', node: 'node-a1' });
      w.nodes.get('node-a1')!.spec.unschedulable = true;
    },
    user: async (w) => void delete w.nodes.get('node-a1')!.spec.unschedulable,
    read: (w) => w.nodes.get('node-a1')!.spec.unschedulable ?? false,
    report: /^node node-a1: uncordoned since the run cordoned it: left as it is$/,
  },
  {
    name: 'node taint',
    run: async (w) => {
      await markNodeChange(w.target, 'r1', { kind: 'taint', node: 'node-a1', key: 'aws-node-termination-handler/spot-itn' });
      w.nodes.get('node-a1')!.spec.taints = [{ key: 'aws-node-termination-handler/spot-itn', value: 'true', effect: 'NoSchedule' }];
    },
    user: async (w) => void (w.nodes.get('node-a1')!.spec.taints = [{ key: 'aws-node-termination-handler/spot-itn', value: 'true', effect: 'NoExecute' }]),
    read: (w) => w.nodes.get('node-a1')!.spec.taints,
    report: /^node node-a1: taint aws-node-termination-handler\/spot-itn is true:NoExecute \(changed since the run set true:NoSchedule\): left as it is$/,
  },
];

/** A world whose originals are not the defaults of the stand-in: a gate label, an Ingress annotation. */
async function worldBeforeTheRun(via: DelayChannel = 'api') {
  const w = world({ via, annotation: via === 'ingress' ? 'slow_start.duration_seconds=30' : undefined });
  w.ns.metadata!.labels![GATE_LABEL] = 'enabled';
  const original = await snapshotSettings(w.target);
  const before = structuredClone({ dep: w.dep, ns: w.ns.metadata?.labels, ing: w.ing.metadata?.annotations, nodes: [...w.nodes.values()].map((n) => n.spec), attributes: w.attributes });
  return { w, original, before };
}

describe('restoreSettings puts back only what is still the run\'s', () => {
  for (const s of SETTINGS) {
    it(`${s.name}: unchanged since the run set it → restored`, async () => {
      const { w, original, before } = await worldBeforeTheRun(s.via);
      await markObjects(w.target, 'r1');
      await s.run(w);
      const { done, kept, differences } = await restoreSettings(w.target, original, 'r1', () => {}, { spec: specOf() });
      expect(kept).toEqual([]);
      expect(differences).toEqual([]);
      expect(done.length).toBeGreaterThan(0);
      expect(structuredClone({ dep: w.dep, ns: w.ns.metadata?.labels, ing: w.ing.metadata?.annotations, nodes: [...w.nodes.values()].map((n) => n.spec), attributes: w.attributes })).toEqual(before);
    });

    it(`${s.name}: changed since → left as the user made it, and reported`, async () => {
      const { w, original } = await worldBeforeTheRun(s.via);
      await markObjects(w.target, 'r1');
      await s.run(w);
      await s.user(w);
      const users = structuredClone(s.read(w));
      const { kept, differences } = await restoreSettings(w.target, original, 'r1', () => {}, { spec: specOf() });
      expect(kept).toEqual([expect.stringMatching(s.report)]);
      expect(differences).toEqual([]);
      expect(s.read(w)).toEqual(users);
      // Nothing of the run's is left: its markers are gone.
      expect(w.ns.metadata?.annotations?.[RUN_MARKER]).toBeUndefined();
      expect(w.nodes.get('node-a1')!.metadata?.annotations).toEqual({});
    });
  }

  it('a run finished long ago (restored, markers gone): the user\'s grace 45 → 30 and a removed label are left and reported', async () => {
    const { w, original } = await worldBeforeTheRun();
    w.dep.spec.template.spec.terminationGracePeriodSeconds = 45;
    const originalAt45 = await snapshotSettings(w.target);
    expect(original.terminationGracePeriodSeconds).toBe(30);
    // The run set grace 30 in one of its cells, and restored everything at its end (no marker left).
    const spec = specOf({ grace: 30 });
    w.dep.spec.template.spec.terminationGracePeriodSeconds = 30;
    delete w.ns.metadata!.labels![GATE_LABEL];
    const { done, kept, differences } = await restoreSettings(w.target, originalAt45, 'r1', () => {}, { spec });
    expect(done).toEqual([]);
    expect(kept).toEqual([
      'deployment shop/web: terminationGracePeriodSeconds is 30 (changed since the run set it; 45 before the run): left as it is',
      `namespace shop: ${GATE_LABEL} is (unset) (changed since the run set it; enabled before the run): left as it is`,
    ]);
    expect(differences).toEqual([]);
    expect(w.dep.spec.template.spec.terminationGracePeriodSeconds).toBe(30);
    expect(w.ns.metadata?.labels?.[GATE_LABEL]).toBeUndefined();
  });
});

describe('restoreSettings, each setting changed through the port as a cell\'s configure changes it', () => {
  const cellPreStop = { exec: { command: ['sleep', '5'] } };

  it('puts the Deployment\'s preStop and grace period back, keeping the rest of the lifecycle', async () => {
    const w = world({ via: 'api' });
    w.dep.spec.template.spec.containers[0].lifecycle = { postStart: { exec: { command: ['warm'] } } };
    const original = await snapshotSettings(w.target);
    await w.target.k8s.patchDeployment('shop', 'web', { spec: { template: { spec: { terminationGracePeriodSeconds: 45, containers: [{ name: 'app', lifecycle: { preStop: cellPreStop } }] } } } });
    expect(w.dep.spec.template.spec).toMatchObject({ terminationGracePeriodSeconds: 45, containers: [{ lifecycle: { postStart: { exec: { command: ['warm'] } }, preStop: cellPreStop } }] });
    const { done, differences } = await restoreAsRun(w, original, { preStopSeconds: 5, grace: 45 });
    expect(w.dep.spec.template.spec.terminationGracePeriodSeconds).toBe(30);
    expect(w.dep.spec.template.spec.containers[0].lifecycle).toEqual({ postStart: { exec: { command: ['warm'] } } });
    expect(done).toEqual(['deployment shop/web: preStop restored', 'deployment shop/web: terminationGracePeriodSeconds restored']);
    expect(differences).toEqual([]);
  });

  it('removes a preStop the run added to a container that had no lifecycle', async () => {
    const w = world({ via: 'api' });
    const original = await snapshotSettings(w.target);
    await w.target.k8s.patchDeployment('shop', 'web', { spec: { template: { spec: { terminationGracePeriodSeconds: 30, containers: [{ name: 'app', lifecycle: { preStop: cellPreStop } }] } } } });
    await restoreAsRun(w, original, { preStopSeconds: 5, grace: 30 });
    expect(w.dep.spec.template.spec.containers[0]).toEqual({ name: 'app' });
  });

  it('puts the namespace\'s gate label back: removed when it was unset, set again when it was', async () => {
    const unset = world({ via: 'api' });
    const before = await snapshotSettings(unset.target);
    await unset.target.k8s.setNamespaceLabels('shop', { [GATE_LABEL]: 'enabled' });
    const first = await restoreAsRun(unset, before, { gate: true });
    expect(unset.ns.metadata?.labels).toEqual({});
    expect(first.done).toContain(`namespace shop: ${GATE_LABEL} restored`);
    expect(first.differences).toEqual([]);

    const set = world({ via: 'api' });
    set.ns.metadata!.labels![GATE_LABEL] = 'enabled';
    const was = await snapshotSettings(set.target);
    await set.target.k8s.setNamespaceLabels('shop', { [GATE_LABEL]: null });
    const second = await restoreAsRun(set, was, { gate: false });
    expect(set.ns.metadata?.labels).toEqual({ [GATE_LABEL]: 'enabled' });
    expect(second.differences).toEqual([]);
  });

  it('changes and reports nothing when every setting already has its original value', async () => {
    const w = world({ via: 'ingress', controller: true, annotation: `${DELAY}=120` });
    w.attributes[DELAY] = '120';
    w.ns.metadata!.labels![GATE_LABEL] = 'enabled';
    const original = await snapshotSettings(w.target);
    const { done, kept, differences } = await restoreAsRun(w, original);
    expect(done).toEqual([]);
    expect(kept).toEqual([]);
    expect(differences).toEqual([]);
  });

  it('reports a Deployment and a gate label that stay changed after restore', async () => {
    const w = world({ via: 'api', stuckDeployment: true, stuckLabel: true });
    const original = await snapshotSettings(w.target);
    // The run's changes, made before the port started refusing them.
    w.dep.spec.template.spec.terminationGracePeriodSeconds = 45;
    w.dep.spec.template.spec.containers[0].lifecycle = { preStop: cellPreStop };
    w.ns.metadata!.labels![GATE_LABEL] = 'enabled';
    const { differences } = await restoreAsRun(w, original, { preStopSeconds: 5, grace: 45, gate: true });
    expect(differences).toEqual([
      'deployment shop/web: preStop is {"exec":{"command":["sleep","5"]}}, was (unset)',
      'deployment shop/web: terminationGracePeriodSeconds is 45, was 30',
      `namespace shop: ${GATE_LABEL} is enabled, was (unset)`,
    ]);
  });
});
