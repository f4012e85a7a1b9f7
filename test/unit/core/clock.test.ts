import { describe, expect, it } from 'vitest';
import net from 'node:net';
import { ManualClock, scaledClock, stallTolerantTimeout } from '../../../harness/core/clock.ts';

describe('ManualClock', () => {
  it('fires timers in time order only when advanced', async () => {
    const clock = new ManualClock(1000);
    const fired: string[] = [];
    clock.setTimeout(() => fired.push('b@300'), 300);
    clock.setTimeout(() => fired.push('a@100'), 100);
    const every = clock.setInterval(() => fired.push(`tick@${clock.now() - 1000}`), 150);
    expect(fired).toEqual([]);
    await clock.advance(310);
    expect(fired).toEqual(['a@100', 'tick@150', 'b@300', 'tick@300']);
    every.cancel();
    await clock.advance(1000);
    expect(fired).toHaveLength(4);
    expect(clock.now()).toBe(2310);
  });

  it('resolves sleeps at their model time and rejects them on abort', async () => {
    const clock = new ManualClock();
    let woke = -1;
    void clock.sleep(500).then(() => (woke = clock.now()));
    await clock.advance(499);
    expect(woke).toBe(-1);
    await clock.advance(1);
    expect(woke).toBe(500);

    const controller = new AbortController();
    const sleeping = clock.sleep(1000, controller.signal);
    controller.abort(new Error('stop'));
    await expect(sleeping).rejects.toThrow('stop');
    expect(clock.pending).toBe(0);
  });
});

describe('scaledClock', () => {
  it('runs model time faster by 1/scale', async () => {
    const clock = scaledClock(0.01);
    const before = clock.now();
    const realStart = performance.now();
    await clock.sleep(2000); // 2 model seconds = 20 real ms
    const realElapsed = performance.now() - realStart;
    expect(realElapsed).toBeGreaterThanOrEqual(15);
    expect(realElapsed).toBeLessThan(1000);
    expect(clock.now() - before).toBeGreaterThanOrEqual(1900);
    expect(clock.toRealMs(10_000)).toBe(100);
    expect(clock.toModelMs(100)).toBe(10_000);
  });

  it('rejects a scale that is not a positive number', () => {
    expect(() => scaledClock(0)).toThrow(/positive number, got 0/);
    expect(() => scaledClock(Number.NaN)).toThrow(/got NaN/);
  });
});

describe('stallTolerantTimeout', () => {
  it('fires after its time on a clock that is never late', async () => {
    const clock = new ManualClock();
    let fired = 0;
    stallTolerantTimeout(clock, () => fired++, 1000);
    await clock.advance(999);
    expect(fired).toBe(0);
    await clock.advance(1);
    expect(fired).toBe(1);
    const t = stallTolerantTimeout(clock, () => fired++, 1000);
    t.cancel();
    await clock.advance(5000);
    expect(fired).toBe(1);
  });

  it('lets a reply that arrived while the process was busy win over the timeout', async () => {
    const server = net.createServer((s) => s.end('pong'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const clock = scaledClock(1);
      const { port } = server.address() as net.AddressInfo;
      const outcome = await new Promise<string>((resolve) => {
        const socket = net.connect({ host: '127.0.0.1', port }, () => {
          const timer = stallTolerantTimeout(clock, () => resolve('timeout'), 50);
          socket.once('data', () => {
            timer.cancel();
            resolve('reply');
          });
          // The process is busy for longer than the timeout while the reply arrives.
          const until = performance.now() + 200;
          while (performance.now() < until);
        });
      });
      expect(outcome).toBe('reply');
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('still times out a peer that never answers, within its bound', async () => {
    const clock = scaledClock(1);
    const start = performance.now();
    await new Promise<void>((resolve) => {
      stallTolerantTimeout(clock, resolve, 20, 100);
      const until = performance.now() + 60;
      while (performance.now() < until);
    });
    expect(performance.now() - start).toBeLessThan(1000);
  });
});
