/** Reading the twin's ground truth and scoring inferred causes against it. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { acceptedCauses, readTruth, score } from '../../../harness/explain/truth.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'truth-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const rec = (time: number, elbStatus: number, reason?: string, extra: Record<string, unknown> = {}) => JSON.stringify({ type: 'request', time, lbNode: 'us-east-1a', method: 'GET', path: '/', target: '127.0.1.7:8080', targetState: 'healthy', elbStatus, ...(reason ? { reason } : {}), ...extra });

describe('readTruth', () => {
  it('keeps the 5xx in the window (of this User-Agent when records carry one), tolerating a half-written last line', async () => {
    const file = path.join(dir, 'a.log');
    writeFileSync(file, [rec(99, 502, 'connect-refused'), rec(100, 200), rec(100.5, 502, 'connect-refused'), rec(101, 503, 'no-routable-targets', { userAgent: 'other' }), rec(102, 504, 'connect-timeout', { userAgent: 'ua' }), '{"type":"request","time":103,"elbStatus":502,"rea'].join('\n'));
    const got = await readTruth(file, 100, 110, 'ua');
    expect(got.map((r) => [r.time, r.reason])).toEqual([
      [100.5, 'connect-refused'],
      [102, 'connect-timeout'],
    ]);
  });

  it('names the file and line of a broken record that is not the last', async () => {
    const file = path.join(dir, 'b.log');
    writeFileSync(file, [rec(1, 502, 'x'), '{"elbStatus":502,', rec(2, 502, 'y')].join('\n'));
    await expect(readTruth(file, 0, 10)).rejects.toThrow(`${file}:2: expected a JSON access-log record`);
  });
});

describe('score', () => {
  it('joins by trace id, else by time, path and target, and counts agreement with the accepted classes', () => {
    const truth = [
      { time: 1000.1, path: '/', target: '127.0.1.7:8080', elbStatus: 502, reason: 'connect-refused', traceId: 'T1' },
      { time: 1002, path: '/', target: '127.0.1.8:8080', elbStatus: 502, reason: 'keepalive-race' },
      { time: 1004, path: '/', target: '-', elbStatus: 503, reason: 'no-routable-targets' },
    ];
    const a = (t: number, target: string | null, cause: string, traceId: string | null = null, status = 502) => ({ t, status, path: '/', target, lbNode: 'n', traceId, cause, why: 'w' }) as Parameters<typeof score>[0][number];
    const s = score([a(5, '127.0.1.7:8080', 'routed-to-gone-pod', 'T1'), a(7.2, '127.0.1.8:8080', 'unknown'), a(9, null, 'no-healthy-target', null, 503), a(20, '127.0.1.9:8080', 'unknown'), a(30, null, 'before-alb')], truth, 995);
    expect(s).toMatchObject({ compared: 3, agreed: 2, share: 0.6667, unmatched: 1 });
    expect(s.disagreements).toEqual([{ t: 7.2, traceId: null, inferred: 'unknown', truth: '502 keepalive-race', accepted: ['keepalive-race', 'routed-after-sigterm'] }]);
    expect(acceptedCauses({ time: 0, path: '/', target: 'x', elbStatus: 502, reason: 'connect-refused', targetState: 'initial' })).toContain('registered-not-healthy');
  });
});
