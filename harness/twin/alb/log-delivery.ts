/**
 * Delivery of ALB access logs to S3 as the user guide describes it ("Access log files"): each LB
 * node buffers its entries and, once per interval (5 minutes by default), writes one gzip object
 * under `prefix/AWSLogs/<account>/elasticloadbalancing/<region>/yyyy/mm/dd/…` — only while the
 * load balancer's `access_logs.s3.*` attributes enable it. Intervals are aligned to multiples of
 * the interval in model time, as ALB's end-times are (…T2340Z holds 23:35–23:40).
 *
 * A file is compressed while its interval runs, 1 MB of lines at a time on the thread pool
 * (`GzipBuilder`): the data plane's event loop compresses only the last part of a file (less than
 * a slice) at the interval's end.
 */
import { constants, crc32, deflateRaw, deflateRawSync, type ZlibOptions } from 'node:zlib';
import type { Clock, Timer } from '../../core/clock.ts';
import { randomChars, type Random } from '../../core/random.ts';
import { LineBuffer } from './access-log.ts';
import { albLogObjectKey, formatAlbLogLine, type AlbLogEntry } from './alb-log.ts';

/** Where log files go: the twin's S3 store. */
export interface LogObjectSink {
  bucketExists(bucket: string): boolean;
  putObject(bucket: string, key: string, body: Buffer, contentType?: string): void;
}

/** Where a load balancer's logs go, from its attributes. */
export interface AccessLogTarget {
  enabled: boolean;
  bucket: string;
  prefix: string;
}

interface LbLogs {
  elb: string;
  target: AccessLogTarget;
  /** zone → the LB node's IP (the file name's ip-address). */
  nodeIps: Map<string, string>;
}

interface Batch {
  bucket: string;
  prefix: string;
  elb: string;
  nodeIp: string;
  endTime: number;
  body: GzipBuilder;
}

/**
 * Uncompressed text compressed at once: 1–4 ms of level-1 deflate. Much smaller slices cost more
 * in all (each call sets up a deflate state); a whole interval at once would be compressed by
 * `finish`, on the event loop.
 */
const SLICE_BYTES = 1024 * 1024;
// Level 1: a third of the CPU of the default level for a file 25 % larger; the format is the same.
const SLICE_OPTIONS: ZlibOptions = { finishFlush: constants.Z_SYNC_FLUSH, level: 1 };
const LAST_OPTIONS: ZlibOptions = { finishFlush: constants.Z_FINISH, level: 1 };
/** RFC 1952 member header: magic, deflate, no flags, no mtime, no extra flags, OS unknown. */
const GZIP_HEADER = Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);

/**
 * One gzip member (RFC 1952) built a slice at a time: each slice is deflated on its own and ends
 * with a sync flush, so the slices concatenate into one deflate stream; the last one finishes it.
 * Any gunzip reads the result as one file.
 *
 * A full slice is deflated on the thread pool (zlib's asynchronous call), off the event loop that
 * serves requests. `finish` stays synchronous: a slice whose compression has not come back by then
 * is deflated again on the spot (the same bytes: level 1 and a fresh state make it deterministic)
 * and the late result is dropped.
 */
export class GzipBuilder {
  /** The header, then one deflated slice per entry; `undefined` while its compression runs. */
  #parts: Array<Buffer | undefined> = [GZIP_HEADER];
  /** The text of each slice still being compressed, by its index in `#parts`. */
  #pending = new Map<number, Buffer>();
  /** The slice being filled: lines are encoded straight into it (no joined string to encode). */
  #slice: LineBuffer;
  #crc = 0;
  #size = 0;
  #finished = false;
  #file?: Buffer;
  /** Settles when the slices started so far are back. */
  #running: Promise<void> = Promise.resolve();

  /** `sliceBytes`: how much text gathers before it is compressed. */
  constructor(readonly sliceBytes = SLICE_BYTES) {
    this.#slice = new LineBuffer(sliceBytes);
  }

  /** Slices whose compression is still running. */
  get compressing(): number {
    return this.#pending.size;
  }

  /** Resolves once every slice handed to the thread pool so far has come back (or `finish` took it over). */
  compressed(): Promise<void> {
    return this.#running;
  }

  /**
   * Appends `line` and a newline. A line that may not fit in the slice's room first sends the
   * slice to be compressed, so a slice's buffer never grows (and is never copied) while it fills;
   * only a line longer than a slice grows an empty one.
   */
  addLine(line: string): void {
    if (this.#finished) throw new Error('Expected lines before the gzip file was finished, got one after');
    if (this.#slice.length > 0 && !this.#slice.fits(line)) this.#deflateLater(this.#slice.take());
    this.#slice.add(line);
  }

  /** The finished file (the same buffer on every call). */
  finish(): Buffer {
    if (this.#file) return this.#file;
    this.#finished = true;
    for (const [index, text] of this.#pending) this.#parts[index] = deflateRawSync(text, SLICE_OPTIONS);
    this.#pending.clear();
    const last = this.#slice.take();
    this.#count(last);
    this.#parts.push(deflateRawSync(last, LAST_OPTIONS));
    const trailer = Buffer.alloc(8);
    trailer.writeUInt32LE(this.#crc >>> 0, 0);
    trailer.writeUInt32LE(this.#size % 2 ** 32, 4);
    this.#file = Buffer.concat([...(this.#parts as Buffer[]), trailer]);
    return this.#file;
  }

  #count(text: Buffer): void {
    this.#crc = crc32(text, this.#crc);
    this.#size += text.length;
  }

  #deflateLater(text: Buffer): void {
    this.#count(text);
    const index = this.#parts.push(undefined) - 1;
    this.#pending.set(index, text);
    const back = new Promise<void>((resolve) =>
      deflateRaw(text, SLICE_OPTIONS, (err, deflated) => {
        resolve();
        // Finished meanwhile: `finish` deflated this slice itself.
        if (!this.#pending.delete(index)) return;
        // Not expected of an in-memory deflate; the synchronous call then raises it where it can be seen.
        this.#parts[index] = err ? deflateRawSync(text, SLICE_OPTIONS) : deflated;
      }),
    );
    this.#running = Promise.all([this.#running, back]).then(() => undefined);
  }
}

/** What delivery needs. */
export interface LogDeliveryDeps {
  clock: Clock;
  random: Random;
  sink: LogObjectSink;
  account: string;
  region: string;
  intervalSeconds: number;
  /**
   * What-if: the share of entries left out of the log files, as ALB may (it "logs requests on a
   * best-effort basis"); 0 by default. Entries stay in the twin's ground truth.
   */
  dropShare?: number;
}


/** Buffers entries per LB node and interval and delivers them at each interval's end. */
export class AccessLogDelivery {
  #deps: LogDeliveryDeps;
  #lbs = new Map<string, LbLogs>();
  #batches = new Map<string, Batch>();
  #timer?: Timer;
  #delivered = 0;
  #closed = false;
  #dropRandom: Random;
  #dropped = 0;

  constructor(deps: LogDeliveryDeps) {
    this.#deps = deps;
    // Its own stream, so dropping does not shift the file names' random strings.
    this.#dropRandom = deps.random.fork('drop');
  }

  /** Entries left out of the log files (the `dropShare` what-if). */
  get dropped(): number {
    return this.#dropped;
  }

  get #intervalMs(): number {
    return this.#deps.intervalSeconds * 1000;
  }

  /** Log files written so far. */
  get delivered(): number {
    return this.#delivered;
  }

  /** A new load balancer: its resource id and its nodes' IPs; logging starts disabled (the ALB default). */
  register(loadBalancerArn: string, elb: string, nodeIps: Map<string, string>): void {
    this.#lbs.set(loadBalancerArn, { elb, nodeIps, target: { enabled: false, bucket: '', prefix: '' } });
  }

  /** The load balancer's access_logs.s3.* attributes changed; entries already buffered keep their destination. */
  configure(loadBalancerArn: string, target: AccessLogTarget): void {
    const lb = this.#lbs.get(loadBalancerArn);
    if (!lb) return;
    const before = lb.target;
    lb.target = { ...target };
    // Enabling writes the documented test file, as ALB does when it validates the bucket.
    if (target.enabled && (!before.enabled || target.bucket !== before.bucket || target.prefix !== before.prefix)) {
      const head = target.prefix ? `${target.prefix.replace(/\/+$/, '')}/` : '';
      this.#deps.sink.putObject(target.bucket, `${head}AWSLogs/${this.#deps.account}/ELBAccessLogTestFile`, Buffer.from('Enable AccessLog for ELB: ' + lb.elb + '\n'), 'text/plain');
    }
  }

  /** One entry from the LB node in `zone`; dropped when logging is off, and a `dropShare` of them always. */
  add(loadBalancerArn: string, zone: string, entry: AlbLogEntry): void {
    const lb = this.#lbs.get(loadBalancerArn);
    if (!lb || !lb.target.enabled || this.#closed) return;
    const dropShare = this.#deps.dropShare ?? 0;
    if (dropShare > 0 && this.#dropRandom.next() < dropShare) {
      this.#dropped++;
      return;
    }
    const interval = this.#intervalMs;
    const endTime = (Math.floor(entry.time / interval) + 1) * interval;
    const nodeIp = lb.nodeIps.get(zone) ?? '0.0.0.0';
    const key = `${lb.target.bucket}\n${lb.target.prefix}\n${lb.elb}\n${nodeIp}\n${endTime}`;
    let batch = this.#batches.get(key);
    if (!batch) {
      batch = { bucket: lb.target.bucket, prefix: lb.target.prefix, elb: lb.elb, nodeIp, endTime, body: new GzipBuilder() };
      this.#batches.set(key, batch);
    }
    batch.body.addLine(formatAlbLogLine(entry));
    this.#schedule();
  }

  /** Delivers every buffered batch now, whatever its interval (on twin shutdown), and stops the timer. */
  flush(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
    this.#deliver(Number.POSITIVE_INFINITY);
  }

  /** Flushes and refuses further entries. */
  close(): void {
    this.flush();
    this.#closed = true;
  }

  #schedule(): void {
    if (this.#timer || this.#closed) return;
    const now = this.#deps.clock.now();
    const next = Math.min(...[...this.#batches.values()].map((b) => b.endTime));
    this.#timer = this.#deps.clock.setTimeout(() => {
      this.#timer = undefined;
      this.#deliver(this.#deps.clock.now());
      if (this.#batches.size) this.#schedule();
    }, Math.max(0, next - now));
  }

  /** Writes the batches whose interval ended by `until`. Empty intervals write nothing: an entry makes a batch. */
  #deliver(until: number): void {
    const now = this.#deps.clock.now();
    for (const [key, batch] of [...this.#batches]) {
      if (batch.endTime > until) continue;
      this.#batches.delete(key);
      const objectKey = albLogObjectKey({
        prefix: batch.prefix,
        account: this.#deps.account,
        region: this.#deps.region,
        elb: batch.elb,
        endTime: batch.endTime,
        deliveredAt: now,
        nodeIp: batch.nodeIp,
        random: this.#randomString(),
      });
      // A bucket removed after logging was enabled: ALB's delivery fails; the twin's buckets never go away.
      if (!this.#deps.sink.bucketExists(batch.bucket)) continue;
      this.#deps.sink.putObject(batch.bucket, objectKey, batch.body.finish(), 'application/octet-stream');
      this.#delivered++;
    }
  }

  #randomString(): string {
    return randomChars(this.#deps.random, 8);
  }
}
