import { defineConfig } from 'vitest/config';
import base from './vitest.config.ts';

/**
 * The tests `npm run test:mutate` runs against each mutant: the unit tests of the pure modules it
 * mutates (stryker.config.json), without the ones that start moto_server (pipeline, s3-cloudwatch),
 * which would start a Python process for every mutant they cover.
 */
// Spread, not mergeConfig: that would append this include list to the base one.
export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: [
      'test/unit/matrix/**/*.test.ts',
      'test/unit/orchestrator/verdict.test.ts',
      'test/unit/orchestrator/settings.test.ts',
      'test/unit/orchestrator/restore.test.ts',
      'test/unit/report/**/*.test.ts',
      'test/unit/explain/**/*.test.ts',
      'test/unit/traffic/k6/parse.test.ts',
    ],
    exclude: ['test/unit/explain/pipeline.test.ts'],
  },
});
