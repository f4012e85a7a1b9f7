import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { allJsonSchemas } from '../../../harness/report/write-schemas.ts';
import { projectRoot } from '../../../harness/core/paths.ts';

describe('shipped JSON Schemas', () => {
  it('are up to date with the zod schemas (run `npm run schemas` after changing them)', () => {
    for (const [name, schema] of Object.entries(allJsonSchemas())) {
      const shipped = JSON.parse(readFileSync(path.join(projectRoot, 'schemas', name), 'utf8'));
      expect(shipped, name).toEqual(JSON.parse(JSON.stringify(schema)));
    }
  });
});
