/** Checks the spec's expectations against the cells. */
import { matchesPartial } from '../matrix/expand.ts';
import type { CellConfig, Disruption, Expectation } from '../matrix/schema.ts';
import type { CellResult } from './types.ts';

/** A cell of the spec that has no result (the run was interrupted or stopped before it). */
export interface UnmeasuredCell {
  id: string;
  config: CellConfig;
  disruption: Pick<Disruption, 'kind'>;
}

/** Requests that failed: 5xx responses plus requests that got no HTTP status. */
export function failedRequests(r: Pick<CellResult, 'fiveXX' | 'requests'>): number {
  return r.fiveXX + r.requests.networkErrors;
}

function limits(rule: Expectation): string {
  return [rule.max5xx !== undefined ? `at most ${rule.max5xx} 5xx` : '', rule.maxFailed !== undefined ? `at most ${rule.maxFailed} failed` : ''].filter(Boolean).join(' and ');
}

/**
 * One sentence per failed expectation. An invalid cell fails every expectation that covers it, and
 * so does a cell that was never measured: nothing unmeasured is taken as held.
 */
export function checkExpectations(rules: Expectation[], results: CellResult[], unmeasured: UnmeasuredCell[] = []): string[] {
  const failed: string[] = [];
  for (const [i, rule] of rules.entries()) {
    const { disruption, ...partial } = rule.where;
    const covers = (c: { config: CellConfig; disruption: { kind: string } }) => matchesPartial(c.config, partial) && (!disruption || c.disruption.kind === disruption);
    for (const r of results) {
      if (!covers(r)) continue;
      if (!r.valid) {
        failed.push(`expect[${i}]: ${r.id} is invalid (${r.invalidReason}), so ${limits(rule)} cannot be confirmed`);
        continue;
      }
      if (rule.max5xx !== undefined && r.fiveXX > rule.max5xx) failed.push(`expect[${i}]: ${r.id} had ${r.fiveXX} 5xx, expected at most ${rule.max5xx}`);
      const lost = failedRequests(r);
      if (rule.maxFailed !== undefined && lost > rule.maxFailed) {
        failed.push(`expect[${i}]: ${r.id} had ${lost} failed requests (${r.fiveXX} 5xx + ${r.requests.networkErrors} without a status), expected at most ${rule.maxFailed}`);
      }
    }
    for (const c of unmeasured) if (covers(c)) failed.push(`expect[${i}]: ${c.id} was not measured, so ${limits(rule)} cannot be confirmed`);
  }
  return failed;
}
