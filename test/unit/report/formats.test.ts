/** The report formats come from one registry: `report --format` takes its names, and a run writes each format that has a file. */
import { describe, expect, it } from 'vitest';
import { readRun } from '../../../harness/cli/results.ts';
import { checkExpectations } from '../../../harness/report/expect.ts';
import { REPORT_FORMAT_NAMES, REPORT_FORMATS, type ReportFormat } from '../../../harness/report/formats.ts';

describe('REPORT_FORMATS', () => {
  it('names md, junit, json and html, each file once', () => {
    expect(REPORT_FORMAT_NAMES).toEqual(['md', 'junit', 'json', 'html']);
    const files = (Object.values(REPORT_FORMATS) as ReportFormat[]).flatMap((f) => (f.file ? [f.file] : []));
    expect(files).toEqual(['junit.xml', 'report.html']);
  });

  it('renders the fixture run in each format', async () => {
    const { record, cells } = await readRun('fixtures/results/report-fixture', 'results');
    const input = { record, cells, failedExpectations: checkExpectations(record.spec.expect ?? [], cells, []), unmeasured: [] };
    expect(REPORT_FORMATS.junit.render(input)).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?>\n<testsuite name="/);
    expect(JSON.parse(REPORT_FORMATS.json.render(input))).toMatchObject({ runId: record.runId, cells: expect.any(Array) });
    expect(REPORT_FORMATS.html.render(input)).toMatch(/^<!doctype html>/i);
  });
});
