/** Writes the ALB twin's access log as JSON lines, batching the writes of one tick into one. */
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import type { AccessLogRecord } from './types.ts';

/** An append-only JSON-lines access log. */
export interface AccessLogWriter {
  /** Queues one record (pass `writer.write` as the twin's `accessLog`). */
  readonly write: (record: AccessLogRecord) => void;
  /** Records written so far. */
  readonly count: number;
  /** Flushes and closes the file. */
  close(): Promise<void>;
}

/** Opens `file` for appending; lines of one tick go out in one write. */
export function createAccessLogWriter(file: string): AccessLogWriter {
  const stream = createWriteStream(file, { flags: 'a' });
  let error: Error | undefined;
  stream.on('error', (err) => (error = err));
  let pending: string[] = [];
  let scheduled = false;
  let count = 0;
  const flush = () => {
    scheduled = false;
    if (pending.length === 0) return;
    const chunk = pending.join('');
    pending = [];
    stream.write(chunk);
  };
  return {
    write(record) {
      pending.push(JSON.stringify(record) + '\n');
      count++;
      if (!scheduled) {
        scheduled = true;
        // Not a timer: one write per event-loop turn batches the lines of a burst; no time passes in the model.
        // eslint-disable-next-line no-restricted-globals
        setImmediate(flush);
      }
    },
    get count() {
      return count;
    },
    async close() {
      flush();
      stream.end();
      if (!stream.closed) await once(stream, 'close');
      if (error) throw error;
    },
  };
}
