/**
 * The run's lease: judged in wall time against its duration and (on the same host) its holder's
 * process, and renewed through the injected clock on the namespace and the nodes the run marked.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../harness/core/clock.ts';
import { SafetyError } from '../../../harness/core/errors.ts';
import { LEASE_ANNOTATION, RUN_MARKER } from '../../../harness/core/labels.ts';
import { holdLease, leaseFor, leaseState, LEASE_DURATION_SECONDS, parseLease, refuseLive, RENEW_EVERY_MS, type Here } from '../../../harness/orchestrator/lease.ts';
import type { KObject, KubernetesPort, ObjectRef } from '../../../harness/platform/ports.ts';

const T0 = Date.parse('2026-12-02T22:00:00Z');
const holder: Here = { host: 'ci-1', pid: 4242, alive: () => true };
/** A reader on the holder's host, and whether the holder's process is still there. */
const sameHost = (alive: boolean): Here => ({ host: 'ci-1', pid: 7, alive: (pid) => (pid === 4242 ? alive : true) });
const otherHost: Here = { host: 'laptop', pid: 7, alive: () => false };

describe('leaseState', () => {
  const lease = leaseFor('live1', T0, holder);

  it('is live until renewTime + leaseDurationSeconds, and stale from then on', () => {
    expect(lease).toEqual({ holderIdentity: 'live1', host: 'ci-1', pid: 4242, renewTime: '2026-12-02T22:00:00.000Z', leaseDurationSeconds: LEASE_DURATION_SECONDS });
    const until = T0 + LEASE_DURATION_SECONDS * 1000;
    expect(leaseState(lease, until - 1, otherHost)).toEqual({ live: true, lease, until: new Date(until) });
    expect(leaseState(lease, until, otherHost)).toEqual({ live: false, why: `its lease expired at ${new Date(until).toISOString()}` });
  });

  it('is stale at once when its holder\'s process on this host is gone; another host cannot tell, and waits for the duration', () => {
    expect(leaseState(lease, T0 + 1000, sameHost(false))).toEqual({ live: false, why: 'its process 4242 on ci-1 is gone' });
    expect(leaseState(lease, T0 + 1000, sameHost(true)).live).toBe(true);
    expect(leaseState(lease, T0 + 1000, otherHost).live).toBe(true);
  });

  it('reads only well-formed leases back', () => {
    expect(parseLease(JSON.stringify(lease))).toEqual(lease);
    expect(parseLease(undefined)).toBeUndefined();
    expect(parseLease('{"holderIdentity":"x"}')).toBeUndefined();
    expect(parseLease('not json')).toBeUndefined();
    expect(leaseState(undefined, T0, otherHost).live).toBe(false);
  });

  it('refuses with the run, where its lease is and until when, and what to do', () => {
    const markers = [{ runId: 'old', object: 'node node-b1' }, { runId: 'live1', object: 'namespace shop', lease }];
    expect(() => refuseLive(markers, T0 + 5000, otherHost)).toThrow(SafetyError);
    expect(() => refuseLive(markers, T0 + 5000, otherHost)).toThrow(
      `The run live1 is still running (process 4242 on ci-1): its lease on namespace shop was renewed at 2026-12-02T22:00:00.000Z and holds until ${new Date(T0 + LEASE_DURATION_SECONDS * 1000).toISOString()}. Wait for it to finish, or stop it (Ctrl-C restores its settings); nothing was changed`,
    );
    expect(() => refuseLive(markers, T0 + LEASE_DURATION_SECONDS * 1000, otherHost)).not.toThrow();
  });
});

/** A namespace and two nodes whose annotations record every write, in order. */
function cluster() {
  const objects = new Map<string, KObject>([
    ['Namespace/shop', { metadata: { name: 'shop', annotations: { [RUN_MARKER]: 'live1' } } }],
    ['Node/node-a1', { metadata: { name: 'node-a1', annotations: {} } }],
    ['Node/node-b1', { metadata: { name: 'node-b1', annotations: { [RUN_MARKER]: 'live1' } } }],
  ]);
  const writes: string[] = [];
  const k8s = {
    listNodes: async () => [...objects.entries()].filter(([k]) => k.startsWith('Node/')).map(([, o]) => structuredClone(o)),
    annotate: async (ref: ObjectRef, a: Record<string, string | null>) => {
      const o = objects.get(`${ref.kind}/${ref.name}`)!;
      for (const [k, v] of Object.entries(a)) {
        if (v === null) delete o.metadata!.annotations![k];
        else o.metadata!.annotations![k] = v;
      }
      writes.push(`${ref.kind}/${ref.name}`);
      return o;
    },
  } as unknown as KubernetesPort;
  const leaseOn = (key: string) => parseLease(objects.get(key)!.metadata?.annotations?.[LEASE_ANNOTATION]);
  return { k8s, objects, writes, leaseOn };
}

describe('holdLease', () => {
  it('renews every few seconds of the wall clock it is given, on the namespace and the nodes the run marked, until stopped', async () => {
    const c = cluster();
    const clock = new ManualClock(T0);
    const held = holdLease(c.k8s, 'shop', 'live1', clock, holder, () => {});
    await clock.advance(RENEW_EVERY_MS - 1);
    expect(c.writes).toEqual([]);
    await clock.advance(1);
    expect(c.writes).toEqual(['Namespace/shop', 'Node/node-b1']);
    expect(c.leaseOn('Namespace/shop')?.renewTime).toBe(new Date(T0 + RENEW_EVERY_MS).toISOString());
    await clock.advance(RENEW_EVERY_MS);
    expect(c.leaseOn('Node/node-b1')?.renewTime).toBe(new Date(T0 + 2 * RENEW_EVERY_MS).toISOString());
    expect(c.leaseOn('Node/node-a1')).toBeUndefined();
    await held.stop();
    const count = c.writes.length;
    await clock.advance(10 * RENEW_EVERY_MS);
    expect(c.writes).toHaveLength(count);
  });

  it('leases a node as soon as it is marked, and never writes a lease on a node between its unmarking and the next renewal', async () => {
    const c = cluster();
    const clock = new ManualClock(T0);
    const held = holdLease(c.k8s, 'shop', 'live1', clock, holder, () => {});
    await held.exclusive(async () => void (c.objects.get('Node/node-a1')!.metadata!.annotations![RUN_MARKER] = 'live1'));
    expect(c.leaseOn('Node/node-a1')?.holderIdentity).toBe('live1');
    await held.exclusive(() => c.k8s.annotate({ kind: 'Node', name: 'node-a1' }, { [RUN_MARKER]: null, [LEASE_ANNOTATION]: null }));
    await clock.advance(RENEW_EVERY_MS);
    expect(c.objects.get('Node/node-a1')!.metadata?.annotations).toEqual({});
    await held.stop();
  });

  it('logs a failed renewal once and keeps trying', async () => {
    const c = cluster();
    let down = true;
    const annotate = c.k8s.annotate.bind(c.k8s);
    Object.assign(c.k8s, { annotate: async (ref: ObjectRef, a: Record<string, string | null>) => (down ? Promise.reject(new Error('503 from the API')) : annotate(ref, a)) });
    const lines: string[] = [];
    const clock = new ManualClock(T0);
    const held = holdLease(c.k8s, 'shop', 'live1', clock, holder, (l) => lines.push(l));
    await clock.advance(3 * RENEW_EVERY_MS);
    expect(lines).toEqual([`could not renew the run's lease (retrying every ${RENEW_EVERY_MS / 1000} s): 503 from the API`]);
    down = false;
    await clock.advance(RENEW_EVERY_MS);
    expect(c.leaseOn('Namespace/shop')?.renewTime).toBe(new Date(T0 + 4 * RENEW_EVERY_MS).toISOString());
    await held.stop();
  });
});
