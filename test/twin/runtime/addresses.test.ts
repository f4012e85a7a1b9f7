// The address allocator against the real loopback: per-pod 127.0.x.y addresses, or ports on 127.0.0.1.
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { CLAIM_PORT, canBind, createAddressAllocator, type AllocatorOptions } from '../../../harness/twin/runtime/addresses.ts';
import type { AddressAllocator } from '../../../harness/twin/runtime/types.ts';
import { startTestTwin } from '../../helpers/twin.ts';
import { requirement } from '../../helpers/requirement.ts';

const servers: net.Server[] = [];
const allocators: AddressAllocator[] = [];

/** An allocator closed after the test. */
async function allocator(opts: AllocatorOptions): Promise<AddressAllocator> {
  const a = await createAddressAllocator(opts);
  allocators.push(a);
  return a;
}

/** The block (third octet) of a 127.0.x.y address, and its host part. */
function parts(host: string): { block: number; host: number } {
  const m = /^127\.0\.(\d+)\.(\d+)$/.exec(host);
  if (!m) throw new Error(`Expected a 127.0.x.y address, got ${host}`);
  return { block: Number(m[1]), host: Number(m[2]) };
}

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
  await Promise.all(allocators.splice(0).map((a) => a.close()));
});

const perPod = requirement('per-pod loopback addresses (binding 127.0.1.1)', await canBind('127.0.1.1', 0), 'Linux routes all of 127.0.0.0/8 to lo; elsewhere add 127.0.1.1 as a loopback alias');

describe('address allocator', () => {
  it.runIf(perPod.run)('hands out sequential 127.0.x.y addresses with the containerPort', async () => {
    perPod.check();
    const a = await allocator({ firstBlock: 201 });
    expect(a.perPodAddresses).toBe(true);
    const got = [await a.allocate(18080), await a.allocate(18080), await a.allocate(19090)];
    // Block 201, or the next one no other twin on the machine holds.
    const block = parts(got[0].host).block;
    expect(block).toBeGreaterThanOrEqual(201);
    expect(got).toEqual([
      { host: `127.0.${block}.1`, port: 18080 },
      { host: `127.0.${block}.2`, port: 18080 },
      { host: `127.0.${block}.3`, port: 19090 },
    ]);
    // The address really works for a listener.
    await listen(got[0].host, got[0].port);
  });

  it.runIf(perPod.run)('reuses released addresses only after the fresh ones', async () => {
    perPod.check();
    const allocator = await createAddressAllocator({ firstBlock: 202 });
    allocators.push(allocator);
    const a = await allocator.allocate(18080);
    const b = await allocator.allocate(18080);
    allocator.release(a);
    allocator.release(a); // a double release does not hand it out twice
    const c = await allocator.allocate(18080);
    expect(c.host).toBe(`127.0.${parts(a.host).block}.3`);
    expect([a.host, b.host]).not.toContain(c.host);
  });

  it.runIf(perPod.run)('moves to the next block after 254 hosts', async () => {
    perPod.check();
    const allocator = await createAddressAllocator({ firstBlock: 203 });
    allocators.push(allocator);
    const hosts: string[] = [];
    for (let i = 0; i < 255; i++) hosts.push((await allocator.allocate(18081)).host);
    const first = parts(hosts[0]).block;
    expect(hosts[253]).toBe(`127.0.${first}.254`);
    expect(parts(hosts[254]).block).toBeGreaterThan(first);
    expect(parts(hosts[254]).host).toBe(1);
    expect(new Set(hosts).size).toBe(255);
    for (const host of hosts) expect(host).toMatch(/^127\.0\.(\d+)\.(\d+)$/);
  });

  it.runIf(perPod.run)('skips an address whose port another process holds', async () => {
    perPod.check();
    const allocator = await createAddressAllocator({ firstBlock: 205 });
    allocators.push(allocator);
    const first = await allocator.allocate(18082);
    const block = parts(first.host).block;
    await listen(`127.0.${block}.2`, 18082);
    expect(await allocator.allocate(18082)).toEqual({ host: `127.0.${block}.3`, port: 18082 });
  });

  it.runIf(perPod.run)('never shares a block with another twin on the machine, and gives its blocks back on close', async () => {
    perPod.check();
    // Two twins whose PIDs pick the same first block: the second takes the next free one, so an
    // address one twin's pod left (its load balancer may still route there) is never the other's.
    const one = await allocator({ firstBlock: 210 });
    const two = await allocator({ firstBlock: 210 });
    const [a, b] = await Promise.all([one.allocate(18083), two.allocate(18083)]);
    expect(parts(b.host).block).not.toBe(parts(a.host).block);
    // The claim is a real listener on the block's .0 address, as a second process would meet it.
    expect(await canBind(`127.0.${parts(a.host).block}.0`, CLAIM_PORT)).toBe(false);
    // Concurrent allocations of one twin share its block without handing out an address twice.
    const many = await Promise.all([0, 1, 2, 3, 4].map(() => one.allocate(18083)));
    expect(new Set([a, ...many].map((x) => x.host)).size).toBe(6);
    for (const x of many) expect(parts(x.host).block).toBe(parts(a.host).block);
    await one.close();
    expect(await canBind(`127.0.${parts(a.host).block}.0`, CLAIM_PORT)).toBe(true);
    const three = await allocator({ firstBlock: parts(a.host).block });
    expect(parts((await three.allocate(18083)).host).block).toBe(parts(a.host).block);
  });

  it.runIf(perPod.run)('takes blocks unclaimed when another program holds the claim port on every address', async () => {
    perPod.check();
    // A port of our own for the claims: the real one stays free for the twins of other test files.
    const wildcard = await listen('0.0.0.0', 0);
    const port = (wildcard.address() as net.AddressInfo).port;
    const a = await allocator({ firstBlock: 220, claimPort: port });
    const got = await a.allocate(18084);
    expect(parts(got.host).block).toBe(220);
    expect(got.port).toBe(18084);
  });

  it.runIf(perPod.run)('a twin holds its pods\' blocks while it runs and gives them back when it stops', async () => {
    perPod.check();
    const h = await startTestTwin({});
    let claims: string[] = [];
    try {
      await h.waitSteady();
      const ips = (await h.k8s.listPods('shop', 'app=web')).map((p) => p.status?.podIP).filter((ip): ip is string => !!ip);
      claims = [...new Set(ips.map((ip) => `127.0.${parts(ip).block}.0`))];
      expect(claims.length).toBeGreaterThan(0);
      for (const claim of claims) expect(await canBind(claim, CLAIM_PORT), claim).toBe(false);
    } finally {
      await h.stop();
    }
    for (const claim of claims) expect(await canBind(claim, CLAIM_PORT), claim).toBe(true);
  });

  it('falls back to distinct free ports on 127.0.0.1', async () => {
    const allocator = await createAddressAllocator({ forcePortMode: true });
    allocators.push(allocator);
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
