/**
 * Writes the ALB twin's access log as JSON lines, off the request path: `write` serializes the
 * record into a buffer outside the JS heap; the lines are written in batches, one file write in
 * flight at a time. Given a clock, a batch gathers for `batchRealMs` (each file write wakes a
 * thread-pool thread, which on a busy machine costs the data plane its CPU); without one, for one
 * event-loop turn.
 */
import { once } from 'node:events';
import { appendFileSync, createWriteStream } from 'node:fs';
import type { Clock } from '../../core/clock.ts';
import type { AccessLogRecord } from './types.ts';

/** An append-only JSON-lines access log. */
export interface AccessLogWriter {
  /** Queues one record (pass `writer.write` as the twin's `accessLog`). */
  readonly write: (record: AccessLogRecord) => void;
  /** Records written so far. */
  readonly count: number;
  /** Writes every queued record and closes the file; a record that comes later is appended at once. */
  close(): Promise<void>;
}

const lines = (records: AccessLogRecord[]) => {
  let chunk = '';
  for (const record of records) chunk += JSON.stringify(record) + '\n';
  return chunk;
};

/**
 * Lines encoded as they come into a buffer outside the JS heap, handed over whole for one write.
 * Queued records (or their strings) lived as long as a batch and its write, long enough on a busy
 * twin for the young generation's collections to copy them into the old generation: 2.7 MB a
 * collection at 4,500 req/s, and a full collection every 2 s.
 */
export class LineBuffer {
  #buffer: Buffer;
  #used = 0;

  constructor(readonly initialBytes = 64 * 1024) {
    this.#buffer = Buffer.allocUnsafeSlow(initialBytes);
  }

  /** Bytes queued. */
  get length(): number {
    return this.#used;
  }

  /** True when `line` and its newline surely fit without the buffer growing (UTF-8 takes at most 3 bytes per UTF-16 unit). */
  fits(line: string): boolean {
    return this.#used + line.length * 3 + 1 <= this.#buffer.length;
  }

  /** Appends `line` and a newline. */
  add(line: string): void {
    if (!this.fits(line)) {
      const grown = Buffer.allocUnsafeSlow(Math.max(this.#buffer.length * 2, this.#used + line.length * 3 + 1));
      this.#buffer.copy(grown, 0, 0, this.#used);
      this.#buffer = grown;
    }
    this.#used += this.#buffer.write(line, this.#used, 'utf8');
    this.#buffer[this.#used++] = 0x0a;
  }

  /** The queued bytes, for one write; the next lines go into a new buffer. */
  take(): Buffer {
    const chunk = this.#buffer.subarray(0, this.#used);
    this.#buffer = Buffer.allocUnsafeSlow(this.initialBytes);
    this.#used = 0;
    return chunk;
  }
}

/** How the writer batches. */
export interface AccessLogWriterOptions {
  /** Batches gather on this clock for `batchRealMs`; without it, for one event-loop turn. */
  clock?: Clock;
  /** Real ms a batch gathers (default 50): how late a line may reach the file while traffic runs. */
  batchRealMs?: number;
}

/** Opens `file` for appending; queued lines go out in one write per batch. */
export function createAccessLogWriter(file: string, options: AccessLogWriterOptions = {}): AccessLogWriter {
  const { clock, batchRealMs = 50 } = options;
  const stream = createWriteStream(file, { flags: 'a' });
  let error: Error | undefined;
  stream.on('error', (err) => (error = err));
  const pending = new LineBuffer();
  let scheduled = false;
  let writing = false;
  let closing: Promise<void> | undefined;
  let closed = false;
  /** Records that came while the stream was closing: appended after it, in order. */
  let late: AccessLogRecord[] = [];
  let count = 0;
  const schedule = (now: boolean) => {
    scheduled = true;
    if (clock) clock.setTimeout(flush, clock.toModelMs(batchRealMs));
    else if (now) flush();
    // Not a timer: one write per event-loop turn at most; no time passes in the model.
    // eslint-disable-next-line no-restricted-globals
    else setImmediate(flush);
  };
  const flush = () => {
    scheduled = false;
    if (writing || closing || pending.length === 0) return;
    const chunk = pending.take();
    writing = true;
    // What arrives while this write is in flight goes out in the next one, as soon as it is done.
    stream.write(chunk, () => {
      writing = false;
      if (pending.length && !scheduled) schedule(true);
    });
  };
  return {
    write(record) {
      count++;
      if (closed) {
        // The ALB logs the requests its own shutdown cuts off, possibly after this log was closed:
        // such a line is appended synchronously rather than lost.
        if (!error) appendFileSync(file, lines([record]));
        return;
      }
      if (closing) {
        late.push(record);
        return;
      }
      pending.add(JSON.stringify(record));
      if (!scheduled && !writing) schedule(false);
    },
    get count() {
      return count;
    },
    close() {
      closing ??= (async () => {
        // Queued behind a write in flight, if any: the stream keeps the order.
        if (pending.length) stream.write(pending.take());
        stream.end();
        if (!stream.closed) await once(stream, 'close');
        closed = true;
        if (error) throw error;
        if (late.length) appendFileSync(file, lines(late));
        late = [];
      })();
      return closing;
    },
  };
}
