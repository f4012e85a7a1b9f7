/**
 * The CI recipes in examples/: the YAML parses, every `rollout-harness` command line in them is
 * accepted by the CLI's own parser (and names a spec that loads), the actions and inputs they use
 * are the ones those actions have, and the GitHub twin job runs green through its own steps, two
 * nights in a row — the second compared with the first — with the artifact steps, `gh` and the
 * runner's files emulated on the local disk.
 */
import { execa, type ResultPromise } from 'execa';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, cp, mkdir, mkdtemp, readFile, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseDocument } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CommanderError } from 'commander';
import { parseArgv, type ParsedCommand } from '../../harness/cli/main.ts';
import { projectRoot } from '../../harness/core/paths.ts';
import { loadSpec } from '../../harness/matrix/load.ts';
import { endAndRemove } from '../helpers/processes.ts';

const GITHUB_FILE = path.join(projectRoot, 'examples/github-actions/nightly.yml');
const GITLAB_FILE = path.join(projectRoot, 'examples/gitlab-ci/.gitlab-ci.yml');

/** Parses a workflow file, failing on any YAML error or warning (GitLab's `!reference` is a known tag). */
function loadYaml(file: string): Record<string, unknown> {
  const doc = parseDocument(readFileSync(file, 'utf8'), { customTags: [{ tag: '!reference', collection: 'seq', resolve: (seq) => seq }] });
  expect(doc.errors.map((e) => e.message), file).toEqual([]);
  expect(doc.warnings.map((e) => e.message), file).toEqual([]);
  return doc.toJS() as Record<string, unknown>;
}

interface Step {
  name?: string;
  id?: string;
  if?: string;
  uses?: string;
  run?: string;
  env?: Record<string, string>;
  with?: Record<string, string | number>;
}
interface GithubJob {
  if?: string;
  env?: Record<string, string>;
  permissions?: Record<string, string>;
  steps: Step[];
}

const github = () => loadYaml(GITHUB_FILE) as { on: unknown; permissions: Record<string, string>; jobs: Record<string, GithubJob> };
const gitlab = () => loadYaml(GITLAB_FILE) as Record<string, { script?: unknown[]; before_script?: unknown[]; variables?: Record<string, string>; extends?: string }>;

/** The value of a `${{ … }}` expression, for the forms the recipes use; any other form fails the test. */
function expression(expr: string, ctx: { env: Record<string, string>; outputs: Record<string, Record<string, string>>; runId: string }): string {
  const known: Record<string, string> = { 'github.run_id': ctx.runId, 'github.repository': 'acme/shop', 'github.token': 'ghs_test', 'github.server_url': 'https://github.com' };
  if (expr in known) return known[expr];
  let m = /^env\.(\w+)$/.exec(expr);
  if (m) return ctx.env[m[1]] ?? '';
  m = /^steps\.([\w-]+)\.outputs\.([\w-]+)$/.exec(expr);
  if (m) return ctx.outputs[m[1]]?.[m[2]] ?? '';
  m = /^vars\.(\w+)$/.exec(expr);
  if (m) return `var-${m[1]}`;
  throw new Error(`the test does not know the expression \${{ ${expr} }}`);
}

function substitute(text: string, ctx: Parameters<typeof expression>[1]): string {
  return text.replace(/\$\{\{\s*(.+?)\s*\}\}/g, (_, expr: string) => expression(expr, ctx));
}

/**
 * The argv after `rollout-harness` of every command line in a shell script, with `$VAR` and
 * `"${VAR}"` replaced from `vars` (an unknown variable fails the test) and quotes removed; a line
 * ends at an unquoted `;`, `&`, `|`, `<`, `>` or `#`.
 */
function harnessCommands(script: string, vars: Record<string, string>): string[][] {
  const out: string[][] = [];
  for (const line of script.replace(/\\\n\s*/g, ' ').split('\n')) {
    const m = /(?:node bin\/rollout-harness\.js|npx rollout-harness)\s+(.*)$/.exec(line);
    if (!m) continue;
    const words: string[] = [];
    let word: string | undefined;
    const text = m[1];
    const variable = (i: number): [string, number] => {
      const v = /^\$(?:\{(\w+)\}|(\w+))/.exec(text.slice(i));
      if (!v) throw new Error(`a lone $ in: ${line}`);
      const name = v[1] ?? v[2];
      if (!(name in vars)) throw new Error(`the test has no value for $${name} in: ${line}`);
      return [vars[name], i + v[0].length];
    };
    let i = 0;
    for (; i < text.length; ) {
      const c = text[i];
      if (/\s/.test(c)) {
        if (word !== undefined) words.push(word);
        word = undefined;
        i++;
      } else if (';&|<>#'.includes(c)) break;
      else if (c === "'") {
        const end = text.indexOf("'", i + 1);
        word = (word ?? '') + text.slice(i + 1, end);
        i = end + 1;
      } else if (c === '"') {
        word ??= '';
        i++;
        while (text[i] !== '"') {
          if (i >= text.length) throw new Error(`an unclosed quote in: ${line}`);
          if (text[i] === '$') {
            const [value, next] = variable(i);
            word += value;
            i = next;
          } else word += text[i++];
        }
        i++;
      } else if (c === '$') {
        const [value, next] = variable(i);
        word = (word ?? '') + value;
        i = next;
      } else {
        word = (word ?? '') + c;
        i++;
      }
    }
    if (word !== undefined) words.push(word);
    out.push(words);
  }
  return out;
}

/** Parses each command line with the CLI's parser; returns what was parsed, with where it came from. */
async function parseAll(lines: Array<{ where: string; argv: string[] }>): Promise<Array<ParsedCommand & { where: string }>> {
  const parsed: Array<ParsedCommand & { where: string }> = [];
  for (const { where, argv } of lines) {
    try {
      parsed.push({ where, ...(await parseArgv(argv)) });
    } catch (error) {
      throw new Error(`${where}: rollout-harness ${argv.join(' ')} is refused by the CLI: ${(error as Error).message}`, { cause: error });
    }
  }
  return parsed;
}

/** The inputs each action used in the recipe really has (from each action's action.yml at that major version). */
const ACTIONS: Record<string, string[]> = {
  'actions/checkout@v4': [],
  'actions/setup-node@v4': ['node-version', 'cache'],
  // https://github.com/actions/download-artifact/blob/v4/action.yml
  'actions/download-artifact@v4': ['name', 'artifact-ids', 'path', 'pattern', 'merge-multiple', 'github-token', 'repository', 'run-id'],
  // https://github.com/actions/upload-artifact/blob/v4/action.yml
  'actions/upload-artifact@v4': ['name', 'path', 'if-no-files-found', 'retention-days', 'compression-level', 'overwrite', 'include-hidden-files'],
  // https://github.com/aws-actions/configure-aws-credentials/blob/main/action.yml
  'aws-actions/configure-aws-credentials@v4': ['aws-region', 'role-to-assume', 'role-session-name', 'role-duration-seconds', 'audience', 'role-external-id', 'role-skip-session-tagging', 'mask-aws-account-id'],
};

describe('the GitHub Actions recipe', () => {
  it('parses, uses only actions and inputs that exist, and downloads last night\'s artifact with run-id and github-token', () => {
    const wf = github();
    expect(Object.keys(wf.jobs)).toEqual(['twin', 'staging']);
    expect(wf.permissions).toEqual({ contents: 'read', actions: 'read' });
    for (const [name, job] of Object.entries(wf.jobs)) {
      for (const step of job.steps) {
        if (!step.uses) continue;
        expect(Object.keys(ACTIONS), `${name}: ${step.uses}`).toContain(step.uses);
        for (const input of Object.keys(step.with ?? {})) expect(ACTIONS[step.uses!], `${name}: ${step.uses} has no input ${input}`).toContain(input);
      }
      const download = job.steps.find((s) => s.uses?.startsWith('actions/download-artifact@'))!;
      expect(download.with).toMatchObject({ 'run-id': '${{ steps.previous.outputs.run-id }}', 'github-token': '${{ github.token }}', path: 'baseline' });
      const upload = job.steps.find((s) => s.uses?.startsWith('actions/upload-artifact@'))!;
      expect(upload.if).toBe('always()');
      expect(upload.with?.path).toBe('results/${{ env.RUN_ID }}/');
    }
    const staging = wf.jobs.staging;
    expect(staging.permissions?.['id-token']).toBe('write');
    expect(staging.steps.find((s) => s.uses?.startsWith('aws-actions/configure-aws-credentials@'))?.with?.['role-to-assume']).toBe('${{ vars.ROLLOUT_HARNESS_ROLE_ARN }}');
    expect(staging.steps.some((s) => /^aws eks update-kubeconfig --name .* --alias staging-eks$/.test(s.run ?? ''))).toBe(true);
  });

  it('has only rollout-harness command lines the CLI accepts, naming specs that load', async () => {
    const wf = github();
    const lines: Array<{ where: string; argv: string[] }> = [];
    for (const [name, job] of Object.entries(wf.jobs)) {
      for (const step of job.steps) {
        if (!step.run) continue;
        const ctx = { env: {}, outputs: {}, runId: '1234' };
        const env = Object.fromEntries(Object.entries({ ...job.env, ...step.env }).map(([k, v]) => [k, substitute(String(v), ctx)]));
        for (const argv of harnessCommands(substitute(step.run, ctx), { ...env, GITHUB_STEP_SUMMARY: '/tmp/summary.md', GITHUB_OUTPUT: '/tmp/out' })) lines.push({ where: `${name}: ${step.name ?? step.run}`, argv });
      }
    }
    const parsed = await parseAll(lines);
    expect(parsed.map((p) => `${p.where.split(':')[0]} ${p.command} ${p.opts.baseline ? 'baseline' : '-'}`)).toEqual(['twin run baseline', 'twin run -', 'staging plan -', 'staging run baseline', 'staging run -']);
    for (const p of parsed.filter((x) => x.command === 'run')) {
      expect(p.opts.summaryFile).toBe('/tmp/summary.md');
      expect(p.opts.resultsDir).toBe('results');
    }
    for (const p of parsed.filter((x) => x.command === 'run')) expect(p.opts.htmlUrl).toBe('https://github.com/acme/shop/actions/runs/1234#artifacts');
    for (const spec of new Set(parsed.map((p) => p.args[0]))) await expect(loadSpec(path.join(projectRoot, spec))).resolves.toMatchObject({ warnings: [] });
  });
});

describe('the GitLab CI recipe', () => {
  it('parses, and has only rollout-harness command lines the CLI accepts, naming specs that load', async () => {
    const ci = gitlab();
    const template = ci['.rollout-harness'];
    const lines: Array<{ where: string; argv: string[] }> = [];
    for (const name of ['twin-nightly', 'staging-nightly']) {
      const job = ci[name];
      expect(job.extends).toBe('.rollout-harness');
      const vars = { ...template.variables, ...job.variables, CI_JOB_NAME: name, CI_PIPELINE_ID: '77' };
      const resolved = Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, String(v).replace(/\$(\w+)/g, (_, n: string) => (vars as Record<string, string>)[n] ?? `$${n}`)]));
      const scripts = [...(job.before_script ?? template.before_script ?? []), ...(job.script ?? template.script ?? [])].filter((s): s is string => typeof s === 'string');
      for (const script of scripts) for (const argv of harnessCommands(script, resolved)) lines.push({ where: name, argv });
    }
    const parsed = await parseAll(lines);
    expect(parsed.map((p) => `${p.where} ${p.command} ${p.opts.baseline ? 'baseline' : '-'}`)).toEqual([
      'twin-nightly run baseline',
      'twin-nightly run -',
      'staging-nightly plan -',
      'staging-nightly run baseline',
      'staging-nightly run -',
    ]);
    // Each job runs the template's script with its own spec and run id.
    for (const p of parsed) expect(p.args).toEqual([p.where === 'twin-nightly' ? 'examples/specs/twin-nightly.yaml' : 'examples/specs/staging.yaml']);
    for (const p of parsed.filter((x) => x.command === 'run')) expect(p.opts).toMatchObject({ summaryFile: 'summary.md', runId: `${p.where}-77`, resultsDir: 'results' });
    for (const spec of ['examples/specs/twin-nightly.yaml', 'examples/specs/staging.yaml']) await expect(loadSpec(path.join(projectRoot, spec))).resolves.toMatchObject({ warnings: [] });
    expect(ci['staging-nightly']).toMatchObject({ id_tokens: { AWS_ID_TOKEN: { aud: 'sts.amazonaws.com' } }, variables: { AWS_ROLE_ARN: '$ROLLOUT_HARNESS_ROLE_ARN' } });
  });
});

describe('the command-line check', () => {
  it('refuses what the CLI refuses, so the checks above can fail', async () => {
    await expect(parseArgv(['run', 'spec.yaml', '--baseline'])).rejects.toBeInstanceOf(CommanderError);
    await expect(parseArgv(['compare', 'only-one'])).rejects.toBeInstanceOf(CommanderError);
    await expect(parseArgv(['run', 'spec.yaml', '--alpha', '1.5'])).rejects.toThrow(/Expected a level between 0 and 1/);
    expect(() => harnessCommands('node bin/rollout-harness.js run "$NOPE"', {})).toThrow(/no value for \$NOPE/);
    expect(harnessCommands(`x && node bin/rollout-harness.js compare 'a b' "$B"x > out.md`, { B: 'c' })).toEqual([['compare', 'a b', 'cx']]);
  });
});

// ——— The twin job, for real ———

const JQ_FILTER = '[.artifacts[] | select(.expired | not)] | sort_by(.created_at) | last | .workflow_run.id // empty';

/**
 * A stand-in for `gh api repos/OWNER/REPO/actions/artifacts?name=N … --jq FILTER`: answers from the
 * emulated artifact store in the REST API's shape and applies the filter with jq (or, without jq on
 * the machine, the recipe's own filter in JavaScript; any other filter fails).
 */
const FAKE_GH = `#!/usr/bin/env node
const { readFileSync, existsSync } = require('node:fs');
const { execFileSync } = require('node:child_process');
const args = process.argv.slice(2);
const url = new URL(args[1], 'https://api.github.com/');
if (args[0] !== 'api' || !/^\\/repos\\/[^/]+\\/[^/]+\\/actions\\/artifacts$/.test(url.pathname) || args[2] !== '--jq') { console.error('fake gh: unexpected call ' + args.join(' ')); process.exit(1); }
const file = process.env.ARTIFACT_STORE + '/artifacts.json';
const all = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : [];
const body = JSON.stringify({ total_count: all.length, artifacts: all.filter((a) => a.name === url.searchParams.get('name')) });
let out;
try { out = execFileSync('jq', ['-r', args[3]], { input: body }).toString(); }
catch (e) {
  if (e.code !== 'ENOENT') { console.error(String(e.stderr || e)); process.exit(1); }
  if (args[3] !== ${JSON.stringify(JQ_FILTER)}) { console.error('fake gh: no jq and an unknown filter'); process.exit(1); }
  const live = JSON.parse(body).artifacts.filter((a) => !a.expired).sort((a, b) => a.created_at.localeCompare(b.created_at));
  out = live.length ? live[live.length - 1].workflow_run.id + '\\n' : '';
}
process.stdout.write(out);
`;

let work: string;
let child: ResultPromise | undefined;

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'rh-workflow-'));
  // The checkout: the recipe's paths are relative to the repository root.
  const checkout = path.join(work, 'checkout');
  await mkdir(checkout);
  for (const entry of ['bin', 'examples']) await symlink(path.join(projectRoot, entry), path.join(checkout, entry));
  await mkdir(path.join(work, 'fake-bin'));
  await writeFile(path.join(work, 'fake-bin', 'gh'), FAKE_GH);
  await chmod(path.join(work, 'fake-bin', 'gh'), 0o755);
  await mkdir(path.join(work, 'store'));
});

afterAll(() => endAndRemove([child], work), 60_000);

interface StepResult {
  name: string;
  skipped?: string;
  exitCode?: number;
  output?: string;
}

/**
 * Runs the twin job's steps as the runner would, as workflow run `runId`: `run` steps in bash
 * (`-eo pipefail`, GitHub's default), with GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files; `if`
 * conditions; the upload and download steps against a store on disk. Returns each step's outcome.
 */
async function runTwinJob(runId: string): Promise<{ steps: StepResult[]; summary: string; checkout: string }> {
  const job = github().jobs.twin;
  const checkout = path.join(work, 'checkout');
  const store = path.join(work, 'store');
  const outputs: Record<string, Record<string, string>> = {};
  const ctx = { env: {} as Record<string, string>, outputs, runId };
  ctx.env = Object.fromEntries(Object.entries(job.env ?? {}).map(([k, v]) => [k, substitute(String(v), ctx)]));
  const summary = path.join(work, `summary-${runId}.md`);
  await writeFile(summary, '');
  const results: StepResult[] = [];
  let failed = false;
  for (const [i, step] of job.steps.entries()) {
    const name = step.name ?? step.uses ?? step.run!;
    const condition = step.if;
    let run: boolean;
    if (condition === undefined) run = !failed;
    else if (condition === 'always()') run = true;
    else {
      const m = /^steps\.([\w-]+)\.outputs\.([\w-]+) != ''$/.exec(condition);
      if (!m) throw new Error(`the test does not know the condition ${condition}`);
      run = !failed && (outputs[m[1]]?.[m[2]] ?? '') !== '';
    }
    if (!run) {
      results.push({ name, skipped: 'condition' });
      continue;
    }
    const inputs = Object.fromEntries(Object.entries(step.with ?? {}).map(([k, v]) => [k, substitute(String(v), ctx)]));
    if (step.uses?.startsWith('actions/checkout@') || step.uses?.startsWith('actions/setup-node@')) {
      results.push({ name, skipped: 'the worktree is the checkout; this node is the node' });
    } else if (step.uses?.startsWith('actions/download-artifact@')) {
      const from = path.join(store, inputs['run-id'], inputs.name);
      if (!existsSync(from)) throw new Error(`download: no artifact ${inputs.name} in run ${inputs['run-id']}`);
      await cp(from, path.join(checkout, inputs.path), { recursive: true });
      results.push({ name, exitCode: 0 });
    } else if (step.uses?.startsWith('actions/upload-artifact@')) {
      // A single directory uploads its contents: they are the artifact's root (upload-artifact's README).
      await cp(path.join(checkout, inputs.path), path.join(store, runId, inputs.name), { recursive: true });
      const listFile = path.join(store, 'artifacts.json');
      const list = existsSync(listFile) ? JSON.parse(await readFile(listFile, 'utf8')) : [];
      list.push({ name: inputs.name, expired: false, created_at: `2026-01-0${list.length + 1}T03:17:00Z`, workflow_run: { id: Number(runId) } });
      await writeFile(listFile, JSON.stringify(list));
      results.push({ name, exitCode: 0 });
    } else if (step.run && /^npm ci\b/.test(step.run)) {
      // Replacing node_modules would pull it from under the tests that run from it.
      results.push({ name, skipped: 'npm ci: the worktree is installed' });
    } else if (step.run) {
      const outputFile = path.join(work, `output-${runId}-${i}`);
      await writeFile(outputFile, '');
      const env = Object.fromEntries(Object.entries(step.env ?? {}).map(([k, v]) => [k, substitute(String(v), ctx)]));
      child = execa('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', substitute(step.run, ctx)], {
        cwd: checkout,
        reject: false,
        all: true,
        timeout: 90_000,
        env: {
          ...process.env,
          ...ctx.env,
          ...env,
          PATH: `${path.join(work, 'fake-bin')}${path.delimiter}${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH}`,
          GITHUB_OUTPUT: outputFile,
          GITHUB_STEP_SUMMARY: summary,
          ARTIFACT_STORE: store,
          AWS_ACCESS_KEY_ID: 'test',
          AWS_SECRET_ACCESS_KEY: 'test',
          AWS_EC2_METADATA_DISABLED: 'true',
        },
      });
      const r = await child;
      outputs[step.id ?? String(i)] = Object.fromEntries(
        (await readFile(outputFile, 'utf8'))
          .split('\n')
          .filter(Boolean)
          .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
      );
      results.push({ name, exitCode: r.exitCode ?? -1, output: String(r.all) });
      if (r.exitCode !== 0) failed = true;
    } else throw new Error(`the test cannot run step ${name}`);
  }
  return { steps: results, summary: await readFile(summary, 'utf8'), checkout };
}

describe('the twin job, run through its own steps', () => {
  it('runs green two nights in a row, the second compared with the first, and fails its verdict on exit 1, 4 and 3', async () => {
    const first = await runTwinJob('101');
    const detail = (r: typeof first) => r.steps.map((s) => `${s.name}: ${s.skipped ? `skipped (${s.skipped})` : `exit ${s.exitCode}`}\n${s.output ?? ''}`).join('\n');
    expect(first.steps.map((s) => s.exitCode ?? 'skipped'), detail(first)).toEqual(['skipped', 'skipped', 'skipped', 0, 'skipped', 0, 0, 0]);
    expect(first.steps[3].output).toContain('No earlier results');
    expect(first.summary).toMatch(/^# rollout-harness: twin-nightly\n\nRun `twin-101` on the local twin/);
    expect(first.summary).not.toContain('Compared with');
    expect(first.summary.match(/<details>/g)).toHaveLength(2);
    expect(first.summary).toContain('[report.html](https://github.com/acme/shop/actions/runs/101#artifacts)');
    expect(existsSync(path.join(work, 'store', '101', 'rollout-harness-twin', 'report.html'))).toBe(true);
    expect(existsSync(path.join(work, 'store', '101', 'rollout-harness-twin', 'run.json'))).toBe(true);

    const second = await runTwinJob('102');
    expect(second.steps.map((s) => s.exitCode ?? 'skipped'), detail(second)).toEqual(['skipped', 'skipped', 'skipped', 0, 0, 0, 0, 0]);
    expect(second.steps[3].output).toContain('Baseline: run 101');
    expect(second.summary).toContain('Run `twin-102`');
    expect(second.summary).toContain('## Compared with twin-101');
    expect(second.summary).toMatch(/\| rollout\.gate-on\.prestop-40\.grace-60\.dereg-30 +\| 0 of \d+ \(0 %\) +\| 0 of \d+ \(0 %\) +\| = +\| 1 +\| no increase +\|/);
    expect(second.summary).toContain('No regression beyond noise');
    expect(existsSync(path.join(second.checkout, 'results', 'twin-102', 'comparison.md'))).toBe(true);

    // The verdict step: green only on 0; 1 and 4 fail with their reason, and so does a harness that could not run.
    const verdict = github().jobs.twin.steps.find((s) => s.name === 'Verdict')!;
    for (const [code, expected] of [['0', 0], ['1', 1], ['4', 1], ['3', 1], ['', 1]] as const) {
      const r = await execa('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', verdict.run!], { reject: false, all: true, env: { ...process.env, CODE: code } });
      expect(r.exitCode, `CODE=${code}: ${r.all}`).toBe(expected);
      if (code === '1') expect(r.all).toContain('::error::A cell regressed beyond noise');
      if (code === '4') expect(r.all).toContain('::error::An invalid night');
      if (code === '3') expect(r.all).toContain('::error::rollout-harness could not run (exit 3)');
    }
  }, 150_000);
});
