/** No import circle under harness/: each module can be read, tested and replaced on its own. */
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { importCycles, importGraph, tsFilesUnder } from '../../helpers/import-cycles.ts';

const ROOT = resolve(import.meta.dirname, '../../..');

describe('import circles', () => {
  it('finds none under harness/', () => {
    expect(importCycles(importGraph(tsFilesUnder(resolve(ROOT, 'harness'))), ROOT)).toEqual([]);
  });

  it('finds a circle made of type-only imports, and names its files', () => {
    const sources: Record<string, string> = {
      '/x/a.ts': "import type { B } from './b.ts';\nexport type A = B;",
      '/x/b.ts': "import { c } from './c.ts';\nexport type B = string;",
      '/x/c.ts': "export { type A } from './a.ts';\nexport const c = 1;",
      '/x/d.ts': "import { c } from './c.ts';",
    };
    const graph = importGraph(Object.keys(sources), (f) => sources[f]);
    expect(importCycles(graph, '/x')).toEqual([['a.ts', 'b.ts', 'c.ts']]);
  });

  it('counts a lazy import() as an edge', () => {
    const sources: Record<string, string> = { '/x/a.ts': "export const f = () => import('./b.ts');", '/x/b.ts': "import { f } from './a.ts';" };
    expect(importCycles(importGraph(Object.keys(sources), (f) => sources[f]), '/x')).toEqual([['a.ts', 'b.ts']]);
  });
});
