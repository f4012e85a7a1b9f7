/** `compare` and `report` on run directories written here: exit codes, summary file, comparison in the review, JSON, -o for every format. */
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { compareCommand, finishRun, readRun, reportCommand, reviewMarkdown, worseExitCode } from '../../../harness/cli/results.ts';
import { ConfigError } from '../../../harness/core/errors.ts';
import { specSchema } from '../../../harness/matrix/schema.ts';
import { recommend } from '../../../harness/report/recommend.ts';
import type { CellResult } from '../../../harness/report/types.ts';
import { cellResult } from '../../helpers/results.ts';

let dir: string;

const spec = specSchema.parse({
  name: 'nightly',
  target: { twin: {} },
  traffic: { driver: 'builtin', rate: 100 },
  matrix: { readinessGate: [false, true], preStopSeconds: [0], terminationGracePeriodSeconds: [30], deregistrationDelaySeconds: [300] },
  disruptions: ['rollout'],
});

function cell(gate: boolean, fiveXX: number, valid = true, kind: 'rollout' | 'drain' = 'rollout'): CellResult {
  return cellResult({
    gate,
    kind,
    valid,
    ...(valid ? {} : { invalidReason: 'the system did not settle within 300 s' }),
    fiveXX,
    requests: { planned: 3000, sent: 3000, byStatus: { '200': 3000 - fiveXX, ...(fiveXX ? { '502': fiveXX } : {}) }, networkErrors: 0, networkErrorsByCode: {}, cutAtStop: { count: 0, t: [] }, achieved: 1 },
  });
}

/** Writes results/<id>/run.json and its cells as a run does. */
async function writeRun(id: string, cells: CellResult[], extra: object = {}): Promise<string> {
  const runDir = path.join(dir, 'results', id);
  await mkdir(path.join(runDir, 'cells'), { recursive: true });
  const record = {
    schemaVersion: 1,
    runId: id,
    specFile: 'spec.yaml',
    spec,
    target: { kind: 'twin', namespace: 'shop', deployment: 'web', targetGroupArn: 'arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/web/1', timeScale: 0.05, seed: 1 },
    driver: { name: 'builtin', reason: 'test' },
    versions: { rolloutHarness: '0.1.0', node: process.version, platform: 'linux-x64' },
    startedAt: '2026-01-01T00:00:00Z',
    endedAt: '2026-01-01T00:10:00Z',
    cells: cells.map((c) => ({ id: c.id, status: 'done' })),
    ...extra,
  };
  await writeFile(path.join(runDir, 'run.json'), JSON.stringify(record));
  for (const c of cells) await writeFile(path.join(runDir, 'cells', `${c.id}.json`), JSON.stringify(c));
  return runDir;
}

/** Runs a command in process with stdout captured. */
async function captured(fn: () => Promise<number>): Promise<{ code: number; out: string }> {
  const lines: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => void lines.push(args.join(' ')));
  const err = vi.spyOn(console, 'error').mockImplementation(() => {});
  try {
    return { code: await fn(), out: lines.join('\n') };
  } finally {
    log.mockRestore();
    err.mockRestore();
  }
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'rh-compare-'));
  await writeRun('quiet', [cell(false, 2), cell(true, 0)]);
  await writeRun('noisy', [cell(false, 3), cell(true, 1)]);
  await writeRun('worse', [cell(false, 2), cell(true, 40)]);
  await writeRun('broken', [cell(false, 2), cell(true, 0, false)]);
  await writeRun('drains', [cell(false, 2, true, 'drain'), cell(true, 0, true, 'drain')]);
  await writeRun('mixed', [cell(false, 2), cell(true, 1, true, 'drain')]);
});

afterAll(() => rm(dir, { recursive: true, force: true }));

const flags = (over: object = {}) => ({ resultsDir: path.join(dir, 'results'), ...over });
const md = (over: object = {}) => ({ format: 'md' as const, ...flags(over) });

describe('the review comment of a run outside ./results', () => {
  it('names a complete command for everything when it is truncated: --results-dir included', async () => {
    const run = await readRun('quiet', path.join(dir, 'results'));
    const many = Array.from({ length: 2000 }, (_, i) => ({ ...run.cells[i % 2], id: `${run.cells[i % 2].id}.x${i}` }));
    const text = reviewMarkdown({ ...run, cells: many }, {});
    expect(text).toContain(`See \`rollout-harness report quiet --results-dir ${path.join(dir, 'results')} --format json\` for everything.`);
  });
});

describe('compare', () => {
  it('exits 0 on noise, 1 on a regression, 4 on a cell INVALID in either run', async () => {
    expect((await captured(() => compareCommand('quiet', 'noisy', flags()))).code).toBe(0);
    const worse = await captured(() => compareCommand('quiet', 'worse', flags()));
    expect(worse.code).toBe(1);
    expect(worse.out).toContain('- rollout.gate-on.prestop-0.grace-30.dereg-300: 0 → 40 failed (p = 9.1e-13');
    expect((await captured(() => compareCommand('quiet', 'broken', flags()))).code).toBe(4);
    expect((await captured(() => compareCommand('broken', 'quiet', flags()))).code).toBe(4);
    // A stricter minimum change turns the regression into "below --min-change".
    expect((await captured(() => compareCommand('quiet', 'worse', flags({ minChange: 50 })))).code).toBe(0);
  });

  it('appends the comparison to --summary-file, keeping what was there', async () => {
    const summary = path.join(dir, 'summary.md');
    await writeFile(summary, '# earlier step\n\n');
    await captured(() => compareCommand('quiet', 'worse', flags({ summaryFile: summary })));
    await captured(() => compareCommand('quiet', 'noisy', flags({ summaryFile: summary })));
    const text = await readFile(summary, 'utf8');
    expect(text.startsWith('# earlier step\n\n## worse compared with quiet\n\n| cell ')).toBe(true);
    expect(text).toContain('## noisy compared with quiet');
    expect(text).toContain('No regression beyond noise');
  });

  it('exits 4 and says so when the two runs share no cell, listing the cells of each', async () => {
    const err: string[] = [];
    const spy = vi.spyOn(console, 'error');
    const r = await captured(() => {
      spy.mockImplementation((...args: unknown[]) => void err.push(args.join(' ')));
      return compareCommand('quiet', 'drains', flags());
    });
    spy.mockRestore();
    expect(r.code).toBe(4);
    expect(r.out).not.toContain('No regression');
    expect(r.out).toContain('The two runs share no cell: nothing was compared (exit 4).');
    expect(r.out).toContain('Only in quiet:\n\n- rollout.gate-off.prestop-0.grace-30.dereg-300\n- rollout.gate-on.prestop-0.grace-30.dereg-300\n');
    expect(r.out).toContain('Only in drains:\n\n- drain.gate-off.prestop-0.grace-30.dereg-300\n- drain.gate-on.prestop-0.grace-30.dereg-300\n');
    expect(err.join('\n')).toContain('quiet and drains share no cell: nothing was compared (exit 4)');
  });

  it('lists the cells present in one run only, and judges the shared ones', async () => {
    const r = await captured(() => compareCommand('quiet', 'mixed', flags()));
    expect(r.code).toBe(0);
    expect(r.out).toContain('No regression beyond noise');
    expect(r.out).toContain('2 cells are in one run only');
    expect(r.out).toContain('Only in quiet:\n\n- rollout.gate-on.prestop-0.grace-30.dereg-300\n');
    expect(r.out).toContain('Only in mixed:\n\n- drain.gate-on.prestop-0.grace-30.dereg-300\n');
  });

  it('prints the comparison as JSON with --format json: rows, the cells of one run only, and the exit code', async () => {
    const r = await captured(() => compareCommand('quiet', 'worse', flags({ format: 'json' })));
    expect(r.code).toBe(1);
    const json = JSON.parse(r.out);
    expect(json).toMatchObject({ before: 'quiet', after: 'worse', shared: 2, onlyBefore: [], onlyAfter: [], regressions: ['rollout.gate-on.prestop-0.grace-30.dereg-300'], invalid: [], exitCode: 1, options: { alpha: 0.01, minChange: 5 } });
    expect(json.rows[1]).toMatchObject({ key: 'rollout.gate-on.prestop-0.grace-30.dereg-300', outcome: 'regression', before: { failed: 0, sent: 3000 }, after: { failed: 40 } });
    const none = JSON.parse((await captured(() => compareCommand('quiet', 'drains', flags({ format: 'json' })))).out);
    expect(none).toMatchObject({ shared: 0, exitCode: 4, onlyBefore: ['rollout.gate-off.prestop-0.grace-30.dereg-300', 'rollout.gate-on.prestop-0.grace-30.dereg-300'] });
  });

  it('refuses a --summary-file it cannot append to, and a run that does not exist, as bad input', async () => {
    await expect(compareCommand('quiet', 'noisy', flags({ summaryFile: path.join(dir, 'no-such-dir', 's.md') }))).rejects.toThrow(/--summary-file: expected a file that can be appended to, got .*no-such-dir.* \(ENOENT\)/);
    await expect(compareCommand('quiet', 'nope', flags())).rejects.toBeInstanceOf(ConfigError);
  });
});

describe('report --format md', () => {
  it('includes the comparison with --baseline and the link with --html-url; exit code the worse of both', async () => {
    const r = await captured(() => reportCommand('worse', md({ baseline: 'quiet', htmlUrl: 'https://ci.example.invalid/a/1' })));
    expect(r.code).toBe(1);
    expect(r.out).toContain('## Compared with quiet');
    expect(r.out).toContain('[report.html](https://ci.example.invalid/a/1)');
    expect(r.out.match(/<details>/g)).toHaveLength(2);
    const plain = await captured(() => reportCommand('worse', md()));
    expect(plain.code).toBe(0);
    expect(plain.out).not.toContain('Compared with');
    await expect(reportCommand('worse', { ...flags({ baseline: 'quiet' }), format: 'junit' })).rejects.toThrow(/expected only with --format md/);
  });
});

describe('report -o FILE', () => {
  it('writes every format to the file, as it prints it, and nothing to stdout', async () => {
    for (const format of ['md', 'junit', 'json', 'html'] as const) {
      const file = path.join(dir, `report.${format}`);
      const written = await captured(() => reportCommand('worse', { ...flags(), format, output: file }));
      expect(written.out, format).toBe('');
      const text = await readFile(file, 'utf8');
      const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
      let printed: string;
      try {
        const r = await captured(() => reportCommand('worse', { ...flags(), format }));
        printed = r.out ? `${r.out}\n` : write.mock.calls.map((c) => String(c[0])).join('');
      } finally {
        write.mockRestore();
      }
      expect(text, format).toBe(printed);
      expect(text.length, format).toBeGreaterThan(100);
    }
    expect(JSON.parse(await readFile(path.join(dir, 'report.json'), 'utf8'))).toMatchObject({ runId: 'worse', recommendation: { overall: { readinessGate: { state: 'value', value: false } } } });
    expect(await readFile(path.join(dir, 'report.junit'), 'utf8')).toMatch(/^<\?xml/);
    expect(await readFile(path.join(dir, 'report.md'), 'utf8')).toMatch(/^# rollout-harness: nightly\n/);
  });
});

describe('readRun', () => {
  it('reads a run whose recommendation an older release wrote (no state per setting), and computes it again', async () => {
    const cells = [cell(false, 2), cell(true, 0)];
    const legacy = JSON.parse(JSON.stringify(recommend(cells)));
    for (const set of [legacy.overall, ...legacy.byDisruption]) {
      for (const k of ['preStopSeconds', 'terminationGracePeriodSeconds', 'deregistrationDelaySeconds', 'readinessGate']) delete set[k].state;
      if (set.check) delete set.check.below;
    }
    await writeRun('legacy', cells, { recommendation: legacy });
    const run = await readRun('legacy', path.join(dir, 'results'));
    expect(run.record.recommendation).toBeUndefined();
    const r = await captured(() => reportCommand('legacy', { ...flags(), format: 'json' }));
    expect(JSON.parse(r.out).recommendation.overall.readinessGate).toMatchObject({ state: 'inconclusive', value: null });
  });
});

describe('after run --baseline --summary-file', () => {
  it('compares with the baseline, writes comparison.md, appends the review, and exits with the worse code', async () => {
    const summary = path.join(dir, 'run-summary.md');
    const baseline = await readRun('quiet', path.join(dir, 'results'));
    const worseDir = path.join(dir, 'results', 'worse');
    const r = await captured(() => finishRun(worseDir, 0, { resultsDir: path.join(dir, 'results'), baseline, summaryFile: summary, htmlUrl: 'https://ci.example.invalid/r/9' }));
    expect(r.code).toBe(1);
    expect(r.out).toContain('Compared with quiet:');
    expect(await readFile(path.join(worseDir, 'comparison.md'), 'utf8')).toMatch(/^# worse compared with quiet\n\n\| cell /);
    const text = await readFile(summary, 'utf8');
    expect(text).toMatch(/^# rollout-harness: nightly\n/);
    expect(text).toContain('[report.html](https://ci.example.invalid/r/9)');
    expect(text).toContain('## Compared with quiet');
    expect(text).toContain('**regression**');
    // The run's own code wins when it is worse (3: environment), and stays when the comparison is clean.
    expect((await captured(() => finishRun(worseDir, 3, { resultsDir: path.join(dir, 'results'), baseline }))).code).toBe(3);
    expect((await captured(() => finishRun(path.join(dir, 'results', 'noisy'), 4, { resultsDir: path.join(dir, 'results'), baseline }))).code).toBe(4);
    // Without a baseline or a summary file nothing is read or written.
    expect(await finishRun(path.join(dir, 'results', 'does-not-exist'), 0, { resultsDir: path.join(dir, 'results') })).toBe(0);
  });
});

describe('worseExitCode', () => {
  it('orders the README\'s codes as run decides them: 0 < 4 < 1 < 130 < 3 < 2', () => {
    expect(worseExitCode(0, 4)).toBe(4);
    expect(worseExitCode(4, 1)).toBe(1);
    expect(worseExitCode(1, 4)).toBe(1);
    expect(worseExitCode(3, 1)).toBe(3);
    expect(worseExitCode(130, 1)).toBe(130);
    expect(worseExitCode(0, 0)).toBe(0);
  });
});
