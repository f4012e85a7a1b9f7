import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../../harness/core/clock.ts';
import { BackendSync, DEFAULT_SYNC_SECONDS } from '../../../../harness/twin/gateway/sync.ts';

describe('the backend sync lag', () => {
  it('syncs once, the lag after the first change, taking every change in between along', async () => {
    const clock = new ManualClock(0);
    const syncs: number[] = [];
    const sync = new BackendSync(clock, DEFAULT_SYNC_SECONDS * 1000, () => syncs.push(clock.now()));
    sync.changed();
    await clock.advance(400);
    sync.changed();
    sync.changed();
    expect(sync.pending).toBe(true);
    await clock.advance(599);
    expect(syncs).toEqual([]);
    await clock.advance(1);
    expect(syncs).toEqual([1000]);
    expect(sync.pending).toBe(false);
    // A change after the sync waits a whole lag again.
    await clock.advance(500);
    sync.changed();
    await clock.advance(1000);
    expect(syncs).toEqual([1000, 2500]);
  });

  it('does nothing once stopped, and refuses a negative lag', async () => {
    const clock = new ManualClock(0);
    let n = 0;
    const sync = new BackendSync(clock, 1000, () => n++);
    sync.changed();
    sync.stop();
    sync.changed();
    await clock.advance(5000);
    expect(n).toBe(0);
    expect(() => new BackendSync(clock, -1, () => {})).toThrow('Expected the sync lag to be a number of model ms ≥ 0, got -1');
  });
});
