/**
 * Waiting for a window's access logs: a node that went quiet has nothing more to deliver, and an
 * S3 endpoint that does not resolve ends the wait at once instead of spinning to the bound.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../harness/core/clock.ts';
import { listLogObjects, quietAfterMs, waitForLogs, type LogLocation } from '../../../harness/explain/fetch.ts';
import type { AccessLogStore } from '../../../harness/platform/ports.ts';

const at: LogLocation = {
  bucket: 'logs-bucket',
  prefix: 'logs',
  account: '123456789012',
  region: 'us-east-1',
  loadBalancerArn: 'arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web/0123456789abcdef',
  loadBalancerResource: 'app/web/0123456789abcdef',
  loadBalancerName: 'web',
  loadBalancerId: '0123456789abcdef',
};
const keyOf = (node: string, endMs: number) => {
  const d = new Date(endMs).toISOString();
  const stamp = `${d.slice(0, 4)}${d.slice(5, 7)}${d.slice(8, 10)}T${d.slice(11, 13)}${d.slice(14, 16)}Z`;
  return `logs/AWSLogs/${at.account}/elasticloadbalancing/${at.region}/${d.slice(0, 10).replace(/-/g, '/')}/${at.account}_elasticloadbalancing_${at.region}_app.${at.loadBalancerName}.${at.loadBalancerId}_${stamp}_${node}_abcdefgh.log.gz`;
};

/** Lists what `objects()` returns at the time of the call; each object was delivered (LastModified) at its `at`, else at its key's end. */
function store(objects: () => Array<string | { key: string; at: number }>): AccessLogStore {
  const endOf = (key: string) => {
    const m = /_(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})Z_/.exec(key)!;
    return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]));
  };
  return {
    listObjects: async (_bucket, prefix) =>
      objects()
        .map((o) => (typeof o === 'string' ? { key: o, at: endOf(o) + 20_000 } : o))
        .filter((o) => o.key.startsWith(prefix))
        .map((o) => ({ key: o.key, size: 1, lastModified: new Date(o.at).toISOString() })),
    getObject: async () => new Uint8Array(),
  };
}

const T0 = Date.UTC(2026, 11, 2, 10, 0, 0);
const MIN = 60_000;

async function waitOn(clock: ManualClock, o: Omit<Parameters<typeof waitForLogs>[0], 'clock' | 'pollMs' | 'log' | 'label' | 'location'>) {
  const lines: string[] = [];
  const done = waitForLogs({ ...o, clock, location: at, pollMs: 30_000, log: (l) => lines.push(l), label: 'cell' });
  let outcome: Awaited<typeof done> | undefined;
  void done.then((x) => (outcome = x));
  for (let i = 0; i < 200 && !outcome; i++) await clock.advance(30_000);
  return { outcome: outcome!, lines, at: clock.now() };
}

describe('waiting for the access logs of a window', () => {
  it('is complete once every node delivered past the window, or has been quiet a whole interval more', async () => {
    // Window 10:02–10:04 (objects of a 1-minute interval, as a twin may write them). Node 10.0.0.1
    // delivers its 10:05 object at 10:05:30; node 10.0.0.2 got its last request before 10:03, so
    // its last object ends at 10:03 and none ever ends past the window.
    const clock = new ManualClock(T0 + 4 * MIN);
    const start = T0 + 2 * MIN;
    const end = T0 + 4 * MIN;
    const objects = () => [
      ...(clock.now() >= T0 + 5.5 * MIN ? [keyOf('10.0.0.1', T0 + 5 * MIN)] : []),
      keyOf('10.0.0.2', T0 + 3 * MIN),
    ];
    const { outcome, at: doneAt } = await waitOn(clock, { store: store(objects), startMs: start, endMs: end, deadlineMs: T0 + 60 * MIN });
    expect(outcome.status).toBe('complete');
    expect([...outcome.nodes.keys()].sort()).toEqual(['10.0.0.1', '10.0.0.2']);
    // Node 10.0.0.2 never delivers past 10:04: the wait ends at the quiet point, 10:05 + 5 min, not at the bound.
    expect(quietAfterMs(end)).toBe(T0 + 10 * MIN);
    expect(doneAt).toBeGreaterThanOrEqual(T0 + 10 * MIN);
    expect(doneAt).toBeLessThan(T0 + 11 * MIN);
  });

  it('with intervals under a minute, goes by the delivery time: one end-time names several objects', async () => {
    // A twin delivering every 10 s names the objects of 10:05:10 … 10:06:00 all "T1006Z". The
    // window ends 10:06:00; the node's object delivered at 10:05:40 does not hold 10:05:40–10:06:00.
    const clock = new ManualClock(T0 + 5 * MIN + 45_000);
    const start = T0 + 5 * MIN;
    const end = T0 + 6 * MIN;
    const delivered = [{ key: keyOf('10.0.0.1', T0 + 6 * MIN).replace('abcdefgh', 'aaaaaaaa'), at: T0 + 5 * MIN + 40_000 }];
    const objects = () => [...delivered, ...(clock.now() >= T0 + 6 * MIN + 10_000 ? [{ key: keyOf('10.0.0.1', T0 + 6 * MIN), at: T0 + 6 * MIN + 10 }] : [])];
    const early = await listLogObjects(store(objects), at, start, end, clock.now(), 10_000);
    expect(early.nodes.get('10.0.0.1')).toBe(T0 + 5 * MIN + 40_000);
    const { outcome, at: doneAt } = await waitOn(clock, { store: store(objects), startMs: start, endMs: end, deadlineMs: T0 + 60 * MIN, intervalMs: 10_000 });
    expect(outcome.status).toBe('complete');
    expect(outcome.objects).toHaveLength(2);
    expect(doneAt).toBeGreaterThanOrEqual(T0 + 6 * MIN + 10_000);
    // A node that got nothing after 10:05:40 is done one 10 s interval after the window, not 5 minutes.
    expect(quietAfterMs(end, 10_000)).toBe(T0 + 6 * MIN + 10_000);
  });

  it('ends at once, missing, when the S3 endpoint does not resolve', async () => {
    const clock = new ManualClock(T0 + 4 * MIN);
    const refused: AccessLogStore = {
      listObjects: async () => {
        throw new Error('S3 listObjects(logs-bucket) at https://logs-bucket.s3.us-east-1.example: getaddrinfo failed', { cause: Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' }) });
      },
      getObject: async () => new Uint8Array(),
    };
    const { outcome, at: doneAt } = await waitOn(clock, { store: refused, startMs: T0, endMs: T0 + 4 * MIN, deadlineMs: T0 + 60 * MIN });
    expect(outcome.status).toBe('missing');
    expect(outcome.why).toContain('ENOTFOUND');
    expect(outcome.why).toContain('AWS_ENDPOINT_URL_S3');
    // The first listing fails, and the wait ends there (within the test's first 30 s step).
    expect(doneAt).toBeLessThanOrEqual(T0 + 4 * MIN + 30_000);
  });
});
