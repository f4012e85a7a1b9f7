/**
 * The table users paste into reviews: one row per config, one column per disruption, each cell the
 * 5xx count (summed over repeats) with its codes, or INVALID with why. Rendering is pure.
 */
import { disruptionLabel } from '../matrix/expand.ts';
import type { UnmeasuredCell } from './expect.ts';
import type { CellResult } from './types.ts';

/** The row key of a config. */
export function configKey(c: CellResult['config']): string {
  return `${c.readinessGate ? 'on' : 'off'}|${c.preStopSeconds}|${c.terminationGracePeriodSeconds}|${c.deregistrationDelaySeconds}`;
}

/** Sums counts of several repeats. */
function add(into: Record<string, number>, from: Record<string, number> | undefined): void {
  for (const [k, v] of Object.entries(from ?? {})) into[k] = (into[k] ?? 0) + v;
}

/** One table cell: failed requests with their codes, e.g. `12 (502×10, net×2)`, `0`, or `INVALID [1]`. */
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
  return `${total}${detail.length ? ` (${detail.join(', ')})` : ''}`;
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
}

/** Renders the results as a Markdown report with the table, the twin's reasons, and footnotes. */
export function renderMarkdown(results: CellResult[], meta: ReportMeta): string {
  const columns = [...new Set(results.map((r) => disruptionLabel(r.disruption)))];
  const rows = new Map<string, CellResult[]>();
  for (const r of results) rows.set(configKey(r.config), [...(rows.get(configKey(r.config)) ?? []), r]);
  const footnotes: string[] = [];
  const header = ['gate', 'preStop s', 'grace s', 'dereg delay s', ...columns.map((d) => `${d} failed`)];
  const body = [...rows.values()].map((cells) => {
    const c = cells[0].config;
    return [c.readinessGate ? 'on' : 'off', String(c.preStopSeconds), String(c.terminationGracePeriodSeconds), String(c.deregistrationDelaySeconds), ...columns.map((d) => cellText(cells.filter((x) => disruptionLabel(x.disruption) === d), footnotes))];
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
  } else out.push('No cell was measured.', '');
  const reasons: Record<string, number> = {};
  for (const r of results) if (r.valid) add(reasons, r.fiveXXByReason);
  if (Object.keys(reasons).length) {
    out.push('5xx by the twin\'s reason (its ground truth):', '');
    for (const [k, n] of Object.entries(reasons).sort((a, b) => b[1] - a[1])) out.push(`- ${k}: ${n}`);
    out.push('');
  }
  out.push(...explainSection(results));
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
    const causes = Object.entries(e.causes)
      .filter(([, n]) => n > 0)
      .sort((a, b) => b[1] - a[1])
      .map(([c, n]) => `${c} ${n}`)
      .join(', ');
    const check = `${e.crossCheck.client} / ${e.logs === 'missing' ? '–' : e.crossCheck.accessLog} / ${e.crossCheck.cloudWatch ? e.crossCheck.cloudWatch.elb5xx + e.crossCheck.cloudWatch.target5xx : '–'}`;
    const agreement = e.agreement ? `${Math.round(e.agreement.share * 1000) / 10} % of ${e.agreement.compared}` : '';
    const logs = e.logs === 'missing' ? `missing (${whys.indexOf(e.why ?? 'no reason given') + 1})` : e.logs;
    return [r.id, logs, check, e.logs === 'missing' ? '' : causes || 'none', agreement];
  });
  const header = ['cell', 'logs', '5xx client / log / CloudWatch', 'causes', 'agreement'];
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
