/** Checks the spec's expectations against the cells. */
import { matchesPartial } from '../spec/expand.ts';
import type { Expectation } from '../spec/schema.ts';
import type { CellResult } from './types.ts';

/** One sentence per failed expectation; an invalid cell fails every expectation that covers it. */
export function checkExpectations(rules: Expectation[], results: CellResult[]): string[] {
  const failed: string[] = [];
  for (const [i, rule] of rules.entries()) {
    const { disruption, ...partial } = rule.where;
    for (const r of results) {
      if (!matchesPartial(r.config, partial) || (disruption && r.disruption.kind !== disruption)) continue;
      if (!r.valid) failed.push(`expect[${i}]: ${r.id} is invalid (${r.invalidReason}), so at most ${rule.max5xx} 5xx cannot be confirmed`);
      else if (r.fiveXX > rule.max5xx) failed.push(`expect[${i}]: ${r.id} had ${r.fiveXX} 5xx, expected at most ${rule.max5xx}`);
    }
  }
  return failed;
}
