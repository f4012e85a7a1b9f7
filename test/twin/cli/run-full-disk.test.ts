/**
 * `rollout-harness run` when the results disk fills up as the first cell's result is written (an
 * injected file system that fails as a full one does: part of the file, then ENOSPC): exit 3 with
 * one line that says which file and why, the measured table still on stdout, the settings restored,
 * and no temporary file left.
 */
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runCommand } from '../../../harness/cli/run.ts';
import { nodeFs, type WriteFs } from '../../../harness/core/files.ts';
import { testTwinConfig } from '../../helpers/twin.ts';

let dir: string;
let code: number;
const stdout: string[] = [];
const stderr: string[] = [];
const written: string[] = [];

/** The real file system until a cell's result is written; from then on every write stores 16 bytes and fails with ENOSPC. */
function fillsUpAtTheFirstCell(): WriteFs {
  let full = false;
  return {
    ...nodeFs,
    async writeFile(file, text) {
      if (file.includes(`${path.sep}cells${path.sep}`)) full = true;
      if (!full) return nodeFs.writeFile(file, text);
      written.push(file);
      await nodeFs.writeFile(file, text.slice(0, 16));
      throw Object.assign(new Error(`ENOSPC: no space left on device, write`), { code: 'ENOSPC', errno: -28, syscall: 'write' });
    },
  };
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'rh-full-'));
  await writeFile(path.join(dir, 'twin.yaml'), stringify(await testTwinConfig({ timeScale: 0.05 })));
  const spec = path.join(dir, 'spec.yaml');
  await writeFile(
    spec,
    stringify({
      name: 'full',
      target: { twin: { config: path.join(dir, 'twin.yaml') } },
      traffic: { driver: 'builtin', rate: 50, timeoutSeconds: 10, warmupSeconds: 5, cooldownSeconds: 2 },
      matrix: { readinessGate: [true], preStopSeconds: [10], terminationGracePeriodSeconds: [30], deregistrationDelaySeconds: [20] },
      disruptions: ['rollout'],
      explain: { enabled: false },
    }),
  );
  const spies = [
    vi.spyOn(console, 'log').mockImplementation((...args) => void stdout.push(args.join(' '))),
    vi.spyOn(console, 'error').mockImplementation((...args) => void stderr.push(`${args.map(String).join(' ')}\n`)),
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => stderr.push(String(chunk)) > 0),
  ];
  try {
    code = await runCommand(spec, { resultsDir: path.join(dir, 'results'), runId: 'full' }, { fs: fillsUpAtTheFirstCell() });
  } finally {
    for (const s of spies) s.mockRestore();
  }
}, 300_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('a results disk that fills up', () => {
  it('exits 3 with one line naming the file and ENOSPC, no stack trace', () => {
    expect(written.length, stderr.join('')).toBeGreaterThan(0);
    expect(code, stderr.join('')).toBe(3);
    const lines = stderr.join('').split('\n').filter((l) => l.startsWith('rollout-harness:'));
    expect(lines).toEqual([
      expect.stringMatching(/^rollout-harness: Could not write \/\S+\/cells\/rollout\.gate-on\.prestop-10\.grace-30\.dereg-20\.r1\.json: expected a writable file system, got ENOSPC \(no space left on device\); the table above is what was measured$/),
    ]);
    expect(stderr.join('')).not.toMatch(/\n\s+at \S+ \(/);
  });

  it('still prints the measured table on stdout', () => {
    const table = stdout.join('\n');
    expect(table).toMatch(/\| on +\| 10 +\| 30 +\| 20 +\| \d+/);
    expect(table).not.toContain('No cell was measured');
  });

  it('restores the settings and verifies them', () => {
    const log = stderr.join('');
    expect(log).toContain('Restoring the original settings');
    expect(log).toContain('deployment shop/web: preStop restored');
    expect(log).not.toContain('still differs');
    expect(log).not.toContain('could not all be verified');
  });

  it('leaves no temporary file behind', async () => {
    const files = await readdir(path.join(dir, 'results'), { recursive: true });
    expect(files.filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect(written.some((f) => f.endsWith('.tmp'))).toBe(true);
  });
});
