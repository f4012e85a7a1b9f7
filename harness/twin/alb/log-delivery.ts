/**
 * Delivery of ALB access logs to S3 as the user guide describes it ("Access log files"): each LB
 * node buffers its entries and, once per interval (5 minutes by default), writes one gzip object
 * under `prefix/AWSLogs/<account>/elasticloadbalancing/<region>/yyyy/mm/dd/…` — only while the
 * load balancer's `access_logs.s3.*` attributes enable it. Intervals are aligned to multiples of
 * the interval in model time, as ALB's end-times are (…T2340Z holds 23:35–23:40).
 *
 * A file is compressed while its interval runs, 1 MB of lines at a time (`GzipBuilder`), so the
 * interval's end does not stop the data plane for one large compression.
 */
import { constants, crc32, deflateRawSync } from 'node:zlib';
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
 * Uncompressed text compressed at once: about 1 ms of level-1 deflate. Much smaller slices cost
 * more in all (each call sets up a deflate state), a whole interval at once stops the data plane.
 */
const SLICE_BYTES = 1024 * 1024;
/** RFC 1952 member header: magic, deflate, no flags, no mtime, no extra flags, OS unknown. */
const GZIP_HEADER = Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);

/**
 * One gzip member (RFC 1952) built a slice at a time: each slice is deflated on its own and ends
 * with a sync flush, so the slices concatenate into one deflate stream; the last one finishes it.
 * Any gunzip reads the result as one file.
 */
export class GzipBuilder {
  #parts: Buffer[] = [GZIP_HEADER];
  /** The slice being filled: lines are encoded straight into it (no joined string to encode). */
  #slice: LineBuffer;
  #crc = 0;
  #size = 0;

  /** `sliceBytes`: how much text gathers before it is compressed. */
  constructor(readonly sliceBytes = SLICE_BYTES) {
    this.#slice = new LineBuffer(sliceBytes);
  }

  /** Appends `line` and a newline; compresses what has gathered once it fills a slice. */
  addLine(line: string): void {
    this.#slice.add(line);
    if (this.#slice.length >= this.sliceBytes) this.#deflate(this.#slice.take(), constants.Z_SYNC_FLUSH);
  }

  /** The finished file. */
  finish(): Buffer {
    this.#deflate(this.#slice.take(), constants.Z_FINISH);
    const trailer = Buffer.alloc(8);
    trailer.writeUInt32LE(this.#crc >>> 0, 0);
    trailer.writeUInt32LE(this.#size % 2 ** 32, 4);
    return Buffer.concat([...this.#parts, trailer]);
  }

  #deflate(text: Buffer, flush: number): void {
    this.#crc = crc32(text, this.#crc);
    this.#size += text.length;
    // Level 1: a third of the CPU of the default level for a file 25 % larger; the format is the same.
    this.#parts.push(deflateRawSync(text, { finishFlush: flush, level: 1 }));
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
