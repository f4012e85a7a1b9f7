/**
 * Shards as users run them: two `run --shard I/2 --run-id lanes` processes in parallel (each on its
 * own embedded twin), uploading to S3 with `--results-s3`; `merge` of the shards read back from S3
 * gives the run of every cell of the spec and marks it `latest`; `report` and `compare` read it
 * from `s3://…/latest`. The S3 is the twin's (its AWS API server, in this process).
 */
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scaledClock } from '../../../harness/core/clock.ts';
import { seededRandom } from '../../../harness/core/random.ts';
import { expandCells } from '../../../harness/matrix/expand.ts';
import { loadSpec } from '../../../harness/matrix/load.ts';
import { readRun } from '../../../harness/orchestrator/run-dir.ts';
import { createAlbTwin, type AlbTwin } from '../../../harness/twin/alb/twin.ts';
import { S3Store } from '../../../harness/twin/aws/s3.ts';
import { startAwsApiServer, type AwsApiServer } from '../../../harness/twin/aws/server.ts';
import { parseTwinConfig } from '../../../harness/twin/config.ts';
import { Network } from '../../../harness/twin/network.ts';
import { memoryEc2 } from '../../helpers/aws-api-fixture.ts';
import { BIN, writeQuietWorld } from '../../helpers/twin-up.ts';

let dir: string | undefined;
let alb: AlbTwin | undefined;
let api: AwsApiServer | undefined;
let store: S3Store;
let env: Record<string, string>;

const cli = (args: string[]) => execa(process.execPath, [BIN, ...args], { env, reject: false, timeout: 240_000 });

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'rh-shards-'));
  const clock = scaledClock(1);
  alb = createAlbTwin({ clock, random: seededRandom(1), config: parseTwinConfig({}).alb, region: 'us-east-1', network: new Network() });
  store = new S3Store({ clock, buckets: ['results'] });
  api = await startAwsApiServer({ alb, ec2: memoryEc2([]), region: 'us-east-1', s3: store });
  env = { AWS_ENDPOINT_URL_S3: api.url, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'twin', AWS_SECRET_ACCESS_KEY: 'twin' };
  await writeFile(
    path.join(dir, 'spec.yaml'),
    stringify({
      name: 'lanes',
      // Two twins at once (one per shard) on a busy machine: at 0.1 a stall must last 0.5 real s to make a cell INVALID.
      target: { twin: { config: await writeQuietWorld(path.join(dir, 'world.yaml')), timeScale: 0.1 } },
      traffic: { driver: 'builtin', rate: 50, warmupSeconds: 4, cooldownSeconds: 2, timeoutSeconds: 10 },
      matrix: { readinessGate: [true, false], preStopSeconds: [5], terminationGracePeriodSeconds: [15], deregistrationDelaySeconds: [5] },
      disruptions: ['rollout'],
      explain: { enabled: false },
    }),
  );
}, 60_000);

afterAll(async () => {
  await api?.close();
  await alb?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('run --shard, merge, and results in S3', () => {
  it('refuses --results-s3 to a bucket the S3 does not have before the run starts (exit 3)', async () => {
    const results = path.join(dir!, 'refused');
    const r = await cli(['run', path.join(dir!, 'spec.yaml'), '--run-id', 'refused', '--results-dir', results, '--results-s3', 's3://no-such-bucket/nightly']);
    expect(r.exitCode, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/S3 listObjects\(no-such-bucket, nightly\/refused\/\) at http:\/\/127\.0\.0\.1:\d+: expected an answer, got 404 NoSuchBucket/);
    expect(existsSync(path.join(results, 'refused', 'run.json'))).toBe(false);
  });

  it('splits the cells over two parallel shards, merges them into the whole run, and compares it from s3://…/latest', async () => {
    const spec = path.join(dir!, 'spec.yaml');
    const results = path.join(dir!, 'results');
    const s3 = 's3://results/nightly';
    const shards = await Promise.all([1, 2].map((i) => cli(['run', spec, '--shard', `${i}/2`, '--run-id', 'lanes', '--results-dir', results, '--results-s3', s3])));
    for (const r of shards) expect(r.exitCode, r.stderr).toBe(0);
    const all = expandCells((await loadSpec(spec)).spec).map((c) => c.id);
    const parts = await Promise.all([1, 2].map((i) => readRun(path.join(results, `lanes.shard-${i}-of-2`))));
    expect(parts.map((p) => p.cells.length)).toEqual([1, 1]);
    expect(parts.flatMap((p) => p.cells.map((c) => c.id)).sort()).toEqual([...all].sort());
    // A shard is uploaded, but `latest` names only a whole run.
    expect(store.head('results', 'nightly/lanes.shard-1-of-2/run.json')).toBeDefined();
    expect(store.head('results', 'nightly/latest')).toBeUndefined();

    const merged = await cli(['merge', `${s3}/lanes.shard-1-of-2`, `${s3}/lanes.shard-2-of-2`, '--results-dir', results, '--results-s3', s3]);
    expect(merged.exitCode, merged.stderr).toBe(0);
    const run = await readRun(path.join(results, 'lanes'));
    expect(run.cells.map((c) => c.id)).toEqual(all);
    expect(run.record.shard).toBeUndefined();
    expect(merged.stdout).toContain('rollout-harness: lanes');
    expect((await store.get('results', 'nightly/latest'))!.body.toString()).toBe('lanes\n');

    const report = await cli(['report', `${s3}/latest`, '--format', 'json']);
    expect(report.exitCode, report.stderr).toBe(0);
    expect((JSON.parse(report.stdout) as { cells: Array<{ id: string }> }).cells.map((c) => c.id)).toEqual(all);
    const compared = await cli(['compare', `${s3}/latest`, path.join(results, 'lanes'), '--format', 'json']);
    expect(compared.exitCode, compared.stderr).toBe(0);
    expect(compared.stdout).toContain('"shared": 2');
  }, 300_000);
});
