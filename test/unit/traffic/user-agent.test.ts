/** The User-Agent the drivers send: its shape, and the built-in driver sending it to a real server on loopback. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { scaledClock } from '../../../harness/core/clock.ts';
import { runBuiltinTraffic } from '../../../harness/traffic/builtin/driver.ts';
import { cellUserAgent, parseUserAgent, trafficCellId, userAgentFor } from '../../../harness/traffic/user-agent.ts';

let server: http.Server | undefined;
afterEach(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

describe('userAgentFor', () => {
  it('names the version, the run and the cell, and reads back', () => {
    const ua = userAgentFor('0.1.0', '20260101T000000Z-nightly', 'drain.gate-off.prestop-0.grace-30.dereg-300.r2');
    expect(ua).toBe('rollout-harness/0.1.0 20260101T000000Z-nightly/drain.gate-off.prestop-0.grace-30.dereg-300.r2');
    expect(parseUserAgent(ua)).toEqual({ version: '0.1.0', runId: '20260101T000000Z-nightly', cellId: 'drain.gate-off.prestop-0.grace-30.dereg-300.r2' });
    expect(parseUserAgent('curl/8.4.0')).toBeUndefined();
    expect(parseUserAgent(null)).toBeUndefined();
  });

  it('refuses ids that would make the log entry ambiguous', () => {
    expect(() => userAgentFor('0.1.0', 'run id', 'c')).toThrow('Expected the run id to be non-empty without spaces, quotes or backslashes, got "run id"');
    expect(() => userAgentFor('0.1.0', 'r', '')).toThrow(/cell id/);
  });
});

describe('the built-in driver', () => {
  it('sends the plan\'s User-Agent on every request', async () => {
    const seen: string[] = [];
    server = http.createServer((req, res) => {
      seen.push(req.headers['user-agent'] ?? '');
      res.end('ok');
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const ua = userAgentFor('0.1.0', 'r1', 'rollout.r1');
    const result = await runBuiltinTraffic({ url: `http://127.0.0.1:${port}`, rate: 40, durationSeconds: 0.5, timeoutSeconds: 2, mix: [{ path: '/', weight: 1 }], userAgent: ua }, { clock: scaledClock(1) });
    expect(result.byStatus['200']).toBe(result.sent);
    expect(seen.length).toBe(result.sent);
    expect(seen.length).toBeGreaterThan(5);
    expect(new Set(seen)).toEqual(new Set([ua]));
  });

  it("names a cell's later warm-ups' traffic apart, and the counted traffic by how many warm-ups the cell took", () => {
    expect(trafficCellId('rollout.gate-on.r1', 1)).toBe('rollout.gate-on.r1');
    expect(trafficCellId('rollout.gate-on.r1', 3)).toBe('rollout.gate-on.r1.w3');
    expect(cellUserAgent('0.1.0', 'night', { id: 'drain.r1' })).toBe('rollout-harness/0.1.0 night/drain.r1');
    expect(cellUserAgent('0.1.0', 'night', { id: 'drain.r1', warmupsAbandoned: [{}, {}] })).toBe('rollout-harness/0.1.0 night/drain.r1.w3');
  });
});
