/**
 * The twin in its own worker thread: its API servers, controllers and ALB data plane get an event
 * loop of their own, so the built-in driver and the orchestrator in the host thread do not delay
 * them (and the reverse). The host reads model time from a clock made from the same anchor.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { anchoredClock } from '../../core/clock.ts';
import { startTwin } from '../twin.ts';
import { raiseThisThread } from './priority.ts';
import { watchStalls } from './stall.ts';
import type { FromTwinThread, ToTwinThread, TwinThreadData } from './protocol.ts';

const port = parentPort;
if (!port) throw new Error('Expected to run in a worker thread (harness/twin/thread/entry.mjs)');
const data = workerData as TwinThreadData;
const post = (message: FromTwinThread) => port.postMessage(message);

// Before anything starts: the twin's timers first where the system allows it (not permitted: unchanged).
raiseThisThread();
const started = startTwin({ config: data.config, stateDir: data.stateDir, clockAnchor: data.clockAnchor, log: (line) => post({ type: 'log', line }) });
let stopping = false;
const watch = watchStalls(anchoredClock(data.clockAnchor), (stall) => post({ type: 'stall', ...stall }));

port.on('message', (message: ToTwinThread) => {
  if (message.type !== 'stop' || stopping) return;
  stopping = true;
  watch.cancel();
  // A stop that comes while the twin is still starting ends it once it is up (a failed start has
  // already stopped what it began).
  void started
    .then((twin) => twin.stop(), () => {})
    .then(() => {
      post({ type: 'stopped' });
      port.close();
    });
});

try {
  const twin = await started;
  if (!stopping) post({ type: 'ready', endpoints: twin.endpoints, caFile: twin.caFile });
} catch (error) {
  const e = error as Error;
  post({ type: 'failed', error: { name: e?.name ?? 'Error', message: e?.message ?? String(error), ...(e?.stack ? { stack: e.stack } : {}) } });
  if (!stopping) port.close();
}
