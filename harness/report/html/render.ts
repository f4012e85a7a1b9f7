/**
 * `report.html`: one self-contained page — the heatmap of failed requests per config × disruption
 * and, per cell, its timeline drawn as inline SVG on one model-seconds axis. No script and no
 * network: the charts are drawn here, the heatmap opens a cell's timeline by fragment (`:target`),
 * and a Content-Security-Policy that allows nothing but the page's own style proves it. Every text
 * is escaped (spec, pod and node names are user data). Rendering is pure.
 */
import { createHash } from 'node:crypto';
import type { UnmeasuredCell } from '../expect.ts';
import { axisColumns, type ReportMeta as MarkdownMeta } from '../markdown.ts';
import type { Recommendation } from '../recommend.ts';
import { checkLines, OTHER_AXES_INTRO, otherAxisRows, recommendationRows } from '../recommend-md.ts';
import type { RunRecord } from '../types.ts';
/** The page's header: report.md's, with the recommendation as data. */
export type ReportMeta = Omit<MarkdownMeta, 'recommendation'> & { recommendation?: Recommendation };

import { buildReportView, type CellView, type GroupView, type Lane, type ReportCell, type ReportView } from './model.ts';

/** Escapes text for HTML content and attribute values. */
export function esc(text: unknown): string {
  return String(text).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

const STATE_COLOURS: Record<string, string> = {
  // targets
  initial: '#9ecae1',
  healthy: '#31a354',
  draining: '#fd8d3c',
  unused: '#bdbdbd',
  unhealthy: '#de2d26',
  unavailable: '#756bb1',
  // pods
  starting: '#9ecae1',
  running: '#31a354',
  'not ready': '#fdd0a2',
  'in preStop': '#fdae6b',
  terminating: '#e6550d',
  gone: '#eeeeee',
  // nodes
  schedulable: '#c7e9c0',
  cordoned: '#fdae6b',
  tainted: '#fd8d3c',
  'tainted, cordoned': '#e6550d',
  terminated: '#525252',
};
const OUTCOMES = [
  { key: 'ok', label: '2xx', colour: '#31a354' },
  { key: 'fiveXX', label: '5xx', colour: '#de2d26' },
  { key: 'net', label: 'network error', colour: '#756bb1' },
  { key: 'other', label: 'other status', colour: '#969696' },
] as const;
const LATENCY_LINES = [
  ['p50', '#3182bd'],
  ['p99', '#e6550d'],
  ['max', '#969696'],
] as const;
const CAUSE_PALETTE = ['#d62728', '#1f77b4', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#bcbd22', '#7f7f7f', '#2ca02c'];
/** Heatmap colour buckets for failed > 0 (log scale up to the run's maximum). */
const BUCKETS = ['#fee5d9', '#fcbba1', '#fc9272', '#fb6a4a', '#ef3b2c', '#cb181d', '#99000d'];

const WIDTH = 1000;
const LABEL = 260;
const PLOT = WIDTH - LABEL - 16;
const LANE = 13;

function colourOf(state: string): string {
  return STATE_COLOURS[state] ?? '#bcbddc';
}

function n(x: number): string {
  return (Math.round(x * 10) / 10).toString();
}

const CSS = `
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:${WIDTH + 40}px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px}h3{font-size:15px;margin:18px 0 6px}
.meta{color:#555;margin:0 0 16px}.warn{color:#a50f15}
table{border-collapse:collapse}th,td{padding:3px 8px;text-align:left;vertical-align:top}
table.heatmap th{background:#f5f5f5;font-weight:600;border:1px solid #ddd}
table.heatmap td{border:1px solid #ddd;padding:0}
table.heatmap a small{display:block;font-weight:400;font-size:12px}
table.heatmap a{display:block;min-width:96px;padding:8px 10px;text-align:center;color:#222;text-decoration:none;font-weight:600}
table.heatmap a:hover,table.heatmap a:focus{outline:2px solid #333;outline-offset:-2px}
.b-zero{background:#edf8e9}${BUCKETS.map((c, i) => `.b${i}{background:${c}}`).join('')}.b5 a,.b6 a{color:#fff!important}
.invalid{background:repeating-linear-gradient(45deg,#e0e0e0 0 6px,#fafafa 6px 12px)}.invalid a{color:#444!important}
.missing{color:#999;text-align:center}
section.group{display:none;border-top:2px solid #333;margin-top:24px}section.group:target{display:block}
.hint{color:#555}
table.kv th{color:#555;font-weight:500;white-space:nowrap}table.kv td,table.kv th{border-bottom:1px solid #eee}
.legend{display:flex;flex-wrap:wrap;gap:4px 14px;margin:4px 0 2px;font-size:12px;color:#444}
.legend b{font-weight:600}.legend span::before{content:"";display:inline-block;width:10px;height:10px;margin-right:4px;vertical-align:-1px;background:var(--c)}
${[...new Set([...Object.values(STATE_COLOURS), ...OUTCOMES.map((o) => o.colour), ...LATENCY_LINES.map(([, c]) => c), ...CAUSE_PALETTE, ...BUCKETS, '#edf8e9', '#e0e0e0'])].map((c) => `.c-${c.slice(1)}{--c:${c}}`).join('')}
svg{display:block;margin:6px 0 12px;font:11px system-ui,sans-serif}
svg .axis line{stroke:#ccc}svg .mark line{stroke:#333;stroke-dasharray:4 3}svg .action{fill:#555}
ul.cells{columns:2;font-size:13px}
`;

/** Renders the run as one self-contained HTML page. */
export function renderHtml(cells: ReportCell[], meta: ReportMeta): string {
  const view = buildReportView(cells);
  const css = CSS.trim();
  const hash = createHash('sha256').update(css).digest('base64');
  const groups = view.rows.flatMap((r) => [...r.groups.values()]);
  const ids = new Map(groups.map((g, i) => [g, `g${i}`]));
  const colours = causeColours(groups.flatMap((g) => g.cells));
  const sent = cells.reduce((s, c) => s + c.requests.sent, 0);
  const body = [
    `<h1>${esc(meta.title)}</h1>`,
    `<p class="meta">Run <code>${esc(meta.runId)}</code> on ${esc(meta.target)}; traffic ${esc(meta.rate)} req/s (${esc(meta.driver)}); ${cells.length} cells; ${sent} requests in all.${meta.stoppedBy ? ` <span class="warn">The run stopped: ${esc(meta.stoppedBy)}</span>` : ''}</p>`,
    heatmap(view, ids),
    recommendationSection(meta.recommendation),
    expectations(meta),
    `<h2>Cells</h2><p class="hint">Click a cell of the table to open its timeline.</p>`,
    `<ul class="cells">${groups.map((g) => `<li><a href="#${ids.get(g)}">${esc(g.cells.map((c) => c.id).join(', '))}</a></li>`).join('')}</ul>`,
    ...groups.map((g) => groupSection(g, ids.get(g) as string, colours)),
  ];
  return [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'sha256-${hash}'; base-uri 'none'; form-action 'none'">`,
    '<meta name="viewport" content="width=device-width,initial-scale=1">',
    `<title>${esc(meta.title)}</title>`,
    `<style>${css}</style>`,
    '</head><body>',
    ...body,
    '</body></html>',
    '',
  ].join('\n');
}

/** The colour of a heatmap cell by its failed share: log scale from 1 in 100 000 up to the run's largest share. */
function bucketClass(failed: number, sent: number, maxRate: number): string {
  if (failed === 0 || !sent) return 'b-zero';
  const floor = Math.log(1e-5);
  const span = Math.log(Math.max(maxRate, 1e-5)) - floor;
  const i = span <= 0 ? 0 : Math.min(BUCKETS.length - 1, Math.max(0, Math.floor(((Math.log(failed / sent) - floor) / span) * (BUCKETS.length - 1))));
  return `b${i}`;
}

/** A share as a percentage with two significant digits below 1 % (0.13 %, 0.0021 %). */
function share(failed: number, sent: number): string {
  if (!sent) return '–';
  const pct = (failed / sent) * 100;
  if (pct === 0) return '0 %';
  return `${pct >= 1 ? pct.toFixed(1) : Number(pct.toPrecision(2)).toString()} %`;
}

function heatmap(view: ReportView, ids: Map<GroupView, string>): string {
  if (!view.rows.length) return '<p>No cell was measured.</p>';
  const axes = axisColumns(view.rows.map((r) => r.config));
  const head = `<tr><th>gate</th><th>preStop s</th><th>grace s</th><th>dereg delay s</th>${axes.map((a) => `<th>${esc(a.heading)}</th>`).join('')}${view.columns.map((c) => `<th>${esc(c)} failed of sent</th>`).join('')}</tr>`;
  const rows = view.rows.map((row) => {
    const c = row.config;
    const cells = view.columns.map((column) => {
      const g = row.groups.get(column);
      if (!g) return '<td class="missing">–</td>';
      const id = ids.get(g) as string;
      const title = g.failed === null ? g.invalidReasons.join('; ') : `${g.failed} failed of ${g.sent} requests sent (${share(g.failed, g.sent)}) in ${g.cells.length} repeat(s)`;
      const cls = g.failed === null ? 'invalid' : bucketClass(g.failed, g.sent, view.maxRate);
      const text = g.failed === null ? 'INVALID' : `${g.failed} of ${g.sent}<small>${share(g.failed, g.sent)}</small>`;
      return `<td class="${cls}"><a href="#${id}" data-group="${id}" data-failed="${g.failed ?? 'invalid'}" data-sent="${g.sent}" title="${esc(title)}">${text}</a></td>`;
    });
    return `<tr><th>${c.readinessGate ? 'on' : 'off'}</th><th>${c.preStopSeconds}</th><th>${c.terminationGracePeriodSeconds}</th><th>${c.deregistrationDelaySeconds}</th>${axes.map((a) => `<th>${esc(a.value(c))}</th>`).join('')}${cells.join('')}</tr>`;
  });
  const legend = `<div class="legend"><span class="c-edf8e9">0 failed</span><span class="c-${BUCKETS[0].slice(1)}">few</span><span class="c-${BUCKETS.at(-1)?.slice(1)}">largest share (${share(view.maxRate, 1)})</span><span class="c-e0e0e0">INVALID (hatched; never read as 0)</span></div>`;
  return `<table class="heatmap">${head}${rows.join('')}</table>${legend}<p class="hint">Each cell counts the failed requests during that disruption (5xx and network errors) of the requests sent, summed over repeats, and their share; the colour follows the share.</p>`;
}

/** The recommended settings over all disruptions: setting, value, evidence, what the cells say, and the other axes that vary. */
function recommendationSection(rec: Recommendation | undefined): string {
  if (!rec) return '';
  const rows = recommendationRows(rec.overall)
    .map((r) => `<tr><th>${esc(r.setting)}</th><td><b>${esc(r.recommended)}</b></td><td>${esc(r.evidence)}</td></tr>`)
    .join('');
  const lines = checkLines(rec.overall).map((l) => `<li>${esc(l)}</li>`).join('');
  const axes = otherAxisRows(rec)
    .map((r) => `<tr><th>${esc(r.axis)}</th><td>${esc(r.values)}</td><td><b>${esc(r.failures)}</b></td><td>${esc(r.evidence)}</td></tr>`)
    .join('');
  const other = axes ? `<p class="hint">${esc(OTHER_AXES_INTRO)}</p><table class="kv other-axes"><tr><th>axis</th><th>values</th><th>failures</th><th>evidence</th></tr>${axes}</table>` : '';
  return `<h2>Recommended settings</h2><p class="hint">Margin: ${esc(rec.margin.rule)}.</p><table class="kv recommendation">${rows}</table><ul>${lines}</ul>${other}`;
}

function expectations(meta: ReportMeta): string {
  if (meta.failedExpectations.length) return `<h2>Expectations failed</h2><ul>${meta.failedExpectations.map((f) => `<li>${esc(f)}</li>`).join('')}</ul>`;
  if ((meta.expectations ?? 0) > 0) return `<p>Every expectation held${meta.unmeasured?.length ? ' among the cells measured; the run is incomplete' : ''}.</p>`;
  return '';
}

function groupSection(g: GroupView, id: string, colours: Map<string, string>): string {
  return `<section class="group" id="${id}">${g.cells.map((c) => cellBlock(c, colours)).join('')}</section>`;
}

function kv(rows: Array<[string, string]>): string {
  return `<table class="kv">${rows.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`).join('')}</table>`;
}

/** Renders a value of unknown shape (cross-checks, lags) as nested tables, escaped. */
export function renderValue(value: unknown, depth = 0): string {
  if (value === null || value === undefined) return '–';
  if (typeof value === 'number') return esc(Number.isInteger(value) ? value : Math.round(value * 1000) / 1000);
  if (typeof value !== 'object' || depth > 4) return esc(typeof value === 'object' ? JSON.stringify(value) : value);
  if (Array.isArray(value)) {
    if (value.every((v) => v === null || typeof v !== 'object')) return value.map((v) => renderValue(v, depth + 1)).join(', ');
    const keys = [...new Set(value.flatMap((v) => (v && typeof v === 'object' ? Object.keys(v) : [])))];
    return `<table class="kv"><tr>${keys.map((k) => `<th>${esc(k)}</th>`).join('')}</tr>${value
      .map((v) => `<tr>${keys.map((k) => `<td>${renderValue((v as Record<string, unknown>)?.[k], depth + 1)}</td>`).join('')}</tr>`)
      .join('')}</table>`;
  }
  return `<table class="kv">${Object.entries(value)
    .map(([k, v]) => `<tr><th>${esc(k)}</th><td>${renderValue(v, depth + 1)}</td></tr>`)
    .join('')}</table>`;
}

/** One colour per cause across the whole page, the commonest first. */
function causeColours(cells: CellView[]): Map<string, string> {
  const counts: Record<string, number> = {};
  for (const c of cells) {
    for (const [cause, k] of Object.entries(c.causes)) counts[cause] = (counts[cause] ?? 0) + k;
    for (const f of c.failures) counts[f.cause] ??= 0;
  }
  const order = Object.entries(counts).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  return new Map(order.map(([cause], i) => [cause, CAUSE_PALETTE[i % CAUSE_PALETTE.length]]));
}

const SOURCE_TEXT = { explain: 'from the ALB access logs (explain)', twin: "the twin's reasons", status: 'by status' } as const;

function cellBlock(c: CellView, colours: Map<string, string>): string {
  const causes = Object.entries(c.causes).sort((a, b) => b[1] - a[1]);
  return [
    `<article class="cell" data-cell="${esc(c.id)}">`,
    `<h2>${esc(c.id)}</h2>`,
    `<h3>Validity</h3>${kv(c.validity)}`,
    causes.length ? `<h3>Failed requests by cause (${SOURCE_TEXT[c.causeSource]})</h3>${kv(causes.map(([k, v]) => [k, String(v)]))}` : '',
    c.gatewayRetried ? `<p class="retried">Retried by the gateway after a failed upstream, answered without a 5xx (gateway-retried, not failed): ${c.gatewayRetried}</p>` : '',
    c.crossChecks !== undefined ? `<h3>Cross-checks</h3><div class="cross-checks">${renderValue(c.crossChecks)}</div>` : '',
    c.lags !== undefined ? `<h3>Measured lags</h3><div class="lags">${renderValue(c.lags)}</div>` : '',
    `<h3>Timeline (model seconds)</h3>`,
    legend(OUTCOMES.map((o) => [o.label, o.colour]), 'requests'),
    c.latencySeries.length ? legend(LATENCY_LINES.map(([stat, colour]) => [stat, colour]), 'latency') : '',
    c.failures.length ? legend([...colours].filter(([cause]) => c.failures.some((f) => f.cause === cause)), 'failed') : '',
    ...(
      [
        ['targets', c.targets],
        ['pods', c.pods],
        ['nodes', c.nodes],
      ] as const
    ).map(([kind, lanes]) => (lanes.length ? legend(statesOf(lanes).map((s) => [s, colourOf(s)]), kind) : '')),
    timeline(c, colours),
    '</article>',
  ].join('');
}

function legend(items: Array<[string, string]>, title?: string): string {
  return `<div class="legend">${title ? `<b>${esc(title)}:</b>` : ''}${items.map(([label, colour]) => `<span class="c-${colour.slice(1)}">${esc(label)}</span>`).join('')}</div>`;
}

function statesOf(lanes: Lane[]): string[] {
  return [...new Set(lanes.flatMap((l) => l.spans.map((s) => s.state)))];
}

/** A lane label that fits the label column (the whole label is on hover). */
function clip(label: string): string {
  return label.length > 42 ? `…${label.slice(-41)}` : label;
}

/** A nice tick step for an axis of `end` seconds. */
function tickStep(end: number): number {
  const raw = end / 10;
  const p = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw) ?? raw;
}

/** The timeline: stacked panels on one time axis, with the marks across all of them. */
function timeline(c: CellView, colours: Map<string, string>): string {
  const x = (t: number) => LABEL + (Math.max(0, Math.min(t, c.end)) / c.end) * PLOT;
  const parts: string[] = [];
  let y = 16;
  // Actions of the disruption, as ticks on top with their text on hover.
  parts.push(`<g class="actions">${c.actions.map((a) => `<path class="action" d="M${n(x(a.t) - 4)},${y - 10}h8l-4,8z"><title>${esc(`${a.t} s: ${a.label}`)}</title></path>`).join('')}</g>`);
  y += 4;

  // Requests per second by outcome.
  const rateTop = y;
  const rateH = 110;
  const max = Math.max(1, ...c.series.map((s) => Math.max(s.ok, s.fiveXX, s.net, s.other)));
  const maxText = max >= 10 ? String(Math.round(max)) : n(max);
  parts.push(`<text x="4" y="${rateTop + 12}">requests per second (real)</text><text x="4" y="${rateTop + 26}" fill="#555">buckets of ${n(c.bucketSeconds)} s</text><text x="${LABEL - 6}" y="${rateTop + 10}" text-anchor="end">${maxText}</text><text x="${LABEL - 6}" y="${rateTop + rateH}" text-anchor="end">0</text>`);
  parts.push(`<rect x="${LABEL}" y="${rateTop}" width="${PLOT}" height="${rateH}" fill="#fafafa" stroke="#ddd"/>`);
  for (const o of OUTCOMES) {
    const values = c.series.map((s) => s[o.key]);
    if (!values.some((v) => v > 0)) continue;
    // A step per bucket: the rate holds over the bucket's span.
    const d = c.series.map((s, i) => `${i ? 'L' : 'M'}${n(x(s.t))},${n(rateTop + rateH - (s[o.key] / max) * rateH)}H${n(x(s.t + s.width))}`).join('');
    parts.push(`<path class="rate" data-outcome="${o.label}" data-points="${c.series.length}" d="${d}" fill="none" stroke="${o.colour}" stroke-width="1.5"><title>${o.label} per second</title></path>`);
  }
  y = rateTop + rateH + 14;

  // Latency over time (log scale): p50, p99 and max of the requests sent in each bucket.
  if (c.latencySeries.length) {
    const top = y;
    const h = 90;
    const values = c.latencySeries.flatMap((p) => [p.p50, p.p99, p.max]).filter((v) => v > 0);
    const lo = Math.max(0.1, 10 ** Math.floor(Math.log10(Math.min(...values, 1))));
    const hi = 10 ** Math.ceil(Math.log10(Math.max(...values, lo * 10)));
    const ly = (v: number) => top + h - ((Math.log10(Math.max(v, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * h;
    parts.push(`<text x="4" y="${top + 12}">latency, ms (log)</text><text x="${LABEL - 6}" y="${top + 10}" text-anchor="end">${hi >= 1 ? hi : n(hi)}</text><text x="${LABEL - 6}" y="${top + h}" text-anchor="end">${lo >= 1 ? lo : n(lo)}</text>`);
    parts.push(`<rect x="${LABEL}" y="${top}" width="${PLOT}" height="${h}" fill="#fafafa" stroke="#ddd"/>`);
    for (const [stat, colour] of LATENCY_LINES) {
      const d = c.latencySeries.map((p, i) => `${i ? 'L' : 'M'}${n(x(p.t))},${n(ly(p[stat]))}H${n(x(p.t + p.width))}`).join('');
      parts.push(`<path class="latency" data-stat="${stat}" data-points="${c.latencySeries.length}" d="${d}" fill="none" stroke="${colour}" stroke-width="1.5"><title>${stat} latency per bucket</title></path>`);
    }
    y = top + h + 14;
  }

  // Failed requests, one point each, a row per cause.
  const causes = [...new Set(c.failures.map((f) => f.cause))].sort((a, b) => [...colours.keys()].indexOf(a) - [...colours.keys()].indexOf(b));
  parts.push(`<text x="4" y="${y + 10}">failed requests (${c.failures.length}${c.failuresCounted > c.failures.length ? ` of ${c.failuresCounted}, the first kept` : ''})</text>`);
  y += 16;
  if (!causes.length) {
    parts.push(`<text x="${LABEL}" y="${y + 10}" fill="#555">none</text>`);
    y += 16;
  }
  for (const cause of causes) {
    parts.push(`<text x="${LABEL - 6}" y="${y + 10}" text-anchor="end">${esc(clip(cause))}<title>${esc(cause)}</title></text><line x1="${LABEL}" x2="${LABEL + PLOT}" y1="${y + 6}" y2="${y + 6}" stroke="#eee"/>`);
    const colour = colours.get(cause) ?? '#333';
    parts.push(
      c.failures
        .filter((f) => f.cause === cause)
        .map((f) => `<circle class="failure" data-cause="${esc(cause)}" cx="${n(x(f.t))}" cy="${y + 6}" r="3" fill="${colour}" fill-opacity="0.7"><title>${esc(`${f.t} s: ${f.cause}${f.detail ? ` (${f.detail})` : ''}`)}</title></circle>`)
        .join(''),
    );
    y += 14;
  }
  y += 8;

  const lanes = (title: string, kind: string, list: Lane[]) => {
    parts.push(`<text x="4" y="${y + 10}" font-weight="600">${esc(title)}</text>`);
    y += 16;
    if (!list.length) {
      parts.push(`<text x="${LABEL}" y="${y + 10}" fill="#555">no ${esc(kind)} events</text>`);
      y += 16;
    }
    let group: string | undefined;
    for (const lane of list) {
      if (lane.group && lane.group !== group) {
        parts.push(`<text x="4" y="${y + 10}" fill="#555">LB node ${esc(lane.group)}</text>`);
        y += LANE + 2;
      }
      group = lane.group;
      parts.push(
        `<g class="lane" data-kind="${kind}" data-spans="${lane.spans.length}"><text x="${LABEL - 6}" y="${y + 10}" text-anchor="end">${esc(clip(lane.label))}<title>${esc(lane.label)}</title></text>${lane.spans
          .map((s) => `<rect class="span" data-state="${esc(s.state)}" x="${n(x(s.from))}" y="${y}" width="${n(Math.max(1, x(s.to) - x(s.from)))}" height="${LANE - 2}" fill="${colourOf(s.state)}"><title>${esc(`${lane.label}: ${s.state} ${s.from}–${s.to} s`)}</title></rect>`)
          .join('')}</g>`,
      );
      y += LANE;
    }
    y += 8;
  };
  lanes('targets by state', 'target', c.targets);
  lanes('pods by phase', 'pod', c.pods);
  lanes('nodes', 'node', c.nodes);

  // The time axis and the marks, across every panel.
  const bottom = y;
  const stepT = tickStep(c.end);
  const ticks: string[] = [];
  for (let t = 0; t <= c.end + 1e-9; t += stepT) ticks.push(`<line x1="${n(x(t))}" x2="${n(x(t))}" y1="${rateTop}" y2="${bottom}"/><text x="${n(x(t))}" y="${bottom + 14}" text-anchor="middle" fill="#555">${n(t)}</text>`);
  parts.unshift(`<g class="axis">${ticks.join('')}</g>`);
  parts.push(
    `<g class="marks">${c.marks.map((m) => `<g class="mark" data-mark="${m.label}"><line x1="${n(x(m.t))}" x2="${n(x(m.t))}" y1="${rateTop}" y2="${bottom}"/><text x="${n(x(m.t) > LABEL + PLOT * 0.8 ? x(m.t) - 3 : x(m.t) + 3)}" y="${rateTop + 22 + 11 * ['trafficStart', 'disruptionStart', 'settled', 'trafficStop'].indexOf(m.label)}" text-anchor="${x(m.t) > LABEL + PLOT * 0.8 ? 'end' : 'start'}" fill="#333">${m.label} ${m.t} s</text></g>`).join('')}</g>`,
  );
  const height = bottom + 22;
  return `<svg class="timeline" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" role="img" aria-label="${esc(`timeline of ${c.id}`)}">${parts.join('')}</svg>`;
}

/** The page's header from the run record (the same words as report.md's). */
export function metaOfRun(record: RunRecord, failedExpectations: string[], unmeasured?: UnmeasuredCell[]): ReportMeta {
  const t = record.target;
  return {
    title: `rollout-harness: ${record.spec.name}`,
    runId: record.runId,
    target: t.kind === 'twin' ? `the local twin (time scale ${t.timeScale}, seed ${t.seed}; model seconds)` : `context ${t.context}`,
    driver: record.driver.name,
    rate: record.spec.traffic.rate,
    failedExpectations,
    expectations: record.spec.expect?.length ?? 0,
    ...(unmeasured ? { unmeasured } : {}),
    ...(record.stoppedBy ? { stoppedBy: record.stoppedBy } : {}),
    ...(record.recommendation ? { recommendation: record.recommendation } : {}),
  };
}
