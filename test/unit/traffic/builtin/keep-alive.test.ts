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

describe('the built-in driver\'s connections', () => {
  it('keeps them alive when the server announces a short Keep-Alive timeout, as the twin ALB does at a fast time scale', async () => {
    // The twin's 60 s idle timeout at time scale 0.04 is 2.4 real s: Node announces "Keep-Alive: timeout=2".
    server = http.createServer({ keepAliveTimeout: 2400 }, (_req, res) => res.end('ok'));
    let running = true;
    let connections = 0;
    let closedWhileRunning = 0;
    server.on('connection', (socket) => {
      connections++;
      socket.on('close', () => running && closedWhileRunning++);
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const result = await runBuiltinTraffic(
      { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, rate: 100, durationSeconds: 1, timeoutSeconds: 1, mix: [{ path: '/', weight: 1 }] },
      { clock: scaledClock(1) },
    );
    running = false;
    expect(result.byStatus['200']).toBe(100);
    // Closed after one response each, that is 100 connections, 99 closed during the run. Kept,
    // a busy machine's bursts may open more than one, but none goes until the run ends.
    expect(connections).toBeLessThan(100);
    expect(closedWhileRunning).toBeLessThanOrEqual(5);
  });
});
