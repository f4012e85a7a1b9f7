/**
 * The sync lag: a change of the watched objects reaches nginx only when the next backend sync
 * runs, `lagMs` model ms after the first change not yet synced; every change in between rides
 * along. ingress-nginx's Lua balancer picks the backends up within BACKENDS_SYNC_INTERVAL (1 s,
 * rootfs/etc/nginx/lua/balancer.lua) of the controller posting them; this is that bound, on the
 * injected clock.
 */
import type { Clock, Timer } from '../../core/clock.ts';

/** Model seconds from an EndpointSlice change to nginx serving it, by default (BACKENDS_SYNC_INTERVAL). */
export const DEFAULT_SYNC_SECONDS = 1;

/** Batches changes into one sync `lagMs` after the first of them. */
export class BackendSync {
  readonly #clock: Clock;
  readonly #lagMs: number;
  readonly #sync: () => void;
  #timer: Timer | undefined;
  #stopped = false;

  constructor(clock: Clock, lagMs: number, sync: () => void) {
    if (!(lagMs >= 0)) throw new RangeError(`Expected the sync lag to be a number of model ms ≥ 0, got ${String(lagMs)}`);
    this.#clock = clock;
    this.#lagMs = lagMs;
    this.#sync = sync;
  }

  /** True while a sync is due. */
  get pending(): boolean {
    return this.#timer !== undefined;
  }

  /** Something changed: sync `lagMs` from now, unless a sync is already due (it takes this change along). */
  changed(): void {
    if (this.#stopped || this.#timer) return;
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      if (!this.#stopped) this.#sync();
    }, this.#lagMs);
  }

  /** No more syncs. */
  stop(): void {
    this.#stopped = true;
    this.#timer?.cancel();
    this.#timer = undefined;
  }
}
