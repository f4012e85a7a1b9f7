import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { esc, renderHtml, renderValue, type ReportMeta } from '../../../../harness/report/html/render.ts';
import type { CellConfig } from '../../../../harness/matrix/schema.ts';
import { recommend, type RecommendCell } from '../../../../harness/report/recommend.ts';
import { readRun } from '../../../../harness/cli/results.ts';
import { cellResult, dist, explainOf } from '../../../helpers/results.ts';

const meta: ReportMeta = { title: 'rollout-harness: t', runId: 'r1', target: 'the local twin', driver: 'builtin', rate: 100, failedExpectations: [] };

describe('renderHtml', () => {
  it('shows the recommended settings with their evidence and what the cells say', () => {
    // One cell whose nodes kept routing 12.4 s after the deregistration, and whose longest request took 0.5 s.
    const cell = cellResult({ gate: true, kind: 'rollout', explain: explainOf({ lags: { deregistration: dist(2, 12.4), registration: dist(1, 2), longestRequest: dist(1, 0.5) } }) });
    const rec = recommend([cell]);
    expect(rec.overall.preStopSeconds.value).toBe(18); // 12.4 + max(5, 2.48) = 17.4 → 18
    const html = renderHtml([cell], { ...meta, recommendation: rec });
    const section = /<h2>Recommended settings<\/h2>([\s\S]*?)<h2>/.exec(html)?.[1] ?? '';
    expect(section).toContain('<th>preStop</th><td><b>18 s</b></td>');
    expect(section).toContain('12.4 s in');
    expect(renderHtml([cell], meta)).not.toContain('Recommended settings');
  });

  it('shows the same three states as report.md: not tested, inconclusive, and the nearest cell below the recommendation as support', () => {
    const lags = { deregistration: dist(2, 12.4), registration: dist(1, 2), longestRequest: dist(1, 0.5) };
    // Gate on only: not tested; the preStop-0 cell lost requests below the recommended 18 s.
    const onOnly = cellResult({ gate: true, kind: 'rollout', fiveXX: 30, explain: explainOf({ lags }) });
    const section = (html: string) => /<h2>Recommended settings<\/h2>([\s\S]*?)<h2>/.exec(html)?.[1] ?? '';
    const html = section(renderHtml([onOnly], { ...meta, recommendation: recommend([onOnly]) }));
    expect(html).toContain('<th>readiness gate</th><td><b>not tested</b></td><td>the gate was only ever on');
    expect(html).toContain('supports it: it lost requests');
    // 83 off vs 67 on: within noise, inconclusive.
    const off = cellResult({ gate: false, kind: 'rollout', fiveXX: 83, explain: explainOf({ lags }) });
    const on = cellResult({ gate: true, kind: 'rollout', fiveXX: 67, explain: explainOf({ lags }) });
    const open = section(renderHtml([off, on], { ...meta, recommendation: recommend([off, on]) }));
    expect(open).toContain('<th>readiness gate</th><td><b>inconclusive</b></td><td>cells alike but for the gate lost more with it off, within noise');
  });

  it('shows the other axes that vary beside the recommendation, escaped, and none for a run without them', () => {
    const base = cellResult({ gate: false, kind: 'rollout' });
    // Cells whose config carries keys beyond the four, as the settings registry adds them.
    const configWith = (extra: Record<string, unknown>): CellConfig & Record<string, unknown> => ({ ...base.config, ...extra });
    const withAxis = (maxSurge: string, fiveXX: number): RecommendCell => ({ ...base, id: `rollout.${maxSurge}`, fiveXX, config: configWith({ maxSurge }) });
    const rec = recommend([withAxis('25%', 40), withAxis('100%', 0)]);
    const section = /<h2>Recommended settings<\/h2>([\s\S]*?)<h2>/.exec(renderHtml([base], { ...meta, recommendation: rec }))?.[1] ?? '';
    expect(section).toContain('<table class="kv other-axes"><tr><th>axis</th><th>values</th><th>failures</th><th>evidence</th></tr><tr><th>maxSurge</th><td>25%, 100%</td><td><b>changed</b></td><td>changed the failures beyond noise in 1 of 1 pair');
    expect(section).toContain('rollout: maxSurge 25% lost 40 vs 0 with 100%');
    // A generic axis's name and values come from the spec: escaped.
    const named = (v: string): RecommendCell => ({ ...base, id: `rollout.${v}`, config: configWith({ axes: { '<b>x</b>': v } }) });
    const escaped = renderHtml([base], { ...meta, recommendation: recommend([named('"a"&'), named('<i>')]) });
    expect(escaped).toContain('<tr><th>axes.&lt;b&gt;x&lt;/b&gt;</th><td>&quot;a&quot;&amp;, &lt;i&gt;</td><td><b>no difference</b></td>');
    expect(escaped).not.toContain('<i>');
    const { otherAxes: _, ...old } = rec;
    expect(renderHtml([base], { ...meta, recommendation: old })).not.toContain('other-axes');
  });

  it('is one page that allows nothing but its own style: a CSP with the style hash, no script, no external reference', () => {
    const html = renderHtml([cellResult({ gate: false, kind: 'rollout' })], meta);
    const style = /<style>([\s\S]*?)<\/style>/.exec(html)?.[1] ?? '';
    const hash = createHash('sha256').update(style).digest('base64');
    expect(html).toContain(`content="default-src 'none'; style-src 'sha256-${hash}';`);
    expect(html.indexOf('Content-Security-Policy')).toBeLessThan(html.indexOf('<style>'));
    expect(html).not.toMatch(/<script|<link|<img|<iframe|\ssrc=|url\(|@import/i);
    expect(html).not.toMatch(/https?:\/\//);
    expect(html).not.toMatch(/\sstyle="/);
  });

  it('escapes user data: spec title, pod, node and target names, invalid reasons', () => {
    const cell = cellResult({
      gate: false,
      kind: 'rollout',
      valid: false,
      invalidReason: '<b>baseline</b> & "more"',
      timeline: [
        { t: 0, type: 'pod', pod: '<img src=x onerror=alert(1)>', change: 'present', node: "n'1<" },
        { t: 1, type: 'target', target: '<t>:80', state: '<healthy>' },
        { t: 2, type: 'disruption', action: 'cordon', detail: "n'1< <script>" },
      ],
    });
    const html = renderHtml([cell], { ...meta, title: '<script>alert(1)</script>' });
    expect(html).not.toContain('<script');
    expect(html).not.toContain('<img');
    expect(html).not.toContain('<b>baseline');
    expect(html).not.toContain('<t>');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt; on n&#39;1&lt;');
    expect(html).toContain('&lt;b&gt;baseline&lt;/b&gt; &amp; &quot;more&quot;');
  });

  it('marks an INVALID cell as such (hatched class, the word, its reason), never as 0', () => {
    const ok = cellResult({ gate: false, kind: 'rollout' });
    const bad = cellResult({ gate: true, kind: 'rollout', valid: false, invalidReason: 'baseline 90 % 2xx', fiveXX: 0 });
    const html = renderHtml([ok, bad], meta);
    const cells = [...html.matchAll(/<td class="([^"]+)"><a href="#(g\d+)" data-group="g\d+" data-failed="([^"]+)" data-sent="\d+" title="([^"]*)">(.+?)<\/a><\/td>/g)].map((m) => ({ cls: m[1], failed: m[3], title: m[4], text: m[5] }));
    expect(cells).toEqual([
      { cls: 'b-zero', failed: '0', title: `0 failed of ${ok.requests.sent} requests sent (0 %) in 1 repeat(s)`, text: `0 of ${ok.requests.sent}<small>0 %</small>` },
      { cls: 'invalid', failed: 'invalid', title: `${bad.id}: baseline 90 % 2xx`, text: 'INVALID' },
    ]);
  });

  it('shows failed of sent and the share in the heatmap, coloured by the share: 129 of 397 is darker than 87 of 765', () => {
    const at = (gate: boolean, failed: number, sent: number) =>
      cellResult({ gate, kind: 'rollout', fiveXX: failed, requests: { planned: sent, sent, byStatus: { '200': sent - failed, '502': failed }, networkErrors: 0, networkErrorsByCode: {}, cutAtStop: { count: 0, t: [] }, achieved: 1 } });
    const html = renderHtml([at(false, 129, 397), at(true, 87, 765)], meta);
    const cells = [...html.matchAll(/<td class="(b\d)"><a [^>]*>(.+?)<\/a><\/td>/g)].map((m) => ({ cls: m[1], text: m[2] }));
    expect(cells).toEqual([
      { cls: 'b6', text: '129 of 397<small>32.5 %</small>' },
      { cls: 'b5', text: '87 of 765<small>11.4 %</small>' },
    ]);
  });

  it('draws the rate in real requests per second and the latency over time on the same axis when the cell has rate buckets', () => {
    const cell = {
      ...cellResult({ gate: false, kind: 'rollout' }),
      durationSeconds: 40,
      realDurationSeconds: 2,
      rates: { bucketSeconds: 0.5, points: [0, 10, 20, 30].map((t, i) => ({ t, ok: 50, fiveXX: i, net: 0, other: 0, p50: 2 + i, p99: 10 ** i, max: 10 ** i + 1 })) },
    };
    const html = renderHtml([cell], meta);
    expect(html).toContain('requests per second (real)');
    expect(html).toContain('buckets of 0.5 s');
    expect(html).not.toContain('per model s');
    const latency = [...html.matchAll(/<path class="latency" data-stat="(\w+)" data-points="(\d+)" d="([^"]+)"/g)];
    expect(latency.map((m) => [m[1], m[2]])).toEqual([['p50', '4'], ['p99', '4'], ['max', '4']]);
    // The same x for a time on both charts: the rate's and the latency's first vertices and steps align.
    const rate = /<path class="rate" data-outcome="2xx" data-points="4" d="([^"]+)"/.exec(html)![1];
    const xs = (d: string) => [...d.matchAll(/[ML]([\d.]+),/g)].map((m) => m[1]);
    expect(xs(latency[0][3])).toEqual(xs(rate));
    // 100 req/s of 2xx: 50 per 0.5 s bucket.
    expect(html).toMatch(/<text x="\d+" y="\d+" text-anchor="end">100<\/text>/);
  });

  it('renders the cross-checks and lags when a cell has them, and leaves their slots out when not', () => {
    const plain = renderHtml([cellResult({ gate: false, kind: 'rollout' })], meta);
    expect(plain).not.toContain('Cross-checks');
    const cell = { ...cellResult({ gate: false, kind: 'rollout' }), explain: explainOf({ crossCheck: { client: 3, accessLog: 2, mismatches: ['client 3 vs ALB log 2'] }, lags: { deregistration: { count: 3, min: 0.5, p50: 1.25, p90: 4, max: 4.5, values: [0.5, 1.25, 4.5] }, registration: dist(0, 0), longestRequest: dist(0, 0) } }) };
    const html = renderHtml([cell], meta);
    expect(html).toContain('<h3>Cross-checks</h3>');
    expect(html).toContain('<th>accessLog</th><td>2</td>');
    expect(html).toContain('client 3 vs ALB log 2');
    expect(html).toContain('<h3>Measured lags</h3>');
    expect(html).toContain('<th>p50</th><td>1.25</td>');
  });

  it('gives a cause one colour on the whole page, whatever each cell\'s commonest cause', () => {
    const a = cellResult({ gate: false, kind: 'rollout', fiveXX: 3, failures: [{ t: 1, path: '/', status: 502 }, { t: 2, path: '/', status: 502 }, { t: 3, path: '/', status: 503 }] });
    const b = cellResult({ gate: true, kind: 'rollout', fiveXX: 3, failures: [{ t: 1, path: '/', status: 503 }, { t: 2, path: '/', status: 503 }, { t: 3, path: '/', status: 502 }] });
    const html = renderHtml([a, b], meta);
    const fills = (cause: string) => new Set([...html.matchAll(new RegExp(`data-cause="${cause}"[^>]* fill="(#[0-9a-f]+)"`, 'g'))].map((m) => m[1]));
    expect([...fills('502')].length).toBe(1);
    expect([...fills('503')].length).toBe(1);
    expect(fills('502')).not.toEqual(fills('503'));
    expect((html.match(/<circle class="failure"/g) ?? []).length).toBe(6);
  });

  it('stays small for a run of 50 cells (the fixture run\'s cells, repeated)', async () => {
    const { record, cells } = await readRun('fixtures/results/report-fixture');
    const many = Array.from({ length: 13 }, (_, i) => cells.map((c) => ({ ...c, id: `${c.id}-${i}`, repeat: i + 1 }))).flat();
    const html = renderHtml(many, { ...meta, runId: record.runId });
    expect(many.length).toBe(52);
    expect((html.match(/<article class="cell"/g) ?? []).length).toBe(52);
    // 13 repeats per heatmap cell: 4 heatmap cells; the page stays well under a few MB.
    expect((html.match(/data-group="g\d+"/g) ?? []).length).toBe(4);
    expect(html.length).toBeLessThan(3_000_000);
  });
});

describe('esc and renderValue', () => {
  it('escapes the five characters that matter in content and attributes', () => {
    expect(esc(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  });
  it('renders nested values as tables, arrays of objects with one column per key', () => {
    expect(renderValue([{ a: 1, b: '<x>' }, { a: 2.34567 }])).toBe('<table class="kv"><tr><th>a</th><th>b</th></tr><tr><td>1</td><td>&lt;x&gt;</td></tr><tr><td>2.346</td><td>–</td></tr></table>');
  });
});
