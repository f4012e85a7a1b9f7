import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { scaledClock, type Clock } from '../../../../harness/core/clock.ts';
import { runBuiltinTraffic } from '../../../../harness/traffic/builtin/driver.ts';

let server: http.Server | undefined;

afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r) ?? r(undefined));
  server = undefined;
});

/** A real-time clock that counts the timers scheduled on it. */
function countingClock(): Clock & { timeouts: number; intervals: number } {
  const real = scaledClock(1);
  const clock = {
    ...real,
    timeouts: 0,
    intervals: 0,
    setTimeout(fn: () => void, ms: number) {
      clock.timeouts++;
      return real.setTimeout(fn, ms);
    },
    setInterval(fn: () => void, ms: number) {
      clock.intervals++;
      return real.setInterval(fn, ms);
    },
  };
  return clock;
}

describe('the built-in driver\'s timers', () => {
  it('schedules one interval for the whole run, not a timer per request, and still times out a request that hangs', async () => {
    server = http.createServer((req, res) => {
      // /hang answers past the timeout, to no one.
      if (req.url === '/hang') return void setTimeout(() => res.end('late'), 800).unref();
      res.end('ok');
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const clock = countingClock();
    const result = await runBuiltinTraffic(
      { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, rate: 100, durationSeconds: 0.3, timeoutSeconds: 0.3, mix: [{ path: '/', weight: 4 }, { path: '/hang', weight: 1 }] },
      { clock },
    );
    expect(result.sent).toBe(30);
    const hung = result.failures.filter((f) => f.path === '/hang');
    expect(hung).toHaveLength(6);
    for (const f of hung) expect(f).toMatchObject({ error: 'timeout' });
    expect(result.byStatus['200'] + result.networkErrors.timeout).toBe(30);
    expect(clock.timeouts).toBe(0);
    expect(clock.intervals).toBe(1);
  });
});
