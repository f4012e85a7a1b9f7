/**
 * The first run, timed: `rollout-harness run` of the default matrix (what `npm start` runs) on the
 * embedded twin, then where its time went. Prints the wall time beside the goal (≤ 120 s after
 * `npm ci`), the table's valid cells, and per stage (configure, warm-up, disrupt, settle,
 * cool-down, collect) the model seconds summed over the cells and the real seconds they took, then
 * what was outside the cells: starting (spec, twin, first connect) and the end (the access-log
 * wait, the report, restore, stopping the twin). The time-scale and the rate can be overridden to
 * compare with another setting in the same machine state.
 *
 *   node --import tsx bench/first-run.ts [--spec fixtures/matrices/default.yaml] [--time-scale 0.1 --rate 300]
 */
import { execa } from 'execa';
import { readFile, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { projectRoot } from '../harness/core/paths.ts';
import { BIN } from '../test/helpers/twin-up.ts';

const args = process.argv.slice(2);
const option = (name: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const GOAL_SECONDS = 120;
const STAGES = ['configure', 'traffic', 'warmup', 'disrupt', 'settle', 'cooldown', 'collect'] as const;

interface Cell {
  id: string;
  valid: boolean;
  startedAt: string;
  realDurationSeconds?: number;
  durationSeconds: number;
  timeline: Array<{ t: number; type: string; stage?: string }>;
}

const dir = await mkdtemp(path.join(os.tmpdir(), 'rh-first-run-'));
try {
  const specFile = path.resolve(option('spec') ?? path.join(projectRoot, 'fixtures/matrices/default.yaml'));
  const spec = parse(await readFile(specFile, 'utf8')) as { target: { twin?: { timeScale?: number } }; traffic: { rate: number } };
  if (option('time-scale')) spec.target.twin = { ...spec.target.twin, timeScale: Number(option('time-scale')) };
  if (option('rate')) spec.traffic.rate = Number(option('rate'));
  const scale = spec.target.twin?.timeScale ?? 1;
  const file = path.join(dir, 'spec.yaml');
  // The copy runs from the project root, as `npm start` does: relative paths in it resolve there.
  await writeFile(file, stringify(spec));
  const started = performance.now();
  const run = await execa(process.execPath, [BIN, 'run', file, '--results-dir', path.join(dir, 'results'), '--run-id', 'bench'], { reject: false, all: true, cwd: projectRoot, timeout: 900_000 });
  const wall = (performance.now() - started) / 1000;
  if (run.exitCode !== 0 && run.exitCode !== 1 && run.exitCode !== 4) throw new Error(`Expected the run to finish (exit 0, 1 or 4), got ${run.exitCode}:\n${String(run.all).slice(-3000)}`);
  const cellsDir = path.join(dir, 'results', 'bench', 'cells');
  const cells: Cell[] = [];
  for (const f of (await readdir(cellsDir)).filter((n) => n.endsWith('.json'))) cells.push(JSON.parse(await readFile(path.join(cellsDir, f), 'utf8')) as Cell);
  cells.sort((a, b) => a.startedAt.localeCompare(b.startedAt));
  const model: Record<string, number> = Object.fromEntries(STAGES.map((s) => [s, 0]));
  for (const c of cells) {
    const marks = c.timeline.filter((e) => e.type === 'stage');
    for (let i = 0; i < marks.length - 1; i++) if (marks[i].stage! in model) model[marks[i].stage!] += marks[i + 1].t - marks[i].t;
  }
  const cellsReal = cells.reduce((a, c) => a + (c.realDurationSeconds ?? c.durationSeconds * scale), 0);
  const firstStart = Date.parse(cells[0].startedAt);
  const last = cells.at(-1)!;
  const lastEnd = Date.parse(last.startedAt) + (last.realDurationSeconds ?? 0) * 1000;
  const epochStart = Date.now() - wall * 1000;
  const fmt = (x: number) => x.toFixed(1).padStart(7);
  console.log(`spec ${path.relative(projectRoot, specFile)} at time scale ${scale}, ${spec.traffic.rate} req/s; exit ${run.exitCode}`);
  console.log(`wall ${wall.toFixed(1)} s (goal ≤ ${GOAL_SECONDS} s: ${wall <= GOAL_SECONDS ? 'met' : 'not met'}); ${cells.filter((c) => c.valid).length} of ${cells.length} cells valid`);
  console.log('');
  console.log('| stage | model s (all cells) | real s |');
  console.log('|---|---|---|');
  for (const s of STAGES) console.log(`| ${s} | ${fmt(model[s])} | ${fmt(model[s] * scale)} |`);
  console.log(`| cells, total | ${fmt(cells.reduce((a, c) => a + c.durationSeconds, 0))} | ${fmt(cellsReal)} |`);
  console.log(`| before the first cell (spec, twin, connect) | | ${fmt((firstStart - epochStart) / 1000)} |`);
  console.log(`| between cells | | ${fmt((lastEnd - firstStart) / 1000 - cellsReal)} |`);
  console.log(`| after the last cell (access logs, report, restore, twin stop) | | ${fmt(wall - (lastEnd - epochStart) / 1000)} |`);
  const table = String(run.stdout).split('\n').filter((l) => l.startsWith('|')).slice(0, 7);
  console.log('');
  console.log(table.join('\n'));
  // Why any cell is INVALID (the report's footnotes).
  for (const line of String(run.stdout).split('\n').filter((l) => /^\[\d+\] /.test(l)).slice(0, 15)) console.log(line);
} finally {
  await rm(dir, { recursive: true, force: true });
}
