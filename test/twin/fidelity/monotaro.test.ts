/**
 * The MonotaRO case study: with preStop 60 s / grace 60 s, setting the deregistration delay below
 * the pod's wait (30 s) ended the errors: no LB node routes a new request to a target once its
 * delay has elapsed, and the pod still serves until its preStop ends.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { cell, describeCell, runCells, type FidelityCell } from './cells.ts';

let cells: Map<string, FidelityCell>;

beforeAll(async () => {
  cells = await runCells({
    name: 'monotaro',
    matrix: { readinessGate: [true], preStopSeconds: [60], terminationGracePeriodSeconds: [60], deregistrationDelaySeconds: [30] },
    disruptions: ['rollout'],
  });
}, 240_000);

describe('MonotaRO case study (deregistration delay below the pod’s wait)', () => {
  it('MonotaRO: preStop 60 s / grace 60 s with a 30 s deregistration delay loses none in a rollout', () => {
    const c = cell(cells, 'rollout.gate-on.prestop-60.grace-60.dereg-30.r1');
    expect(c.sent).toBeGreaterThan(1000);
    expect(c.fiveXX, describeCell(c)).toBe(0);
  });
});
