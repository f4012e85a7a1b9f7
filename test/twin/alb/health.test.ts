import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { scaledClock } from '../../../harness/core/clock.ts';
import { httpProbe } from '../../../harness/twin/alb/health.ts';
import { Network } from '../../../harness/twin/network.ts';

const servers: http.Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => (s.closeAllConnections(), s.close(r)))));
});

async function serve(host: string, handler: http.RequestListener): Promise<number> {
  const server = http.createServer(handler);
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, host, r));
  return (server.address() as AddressInfo).port;
}

describe('httpProbe (real HTTP health checks)', () => {
  const clock = scaledClock(0.05);

  it('reports the status, with the path asked and the ELB user agent', async () => {
    const seen: string[] = [];
    const port = await serve('127.0.51.1', (req, res) => {
      seen.push(`${req.url} ${req.headers['user-agent']}`);
      res.writeHead(req.url === '/healthz' ? 200 : 404).end();
    });
    const probe = httpProbe({ clock, network: new Network() });
    expect(await probe({ host: '127.0.51.1', port, path: '/healthz' }, 5000)).toEqual({ kind: 'status', status: 200 });
    expect(await probe({ host: '127.0.51.1', port, path: '/other' }, 5000)).toEqual({ kind: 'status', status: 404 });
    expect(seen).toEqual(['/healthz ELB-HealthChecker/2.0', '/other ELB-HealthChecker/2.0']);
  });

  it('reports a refused connect as an error', async () => {
    const port = await serve('127.0.51.2', (_req, res) => res.end());
    const probe = httpProbe({ clock, network: new Network() });
    const result = await probe({ host: '127.0.51.3', port, path: '/healthz' }, 5000);
    expect(result).toEqual({ kind: 'error', detail: 'ECONNREFUSED' });
  });

  it('times out after the check timeout (model time) when the target does not answer', async () => {
    const port = await serve('127.0.51.4', () => undefined);
    const probe = httpProbe({ clock, network: new Network() });
    const started = clock.now();
    // 8 model s = 400 real ms: above the 250 real ms floor.
    expect(await probe({ host: '127.0.51.4', port, path: '/healthz' }, 8000)).toEqual({ kind: 'timeout' });
    expect(clock.now() - started).toBeGreaterThanOrEqual(7900);
    expect(clock.now() - started).toBeLessThan(12_000);
  });

  it('never times out sooner than 250 real ms, whatever the time scale', async () => {
    const port = await serve('127.0.51.6', () => undefined);
    const probe = httpProbe({ clock, network: new Network() });
    const started = clock.now();
    expect(await probe({ host: '127.0.51.6', port, path: '/healthz' }, 1000)).toEqual({ kind: 'timeout' });
    expect(clock.toRealMs(clock.now() - started)).toBeGreaterThanOrEqual(245);
  });

  it('times out on a blackholed host without connecting', async () => {
    let connections = 0;
    const port = await serve('127.0.51.5', (_req, res) => res.end());
    servers[0].on('connection', () => connections++);
    const network = new Network();
    network.blackhole('127.0.51.5');
    const probe = httpProbe({ clock, network });
    const started = clock.now();
    expect(await probe({ host: '127.0.51.5', port, path: '/healthz' }, 2000)).toEqual({ kind: 'timeout' });
    expect(clock.now() - started).toBeGreaterThanOrEqual(1900);
    expect(connections).toBe(0);
  });
});
