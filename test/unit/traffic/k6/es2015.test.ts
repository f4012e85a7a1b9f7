/**
 * Every script in k6-scripts/ must compile on the oldest k6 the harness supports (v0.45): k6
 * before its ES2020 runtime compiles ES2015 modules only, and anything newer (object spread,
 * optional chaining, `??`, …) fails there with a SyntaxError, exit 107, before any request.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'acorn';
import { describe, expect, it } from 'vitest';

const scriptsDir = fileURLToPath(new URL('../../../../k6-scripts/', import.meta.url));
const scripts = readdirSync(scriptsDir).filter((f) => f.endsWith('.js'));

/** Parses as k6 < v0.52 would accept it; returns the syntax error message, or undefined. */
function es2015Error(source: string): string | undefined {
  try {
    parse(source, { ecmaVersion: 2015, sourceType: 'module' });
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

describe('k6-scripts/ in ES2015', () => {
  it('has scripts to check', () => {
    expect(scripts).toContain('constant-rate.js');
  });

  it.each(scripts)('%s parses as an ES2015 module', (name) => {
    const error = es2015Error(readFileSync(path.join(scriptsDir, name), 'utf8'));
    expect(error, `expected ${name} to parse as ES2015 (k6 ≥ v0.45), got: ${error}`).toBeUndefined();
  });

  it('rejects what k6 v0.48 rejected, so the check can fail', () => {
    // The line k6 v0.48 failed on (fixtures/k6/object-spread-v0.48.stderr.txt), and its cousins.
    expect(es2015Error('export const options = { a: 1, ...(X ? { thresholds: X } : {}) };')).toMatch(/Unexpected token/);
    expect(es2015Error('const a = b?.c;')).toMatch(/Unexpected token/);
    expect(es2015Error('const a = b ?? 1;')).toMatch(/Unexpected token/);
    expect(es2015Error('const x = 2 ** 3;')).toMatch(/Unexpected token/);
    expect(es2015Error('export default async function () {}')).toBeDefined();
    expect(es2015Error('const { a, ...rest } = o;')).toMatch(/Unexpected token/);
    expect(es2015Error('const f = (a) => `${a}`; export default f;')).toBeUndefined();
  });
});
