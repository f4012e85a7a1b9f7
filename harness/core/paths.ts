/** Where the project's own files are, wherever it is run from. */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The project root: the nearest directory above this module with this package's package.json. This
 * module runs from harness/core/ or from a bundle of the sources under node_modules/.cache (bin/load.mjs).
 */
export const projectRoot = rootAbove(path.dirname(fileURLToPath(import.meta.url)));

function rootAbove(start: string): string {
  for (let dir = start; ; dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (existsSync(file) && (JSON.parse(readFileSync(file, 'utf8')) as { name?: string }).name === 'rollout-harness') return dir;
    if (path.dirname(dir) === dir) throw new Error(`Expected the rollout-harness package.json in a directory above ${start}, found none`);
  }
}

/** This package's version (from package.json). */
export const packageVersion: string = (JSON.parse(readFileSync(path.join(projectRoot, 'package.json'), 'utf8')) as { version: string }).version;
