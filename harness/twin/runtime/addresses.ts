/**
 * Pod addresses. On Linux all of 127.0.0.0/8 is local, so each pod gets its own 127.0.x.y and
 * listens on its real containerPort, as on EKS (one IP per pod). Where only 127.0.0.1 exists
 * (macOS without aliases), each pod gets a distinct free port on 127.0.0.1 instead, and the
 * kubelet twin tells the load balancer controller twin about the port with an annotation.
 * Nothing outside 127.0.0.0/8 is ever handed out.
 *
 * Twins running side by side on one machine (a CI runner's test workers, two `twin up`) never share
 * a block of 254 addresses: each claims its blocks by listening on the block's `.0` address at
 * CLAIM_PORT, and skips a block another twin holds. Without it, two twins that picked the same
 * block handed out the same addresses, and when one twin's pod exited, the other's new pod could
 * take its address while the first twin's load balancer still routed there: its requests reached
 * the other twin's pod instead of being refused. Where another program listens on CLAIM_PORT on
 * every address, no claim can be made and blocks are taken unclaimed.
 */
import net from 'node:net';
import type { AddressAllocator, PodAddress } from './types.ts';

/** Options of the allocator. */
export interface AllocatorOptions {
  /**
   * First third octet of the 127.x.y.z range, 1..254. Concurrent twins on one machine start at
   * different blocks so their addresses rarely meet; the default is derived from the PID.
   */
  firstBlock?: number;
  /** Forces the fallback (distinct ports on 127.0.0.1), e.g. to test it on Linux. */
  forcePortMode?: boolean;
  /** The port of the block claims (default CLAIM_PORT; tests use another). */
  claimPort?: number;
}

/** Binds host:port and closes again: whether a process could listen there now. */
export function canBind(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen({ host, port: 0, exclusive: true }, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

const BLOCKS = 254;
const HOSTS_PER_BLOCK = 254;
/** The port a twin listens on at `127.0.<block>.0` while it holds the block (pods get .1 to .254 only). */
export const CLAIM_PORT = 47_254;

/** Claims block `block` for this process: a listener on its `.0` address, or undefined when another twin holds it. */
function claimBlock(block: number, port: number): Promise<net.Server | undefined> {
  return new Promise((resolve) => {
    const server = net.createServer((socket) => socket.destroy());
    server.once('error', () => resolve(undefined));
    server.listen({ host: `127.0.${block}.0`, port, exclusive: true }, () => {
      // The claim must not keep a process alive; the kernel frees it when the process ends.
      server.unref();
      resolve(server);
    });
  });
}

/** Probes the loopback range once and returns an allocator for it. */
export async function createAddressAllocator(opts: AllocatorOptions = {}): Promise<AddressAllocator> {
  const perPod = !opts.forcePortMode && (await canBind('127.0.1.1', 0));
  if (!perPod) {
    const inUse = new Set<number>();
    return {
      perPodAddresses: false,
      async allocate() {
        for (let attempt = 0; attempt < 100; attempt++) {
          const port = await freePort('127.0.0.1');
          if (!inUse.has(port)) {
            inUse.add(port);
            return { host: '127.0.0.1', port };
          }
        }
        throw new Error('Expected a free port on 127.0.0.1, got only ports already handed out after 100 tries');
      },
      release(address) {
        inUse.delete(address.port);
      },
      async close() {},
    };
  }

  const first = opts.firstBlock ?? 1 + (process.pid % BLOCKS);
  if (!Number.isInteger(first) || first < 1 || first > BLOCKS) {
    throw new RangeError(`Expected firstBlock to be an integer 1..${BLOCKS}, got ${String(first)}`);
  }
  const claimPort = opts.claimPort ?? CLAIM_PORT;
  // A process listening on the claim port on every address (0.0.0.0) would make every claim fail:
  // then blocks are taken unclaimed, as before claims (127.0.255.0 is no block's, so no twin holds it).
  const claimsWork = await canBind('127.0.255.0', claimPort);
  // The blocks this allocator holds, in the order it took them, each with its claim and next fresh host.
  const claims = new Map<number, net.Server | undefined>();
  let block: number | undefined;
  let nextHost = 1;
  let tried = 0;
  let exhausted = false;
  // One claim at a time: concurrent allocations wait for the same block.
  let claiming: Promise<void> | undefined;
  // Fresh addresses first; released ones are reused last, so an address that just left a
  // target group (and may still be blackholed or draining) is not handed out again soon.
  const released: string[] = [];
  const taken = new Set<string>();
  let closed = false;

  /** The next block no other twin on this machine holds, claimed; undefined once all were tried. */
  async function claimNextBlock(): Promise<number | undefined> {
    while (tried < BLOCKS && !closed) {
      const candidate = ((first - 1 + tried++) % BLOCKS) + 1;
      if (!claimsWork) {
        claims.set(candidate, undefined);
        return candidate;
      }
      const claim = await claimBlock(candidate, claimPort);
      if (claim) {
        claims.set(candidate, claim);
        return candidate;
      }
    }
    return undefined;
  }

  /** The next fresh host of the blocks this allocator holds, claiming another block when one is used up. */
  async function freshHost(): Promise<string | undefined> {
    while (block === undefined || nextHost > HOSTS_PER_BLOCK) {
      if (exhausted) return undefined;
      claiming ??= claimNextBlock()
        .then((next) => {
          if (next === undefined) exhausted = true;
          else [block, nextHost] = [next, 1];
        })
        .finally(() => (claiming = undefined));
      await claiming;
    }
    return `127.0.${block}.${nextHost++}`;
  }

  return {
    perPodAddresses: true,
    async allocate(containerPort) {
      const busy: string[] = [];
      try {
        for (;;) {
          const host = (await freshHost()) ?? released.shift();
          if (host === undefined) break;
          // Another process (e.g. a second twin) may hold this address and port.
          if (await canBind(host, containerPort)) {
            taken.add(host);
            return { host, port: containerPort } satisfies PodAddress;
          }
          busy.push(host);
        }
      } finally {
        released.push(...busy);
      }
      throw new Error(`Expected a free address in 127.0.1.1-127.0.254.254 for port ${containerPort}, got none: every address of the blocks this twin holds (${[...claims.keys()].join(', ') || 'none'}) is in use at that port, and other twins on this machine hold the other blocks`);
    },
    release(address) {
      if (!taken.delete(address.host)) return;
      released.push(address.host);
    },
    async close() {
      closed = true;
      await Promise.all([...claims.values()].map((c) => c && new Promise((resolve) => c.close(resolve))));
      claims.clear();
    },
  };
}
