/**
 * bin/load.mjs: the CLI and the twin's thread load from an esbuild bundle of the sources, cached by
 * their fingerprint, and through tsx when no bundle can be had. Each case runs in a child process
 * (tsx's hooks and the import cache are per process), on a small project of its own.
 */
import { execa } from 'execa';
import { existsSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { projectRoot } from '../../../harness/core/paths.ts';
import { ENTRIES } from '../../../bin/load.mjs';

const LOAD = path.join(projectRoot, 'bin/load.mjs');
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A project with every entry point; `main.ts` exports `value` and where it was loaded from. */
function project(value: number): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rh-load-'));
  dirs.push(dir);
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'rollout-harness', type: 'module' }));
  for (const entry of ENTRIES) {
    mkdirSync(path.dirname(path.join(dir, entry)), { recursive: true });
    writeFileSync(path.join(dir, entry), 'export const other: string = "other";\n');
  }
  writeMain(dir, value);
  return dir;
}

function writeMain(dir: string, value: number): void {
  writeFileSync(path.join(dir, 'harness/cli/main.ts'), `import { twice } from './twice.ts';\nexport const value: number = twice(${value});\nexport const from: string = import.meta.url;\n`);
  writeFileSync(path.join(dir, 'harness/cli/twice.ts'), 'export const twice = (n: number): number => n * 2;\n');
}

/** Loads main.ts of `dir` in a child process; its `value` and the file it came from. */
async function load(dir: string, tsx = false): Promise<{ value: number; from: string }> {
  const script = `const { loadEntry } = await import(${JSON.stringify(LOAD)}); const m = await loadEntry('harness/cli/main.ts', { projectRoot: ${JSON.stringify(dir)}, tsx: ${tsx} }); console.log(JSON.stringify({ value: m.value, from: m.from }));`;
  const r = await execa(process.execPath, ['--input-type=module', '-e', script], { cwd: dir, timeout: 30_000 });
  return JSON.parse(r.stdout) as { value: number; from: string };
}

const bundles = (dir: string) => {
  const cache = path.join(dir, 'node_modules/.cache/rollout-harness');
  return existsSync(cache) ? readdirSync(cache).sort() : [];
};

describe('bin/load.mjs', () => {
  it('loads from a bundle made once for the sources, and makes a new one when a source changes', async () => {
    const dir = project(1);
    const first = await load(dir);
    expect(first.value).toBe(2);
    expect(first.from).toContain('/node_modules/.cache/rollout-harness/');
    expect(bundles(dir)).toHaveLength(1);
    expect(existsSync(path.join(dir, 'node_modules/.cache/rollout-harness', bundles(dir)[0], 'done'))).toBe(true);
    // Started again on the same sources: the same bundle.
    expect(await load(dir)).toEqual(first);
    expect(bundles(dir)).toHaveLength(1);

    writeMain(dir, 21);
    const later = new Date(Date.now() + 5000);
    utimesSync(path.join(dir, 'harness/cli/main.ts'), later, later);
    const edited = await load(dir);
    expect(edited.value).toBe(42);
    expect(bundles(dir)).toHaveLength(2);
    expect(edited.from).not.toBe(first.from);
  }, 60_000);

  it('loads the sources through tsx when asked, or when no bundle can be written', async () => {
    const dir = project(3);
    const viaTsx = await load(dir, true);
    expect(viaTsx).toEqual({ value: 6, from: `file://${path.join(dir, 'harness/cli/main.ts')}` });
    expect(bundles(dir)).toEqual([]);

    // node_modules is a file: the cache cannot be made (as on a read-only install).
    writeFileSync(path.join(dir, 'node_modules'), '');
    expect(await load(dir)).toEqual({ value: 6, from: `file://${path.join(dir, 'harness/cli/main.ts')}` });
  }, 60_000);

  it('bundles the npm packages the sources import, CommonJS ones calling require() too, and makes a new bundle after an install', async () => {
    const dir = project(0);
    // A CommonJS package that requires one of Node's modules, as the AWS SDK's and client-node's do.
    mkdirSync(path.join(dir, 'node_modules/cjs-dep'), { recursive: true });
    writeFileSync(path.join(dir, 'node_modules/cjs-dep/package.json'), JSON.stringify({ name: 'cjs-dep', version: '1.0.0', main: 'index.js' }));
    writeFileSync(path.join(dir, 'node_modules/cjs-dep/index.js'), "const { EOL } = require('node:os');\nmodule.exports = { seven: 7, eol: EOL.length };\n");
    writeFileSync(path.join(dir, 'node_modules/.package-lock.json'), JSON.stringify({ name: 'rollout-harness', lockfileVersion: 3, packages: {} }));
    writeFileSync(path.join(dir, 'harness/cli/main.ts'), "import dep from 'cjs-dep';\nexport const value: number = dep.seven * 10 + dep.eol;\nexport const from: string = import.meta.url;\n");
    const first = await load(dir);
    expect(first.value).toBe(71);
    expect(first.from).toContain('/node_modules/.cache/rollout-harness/');
    // In the bundle, not loaded from node_modules: it still loads with the package gone.
    rmSync(path.join(dir, 'node_modules/cjs-dep'), { recursive: true });
    expect(await load(dir)).toEqual(first);
    expect(bundles(dir)).toHaveLength(1);
    // npm rewrites its lockfile of the installed tree on every install: the next start bundles again.
    const later = new Date(Date.now() + 5000);
    utimesSync(path.join(dir, 'node_modules/.package-lock.json'), later, later);
    await expect(load(dir)).rejects.toThrow(/cjs-dep/);
    expect(bundles(dir)).toHaveLength(1);
  }, 60_000);
});
