/** report.md's "5xx by cause" table from the cells' explain objects, and the cross-check mismatches. */
import { describe, expect, it } from 'vitest';
import { renderMarkdown } from '../../../harness/report/markdown.ts';
import { CAUSE_CLASSES, type Explain } from '../../../harness/report/types.ts';
import { cellResult } from '../../helpers/results.ts';

const causes = (c: Partial<Record<(typeof CAUSE_CLASSES)[number], number>>) => ({ ...Object.fromEntries(CAUSE_CLASSES.map((k) => [k, 0])), ...c }) as Explain['causes'];

describe('renderMarkdown with explained cells', () => {
  it('shows each cell\'s causes, its logs status, the counts compared like with like, and the agreement', () => {
    const explained = cellResult({ gate: false, kind: 'rollout', fiveXX: 12 });
    explained.explain = {
      logs: 'complete',
      causes: causes({ 'routed-after-sigterm': 9, 'no-healthy-target': 2, 'before-alb': 1 }),
      attributed: [],
      crossCheck: { client: 12, accessLog: 11, cloudWatch: { elb5xx: 30, target5xx: 1, from: 'a', to: 'b', accessLog: { elb5xx: 30, target5xx: 1, ofCell: 11 } }, mismatches: ['the client saw 12 5xx, the access log has 11'] },
      agreement: { compared: 11, agreed: 11, share: 1, unmatched: 0, disagreements: [] },
    };
    const missing = cellResult({ gate: true, kind: 'rollout' });
    missing.explain = { logs: 'missing', why: 'access logs are off on load balancer shop | x', causes: causes({}), attributed: [], crossCheck: { client: 0, accessLog: 0, mismatches: [] } };
    const md = renderMarkdown([explained, missing], { title: 't', runId: 'r', target: 'x', driver: 'builtin', rate: 1, failedExpectations: [] });
    const section = md.slice(md.indexOf('5xx by cause (ALB'));
    expect(section.split('\n').slice(0, 9).join('\n')).toBe(
      [
        '5xx by cause (ALB access log + timeline; harness/explain/README.md says each class):',
        '',
        '| cell | logs | 5xx client / log; CloudWatch / log, whole LB in its minutes | causes | agreement |',
        '|---|---|---|---|---|',
        `| ${explained.id} | complete | 12 / 11; 31 / 31 (11 the cell's) | routed-after-sigterm 9, no-healthy-target 2, before-alb 1 | 100 % of 11 |`,
        `| ${missing.id} | missing (1) | 0 / –; – / – |  |  |`,
        '',
        '(1) access logs are off on load balancer shop | x',
        '',
      ].join('\n'),
    );
    expect(section).toContain(`- ${explained.id}: the client saw 12 5xx, the access log has 11`);
  });

  it('says once why the logs were missing when they were for every cell', () => {
    const a = cellResult({ gate: true, kind: 'rollout' });
    const b = cellResult({ gate: true, kind: 'drain' });
    for (const c of [a, b]) c.explain = { logs: 'missing', why: 'access logs are off', causes: causes({}), attributed: [], crossCheck: { client: 0, accessLog: 0, mismatches: [] } };
    const md = renderMarkdown([a, b], { title: 't', runId: 'r', target: 'x', driver: 'builtin', rate: 1, failedExpectations: [] });
    expect(md).toContain('5xx by cause (ALB access log + timeline; harness/explain/README.md says each class): not available, the access logs were missing for every cell: access logs are off\n');
    expect(md).not.toContain('| cell | logs |');
  });

  it('shows a gateway cell\'s retries beside its causes, never as failures: a cell without a 5xx says none', () => {
    const quiet = cellResult({ gate: true, kind: 'rollout', fiveXX: 0 });
    quiet.explain = { logs: 'complete', causes: causes({ 'gateway-retried': 7 }), attributed: [], crossCheck: { client: 0, accessLog: 0, mismatches: [] } };
    const lossy = cellResult({ gate: false, kind: 'rollout', fiveXX: 3 });
    lossy.explain = { logs: 'complete', causes: causes({ 'gateway-upstream-gone': 2, 'gateway-pod-gone': 1, 'gateway-retried': 4 }), attributed: [], crossCheck: { client: 3, accessLog: 3, mismatches: [] } };
    const md = renderMarkdown([quiet, lossy], { title: 't', runId: 'r', target: 'x', driver: 'builtin', rate: 1, failedExpectations: [] });
    expect(md).toContain(`| ${quiet.id} | complete | 0 / 0; – / – | none (gateway-retried 7, not failed) |  |`);
    expect(md).toContain(`| ${lossy.id} | complete | 3 / 3; – / – | gateway-upstream-gone 2, gateway-pod-gone 1 (gateway-retried 4, not failed) |  |`);
  });

  it('adds nothing when no cell was explained', () => {
    expect(renderMarkdown([cellResult({ gate: true, kind: 'rollout' })], { title: 't', runId: 'r', target: 'x', driver: 'builtin', rate: 1, failedExpectations: [] })).not.toContain('5xx by cause (ALB');
  });
});
