/**
 * Pod addresses. On Linux all of 127.0.0.0/8 is local, so each pod gets its own 127.0.x.y and
 * listens on its real containerPort, as on EKS (one IP per pod). Where only 127.0.0.1 exists
 * (macOS without aliases), each pod gets a distinct free port on 127.0.0.1 instead, and the
 * kubelet twin tells the load balancer controller twin about the port with an annotation.
 * Nothing outside 127.0.0.0/8 is ever handed out.
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
    };
  }

  const first = opts.firstBlock ?? 1 + (process.pid % BLOCKS);
  if (!Number.isInteger(first) || first < 1 || first > BLOCKS) {
    throw new RangeError(`Expected firstBlock to be an integer 1..${BLOCKS}, got ${String(first)}`);
  }
  const total = BLOCKS * HOSTS_PER_BLOCK;
  let nextIndex = 0;
  // Fresh addresses first; released ones are reused last, so an address that just left a
  // target group (and may still be blackholed or draining) is not handed out again soon.
  const released: string[] = [];
  const taken = new Set<string>();
  const hostAt = (index: number) => {
    const block = ((first - 1 + Math.floor(index / HOSTS_PER_BLOCK)) % BLOCKS) + 1;
    return `127.0.${block}.${(index % HOSTS_PER_BLOCK) + 1}`;
  };

  return {
    perPodAddresses: true,
    async allocate(containerPort) {
      const busy: string[] = [];
      try {
        for (let attempt = 0; attempt < total; attempt++) {
          const host = nextIndex < total ? hostAt(nextIndex++) : released.shift();
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
      throw new Error(`Expected a free address in 127.0.1.1-127.0.254.254 for port ${containerPort}, got none`);
    },
    release(address) {
      if (!taken.delete(address.host)) return;
      released.push(address.host);
    },
  };
}
