/**
 * The twin's model of the network between the ALB and the pods. Loopback cannot drop packets, so
 * an address whose instance is gone is marked here, and the ALB twin's connects to it hang until
 * the connect timeout (as on AWS, where a terminated instance's IPs stop answering).
 *
 * What is black-holed is a pod's own address, never a range: with one loopback IP per pod that is
 * the IP (every port), and where pods share 127.0.0.1 and differ by port (macOS without aliases)
 * it is that host and port alone — marking 127.0.0.1 itself would silence every pod of the twin,
 * the ones on other nodes and on the replacement node included.
 */

/** Addresses that no longer answer. */
export class Network {
  #gone = new Set<string>();

  /** From now on, connects to `host` hang; with `port`, only connects to that port of `host`. */
  blackhole(host: string, port?: number): void {
    this.#gone.add(keyOf(host, port));
  }

  /** The address answers again (it was given to a new pod); `port` as in `blackhole`. */
  restore(host: string, port?: number): void {
    this.#gone.delete(keyOf(host, port));
  }

  /** True when connects to `host` (on `port`, when given) hang. */
  isBlackholed(host: string, port?: number): boolean {
    return this.#gone.has(host) || (port !== undefined && this.#gone.has(keyOf(host, port)));
  }
}

function keyOf(host: string, port: number | undefined): string {
  return port === undefined ? host : `${host}:${port}`;
}
