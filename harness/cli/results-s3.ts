/**
 * The composition root's side of `--results-s3` and of `s3://` runs: the S3 client (the default
 * credential chain; the region from AWS_REGION/AWS_DEFAULT_REGION/the profile; the endpoint from
 * AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL, as the twin's env file sets them), and reading a run
 * from S3 (downloaded into a temporary directory, read and validated as any run, the copy removed).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { readRun, type LoadedRun } from '../orchestrator/run-dir.ts';
import { downloadRun } from '../orchestrator/results-s3.ts';
import { resolveRegion } from '../platform/aws-region.ts';
import type { ResultsStore } from '../platform/ports.ts';
import { createS3Adapter } from '../platform/s3/adapter.ts';

/** The S3 client for results, from the environment. */
export async function resultsStore(env: Record<string, string | undefined> = process.env): Promise<ResultsStore> {
  const { region } = await resolveRegion(undefined, env);
  const endpoint = env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL || undefined;
  return createS3Adapter({ region, ...(endpoint ? { endpoint } : {}) });
}

/** The run at `s3://bucket/prefix/RUN` (or `…/latest`), read and validated; its `dir` is the URL. */
export async function readS3Run(url: string, store?: ResultsStore): Promise<LoadedRun> {
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'rh-s3-run-'));
  try {
    const dir = await downloadRun(store ?? (await resultsStore()), url, tmp);
    return { ...(await readRun(dir)), dir: url };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
