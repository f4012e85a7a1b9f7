import { gunzipSync, inflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../../harness/core/clock.ts';
import { seededRandom } from '../../../../harness/core/random.ts';
import type { AlbLogEntry } from '../../../../harness/twin/alb/alb-log.ts';
import { AccessLogDelivery, GzipBuilder } from '../../../../harness/twin/alb/log-delivery.ts';
import { S3Store } from '../../../../harness/twin/aws/s3.ts';

const LB = 'arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web/0123456789abcdef';
const T0 = Date.parse('2025-03-01T10:00:00Z');

function entry(time: number, n: number): AlbLogEntry {
  return {
    time,
    elb: 'app/web/0123456789abcdef',
    client: '127.0.0.1:40000',
    target: '127.0.1.1:8080',
    requestProcessingTime: 0,
    targetProcessingTime: 0.001,
    responseProcessingTime: 0,
    elbStatusCode: 200,
    targetStatusCode: 200,
    receivedBytes: 80,
    sentBytes: 120,
    request: `GET http://127.0.0.1:80/${n} HTTP/1.1`,
    userAgent: 'test',
    targetGroupArn: 'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/tg/0123456789abcdef',
    traceId: `Root=1-00000000-${String(n).padStart(24, '0')}`,
    requestCreationTime: time - 1,
    connTraceId: 'TID_' + '0'.repeat(32),
  };
}

function setup() {
  const clock = new ManualClock(T0);
  const store = new S3Store({ clock, buckets: ['logs'] });
  const delivery = new AccessLogDelivery({ clock, random: seededRandom(1), sink: store, account: '123456789012', region: 'us-east-1', intervalSeconds: 300 });
  delivery.register(LB, 'app/web/0123456789abcdef', new Map([['us-east-1a', '10.0.1.5'], ['us-east-1b', '10.0.2.6']]));
  const logKeys = () => store.list('logs', { prefix: 'p/AWSLogs/123456789012/elasticloadbalancing/', maxKeys: 1000 }).contents.map((o) => o.key);
  const lines = async (key: string) => gunzipSync((await store.get('logs', key))!.body).toString('utf8').trim().split('\n');
  return { clock, store, delivery, logKeys, lines };
}

describe('access-log delivery', () => {
  it('writes nothing while logging is disabled (the default)', async () => {
    const { clock, delivery, store } = setup();
    delivery.add(LB, 'us-east-1a', entry(clock.now(), 1));
    await clock.advance(600_000);
    expect(store.list('logs', { maxKeys: 1000 }).contents).toEqual([]);
  });

  it('writes one gzip object per LB node at the end of each 5-minute interval, named as documented, and none for empty intervals', async () => {
    const { clock, delivery, store, logKeys, lines } = setup();
    delivery.configure(LB, { enabled: true, bucket: 'logs', prefix: 'p' });
    expect(store.head('logs', 'p/AWSLogs/123456789012/ELBAccessLogTestFile')).toBeDefined();
    await clock.advance(60_000);
    delivery.add(LB, 'us-east-1a', entry(clock.now(), 1));
    delivery.add(LB, 'us-east-1b', entry(clock.now(), 2));
    delivery.add(LB, 'us-east-1a', entry(clock.now() + 10, 3));
    await clock.advance(238_000);
    expect(logKeys()).toEqual([]);
    await clock.advance(2_000);
    const keys = logKeys();
    expect(keys).toHaveLength(2);
    for (const key of keys) {
      expect(key).toMatch(/^p\/AWSLogs\/123456789012\/elasticloadbalancing\/us-east-1\/2025\/03\/01\/123456789012_elasticloadbalancing_us-east-1_app\.web\.0123456789abcdef_20250301T1005Z_10\.0\.[12]\.[56]_[a-z0-9]{8}\.log\.gz$/);
    }
    const a = keys.find((k) => k.includes('_10.0.1.5_'))!;
    expect((await lines(a)).map((l) => l.split(' ')[12])).toEqual(['"GET', '"GET']);
    expect((await lines(a)).map((l) => /http:\/\/127\.0\.0\.1:80\/(\d)/.exec(l)![1])).toEqual(['1', '3']);
    // A quiet interval writes no file.
    await clock.advance(600_000);
    expect(logKeys()).toHaveLength(2);
    delivery.add(LB, 'us-east-1b', entry(clock.now(), 4));
    await clock.advance(300_000);
    expect(logKeys()).toHaveLength(3);
  });

  it('delivers the open interval on flush (twin shutdown) and refuses entries once closed', async () => {
    const { clock, delivery, logKeys } = setup();
    delivery.configure(LB, { enabled: true, bucket: 'logs', prefix: 'p' });
    delivery.add(LB, 'us-east-1a', entry(clock.now() + 1000, 1));
    delivery.close();
    expect(logKeys()).toHaveLength(1);
    expect(logKeys()[0]).toContain('_20250301T1005Z_');
    delivery.add(LB, 'us-east-1a', entry(clock.now() + 2000, 2));
    await clock.advance(600_000);
    expect(logKeys()).toHaveLength(1);
    expect(delivery.delivered).toBe(1);
  });
});

describe('a log file compressed while its interval runs', () => {
  it('is one gzip member holding every line in order, across many slices and multi-byte text', () => {
    // 4 KB slices: dozens of them.
    const builder = new GzipBuilder(4096);
    // Every 1000th line is longer than a slice.
    const lines = Array.from({ length: 5000 }, (_, i) => `line ${i} ${'é€'.repeat(i % 40)} ${'x'.repeat(i % 1000 ? i % 97 : 5000)}`);
    for (const line of lines) builder.addLine(line);
    const body = builder.finish();
    // gunzip checks the trailer's CRC-32 and length; one member: a 10-byte header, one deflate stream, an 8-byte trailer.
    expect(gunzipSync(body).toString('utf8')).toBe(lines.join('\n') + '\n');
    expect(inflateRawSync(body.subarray(10, body.length - 8)).toString('utf8')).toBe(lines.join('\n') + '\n');
    expect(body.length).toBeLessThan(Buffer.byteLength(lines.join('\n')) / 4);
  });

  it('compresses full slices on the thread pool, and finishes the same file whether or not they are back', async () => {
    const lines = Array.from({ length: 3000 }, (_, i) => `line ${i} ${'é'.repeat(i % 13)} ${'y'.repeat(i % 89)}`);
    const early = new GzipBuilder(4096);
    const late = new GzipBuilder(4096);
    let most = 0;
    for (const line of lines) {
      early.addLine(line);
      late.addLine(line);
      most = Math.max(most, late.compressing);
    }
    // Handed over, not compressed in addLine: every full slice is still out.
    expect(most).toBeGreaterThan(10);
    expect(late.compressing).toBe(most);
    // `early` finishes with its slices out (they are compressed again on the spot), `late` after they came back.
    const earlyBody = early.finish();
    expect(early.compressing).toBe(0);
    await late.compressed();
    expect(late.compressing).toBe(0);
    const lateBody = late.finish();
    expect(gunzipSync(lateBody).toString('utf8')).toBe(lines.join('\n') + '\n');
    expect(earlyBody.equals(lateBody)).toBe(true);
    // The results of `early`'s own thread-pool calls, arriving after it finished, change nothing.
    await early.compressed();
    expect(early.finish()).toBe(earlyBody);
    expect(() => early.addLine('after')).toThrow(/before the gzip file was finished/);
  });

  it('is a valid empty file without lines', () => {
    expect(gunzipSync(new GzipBuilder().finish()).length).toBe(0);
  });
});

describe('the S3 store', () => {
  it('lists in key order with prefix, delimiter, start-after and pages, and keeps ETag and size', async () => {
    const clock = new ManualClock(T0);
    const store = new S3Store({ clock, buckets: ['b'] });
    for (const key of ['a/2', 'a/1', 'b/x/1', 'b/x/2', 'b/y', 'c']) store.putObject('b', key, Buffer.from(key));
    expect(store.list('b', { maxKeys: 1000 }).contents.map((o) => o.key)).toEqual(['a/1', 'a/2', 'b/x/1', 'b/x/2', 'b/y', 'c']);
    expect(store.list('b', { prefix: 'b/', delimiter: '/', maxKeys: 1000 })).toMatchObject({ commonPrefixes: ['b/x/'], isTruncated: false });
    expect(store.list('b', { prefix: 'b/', delimiter: '/', maxKeys: 1000 }).contents.map((o) => o.key)).toEqual(['b/y']);
    const page = store.list('b', { maxKeys: 2, delimiter: '/' });
    expect(page).toMatchObject({ commonPrefixes: ['a/', 'b/'], isTruncated: true });
    expect(store.list('b', { maxKeys: 2, delimiter: '/', after: page.nextMarker })).toMatchObject({ commonPrefixes: [], isTruncated: false });
    expect(store.list('b', { maxKeys: 2, delimiter: '/', after: page.nextMarker }).contents.map((o) => o.key)).toEqual(['c']);
    expect(store.list('b', { after: 'b/x/1', maxKeys: 2 }).contents.map((o) => o.key)).toEqual(['b/x/2', 'b/y']);
    expect(store.head('b', 'c')).toMatchObject({ size: 1, etag: '"4a8a08f09d37b73795649038408b5f33"', lastModified: T0 });
    expect((await store.get('b', 'a/1'))?.body.toString()).toBe('a/1');
    expect(() => store.putObject('nope', 'k', Buffer.alloc(1))).toThrow(/Expected an existing bucket \(b\), got 'nope'/);
  });
});
