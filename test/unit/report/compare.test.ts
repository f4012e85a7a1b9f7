import { describe, expect, it } from 'vitest';
import { compareRuns, renderComparison } from '../../../harness/report/compare.ts';
import { cellResult } from '../../helpers/results.ts';

function cell(kind: 'rollout' | 'drain', gate: boolean, fiveXX: number, valid = true, repeat = 1) {
  return cellResult({
    kind,
    gate,
    repeat,
    valid,
    ...(valid ? {} : { invalidReason: 'x' }),
    fiveXX,
    requests: { planned: 100, sent: 100, byStatus: { '200': 100 - fiveXX, ...(fiveXX ? { '502': fiveXX } : {}) }, networkErrors: 0, networkErrorsByCode: {}, cutAtStop: { count: 0, t: [] }, achieved: 1 },
  });
}

describe('compareRuns', () => {
  it('matches cells by config × disruption, sums repeats, and lists regressions', () => {
    const lastNight = [cell('rollout', false, 10), cell('rollout', false, 5, true, 2), cell('rollout', true, 0), cell('drain', true, 3)];
    const tonight = [cell('rollout', false, 12), cell('rollout', false, 0, true, 2), cell('rollout', true, 2), cell('drain', true, 0, false), cell('drain', false, 1)];
    const compared = compareRuns(lastNight, tonight);
    expect(compared.regressions).toEqual([
      'rollout, gate on, preStop 0, grace 30, dereg 300: 0 → 2 5xx',
      'drain, gate on, preStop 0, grace 30, dereg 300: became invalid',
    ]);
    expect(renderComparison('last-night', 'tonight', compared)).toMatchInlineSnapshot(`
      "| cell                                              | last-night | tonight | change |
      |---------------------------------------------------|------------|---------|--------|
      | rollout, gate off, preStop 0, grace 30, dereg 300 | 15         | 12      | -3     |
      | rollout, gate on, preStop 0, grace 30, dereg 300  | 0          | 2       | +2     |
      | drain, gate on, preStop 0, grace 30, dereg 300    | 3          | INVALID | n/a    |
      | drain, gate off, preStop 0, grace 30, dereg 300   | –          | 1       | new    |

      Regressions:
      - rollout, gate on, preStop 0, grace 30, dereg 300: 0 → 2 5xx
      - drain, gate on, preStop 0, grace 30, dereg 300: became invalid
      "
    `);
  });
});
