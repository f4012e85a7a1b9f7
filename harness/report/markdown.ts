/**
 * The table users paste into reviews: one row per config, one column per disruption, each cell the
 * 5xx count (summed over repeats) with its codes, or INVALID with why. Rendering is pure.
 */
import type { CellResult } from './types.ts';

const DISRUPTIONS = ['rollout', 'drain', 'spot'] as const;

/** The row key of a config. */
export function configKey(c: CellResult['config']): string {
  return `${c.readinessGate ? 'on' : 'off'}|${c.preStopSeconds}|${c.terminationGracePeriodSeconds}|${c.deregistrationDelaySeconds}`;
}

/** Sums counts of several repeats. */
function add(into: Record<string, number>, from: Record<string, number> | undefined): void {
  for (const [k, v] of Object.entries(from ?? {})) into[k] = (into[k] ?? 0) + v;
}

/** One table cell: e.g. `12 (502×10, 503×2)`, `0`, or `INVALID¹`. */
function cellText(results: CellResult[], footnotes: string[]): string {
  if (!results.length) return '–';
  const invalid = results.filter((r) => !r.valid);
  if (invalid.length) {
    footnotes.push(`${invalid.map((r) => r.id).join(', ')}: ${invalid.map((r) => r.invalidReason).join('; ')}`);
    return `INVALID [${footnotes.length}]`;
  }
  const codes: Record<string, number> = {};
  for (const r of results) add(codes, Object.fromEntries(Object.entries(r.requests.byStatus).filter(([s]) => Number(s) >= 500)));
  const total = results.reduce((s, r) => s + r.fiveXX, 0);
  const net = results.reduce((s, r) => s + r.requests.networkErrors, 0);
  const detail = Object.entries(codes)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([code, n]) => `${code}×${n}`);
  if (net) detail.push(`net×${net}`);
  return `${total}${detail.length ? ` (${detail.join(', ')})` : ''}`;
}

/** Renders the results as a Markdown report with the table, the twin's reasons, and footnotes. */
export function renderMarkdown(results: CellResult[], meta: { title: string; runId: string; target: string; driver: string; rate: number; failedExpectations: string[] }): string {
  const present = DISRUPTIONS.filter((d) => results.some((r) => r.disruption.kind === d));
  const rows = new Map<string, CellResult[]>();
  for (const r of results) rows.set(configKey(r.config), [...(rows.get(configKey(r.config)) ?? []), r]);
  const footnotes: string[] = [];
  const header = ['gate', 'preStop s', 'grace s', 'dereg delay s', ...present.map((d) => `${d} 5xx`)];
  const body = [...rows.values()].map((cells) => {
    const c = cells[0].config;
    return [c.readinessGate ? 'on' : 'off', String(c.preStopSeconds), String(c.terminationGracePeriodSeconds), String(c.deregistrationDelaySeconds), ...present.map((d) => cellText(cells.filter((x) => x.disruption.kind === d), footnotes))];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  const repeats = Math.max(...results.map((r) => r.repeat), 1);
  const sent = results.reduce((s, r) => s + r.requests.sent, 0);
  const out = [
    `# ${meta.title}`,
    '',
    `Run \`${meta.runId}\` on ${meta.target}; traffic ${meta.rate} req/s (${meta.driver}); ${results.length} cells${repeats > 1 ? `, ${repeats} repeats summed` : ''}; ${sent} requests in all.`,
    '',
    line(header),
    `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`,
    ...body.map(line),
    '',
  ];
  const reasons: Record<string, number> = {};
  for (const r of results) if (r.valid) add(reasons, r.fiveXXByReason);
  if (Object.keys(reasons).length) {
    out.push('5xx by cause (the twin\'s access log):', '');
    for (const [k, n] of Object.entries(reasons).sort((a, b) => b[1] - a[1])) out.push(`- ${k}: ${n}`);
    out.push('');
  }
  if (footnotes.length) {
    out.push('Invalid cells (not counted as 0):', '');
    footnotes.forEach((f, i) => out.push(`[${i + 1}] ${f}`));
    out.push('');
  }
  if (meta.failedExpectations.length) {
    out.push('Expectations failed:', '');
    for (const f of meta.failedExpectations) out.push(`- ${f}`);
    out.push('');
  } else out.push('Every expectation held.', '');
  return out.join('\n');
}
