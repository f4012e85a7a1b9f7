// @ts-check
/**
 * `npm run test:mutate`: mutation testing of the pure modules (matrix, verdict, settings, report,
 * explain, k6 output parsing) against their unit tests. Not part of CI: it takes minutes, and
 * what it finds becomes a unit test.
 * @type {import('@stryker-mutator/api/core').PartialStrykerOptions}
 */
export default {
  testRunner: 'vitest',
  // Only the unit tests of these modules (vitest.mutate.config.ts); each mutant runs the tests that cover it.
  vitest: { configFile: 'vitest.mutate.config.ts', related: true },
  coverageAnalysis: 'perTest',
  // Static mutants (module-level constants) rerun every test and take most of the time; they are left out.
  ignoreStatic: true,
  mutate: [
    'harness/matrix/*.ts',
    'harness/orchestrator/verdict.ts',
    'harness/orchestrator/settings.ts',
    'harness/report/*.ts',
    'harness/report/html/*.ts',
    // Declarations and I/O: the result schema, the schema writer, the log fetch and the pipeline that drives it.
    '!harness/report/types.ts',
    '!harness/report/write-schemas.ts',
    'harness/explain/*.ts',
    '!harness/explain/fetch.ts',
    '!harness/explain/pipeline.ts',
    'harness/traffic/k6/parse.ts',
  ],
  // Run output only; fixtures/results is a test fixture and stays.
  ignorePatterns: ['/results', '/reports'],
  // Two workers for two cores; run it niced on a shared machine.
  concurrency: 2,
  timeoutMS: 10_000,
  reporters: ['clear-text', 'progress-append-only', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/mutation.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
};
