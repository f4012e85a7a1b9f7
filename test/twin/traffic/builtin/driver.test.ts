import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { scaledClock } from '../../../../harness/core/clock.ts';
import { verdictReasons } from '../../../../harness/orchestrator/verdict.ts';
import { runBuiltinTraffic } from '../../../../harness/traffic/builtin/driver.ts';
import { latencyIn, scheduleOf } from '../../../../harness/traffic/timing.ts';

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

  it('records a driver that stalls as requests sent late: the cell is INVALID, "the driver fell behind", though every request was sent', async () => {
    // The Ctrl-Z during the disrupt stage, shortened: the driver's event loop is blocked
    // for 2.5 s inside the window, then it sends the backlog in one burst.
    server = http.createServer((_req, res) => res.writeHead(200).end('ok'));
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const clock = scaledClock(1);
    const stall = { from: 0, to: 0 };
    const timer = clock.setTimeout(() => {
      stall.from = clock.now();
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2500);
      stall.to = clock.now();
    }, 1000);
    const rate = 100;
    // A timeout well above the stall: requests in flight when it starts are answered, not timed out.
    const result = await runBuiltinTraffic({ url, rate, durationSeconds: 5, timeoutSeconds: 10, mix: [{ path: '/', weight: 1 }] }, { clock }).finally(() => timer.cancel());
    expect(stall.to - stall.from).toBeGreaterThanOrEqual(2400);
    // What main judged by: every planned request was sent and answered (achieved 100 %).
    expect(result.sent).toBe(result.planned);
    expect(result.byStatus['200']).toBe(result.sent);
    expect(result.timings?.count).toBe(result.sent);
    // The disruption window: from 0.5 s to 4.5 s after the start.
    const check = scheduleOf(result, rate, result.startedAt + 500, result.startedAt + 4500)!;
    // Requests due more than 1 s before the stall ended went out late: the stall's first 1.5 s.
    const lateSeconds = check.behind.map((b) => b.second);
    expect(lateSeconds.length).toBeGreaterThanOrEqual(1);
    expect(lateSeconds.length).toBeLessThanOrEqual(3);
    for (const b of check.behind) expect(result.startedAt + b.second * 1000).toBeGreaterThanOrEqual(stall.from - 1000);
    expect(check.maxLateMs).toBeGreaterThan(2000);
    const verdict = verdictReasons({
      interrupted: false,
      planned: result.planned,
      sent: result.sent,
      cutAtStop: 0,
      answeredByStatus: result.sent,
      twoXX: result.sent,
      fiveXX: 0,
      networkErrors: 0,
      baseline: { sent: 50, not2xx: 0 },
      disruption: { completed: true, detail: 'replaced 3 pod(s)', actedOn: { pods: 3, needed: 3, summary: 'the rollout replaced 3 of 3 old pod(s) of web' } },
      settled: true,
      settleTimeoutSeconds: 60,
      behindSeconds: check.behind.length,
    });
    expect(verdict).toEqual([expect.stringMatching(new RegExp(`^the driver fell behind for ${check.behind.length} s of the disruption window`))]);
    // The latency of the stalled requests includes no stall: they were timed from their real send.
    expect(latencyIn(result.timings!, result.startedAt, result.endedAt)!.count).toBe(result.sent);
  });

  it('keeps every request on schedule when nothing stalls', async () => {
    server = http.createServer((_req, res) => res.writeHead(200).end('ok'));
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const result = await runBuiltinTraffic({ url, rate: 100, durationSeconds: 3, timeoutSeconds: 2, mix: [{ path: '/', weight: 1 }] }, { clock: scaledClock(1) });
    const check = scheduleOf(result, 100, result.startedAt, result.startedAt + 3000)!;
    expect(check.seconds).toBe(3);
    expect(check.behind).toEqual([]);
  });
});
