#!/usr/bin/env node
// Runs one of the project's program entry points (bin/load.mjs ENTRIES) with the rest of the command line:
//   node bin/run-entry.mjs harness/traffic/k6/stand-in.ts run …
import { loadEntry } from './load.mjs';

const [entry, ...argv] = process.argv.slice(2);
const { main } = await loadEntry(entry);
await main(argv);
