/**
 * report.html in a real browser (Debian's Chromium through playwright-core): rendered by the CLI from
 * a real twin run's results (fixtures/results/report-fixture), it loads with no console error and
 * no request leaving the page, every chart has drawn one mark per datum, clicking a heatmap cell
 * opens that cell's timeline, an INVALID cell shows hatched, and a screenshot PNG is written.
 * Skipped only without /usr/bin/chromium outside CI; in CI (.ci/run installs it) its absence fails.
 */
import { existsSync, readFileSync } from 'node:fs';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readRun } from '../../harness/cli/results.ts';
import type { CellResult } from '../../harness/report/types.ts';
import { requirement } from '../helpers/requirement.ts';
import { CHROMIUM, startChromium, type Browser } from './chromium.ts';

const FIXTURE = 'fixtures/results/report-fixture';
const chromium = requirement(`Chromium (${CHROMIUM})`, existsSync(CHROMIUM), 'apt-get install -y chromium; .ci/run installs it');

let dir: string;
let browser: Browser | undefined;
let cells: CellResult[];

async function renderReport(runDir: string, out: string): Promise<void> {
  const r = await execa('node', ['bin/rollout-harness.js', 'report', runDir, '--format', 'html', '-o', out], { reject: false, timeout: 60_000 });
  expect(r.exitCode, r.stderr).toBe(0);
}

/** What each cell's data says its timeline must draw. */
function expected(cell: CellResult) {
  const series = { '2xx': 0, '5xx': 0, 'network error': 0, 'other status': 0 };
  for (const s of cell.series) {
    for (const [status, n] of Object.entries(s.byStatus)) {
      const code = Number(status);
      series[code >= 200 && code < 300 ? '2xx' : code >= 500 ? '5xx' : 'other status'] += n;
    }
    series['network error'] += s.networkErrors;
  }
  const nodes = new Set(cell.timeline.flatMap((e) => (e.type === 'pod' && e.node ? [e.node] : [])));
  return {
    failures: cell.failures.length,
    outcomes: Object.entries(series).filter(([, n]) => n > 0).map(([k]) => k).sort(),
    targets: new Set(cell.timeline.flatMap((e) => (e.type === 'target' ? [e.target] : []))).size,
    pods: new Set(cell.timeline.flatMap((e) => (e.type === 'pod' ? [e.pod] : []))).size,
    nodes: nodes.size,
    marks: Object.values(cell.marks).filter((v) => v !== undefined).length,
    actions: cell.timeline.filter((e) => e.type === 'disruption').length,
  };
}

describe.runIf(chromium.run)('report.html in Chromium', () => {
  beforeAll(async () => {
    // First, so that a missing Chromium is said as such rather than as a failed launch.
    chromium.check();
    dir = await mkdtemp(path.join(os.tmpdir(), 'rollout-harness-browser-'));
    cells = (await readRun(FIXTURE)).cells;
    await renderReport(FIXTURE, path.join(dir, 'report.html'));
    // The same run with one cell INVALID, as a run whose baseline failed would write it.
    await cp(FIXTURE, path.join(dir, 'invalid-run'), { recursive: true });
    const file = path.join(dir, 'invalid-run', 'cells', `${cells[1].id}.json`);
    const cell = JSON.parse(await readFile(file, 'utf8'));
    await writeFile(file, JSON.stringify({ ...cell, valid: false, invalidReason: 'baseline: 91.0 % 2xx, below 99 %' }));
    await renderReport(path.join(dir, 'invalid-run'), path.join(dir, 'invalid.html'));
    // The same run with rate buckets and latency, as runs write them now (the fixture predates them):
    // each cell's per-second counts as buckets, with a latency that grows bucket by bucket.
    await cp(FIXTURE, path.join(dir, 'latency-run'), { recursive: true });
    for (const c of cells) {
      const points = c.series.map((s, i) => {
        const count = (pick: (status: number) => boolean) => Object.entries(s.byStatus).reduce((sum, [status, k]) => sum + (pick(Number(status)) ? k : 0), 0);
        return { t: s.t, ok: count((x) => x >= 200 && x < 300), fiveXX: count((x) => x >= 500), net: s.networkErrors, other: count((x) => x < 200 || (x >= 300 && x < 500)), p50: 2 + i, p99: 10 * (i + 1), max: 10 * (i + 1) + 5 };
      });
      await writeFile(path.join(dir, 'latency-run', 'cells', `${c.id}.json`), JSON.stringify({ ...c, rates: { bucketSeconds: 1, points }, latency: { window: { count: 10, p50: 3, p95: 40, p99: 50, max: 55 } } }));
    }
    await renderReport(path.join(dir, 'latency-run'), path.join(dir, 'latency.html'));
    // 52 cells (the fixture's 4 cells with 13 preStop values: 26 configs × 2 disruptions) for the page's speed.
    await cp(FIXTURE, path.join(dir, 'big-run'), { recursive: true });
    for (let i = 1; i < 13; i++) {
      for (const c of cells) {
        const config = { ...c.config, preStopSeconds: c.config.preStopSeconds + i };
        const id = `${c.id}-${i}`;
        await writeFile(path.join(dir, 'big-run', 'cells', `${id}.json`), JSON.stringify({ ...c, id, index: c.index + 4 * i, config }));
      }
    }
    await renderReport(path.join(dir, 'big-run'), path.join(dir, 'big.html'));
    browser = await startChromium();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('loads with no console error and no request leaving the page; the heatmap shows each cell\'s failed requests', async () => {
    const { page, errors, requests } = await (browser as Browser).open(path.join(dir, 'report.html'));
    const shown = await page.$$eval('table.heatmap a[data-group]', (as) => as.map((a) => ({ text: a.firstChild?.textContent, share: a.querySelector('small')?.textContent })));
    const want = cells.map((c) => c.fiveXX + c.requests.networkErrors).map((failed, i) => ({ text: `${failed} of ${cells[i].requests.sent}`, share: (failed / cells[i].requests.sent) * 100 }));
    // One repeat per cell in the fixture: the heatmap reads row by row (config), column by column
    // (disruption), each cell its failed of sent and the share.
    const byText = (a: { text?: string | null }, b: { text?: string | null }) => String(a.text).localeCompare(String(b.text));
    expect(shown.map((s) => s.text).sort()).toEqual(want.map((w) => w.text).sort());
    for (const [s, w] of [[shown.slice().sort(byText), want.slice().sort(byText)]] as const) {
      // Two significant digits: within 1 % of the exact share (0 exactly when nothing failed).
      s.forEach((x, i) => expect(Math.abs(Number.parseFloat(x.share ?? '') - w[i].share), `${x.text}: share ${x.share}`).toBeLessThanOrEqual(w[i].share * 0.01));
    }
    expect(shown.some((s) => s.text?.startsWith('128 of '))).toBe(true);
    expect(errors).toEqual([]);
    expect(requests).toEqual([]);
    await page.close();
  });

  it('clicking a heatmap cell opens its timeline, whose charts have one mark per datum', async () => {
    const { page, errors } = await (browser as Browser).open(path.join(dir, 'report.html'));
    const links = await page.$$eval('table.heatmap a[data-group]', (as) => as.map((a) => a.getAttribute('data-group') as string));
    expect(links.length).toBe(cells.length);
    expect(await page.locator('section.group:visible').count()).toBe(0);
    for (const group of links) {
      await page.click(`table.heatmap a[data-group="${group}"]`);
      const section = page.locator(`section#${group}`);
      await expect.poll(() => section.isVisible()).toBe(true);
      expect(await page.locator('section.group:visible').count()).toBe(1);
      const id = await section.locator('article.cell').getAttribute('data-cell');
      const cell = cells.find((c) => c.id === id) as CellResult;
      expect(cell, `a cell with id ${id}`).toBeDefined();
      const want = expected(cell);
      const drawn = await section.locator('svg.timeline').evaluate((svg) => {
        const box = svg.getBoundingClientRect();
        // Drawn: it has an extent (a vertical line has no width) and lies inside the chart.
        const visible = (sel: string) =>
          [...svg.querySelectorAll(sel)].filter((el) => {
            const r = el.getBoundingClientRect();
            return (el.tagName === 'line' ? r.height > 0 : r.width > 0 && r.height > 0) && r.left >= box.left - 1 && r.right <= box.right + 1 && r.top >= box.top - 1 && r.bottom <= box.bottom + 1;
          }).length;
        return {
          width: box.width,
          failures: visible('circle.failure'),
          outcomes: [...svg.querySelectorAll('path.rate')].map((p) => p.getAttribute('data-outcome') ?? '').sort(),
          vertices: [...svg.querySelectorAll('path.rate')].map((p) => ((p.getAttribute('d') ?? '').match(/[ML]/g) ?? []).length),
          targets: svg.querySelectorAll('g.lane[data-kind="target"]').length,
          pods: svg.querySelectorAll('g.lane[data-kind="pod"]').length,
          nodes: svg.querySelectorAll('g.lane[data-kind="node"]').length,
          spans: visible('rect.span'),
          spansListed: [...svg.querySelectorAll('g.lane')].reduce((s, g) => s + Number(g.getAttribute('data-spans')), 0),
          marks: visible('g.mark line'),
          actions: visible('path.action'),
        };
      });
      expect(drawn.width).toBeGreaterThan(500);
      expect(drawn.failures, `${id}: failure points`).toBe(want.failures);
      expect(drawn.outcomes, `${id}: outcome lines`).toEqual(want.outcomes);
      expect(drawn.vertices.every((v) => v === cell.series.length), `${id}: one vertex per second bucket`).toBe(true);
      expect(drawn.targets, `${id}: target lanes`).toBe(want.targets);
      expect(drawn.pods, `${id}: pod lanes`).toBe(want.pods);
      expect(drawn.nodes, `${id}: node lanes`).toBe(want.nodes);
      expect(drawn.spans, `${id}: every span drawn inside the chart`).toBe(drawn.spansListed);
      expect(drawn.spans).toBeGreaterThanOrEqual(want.targets + want.pods + want.nodes);
      expect(drawn.marks, `${id}: marks`).toBe(want.marks);
      expect(drawn.actions, `${id}: disruption actions`).toBe(want.actions);
    }
    // The fixture's spot cells terminate an instance: the node lane shows it.
    expect(await page.locator('rect.span[data-state="terminated"]').count()).toBe(cells.filter((c) => c.disruption.kind === 'spot').length);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('draws the latency over time under the rate, one vertex per bucket, on the same time axis', async () => {
    const { page, errors, requests } = await (browser as Browser).open(path.join(dir, 'latency.html'));
    const links = await page.$$eval('table.heatmap a[data-group]', (as) => as.map((a) => a.getAttribute('data-group') as string));
    for (const group of links) {
      await page.click(`table.heatmap a[data-group="${group}"]`);
      const section = page.locator(`section#${group}`);
      await expect.poll(() => section.isVisible()).toBe(true);
      const id = await section.locator('article.cell').getAttribute('data-cell');
      const cell = cells.find((c) => c.id === id) as CellResult;
      const drawn = await section.locator('svg.timeline').evaluate((svg) => {
        const box = svg.getBoundingClientRect();
        const paths = (sel: string) =>
          [...svg.querySelectorAll(sel)].map((p) => {
            const r = p.getBoundingClientRect();
            const d = p.getAttribute('d') ?? '';
            return { key: p.getAttribute('data-stat') ?? p.getAttribute('data-outcome'), vertices: (d.match(/[ML]/g) ?? []).length, xs: [...d.matchAll(/[ML]([\d.]+),/g)].map((m) => m[1]), inside: r.width > 0 && r.left >= box.left - 1 && r.right <= box.right + 1, top: r.top, bottom: r.bottom };
          });
        return { latency: paths('path.latency'), rate: paths('path.rate'), label: [...svg.querySelectorAll('text')].map((t) => t.textContent).filter((t) => /latency|per second|buckets/.test(t ?? '')) };
      });
      expect(drawn.latency.map((p) => p.key), `${id}: latency lines`).toEqual(['p50', 'p99', 'max']);
      for (const p of drawn.latency) {
        expect(p.vertices, `${id}: one vertex per bucket`).toBe(cell.series.length);
        expect(p.inside, `${id}: drawn inside the chart`).toBe(true);
        // The same time axis: each bucket starts at the same x as on the rate chart, and below it.
        expect(p.xs).toEqual(drawn.rate[0].xs);
        expect(p.top).toBeGreaterThanOrEqual(Math.max(...drawn.rate.map((r) => r.bottom)) - 1);
      }
      expect(drawn.label).toEqual(['requests per second (real)', 'buckets of 1 s', 'latency, ms (log)']);
    }
    expect(errors).toEqual([]);
    expect(requests).toEqual([]);
    await page.close();
  });

  it('shows an INVALID cell hatched and labelled, never as 0', async () => {
    const { page, errors, requests } = await (browser as Browser).open(path.join(dir, 'invalid.html'));
    const td = page.locator('table.heatmap td.invalid');
    expect(await td.count()).toBe(1);
    expect(await td.textContent()).toBe('INVALID');
    expect(await td.evaluate((el) => el.ownerDocument.defaultView?.getComputedStyle(el).backgroundImage)).toMatch(/repeating-linear-gradient/);
    expect(await td.locator('a').getAttribute('title')).toContain('baseline: 91.0 % 2xx');
    await td.locator('a').click();
    await expect.poll(() => page.locator('section.group:visible').textContent()).toContain('INVALID: baseline: 91.0 % 2xx');
    expect(errors).toEqual([]);
    expect(requests).toEqual([]);
    await page.close();
  });

  it('stays quick with 52 cells: loads, and opens each timeline, without an error', async () => {
    const { page, errors, requests } = await (browser as Browser).open(path.join(dir, 'big.html'));
    const loadMs = await page.evaluate(() => (globalThis as unknown as { performance: { getEntriesByType(t: string): Array<{ duration: number }> } }).performance.getEntriesByType('navigation')[0].duration);
    const links = page.locator('table.heatmap a[data-group]');
    expect(await links.count()).toBe(52);
    expect(await page.locator('table.heatmap tr').count()).toBe(27);
    for (let i = 0; i < 52; i += 17) {
      await links.nth(i).click();
      await expect.poll(() => page.locator('section.group:visible circle.failure, section.group:visible path.rate').count()).toBeGreaterThan(0);
    }
    console.log(`52-cell report: ${Math.round(loadMs)} ms to load`);
    expect(loadMs).toBeLessThan(10_000);
    expect(errors).toEqual([]);
    expect(requests).toEqual([]);
    await page.close();
  });

  it('writes a screenshot PNG of the report with a timeline open', async () => {
    const png = path.join(dir, 'report.png');
    const r = await execa('node', ['--import', 'tsx', 'scripts/screenshot-report.ts', path.join(dir, 'report.html'), png], { reject: false, timeout: 60_000 });
    expect(r.exitCode, r.all ?? r.stderr).toBe(0);
    const bytes = readFileSync(png);
    expect(bytes.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a');
    const width = bytes.readUInt32BE(16);
    const height = bytes.readUInt32BE(20);
    expect(width).toBe(1060);
    expect(height).toBeGreaterThan(900);
    expect(bytes.length).toBeLessThan(300_000);
  });
});
