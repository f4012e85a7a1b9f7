import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../harness/core/clock.ts';
import { createAccessLogWriter, LineBuffer } from '../../../harness/twin/alb/access-log.ts';
import type { AccessLogRecord } from '../../../harness/twin/alb/types.ts';

let dir: string | undefined;
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

const record = (i: number): AccessLogRecord => ({
  type: 'request',
  time: 1_700_000_000 + i / 1000,
  lbNode: i % 2 ? 'us-east-1a' : 'us-east-1b',
  method: 'GET',
  path: `/r/${i}`,
  target: '127.0.0.2:8080',
  targetState: 'healthy',
  targetControlState: i % 3 ? 'healthy' : 'draining',
  elbStatus: i % 7 ? 200 : 502,
  targetStatus: i % 7 ? 200 : null,
  requestProcessingTime: 0,
  targetProcessingTime: i % 7 ? 0.001 : -1,
  totalTime: 0.002,
  traceId: `Root=1-6553f100-${i.toString(16).padStart(24, '0')}`,
  client: '127.0.0.1:40000',
  userAgent: 'rollout-harness/test',
  ...(i % 7 ? {} : { reason: 'keepalive-race' as const }),
});

describe('LineBuffer', () => {
  it('grows past its first size with multi-byte lines, and a chunk it handed over stays as it was', () => {
    const buffer = new LineBuffer(16);
    buffer.add('héllo wörld ✓');
    buffer.add('x'.repeat(40));
    const first = buffer.take();
    expect(first.toString('utf8')).toBe(`héllo wörld ✓\n${'x'.repeat(40)}\n`);
    expect(buffer.length).toBe(0);
    for (let i = 0; i < 100; i++) buffer.add(`line ${i} ✓`);
    expect(first.toString('utf8')).toBe(`héllo wörld ✓\n${'x'.repeat(40)}\n`);
    expect(buffer.take().toString('utf8').split('\n').slice(0, -1)).toEqual(Array.from({ length: 100 }, (_, i) => `line ${i} ✓`));
  });
});

describe('createAccessLogWriter', () => {
  it('appends one JSON line per record, in order, and keeps what was there', async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'alb-log-'));
    const file = path.join(dir, 'access.log');
    const first = createAccessLogWriter(file);
    first.write(record(0));
    await first.close();
    const writer = createAccessLogWriter(file);
    for (let i = 1; i <= 5000; i++) writer.write(record(i));
    expect(writer.count).toBe(5000);
    await writer.close();
    const lines = (await readFile(file, 'utf8')).trimEnd().split('\n');
    expect(lines).toHaveLength(5001);
    const parsed = lines.map((l) => JSON.parse(l) as AccessLogRecord);
    expect(parsed.map((r) => r.path)).toEqual(Array.from({ length: 5001 }, (_, i) => `/r/${i}`));
    expect(parsed[7]).toEqual(record(7));
  });

  it('writes the records queued behind a write in flight when it closes, in order', async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'alb-log-'));
    const file = path.join(dir, 'access.log');
    const writer = createAccessLogWriter(file);
    let i = 0;
    // Several turns of traffic: each turn's records queue while the previous batch is being written.
    for (let turn = 0; turn < 20; turn++) {
      for (let n = 0; n < 50; n++) writer.write(record(i++));
      await nextTurn();
    }
    for (let n = 0; n < 500; n++) writer.write(record(i++));
    await writer.close();
    const lines = (await readFile(file, 'utf8')).trimEnd().split('\n');
    expect(lines.map((l) => (JSON.parse(l) as AccessLogRecord).path)).toEqual(Array.from({ length: 1500 }, (_, n) => `/r/${n}`));
  });

  it('keeps the records that come while it closes and after it closed (requests the shutdown cut off), in order', async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'alb-log-'));
    const file = path.join(dir, 'access.log');
    const writer = createAccessLogWriter(file);
    writer.write(record(0));
    const closing = writer.close();
    writer.write(record(1));
    writer.write(record(2));
    await closing;
    writer.write(record(3));
    await writer.close();
    expect(writer.count).toBe(4);
    const lines = (await readFile(file, 'utf8')).trimEnd().split('\n');
    expect(lines.map((l) => JSON.parse(l) as AccessLogRecord)).toEqual([0, 1, 2, 3].map(record));
  });

  it('given a clock, writes a batch once it has gathered for its time, and everything at close', async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'alb-log-'));
    const file = path.join(dir, 'access.log');
    const clock = new ManualClock(0);
    const writer = createAccessLogWriter(file, { clock, batchRealMs: 50 });
    const read = () => readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? '' : Promise.reject(error)));
    for (let i = 0; i < 10; i++) writer.write(record(i));
    // Before the batch's time nothing is written, however many turns pass.
    for (let turn = 0; turn < 50; turn++) {
      await nextTurn();
      expect(await read()).toBe('');
    }
    await clock.advance(50);
    // The batch's write is in flight: wait (bounded) until its lines are in the file.
    let text = '';
    for (let turn = 0; turn < 1000 && text.split('\n').length <= 10; turn++) {
      await nextTurn();
      // The stream opens the file asynchronously: until then there is nothing to read.
      text = await read();
    }
    expect(text.trimEnd().split('\n')).toHaveLength(10);
    for (let i = 10; i < 25; i++) writer.write(record(i));
    await clock.advance(20);
    for (let i = 25; i < 40; i++) writer.write(record(i));
    await writer.close();
    const lines = (await readFile(file, 'utf8')).trimEnd().split('\n');
    expect(lines.map((l) => (JSON.parse(l) as AccessLogRecord).path)).toEqual(Array.from({ length: 40 }, (_, n) => `/r/${n}`));
  });

  it('reports a file that cannot be written when closed', async () => {
    const writer = createAccessLogWriter('/nonexistent-dir/for/sure/access.log');
    writer.write(record(1));
    await expect(writer.close()).rejects.toThrow(/ENOENT/);
  });
});
