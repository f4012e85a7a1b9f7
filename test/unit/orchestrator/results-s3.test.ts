/**
 * A run directory in S3: uploaded as it grows (only what changed, run.json last), `latest` naming
 * the last whole run, and read back — by id or through `latest` — as the same files.
 */
import { mkdtemp, readFile, rm, utimes, writeFile, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../../harness/core/errors.ts';
import { downloadRun, parseS3Url, resultsUploader } from '../../../harness/orchestrator/results-s3.ts';
import type { ResultsStore, StoredObject } from '../../../harness/platform/ports.ts';

/** An S3 stand-in: objects in a map, the order of puts recorded. */
function memoryStore(): ResultsStore & { puts: string[]; objects: Map<string, Uint8Array> } {
  const objects = new Map<string, Uint8Array>();
  const puts: string[] = [];
  return {
    puts,
    objects,
    async listObjects(bucket, prefix) {
      return [...objects.keys()].filter((k) => k.startsWith(`${bucket}/${prefix}`)).sort().map((k): StoredObject => ({ key: k.slice(bucket.length + 1), size: objects.get(k)!.length }));
    },
    async getObject(bucket, key) {
      const o = objects.get(`${bucket}/${key}`);
      if (!o) throw new Error(`NoSuchKey ${key}`);
      return o;
    },
    async putObject(bucket, key, body) {
      puts.push(key);
      objects.set(`${bucket}/${key}`, body);
    },
  };
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'rh-results-s3-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('parseS3Url', () => {
  it('reads a bucket and a prefix without slashes at its ends, and refuses what is not s3://bucket', () => {
    expect(parseS3Url('s3://nightly-results/staging/eu/', '--results-s3')).toEqual({ bucket: 'nightly-results', prefix: 'staging/eu' });
    expect(parseS3Url('s3://nightly-results', '--results-s3')).toEqual({ bucket: 'nightly-results', prefix: '' });
    expect(() => parseS3Url('https://x/y', '--results-s3')).toThrow(new ConfigError('--results-s3: expected s3://bucket/prefix (a bucket name of 3–63 lowercase letters, digits, dots and hyphens), got "https://x/y"'));
  });
});

describe('uploading a run directory', () => {
  it('sends each file once until it changes, run.json last, and reads the run back through latest', async () => {
    const run = path.join(dir, 'local', 'night');
    await mkdir(path.join(run, 'cells'), { recursive: true });
    await writeFile(path.join(run, 'run.json'), '{"v":1}');
    await writeFile(path.join(run, 'cells', 'a.json'), 'A');
    // A name after run.json's: run.json still goes last.
    await writeFile(path.join(run, 'summary.md'), 'S');
    await writeFile(path.join(run, 'cells', 'a.json.123.abcd.tmp'), 'half');
    await mkdir(path.join(run, 'twin'));
    await writeFile(path.join(run, 'twin', 'access.log'), 'an embedded twin\'s log: not a result');
    const store = memoryStore();
    const up = resultsUploader(store, parseS3Url('s3://results/staging', '--results-s3'), 'night');
    expect(up.url).toBe('s3://results/staging/night/');
    expect(await up.sync(run)).toBe(3);
    expect(store.puts).toEqual(['staging/night/cells/a.json', 'staging/night/summary.md', 'staging/night/run.json']);
    // A new cell and a rewritten run.json: only those go up, run.json again last.
    await writeFile(path.join(run, 'cells', 'b.json'), 'B');
    await writeFile(path.join(run, 'run.json'), '{"v":2}');
    await utimes(path.join(run, 'run.json'), new Date(), new Date(Date.now() + 5000));
    expect(await up.sync(run)).toBe(2);
    expect(store.puts.slice(3)).toEqual(['staging/night/cells/b.json', 'staging/night/run.json']);
    await up.markLatest();
    expect(new TextDecoder().decode(store.objects.get('results/staging/latest'))).toBe('night\n');
    const back = await downloadRun(store, 's3://results/staging/latest', path.join(dir, 'copy'));
    expect(back).toBe(path.join(dir, 'copy', 'night'));
    expect(await readFile(path.join(back, 'run.json'), 'utf8')).toBe('{"v":2}');
    expect(await readFile(path.join(back, 'cells', 'b.json'), 'utf8')).toBe('B');
  });

  it('refuses a run that is not there, a latest that is not there, and a key outside the run directory', async () => {
    const store = memoryStore();
    await expect(downloadRun(store, 's3://results/staging/night', dir)).rejects.toThrow('s3://results/staging/night: expected a run\'s files under s3://results/staging/night/, got no objects');
    await expect(downloadRun(store, 's3://results/staging/latest', dir)).rejects.toThrow('expected the object s3://results/staging/latest naming the last run (run --results-s3 writes it), got NoSuchKey staging/latest');
    await store.putObject('results', 'staging/night/../evil', new Uint8Array(1), 'x');
    await expect(downloadRun(store, 's3://results/staging/night', dir)).rejects.toThrow('expected keys of files in the run directory, got s3://results/staging/night/../evil');
  });
});
