import { createReadStream, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createGunzip, gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { K6OutputAggregator, k6ScheduleOrigin, networkErrorKey, parseK6Output, parseK6Time } from '../../../../harness/traffic/k6/parse.ts';
import { scheduleOf } from '../../../../harness/traffic/timing.ts';

const fixture = (name: string) => fileURLToPath(new URL(`../../../../fixtures/k6/${name}`, import.meta.url));
const MIXED = fixture('mixed-status-v0.48.ndjson.gz');
const SMOKE = fixture('smoke-200-v0.48.ndjson.gz');
const SIGINT = fixture('sigint-inflight-v0.48.ndjson.gz');

const sum = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);

function point(time: string, tags: Record<string, string>, metadata?: Record<string, string>, metric = 'http_reqs'): string {
  return JSON.stringify({ metric, type: 'Point', data: { time, value: 1, tags, ...(metadata ? { metadata } : {}) } });
}

describe('request timings from http_req_duration Points', () => {
  it('keeps one duration per request of the real run, with send time = Point time − duration', async () => {
    const text = gunzipSync(readFileSync(MIXED)).toString('utf8');
    const durations = text.split('\n').filter((l) => l.includes('"metric":"http_req_duration","type":"Point"')).map((l) => JSON.parse(l) as { data: { time: string; value: number } });
    const result = await parseK6Output([text]);
    const timings = result.timings;
    expect(timings.count).toBe(301);
    expect(timings.count).toBe(result.pointsByMetric.http_reqs);
    expect([...timings.durations]).toEqual(durations.map((d) => d.data.value));
    expect([...timings.sentAt]).toEqual(durations.map((d) => parseK6Time(d.data.time) - d.data.value));
    // Status kept per request: 15 network errors (status 0), 45 5xx.
    const statuses = [...timings.statuses];
    expect(statuses.filter((s) => s === 0)).toHaveLength(15);
    expect(statuses.filter((s) => s >= 500)).toHaveLength(45);
  });

  it('finds a k6 process stopped for 2.5 s (SIGSTOP … SIGCONT) from its Points alone: the stalled seconds are behind', async () => {
    // What k6 prints when stopped at t = 2 s and continued at 4.5 s: the iterations due meanwhile
    // start at 4.5 s (and end 5 ms later); no sent_ms (another script), so send = time − duration.
    const t0 = Date.parse('2026-11-22T01:55:20Z');
    const lines: string[] = [];
    for (let n = 0; n < 300; n++) {
      const due = t0 + n * 20;
      const sent = due >= t0 + 2000 && due < t0 + 4500 ? t0 + 4500 : due + 1;
      const time = new Date(sent + 5).toISOString();
      const tags = { status: '200', name: 'http://127.0.0.1:1/' };
      lines.push(point(time, tags), JSON.stringify({ metric: 'http_req_duration', type: 'Point', data: { time, value: 5, tags } }));
    }
    const agg = await parseK6Output([lines.join('\n')]);
    expect(agg.sent).toBe(300);
    const origin = k6ScheduleOrigin(agg);
    expect(origin).toBe(t0 + 1);
    const check = scheduleOf({ ...agg, startedAt: agg.startedAt!, planned: 300, scheduleOrigin: origin }, 50, t0 + 1000, t0 + 6000)!;
    // Due 2.0 – 3.5 s went out over 1 s late: second 2 wholly, second 3 for 25 of 50.
    expect(check.behind).toEqual([{ second: 2, due: 50, onTime: 0 }, { second: 3, due: 50, onTime: 25 }]);
    expect(check.maxLateMs).toBe(2499);
  });

  it('prefers the script\'s sent_ms (the iteration start) when the Point carries it', () => {
    const aggregator = new K6OutputAggregator();
    aggregator.line(JSON.stringify({ metric: 'http_req_duration', type: 'Point', data: { time: '2026-11-22T01:55:20.500Z', value: 30, tags: { status: '503' }, metadata: { sent_ms: String(Date.parse('2026-11-22T01:55:20.400Z')) } } }));
    aggregator.line(JSON.stringify({ metric: 'http_req_duration', type: 'Point', data: { time: 'yesterday', value: 30, tags: { status: '200' } } }));
    const { timings, malformed } = aggregator.result();
    expect(timings.count).toBe(1);
    expect([...timings.sentAt]).toEqual([Date.parse('2026-11-22T01:55:20.400Z')]);
    expect([...timings.durations]).toEqual([30]);
    expect([...timings.statuses]).toEqual([503]);
    expect(malformed.count).toBe(1);
  });
});

describe('parseK6Output on a real k6 run stopped by SIGINT with requests in flight', () => {
  it('finds the 72 requests k6 cut at the stop (no http_reqs Point) from their data_sent markers', async () => {
    const result = await parseK6Output(createReadStream(SIGINT).pipe(createGunzip()));
    expect(result.lines).toBe(828);
    expect(result.malformed.count).toBe(0);
    expect(result.pointsByMetric.http_reqs).toBe(46);
    expect(result.pointsByMetric.data_sent).toBe(118);
    // 118 sent = 46 answered (all 200) + 0 network errors + 72 cut at the stop.
    expect(result.sent).toBe(118);
    expect(result.byStatus).toEqual({ '200': 46 });
    expect(result.networkErrors).toEqual({});
    expect(result.cutAtStop.count).toBe(72);
    expect(sum(result.byStatus) + sum(result.networkErrors) + result.cutAtStop.count).toBe(result.sent);
    expect(result.droppedIterations).toBe(64);
    // The cut requests were the last ones sent: every answered one went out before every cut one
    // (the server answers after 2 s), and their send times come from the script's sent_ms.
    const cut = result.cutAtStop.sentAt;
    expect(cut).toHaveLength(72);
    expect(cut).toEqual([...cut].sort((a, b) => a - b));
    expect(cut[0]).toBe(1796151156921); // 40 ms after the last answered one (1796151156881)
    expect(cut.at(-1)).toBe(1796151158861);
    // Not a failure and not a series entry: the series holds the 46 answers only.
    expect(result.failures).toHaveLength(0);
    expect(result.series.reduce((s, b) => s + sum(b.byStatus) + b.networkErrors, 0)).toBe(46);
    // The scenario started with the first iteration (sent_ms), not at the first Point (a drop 200 ms later).
    expect(result.scenarioStartedAt).toBe(1796151155261);
    expect(result.endedAt).toBeCloseTo(Date.parse('2026-12-01T18:52:38.888Z') + 0.03128, 3);
  });

  it('keeps a bounded number of cut send times while the count stays exact', async () => {
    const result = await parseK6Output(createReadStream(SIGINT).pipe(createGunzip()), { maxCutRecords: 10 });
    expect(result.cutAtStop.count).toBe(72);
    expect(result.cutAtStop.sentAt).toHaveLength(10);
    expect(result.cutAtStop.sentAt[0]).toBe(1796151156921);
  });

  it('pairs markers as a multiset: two iterations sent in the same millisecond, one cut', () => {
    const agg = new K6OutputAggregator();
    const t = '2026-12-01T10:00:01.000000000Z';
    const meta = { sent_ms: '1796119200000' };
    agg.write(`${point(t, { status: '200', name: '/' }, meta)}\n`);
    agg.write(`${point(t, {}, meta, 'data_sent')}\n${point(t, {}, meta, 'data_sent')}\n`);
    const result = agg.result();
    expect(result.sent).toBe(2);
    expect(result.byStatus).toEqual({ '200': 1 });
    expect(result.cutAtStop).toEqual({ count: 1, sentAt: [1796119200000] });
  });

  it('counts every cut iteration of a millisecond: three sent in it, one answered, two cut', () => {
    const agg = new K6OutputAggregator();
    const t = '2026-12-01T10:00:01.000000000Z';
    const meta = { sent_ms: '1796119200000' };
    agg.write(`${point(t, {}, meta, 'data_sent')}\n${point(t, { status: '200', name: '/' }, meta)}\n`);
    agg.write(`${point(t, {}, meta, 'data_sent')}\n${point(t, {}, meta, 'data_sent')}\n`);
    const result = agg.result();
    expect(result.sent).toBe(3);
    expect(result.cutAtStop).toEqual({ count: 2, sentAt: [1796119200000, 1796119200000] });
    expect(sum(result.byStatus) + sum(result.networkErrors) + result.cutAtStop.count).toBe(result.sent);
  });
});

describe('parseK6Output on real k6 output', () => {
  it('reproduces the mixed-status fixture exactly', async () => {
    const result = await parseK6Output(createReadStream(MIXED).pipe(createGunzip()));
    expect(result.lines).toBe(3934);
    expect(result.malformed.count).toBe(0);
    expect(result.sent).toBe(301);
    expect(result.byStatus).toEqual({ '200': 241, '502': 15, '503': 15, '504': 15 });
    expect(result.networkErrors).toEqual({ '1000 EOF': 15 });
    expect(sum(result.byStatus) + sum(result.networkErrors)).toBe(result.sent);
    expect(result.pointsByMetric.http_reqs).toBe(301);
    expect(result.pointsByMetric.http_req_duration).toBe(301);
    expect(result.pointsByMetric.vus).toBe(3);
    expect(result.droppedIterations).toBe(0);

    // Every non-2xx is a failure record with the request's path from the `name` tag.
    expect(result.failures).toHaveLength(60);
    expect(result.failures.filter((f) => f.status === 502)).toHaveLength(15);
    expect(result.failures.filter((f) => f.error === '1000 EOF')).toHaveLength(15);
    expect(new Set(result.failures.map((f) => f.path))).toEqual(new Set(['/?cell=demo']));
    for (let i = 1; i < result.failures.length; i++) expect(result.failures[i].sentAt).toBeGreaterThanOrEqual(result.failures[i - 1].sentAt);

    // The fixture has no send-time metadata, so times are k6's Point (end) times.
    expect(result.startedAt).toBeCloseTo(Date.parse('2026-11-22T01:55:20.149Z') + 0.464887, 3);
    expect(result.endedAt).toBeCloseTo(Date.parse('2026-11-22T01:55:23.142Z') + 0.354107, 3);
    expect(result.series.map((b) => b.second)).toEqual([0, 1, 2]);
    const seriesTotal = result.series.reduce((s, b) => s + sum(b.byStatus) + b.networkErrors, 0);
    expect(seriesTotal).toBe(301);
    expect(result.series.reduce((s, b) => s + (b.byStatus['503'] ?? 0), 0)).toBe(15);
    expect(result.series.reduce((s, b) => s + b.networkErrors, 0)).toBe(15);
  });

  it('reproduces the smoke fixture exactly', async () => {
    const result = await parseK6Output(createReadStream(SMOKE).pipe(createGunzip()));
    expect(result.lines).toBe(3288);
    expect(result.malformed.count).toBe(0);
    expect(result.sent).toBe(251);
    expect(result.byStatus).toEqual({ '200': 251 });
    expect(result.networkErrors).toEqual({});
    expect(result.failures).toEqual([]);
    // 50 req/s for 5 s: every whole second carries 50 requests, plus the one at the very end.
    expect(result.series.length).toBe(5);
    expect(result.series.reduce((s, b) => s + b.byStatus['200'], 0)).toBe(251);
  });

  it('gives the same result however the stream is chunked', async () => {
    const whole = gunzipSync(readFileSync(MIXED));
    const reference = await parseK6Output([whole]);
    const sizes = [1, 7, 13, 4093, 2, 65_537, 333];
    async function* oddChunks() {
      let offset = 0;
      for (let i = 0; offset < whole.length; i++) {
        const size = sizes[i % sizes.length];
        yield whole.subarray(offset, offset + size);
        offset += size;
      }
    }
    const chunked = await parseK6Output(oddChunks());
    expect(chunked).toEqual(reference);
    expect(chunked.sent).toBe(301);
    expect(chunked.lines).toBe(3934);
  });

  it('keeps a UTF-8 character split across chunks, and a last line without a newline', async () => {
    const text = `${point('2026-01-01T00:00:00.5Z', { status: '503', name: 'http://127.0.0.1:1/caf\u00e9' })}\n${point('2026-01-01T00:00:00.6Z', { status: '200', name: '/' })}`;
    const bytes = Buffer.from(text);
    const split = bytes.indexOf(Buffer.from('\u00e9')) + 1; // inside the two-byte é
    const result = await parseK6Output([bytes.subarray(0, split), bytes.subarray(split)]);
    expect(result.malformed.count).toBe(0);
    expect(result.sent).toBe(2);
    // No send-time marker in these lines: the send time is the Point's time, as is the end.
    expect(result.failures).toEqual([{ sentAt: Date.parse('2026-01-01T00:00:00.5Z'), endedAt: Date.parse('2026-01-01T00:00:00.5Z'), path: '/caf%C3%A9', status: 503 }]);
  });
});

describe('K6OutputAggregator', () => {
  it('counts malformed lines, keeps samples, and still counts every valid request', () => {
    const agg = new K6OutputAggregator({ maxLineChars: 2000 });
    agg.write(`${point('2026-01-01T00:00:00Z', { status: '200', name: '/' })}\n`);
    agg.write('not json at all\n');
    agg.write('{"metric":"http_reqs","type":"Point","data":{"time":"2026-01-01T00:00:01Z","value":1,"tags":{"status":"502"\n'); // cut short
    agg.write('{"metric":"http_reqs","type":"Point","data":{"value":1,"tags":{}}}\n'); // no time
    agg.write('[1,2,3]\n\n   \n'); // blank lines are not lines
    agg.write(`${point('last tuesday', { status: '200', name: '/' })}\n`); // unreadable time
    agg.write(`${'x'.repeat(5000)}`); // an overlong line, arriving in pieces
    agg.write(`${'y'.repeat(5000)}\n`);
    agg.write(`${point('2026-01-01T00:00:02Z', { status: '0', error_code: '1050', error: 'request timeout', name: '/slow' })}\r\n`);
    agg.end();
    const result = agg.result();
    expect(result.malformed.count).toBe(6);
    expect(result.malformed.samples[0]).toBe('not json at all');
    expect(result.malformed.samples).toHaveLength(5);
    expect(result.malformed.samples[4]).toContain('last tuesday');
    expect(result.lines).toBe(8);
    expect(result.pointsByMetric).toEqual({ http_reqs: 2 });
    expect(result.sent).toBe(2);
    expect(result.byStatus).toEqual({ '200': 1 });
    expect(result.networkErrors).toEqual({ timeout: 1 });
    expect(result.failures).toEqual([{ sentAt: Date.parse('2026-01-01T00:00:02Z'), endedAt: Date.parse('2026-01-01T00:00:02Z'), path: '/slow', error: 'timeout' }]);
  });

  it('uses the send time from metadata and renumbers seconds when an earlier-sent request ends later', () => {
    const agg = new K6OutputAggregator();
    const t0 = Date.parse('2026-01-01T00:00:10Z');
    // Ends first: sent at t0 + 1.2 s.
    agg.line(point('2026-01-01T00:00:11.300Z', { status: '200', name: '/' }, { sent_ms: String(t0 + 1200) }));
    // Ends later but was sent first (a 30 s timeout ends at t0 + 30 s).
    agg.line(point('2026-01-01T00:00:40.000Z', { status: '0', error_code: '1050', error: 'request timeout', name: '/a' }, { sent_ms: String(t0) }));
    agg.line(point('2026-01-01T00:00:13.250Z', { status: '504', name: '/b' }, { sent_ms: String(t0 + 3200) }));
    const result = agg.result();
    expect(result.startedAt).toBe(t0);
    expect(result.endedAt).toBe(Date.parse('2026-01-01T00:00:40.000Z'));
    expect(result.series).toEqual([
      { second: 0, byStatus: {}, networkErrors: 1 },
      { second: 1, byStatus: { '200': 1 }, networkErrors: 0 },
      { second: 2, byStatus: {}, networkErrors: 0 },
      { second: 3, byStatus: { '504': 1 }, networkErrors: 0 },
    ]);
    expect(result.failures.map((f) => [f.sentAt, f.path])).toEqual([
      [t0, '/a'],
      [t0 + 3200, '/b'],
    ]);
  });

  it('sums dropped_iterations and ignores Metric declarations', () => {
    const agg = new K6OutputAggregator();
    agg.line('{"type":"Metric","data":{"name":"dropped_iterations","type":"counter","contains":"default","thresholds":[],"submetrics":null},"metric":"dropped_iterations"}');
    agg.line(JSON.stringify({ metric: 'dropped_iterations', type: 'Point', data: { time: '2026-01-01T00:00:00Z', value: 3, tags: { scenario: 'traffic' } } }));
    agg.line(JSON.stringify({ metric: 'dropped_iterations', type: 'Point', data: { time: '2026-01-01T00:00:01Z', value: 2, tags: null } }));
    const result = agg.result();
    expect(result.droppedIterations).toBe(5);
    expect(result.sent).toBe(0);
    expect(result.lines).toBe(3);
    expect(result.startedAt).toBeUndefined();
    expect(result.series).toEqual([]);
  });

  it('caps failure records but keeps counts exact', () => {
    const agg = new K6OutputAggregator({ maxFailureRecords: 2 });
    for (let i = 0; i < 5; i++) agg.line(point(`2026-01-01T00:00:0${i}Z`, { status: '502', name: '/' }));
    const result = agg.result();
    expect(result.byStatus['502']).toBe(5);
    expect(result.failures).toHaveLength(2);
    expect(agg.progress).toEqual({ sent: 5, fiveXX: 5, networkErrors: 0 });
  });
});

describe('helpers', () => {
  it('parses nanosecond RFC 3339 times to fractional epoch ms', () => {
    expect(parseK6Time('2026-11-22T01:55:20.149464887Z')).toBeCloseTo(Date.parse('2026-11-22T01:55:20.149Z') + 0.464887, 6);
    expect(parseK6Time('2026-11-22T01:55:20+02:00')).toBe(Date.parse('2026-11-21T23:55:20Z'));
    expect(parseK6Time('yesterday')).toBeNaN();
  });

  it('names network errors by shared name when known, else by k6 code and text', () => {
    expect(networkErrorKey({ error_code: '1050', error: 'request timeout' })).toBe('timeout');
    expect(networkErrorKey({ error_code: '1212', error: 'dial: connection refused' })).toBe('ECONNREFUSED');
    expect(networkErrorKey({ error_code: '1000', error: 'EOF' })).toBe('1000 EOF');
    expect(networkErrorKey({})).toBe('unknown');
  });
});
