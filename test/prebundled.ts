/**
 * The npm packages the harness imports, pre-bundled once by Vite's dependency optimizer for every
 * test file's process (vitest.config.ts): a fork otherwise has Node resolve, detect and compile the
 * AWS SDK's and client-node's hundreds of files anew (measured: 4 files importing the twin and the
 * adapters, 15.9 → 6.5 s of import, 12.8 → 10.2 CPU-s). test/unit/bin/packages.test.ts fails when
 * the harness imports a package that is in none of these lists.
 */
export const PREBUNDLED = [
  '@aws-sdk/client-cloudwatch',
  '@aws-sdk/client-ec2',
  '@aws-sdk/client-elastic-load-balancing-v2',
  '@aws-sdk/client-fis',
  '@aws-sdk/client-s3',
  '@aws-sdk/client-sts',
  '@kubernetes/client-node',
  '@smithy/core/config',
  'commander',
  'execa',
  'yaml',
  'zod',
];

/**
 * Imported by the harness but loaded as installed in tests, each with why. (The packages bin/load.mjs
 * keeps out of the CLI's bundle, `EXTERNAL`, are loaded as installed too: undici, one copy for the
 * twin and the built-in driver.)
 */
export const NOT_PREBUNDLED: Record<string, string> = {
  'cron-parser': "pre-bundled, its CommonJS/ESM interop broke the twin's CronJob controller (its tests failed); it is one small package",
};
