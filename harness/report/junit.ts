/**
 * JUnit XML: one test case per cell, failing when an expectation fails or the cell is invalid, and
 * an error for each cell that was never measured. `time` is real (wall-clock) seconds, so a CI
 * dashboard's totals add up to the job's time; the twin's model seconds (which run faster) are a
 * property of each case.
 */
import type { UnmeasuredCell } from './expect.ts';
import type { CellResult } from './types.ts';

function esc(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** Seconds with millisecond precision, as JUnit readers expect. */
function seconds(value: number): string {
  return (Math.round(value * 1000) / 1000).toFixed(3);
}

/** A cell's wall-clock seconds; results written before they were recorded fall back to model seconds. */
function realSeconds(r: CellResult): number {
  return r.realDurationSeconds ?? r.durationSeconds;
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
    const properties = `<properties><property name="modelSeconds" value="${r.durationSeconds}"/></properties>`;
    return `  <testcase classname="${esc(name)}" name="${esc(r.id)}" time="${seconds(realSeconds(r))}">${properties}${body}<system-out>${r.fiveXX} 5xx of ${r.requests.sent}</system-out></testcase>`;
  });
  for (const c of unmeasured) {
    cases.push(`  <testcase classname="${esc(name)}" name="${esc(c.id)}" time="0"><error message="not measured">${esc(stoppedBy ? `the run stopped before this cell: ${stoppedBy}` : 'the run stopped before this cell')}</error></testcase>`);
  }
  const failures = results.filter((r) => !r.valid || failedExpectations.some((f) => f.includes(` ${r.id} `))).length;
  const tests = results.length + unmeasured.length;
  const total = results.reduce((s, r) => s + realSeconds(r), 0);
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuite name="${esc(name)}" tests="${tests}" failures="${failures}" errors="${unmeasured.length}" time="${seconds(total)}">\n${cases.join('\n')}\n</testsuite>\n`;
}
