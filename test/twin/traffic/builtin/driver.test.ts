import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { scaledClock } from '../../../../harness/core/clock.ts';
import { runBuiltinTraffic } from '../../../../harness/traffic/builtin/driver.ts';

let server: http.Server | undefined;

afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r) ?? r(undefined));
  server = undefined;
});

/** What the server did, to compare with what the driver counted. */
const served = { received: 0, ok: 0, bad: 0, destroyed: 0, hung: 0 };

/** Answers request n (1-based) by n % 10: 3 → 502, 5 → destroyed, 7 → hangs past the 1 s timeout, else 200. */
async function startServer(): Promise<string> {
  Object.assign(served, { received: 0, ok: 0, bad: 0, destroyed: 0, hung: 0 });
  server = http.createServer((req, res) => {
    const k = ++served.received % 10;
    if (k === 3) return void (served.bad++, res.writeHead(502).end('bad'));
    if (k === 5) return void (served.destroyed++, req.socket.destroy());
    if (k === 7) return void (served.hung++, setTimeout(() => res.writeHead(200).end('late'), 2500).unref());
    served.ok++;
    res.writeHead(200).end('ok');
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('runBuiltinTraffic', () => {
  it('sends on schedule even when requests hang, and accounts for every request', async () => {
    const url = await startServer();
    const result = await runBuiltinTraffic(
      { url, rate: 200, durationSeconds: 2, timeoutSeconds: 1, mix: [{ path: '/', weight: 1 }] },
      { clock: scaledClock(1) },
    );
    expect(result.planned).toBe(400);
    expect(result.sent).toBe(400);
    const statusTotal = Object.values(result.byStatus).reduce((a, b) => a + b, 0);
    const errorTotal = Object.values(result.networkErrors).reduce((a, b) => a + b, 0);
    expect(statusTotal + errorTotal).toBe(400);
    // Every answer the server gave is counted once; requests that never arrived time out.
    expect(served.received).toBeGreaterThan(380);
    expect(result.byStatus['502']).toBe(served.bad);
    expect(result.byStatus['200']).toBe(served.ok);
    expect(result.networkErrors['timeout']).toBeGreaterThanOrEqual(served.hung);
    expect(errorTotal).toBe(served.destroyed + served.hung + (400 - served.received));
    // Open model: the schedule took ~2 s even though 10 % of requests hung for 0.5 s.
    expect(result.series.length).toBeGreaterThanOrEqual(2);
    expect(result.series.length).toBeLessThanOrEqual(3);
    expect(result.failures).toHaveLength(400 - served.ok);
    expect(result.incomplete).toBeUndefined();
    // Ran to its end: nothing was cut.
    expect(result.cutAtStop).toEqual({ count: 0, sentAt: [] });
  });

  it('ends early on stop as a complete run planned up to the stop', async () => {
    const url = await startServer();
    const stop = new AbortController();
    setTimeout(() => stop.abort(), 500).unref();
    const result = await runBuiltinTraffic(
      { url, rate: 100, durationSeconds: 30, timeoutSeconds: 0.5, mix: [{ path: '/', weight: 1 }] },
      { clock: scaledClock(1), stop: stop.signal },
    );
    expect(result.incomplete).toBeUndefined();
    expect(result.planned).toBe(result.sent);
    expect(result.sent).toBeGreaterThanOrEqual(40);
    expect(result.sent).toBeLessThanOrEqual(70);
    const answered = Object.values(result.byStatus).reduce((a, b) => a + b, 0) + Object.values(result.networkErrors).reduce((a, b) => a + b, 0);
    expect(answered + result.cutAtStop.count).toBe(result.sent);
  });

  it('cuts the requests in flight at the stop and keeps their send times, out of the answers', async () => {
    let received = 0;
    let closedUnanswered = 0;
    server = http.createServer((req, res) => {
      received++;
      const t = setTimeout(() => res.end('late'), 2000);
      res.on('close', () => {
        if (res.writableFinished) return;
        closedUnanswered++;
        clearTimeout(t);
      });
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const stop = new AbortController();
    setTimeout(() => stop.abort(), 600).unref();
    const startedAt = Date.now();
    const result = await runBuiltinTraffic(
      { url, rate: 50, durationSeconds: 30, timeoutSeconds: 10, mix: [{ path: '/', weight: 1 }] },
      { clock: scaledClock(1), stop: stop.signal },
    );
    // Cut at once, not waited for (answers take 2 s, the timeout 10 s).
    expect(Date.now() - startedAt).toBeLessThan(1500);
    expect(result.incomplete).toBeUndefined();
    expect(result.sent).toBeGreaterThanOrEqual(25);
    expect(result.planned).toBe(result.sent);
    expect(result.byStatus).toEqual({});
    expect(result.networkErrors).toEqual({});
    expect(result.failures).toEqual([]);
    expect(result.cutAtStop.count).toBe(result.sent);
    expect(result.cutAtStop.sentAt).toHaveLength(result.sent);
    expect(result.cutAtStop.sentAt[0]).toBeGreaterThanOrEqual(result.startedAt);
    expect(result.cutAtStop.sentAt).toEqual([...result.cutAtStop.sentAt].sort((a, b) => a - b));
    // The server saw every cut request's client go away.
    for (let i = 0; i < 100 && closedUnanswered < received; i++) await new Promise((r) => setTimeout(r, 10));
    expect(closedUnanswered).toBe(received);
  });

  it('stops on abort and says the run is incomplete', async () => {
    const url = await startServer();
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 300).unref();
    const result = await runBuiltinTraffic(
      { url, rate: 100, durationSeconds: 5, timeoutSeconds: 0.5, mix: [{ path: '/', weight: 1 }] },
      { clock: scaledClock(1), signal: controller.signal },
    );
    expect(result.sent).toBeLessThan(100);
    expect(result.incomplete).toMatch(/aborted after \d+ of 500 requests/);
    const answered = Object.values(result.byStatus).reduce((a, b) => a + b, 0) + Object.values(result.networkErrors).reduce((a, b) => a + b, 0);
    expect(answered + result.cutAtStop.count).toBe(result.sent);
  });
});
