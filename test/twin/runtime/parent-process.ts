// A tiny parent for the no-orphan tests: spawns one child through the supervisor, prints its
// PID, then either waits to be SIGKILLed (`app`) or crashes (`crash`).
import path from 'node:path';
import { projectRoot } from '../../../harness/core/paths.ts';
import { createProcessSupervisor } from '../../../harness/twin/runtime/processes.ts';

const mode = process.argv[2];
const supervisor = createProcessSupervisor();
const command =
  mode === 'crash'
    ? // sleep never reads stdin: only the exit hook can end it.
      ['sleep', '30']
    : ['node', path.join(projectRoot, 'fixtures/app/server.mjs')];
const child = supervisor.spawn({ name: 'orphan-test', command, env: { PORT: '0' } });
console.log(`child ${child.pid}`);
if (mode === 'crash') {
  queueMicrotask(() => {
    throw new Error('deliberate crash');
  });
}
// Otherwise the child's pipes keep this process alive until the test SIGKILLs it.
