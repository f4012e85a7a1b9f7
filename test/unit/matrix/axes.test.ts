/** The optional axes: validated with their path, in cell ids and table columns only when they vary, absent by default. */
import { describe, expect, it } from 'vitest';
import { errorsOf } from '../../helpers/spec-errors.ts';
import { expandCells, expandConfigs } from '../../../harness/matrix/expand.ts';
import { loadSpec, parseSpec } from '../../../harness/matrix/load.ts';
import { renderMarkdown } from '../../../harness/report/markdown.ts';
import type { CellResult } from '../../../harness/report/types.ts';

const base = { preStopSeconds: [5], terminationGracePeriodSeconds: [30], readinessGate: [false], deregistrationDelaySeconds: [30] };

describe('optional axes', () => {
  it('reports a bad value with its path, what was expected and what came', () => {
    const issues = errorsOf({
      matrix: { ...base, maxSurge: ['25%', 'lots'], slowStartSeconds: [10], healthCheckIntervalSeconds: [1], loadBalancingAlgorithm: ['fastest'], preStopAction: ['exec', 'nap'] },
      disruptions: ['rollout'],
    });
    expect(issues).toEqual(
      expect.arrayContaining([
        'matrix.maxSurge[1]: expected an integer ≥ 0 or a percent, got "lots"',
        'matrix.slowStartSeconds[0]: expected 0 (off) or an integer in 30–900',
        'matrix.healthCheckIntervalSeconds[0]: expected an integer in 5–300',
        'matrix.loadBalancingAlgorithm[0]: expected "round_robin", "least_outstanding_requests", "weighted_random", got "fastest"',
        'matrix.preStopAction[1]: expected "exec", "sleep", got "nap"',
      ]),
    );
  });

  it('names cells by an optional axis only when it varies, and keeps the built-in ids exactly', () => {
    const { spec } = parseSpec({ matrix: { ...base, maxSurge: ['25%', '100%'], healthCheckIntervalSeconds: [5, 15], preStopAction: ['exec', 'sleep'], minReadySeconds: [0] }, disruptions: ['rollout'] });
    const ids = expandCells(spec).map((c) => c.id);
    expect(ids).toHaveLength(8);
    expect(ids[0]).toBe('rollout.gate-off.prestop-5.grace-30.dereg-30.action-exec.surge-25pct.hc-interval-5.r1');
    expect(ids).toContain('rollout.gate-off.prestop-5.grace-30.dereg-30.action-sleep.surge-100pct.hc-interval-15.r1');
    // minReadySeconds has one value: set for every cell, but not in the ids.
    expect(expandConfigs(spec.matrix).every((c) => c.minReadySeconds === 0)).toBe(true);
    expect(ids.some((id) => id.includes('minready'))).toBe(false);
  });

  it('leaves the default matrix as it was: no optional axis, the same ids', async () => {
    const { spec } = await loadSpec('fixtures/matrices/default.yaml');
    const cells = expandCells(spec);
    expect(cells.every((c) => Object.keys(c.config).sort().join() === 'deregistrationDelaySeconds,preStopSeconds,readinessGate,terminationGracePeriodSeconds')).toBe(true);
    expect(cells.every((c) => /^[a-z-]+\.gate-o(n|ff)\.prestop-\d+\.grace-\d+\.dereg-\d+\.r\d+$/.test(c.id))).toBe(true);
  });

  it('adds a table column for an axis that varies, none for one that does not', () => {
    const cell = (id: string, config: Record<string, unknown>): CellResult =>
      ({ id, config: { preStopSeconds: 5, terminationGracePeriodSeconds: 30, readinessGate: false, deregistrationDelaySeconds: 30, ...config }, disruption: { kind: 'rollout' }, repeat: 1, valid: true, fiveXX: 0, requests: { sent: 10, byStatus: { 200: 10 }, networkErrors: 0 }, fiveXXByReason: {} }) as unknown as CellResult;
    const meta = { title: 't', runId: 'r', target: 'twin', rate: 10, driver: 'builtin', failedExpectations: [] };
    const varying = renderMarkdown([cell('a', { maxSurge: '25%', replicas: 2 }), cell('b', { maxSurge: '100%', replicas: 2 })], meta);
    const header = varying.split('\n').find((l) => l.startsWith('| gate'))!;
    expect(header).toMatch(/\| dereg delay s \| maxSurge +\| rollout failed \|/);
    expect(header).not.toContain('replicas');
    expect(varying.split('\n').filter((l) => /\| (25%|100%) +\|/.test(l))).toHaveLength(2);
    const fixed = renderMarkdown([cell('a', { maxSurge: '25%' })], meta);
    expect(fixed.split('\n').find((l) => l.startsWith('| gate'))).not.toContain('maxSurge');
  });
});
