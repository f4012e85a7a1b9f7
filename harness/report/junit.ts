/** JUnit XML: one test case per cell, failing when an expectation fails or the cell is invalid. */
import type { UnmeasuredCell } from './expect.ts';
import type { CellResult } from './types.ts';

function esc(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** Renders JUnit XML for CI systems; a cell that was never measured is an error, never a pass. */
export function renderJunit(name: string, results: CellResult[], failedExpectations: string[], unmeasured: UnmeasuredCell[] = [], stoppedBy?: string): string {
  const cases = results.map((r) => {
    const mine = failedExpectations.filter((f) => f.includes(` ${r.id} `));
    const body = !r.valid
      ? `<failure message="invalid">${esc(r.invalidReason ?? '')}</failure>`
      : mine.length
        ? `<failure message="expectation">${esc(mine.join('\n'))}</failure>`
        : '';
    return `  <testcase classname="${esc(name)}" name="${esc(r.id)}" time="${r.durationSeconds}">${body}<system-out>${r.fiveXX} 5xx of ${r.requests.sent}</system-out></testcase>`;
  });
  for (const c of unmeasured) {
    cases.push(`  <testcase classname="${esc(name)}" name="${esc(c.id)}" time="0"><error message="not measured">${esc(stoppedBy ? `the run stopped before this cell: ${stoppedBy}` : 'the run stopped before this cell')}</error></testcase>`);
  }
  const failures = results.filter((r) => !r.valid || failedExpectations.some((f) => f.includes(` ${r.id} `))).length;
  const tests = results.length + unmeasured.length;
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuite name="${esc(name)}" tests="${tests}" failures="${failures}" errors="${unmeasured.length}">\n${cases.join('\n')}\n</testsuite>\n`;
}
