/**
 * The readiness gate (LBC docs; Mobility Technologies write-up: registration takes "seconds to
 * tens of seconds depending on the settings"). Without the gate a pod is Ready, and its
 * predecessor terminated, while its target is still being registered or health-checked on the
 * controller's default schedule (15 s interval); with one replica, the LB nodes are left with
 * nothing to route to. With the gate the rollout waits for a healthy target.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { cell, describeCell, runCells, type FidelityCell } from './cells.ts';

let cells: Map<string, FidelityCell>;

beforeAll(async () => {
  cells = await runCells({
    name: 'gate',
    world: { replicas: 1, noPdb: true },
    rate: 400,
    // preStop 20 s outlasts most of the deregistration lag, so what the gate changes stands out.
    matrix: { readinessGate: [false, true], preStopSeconds: [20], terminationGracePeriodSeconds: [40], deregistrationDelaySeconds: [300] },
    disruptions: ['rollout'],
  });
}, 240_000);

describe('readiness gate with the controller’s default health checks (LBC docs, Mobility Technologies)', () => {
  it('LBC readiness gate: without it a rollout loses more, including requests that found no routable target (503)', () => {
    const off = cell(cells, 'rollout.gate-off.prestop-20.grace-40.dereg-300.r1');
    const on = cell(cells, 'rollout.gate-on.prestop-20.grace-40.dereg-300.r1');
    expect(off.reasons['503 no-routable-targets'] ?? 0, describeCell(off)).toBeGreaterThanOrEqual(8);
    expect(off.fiveXX, `${describeCell(off)} vs ${describeCell(on)}`).toBeGreaterThanOrEqual(on.fiveXX + 8);
    expect(on.reasons['503 no-routable-targets'] ?? 0, describeCell(on)).toBe(0);
  });
});
