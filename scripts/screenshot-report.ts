/**
 * Screenshots a report.html for the README: the page's top (heatmap, recommended settings) and,
 * in `<out>-timeline.png`, the timeline of the cell that lost the most requests.
 * `node --import tsx scripts/screenshot-report.ts results/<run>/report.html docs/report.png`
 */
import { startChromium } from '../test/browser/chromium.ts';

const [file, out] = process.argv.slice(2);
if (!file || !out) {
  console.error('usage: node --import tsx scripts/screenshot-report.ts REPORT.html OUT.png');
  process.exit(2);
}
const browser = await startChromium({ width: 1060, height: 900 });
try {
  const { page, errors, requests } = await browser.open(file);
  const worst = await page.$$eval('table.heatmap a[data-group]', (links) =>
    links.map((a) => ({ id: a.getAttribute('data-group') ?? '', failed: Number(a.getAttribute('data-failed')) || 0 })).sort((a, b) => b.failed - a.failed)[0]?.id,
  );
  if (worst) await page.click(`table.heatmap a[data-group="${worst}"]`);
  if (errors.length || requests.length) throw new Error(`the page logged errors or made requests: ${[...errors, ...requests].join('; ')}`);
  // The page's top (heatmap and recommended settings), cut at 1800 px to stay small …
  const height = Math.min(1800, await page.locator('html').evaluate((el) => el.scrollHeight));
  await page.screenshot({ path: out, clip: { x: 0, y: 0, width: 1060, height }, fullPage: true });
  console.log(`${out}: the page's top`);
  // … and the open cell's first timeline, next to it: `<out>-timeline.png`.
  if (worst) {
    const timelineOut = out.replace(/\.png$/, '') + '-timeline.png';
    const timeline = page.locator(`section.group[id="${worst}"] .timeline`).first();
    await timeline.scrollIntoViewIfNeeded();
    await timeline.screenshot({ path: timelineOut });
    console.log(`${timelineOut}: the timeline of cell group ${worst}`);
  }
} finally {
  await browser.close();
}
