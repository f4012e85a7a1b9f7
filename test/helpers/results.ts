/** Builds cell results for report tests: a valid, quiet cell unless told otherwise. */
import { CAUSE_CLASSES, cellResultSchema, type CellResult, type Explain } from '../../harness/report/types.ts';

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

/** A distribution of `explain.lags` with only count and max set. */
export function dist(count: number, max: number): NonNullable<Explain['lags']>['deregistration'] {
  return { count, min: 0, p50: 0, p90: 0, max, values: [] };
}

/** An `explain` object: every cause at 0, logs complete, nothing attributed, unless given. */
export function explainOf(over: Omit<Partial<Explain>, 'causes'> & { causes?: Partial<Explain['causes']> } = {}): Explain {
  const { causes, ...rest } = over;
  return {
    logs: 'complete',
    attributed: [],
    crossCheck: { client: 0, accessLog: 0, mismatches: [] },
    ...rest,
    causes: { ...(Object.fromEntries(CAUSE_CLASSES.map((c) => [c, 0])) as Explain['causes']), ...causes },
  };
}
