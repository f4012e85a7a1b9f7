/**
 * The twin's S3 object store: the buckets the twin config lists, objects kept in memory and
 * written under `<stateDir>/s3/<bucket>/<key>` (so a run's directory keeps its access logs). Memory
 * is bounded: past `maxMemoryBytes`, the oldest bodies already on disk are dropped from memory
 * and read back from the file when asked for.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Clock } from '../../core/clock.ts';

/** One stored object's metadata. */
export interface S3ObjectInfo {
  key: string;
  size: number;
  /** Quoted MD5 hex, as S3 reports a single-part upload's ETag. */
  etag: string;
  /** Model ms. */
  lastModified: number;
  contentType: string;
}

interface StoredObject extends S3ObjectInfo {
  body?: Buffer;
  file?: string;
  /** Resolves when the file is written. */
  written?: Promise<void>;
}

/** A ListObjectsV2 page. */
export interface ListPage {
  contents: S3ObjectInfo[];
  commonPrefixes: string[];
  isTruncated: boolean;
  /** The last key or common prefix of the page, when truncated. */
  nextMarker?: string;
}

/** What the store needs. */
export interface S3StoreOptions {
  clock: Clock;
  buckets: string[];
  /** Where objects are written; none = memory only (tests). */
  dir?: string;
  maxMemoryBytes?: number;
}

/** The in-memory, disk-backed store behind the S3 API subset. */
export class S3Store {
  #clock: Clock;
  #buckets = new Map<string, Map<string, StoredObject>>();
  #dir?: string;
  #maxMemory: number;
  #inMemory = 0;
  /** Objects whose body is in memory, oldest first. */
  #resident: StoredObject[] = [];
  #pending = new Set<Promise<void>>();
  #errors: Error[] = [];

  constructor(options: S3StoreOptions) {
    this.#clock = options.clock;
    this.#dir = options.dir;
    this.#maxMemory = options.maxMemoryBytes ?? 64 * 1024 * 1024;
    for (const bucket of options.buckets) this.#buckets.set(bucket, new Map());
  }

  /** The bucket names, in config order. */
  buckets(): string[] {
    return [...this.#buckets.keys()];
  }

  bucketExists(bucket: string): boolean {
    return this.#buckets.has(bucket);
  }

  /** Stores (or replaces) an object; the file write runs in the background. */
  putObject(bucket: string, key: string, body: Buffer, contentType = 'binary/octet-stream'): void {
    const objects = this.#buckets.get(bucket);
    if (!objects) throw new Error(`Expected an existing bucket (${this.buckets().join(', ')}), got '${bucket}'`);
    const previous = objects.get(key);
    if (previous?.body) this.#release(previous);
    const stored: StoredObject = {
      key,
      size: body.length,
      etag: `"${createHash('md5').update(body).digest('hex')}"`,
      lastModified: this.#clock.now(),
      contentType,
      body,
    };
    objects.set(key, stored);
    this.#inMemory += body.length;
    this.#resident.push(stored);
    if (this.#dir) {
      const file = path.join(this.#dir, bucket, ...key.split('/').filter((p) => p && p !== '.' && p !== '..'));
      stored.file = file;
      const written = mkdir(path.dirname(file), { recursive: true })
        .then(() => writeFile(file, body))
        .catch((error: Error) => {
          // Keep the body in memory: it is the only copy.
          stored.file = undefined;
          this.#errors.push(error);
        });
      stored.written = written;
      this.#pending.add(written);
      void written.finally(() => {
        this.#pending.delete(written);
        this.#evict();
      });
    }
  }

  /** Metadata, or undefined when the key does not exist. */
  head(bucket: string, key: string): S3ObjectInfo | undefined {
    const o = this.#buckets.get(bucket)?.get(key);
    return o && { key: o.key, size: o.size, etag: o.etag, lastModified: o.lastModified, contentType: o.contentType };
  }

  /** The body (from memory, or read back from its file). */
  async get(bucket: string, key: string): Promise<{ info: S3ObjectInfo; body: Buffer } | undefined> {
    const o = this.#buckets.get(bucket)?.get(key);
    if (!o) return undefined;
    const info = this.head(bucket, key)!;
    if (o.body) return { info, body: o.body };
    return { info, body: await readFile(o.file!) };
  }

  /** Keys in lexical (UTF-8 binary) order after `after`, under `prefix`, grouped by `delimiter`. */
  list(bucket: string, query: { prefix?: string; after?: string; delimiter?: string; maxKeys: number }): ListPage {
    const objects = this.#buckets.get(bucket) ?? new Map<string, StoredObject>();
    const prefix = query.prefix ?? '';
    const keys = [...objects.keys()].filter((k) => k.startsWith(prefix) && (!query.after || compareKeys(k, query.after) > 0)).sort(compareKeys);
    const contents: S3ObjectInfo[] = [];
    const commonPrefixes: string[] = [];
    let last: string | undefined;
    for (const key of keys) {
      let entry: string = key;
      let isPrefix = false;
      if (query.delimiter) {
        const at = key.indexOf(query.delimiter, prefix.length);
        if (at >= 0) {
          entry = key.slice(0, at + query.delimiter.length);
          isPrefix = true;
        }
      }
      if (isPrefix && commonPrefixes.at(-1) === entry) continue;
      if (contents.length + commonPrefixes.length >= query.maxKeys) return { contents, commonPrefixes, isTruncated: true, nextMarker: last };
      if (isPrefix) {
        commonPrefixes.push(entry);
        // Everything under this prefix sorts before its successor: resume after the whole group.
        last = entry + '\u{10ffff}';
      } else {
        contents.push(this.head(bucket, key)!);
        last = key;
      }
    }
    return { contents, commonPrefixes, isTruncated: false };
  }

  /** Waits for the files being written; rejects with the first write error. */
  async close(): Promise<void> {
    await Promise.all([...this.#pending]);
    if (this.#errors.length) throw new Error(`Could not write S3 objects under ${this.#dir}: ${this.#errors[0].message}`, { cause: this.#errors[0] });
  }

  #release(o: StoredObject): void {
    if (!o.body) return;
    this.#inMemory -= o.body.length;
    o.body = undefined;
    const i = this.#resident.indexOf(o);
    if (i >= 0) this.#resident.splice(i, 1);
  }

  #evict(): void {
    for (let i = 0; this.#inMemory > this.#maxMemory && i < this.#resident.length; ) {
      const o = this.#resident[i];
      // Only bodies safely on disk can go.
      if (o.file && !this.#pending.has(o.written!)) this.#release(o);
      else i++;
    }
  }
}

/** S3 orders keys by their UTF-8 bytes. */
function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}
