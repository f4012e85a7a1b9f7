/**
 * The twin's model of the network between the ALB and the pods. Loopback cannot drop packets, so
 * an address whose instance is gone is marked here, and the ALB twin's connects to it hang until
 * the connect timeout (as on AWS, where a terminated instance's IPs stop answering).
 */

/** Addresses that no longer answer. */
export class Network {
  #gone = new Set<string>();

  /** From now on, connects to `host` hang. */
  blackhole(host: string): void {
    this.#gone.add(host);
  }

  /** `host` answers again (it was given to a new pod). */
  restore(host: string): void {
    this.#gone.delete(host);
  }

  /** True when connects to `host` hang. */
  isBlackholed(host: string): boolean {
    return this.#gone.has(host);
  }
}
