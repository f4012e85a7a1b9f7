/**
 * The report formats a run writes and `report --format` prints, by name (as drivers and
 * disruptions are): each rendered from the run's record, its cells and what was checked of them.
 * Markdown is not here: the run prints its table, `report` a review comment (harness/cli/results.ts).
 */
import type { UnmeasuredCell } from './expect.ts';
import { metaOfRun, renderHtml } from './html/render.ts';
import { renderJunit } from './junit.ts';
import { recommend } from './recommend.ts';
import type { CellResult, RunRecord } from './types.ts';

/** What every format is rendered from. */
export interface ReportInput {
  record: RunRecord;
  cells: CellResult[];
  failedExpectations: string[];
  unmeasured: UnmeasuredCell[];
}

/** One format: the file a run writes it to (none: printed only), whether it ends with a newline as printed lines do, and how it renders. */
export interface ReportFormat {
  file?: string;
  line: boolean;
  render(input: ReportInput): string;
}

/** The formats by name, in the order `report --format` lists them (after md). */
export const REPORT_FORMATS = {
  junit: { file: 'junit.xml', line: false, render: (r) => renderJunit(r.record.spec.name, r.cells, r.failedExpectations, r.unmeasured, r.record.stoppedBy) },
  json: { line: true, render: (r) => JSON.stringify({ runId: r.record.runId, cells: r.cells, failedExpectations: r.failedExpectations, recommendation: r.record.recommendation ?? recommend(r.cells) }, null, 2) },
  html: { file: 'report.html', line: false, render: (r) => renderHtml(r.cells, metaOfRun(r.record, r.failedExpectations, r.unmeasured)) },
} satisfies Record<string, ReportFormat>;

/** A format's name. */
export type ReportFormatName = keyof typeof REPORT_FORMATS;

/** The names `report --format` takes: md, then the registry's. */
export const REPORT_FORMAT_NAMES = ['md', ...Object.keys(REPORT_FORMATS)] as const;
