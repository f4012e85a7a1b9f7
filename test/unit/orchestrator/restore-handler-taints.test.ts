/**
 * Restore of the taints the node handlers set (harness/disruptions/handlers/): Karpenter's
 * `karpenter.sh/disrupted:NoSchedule` (no value) and a node group update's
 * `eks.amazonaws.com/nodegroup=unschedulable:NoSchedule` come off after a killed run, from the node
 * markers alone; one whose value or effect changed since is left and reported.
 */
import { describe, expect, it } from 'vitest';
import { ApiError } from '../../../harness/core/errors.ts';
import { UNDO_MARKER } from '../../../harness/core/labels.ts';
import { parseSpec } from '../../../harness/matrix/load.ts';
import { markNodeChange, restoreSettings, snapshotSettings } from '../../../harness/orchestrator/settings.ts';
import { world } from '../../helpers/settings-world.ts';

const spec = parseSpec({ matrix: { preStopSeconds: [5], terminationGracePeriodSeconds: [40], readinessGate: [false], deregistrationDelaySeconds: [30] }, disruptions: [{ spot: { handler: 'karpenter' } }] }).spec;

describe('restore of handler taints', () => {
  it('removes the Karpenter and node group taints a killed run left, with their own values, from the node markers', async () => {
    const w = world({ via: 'api' });
    const original = await snapshotSettings(w.target);
    await markNodeChange(w.target, 'r1', { kind: 'taint', node: 'node-a1', key: 'karpenter.sh/disrupted', value: '', effect: 'NoSchedule' });
    await w.target.k8s.setNodeTaint('node-a1', 'karpenter.sh/disrupted', { value: '', effect: 'NoSchedule' });
    await markNodeChange(w.target, 'r1', { kind: 'taint', node: 'node-b1', key: 'eks.amazonaws.com/nodegroup', value: 'unschedulable', effect: 'NoSchedule' });
    await w.target.k8s.setNodeTaint('node-b1', 'eks.amazonaws.com/nodegroup', { value: 'unschedulable', effect: 'NoSchedule' });
    expect(JSON.parse(w.nodes.get('node-a1')!.metadata!.annotations![UNDO_MARKER])).toEqual(['taint:karpenter.sh/disrupted=:NoSchedule']);
    const { done, differences } = await restoreSettings(w.target, original, 'r1', () => {}, { spec });
    expect(done).toEqual(['node node-a1: taint karpenter.sh/disrupted removed', 'node node-b1: taint eks.amazonaws.com/nodegroup removed']);
    expect([w.nodes.get('node-a1')!.spec.taints, w.nodes.get('node-b1')!.spec.taints]).toEqual([undefined, undefined]);
    expect(differences).toEqual([]);
  });

  it('leaves a node group taint whose value changed since the run set it, and says so', async () => {
    const w = world({ via: 'api' });
    const original = await snapshotSettings(w.target);
    await markNodeChange(w.target, 'r1', { kind: 'taint', node: 'node-b1', key: 'eks.amazonaws.com/nodegroup', value: 'unschedulable', effect: 'NoSchedule' });
    await w.target.k8s.setNodeTaint('node-b1', 'eks.amazonaws.com/nodegroup', { value: 'draining', effect: 'NoSchedule' });
    const { done, kept } = await restoreSettings(w.target, original, 'r1', () => {}, { spec });
    expect(done).toEqual([]);
    expect(kept).toContain('node node-b1: taint eks.amazonaws.com/nodegroup is draining:NoSchedule (changed since the run set unschedulable:NoSchedule): left as it is');
  });

  it('counts a node deleted while restore undoes it (its spot instance was terminated) as gone, and goes on with the others', async () => {
    const w = world({ via: 'api' });
    const original = await snapshotSettings(w.target);
    await markNodeChange(w.target, 'r1', { kind: 'cordon', node: 'node-a1' });
    await w.target.k8s.setNodeUnschedulable('node-a1', true);
    await markNodeChange(w.target, 'r1', { kind: 'cordon', node: 'node-b1' });
    await w.target.k8s.setNodeUnschedulable('node-b1', true);
    // node-a1 is listed, then the node controller deletes it before its markers come off.
    const annotate = w.target.k8s.annotate;
    w.target.k8s.annotate = async (ref, a) => {
      if (ref.kind === 'Node' && ref.name === 'node-a1') {
        w.nodes.delete('node-a1');
        throw new ApiError('Kubernetes API annotate(): expected an answer, got 404: nodes "node-a1" not found', 404);
      }
      return annotate(ref, a);
    };
    const { done, differences } = await restoreSettings(w.target, original, 'r1', () => {}, { spec });
    expect(done).toEqual(['node node-a1: uncordoned', 'node node-b1: uncordoned']);
    expect(w.nodes.get('node-b1')!.spec.unschedulable ?? false).toBe(false);
    expect(differences, 'restore verifies what it restored').toEqual([]);
  });
});
