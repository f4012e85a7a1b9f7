/**
 * The Mobility Technologies write-up: a spot interruption costs more when every replica runs on
 * the interrupted node than when the replicas are spread over nodes. Same settings in both worlds
 * (the EKS defaults: no gate, no preStop, grace 30 s, delay 300 s); only the placement differs.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { cell, describeCell, runCells, type FidelityCell } from './cells.ts';

// The spot node sorts first, so packing puts every replica on it; spreading puts one there.
const nodes = [
  { name: 'node-a1', zone: 'us-east-1a', instanceType: 'm5.large', lifecycle: 'spot' as const },
  { name: 'node-b1', zone: 'us-east-1b', instanceType: 'm5.large', lifecycle: 'on-demand' as const },
  { name: 'node-b2', zone: 'us-east-1b', instanceType: 'm5.large', lifecycle: 'on-demand' as const },
];
const matrix = { readinessGate: [false], preStopSeconds: [0], terminationGracePeriodSeconds: [30], deregistrationDelaySeconds: [300] };
const id = 'spot.gate-off.prestop-0.grace-30.dereg-300.r1';

let packed: FidelityCell;
let spread: FidelityCell;

beforeAll(async () => {
  packed = cell(await runCells({ name: 'spot-packed', world: { cluster: { nodes, scheduling: 'pack' } }, matrix, disruptions: [{ spot: { noticeSeconds: 120 } }] }), id);
  spread = cell(await runCells({ name: 'spot-spread', world: { cluster: { nodes, scheduling: 'spread' } }, matrix, disruptions: [{ spot: { noticeSeconds: 120 } }] }), id);
}, 300_000);

describe('Mobility Technologies (spot interruption, replicas on one node vs spread)', () => {
  it('records how many of the Deployment\'s pods were on the interrupted node when it acted: all 3 packed, 1 spread', () => {
    expect(packed.result.disruptionOutcome.onNode, describeCell(packed)).toEqual({ node: 'node-a1', podsOnNode: 3, replicas: 3 });
    expect(spread.result.disruptionOutcome.onNode, describeCell(spread)).toEqual({ node: 'node-a1', podsOnNode: 1, replicas: 3 });
  });

  it('Mobility Technologies: a spot interruption with every replica on the spot node loses more than with replicas spread over nodes', () => {
    expect(packed.fiveXX, `${describeCell(packed)} vs ${describeCell(spread)}`).toBeGreaterThanOrEqual(2 * spread.fiveXX + 10);
  });

  it('Mobility Technologies: targets of evicted pods keep getting new requests after their drain completed, for seconds', () => {
    // "Ten-odd to several tens of seconds": the LB nodes still route to a target the control plane
    // has finished deregistering (the pod closed its connections and exited at once). A model that
    // drops the target at once routes none there (0); how many depends on how fast the drain
    // completes on the machine (measured 5–49), so the bound is low and the span says "seconds".
    expect(packed.afterDrain, describeCell(packed)).toBeGreaterThanOrEqual(3);
    expect(packed.afterDrainSpanSeconds, describeCell(packed)).toBeGreaterThanOrEqual(2);
  });
});
