/**
 * The hand-kept package lists stay in step with what the harness imports: each npm package imported
 * under harness/ is pre-bundled for the tests (test/prebundled.ts), kept out of the CLI's bundle
 * (bin/load.mjs `EXTERNAL`), or named with a reason; and the CLI's bundle loads undici as installed.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { bundle, EXTERNAL } from '../../../bin/load.mjs';
import { projectRoot } from '../../../harness/core/paths.ts';
import { tsFilesUnder } from '../../helpers/import-cycles.ts';
import { NOT_PREBUNDLED, PREBUNDLED } from '../../prebundled.ts';

/** Every bare module specifier a runtime import (static or dynamic) names in `source`; type-only imports left out. */
function bareImports(source: string): string[] {
  const found = new Set<string>();
  for (const m of source.matchAll(/^\s*(import|export)\s+(type\s+)?[^;]*?\sfrom\s+'([^']+)'/gms)) if (!m[2]) found.add(m[3]);
  for (const m of source.matchAll(/^\s*import\s+'([^']+)'/gm)) found.add(m[1]);
  for (const m of source.matchAll(/\bimport\(\s*'([^']+)'\s*\)/g)) found.add(m[1]);
  return [...found].filter((s) => !s.startsWith('.') && !s.startsWith('/') && !s.startsWith('node:'));
}

/** The package a specifier belongs to: `@scope/name` or `name`. */
const packageOf = (specifier: string) => specifier.split('/').slice(0, specifier.startsWith('@') ? 2 : 1).join('/');

function harnessImports(): Map<string, string[]> {
  const byImport = new Map<string, string[]>();
  for (const file of tsFilesUnder(path.join(projectRoot, 'harness'))) {
    for (const s of bareImports(readFileSync(file, 'utf8'))) byImport.set(s, [...(byImport.get(s) ?? []), path.relative(projectRoot, file)]);
  }
  return byImport;
}

describe('the package lists', () => {
  it('reads runtime imports and leaves type-only ones out', () => {
    const source = ["import { a } from 'zod';", "import type { B } from 'k6';", "export { c } from '@aws-sdk/client-s3';", "const d = await import('undici');", "import './side.ts';", "import {\n  e,\n} from 'yaml';"].join('\n');
    expect(bareImports(source).sort()).toEqual(['@aws-sdk/client-s3', 'undici', 'yaml', 'zod']);
    expect(packageOf('@smithy/core/config')).toBe('@smithy/core');
  });

  it('covers every npm package the harness imports: pre-bundled for the tests, external to the CLI, or named with a reason', () => {
    const imports = harnessImports();
    expect(imports.size).toBeGreaterThan(5);
    const uncovered = [...imports].filter(([s]) => !PREBUNDLED.includes(s) && !EXTERNAL.includes(packageOf(s)) && !(s in NOT_PREBUNDLED)).map(([s, files]) => `${s} (${files.join(', ')})`);
    expect(uncovered, 'add each to PREBUNDLED in test/prebundled.ts (or to NOT_PREBUNDLED with why)').toEqual([]);
    // And nothing is listed that the harness no longer imports.
    expect(PREBUNDLED.filter((s) => !imports.has(s))).toEqual([]);
    expect(Object.keys(NOT_PREBUNDLED).filter((s) => !imports.has(s))).toEqual([]);
  });

  it('keeps undici out of the CLI bundle: the twin and the built-in driver share the installed copy', async () => {
    const dir = await bundle();
    expect(dir, 'esbuild made no bundle').toBeDefined();
    const chunks = (readdirSync(dir!, { recursive: true }) as string[]).filter((f) => f.endsWith('.js')).map((f) => readFileSync(path.join(dir!, f), 'utf8'));
    expect(chunks.length).toBeGreaterThan(0);
    // The harness's undici imports stay imports of the package…
    expect(chunks.some((c) => /from\s*"undici"/.test(c))).toBe(true);
    // …and none of undici's own sources is in the bundle.
    expect(chunks.filter((c) => c.includes('node_modules/undici/'))).toEqual([]);
  });
});
