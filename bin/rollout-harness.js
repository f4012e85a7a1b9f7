#!/usr/bin/env node
// Entry point: loads the TypeScript sources (a cached esbuild bundle of them, or tsx; bin/load.mjs), then runs the CLI.
import { loadEntry } from './load.mjs';

// The AWS SDK warns on every run that releases after January 2027 need Node 22; the pinned versions support Node 20.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const { main } = await loadEntry('harness/cli/main.ts');
await main();
