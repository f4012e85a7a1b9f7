/**
 * Restore against small in-memory stand-ins for the two ports: what it sets back, through which
 * channel, what it leaves alone, and what it reports when a setting will not come back.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../harness/core/clock.ts';
import { RUN_MARKER, UNDO_MARKER } from '../../../harness/core/labels.ts';
import { GATE_LABEL, markNodeChange, restoreSettings, snapshotSettings, TG_ATTRIBUTES_ANNOTATION, type DelayChannel } from '../../../harness/orchestrator/settings.ts';
import type { Target } from '../../../harness/orchestrator/target.ts';
import type { Elbv2Port, KObject, KubernetesPort, ObjectRef } from '../../../harness/platform/ports.ts';

const DELAY = 'deregistration_delay.timeout_seconds';

/** A cluster of one namespace, Deployment, Ingress, target group and two nodes; `controller` applies the annotation to the group as the LBC does. */
function world(opts: { via: DelayChannel; annotation?: string; controller?: boolean; stuckDelay?: boolean; stuckDeployment?: boolean; stuckLabel?: boolean }) {
  const ns: KObject = { metadata: { name: 'shop', labels: {}, annotations: {} } };
  const dep: KObject = { metadata: { name: 'web', namespace: 'shop', annotations: {} }, spec: { template: { spec: { terminationGracePeriodSeconds: 30, containers: [{ name: 'app' }] } } } };
  const ing: KObject = { metadata: { name: 'web', namespace: 'shop', annotations: opts.annotation ? { [TG_ATTRIBUTES_ANNOTATION]: opts.annotation } : {} } };
  const nodes = new Map<string, KObject>(['node-a1', 'node-b1'].map((n) => [n, { metadata: { name: n, annotations: {} }, spec: {} }]));
  const attributes: Record<string, string> = { [DELAY]: '300' };
  const set = (o: KObject, field: 'labels' | 'annotations', values: Record<string, string | null>) => {
    const into = (o.metadata![field] ??= {});
    for (const [k, v] of Object.entries(values)) {
      if (v === null) delete into[k];
      else into[k] = v;
    }
    return o;
  };
  const objectOf = (ref: ObjectRef) => (ref.kind === 'Namespace' ? ns : ref.kind === 'Deployment' ? dep : ref.kind === 'Ingress' ? ing : nodes.get(ref.name)!);
  const k8s = {
    context: 'test',
    getDeployment: async () => structuredClone(dep),
    patchDeployment: async (_ns: string, _n: string, patch: { spec: { template: { spec: { terminationGracePeriodSeconds: number | null; containers: Array<{ lifecycle: unknown }> } } } }) => {
      if (opts.stuckDeployment) return dep;
      const t = patch.spec.template.spec;
      dep.spec.template.spec.terminationGracePeriodSeconds = t.terminationGracePeriodSeconds ?? undefined;
      // A strategic merge patch: the lifecycle's keys merge into the present ones, a null removes.
      const lifecycle = t.containers[0].lifecycle as Record<string, unknown> | null;
      const c = dep.spec.template.spec.containers[0];
      if (lifecycle === null) delete c.lifecycle;
      else {
        c.lifecycle = { ...c.lifecycle, ...lifecycle };
        for (const [k, v] of Object.entries(lifecycle)) if (v === null) delete c.lifecycle[k];
      }
      return dep;
    },
    getNamespace: async () => structuredClone(ns),
    setNamespaceLabels: async (_n: string, labels: Record<string, string | null>) => (opts.stuckLabel ? ns : set(ns, 'labels', labels)),
    getIngress: async () => structuredClone(ing),
    setIngressAnnotations: async (_ns: string, _n: string, a: Record<string, string | null>) => {
      set(ing, 'annotations', a);
      const delay = /deregistration_delay\.timeout_seconds=(\d+)/.exec(ing.metadata?.annotations?.[TG_ATTRIBUTES_ANNOTATION] ?? '')?.[1];
      if (opts.controller && delay) attributes[DELAY] = delay;
      return ing;
    },
    listNodes: async () => [...nodes.values()].map((n) => structuredClone(n)),
    getNode: async (name: string) => structuredClone(nodes.get(name)!),
    setNodeUnschedulable: async (name: string, u: boolean) => {
      nodes.get(name)!.spec.unschedulable = u || undefined;
      return nodes.get(name)!;
    },
    setNodeTaint: async (name: string, key: string, taint: object | null) => {
      const n = nodes.get(name)!;
      n.spec.taints = [...(n.spec.taints ?? []).filter((t: { key: string }) => t.key !== key), ...(taint ? [{ key, ...taint }] : [])];
      return n;
    },
    annotate: async (ref: ObjectRef, a: Record<string, string | null>) => set(objectOf(ref), 'annotations', a),
  } as unknown as KubernetesPort;
  const elbv2 = {
    getAttributes: async () => ({ ...attributes }),
    modifyAttributes: async (_arn: string, a: Record<string, string>) => {
      if (!opts.stuckDelay) Object.assign(attributes, a);
      return { ...attributes };
    },
  } as unknown as Elbv2Port;
  const target = { k8s, elbv2, clock: new ManualClock(), namespace: 'shop', deployment: 'web', ingress: 'web', targetGroupArn: 'arn:tg', delayVia: opts.via } as unknown as Target;
  return { target, ns, dep, ing, nodes, attributes };
}

describe('restoreSettings', () => {
  it('sets the delay back through the API when the Ingress never named it (the controller does not revert it)', async () => {
    const w = world({ via: 'ingress', controller: true });
    const original = await snapshotSettings(w.target);
    w.ing.metadata!.annotations![TG_ATTRIBUTES_ANNOTATION] = `${DELAY}=30`;
    w.attributes[DELAY] = '30';
    const { done, differences } = await restoreSettings(w.target, original, 'r1', () => {});
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
    const { done, differences } = await restoreSettings(w.target, original, 'r1', () => {});
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
    await restoreSettings(w.target, original, 'r1', () => {});
    expect(w.attributes[DELAY]).toBe('300');
  });

  it('undoes the changes a killed run left only on its node markers, and leaves the user cordon', async () => {
    const w = world({ via: 'api' });
    const original = await snapshotSettings(w.target);
    w.nodes.get('node-b1')!.spec.unschedulable = true; // the user's
    await markNodeChange(w.target, 'r1', { kind: 'cordon', node: 'node-a1' });
    await markNodeChange(w.target, 'r1', { kind: 'taint', node: 'node-a1', key: 'aws-node-termination-handler/spot-itn' });
    await w.target.k8s.setNodeUnschedulable('node-a1', true);
    await w.target.k8s.setNodeTaint('node-a1', 'aws-node-termination-handler/spot-itn', { effect: 'NoSchedule' });
    // The checkpoint never saw these changes: original.changes is empty.
    const { done, differences } = await restoreSettings(w.target, original, 'r1', () => {});
    expect(done).toEqual(['node node-a1: uncordoned', 'node node-a1: taint aws-node-termination-handler/spot-itn removed']);
    expect(w.nodes.get('node-a1')!.spec.unschedulable).toBeUndefined();
    expect(w.nodes.get('node-a1')!.spec.taints).toEqual([]);
    expect(w.nodes.get('node-a1')!.metadata?.annotations).toEqual({});
    expect(w.nodes.get('node-b1')!.spec.unschedulable).toBe(true);
    expect(differences).toEqual([]);
  });

  it('reports what will not come back after reading everything again', async () => {
    const w = world({ via: 'api', stuckDelay: true });
    const original = await snapshotSettings(w.target);
    w.attributes[DELAY] = '30';
    w.ns.metadata!.annotations![RUN_MARKER] = 'r1';
    const { differences } = await restoreSettings(w.target, original, 'r1', () => {});
    expect(differences).toEqual([`target group: ${DELAY} is 30, was 300`]);
    expect(w.ns.metadata?.annotations?.[RUN_MARKER]).toBeUndefined();
    expect(UNDO_MARKER).toBe('rollout-harness.io/undo');
  });

  // Each setting changed first, through the port as a cell's configure changes it, then restored.
  const cellPreStop = { exec: { command: ['sleep', '5'] } };

  it('puts the Deployment\'s preStop and grace period back, keeping the rest of the lifecycle', async () => {
    const w = world({ via: 'api' });
    w.dep.spec.template.spec.containers[0].lifecycle = { postStart: { exec: { command: ['warm'] } } };
    const original = await snapshotSettings(w.target);
    await w.target.k8s.patchDeployment('shop', 'web', { spec: { template: { spec: { terminationGracePeriodSeconds: 45, containers: [{ name: 'app', lifecycle: { preStop: cellPreStop } }] } } } });
    expect(w.dep.spec.template.spec).toMatchObject({ terminationGracePeriodSeconds: 45, containers: [{ lifecycle: { postStart: { exec: { command: ['warm'] } }, preStop: cellPreStop } }] });
    const { done, differences } = await restoreSettings(w.target, original, 'r1', () => {});
    expect(w.dep.spec.template.spec.terminationGracePeriodSeconds).toBe(30);
    expect(w.dep.spec.template.spec.containers[0].lifecycle).toEqual({ postStart: { exec: { command: ['warm'] } } });
    expect(done).toContain('deployment shop/web: preStop and terminationGracePeriodSeconds restored');
    expect(differences).toEqual([]);
  });

  it('removes a preStop the run added to a container that had no lifecycle', async () => {
    const w = world({ via: 'api' });
    const original = await snapshotSettings(w.target);
    await w.target.k8s.patchDeployment('shop', 'web', { spec: { template: { spec: { terminationGracePeriodSeconds: 30, containers: [{ name: 'app', lifecycle: { preStop: cellPreStop } }] } } } });
    await restoreSettings(w.target, original, 'r1', () => {});
    expect(w.dep.spec.template.spec.containers[0]).toEqual({ name: 'app' });
  });

  it('puts the namespace\'s gate label back: removed when it was unset, set again when it was', async () => {
    const unset = world({ via: 'api' });
    const before = await snapshotSettings(unset.target);
    await unset.target.k8s.setNamespaceLabels('shop', { [GATE_LABEL]: 'enabled' });
    const first = await restoreSettings(unset.target, before, 'r1', () => {});
    expect(unset.ns.metadata?.labels).toEqual({});
    expect(first.done).toContain(`namespace shop: ${GATE_LABEL} restored`);
    expect(first.differences).toEqual([]);

    const set = world({ via: 'api' });
    set.ns.metadata!.labels![GATE_LABEL] = 'enabled';
    const was = await snapshotSettings(set.target);
    await set.target.k8s.setNamespaceLabels('shop', { [GATE_LABEL]: null });
    const second = await restoreSettings(set.target, was, 'r1', () => {});
    expect(set.ns.metadata?.labels).toEqual({ [GATE_LABEL]: 'enabled' });
    expect(second.differences).toEqual([]);
  });

  it('changes and reports nothing when every setting already has its original value', async () => {
    const w = world({ via: 'ingress', controller: true, annotation: `${DELAY}=120` });
    w.attributes[DELAY] = '120';
    w.ns.metadata!.labels![GATE_LABEL] = 'enabled';
    const original = await snapshotSettings(w.target);
    const { done, differences } = await restoreSettings(w.target, original, 'r1', () => {});
    expect(done).toEqual([]);
    expect(differences).toEqual([]);
  });

  it('reports a Deployment and a gate label that stay changed after restore', async () => {
    const w = world({ via: 'api', stuckDeployment: true, stuckLabel: true });
    const original = await snapshotSettings(w.target);
    // The run's changes, made before the port started refusing them.
    w.dep.spec.template.spec.terminationGracePeriodSeconds = 45;
    w.dep.spec.template.spec.containers[0].lifecycle = { preStop: cellPreStop };
    w.ns.metadata!.labels![GATE_LABEL] = 'enabled';
    const { differences } = await restoreSettings(w.target, original, 'r1', () => {});
    expect(differences).toEqual([
      'deployment shop/web: preStop or terminationGracePeriodSeconds is not the original',
      `namespace shop: ${GATE_LABEL} is enabled, was (unset)`,
    ]);
  });
});
