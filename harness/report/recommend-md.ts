/**
 * The recommendation as a compact Markdown section (for report.md and a review comment), and the
 * same content as plain rows and lines for the HTML report. Rendering is pure.
 */
import { AXIS_PAIR_ALPHA, count, GATE_PAIR_MIN_CHANGE, valueText, type Evidence, type OtherAxis, type Recommendation, type RecommendationSet } from './recommend.ts';

/** One row of the settings table. */
export interface RecommendationRow {
  setting: string;
  recommended: string;
  evidence: string;
}

const where = (e: Evidence) => {
  const at = e.target ? `, target ${e.target}${e.lbNode ? ` via LB node ${e.lbNode}` : ''}` : '';
  const next = e.next.length ? `; next ${e.next.map((n) => `${n.seconds} s`).join(', ')}` : '';
  return `${e.measure} ${e.seconds} s in ${e.cell}${at}; ${count(e.samples, 'sample')} in ${count(e.cells, 'cell')}${next}`;
};

/** The recommended column in one of the three states: the value, "not tested" or "inconclusive". */
const stateText = (state: RecommendationSet['preStopSeconds']['state'], value: string) => (state === 'value' ? value : state === 'not-tested' ? 'not tested' : 'inconclusive');

/** The readiness gate's recommended column: on, not needed, not tested or inconclusive. */
export const gateText = (g: RecommendationSet['readinessGate']): string => stateText(g.state, g.value ? 'on' : 'not needed');

const secondsRow = (setting: string, s: RecommendationSet['preStopSeconds']): RecommendationRow =>
  s.value === null
    ? { setting, recommended: stateText(s.state, 'none'), evidence: s.why ?? 'no measurement' }
    : { setting, recommended: `${s.value} s`, evidence: `${s.rule}: ${s.arithmetic ?? ''} (${s.evidence.map(where).join('; ')})` };

/** The settings table of one scope: setting | recommended | evidence. */
export function recommendationRows(set: RecommendationSet): RecommendationRow[] {
  const g = set.readinessGate;
  const gateEvidence = g.cells.length ? `${g.why}; the cells: ${g.cells.map((c) => `${c.id} (${c.lost}, gate ${c.readinessGate ? 'on' : 'off'})`).join(', ')}` : g.why;
  return [
    secondsRow('preStop', set.preStopSeconds),
    secondsRow('terminationGracePeriodSeconds', set.terminationGracePeriodSeconds),
    secondsRow('deregistration delay', set.deregistrationDelaySeconds),
    { setting: 'readiness gate', recommended: gateText(g), evidence: gateEvidence },
  ];
}

/** What the nearest config says: meeting every value it should lose nothing; below them it may lose. */
const NEAREST_WORDS: Record<NonNullable<NonNullable<RecommendationSet['check']>['nearest']>['verdict'], string> = {
  confirmed: 'confirms: it lost nothing',
  contradicted: 'contradicts: it lost requests',
  supports: 'supports it: it lost requests, as a config below the recommendation may',
  neutral: 'neither confirms nor contradicts: it lost nothing although below the recommendation',
  untested: 'cannot tell',
};

const cellList = (cells: readonly { id: string; valid: boolean; failed: number }[]) => cells.map((c) => `${c.id}: ${c.valid ? c.failed : 'INVALID'}`).join(', ');
const configText = (c: { readinessGate: boolean; preStopSeconds: number; terminationGracePeriodSeconds: number; deregistrationDelaySeconds: number }) =>
  `gate ${c.readinessGate ? 'on' : 'off'}, preStop ${c.preStopSeconds} s, grace ${c.terminationGracePeriodSeconds} s, delay ${c.deregistrationDelaySeconds} s`;

/** What the matrix cells say about the recommendation of one scope, one line each. */
export function checkLines(set: RecommendationSet): string[] {
  const check = set.check;
  if (!check) return ['No recommendation, so nothing to confirm.'];
  const lines: string[] = [];
  const failedOnes = check.meeting.filter((c) => c.valid && c.failed > 0);
  if (check.verdict === 'untested') lines.push(`Untested: no valid cell meets every recommended value${check.meeting.length ? ` (${cellList(check.meeting)})` : ''}.`);
  else if (check.verdict === 'confirmed') lines.push(`Confirmed: ${count(check.meeting.filter((c) => c.valid).length, 'cell')} meeting every recommended value, none lost a request (${cellList(check.meeting)}).`);
  else lines.push(`Contradicted: ${failedOnes.length} of ${count(check.meeting.filter((c) => c.valid).length, 'valid cell')} meeting every recommended value lost requests (${cellList(failedOnes)}).`);
  const n = check.nearest;
  if (n) {
    const word = NEAREST_WORDS[n.verdict];
    lines.push(`Nearest cell (${configText(n.config)}; distance ${n.distance}${n.meets ? ', meets the recommendation' : ', below the recommendation'}) ${word} (${cellList(n.cells)}).`);
  }
  const b = check.below;
  if (b.cells) {
    lines.push(
      b.lost
        ? `Below the recommendation (cells that do not meet every value may lose requests): ${b.lost} of ${count(b.cells, 'valid cell')} lost requests, as it predicts.`
        : `Below the recommendation: none of ${count(b.cells, 'valid cell')} lost a request, so the values may be more than needed.`,
    );
  }
  return lines;
}

/** The failures column of an other axis: changed, no difference, not tested or inconclusive. */
export const axisText = (a: OtherAxis): string => stateText(a.state, a.changed ? 'changed' : 'no difference');

/** One row of the other axes' table. */
export interface OtherAxisRow {
  axis: string;
  values: string;
  failures: string;
  evidence: string;
}

/** The other axes' table: axis | values | failures | evidence; empty when no other axis varies (or the run predates it). */
export function otherAxisRows(rec: Recommendation): OtherAxisRow[] {
  return (rec.otherAxes ?? []).map((a) => ({ axis: a.axis, values: a.values.map(valueText).join(', '), failures: axisText(a), evidence: a.why }));
}

/** The line above the other axes' table: what a pair is and the test. */
export const OTHER_AXES_INTRO = `Other axes (beside the recommendation): cells alike but for one axis (same disruption, every other setting equal, repeats pooled), per pair of its values; the exact test of the readiness gate's pairs, two-sided, at ${AXIS_PAIR_ALPHA} and at least ${GATE_PAIR_MIN_CHANGE} more, each pair on its own.`;

const table = (header: string[], rows: string[][]) => {
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`)];
};

const short = (s: RecommendationSet) => {
  const v = (x: RecommendationSet['preStopSeconds']) => stateText(x.state, `${x.value} s`);
  const gate = gateText(s.readinessGate);
  const check = s.check ? s.check.verdict + (s.check.nearest ? `; nearest ${s.check.nearest.verdict}` : '') : '–';
  return [s.scope, v(s.preStopSeconds), v(s.terminationGracePeriodSeconds), v(s.deregistrationDelaySeconds), gate, check];
};

/** The "Recommended settings" section: the table over all disruptions, its check, the other axes that vary, then one line per disruption. */
export function renderRecommendationMarkdown(rec: Recommendation, heading = '## Recommended settings'): string {
  const o = rec.overall;
  const out = [heading, ''];
  out.push(`From the measured lags of ${o.withLags} of ${count(o.cells, 'valid cell')}${o.excluded.length ? ` (${count(o.excluded.length, 'invalid cell')} not used)` : ''}; margin: ${rec.margin.rule}.`, '');
  if (rec.behindGateway) out.push(`Left out: ${rec.behindGateway.why}.`, '');
  out.push(...table(['setting', 'recommended', 'evidence'], recommendationRows(o).map((r) => [r.setting, r.recommended, r.evidence])), '');
  out.push(...checkLines(o), '');
  const axes = otherAxisRows(rec);
  if (axes.length) {
    out.push(OTHER_AXES_INTRO, '');
    out.push(...table(['axis', 'values', 'failures', 'evidence'], axes.map((r) => [r.axis, r.values, r.failures, r.evidence])), '');
  }
  if (rec.byDisruption.length > 1) {
    out.push('Per disruption:', '');
    out.push(...table(['disruption', 'preStop', 'grace', 'dereg delay', 'gate', 'check'], rec.byDisruption.map(short)), '');
  }
  return out.join('\n');
}
