/** Builds cell results for report tests: a valid, quiet cell unless told otherwise. */
import { cellResultSchema, type CellResult } from '../../harness/report/types.ts';

/** A cell result with a default config (gate as given, preStop 0, grace 30, delay 300), validated. */
export function cellResult(partial: Partial<CellResult> & { gate: boolean; kind: 'rollout' | 'drain' }): CellResult {
  const { gate, kind, ...rest } = partial;
  const repeat = rest.repeat ?? 1;
  return cellResultSchema.parse({
    schemaVersion: 1,
    id: `${kind}.gate-${gate ? 'on' : 'off'}.prestop-0.grace-30.dereg-300.r${repeat}`,
    index: 0,
    disruption: kind === 'rollout' ? { kind } : { kind, node: 'most-pods' },
    repeat,
    config: { preStopSeconds: 0, terminationGracePeriodSeconds: 30, readinessGate: gate, deregistrationDelaySeconds: 300 },
    valid: true,
    requests: { planned: 1000, sent: 1000, byStatus: { '200': 1000 }, networkErrors: 0, networkErrorsByCode: {}, cutAtStop: { count: 0, t: [] }, achieved: 1 },
    fiveXX: 0,
    driver: 'builtin',
    disruptionOutcome: { completed: true, detail: 'ok' },
    settled: true,
    marks: {},
    series: [],
    timeline: [],
    failures: [],
    startedAt: '2026-01-01T00:00:00Z',
    durationSeconds: 60,
    ...rest,
  });
}
