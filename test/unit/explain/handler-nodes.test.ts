/**
 * The node states explain reads from a node handler's timeline: the instance named by a spot notice,
 * a rebalance recommendation or a node replacement, so that its termination lands on the node; a
 * taint from the handler's own event, and from NTH's notice alone in results written before handlers.
 */
import { describe, expect, it } from 'vitest';
import { indexTimeline } from '../../../harness/explain/cell-context.ts';
import type { TimelineEvent } from '../../../harness/observe/timeline.ts';

const settings = { preStopSeconds: 0, terminationGracePeriodSeconds: 30, deregistrationDelaySeconds: 300 };
const d = (t: number, action: string, detail: string): TimelineEvent => ({ t, type: 'disruption', action, detail });

describe('node states from handler timelines', () => {
  it('karpenter: the instance from the notice, tainted at its taint event, terminated when drained', () => {
    const index = indexTimeline([d(10, 'spot-notice', 'node-b2 (i-0b2), termination in 120 s; handler karpenter'), d(10, 'replacement-launched', 'i-0f1 like node-b2 (karpenter)'), d(11, 'taint', 'node-b2 karpenter.sh/disrupted:NoSchedule'), d(40, 'terminate-instance', 'i-0b2')], settings);
    expect(index.nodes.get('node-b2')).toEqual({ name: 'node-b2', instanceId: 'i-0b2', tainted: 11, terminated: 40 });
  });

  it('managed node group: a notice without a taint leaves the node untainted; a node replacement names the instance', () => {
    const spot = indexTimeline([d(10, 'spot-notice', 'node-b2 (i-0b2), termination in 120 s; handler managed-nodegroup'), d(10, 'cordon', 'node-b2')], settings);
    expect(spot.nodes.get('node-b2')).toEqual({ name: 'node-b2', instanceId: 'i-0b2', cordoned: 10 });
    const replace = indexTimeline([d(5, 'node-replace', 'node-a1 (i-0a1); handler managed-nodegroup'), d(995, 'terminate-instance', 'i-0a1')], settings);
    expect(replace.nodes.get('node-a1')).toEqual({ name: 'node-a1', instanceId: 'i-0a1', terminated: 995 });
  });

  it('nth, as written before handlers: the notice is the taint', () => {
    const index = indexTimeline([d(10, 'spot-notice', 'node-b2 (i-0b2), termination in 120 s')], settings);
    expect(index.nodes.get('node-b2')).toEqual({ name: 'node-b2', instanceId: 'i-0b2', tainted: 10 });
  });
});
