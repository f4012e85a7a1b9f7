/**
 * Comparing two runs (e.g. tonight's with last night's): cells matched by config × disruption
 * (repeats summed), 5xx before → after with the change, and cells that became invalid or appeared.
 * Pure: takes results, returns Markdown and the list of regressions.
 */
import { configKey } from './markdown.ts';
import type { CellResult } from './types.ts';

/** One compared row. */
export interface ComparedCell {
  key: string;
  label: string;
  before?: { fiveXX: number; valid: boolean };
  after?: { fiveXX: number; valid: boolean };
}

function group(results: CellResult[]): Map<string, { label: string; fiveXX: number; valid: boolean }> {
  const out = new Map<string, { label: string; fiveXX: number; valid: boolean }>();
  for (const r of results) {
    const c = r.config;
    const key = `${configKey(c)}|${r.disruption.kind}`;
    const label = `${r.disruption.kind}, gate ${c.readinessGate ? 'on' : 'off'}, preStop ${c.preStopSeconds}, grace ${c.terminationGracePeriodSeconds}, dereg ${c.deregistrationDelaySeconds}`;
    const prev = out.get(key);
    out.set(key, { label, fiveXX: (prev?.fiveXX ?? 0) + r.fiveXX, valid: (prev?.valid ?? true) && r.valid });
  }
  return out;
}

/** Compares two runs' cells; a regression is more 5xx, or a cell that became invalid. */
export function compareRuns(before: CellResult[], after: CellResult[]): { rows: ComparedCell[]; regressions: string[] } {
  const a = group(before);
  const b = group(after);
  const keys = [...new Set([...a.keys(), ...b.keys()])];
  const rows = keys.map((key) => ({
    key,
    label: (b.get(key) ?? a.get(key))!.label,
    ...(a.has(key) ? { before: { fiveXX: a.get(key)!.fiveXX, valid: a.get(key)!.valid } } : {}),
    ...(b.has(key) ? { after: { fiveXX: b.get(key)!.fiveXX, valid: b.get(key)!.valid } } : {}),
  }));
  const regressions = rows
    .filter((r) => r.before && r.after && ((r.before.valid && !r.after.valid) || (r.after.valid && r.before.valid && r.after.fiveXX > r.before.fiveXX)))
    .map((r) => `${r.label}: ${r.after!.valid ? `${r.before!.fiveXX} → ${r.after!.fiveXX} 5xx` : 'became invalid'}`);
  return { rows, regressions };
}

function text(side: { fiveXX: number; valid: boolean } | undefined): string {
  if (!side) return '–';
  return side.valid ? String(side.fiveXX) : 'INVALID';
}

/** The comparison as a Markdown table. */
export function renderComparison(beforeName: string, afterName: string, compared: ReturnType<typeof compareRuns>): string {
  const header = ['cell', beforeName, afterName, 'change'];
  const body = compared.rows.map((r) => {
    const change =
      r.before?.valid && r.after?.valid ? (r.after.fiveXX === r.before.fiveXX ? '=' : `${r.after.fiveXX > r.before.fiveXX ? '+' : ''}${r.after.fiveXX - r.before.fiveXX}`) : !r.before ? 'new' : !r.after ? 'gone' : 'n/a';
    return [r.label, text(r.before), text(r.after), change];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  const out = [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line), ''];
  out.push(compared.regressions.length ? `Regressions:\n${compared.regressions.map((r) => `- ${r}`).join('\n')}` : 'No regression.', '');
  return out.join('\n');
}
