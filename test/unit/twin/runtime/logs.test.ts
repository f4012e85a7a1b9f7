import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../../harness/core/clock.ts';
import { ContainerLog, formatLine, logTimestamp, selectLines, type LogLine } from '../../../../harness/twin/runtime/logs.ts';

const T0 = Date.parse('2026-01-02T03:04:05Z');

/** A log whose lines are written at the manual clock's time. */
function logOn(clock: ManualClock, limits = { maxLines: 100, maxBytes: 10_000 }) {
  const log = new ContainerLog(limits);
  const write = (text: string) => log.append({ time: clock.now(), stream: 'stdout', text });
  return { log, write };
}

const texts = (lines: LogLine[]) => lines.map((l) => l.text);

describe('ContainerLog', () => {
  it('keeps at most maxLines, dropping the oldest', () => {
    const clock = new ManualClock(T0);
    const { log, write } = logOn(clock, { maxLines: 3, maxBytes: 10_000 });
    for (let i = 1; i <= 5; i++) write(`line ${i}`);
    expect(texts(log.lines())).toEqual(['line 3', 'line 4', 'line 5']);
    expect(log.dropped).toBe(2);
  });

  it('keeps at most maxBytes (each line with its newline), dropping the oldest', () => {
    const clock = new ManualClock(T0);
    const { log, write } = logOn(clock, { maxLines: 100, maxBytes: 12 });
    write('aaaa'); // 5 bytes
    write('bbbb'); // 10
    write('cccc'); // 15 > 12: aaaa goes
    expect(texts(log.lines())).toEqual(['bbbb', 'cccc']);
    expect(log.bytes).toBe(10);
    // A line larger than the whole budget is not kept either.
    write('x'.repeat(20));
    expect(log.size).toBe(0);
    expect(log.bytes).toBe(0);
  });

  it('stays bounded over many lines and keeps the newest in order', () => {
    const clock = new ManualClock(T0);
    const { log, write } = logOn(clock, { maxLines: 10, maxBytes: 1_000_000 });
    for (let i = 0; i < 5000; i++) write(String(i));
    expect(texts(log.lines())).toEqual(Array.from({ length: 10 }, (_, i) => String(4990 + i)));
    expect(log.dropped).toBe(4990);
  });

  it('records the model time of each line', async () => {
    const clock = new ManualClock(T0);
    const { log, write } = logOn(clock);
    write('first');
    await clock.advance(1500);
    write('second');
    expect(log.lines().map((l) => l.time - T0)).toEqual([0, 1500]);
  });

  it('tells followers each new line and the end, once; nothing is appended after the end', () => {
    const clock = new ManualClock(T0);
    const { log, write } = logOn(clock);
    write('before');
    const seen: string[] = [];
    let ends = 0;
    log.follow(
      (l) => seen.push(l.text),
      () => ends++,
    );
    write('after');
    log.end();
    log.end();
    write('too late');
    expect(seen).toEqual(['after']);
    expect(ends).toBe(1);
    expect(texts(log.lines())).toEqual(['before', 'after']);
    // Following an ended log ends at once.
    log.follow(
      () => seen.push('never'),
      () => ends++,
    );
    expect(ends).toBe(2);
  });

  it('stops telling a follower that unsubscribed', () => {
    const clock = new ManualClock(T0);
    const { log, write } = logOn(clock);
    const seen: string[] = [];
    const stop = log.follow(
      (l) => seen.push(l.text),
      () => seen.push('end'),
    );
    write('one');
    stop();
    write('two');
    log.end();
    expect(seen).toEqual(['one']);
  });

  it('refuses limits below one line or one byte', () => {
    expect(() => new ContainerLog({ maxLines: 0, maxBytes: 10 })).toThrow(/at least 1 line and 1 byte, got/);
  });
});

describe('selectLines', () => {
  const lines: LogLine[] = [0, 1000, 2000, 3000, 4000].map((t, i) => ({ time: T0 + t, stream: 'stdout', text: `l${i}` }));

  it('takes the last tailLines lines, all of them, or none', () => {
    expect(texts(selectLines(lines, { tailLines: 2 }))).toEqual(['l3', 'l4']);
    expect(texts(selectLines(lines, { tailLines: 10 }))).toEqual(['l0', 'l1', 'l2', 'l3', 'l4']);
    expect(selectLines(lines, { tailLines: 0 })).toEqual([]);
    expect(selectLines(lines, {})).toHaveLength(5);
  });

  it('keeps lines written at or after sinceMs, after taking the tail', () => {
    expect(texts(selectLines(lines, { sinceMs: T0 + 2000 }))).toEqual(['l2', 'l3', 'l4']);
    expect(texts(selectLines(lines, { tailLines: 4, sinceMs: T0 + 500 }))).toEqual(['l1', 'l2', 'l3', 'l4']);
    expect(texts(selectLines(lines, { tailLines: 1, sinceMs: T0 + 500 }))).toEqual(['l4']);
  });
});

describe('log timestamps', () => {
  it('prints RFC 3339 in UTC with nine fractional digits, as the kubelet does', () => {
    expect(logTimestamp(T0 + 123)).toBe('2026-01-02T03:04:05.123000000Z');
    expect(logTimestamp(T0)).toBe('2026-01-02T03:04:05.000000000Z');
    expect(logTimestamp(T0 + 0.5)).toBe('2026-01-02T03:04:05.000500000Z');
  });

  it('prefixes the timestamp only when asked', () => {
    const line: LogLine = { time: T0 + 7, stream: 'stderr', text: 'boom' };
    expect(formatLine(line, false)).toBe('boom\n');
    expect(formatLine(line, true)).toBe('2026-01-02T03:04:05.007000000Z boom\n');
  });
});
