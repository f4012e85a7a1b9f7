/**
 * The header and expectations of a run's Markdown report (title, run id, target, driver, rate,
 * expectations, unmeasured cells), from its record: what `run`, `merge` and `report` render alike.
 */
import { checkExpectations, type UnmeasuredCell } from './expect.ts';
import type { ReportMeta, TableColumn } from './markdown.ts';
import type { CellResult, RunRecord } from './types.ts';

/** Where the run ran, as the report's header says it. */
export function targetText(record: Pick<RunRecord, 'target'>): string {
  const t = record.target;
  return t.kind === 'twin' ? `the local twin (time scale ${t.timeScale}, seed ${t.seed}; model seconds)` : `context ${t.context}`;
}

/** The report's meta for a run's cells; `target` replaces the header's target (a merged run says its shards). */
export function reportMetaOf(record: RunRecord, cells: CellResult[], unmeasured: UnmeasuredCell[], opts: { target?: string; columns?: TableColumn[] } = {}): ReportMeta {
  const expect = record.spec.expect ?? [];
  return {
    title: `rollout-harness: ${record.spec.name}`,
    runId: record.runId,
    target: opts.target ?? targetText(record),
    driver: record.driver.name,
    rate: record.spec.traffic.rate,
    failedExpectations: checkExpectations(expect, cells, unmeasured),
    expectations: expect.length,
    unmeasured,
    ...(record.stoppedBy !== undefined ? { stoppedBy: record.stoppedBy } : {}),
    ...(opts.columns ? { columns: opts.columns } : {}),
  };
}
