/** Expansion of a spec into configs and cells: the product, includes, excludes, and no config twice. */
import { describe, expect, it } from 'vitest';
import { expandCells, expandConfigs } from '../../../harness/matrix/expand.ts';
import { parseSpec } from '../../../harness/matrix/load.ts';

const matrix = { preStopSeconds: [0, 15], terminationGracePeriodSeconds: [30], readinessGate: [false, true], deregistrationDelaySeconds: [300] };

describe('expandConfigs', () => {
  it('keeps one of a config the axes and an include both give, in the axes\' place', () => {
    // The include names two values in another key order; with the axes' first values for the rest
    // it is preStop 15, grace 30, gate on, delay 300: already a product config.
    const { spec } = parseSpec({ matrix: { ...matrix, include: [{ readinessGate: true, preStopSeconds: 15 }] }, disruptions: ['rollout'] });
    const configs = expandConfigs(spec.matrix);
    expect(configs).toEqual([
      { readinessGate: false, preStopSeconds: 0, terminationGracePeriodSeconds: 30, deregistrationDelaySeconds: 300 },
      { readinessGate: false, preStopSeconds: 15, terminationGracePeriodSeconds: 30, deregistrationDelaySeconds: 300 },
      { readinessGate: true, preStopSeconds: 0, terminationGracePeriodSeconds: 30, deregistrationDelaySeconds: 300 },
      { readinessGate: true, preStopSeconds: 15, terminationGracePeriodSeconds: 30, deregistrationDelaySeconds: 300 },
    ]);
  });

  it('keeps one of two equal includes, and an include that differs', () => {
    const include = [{ preStopSeconds: 60, terminationGracePeriodSeconds: 90 }, { terminationGracePeriodSeconds: 90, preStopSeconds: 60 }, { preStopSeconds: 60 }];
    const { spec } = parseSpec({ matrix: { ...matrix, include }, disruptions: ['rollout'] });
    const configs = expandConfigs(spec.matrix);
    expect(configs).toHaveLength(6);
    expect(configs.slice(4)).toEqual([
      { readinessGate: false, preStopSeconds: 60, terminationGracePeriodSeconds: 90, deregistrationDelaySeconds: 300 },
      { readinessGate: false, preStopSeconds: 60, terminationGracePeriodSeconds: 30, deregistrationDelaySeconds: 300 },
    ]);
  });
});

describe('expandCells', () => {
  it('runs a config the axes and an include both give once per disruption and repeat, every id distinct', () => {
    const { spec } = parseSpec({ matrix: { ...matrix, include: [{ preStopSeconds: 0, readinessGate: false }] }, disruptions: ['rollout', 'drain'], repeat: 2 });
    const cells = expandCells(spec);
    expect(cells).toHaveLength(4 * 2 * 2);
    expect(new Set(cells.map((c) => c.id)).size).toBe(cells.length);
    expect(cells.filter((c) => c.id === 'rollout.gate-off.prestop-0.grace-30.dereg-300.r1')).toHaveLength(1);
  });
});
