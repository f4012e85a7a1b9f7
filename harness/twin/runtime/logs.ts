/**
 * Container logs as the kubelet keeps them: every line one container instance wrote (stdout and
 * stderr), with the model time it was written, in a buffer bounded by lines and bytes (oldest lines
 * dropped, as a real kubelet rotates its log files away). Readers take a snapshot, select from it as
 * PodLogOptions say (`tailLines`, `sinceTime`, `limitBytes`), and may follow the instance until it ends.
 */

/** One line a container wrote. */
export interface LogLine {
  /** Model epoch ms at which the line was written. */
  time: number;
  stream: 'stdout' | 'stderr';
  text: string;
}

/** How much one container instance keeps. */
export interface LogLimits {
  maxLines: number;
  maxBytes: number;
}

/** Defaults: a few thousand lines of a chatty gateway access log, a bounded share of the twin's memory. */
export const DEFAULT_LOG_LIMITS: LogLimits = { maxLines: 5000, maxBytes: 1024 * 1024 };

/** Bytes a line takes in the buffer and on the wire (text plus its newline). */
function sizeOf(text: string): number {
  return Buffer.byteLength(text, 'utf8') + 1;
}

/** What can be read from one container instance's log: the API server's view of it. */
export interface LogSource {
  /** The lines kept, oldest first. */
  lines(): LogLine[];
  /** True once the instance has exited and its output pipes are drained. */
  readonly ended: boolean;
  /** Calls `onLine` with each new line and `onEnd` once when the instance ends; returns an unsubscribe. */
  follow(onLine: (line: LogLine) => void, onEnd: () => void): () => void;
}

/** Which log a `pods/log` request reads. */
export interface LogRequest {
  namespace: string;
  name: string;
  /** The pod's uid when known: a pod of the same name that came back is another pod. */
  uid?: string;
  container: string;
  previous: boolean;
}

/** The log of one container instance (one process), bounded by `limits`. */
export class ContainerLog implements LogSource {
  readonly #limits: LogLimits;
  #buf: LogLine[] = [];
  #head = 0;
  #bytes = 0;
  #dropped = 0;
  #ended = false;
  readonly #followers = new Set<{ onLine: (line: LogLine) => void; onEnd: () => void }>();

  constructor(limits: LogLimits = DEFAULT_LOG_LIMITS) {
    if (!(limits.maxLines >= 1) || !(limits.maxBytes >= 1)) {
      throw new RangeError(`Expected log limits of at least 1 line and 1 byte, got ${JSON.stringify(limits)}`);
    }
    this.#limits = limits;
  }

  /** Adds a line (ignored once ended); drops the oldest lines beyond the limits. */
  append(line: LogLine): void {
    if (this.#ended) return;
    this.#buf.push(line);
    this.#bytes += sizeOf(line.text);
    while (this.size > this.#limits.maxLines || (this.#bytes > this.#limits.maxBytes && this.size > 0)) {
      this.#bytes -= sizeOf(this.#buf[this.#head].text);
      this.#head++;
      this.#dropped++;
    }
    // Compact now and then so dropping stays O(1) amortised.
    if (this.#head > 1024 && this.#head * 2 > this.#buf.length) {
      this.#buf = this.#buf.slice(this.#head);
      this.#head = 0;
    }
    for (const f of [...this.#followers]) f.onLine(line);
  }

  /** The instance exited: followers are told, nothing more is appended. */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    const followers = [...this.#followers];
    this.#followers.clear();
    for (const f of followers) f.onEnd();
  }

  get ended(): boolean {
    return this.#ended;
  }

  /** Lines kept now. */
  get size(): number {
    return this.#buf.length - this.#head;
  }

  /** Bytes kept now (each line counted with its newline). */
  get bytes(): number {
    return this.#bytes;
  }

  /** Lines dropped so far to stay within the limits. */
  get dropped(): number {
    return this.#dropped;
  }

  lines(): LogLine[] {
    return this.#buf.slice(this.#head);
  }

  follow(onLine: (line: LogLine) => void, onEnd: () => void): () => void {
    if (this.#ended) {
      onEnd();
      return () => {};
    }
    const f = { onLine, onEnd };
    this.#followers.add(f);
    return () => this.#followers.delete(f);
  }
}

/** What a reader asks for, as PodLogOptions (times already resolved to model epoch ms). */
export interface LogSelection {
  /** Only the last N lines (before `sinceMs` is applied, as the kubelet seeks the tail first). */
  tailLines?: number;
  /** Only lines written at or after this model epoch ms. */
  sinceMs?: number;
}

/** The lines of a snapshot a reader gets: the tail first, then the lines since the given time. */
export function selectLines(lines: readonly LogLine[], sel: LogSelection): LogLine[] {
  let out = sel.tailLines === undefined ? [...lines] : sel.tailLines === 0 ? [] : lines.slice(-sel.tailLines);
  if (sel.sinceMs !== undefined) out = out.filter((l) => l.time >= sel.sinceMs!);
  return out;
}

/**
 * A model time as the kubelet prints it with `timestamps=true`: RFC 3339 in UTC with nine
 * fractional digits (the kubelet's fixed-width `2006-01-02T15:04:05.000000000Z07:00`).
 */
export function logTimestamp(ms: number): string {
  const iso = new Date(Math.floor(ms)).toISOString(); // 2026-12-03T14:08:18.123Z
  const micros = Math.min(999_999, Math.round((ms - Math.floor(ms)) * 1e6));
  return `${iso.slice(0, 23)}${String(micros).padStart(6, '0')}Z`;
}

/** One line as it goes on the wire. */
export function formatLine(line: LogLine, timestamps: boolean): string {
  return timestamps ? `${logTimestamp(line.time)} ${line.text}\n` : `${line.text}\n`;
}
