/** The messages between a twin's worker thread and its host (structured-clone data only). */
import type { ClockAnchor } from '../../core/clock.ts';
import type { TwinConfig } from '../config.ts';
import type { TwinEndpoints } from '../twin.ts';

/** What the worker starts with. */
export interface TwinThreadData {
  config: TwinConfig;
  stateDir: string;
  clockAnchor: ClockAnchor;
}

/** An error as it crosses the thread boundary: the class by name, the message with every issue. */
export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
}

/** Worker → host. */
export type FromTwinThread =
  | { type: 'log'; line: string }
  | { type: 'ready'; endpoints: TwinEndpoints; caFile: string }
  | { type: 'failed'; error: SerializedError }
  /** The twin's event loop ran `modelMs` model ms late, ending at model time `at` (see stall.ts). */
  | { type: 'stall'; at: number; modelMs: number }
  | { type: 'stopped' };

/** Host → worker. */
export type ToTwinThread = { type: 'stop' };
