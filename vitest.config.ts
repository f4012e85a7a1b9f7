import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Twin tests run real processes on loopback and mostly wait on the model clock: three workers
    // keep two cores about 75 % busy (the whole suite: 524 s with 3, 724 s with 2, on 2 cores).
    pool: 'forks',
    maxWorkers: 3,
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
