import { describe, expect, it } from 'vitest';
import v8 from 'node:v8';
import vm from 'node:vm';
import { InFlight, RequestLedger, SendOrder, seriesOf } from '../../../../harness/traffic/builtin/ledger.ts';
import { RequestTimings } from '../../../../harness/traffic/timing.ts';

const T0 = 1_700_000_000_000;

/** A request of `ledger` sent at T0 + `at` ms, recorded when it ends at `endedAt` (T0-relative). */
function requestOf(ledger: RequestLedger, at: number, endedAt: number, path = '/') {
  const finishes: { status: number | undefined; error: string | undefined }[] = [];
  const request = new InFlight(T0 + at, path, (r, status, error) => {
    finishes.push({ status, error });
    ledger.record(r, T0 + endedAt, status, error);
  });
  return { request, finishes };
}

/** Stands in for undici giving the request a connection: returns what the driver's aborts were called with. */
function connect(request: InFlight): (Error | undefined)[] {
  const aborts: (Error | undefined)[] = [];
  request.onConnect((reason) => void aborts.push(reason));
  return aborts;
}

describe('RequestLedger', () => {
  it('gives back every fact of every request: send time, duration, status, network error code, cut at the stop', () => {
    const ledger = new RequestLedger();
    ledger.answered(T0 + 10, T0 + 15, '/', 200);
    ledger.answered(T0 + 20, T0 + 60, '/a', 502);
    ledger.answered(T0 + 1500, T0 + 1502, '/', 404);
    ledger.failed(T0 + 1600, T0 + 1700, '/b', 'ECONNRESET');
    ledger.failed(T0 + 3100, T0 + 4100, '/', 'timeout');
    ledger.cut(T0 + 3900);
    ledger.cut(T0 + 3800);
    const counts = ledger.counts(T0);
    expect([...counts.timings.sentAt]).toEqual([10, 20, 1500, 1600, 3100].map((t) => T0 + t));
    expect([...counts.timings.durations]).toEqual([5, 40, 2, 100, 1000]);
    expect([...counts.timings.statuses]).toEqual([200, 502, 404, 0, 0]);
    expect(counts.byStatus).toEqual({ 200: 1, 404: 1, 502: 1 });
    expect(counts.networkErrors).toEqual({ ECONNRESET: 1, timeout: 1 });
    expect(counts.cutAtStop).toEqual({ count: 2, sentAt: [T0 + 3800, T0 + 3900] });
    expect(counts.failures).toEqual([
      { sentAt: T0 + 20, endedAt: T0 + 60, path: '/a', status: 502 },
      { sentAt: T0 + 1500, endedAt: T0 + 1502, path: '/', status: 404 },
      { sentAt: T0 + 1600, endedAt: T0 + 1700, path: '/b', error: 'ECONNRESET' },
      { sentAt: T0 + 3100, endedAt: T0 + 4100, path: '/', error: 'timeout' },
    ]);
    // Second 2 had no finished request and is there, empty; the cut requests are in no second.
    expect(counts.series).toEqual([
      { second: 0, byStatus: { 200: 1, 502: 1 }, networkErrors: 0 },
      { second: 1, byStatus: { 404: 1 }, networkErrors: 1 },
      { second: 2, byStatus: {}, networkErrors: 0 },
      { second: 3, byStatus: {}, networkErrors: 1 },
    ]);
    expect(ledger.progress).toEqual({ sent: 0, fiveXX: 1, networkErrors: 2 });
  });

  it('keeps counts exact past the bounds of the failure and cut lists', () => {
    const ledger = new RequestLedger(1, 1);
    ledger.answered(T0, T0 + 1, '/', 503);
    ledger.failed(T0, T0 + 1, '/', 'ECONNREFUSED');
    ledger.cut(T0 + 7);
    ledger.cut(T0 + 5);
    const counts = ledger.counts(T0);
    expect(counts.failures).toEqual([{ sentAt: T0, endedAt: T0 + 1, path: '/', status: 503 }]);
    expect(counts.networkErrors).toEqual({ ECONNREFUSED: 1 });
    expect(counts.cutAtStop).toEqual({ count: 2, sentAt: [T0 + 7] });
  });
});

describe('seriesOf', () => {
  it('buckets by send second from the start, a send before the start in second 0', () => {
    const timings = new RequestTimings();
    timings.add(T0 - 3, 1, 200);
    timings.add(T0 + 999.9, 1, 0);
    timings.add(T0 + 1000, 1, 200);
    expect(seriesOf(timings, T0)).toEqual([
      { second: 0, byStatus: { 200: 1 }, networkErrors: 1 },
      { second: 1, byStatus: { 200: 1 }, networkErrors: 0 },
    ]);
    expect(seriesOf(new RequestTimings(), T0)).toEqual([]);
  });
});

describe('InFlight', () => {
  it('reports the status once the whole body is in, and never twice', () => {
    const ledger = new RequestLedger();
    const { request, finishes } = requestOf(ledger, 0, 30);
    expect(connect(request)).toEqual([]);
    expect(request.onHeaders(503)).toBe(true);
    expect(request.onData()).toBe(true);
    expect(finishes).toEqual([]);
    request.onComplete();
    request.onError(Object.assign(new Error('late'), { code: 'UND_ERR_SOCKET' }));
    request.end('cut');
    expect(finishes).toEqual([{ status: 503, error: undefined }]);
    expect(ledger.counts(T0)).toMatchObject({ byStatus: { 503: 1 }, networkErrors: {}, cutAtStop: { count: 0, sentAt: [] } });
  });

  it('reports a network error by its code, or its name without one', () => {
    const ledger = new RequestLedger();
    const reset = requestOf(ledger, 0, 5);
    connect(reset.request);
    reset.request.onHeaders(200);
    // The body was cut off: an error after the headers is a network error, not a 200.
    reset.request.onError(Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }));
    const named = requestOf(ledger, 1, 6);
    named.request.onError(new TypeError('bad'));
    expect(ledger.counts(T0).networkErrors).toEqual({ UND_ERR_SOCKET: 1, TypeError: 1 });
    expect(ledger.counts(T0).byStatus).toEqual({});
  });

  it('times out on its connection at once, and one still waiting for a connection as soon as it gets one', () => {
    const ledger = new RequestLedger();
    const connected = requestOf(ledger, 0, 1000);
    const aborts = connect(connected.request);
    connected.request.end('timeout');
    expect(aborts.map((e) => e?.message)).toEqual(['timeout']);
    connected.request.onError(new Error('aborted'));
    const queued = requestOf(ledger, 1, 1001);
    queued.request.end('timeout');
    expect(queued.finishes).toEqual([]);
    expect(connect(queued.request).map((e) => e?.message)).toEqual(['timeout']);
    queued.request.onError(new Error('aborted'));
    const counts = ledger.counts(T0);
    expect(counts.networkErrors).toEqual({ timeout: 2 });
    expect([...counts.timings.durations]).toEqual([1000, 1000]);
    expect(counts.cutAtStop.count).toBe(0);
  });

  it('counts a request cut at the stop as cut, also when its answer comes after the stop or it had timed out before', () => {
    const ledger = new RequestLedger();
    const inFlight = requestOf(ledger, 100, 600);
    const aborts = connect(inFlight.request);
    inFlight.request.end('cut');
    expect(aborts.map((e) => e?.message)).toEqual(['cut at the stop']);
    // The answer raced the cancel and came in after the stop: still cut, not a 200.
    inFlight.request.onHeaders(200);
    inFlight.request.onComplete();
    const timedOutThenCut = requestOf(ledger, 50, 600);
    timedOutThenCut.request.end('timeout');
    timedOutThenCut.request.end('cut');
    expect(connect(timedOutThenCut.request).map((e) => e?.message)).toEqual(['cut at the stop']);
    timedOutThenCut.request.onError(new Error('aborted'));
    const counts = ledger.counts(T0);
    expect(counts.cutAtStop).toEqual({ count: 2, sentAt: [T0 + 50, T0 + 100] });
    expect(counts.byStatus).toEqual({});
    expect(counts.networkErrors).toEqual({});
    expect(counts.timings.count).toBe(0);
    expect(counts.series).toEqual([]);
  });
});

describe('InFlight and undici\'s abort', () => {
  it('lets go of undici\'s abort once it has finished, however it finished: answered, network error, timeout (on a connection or waiting for one), cut, answered after the stop', () => {
    const ledger = new RequestLedger();
    const answered = requestOf(ledger, 0, 5);
    connect(answered.request);
    expect(answered.request.abort).toBeTypeOf('function');
    answered.request.onHeaders(200);
    answered.request.onComplete();
    expect(answered.request.abort).toBeUndefined();
    const failed = requestOf(ledger, 1, 6);
    connect(failed.request);
    failed.request.onError(Object.assign(new Error('reset'), { code: 'ECONNRESET' }));
    expect(failed.request.abort).toBeUndefined();
    const cut = requestOf(ledger, 2, 7);
    const aborts = connect(cut.request);
    cut.request.end('cut');
    expect(aborts).toHaveLength(1);
    cut.request.onError(new Error('aborted'));
    expect(cut.request.abort).toBeUndefined();
    // Finished: a later end is a no-op, not a call of a released abort.
    cut.request.end('timeout');
    expect(aborts).toHaveLength(1);
    const timedOut = requestOf(ledger, 3, 1003);
    connect(timedOut.request);
    timedOut.request.end('timeout');
    timedOut.request.onError(new Error('aborted'));
    expect(timedOut.request.abort).toBeUndefined();
    // Timed out while waiting for a connection: aborted as it gets one, and never holds undici's abort.
    const queued = requestOf(ledger, 4, 1004);
    queued.request.end('timeout');
    expect(connect(queued.request)).toHaveLength(1);
    expect(queued.request.abort).toBeUndefined();
    queued.request.onError(new Error('aborted'));
    const answeredAfterStop = requestOf(ledger, 5, 8);
    connect(answeredAfterStop.request);
    answeredAfterStop.request.end('cut');
    answeredAfterStop.request.onHeaders(200);
    answeredAfterStop.request.onComplete();
    expect(answeredAfterStop.request.abort).toBeUndefined();
    expect([answered, failed, cut, timedOut, queued, answeredAfterStop].map((r) => r.finishes.length)).toEqual([1, 1, 1, 1, 1, 1]);
    const counts = ledger.counts(T0);
    expect(counts.byStatus).toEqual({ 200: 1 });
    expect(counts.networkErrors).toEqual({ ECONNRESET: 1, timeout: 2 });
    expect(counts.cutAtStop).toEqual({ count: 2, sentAt: [T0 + 2, T0 + 5] });
  });
});

describe('SendOrder', () => {
  const ledger = new RequestLedger();
  const sent = (at: number) => requestOf(ledger, at, at).request;

  it('gives the requests back oldest first, and nothing when empty', () => {
    const order = new SendOrder();
    expect(order.size).toBe(0);
    expect(order.oldest()).toBeUndefined();
    order.shift();
    expect(order.size).toBe(0);
    const [a, b, c] = [sent(0), sent(1), sent(2)];
    order.push(a);
    order.push(b);
    order.push(c);
    expect(order.size).toBe(3);
    expect(order.oldest()).toBe(a);
    expect(order.toArray()).toEqual([a, b, c]);
    order.shift();
    expect(order.oldest()).toBe(b);
    expect(order.toArray()).toEqual([b, c]);
    order.shift();
    order.shift();
    expect(order.size).toBe(0);
    expect(order.oldest()).toBeUndefined();
    expect(order.toArray()).toEqual([]);
  });

  it('keeps the order across the end of the ring and when it grows while wrapped', () => {
    const order = new SendOrder();
    const all = Array.from({ length: 5000 }, (_, i) => sent(i));
    let next = 0;
    let oldest = 0;
    // Runs of pushes and shifts that wrap the ring several times, then grow it past 1024 and 2048 while its head is not at 0.
    for (const [push, shift] of [[700, 600], [800, 700], [900, 1000], [1500, 100], [1100, 1000]]) {
      for (let i = 0; i < push; i++) order.push(all[next++]);
      for (let i = 0; i < shift; i++) {
        expect(order.oldest()).toBe(all[oldest++]);
        order.shift();
      }
      expect(order.size).toBe(next - oldest);
    }
    expect(order.toArray()).toEqual(all.slice(oldest, next));
  });

  it('holds no request that has left it, so it can be collected', async () => {
    // A finished request kept alive by the queue outlives the young generation (and undici's objects behind it).
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const order = new SendOrder();
    const refs: WeakRef<InFlight>[] = [];
    (() => {
      for (let i = 0; i < 3; i++) {
        const request = sent(i);
        refs.push(new WeakRef(request));
        order.push(request);
      }
    })();
    order.shift();
    order.shift();
    // WeakRefs hold their targets until the current job ends.
    await new Promise((resolve) => setImmediate(resolve));
    gc();
    expect(refs.map((r) => r.deref() === undefined)).toEqual([true, true, false]);
    expect(order.size).toBe(1);
  });
});
