// The address allocator against the real loopback: per-pod 127.0.x.y addresses, or ports on 127.0.0.1.
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { canBind, createAddressAllocator } from '../../../harness/twin/runtime/addresses.ts';
import { requirement } from '../../helpers/requirement.ts';

const servers: net.Server[] = [];

function listen(host: string, port: number): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
    servers.push(server);
  });
}

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

const perPod = requirement('per-pod loopback addresses (binding 127.0.1.1)', await canBind('127.0.1.1', 0), 'Linux routes all of 127.0.0.0/8 to lo; elsewhere add 127.0.1.1 as a loopback alias');

describe('address allocator', () => {
  it.runIf(perPod.run)('hands out sequential 127.0.x.y addresses with the containerPort', async () => {
    perPod.check();
    const allocator = await createAddressAllocator({ firstBlock: 201 });
    expect(allocator.perPodAddresses).toBe(true);
    const got = [await allocator.allocate(18080), await allocator.allocate(18080), await allocator.allocate(19090)];
    expect(got).toEqual([
      { host: '127.0.201.1', port: 18080 },
      { host: '127.0.201.2', port: 18080 },
      { host: '127.0.201.3', port: 19090 },
    ]);
    // The address really works for a listener.
    await listen(got[0].host, got[0].port);
  });

  it.runIf(perPod.run)('reuses released addresses only after the fresh ones', async () => {
    perPod.check();
    const allocator = await createAddressAllocator({ firstBlock: 202 });
    const a = await allocator.allocate(18080);
    const b = await allocator.allocate(18080);
    allocator.release(a);
    allocator.release(a); // a double release does not hand it out twice
    const c = await allocator.allocate(18080);
    expect(c.host).toBe('127.0.202.3');
    expect([a.host, b.host]).not.toContain(c.host);
  });

  it.runIf(perPod.run)('moves to the next block after 254 hosts', async () => {
    perPod.check();
    const allocator = await createAddressAllocator({ firstBlock: 203 });
    const hosts: string[] = [];
    for (let i = 0; i < 255; i++) hosts.push((await allocator.allocate(18081)).host);
    expect(hosts[253]).toBe('127.0.203.254');
    expect(hosts[254]).toBe('127.0.204.1');
    expect(new Set(hosts).size).toBe(255);
    for (const host of hosts) expect(host).toMatch(/^127\.0\.(\d+)\.(\d+)$/);
  });

  it.runIf(perPod.run)('skips an address whose port another process holds', async () => {
    perPod.check();
    await listen('127.0.205.1', 18082);
    const allocator = await createAddressAllocator({ firstBlock: 205 });
    expect(await allocator.allocate(18082)).toEqual({ host: '127.0.205.2', port: 18082 });
  });

  it('falls back to distinct free ports on 127.0.0.1', async () => {
    const allocator = await createAddressAllocator({ forcePortMode: true });
    expect(allocator.perPodAddresses).toBe(false);
    const got = await Promise.all([0, 1, 2, 3].map(() => allocator.allocate(8080)));
    for (const a of got) expect(a.host).toBe('127.0.0.1');
    expect(new Set(got.map((a) => a.port)).size).toBe(4);
    for (const a of got) await listen(a.host, a.port);
  });

  it.runIf(perPod.run)('rejects a first block outside 1..254', async () => {
    perPod.check();
    await expect(createAddressAllocator({ firstBlock: 0 })).rejects.toThrow(/Expected firstBlock to be an integer 1\.\.254, got 0/);
  });
});
