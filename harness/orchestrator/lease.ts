/**
 * Liveness by lease, as client-go's leader election keeps a coordination.k8s.io Lease: a live run
 * writes `{ holderIdentity, renewTime, leaseDurationSeconds }` beside its marker (on the namespace
 * and on the nodes it marked) and renews it every few seconds; whoever finds a fresh lease refuses
 * instead of guessing whether the run is dead.
 *
 * Which clock: the lease is read by other processes (`restore`, `--resume`, a second run), whose
 * model clocks share nothing with the holder's (a twin's model time runs 20× faster at time scale
 * 0.05 and starts at each process's own origin). So renew time and duration are wall time, renewed
 * through the run's real-time clock, and judged against the reader's wall clock: the machines'
 * clocks are assumed synchronized (NTP); a skew of S seconds makes a lease look fresh or stale S
 * seconds early or late. A holder on the reader's own host whose process is gone (SIGKILL, a
 * second Ctrl-C) is stale at once, without waiting for the duration.
 */
import os from 'node:os';
import type { Clock, Timer } from '../core/clock.ts';
import { LEASE_ANNOTATION, RUN_MARKER } from '../core/labels.ts';
import { SafetyError } from '../core/errors.ts';
import type { KubernetesPort } from '../platform/ports.ts';

/**
 * Wall seconds a lease stays fresh after its last renewal. Longer than client-go's 15 s: taking over
 * a run that is alive but starved (a loaded CI machine) costs a measurement and the user's settings,
 * while waiting out a crashed run on another host costs a minute (on its own host, none: see above).
 */
export const LEASE_DURATION_SECONDS = 60;
/** Wall ms between renewals: five can fail or be late before the lease lapses. */
export const RENEW_EVERY_MS = 10_000;

/** A run's lease, as written in the annotation. */
export interface Lease {
  /** The run id. */
  holderIdentity: string;
  /** The host and process that hold it. */
  host: string;
  pid: number;
  /** ISO 8601, wall time. */
  renewTime: string;
  leaseDurationSeconds: number;
}

/** The process doing the reading or the holding: its host, its pid, and whether a pid on this host is alive. */
export interface Here {
  host: string;
  pid: number;
  alive(pid: number): boolean;
}

/** This process. */
export function thisProcess(): Here {
  return {
    host: os.hostname(),
    pid: process.pid,
    alive(pid) {
      try {
        process.kill(pid, 0);
        return true;
      } catch (error) {
        // EPERM: it exists but belongs to someone else.
        return (error as NodeJS.ErrnoException).code !== 'ESRCH';
      }
    },
  };
}

/** A lease renewed now (wall ms) by `here` for `runId`. */
export function leaseFor(runId: string, nowMs: number, here: Here, durationSeconds = LEASE_DURATION_SECONDS): Lease {
  return { holderIdentity: runId, host: here.host, pid: here.pid, renewTime: new Date(nowMs).toISOString(), leaseDurationSeconds: durationSeconds };
}

/** The lease in an annotation value (undefined when absent or not a lease). */
export function parseLease(text: string | undefined): Lease | undefined {
  if (!text) return undefined;
  try {
    const l = JSON.parse(text) as Partial<Lease>;
    if (typeof l.holderIdentity !== 'string' || typeof l.renewTime !== 'string' || typeof l.leaseDurationSeconds !== 'number' || Number.isNaN(Date.parse(l.renewTime))) return undefined;
    return { holderIdentity: l.holderIdentity, host: String(l.host ?? ''), pid: Number(l.pid ?? 0), renewTime: l.renewTime, leaseDurationSeconds: l.leaseDurationSeconds };
  } catch {
    return undefined;
  }
}

/** Whether a lease still holds: live until a time, or stale with why. */
export type LeaseState = { live: true; lease: Lease; until: Date } | { live: false; why: string };

/** Judges a lease at wall time `nowMs` from `here`. */
export function leaseState(lease: Lease | undefined, nowMs: number, here: Here): LeaseState {
  if (!lease) return { live: false, why: 'it holds no lease (it stopped without restoring, or predates leases)' };
  const until = Date.parse(lease.renewTime) + lease.leaseDurationSeconds * 1000;
  if (until <= nowMs) return { live: false, why: `its lease expired at ${new Date(until).toISOString()}` };
  if (lease.host === here.host && lease.pid && !here.alive(lease.pid)) return { live: false, why: `its process ${lease.pid} on ${lease.host} is gone` };
  return { live: true, lease, until: new Date(until) };
}

/** The sentence that says a run is live, and what to do. */
export function describeLive(state: { lease: Lease; until: Date }, where: string): string {
  const l = state.lease;
  return (
    `The run ${l.holderIdentity} is still running (process ${l.pid} on ${l.host}): its lease on ${where} was renewed at ${l.renewTime} and holds until ${state.until.toISOString()}. ` +
    `Wait for it to finish, or stop it (Ctrl-C restores its settings); nothing was changed`
  );
}

/**
 * Refuses (a SafetyError, exit 3) when a run whose marker is among `markers` holds a fresh lease
 * at wall time `nowMs`: it is running, so its settings must not be touched, restored or taken over.
 */
export function refuseLive(markers: readonly FoundMarker[], nowMs: number, here: Here): void {
  for (const m of markers) {
    if (!m.lease) continue;
    const state = leaseState(m.lease, nowMs, here);
    if (state.live) throw new SafetyError(describeLive(state, m.object));
  }
}

/** A held lease: renewed until `stop`. */
export interface HeldLease {
  /** Renews once now (awaited: the first write fails the run if the API does). */
  renew(): Promise<void>;
  /**
   * Runs `fn` between renewals, then renews: marking or unmarking a node never interleaves with a
   * renewal, so no lease is left on a node without the marker, and a newly marked node is leased.
   */
  exclusive<T>(fn: () => Promise<T>): Promise<T>;
  /** Stops renewing and waits for a renewal in flight, so none lands after the markers are removed. */
  stop(): Promise<void>;
}

/**
 * Holds the run's lease: writes it on the namespace and on every node carrying the run's marker,
 * then renews it every `RENEW_EVERY_MS` of `clock` (wall time). A failed renewal is logged; the
 * next one tries again.
 */
export function holdLease(k8s: KubernetesPort, namespace: string, runId: string, clock: Clock, here: Here, log: (line: string) => void): HeldLease {
  let inFlight: Promise<void> = Promise.resolve();
  let stopped = false;
  let failing = false;
  const write = async () => {
    const value = JSON.stringify(leaseFor(runId, clock.now(), here));
    await k8s.annotate({ kind: 'Namespace', name: namespace }, { [LEASE_ANNOTATION]: value });
    for (const n of await k8s.listNodes()) {
      if (n.metadata?.annotations?.[RUN_MARKER] === runId) await k8s.annotate({ kind: 'Node', name: n.metadata.name ?? '' }, { [LEASE_ANNOTATION]: value });
    }
  };
  const renew = () => {
    inFlight = inFlight.then(async () => {
      if (stopped) return;
      try {
        await write();
        failing = false;
      } catch (error) {
        if (!failing) log(`could not renew the run's lease (retrying every ${RENEW_EVERY_MS / 1000} s): ${(error as Error).message}`);
        failing = true;
      }
    });
    return inFlight;
  };
  const timer: Timer = clock.setInterval(() => void renew(), RENEW_EVERY_MS);
  const chain = <T>(fn: () => Promise<T>): Promise<T> => {
    const p = inFlight.then(fn);
    inFlight = p.then(
      () => {},
      () => {},
    );
    return p;
  };
  return {
    renew: () => chain(write),
    async exclusive(fn) {
      const result = await chain(fn);
      if (!stopped) await renew();
      return result;
    },
    async stop() {
      stopped = true;
      timer.cancel();
      await inFlight.catch(() => {});
    },
  };
}

/** A marker found on the cluster: which object carries which run's id, and the run's lease there if any. */
export interface FoundMarker {
  runId: string;
  object: string;
  lease?: Lease;
}
