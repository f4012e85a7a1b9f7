// A twin's worker thread starts here: its body loads as bin/rollout-harness.js loads the CLI (bin/load.mjs).
import { loadEntry } from '../../../bin/load.mjs';

await loadEntry('harness/twin/thread/body.ts');
