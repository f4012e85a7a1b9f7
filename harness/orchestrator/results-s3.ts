/**
 * A run directory in S3 (`--results-s3 s3://bucket/prefix`): its files under `prefix/<run-id>/`,
 * uploaded as each cell finishes (only the files that changed, run.json last so a reader that sees
 * it sees the cells it lists), and `prefix/latest` naming the last complete run — so `compare
 * s3://…/latest RUN` compares tonight with last night without an artifact store. Reading
 * (`s3://…/RUN`, `s3://…/latest`) downloads the run into a local directory, read as any other.
 */
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError } from '../core/errors.ts';
import type { ResultsStore } from '../platform/ports.ts';
import { checkRunId } from './run-id.ts';

/** A bucket and a key prefix (no leading or trailing slash; may be empty). */
export interface S3Location {
  bucket: string;
  prefix: string;
}

/** The object that names the last complete run under a prefix. */
export const LATEST = 'latest';

/** True for an `s3://` address. */
export function isS3Url(text: string): boolean {
  return text.startsWith('s3://');
}

/** Parses `s3://bucket[/prefix]` (`flag` names it in the error). */
export function parseS3Url(url: string, flag: string): S3Location {
  const m = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(url);
  if (!m) throw new ConfigError(`${flag}: expected s3://bucket/prefix (a bucket name of 3–63 lowercase letters, digits, dots and hyphens), got "${url}"`);
  return { bucket: m[1], prefix: (m[2] ?? '').replace(/^\/+|\/+$/g, '') };
}

/** The key of `rel` (a path in the run directory, `/`-separated) of run `runId`. */
export function runKey(loc: S3Location, runId: string, rel: string): string {
  return [loc.prefix, runId, rel].filter(Boolean).join('/');
}

/**
 * The run's result files, relative, `/`-separated, sorted: those at the top (run.json, the reports,
 * comparison.md) and in `cells/`. Not the atomic writes' temp files, nor what else lives there (an
 * embedded twin's state and logs under `twin/`).
 */
async function filesOf(dir: string, sub = ''): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(path.join(dir, sub), { withFileTypes: true })) {
    const rel = sub ? `${sub}/${entry.name}` : entry.name;
    if (entry.isDirectory() && !sub && entry.name === 'cells') out.push(...(await filesOf(dir, rel)));
    else if (entry.isFile() && !entry.name.endsWith('.tmp')) out.push(rel);
  }
  return out.sort();
}

const CONTENT_TYPES: Record<string, string> = { '.json': 'application/json', '.md': 'text/markdown; charset=utf-8', '.html': 'text/html; charset=utf-8', '.xml': 'application/xml', '.log': 'text/plain; charset=utf-8' };

/** Uploads a run directory to S3 as it grows; `sync` sends what changed since the last call. */
export interface ResultsUploader {
  /** Uploads the files new or changed since the last sync (run.json last); returns how many. */
  sync(dir: string): Promise<number>;
  /** Makes `prefix/latest` name this run. */
  markLatest(): Promise<void>;
  /** Lists the run's prefix: a bucket that is not there or not readable fails here, before the run changes anything. */
  check(): Promise<void>;
  /** Where the run goes, as `s3://bucket/prefix/<run-id>/`. */
  readonly url: string;
}

/** An uploader of run `runId`'s directory to `loc`. */
export function resultsUploader(store: ResultsStore, loc: S3Location, runId: string): ResultsUploader {
  const sent = new Map<string, string>();
  return {
    url: `s3://${loc.bucket}/${runKey(loc, runId, '')}/`,
    async sync(dir) {
      const files = await filesOf(dir);
      // run.json last: whoever reads it finds every cell file it lists already there.
      const ordered = [...files.filter((f) => f !== 'run.json'), ...files.filter((f) => f === 'run.json')];
      let count = 0;
      for (const rel of ordered) {
        const file = path.join(dir, rel);
        const s = await stat(file);
        const version = `${s.size}:${s.mtimeMs}`;
        if (sent.get(rel) === version) continue;
        await store.putObject(loc.bucket, runKey(loc, runId, rel), await readFile(file), CONTENT_TYPES[path.extname(rel)] ?? 'application/octet-stream');
        sent.set(rel, version);
        count++;
      }
      return count;
    },
    async check() {
      await store.listObjects(loc.bucket, `${runKey(loc, runId, '')}/`);
    },
    async markLatest() {
      await store.putObject(loc.bucket, runKey(loc, LATEST, ''), new TextEncoder().encode(`${runId}\n`), 'text/plain; charset=utf-8');
    },
  };
}

/**
 * Downloads the run `s3://bucket/prefix/RUN` (or `…/latest`: the run `prefix/latest` names) into
 * `into/<run-id>/` and returns that directory.
 */
export async function downloadRun(store: ResultsStore, url: string, into: string): Promise<string> {
  const { bucket, prefix: full } = parseS3Url(url, url);
  const cut = full.lastIndexOf('/');
  const prefix = cut < 0 ? '' : full.slice(0, cut);
  const last = full.slice(cut + 1);
  if (!last) throw new ConfigError(`Expected s3://bucket/prefix/RUN or s3://bucket/prefix/${LATEST}, got "${url}"`);
  const loc = { bucket, prefix };
  let runId = last;
  if (last === LATEST) {
    let named: Uint8Array;
    try {
      named = await store.getObject(bucket, runKey(loc, LATEST, ''));
    } catch (error) {
      throw new ConfigError(`${url}: expected the object s3://${bucket}/${runKey(loc, LATEST, '')} naming the last run (run --results-s3 writes it), got ${(error as Error).message}`, [], { cause: error });
    }
    runId = new TextDecoder().decode(named).trim();
  }
  checkRunId(runId, url);
  const base = runKey(loc, runId, '');
  const objects = await store.listObjects(bucket, `${base}/`);
  if (!objects.length) throw new ConfigError(`${url}: expected a run's files under s3://${bucket}/${base}/, got no objects`);
  const dir = path.join(into, runId);
  for (const o of objects) {
    const rel = o.key.slice(base.length + 1);
    // Keys name files inside the run directory only.
    if (!rel || rel.split('/').some((part) => part === '' || part === '.' || part === '..')) throw new ConfigError(`${url}: expected keys of files in the run directory, got s3://${bucket}/${o.key}`);
    const file = path.join(dir, ...rel.split('/'));
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, await store.getObject(bucket, o.key));
  }
  return dir;
}
