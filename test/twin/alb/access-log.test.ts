import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createAccessLogWriter } from '../../../harness/twin/alb/access-log.ts';
import type { AccessLogRecord } from '../../../harness/twin/alb/types.ts';

let dir: string | undefined;
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

const record = (i: number): AccessLogRecord => ({
  type: 'request',
  time: 1_700_000_000 + i / 1000,
  lbNode: i % 2 ? 'us-east-1a' : 'us-east-1b',
  method: 'GET',
  path: `/r/${i}`,
  target: '127.0.0.2:8080',
  targetState: 'healthy',
  targetControlState: i % 3 ? 'healthy' : 'draining',
  elbStatus: i % 7 ? 200 : 502,
  targetStatus: i % 7 ? 200 : null,
  requestProcessingTime: 0,
  targetProcessingTime: i % 7 ? 0.001 : -1,
  totalTime: 0.002,
  traceId: `Root=1-6553f100-${i.toString(16).padStart(24, '0')}`,
  client: '127.0.0.1:40000',
  userAgent: 'rollout-harness/test',
  ...(i % 7 ? {} : { reason: 'keepalive-race' as const }),
});

describe('createAccessLogWriter', () => {
  it('appends one JSON line per record, in order, and keeps what was there', async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'alb-log-'));
    const file = path.join(dir, 'access.log');
    const first = createAccessLogWriter(file);
    first.write(record(0));
    await first.close();
    const writer = createAccessLogWriter(file);
    for (let i = 1; i <= 5000; i++) writer.write(record(i));
    expect(writer.count).toBe(5000);
    await writer.close();
    const lines = (await readFile(file, 'utf8')).trimEnd().split('\n');
    expect(lines).toHaveLength(5001);
    const parsed = lines.map((l) => JSON.parse(l) as AccessLogRecord);
    expect(parsed.map((r) => r.path)).toEqual(Array.from({ length: 5001 }, (_, i) => `/r/${i}`));
    expect(parsed[7]).toEqual(record(7));
  });

  it('reports a file that cannot be written when closed', async () => {
    const writer = createAccessLogWriter('/nonexistent-dir/for/sure/access.log');
    writer.write(record(1));
    await expect(writer.close()).rejects.toThrow(/ENOENT/);
  });
});
