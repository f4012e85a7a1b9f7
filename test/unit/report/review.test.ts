import { describe, expect, it } from 'vitest';
import { COMMENT_LIMIT, renderCellDetails, renderReviewMarkdown, type ReportMeta } from '../../../harness/report/markdown.ts';
import type { CellResult } from '../../../harness/report/types.ts';
import { cellResult } from '../../helpers/results.ts';

const meta: ReportMeta = { title: 'rollout-harness: nightly', runId: 'nightly-1', target: 'the local twin', driver: 'builtin', rate: 300, failedExpectations: [] };

const lossy = cellResult({
  gate: false,
  kind: 'rollout',
  fiveXX: 12,
  requests: { planned: 1000, sent: 1000, byStatus: { '200': 986, '502': 10, '503': 2 }, networkErrors: 2, networkErrorsByCode: { ECONNRESET: 2 }, cutAtStop: { count: 3, t: [1, 2, 3] }, achieved: 0.997 },
  fiveXXByReason: { '502 connect-refused': 10, '503 no-routable-targets': 2 },
  baseline: { sent: 300, not2xx: 0 },
});
const invalid = cellResult({ gate: true, kind: 'drain', valid: false, invalidReason: 'traffic achieved 50.0 % of the 1000 planned requests (< 95 %)', settled: false });

/** A run of `n` cells, each with causes, as a large matrix produces. */
function bigRun(n: number): CellResult[] {
  return Array.from({ length: n }, (_, i) =>
    cellResult({
      gate: i % 2 === 0,
      kind: i % 3 === 0 ? 'drain' : 'rollout',
      id: `rollout.gate-on.prestop-${i}.grace-${i + 30}.dereg-300.r1`,
      index: i,
      config: { preStopSeconds: i, terminationGracePeriodSeconds: i + 30, readinessGate: i % 2 === 0, deregistrationDelaySeconds: 300 },
      fiveXX: i % 7,
      requests: { planned: 3000, sent: 3000, byStatus: { '200': 3000 - (i % 7), ...(i % 7 ? { '502': i % 7 } : {}) }, networkErrors: 0, networkErrorsByCode: {}, cutAtStop: { count: 0, t: [] }, achieved: 1 },
      ...(i % 7 ? { fiveXXByReason: { '502 connect-refused': i % 7 } } : {}),
    }),
  );
}

describe('renderReviewMarkdown', () => {
  it('puts the table first, then the link, the comparison and one collapsible block per cell', () => {
    const md = renderReviewMarkdown([lossy, invalid], meta, { htmlUrl: 'https://example.invalid/artifacts/1', comparison: { baseline: 'nightly-0', markdown: '| cell | … |\n\nNo regression beyond noise.\n' } });
    const at = (s: string) => md.indexOf(s);
    expect(at('| gate | preStop s')).toBeGreaterThan(0);
    expect(at('| gate | preStop s')).toBeLessThan(at('[report.html](https://example.invalid/artifacts/1)'));
    expect(at('[report.html]')).toBeLessThan(at('## Compared with nightly-0'));
    expect(at('## Compared with nightly-0')).toBeLessThan(at('## Cells'));
    expect(md.match(/<details>/g)).toHaveLength(2);
    expect(md.match(/<\/details>/g)).toHaveLength(2);
    expect(md).not.toContain('Truncated');
    expect(md).not.toContain('Recommended settings');
  });

  it('shows a recommendation only when one is given', () => {
    const md = renderReviewMarkdown([lossy], meta, { recommendation: 'preStop ≥ 25 s (evidence: …)' });
    expect(md).toContain('## Recommended settings\n\npreStop ≥ 25 s (evidence: …)');
    expect(md.indexOf('## Recommended settings')).toBeGreaterThan(md.indexOf('| gate |'));
  });

  it('stays under GitHub\'s 65,536-character comment limit on a large run, and says what it left out', () => {
    const cells = bigRun(2000);
    const md = renderReviewMarkdown(cells, meta, { htmlUrl: 'https://example.invalid/r' });
    expect(COMMENT_LIMIT).toBe(65_536);
    expect(md.length).toBeLessThanOrEqual(COMMENT_LIMIT);
    expect(md).toMatch(/> \*\*Truncated\*\* to stay under 65,536 characters: the report is cut here \(\d+ more characters\)\. See the \[full report\]\(https:\/\/example\.invalid\/r\) or `rollout-harness report nightly-1 --format json` for everything\./);
    // Cut at a line boundary: the last table line kept is a whole row.
    const rows = md.split('\n').filter((l) => l.startsWith('| '));
    expect(rows.at(-1)).toMatch(/\|$/);
    expect(md).not.toContain('<details>');
  });

  it('keeps the whole table and drops only the details that do not fit', () => {
    const cells = bigRun(300);
    const md = renderReviewMarkdown(cells, meta);
    expect(md.length).toBeLessThanOrEqual(COMMENT_LIMIT);
    const full = renderReviewMarkdown(cells, meta, { limit: 10_000_000 });
    expect(full.length).toBeGreaterThan(COMMENT_LIMIT);
    const shown = md.match(/<details>/g)!.length;
    expect(shown).toBeGreaterThan(0);
    expect(shown).toBeLessThan(300);
    expect(md).toContain(`the details of ${300 - shown} of 300 cells are left out`);
    expect(md.match(/<details>/g)!.length).toBe(md.match(/<\/details>/g)!.length);
    // Every config row of the table is there (150 distinct configs × their columns).
    expect(md.split('\n').filter((l) => /^\| (on|off) /.test(l))).toHaveLength(300);
  });

  it('honours a smaller limit exactly', () => {
    for (const limit of [2000, 5000, 20_000]) expect(renderReviewMarkdown(bigRun(100), meta, { limit }).length).toBeLessThanOrEqual(limit);
  });
});

describe('renderCellDetails', () => {
  it('says validity, counts, the disruption and the 5xx by cause', () => {
    expect(renderCellDetails(lossy)).toMatchInlineSnapshot(`
      "<details><summary>rollout.gate-off.prestop-0.grace-30.dereg-300.r1: 14 failed</summary>

      - valid
      - requests: 1000 sent of 1000 planned (achieved 99.7 %, 3 cut at the stop); by status 200×986, 502×10, 503×2
      - failed: 14 = 12 5xx + 2 without a status (ECONNRESET×2)
      - baseline (second half of the warm-up): 0 of 300 not 2xx
      - disruption: completed (ok); settled; 60 model s

      | 5xx by cause | count |
      |---|---|
      | 502 connect-refused | 10 |
      | 503 no-routable-targets | 2 |

      </details>

      "
    `);
    expect(renderCellDetails(invalid)).toContain('- **INVALID**: traffic achieved 50.0 % of the 1000 planned requests (< 95 %)');
    expect(renderCellDetails(invalid)).toContain('did not settle');
  });

  it('says the latency of the baseline and the window, and the seconds behind schedule', () => {
    const text = renderCellDetails({
      ...lossy,
      latency: { baseline: { count: 300, p50: 4.25, p95: 9, p99: 12, max: 30 }, window: { count: 700, p50: 15, p95: 2100.4, p99: 8012.6, max: 9000 } },
      schedule: { seconds: 20, behindSeconds: 13, behind: [], maxLateSeconds: 14 },
    });
    expect(text).toContain('- latency: baseline p50 4.3, p95 9, p99 12, max 30 ms of 300; disruption window p50 15, p95 2100, p99 8013, max 9000 ms of 700');
    expect(text).toContain('- traffic behind schedule in 13 of 20 s of the disruption window (latest send 14 s after its due time)');
    expect(renderCellDetails({ ...lossy, latency: {} })).toContain('- latency: baseline no requests; disruption window no requests');
  });
});
