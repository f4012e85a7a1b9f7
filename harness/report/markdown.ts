/**
 * The table users paste into reviews: one row per config, one column per disruption, each cell the
 * 5xx count (summed over repeats) with its codes, or INVALID with why. Rendering is pure.
 */
import { disruptionLabel, varyingAxes, varyingGenericAxes } from '../matrix/expand.ts';
import { AXIS_HEADINGS, OPTIONAL_AXIS_NAMES } from '../matrix/axes.ts';
import type { UnmeasuredCell } from './expect.ts';
import { NOT_FAILED_CAUSES, type CellResult } from './types.ts';

/** The row key of a config (optional axes only when the config sets them, so the built-in keys stay as they were). */
export function configKey(c: CellResult['config']): string {
  const optional = OPTIONAL_AXIS_NAMES.filter((a) => c[a] !== undefined).map((a) => `|${a}=${c[a]}`);
  const generic = Object.entries(c.axes ?? {}).map(([n, v]) => `|axes.${n}=${v}`);
  return `${c.readinessGate ? 'on' : 'off'}|${c.preStopSeconds}|${c.terminationGracePeriodSeconds}|${c.deregistrationDelaySeconds}${optional.join('')}${generic.join('')}`;
}

/** The optional axes shown as table columns (those that vary among the results), with their headings and each config's value. */
export function axisColumns(configs: ReadonlyArray<CellResult['config']>): Array<{ heading: string; value: (c: CellResult['config']) => string }> {
  return [
    ...varyingAxes(configs).map((a) => ({ heading: AXIS_HEADINGS[a], value: (c: CellResult['config']) => (c[a] === undefined ? '–' : String(c[a])) })),
    ...varyingGenericAxes(configs).map((n) => ({ heading: n, value: (c: CellResult['config']) => c.axes?.[n] ?? '–' })),
  ];
}

/** Sums counts of several repeats. */
function add(into: Record<string, number>, from: Record<string, number> | undefined): void {
  for (const [k, v] of Object.entries(from ?? {})) into[k] = (into[k] ?? 0) + v;
}

/** One table cell: failed requests with their codes, e.g. `12 (502×10, net×2)`, `0`, or `INVALID [1]`. */
/** Packed (every replica of the Deployment on the disrupted node) or spread, with the counts. */
export function packingOf(onNode: { podsOnNode: number; replicas: number }): string {
  return `${onNode.podsOnNode >= onNode.replicas ? 'packed' : 'spread'} ${onNode.podsOnNode}/${onNode.replicas}`;
}

/** The detail line's words for where the Deployment's pods were when a node disruption acted. */
export function onNodeText(onNode: { node: string; podsOnNode: number; replicas: number }): string {
  return `${packingOf(onNode)}: ${onNode.podsOnNode} of ${onNode.replicas} replica(s) on ${onNode.node} when it acted`;
}

function cellText(results: CellResult[], footnotes: string[]): string {
  if (!results.length) return '–';
  const invalid = results.filter((r) => !r.valid);
  if (invalid.length) {
    footnotes.push(`${invalid.map((r) => r.id).join(', ')}: ${invalid.map((r) => r.invalidReason).join('; ')}`);
    return `INVALID [${footnotes.length}]`;
  }
  const codes: Record<string, number> = {};
  for (const r of results) add(codes, Object.fromEntries(Object.entries(r.requests.byStatus).filter(([s]) => Number(s) >= 500)));
  const net = results.reduce((s, r) => s + r.requests.networkErrors, 0);
  const total = results.reduce((s, r) => s + r.fiveXX, 0) + net;
  const detail = Object.entries(codes)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([code, n]) => `${code}×${n}`);
  if (net) detail.push(`net×${net}`);
  // Node disruptions: whether the replicas were packed on the node or spread (repeats may differ: each is said once).
  const packing = [...new Set(results.flatMap((r) => (r.disruptionOutcome?.onNode ? [packingOf(r.disruptionOutcome.onNode)] : [])))];
  return `${total}${detail.length ? ` (${detail.join(', ')})` : ''}${packing.length ? `; ${packing.join(', ')}` : ''}`;
}

/** The table's columns per disruption: failed requests, and latency percentiles of the disruption window. */
export const TABLE_COLUMNS = ['failed', 'p50', 'p95', 'p99', 'max'] as const;
/** One of `TABLE_COLUMNS`. */
export type TableColumn = (typeof TABLE_COLUMNS)[number];

/** Parses a `--columns` list (e.g. "failed,p99"); throws a RangeError naming what it expected and what came. */
export function parseColumns(text: string): TableColumn[] {
  const names = text.split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = names.filter((n) => !(TABLE_COLUMNS as readonly string[]).includes(n));
  if (!names.length || unknown.length) throw new RangeError(`Expected a comma-separated list of ${TABLE_COLUMNS.join(', ')}, got "${text}".`);
  return [...new Set(names)] as TableColumn[];
}

/** Milliseconds for a table cell: whole ms from 10 ms up, one decimal below. */
export function formatMs(ms: number): string {
  return ms >= 10 ? String(Math.round(ms)) : String(Math.round(ms * 10) / 10);
}

/**
 * A latency cell: the warm-up baseline's percentile → the disruption window's, in ms (e.g.
 * `20 → 8012`); over repeats, the worst of each side (percentiles of different repeats do not add).
 */
function latencyText(results: CellResult[], key: Exclude<TableColumn, 'failed'>): string {
  const worst = (side: 'window' | 'baseline') => {
    const values = results.flatMap((r) => (r.latency?.[side] ? [r.latency[side][key]] : []));
    return values.length ? formatMs(Math.max(...values)) : '–';
  };
  if (!results.some((r) => r.latency)) return '–';
  return `${worst('baseline')} → ${worst('window')}`;
}

/** What the report says besides the cells. */
export interface ReportMeta {
  title: string;
  runId: string;
  target: string;
  driver: string;
  rate: number;
  failedExpectations: string[];
  /** How many expectations the spec has (0: none to hold). */
  expectations?: number;
  /** Cells of the spec without a result, and why the run stopped before them. */
  unmeasured?: UnmeasuredCell[];
  stoppedBy?: string;
  /** The recommended settings as Markdown (`renderRecommendationMarkdown`), shown after the causes. */
  recommendation?: string;
  /** Columns per disruption (default: failed). */
  columns?: TableColumn[];
}

/** Renders the results as a Markdown report with the table, the twin's reasons, and footnotes. */
export function renderMarkdown(results: CellResult[], meta: ReportMeta): string {
  const columns = [...new Set(results.map((r) => disruptionLabel(r.disruption)))];
  const rows = new Map<string, CellResult[]>();
  for (const r of results) rows.set(configKey(r.config), [...(rows.get(configKey(r.config)) ?? []), r]);
  const footnotes: string[] = [];
  const shown = meta.columns?.length ? meta.columns : (['failed'] as TableColumn[]);
  const axes = axisColumns(results.map((r) => r.config));
  const header = ['gate', 'preStop s', 'grace s', 'dereg delay s', ...axes.map((a) => a.heading), ...columns.flatMap((d) => shown.map((k) => (k === 'failed' ? `${d} failed` : `${d} ${k} ms`)))];
  const body = [...rows.values()].map((cells) => {
    const c = cells[0].config;
    const values = columns.flatMap((d) => {
      const group = cells.filter((x) => disruptionLabel(x.disruption) === d);
      // An INVALID group says so in every column (its footnote once), so no column reads as valid.
      const failed = cellText(group, footnotes);
      return shown.map((k) => (k === 'failed' || failed.startsWith('INVALID') || failed === '–' ? failed : latencyText(group, k)));
    });
    return [c.readinessGate ? 'on' : 'off', String(c.preStopSeconds), String(c.terminationGracePeriodSeconds), String(c.deregistrationDelaySeconds), ...axes.map((a) => a.value(c)), ...values];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  const repeats = Math.max(...results.map((r) => r.repeat), 1);
  const sent = results.reduce((s, r) => s + r.requests.sent, 0);
  const unmeasured = meta.unmeasured ?? [];
  const out = [
    `# ${meta.title}`,
    '',
    `Run \`${meta.runId}\` on ${meta.target}; traffic ${meta.rate} req/s (${meta.driver}); ${results.length} cells${repeats > 1 ? `, ${repeats} repeats summed` : ''}; ${sent} requests in all.`,
    '',
  ];
  if (results.length) {
    out.push(line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line), '');
    out.push('Each cell counts the failed requests during that disruption: 5xx responses by code, and `net` for requests that got no HTTP status at all (timeouts, refused or reset connections).', '');
    if (shown.some((k) => k !== 'failed')) out.push('Latency columns: the warm-up baseline → the disruption window (its start to settled), exact percentiles of the requests sent in each, ms; over repeats, the worst.', '');
  } else out.push('No cell was measured.', '');
  const reasons: Record<string, number> = {};
  for (const r of results) if (r.valid) add(reasons, r.fiveXXByReason);
  if (Object.keys(reasons).length) {
    out.push('5xx by the twin\'s reason (its ground truth):', '');
    for (const [k, n] of Object.entries(reasons).sort((a, b) => b[1] - a[1])) out.push(`- ${k}: ${n}`);
    out.push('');
  }
  out.push(...explainSection(results));
  if (meta.recommendation) out.push(meta.recommendation.trimEnd(), '');
  if (footnotes.length) {
    out.push('Invalid cells (not counted as 0):', '');
    footnotes.forEach((f, i) => out.push(`[${i + 1}] ${f}`));
    out.push('');
  }
  if (unmeasured.length) {
    out.push(`Not measured (${unmeasured.length} of ${unmeasured.length + results.length} cells${meta.stoppedBy ? `; the run stopped: ${meta.stoppedBy}` : ''}):`, '');
    for (const c of unmeasured) out.push(`- ${c.id}`);
    out.push('');
  }
  if (meta.failedExpectations.length) {
    out.push('Expectations failed:', '');
    for (const f of meta.failedExpectations) out.push(`- ${f}`);
    out.push('');
  } else if ((meta.expectations ?? 0) > 0) {
    out.push(unmeasured.length || !results.length ? 'No expectation failed among the cells measured; the run is incomplete.' : 'Every expectation held.', '');
  }
  return out.join('\n');
}

/** Per cell: the 5xx by cause class from the ALB access log, the cross-check, and (twin) the agreement with the ground truth. */
function explainSection(results: CellResult[]): string[] {
  const explained = results.filter((r) => r.explain);
  if (!explained.length) return [];
  const title = '5xx by cause (ALB access log + timeline; harness/explain/README.md says each class)';
  // Why the logs were missing, once each: a run without access logs says it once, not per cell.
  const whys = [...new Set(explained.filter((r) => r.explain!.logs === 'missing').map((r) => r.explain!.why ?? 'no reason given'))];
  if (whys.length === 1 && explained.every((r) => r.explain!.logs === 'missing')) return [`${title}: not available, the access logs were missing for every cell: ${whys[0]}`, ''];
  const out = [`${title}:`, ''];
  const rows = explained.map((r) => {
    const e = r.explain!;
    const retried = e.causes['gateway-retried'] ?? 0;
    const failed = Object.entries(e.causes)
      .filter(([c, n]) => n > 0 && !NOT_FAILED_CAUSES.includes(c))
      .sort((a, b) => b[1] - a[1])
      .map(([c, n]) => `${c} ${n}`)
      .join(', ');
    // Counted, never a failure: a cell without a 5xx says "none" whatever the gateway retried.
    const causes = `${failed || 'none'}${retried ? ` (gateway-retried ${retried}, not failed)` : ''}`;
    // Like with like: the cell's two counts, then CloudWatch beside the log of the same minutes and load balancer.
    const cw = e.crossCheck.cloudWatch;
    const lb = cw?.accessLog;
    const check = `${e.crossCheck.client} / ${e.logs === 'missing' ? '–' : e.crossCheck.accessLog}; ${cw ? cw.elb5xx + cw.target5xx : '–'} / ${lb ? `${lb.elb5xx + lb.target5xx} (${lb.ofCell} the cell's)` : '–'}`;
    const agreement = e.agreement ? `${Math.round(e.agreement.share * 1000) / 10} % of ${e.agreement.compared}` : '';
    const logs = e.logs === 'missing' ? `missing (${whys.indexOf(e.why ?? 'no reason given') + 1})` : e.logs;
    return [r.id, logs, check, e.logs === 'missing' ? '' : causes, agreement];
  });
  const header = ['cell', 'logs', '5xx client / log; CloudWatch / log, whole LB in its minutes', 'causes', 'agreement'];
  out.push(`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`), '');
  if (whys.length) {
    whys.forEach((w, i) => out.push(`(${i + 1}) ${w}`));
    out.push('');
  }
  const mismatched = explained.filter((r) => r.explain!.crossCheck.mismatches.length);
  if (mismatched.length) {
    out.push('Cross-check mismatches:', '');
    for (const r of mismatched) for (const m of r.explain!.crossCheck.mismatches) out.push(`- ${r.id}: ${m}`);
    out.push('');
  }
  return out;
}

/** GitHub's limit on a comment (issue, pull request or review) body, in characters. */
export const COMMENT_LIMIT = 65_536;

/** What a review comment carries besides the run's own report. */
export interface ReviewOptions {
  /** The comparison with a baseline run, as `renderComparison` renders it. */
  comparison?: { baseline: string; markdown: string };
  /** Where the HTML report of the run is (a CI artifact or a hosted page). */
  htmlUrl?: string;
  /** The recommended settings, as Markdown (`renderRecommendationMarkdown`); placed after the table. */
  recommendation?: string;
  /** At most this many characters (default: GitHub's comment limit). */
  limit?: number;
  /** The command that prints everything (`reportJsonCommand`); default: `report RUN --format json`, for a run under ./results. */
  everything?: string;
}

function escHtml(s: string): string {
  return s.replace(/[<>&]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;' })[c]!);
}

function counted(counts: Record<string, number>): string {
  return Object.entries(counts)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, n]) => `${k}×${n}`)
    .join(', ');
}

/** One cell's collapsible details: validity, counts, 5xx by cause, the disruption and the baseline. */
export function renderCellDetails(r: CellResult): string {
  const failed = r.fiveXX + r.requests.networkErrors;
  const q = r.requests;
  const summary = `${r.id}: ${r.valid ? `${failed} failed` : 'INVALID'}`;
  const lines = [
    `<details><summary>${escHtml(summary)}</summary>`,
    '',
    `- ${r.valid ? 'valid' : `**INVALID**: ${r.invalidReason ?? 'no reason recorded'}`}`,
    `- requests: ${q.sent} sent of ${q.planned} planned (achieved ${(100 * q.achieved).toFixed(1)} %${q.cutAtStop.count ? `, ${q.cutAtStop.count} cut at the stop` : ''}); by status ${counted(q.byStatus) || 'none'}`,
    `- failed: ${failed} = ${r.fiveXX} 5xx + ${q.networkErrors} without a status${q.networkErrors ? ` (${counted(q.networkErrorsByCode)})` : ''}`,
  ];
  if (r.baseline) lines.push(`- baseline (second half of the warm-up): ${r.baseline.not2xx} of ${r.baseline.sent} not 2xx`);
  if (r.latency) {
    const side = (l: NonNullable<CellResult['latency']>['window']) => (l ? `p50 ${formatMs(l.p50)}, p95 ${formatMs(l.p95)}, p99 ${formatMs(l.p99)}, max ${formatMs(l.max)} ms of ${l.count}` : 'no requests');
    lines.push(`- latency: baseline ${side(r.latency.baseline)}; disruption window ${side(r.latency.window)}`);
  }
  if (r.twinStall) lines.push(`- the twin stalled for ${r.twinStall.seconds} model s at t=${r.twinStall.t}: its actions ran that much late against the pods and the traffic`);
  if (r.schedule?.behindSeconds) lines.push(`- traffic behind schedule in ${r.schedule.behindSeconds} of ${r.schedule.seconds} s of the disruption window (latest send ${r.schedule.maxLateSeconds} s after its due time)`);
  lines.push(`- disruption: ${r.disruptionOutcome.completed ? 'completed' : 'did not complete'}${r.disruptionOutcome.detail ? ` (${r.disruptionOutcome.detail})` : ''}${r.disruptionOutcome.reason ? ` (${r.disruptionOutcome.reason})` : ''}${r.disruptionOutcome.actedOn ? `; acted on ${r.disruptionOutcome.actedOn.pods} pod(s): ${r.disruptionOutcome.actedOn.summary}` : ''}${r.disruptionOutcome.onNode ? `; ${onNodeText(r.disruptionOutcome.onNode)}` : ''}; ${r.settled ? 'settled' : 'did not settle'}; ${r.durationSeconds} model s`);
  const reasons = Object.entries(r.fiveXXByReason ?? {}).sort((a, b) => b[1] - a[1]);
  if (reasons.length) {
    lines.push('', '| 5xx by cause | count |', '|---|---|', ...reasons.map(([k, n]) => `| ${k} | ${n} |`));
  }
  lines.push('', '</details>', '', '');
  return lines.join('\n');
}

/** Cuts Markdown at a line boundary so that it fits in `room` characters; returns what fits and whether it was cut. */
function cutLines(text: string, room: number): { text: string; cut: boolean } {
  if (text.length <= room) return { text, cut: false };
  const at = text.lastIndexOf('\n', Math.max(0, room));
  return { text: at > 0 ? text.slice(0, at + 1) : '', cut: true };
}

/**
 * The run as a review comment (`report --format md`): the report with its table first, the
 * recommendation when there is one, the comparison when a baseline is known, a link to the HTML
 * report, then one collapsible `<details>` per cell — within `limit` characters (GitHub's 65,536):
 * what does not fit is left out with a note saying so.
 */
export function renderReviewMarkdown(results: CellResult[], meta: ReportMeta, opts: ReviewOptions = {}): string {
  const limit = opts.limit ?? COMMENT_LIMIT;
  // Room kept for the closing note, so the note itself never pushes the text over the limit.
  const everything = opts.everything ?? `rollout-harness report ${meta.runId} --format json`;
  const reserve = 400 + everything.length + (opts.htmlUrl?.length ?? 0);
  const budget = limit - reserve;
  let out = '';
  const notes: string[] = [];
  const add = (text: string, what: string): boolean => {
    // Every section starts after a blank line, whatever the one before ended with.
    const section = !out || out.endsWith('\n\n') ? text : out.endsWith('\n') ? `\n${text}` : `\n\n${text}`;
    const fit = cutLines(section, budget - out.length);
    out += fit.text;
    if (fit.cut) notes.push(`${what} is cut here (${section.length - fit.text.length} more characters)`);
    return !fit.cut;
  };
  let ok = add(renderMarkdown(results, meta), 'the report');
  if (ok && opts.htmlUrl) ok = add(`The full report with timelines: [report.html](${opts.htmlUrl})\n\n`, 'the link');
  if (ok && opts.recommendation) ok = add(`## Recommended settings\n\n${opts.recommendation.trimEnd()}\n\n`, 'the recommendation');
  if (ok && opts.comparison) ok = add(`## Compared with ${opts.comparison.baseline}\n\n${opts.comparison.markdown.trimEnd()}\n\n`, 'the comparison');
  if (ok && results.length) {
    ok = add('## Cells\n\n', 'the cells');
    let shown = 0;
    for (const r of results) {
      if (!ok) break;
      const details = renderCellDetails(r);
      if (out.length + details.length > budget) break;
      out += details;
      shown++;
    }
    if (ok && shown < results.length) notes.push(`the details of ${results.length - shown} of ${results.length} cells are left out`);
  }
  if (notes.length) {
    const where = opts.htmlUrl ? `the [full report](${opts.htmlUrl}) or ` : '';
    out += `\n> **Truncated** to stay under ${limit.toLocaleString('en-US')} characters: ${notes.join('; ')}. See ${where}\`${everything}\` for everything.\n`;
  }
  return out;
}
