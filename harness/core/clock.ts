/**
 * The clock: every modelled duration (probe periods, grace periods, lags, delays, timeouts,
 * polls) is given in model milliseconds and runs through one of these. A scaled clock at
 * `scale` 0.05 runs model time 20× faster than real time; a manual clock runs only when a
 * test advances it. Reading time (`now`) is split from scheduling (`sleep`, timers).
 */

/** A scheduled callback that can be cancelled. */
export interface Timer {
  cancel(): void;
}

/** Reads model time and schedules work in model time. */
export interface Clock {
  /** Real seconds per model second: 1 = real time, 0.05 = 20× faster. */
  readonly scale: number;
  /** Model milliseconds since the Unix epoch. */
  now(): number;
  /** Resolves after `ms` model milliseconds; rejects with the signal's reason when aborted. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /** Calls `fn` once after `ms` model milliseconds. */
  setTimeout(fn: () => void, ms: number): Timer;
  /** Calls `fn` every `ms` model milliseconds until cancelled. */
  setInterval(fn: () => void, ms: number): Timer;
  /** Real milliseconds that `modelMs` model milliseconds take on this clock. */
  toRealMs(modelMs: number): number;
  /** Model milliseconds that `realMs` real milliseconds are on this clock. */
  toModelMs(realMs: number): number;
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('The operation was aborted', 'AbortError');
}

/** Where a scaled clock's model time starts: `origin` (model epoch ms) at the real instant `anchor`. */
export interface ClockAnchor {
  scale: number;
  origin: number;
  /** Real epoch ms, high resolution (`performance.timeOrigin + performance.now()`), the same in every thread. */
  anchor: number;
}

/** A new anchor for a scaled clock starting now. */
export function clockAnchorNow(scale: number): ClockAnchor {
  return { scale, origin: Date.now(), anchor: performance.timeOrigin + performance.now() };
}

/** The scaled clock of `a`: every clock made from one anchor, in any thread, reads the same model time. */
export function anchoredClock(a: ClockAnchor): Clock {
  return scaledClock(a.scale, a.origin, a.anchor);
}

/** Real ms a timer may fire late before it first lets the I/O that came meanwhile be read. */
const LATE_TIMER_REAL_MS = 10;

/**
 * Runs `fn` now, or — when the timer fired more than LATE_TIMER_REAL_MS after `dueAt` (the thread
 * did not run: a busy machine) — after the event loop has read the I/O that is already waiting.
 * Node runs due timers before it polls sockets, so without this a response or a connect that came
 * in time, during the pause, would lose to its timeout.
 */
function fireAfterPendingIo(dueAt: number, fn: () => void, slot: { immediate?: NodeJS.Immediate }, unref: boolean): void {
  if (performance.now() - dueAt <= LATE_TIMER_REAL_MS) return fn();
  if (slot.immediate) return;
  slot.immediate = setImmediate(() => {
    slot.immediate = undefined;
    fn();
  });
  if (unref) slot.immediate.unref();
}

/**
 * Model time that runs at `scale` real seconds per model second, starting at `origin` (real epoch
 * ms). Two clocks made from one `ClockAnchor` (in two threads, say) read the same model time. A
 * timer that fires late lets the I/O that came in the meantime be read first (`fireAfterPendingIo`).
 */
export function scaledClock(scale = 1, origin = Date.now(), anchor?: number): Clock {
  if (!(scale > 0) || !Number.isFinite(scale)) {
    throw new RangeError(`Expected the time scale to be a positive number, got ${String(scale)}`);
  }
  // performance.now() counts from this thread's own time origin; the anchor is in epoch terms.
  const start = anchor === undefined ? performance.now() : anchor - performance.timeOrigin;
  const toRealMs = (modelMs: number) => Math.max(0, modelMs * scale);
  const clock: Clock = {
    scale,
    now: () => origin + (performance.now() - start) / scale,
    toRealMs,
    toModelMs: (realMs) => realMs / scale,
    setTimeout(fn, ms) {
      const realMs = toRealMs(ms);
      const due = performance.now() + realMs;
      const slot: { immediate?: NodeJS.Immediate } = {};
      const handle = setTimeout(() => fireAfterPendingIo(due, fn, slot, true), realMs);
      handle.unref?.();
      return {
        cancel: () => {
          clearTimeout(handle);
          if (slot.immediate) clearImmediate(slot.immediate);
        },
      };
    },
    setInterval(fn, ms) {
      const period = Math.max(1, toRealMs(ms));
      let due = performance.now() + period;
      const slot: { immediate?: NodeJS.Immediate } = {};
      const handle = setInterval(() => {
        const at = due;
        // Node schedules the next run from this one's start.
        due = performance.now() + period;
        fireAfterPendingIo(at, fn, slot, true);
      }, period);
      handle.unref?.();
      return {
        cancel: () => {
          clearInterval(handle);
          if (slot.immediate) clearImmediate(slot.immediate);
        },
      };
    },
    sleep(ms, signal) {
      return new Promise<void>((resolve, reject) => {
        if (signal?.aborted) return reject(abortReason(signal));
        const slot: { immediate?: NodeJS.Immediate } = {};
        const onAbort = () => {
          clearTimeout(handle);
          if (slot.immediate) clearImmediate(slot.immediate);
          reject(abortReason(signal!));
        };
        const realMs = toRealMs(ms);
        const due = performance.now() + realMs;
        // Sleeps keep the process alive: something is awaiting them.
        const handle = setTimeout(
          () =>
            fireAfterPendingIo(
              due,
              () => {
                signal?.removeEventListener('abort', onAbort);
                resolve();
              },
              slot,
              false,
            ),
          realMs,
        );
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    },
  };
  return clock;
}

interface ManualEntry {
  at: number;
  seq: number;
  fn: () => void;
  every?: number;
  cancelled: boolean;
}

/** A clock that moves only when `advance` is called: deterministic tests of timed logic. */
export class ManualClock implements Clock {
  readonly scale = 1;
  #now: number;
  #seq = 0;
  #entries: ManualEntry[] = [];

  constructor(start = 0) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  toRealMs(modelMs: number): number {
    return modelMs;
  }

  toModelMs(realMs: number): number {
    return realMs;
  }

  setTimeout(fn: () => void, ms: number): Timer {
    return this.#add(fn, ms);
  }

  setInterval(fn: () => void, ms: number): Timer {
    return this.#add(fn, ms, Math.max(1, ms));
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(abortReason(signal));
      const timer = this.#add(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      const onAbort = () => {
        timer.cancel();
        reject(abortReason(signal!));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Number of timers still pending. */
  get pending(): number {
    return this.#entries.filter((e) => !e.cancelled).length;
  }

  /** Moves time forward by `ms`, firing due timers in time order; awaits microtasks between them. */
  async advance(ms: number): Promise<void> {
    const target = this.#now + ms;
    for (;;) {
      await flushMicrotasks();
      const next = this.#entries
        .filter((e) => !e.cancelled && e.at <= target)
        .sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!next) break;
      this.#now = Math.max(this.#now, next.at);
      if (next.every !== undefined) next.at += next.every;
      else next.cancelled = true;
      next.fn();
    }
    this.#entries = this.#entries.filter((e) => !e.cancelled);
    this.#now = target;
    await flushMicrotasks();
  }

  #add(fn: () => void, ms: number, every?: number): Timer {
    const entry: ManualEntry = { at: this.#now + Math.max(0, ms), seq: this.#seq++, fn, every, cancelled: false };
    this.#entries.push(entry);
    return { cancel: () => void (entry.cancelled = true) };
  }
}

async function flushMicrotasks(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

/** Lateness of a timer (real ms) that still counts as on time. */
const ON_TIME_REAL_MS = 5;

/**
 * A timeout for a probe that this process answers itself: it counts only the time in which the
 * process could have read the answer. When the timer fires late, the process was busy (or not
 * scheduled) and a reply may be sitting unread in a socket, so the lateness is added back (at
 * most `maxExtraMs` in all); once it fires on time, `fn` runs after one more turn of the event
 * loop, when the replies that arrived meanwhile have been read. A twin on a loaded machine then
 * judges the target's delay, not its own.
 */
export function stallTolerantTimeout(clock: Clock, fn: () => void, ms: number, maxExtraMs = Math.max(4 * ms, clock.toModelMs(2000))): Timer {
  let extra = 0;
  let cancelled = false;
  let timer: Timer;
  const arm = (delay: number) => {
    const due = clock.now() + delay;
    timer = clock.setTimeout(() => {
      if (cancelled) return;
      const late = clock.now() - due;
      if (late > clock.toModelMs(ON_TIME_REAL_MS) && extra < maxExtraMs) {
        const more = Math.min(late, maxExtraMs - extra);
        extra += more;
        arm(more);
        return;
      }
      // Timers run before the poll for I/O: let the replies already received be read first.
      timer = clock.setTimeout(() => {
        if (!cancelled) fn();
      }, 0);
    }, delay);
  };
  arm(ms);
  return {
    cancel() {
      cancelled = true;
      timer.cancel();
    },
  };
}
