/**
 * LBC #1064: a 5 s preStop is not enough; 25 s preStop with a 60 s grace period (30 s
 * deregistration delay) gave 100 % availability. The app closes its connections on SIGTERM.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { cell, describeCell, runCells, type FidelityCell } from './cells.ts';

let cells: Map<string, FidelityCell>;

beforeAll(async () => {
  cells = await runCells({
    name: 'lbc-1064',
    matrix: {
      readinessGate: [true],
      preStopSeconds: [5, 25],
      terminationGracePeriodSeconds: [60],
      deregistrationDelaySeconds: [30],
    },
    disruptions: ['rollout'],
    rate: 300,
  });
}, 240_000);

describe('LBC #1064 (preStop 5 s is not enough; 25 s with grace 60 s is)', () => {
  it('LBC #1064: a rollout with preStop 5 s loses requests to targets the LB nodes still route to after the pod exited', () => {
    const short = cell(cells, 'rollout.gate-on.prestop-5.grace-60.dereg-30.r1');
    // Three pods, two LB nodes, each lagging 5–20 s past a pod that stops at ~5 s: tens of requests
    // (15 per model second here).
    // (A model whose LB nodes forget a target as soon as its drain completed early lost ~10–35.)
    expect(short.fiveXX, describeCell(short)).toBeGreaterThanOrEqual(40);
    expect(short.reasons['502 connect-refused'] ?? 0, describeCell(short)).toBeGreaterThan(0);
  });

  it('LBC #1064: a rollout with preStop 25 s and grace 60 s loses none', () => {
    const long = cell(cells, 'rollout.gate-on.prestop-25.grace-60.dereg-30.r1');
    expect(long.sent).toBeGreaterThan(1000);
    expect(long.fiveXX, describeCell(long)).toBe(0);
  });
});
