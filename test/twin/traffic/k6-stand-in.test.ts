/**
 * The twin's k6 stand-in as k6-operator runs it: three runner processes with the operator's
 * segment flags, paused until their REST API is patched (as the starter does), against a real
 * loopback server. Their NDJSON, parsed as k6's and merged, accounts for every request the server saw.
 */
import { execa, type ResultPromise } from 'execa';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { projectRoot } from '../../../harness/core/paths.ts';
import { parseK6Output } from '../../../harness/traffic/k6/parse.ts';
import { operatorSegmentFlags, parseSegment, parseSequence, stripeOf } from '../../../harness/traffic/k6/segments.ts';
import { mergeRunners } from '../../../harness/traffic/k6-operator/merge.ts';

const RUN = path.join(projectRoot, 'bin/run-entry.mjs');
const started: ResultPromise[] = [];
/** Each server the test started, ended with every connection it still has. */
const servers: Array<{ end(): Promise<void> }> = [];
afterEach(async () => {
  for (const p of started.splice(0)) if (p.exitCode === null) p.kill('SIGKILL');
  for (const s of servers.splice(0)) await s.end();
});

async function server(delayMs = 0): Promise<{ url: string; byAgent: Map<string, number> }> {
  const byAgent = new Map<string, number>();
  const s = http.createServer((req, res) => {
    const ua = String(req.headers['user-agent']);
    byAgent.set(ua, (byAgent.get(ua) ?? 0) + 1);
    setTimeout(() => res.writeHead(200, { 'content-type': 'text/plain' }).end('ok'), delayMs);
  });
  servers.push({ end: () => (s.closeAllConnections(), new Promise((r) => s.close(() => r()))) });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(s.address() as AddressInfo).port}`, byAgent };
}

async function freePort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

function runner(args: string[], env: Record<string, string>): ResultPromise {
  const p = execa(process.execPath, [RUN, 'harness/traffic/k6/stand-in.ts', ...args], { env: { ...process.env, ...env }, reject: false, timeout: 60_000 });
  started.push(p);
  return p;
}

/** Waits (bounded) until a runner's REST API answers. */
async function apiUp(port: number): Promise<unknown> {
  for (let i = 0; i < 200; i++) {
    try {
      return await (await fetch(`http://127.0.0.1:${port}/v1/status`)).json();
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`runner API on ${port} never answered`);
}

/**
 * A raw HTTP/1.1 server that answers the first `answer` requests of each connection with keep-alive
 * and closes the connection without an answer when the next one arrives (a server closing as the
 * request goes out: the keep-alive race). Counts the requests that arrive.
 */
async function closingServer(answer: number): Promise<{ url: string; arrived: () => number; connections: () => number }> {
  let arrived = 0;
  let connections = 0;
  const sockets = new Set<net.Socket>();
  const s = net.createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    let seen = 0;
    let buffered = '';
    socket.on('data', (chunk) => {
      buffered += chunk.toString('latin1');
      for (let end = buffered.indexOf('\r\n\r\n'); end >= 0; end = buffered.indexOf('\r\n\r\n')) {
        buffered = buffered.slice(end + 4);
        arrived++;
        if (++seen > answer) return socket.destroy();
        socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: keep-alive\r\n\r\nok');
      }
    });
    socket.on('error', () => {});
  });
  servers.push({ end: () => (sockets.forEach((x) => x.destroy()), new Promise((r) => s.close(() => r()))) });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(s.address() as AddressInfo).port}`, arrived: () => arrived, connections: () => connections };
}

const resume = (port: number) => fetch(`http://127.0.0.1:${port}/v1/status`, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ data: { attributes: { paused: false }, id: 'default', type: 'status' } }) });

describe('the k6 stand-in under k6-operator', () => {
  it('three paused runners, resumed together, send exactly their stripes of the plan: every request accounted for', async () => {
    const target = await server();
    const ua = 'rollout-harness/0.1.0 standin/rollout.r1';
    const env = { TARGET: target.url, RATE: '300', DURATION: '2', TIMEOUT: '5', CELL: 'rollout.r1', USER_AGENT: ua, K6_INCLUDE_SYSTEM_ENV_VARS: 'true' };
    const ports = [await freePort(), await freePort(), await freePort()];
    const procs = ports.map((port, i) =>
      runner(['run', '--quiet', ...operatorSegmentFlags(i + 1, 3), '--summary-mode=disabled', '--no-usage-report', '--out', 'json=-', '/test/constant-rate.js', `--address=127.0.0.1:${port}`, '--paused', '--tag', `instance_id=${i + 1}`, '--tag', 'testrun_name=rh-test'], env),
    );
    for (const port of ports) expect(await apiUp(port)).toMatchObject({ data: { attributes: { paused: true, running: false } } });
    expect(target.byAgent.size).toBe(0);
    for (const port of ports) expect((await resume(port)).status).toBe(200);
    const results = await Promise.all(procs);
    const sequence = parseSequence('0,1/3,2/3,1');
    const parts = [];
    for (const [i, r] of results.entries()) {
      expect(r.exitCode, String(r.stderr)).toBe(0);
      parts.push({ name: `rh-test-${i + 1}`, stripe: stripeOf(parseSegment(['0:1/3', '1/3:2/3', '2/3:1'][i]), sequence), aggregate: await parseK6Output([r.stdout + '\n']) });
    }
    const merged = mergeRunners(parts, { planned: 600, now: Date.now() });
    expect(merged.runners.map((x) => [x.planned, x.sent, x.answered])).toEqual([
      [200, 200, 200],
      [200, 200, 200],
      [200, 200, 200],
    ]);
    expect(merged.sent).toBe(600);
    expect(target.byAgent.get(ua)).toBe(600);
    expect(merged.byStatus).toEqual({ '200': 600 });
    for (const p of parts) expect(p.aggregate.malformed.count).toBe(0);
  }, 60_000);

  it('a runner stopped mid-run (SIGTERM, as a deleted pod is) exits 105, its requests in flight cut, not failed', async () => {
    const target = await server(400);
    const port = await freePort();
    const p = runner(['run', '--execution-segment=0:1/2', '--execution-segment-sequence=0,1/2,1', '--no-summary', '--out', 'json=-', '--address', `127.0.0.1:${port}`, '--paused', 'script.js'], { TARGET: target.url, RATE: '100', DURATION: '10', TIMEOUT: '5', USER_AGENT: 'stopped' });
    await apiUp(port);
    await resume(port);
    // Until answers have come (400 ms each), bounded: a busy machine may start the runner late.
    for (let i = 0; i < 100 && !(target.byAgent.get('stopped')! > 20); i++) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 1000));
    p.kill('SIGTERM');
    const r = await p;
    expect(r.exitCode, String(r.stderr)).toBe(105);
    const agg = await parseK6Output([r.stdout + '\n']);
    expect(agg.cutAtStop.count).toBeGreaterThan(0);
    expect(agg.byStatus['200']).toBeGreaterThan(0);
    expect(agg.byStatus['200'] + agg.cutAtStop.count).toBe(agg.sent);
    expect(agg.sent).toBe(target.byAgent.get('stopped'));
  }, 60_000);

  it("goes again on another connection when a reused one closes under the request, as k6's Go transport does; a new connection's failure is the request's", async () => {
    // Every reused connection closes under its request: each request is answered on a new one.
    const racing = await closingServer(1);
    const r = await runner(['run', '--no-summary', '--out', 'json=-', 'script.js'], { TARGET: racing.url, RATE: '40', DURATION: '1', TIMEOUT: '5' });
    expect(r.exitCode, String(r.stderr)).toBe(0);
    const agg = await parseK6Output([r.stdout + '\n']);
    expect(agg.sent).toBe(40);
    expect(agg.byStatus).toEqual({ '200': 40 });
    expect(agg.networkErrors).toEqual({});
    // Each request's answered attempt came on its own new connection; the ones before it died on reused ones.
    expect(racing.connections()).toBe(40);
    expect(racing.arrived()).toBeGreaterThan(40);
    // A new connection that closes under its request: a network error, not tried again.
    const closing = await closingServer(0);
    const failed = await runner(['run', '--no-summary', '--out', 'json=-', 'script.js'], { TARGET: closing.url, RATE: '20', DURATION: '1', TIMEOUT: '5' });
    expect(failed.exitCode, String(failed.stderr)).toBe(0);
    const errors = await parseK6Output([failed.stdout + '\n']);
    expect(errors.sent).toBe(20);
    expect(Object.values(errors.networkErrors).reduce((a, b) => a + b, 0)).toBe(20);
    expect(closing.arrived()).toBe(20);
  }, 60_000);

  it('refuses what k6 refuses: an unknown flag exits 255', async () => {
    const r = await runner(['run', '--no-such-flag', 'script.js'], {});
    expect(r.exitCode).toBe(255);
    expect(r.stderr).toContain('unknown flag: --no-such-flag');
  }, 30_000);
});
