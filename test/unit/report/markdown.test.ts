import { describe, expect, it } from 'vitest';
import { checkExpectations } from '../../../harness/report/expect.ts';
import { renderJunit } from '../../../harness/report/junit.ts';
import { parseColumns, renderCellDetails, renderMarkdown } from '../../../harness/report/markdown.ts';
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

      | gate | preStop s | grace s | dereg delay s | rollout failed            | drain failed |
      |------|-----------|---------|---------------|---------------------------|--------------|
      | off  | 0         | 30      | 300           | 14 (502×10, 503×2, net×2) | INVALID [1]  |
      | on   | 0         | 30      | 300           | 0                         | 0            |

      Each cell counts the failed requests during that disruption: 5xx responses by code, and \`net\` for requests that got no HTTP status at all (timeouts, refused or reset connections).

      5xx by the twin's reason (its ground truth):

      - 502 connect-refused: 10
      - 503 no-routable-targets: 2

      Invalid cells (not counted as 0):

      [1] drain.gate-off.prestop-0.grace-30.dereg-300.r1: traffic achieved 50.0 % of the 1000 planned requests (< 95 %)
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

describe('requests without a status count as failed', () => {
  const refused = cellResult({
    gate: true,
    kind: 'rollout',
    requests: { planned: 266, sent: 266, byStatus: {}, networkErrors: 266, networkErrorsByCode: { timeout: 266 }, cutAtStop: { count: 0, t: [] }, achieved: 1 },
  });

  it('in the table: never "0 (net×N)"', () => {
    const md = renderMarkdown([refused], { title: 't', runId: 'r', target: 'x', driver: 'builtin', rate: 100, failedExpectations: [] });
    expect(md).toMatch(/\| 266 \(net×266\) +\|/);
  });

  it('in expect: maxFailed counts them, max5xx keeps counting 5xx only', () => {
    const rules = [{ where: {}, maxFailed: 0 }, { where: {}, max5xx: 0 }];
    expect(checkExpectations(rules, [refused])).toEqual([`expect[0]: ${refused.id} had 266 failed requests (0 5xx + 266 without a status), expected at most 0`]);
  });
});

describe('a run that measured nothing', () => {
  const unmeasured = [{ id: 'rollout.gate-on.prestop-0.grace-30.dereg-300.r1', config: { preStopSeconds: 0, terminationGracePeriodSeconds: 30, readinessGate: true, deregistrationDelaySeconds: 300 }, disruption: { kind: 'rollout' as const } }];
  const rules = [{ where: {}, max5xx: 0 }];

  it('fails every expectation that covers an unmeasured cell', () => {
    expect(checkExpectations(rules, [], unmeasured)).toEqual([`expect[0]: ${unmeasured[0].id} was not measured, so at most 0 5xx cannot be confirmed`]);
  });

  it('says so in the report instead of "Every expectation held"', () => {
    const md = renderMarkdown([], { title: 't', runId: 'r', target: 'x', driver: 'builtin', rate: 100, failedExpectations: [], expectations: 1, unmeasured, stoppedBy: 'InterruptedError: Interrupted by SIGINT' });
    expect(md).toContain('No cell was measured.');
    expect(md).toContain(`Not measured (1 of 1 cells; the run stopped: InterruptedError: Interrupted by SIGINT):\n\n- ${unmeasured[0].id}`);
    expect(md).not.toContain('Every expectation held');
  });

  it('writes each unmeasured cell as a JUnit error, never an empty passing suite', () => {
    const xml = renderJunit('nightly', [], [], unmeasured, 'interrupted');
    expect(xml).toContain('tests="1" failures="0" errors="1"');
    expect(xml).toContain(`name="${unmeasured[0].id}" time="0"><error message="not measured">the run stopped before this cell: interrupted</error>`);
  });
});

describe('renderCellDetails: what the disruption acted on', () => {
  it('shows the count of the Deployment\'s pods the disruption acted on, with its summary', () => {
    const cell = cellResult({
      gate: true,
      kind: 'drain',
      valid: false,
      invalidReason: 'disruption acted on too few pods: the drain of node-b2 evicted no pod of web',
      disruptionOutcome: { completed: true, detail: 'evicted 0 pod(s) from node-b2', actedOn: { pods: 0, needed: 1, summary: 'the drain of node-b2 evicted no pod of web' } },
    });
    expect(renderCellDetails(cell)).toContain('- disruption: completed (evicted 0 pod(s) from node-b2); acted on 0 pod(s): the drain of node-b2 evicted no pod of web; settled');
  });
});

describe('renderMarkdown --columns', () => {
  const lat = (window: number, baseline: number) => ({ latency: { baseline: { count: 50, p50: 1, p95: 2, p99: baseline, max: baseline }, window: { count: 90, p50: 3, p95: 4, p99: window, max: window + 5 } } });
  it('adds latency columns per disruption: baseline → window, ms; INVALID groups say so in every column', () => {
    const cells = [{ ...results[0], ...lat(8012.4, 19.6) }, results[1], { ...results[2], ...lat(4.56, 3) }, results[3]];
    const md = renderMarkdown(cells, { title: 'n', runId: 'r1', target: 't', driver: 'builtin', rate: 100, failedExpectations: [], columns: ['failed', 'p99'] });
    const rows = md.split('\n').filter((l) => l.startsWith('| '));
    expect(rows[0]).toMatch(/^\| gate \| preStop s \| grace s \| dereg delay s \| rollout failed +\| rollout p99 ms +\| drain failed +\| drain p99 ms +\|$/);
    expect(rows[1].split('|').map((c) => c.trim()).slice(5, 9)).toEqual(['14 (502×10, 503×2, net×2)', '20 → 8012', 'INVALID [1]', 'INVALID [1]']);
    // Below 10 ms one decimal; a cell without latency (written before it was measured) shows –.
    expect(rows[2].split('|').map((c) => c.trim()).slice(5, 9)).toEqual(['0', '3 → 4.6', '0', '–']);
    // One footnote for the group, however many columns name it.
    expect(md.match(/^\[\d+\] /gm)).toEqual(['[1] ']);
    expect(md).toContain('Latency columns: the warm-up baseline → the disruption window');
  });

  it('shows failed only by default, and rejects unknown column names with what it expects', () => {
    const md = renderMarkdown(results, { title: 'n', runId: 'r1', target: 't', driver: 'builtin', rate: 100, failedExpectations: [] });
    expect(md).not.toContain('p99');
    expect(parseColumns('failed, p99,p99')).toEqual(['failed', 'p99']);
    expect(() => parseColumns('failed,p98')).toThrow('Expected a comma-separated list of failed, p50, p95, p99, max, got "failed,p98".');
  });
});
