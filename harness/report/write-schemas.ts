/** Writes schemas/*.json (the spec's and the result files' JSON Schemas): `npm run schemas`. */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { specJsonSchema } from '../matrix/schema.ts';
import { projectRoot } from '../core/paths.ts';
import { resultJsonSchemas } from './types.ts';

/** Every shipped JSON Schema, by file name. */
export function allJsonSchemas(): Record<string, unknown> {
  return { 'spec.schema.json': specJsonSchema(), ...resultJsonSchemas() };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const [name, schema] of Object.entries(allJsonSchemas())) {
    const file = path.join(projectRoot, 'schemas', name);
    await writeFile(file, `${JSON.stringify(schema, null, 2)}\n`);
    console.log(`wrote ${path.relative(projectRoot, file)}`);
  }
}
