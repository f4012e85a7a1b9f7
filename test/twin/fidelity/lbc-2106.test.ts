/**
 * LBC #2106 (deregistration delay 300 s): no preStop → 502s; preStop 40 s / grace 70 s → very
 * rare; 70 s / 100 s → none. The issue used instance targets; the twin has IP targets, whose
 * deregistration goes through the same per-node lag.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { cell, describeCell, runCells, type FidelityCell } from './cells.ts';

let cells: Map<string, FidelityCell>;

beforeAll(async () => {
  cells = await runCells({
    name: 'lbc-2106',
    matrix: {
      readinessGate: [true],
      preStopSeconds: [0],
      terminationGracePeriodSeconds: [30],
      deregistrationDelaySeconds: [300],
      include: [
        { preStopSeconds: 40, terminationGracePeriodSeconds: 70 },
        { preStopSeconds: 70, terminationGracePeriodSeconds: 100 },
      ],
    },
    disruptions: ['rollout'],
  });
}, 300_000);

describe('LBC #2106 (preStop 0 loses requests; 40 s / 70 s very few; 70 s / 100 s none)', () => {
  it('LBC #2106: preStop 0 loses requests (502 to pods that exited while the LB nodes still routed to them)', () => {
    const none = cell(cells, 'rollout.gate-on.prestop-0.grace-30.dereg-300.r1');
    expect(none.fiveXX, describeCell(none)).toBeGreaterThanOrEqual(30);
    expect(none.reasons['502 connect-refused'] ?? 0, describeCell(none)).toBeGreaterThan(0);
  });

  it('LBC #2106: preStop 40 s / grace 70 s loses very few (at most a tenth of preStop 0, and under 0.5 %)', () => {
    const none = cell(cells, 'rollout.gate-on.prestop-0.grace-30.dereg-300.r1');
    const mid = cell(cells, 'rollout.gate-on.prestop-40.grace-70.dereg-300.r1');
    expect(mid.fiveXX, describeCell(mid)).toBeLessThanOrEqual(none.fiveXX / 10);
    expect(mid.fiveXX / mid.sent, describeCell(mid)).toBeLessThan(0.005);
  });

  it('LBC #2106: preStop 70 s / grace 100 s loses none', () => {
    const long = cell(cells, 'rollout.gate-on.prestop-70.grace-100.dereg-300.r1');
    expect(long.sent).toBeGreaterThan(1000);
    expect(long.fiveXX, describeCell(long)).toBe(0);
  });
});
