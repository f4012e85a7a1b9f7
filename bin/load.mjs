// Loads one of the project's TypeScript entry points. The sources and the npm packages they import
// are bundled once by esbuild into a cache keyed by the sources' sizes and modification times and by
// the installed packages (npm's lockfiles), so a command starts without a TypeScript loader and
// without Node resolving, detecting and compiling the packages' hundreds of files one by one
// (preflight 3.0 → 2.0 s, `--help` 0.5 → 0.25 s here for the sources; a CLI run against the twin
// 3.7–4.1 → 2.8–2.9 CPU-s for the packages). An edited source or a new install makes a new bundle
// on the next start. When no bundle can be made or written (a read-only install, esbuild missing) or
// ROLLOUT_HARNESS_TSX=1, the sources load through tsx as they are.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, utimesSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The project root: this file's directory's parent. */
export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Every entry point a bundle holds (one build serves the CLI, the twin's thread and the k6 stand-in; shared code goes to chunks). */
export const ENTRIES = ['harness/cli/main.ts', 'harness/twin/thread/body.ts', 'harness/traffic/k6/stand-in.ts'];

/** Bundles not used for this long are removed when a new one is made (a run still using one touches it at start). */
const STALE_MS = 24 * 3600 * 1000;

/**
 * Packages left out of the bundle, loaded by Node as installed: undici (the built-in driver loads only
 * its Agent, `harness/traffic/builtin/driver.ts`, and one copy of it serves the twin too), the
 * bundler and the TypeScript loader themselves, and the browser driver (tests and benches only).
 */
export const EXTERNAL = ['undici', 'esbuild', 'tsx', 'playwright-core', 'fsevents'];

/** What the bundled packages are: npm's lockfile and the one it writes for the installed tree. */
const INSTALLED = ['package-lock.json', 'node_modules/.package-lock.json'];

/** The sources' fingerprint: every file under harness/ and the lockfiles by path, size and modification time, and the bundler's version. */
export function fingerprint(projectRoot = root, bundler = '') {
  const hash = createHash('sha256').update(`${bundler}\n`);
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(file);
      else if (entry.isFile()) {
        const s = statSync(file);
        hash.update(`${path.relative(projectRoot, file)}:${s.size}:${s.mtimeMs}\n`);
      }
    }
  };
  walk(path.join(projectRoot, 'harness'));
  for (const file of INSTALLED) {
    try {
      const s = statSync(path.join(projectRoot, file));
      hash.update(`${file}:${s.size}:${s.mtimeMs}\n`);
    } catch {
      // not installed with npm (or node_modules is no directory): the sources alone decide
    }
  }
  return hash.digest('hex').slice(0, 16);
}

/** Where the bundles go: node_modules/.cache/rollout-harness (what tools' caches use). */
export function cacheDirOf(projectRoot = root) {
  return path.join(projectRoot, 'node_modules', '.cache', 'rollout-harness');
}

/** Makes (or finds) the bundle for the current sources; resolves to its directory, or undefined when none can be had. */
export async function bundle(projectRoot = root, cacheDir = cacheDirOf(projectRoot), entries = ENTRIES) {
  let esbuild;
  try {
    esbuild = await import('esbuild');
  } catch {
    return undefined;
  }
  const dir = path.join(cacheDir, fingerprint(projectRoot, `${esbuild.version} ${entries.join(' ')} external ${EXTERNAL.join(' ')}`));
  if (existsSync(path.join(dir, 'done'))) {
    try {
      const now = new Date();
      utimesSync(dir, now, now);
    } catch {
      // a read-only cache: the bundle is still there to use
    }
    return dir;
  }
  const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
  try {
    mkdirSync(cacheDir, { recursive: true });
    await esbuild.build({
      absWorkingDir: projectRoot,
      entryPoints: entries,
      outbase: projectRoot,
      outdir: tmp,
      bundle: true,
      splitting: true,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      external: EXTERNAL,
      // The packages' CommonJS calls require() (Node's modules, an optional dependency in a try):
      // an ES module has none, so each chunk gets one resolving from where the chunk is.
      banner: { js: "import { createRequire as __rhCreateRequire } from 'node:module'; const require = __rhCreateRequire(import.meta.url);" },
      logLevel: 'silent',
    });
    // The marker last: a bundle without it is never used.
    mkdirSync(path.join(tmp, 'done'));
    try {
      renameSync(tmp, dir);
    } catch {
      // another process made the same bundle first
      remove(tmp);
    }
  } catch {
    remove(tmp);
    return undefined;
  }
  prune(cacheDir, dir);
  return existsSync(path.join(dir, 'done')) ? dir : undefined;
}

/** Removes a directory of ours; one that cannot be there (its parent is not a directory) is no error. */
function remove(dir) {
  try {
    rmSync(dir, { recursive: true, force: true });
  } catch {
    // nothing of ours is there
  }
}

/** Removes the bundles (and abandoned partial ones) nothing has used for a day. */
function prune(cacheDir, keep) {
  for (const name of readdirSync(cacheDir)) {
    const dir = path.join(cacheDir, name);
    if (dir === keep) continue;
    try {
      if (Date.now() - statSync(dir).mtimeMs > STALE_MS) remove(dir);
    } catch {
      // gone already, or not ours to remove
    }
  }
}

/**
 * Imports `relative` (one of ENTRIES, a path from the project root) from the bundle, or through tsx
 * (`tsx`, or when no bundle can be had).
 */
export async function loadEntry(relative, { projectRoot = root, tsx = process.env.ROLLOUT_HARNESS_TSX === '1' } = {}) {
  const dir = tsx ? undefined : await bundle(projectRoot);
  if (dir) return import(pathToFileURL(path.join(dir, relative.replace(/\.ts$/, '.js'))).href);
  const { register } = await import('tsx/esm/api');
  register();
  return import(pathToFileURL(path.join(projectRoot, relative)).href);
}
