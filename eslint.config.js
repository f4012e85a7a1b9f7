import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * The design's dependency direction, kept by the linter:
 * cli → orchestrator → {matrix, disruptions, traffic, observe, report, explain} → platform ports → core;
 * twin/ imports only core/; only the composition root (cli/) builds real adapters or starts the twin.
 * Each entry: the folder, and the harness folders it must not import from.
 */
const LAYERS = {
  core: ['cli', 'orchestrator', 'matrix', 'disruptions', 'traffic', 'observe', 'report', 'platform', 'twin'],
  matrix: ['cli', 'orchestrator', 'disruptions', 'traffic', 'observe', 'report', 'platform', 'twin'],
  platform: ['cli', 'orchestrator', 'matrix', 'disruptions', 'traffic', 'observe', 'report', 'twin'],
  traffic: ['cli', 'orchestrator', 'matrix', 'disruptions', 'observe', 'report', 'platform', 'twin'],
  observe: ['cli', 'orchestrator', 'matrix', 'disruptions', 'traffic', 'report', 'twin'],
  report: ['cli', 'orchestrator', 'disruptions', 'traffic', 'observe', 'platform', 'twin'],
  disruptions: ['cli', 'orchestrator', 'traffic', 'report', 'twin'],
  explain: ['cli', 'orchestrator', 'matrix', 'disruptions', 'traffic', 'twin'],
  orchestrator: ['cli', 'twin'],
  preflight: ['cli', 'orchestrator', 'twin'],
  twin: ['cli', 'orchestrator', 'matrix', 'disruptions', 'traffic', 'observe', 'report', 'platform'],
};
const ADAPTERS = { group: ['**/platform/*/adapter.ts'], message: 'Only the composition root (harness/cli/) builds real adapters; take the port instead.' };

const layerRules = Object.entries(LAYERS).map(([folder, forbidden]) => ({
  files: [`harness/${folder}/**/*.ts`],
  rules: {
    'no-restricted-imports': [
      'error',
      {
        patterns: [
          { group: forbidden.flatMap((f) => [`../${f}/**`, `../../${f}/**`, `../../../${f}/**`]), message: `harness/${folder}/ must not import from these folders (see the dependency direction in eslint.config.js).` },
          ...(folder === 'platform' ? [] : [ADAPTERS]),
        ],
      },
    ],
  },
}));

/** Every timer, timeout and poll goes through the injected clock (harness/core/clock.ts): the twin's time scale and deterministic tests depend on it. */
const clockRules = {
  files: ['harness/**/*.ts'],
  ignores: ['harness/core/**'],
  rules: {
    'no-restricted-globals': [
      'error',
      { name: 'setTimeout', message: 'Use the injected clock (clock.setTimeout / clock.sleep).' },
      { name: 'setInterval', message: 'Use the injected clock (clock.setInterval).' },
      { name: 'setImmediate', message: 'Use the injected clock.' },
    ],
    'no-restricted-syntax': [
      'error',
      { selector: "NewExpression[callee.name='Date'][arguments.length=0]", message: 'Read time from the injected clock (wallTime() for record timestamps), not new Date().' },
      { selector: "CallExpression[callee.object.name='Date'][callee.property.name='now']", message: 'Read time from the injected clock, not Date.now().' },
      { selector: "CallExpression[callee.object.name='performance'][callee.property.name='now']", message: 'Read time from the injected clock, not performance.now().' },
    ],
  },
};

export default tseslint.config(
  { ignores: ['node_modules/', 'results/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', URL: 'readonly', Buffer: 'readonly', performance: 'readonly', AbortController: 'readonly', AbortSignal: 'readonly', DOMException: 'readonly', queueMicrotask: 'readonly', structuredClone: 'readonly', TextDecoder: 'readonly', TextEncoder: 'readonly', fetch: 'readonly', __ENV: 'readonly' },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/no-explicit-any': 'warn',
    },
  },
  ...layerRules,
  clockRules,
);
