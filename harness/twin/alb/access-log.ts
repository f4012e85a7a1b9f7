/**
 * Writes the ALB twin's access log as JSON lines, off the request path: `write` only queues the
 * record; lines are serialized and written in batches, one file write in flight at a time. Given
 * a clock, a batch gathers for `batchRealMs` (each file write wakes a thread-pool thread, which on
 * a busy machine costs the data plane its CPU); without one, for one event-loop turn.
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
  let pending: AccessLogRecord[] = [];
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
    const chunk = lines(pending);
    pending = [];
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
      pending.push(record);
      if (!scheduled && !writing) schedule(false);
    },
    get count() {
      return count;
    },
    close() {
      closing ??= (async () => {
        // Queued behind a write in flight, if any: the stream keeps the order.
        if (pending.length) stream.write(lines(pending));
        pending = [];
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
