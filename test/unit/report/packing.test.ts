/**
 * Item 5 of node disruptions: the cell records how many of the Deployment's pods were on the
 * disrupted node out of its replicas, and the report says "packed" (all on the node) or "spread"
 * in the table and the cell's detail line; a result without it (older runs, rollouts) says nothing.
 */
import { describe, expect, it } from 'vitest';
import { renderCellDetails, renderMarkdown } from '../../../harness/report/markdown.ts';
import { cellResultSchema } from '../../../harness/report/types.ts';
import { cellResult } from '../../helpers/results.ts';

const meta = { title: 't', runId: 'r1', target: 'the local twin', driver: 'builtin', rate: 100, failedExpectations: [] };

/** A spot cell (Karpenter) whose node ran `pods` of 3 replicas, with 4 × 502. */
function spotCell(gate: boolean, pods: number) {
  const base = cellResult({ gate, kind: 'drain' });
  return cellResultSchema.parse({
    ...base,
    id: `spot-karpenter.gate-${gate ? 'on' : 'off'}.prestop-0.grace-30.dereg-300.r1`,
    disruption: { kind: 'spot', handler: 'karpenter', node: 'spot', noticeSeconds: 120 },
    requests: { ...base.requests, byStatus: { '200': 996, '502': 4 } },
    fiveXX: 4,
    disruptionOutcome: { completed: true, detail: 'i-0b2 terminated', actedOn: { pods, needed: 1, summary: `evicted ${pods}` }, onNode: { node: 'node-b2', podsOnNode: pods, replicas: 3 } },
  });
}

describe('packed vs spread', () => {
  it('says packed when every replica was on the node and spread otherwise, in the table and the detail line', () => {
    const md = renderMarkdown([spotCell(false, 3), spotCell(true, 1)], meta);
    expect(md).toContain('| off  | 0         | 30      | 300           | 4 (502×4); packed 3/3 |');
    expect(md).toContain('| on   | 0         | 30      | 300           | 4 (502×4); spread 1/3 |');
    expect(renderCellDetails(spotCell(false, 3))).toContain('- disruption: completed (i-0b2 terminated); acted on 3 pod(s): evicted 3; packed 3/3: 3 of 3 replica(s) on node-b2 when it acted; settled; 60 model s');
    expect(renderCellDetails(spotCell(true, 1))).toContain('; spread 1/3: 1 of 3 replica(s) on node-b2 when it acted;');
  });

  it('reads a spot result written before handlers existed as nth, and says nothing of packing without the record', () => {
    const old = cellResultSchema.parse({ ...cellResult({ gate: false, kind: 'drain' }), id: 'spot.gate-off.prestop-0.grace-30.dereg-300.r1', disruption: { kind: 'spot', node: 'spot', noticeSeconds: 120 } });
    expect(old.disruption).toEqual({ kind: 'spot', handler: 'nth', node: 'spot', noticeSeconds: 120 });
    expect(renderMarkdown([old], meta) + renderCellDetails(old)).not.toMatch(/packed|spread/);
  });
});
