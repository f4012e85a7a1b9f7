/**
 * Starts the twin in a worker thread and talks to it: the host gets the endpoints, the twin CA and
 * a clock that reads the twin's model time (both clocks come from one anchor), and `stop` ends the
 * twin and its pods before the thread goes.
 */
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { anchoredClock, clockAnchorNow, type Clock } from '../../core/clock.ts';
import { ConfigError, EnvironmentError, SafetyError } from '../../core/errors.ts';
import { projectRoot } from '../../core/paths.ts';
import type { TwinConfig } from '../config.ts';
import type { TwinEndpoints } from '../twin.ts';
import { stallsWithin, type Stall } from './stall.ts';
import type { FromTwinThread, SerializedError, ToTwinThread, TwinThreadData } from './protocol.ts';

/** A twin running in a worker thread. */
export interface TwinThread {
  readonly endpoints: TwinEndpoints;
  readonly clock: Clock;
  readonly config: TwinConfig;
  readonly caFile: string;
  /** The stalls of the twin's event loop that overlap [fromMs, toMs] (model ms). */
  stalls(fromMs: number, toMs: number): Stall[];
  /** Ends everything the twin started, then the thread; safe to call twice. */
  stop(): Promise<void>;
}

/** What starting one needs. */
export interface TwinThreadOptions {
  config: TwinConfig;
  stateDir: string;
  /** The twin's diagnostics, as `startTwin`'s `log`. */
  log?: (line: string) => void;
}

/** The thread's entry (from the project root: this module may run from a bundle, bin/load.mjs). */
const ENTRY = path.join(projectRoot, 'harness/twin/thread/entry.mjs');

/** The error the worker threw, as the class the exit-code table knows. */
function revive(e: SerializedError): Error {
  const make = e.name === 'ConfigError' ? (m: string) => new ConfigError(m) : e.name === 'SafetyError' ? (m: string) => new SafetyError(m) : e.name === 'EnvironmentError' ? (m: string) => new EnvironmentError(m) : undefined;
  const error = make ? make(e.message) : Object.assign(new Error(e.message), { name: e.name });
  if (e.stack) error.stack = e.stack;
  return error;
}

/** Starts the twin in its own thread and resolves once it is up (its ALB listener exists). */
export async function startTwinThread(options: TwinThreadOptions): Promise<TwinThread> {
  const clockAnchor = clockAnchorNow(options.config.timeScale);
  const clock = anchoredClock(clockAnchor);
  const data: TwinThreadData = { config: options.config, stateDir: options.stateDir, clockAnchor };
  const worker = new Worker(ENTRY, { workerData: data });
  const log = options.log ?? (() => {});
  let stopped: Promise<void> | undefined;
  let onStopped = () => {};
  // Kept for the run's length; a stall a second would still be a few thousand numbers a night.
  const stalls: Stall[] = [];
  const exited = new Promise<number>((resolve) => worker.once('exit', resolve));

  const ready = new Promise<{ endpoints: TwinEndpoints; caFile: string }>((resolve, reject) => {
    worker.on('message', (message: FromTwinThread) => {
      if (message.type === 'log') log(message.line);
      else if (message.type === 'ready') resolve(message);
      else if (message.type === 'failed') reject(revive(message.error));
      else if (message.type === 'stall') stalls.push({ at: message.at, modelMs: message.modelMs });
      else if (message.type === 'stopped') onStopped();
    });
    worker.on('error', (error) => {
      // Thrown in the thread outside a request: the twin is gone; its API calls now fail.
      log(`twin: the twin's thread failed: ${error.stack ?? error.message}`);
      reject(new EnvironmentError(`The twin's thread failed while starting: ${error.message}`, { cause: error }));
    });
    void exited.then((code) => {
      onStopped();
      reject(new EnvironmentError(`The twin's thread exited (code ${code}) before the twin was up`));
    });
  });

  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      const done = new Promise<void>((resolve) => (onStopped = resolve));
      worker.postMessage({ type: 'stop' } satisfies ToTwinThread);
      // The twin bounds its own shutdown (each pod's kill is bounded); then the thread may go.
      await Promise.race([done, exited]);
      await worker.terminate();
    })();
    return stopped;
  };

  try {
    const up = await ready;
    return { endpoints: up.endpoints, caFile: up.caFile, clock, config: options.config, stalls: (from, to) => stallsWithin(stalls, from, to), stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
