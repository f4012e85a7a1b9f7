import { describe, expect, it } from 'vitest';
import { checkExpectations } from '../../../harness/report/expect.ts';
import { renderJunit } from '../../../harness/report/junit.ts';
import { renderMarkdown } from '../../../harness/report/markdown.ts';
import { cellResult } from '../../helpers/results.ts';

const results = [
  cellResult({
    gate: false,
    kind: 'rollout',
    fiveXX: 12,
    requests: { planned: 1000, sent: 1000, byStatus: { '200': 986, '502': 10, '503': 2 }, networkErrors: 2, networkErrorsByCode: { ECONNRESET: 2 }, cutAtStop: { count: 0, t: [] }, achieved: 1 },
    fiveXXByReason: { '502 connect-refused': 10, '503 no-routable-targets': 2 },
  }),
  cellResult({ gate: false, kind: 'drain', valid: false, invalidReason: 'traffic achieved 50.0 % of the 1000 planned requests (< 95 %)' }),
  cellResult({ gate: true, kind: 'rollout' }),
  cellResult({ gate: true, kind: 'drain' }),
];

describe('renderMarkdown', () => {
  it('shows one row per config, 5xx per disruption with codes, and invalid cells as INVALID with why', () => {
    const md = renderMarkdown(results, { title: 'nightly', runId: 'r1', target: 'the local twin', driver: 'builtin', rate: 100, failedExpectations: [] });
    expect(md).toMatchInlineSnapshot(`
      "# nightly

      Run \`r1\` on the local twin; traffic 100 req/s (builtin); 4 cells; 4000 requests in all.

      | gate | preStop s | grace s | dereg delay s | rollout 5xx               | drain 5xx   |
      |------|-----------|---------|---------------|---------------------------|-------------|
      | off  | 0         | 30      | 300           | 12 (502×10, 503×2, net×2) | INVALID [1] |
      | on   | 0         | 30      | 300           | 0                         | 0           |

      5xx by cause (the twin's access log):

      - 502 connect-refused: 10
      - 503 no-routable-targets: 2

      Invalid cells (not counted as 0):

      [1] drain.gate-off.prestop-0.grace-30.dereg-300.r1: traffic achieved 50.0 % of the 1000 planned requests (< 95 %)

      Every expectation held.
      "
    `);
  });
});

describe('checkExpectations', () => {
  it('fails rules exceeded and rules over invalid cells, and passes the rest', () => {
    const failed = checkExpectations(
      [
        { where: { readinessGate: true }, max5xx: 0 },
        { where: { readinessGate: false, disruption: 'rollout' }, max5xx: 5 },
        { where: { readinessGate: false, disruption: 'drain' }, max5xx: 100 },
      ],
      results,
    );
    expect(failed).toEqual([
      'expect[1]: rollout.gate-off.prestop-0.grace-30.dereg-300.r1 had 12 5xx, expected at most 5',
      expect.stringMatching(/^expect\[2\]: drain\.gate-off.* is invalid \(traffic achieved/),
    ]);
  });
});

describe('renderJunit', () => {
  it('fails invalid cells and cells with failed expectations', () => {
    const failed = checkExpectations([{ where: { readinessGate: false, disruption: 'rollout' }, max5xx: 5 }], results);
    const xml = renderJunit('nightly', results, failed);
    expect(xml).toContain('tests="4" failures="2"');
    expect(xml).toContain('<failure message="invalid">traffic achieved 50.0 % of the 1000 planned requests (&lt; 95 %)</failure>');
    expect(xml).toContain('<failure message="expectation">expect[0]: rollout.gate-off');
  });
});
