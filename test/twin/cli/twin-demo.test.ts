/** `rollout-harness twin demo` as users run it: it shows the twin working, and stops by itself. */
import { execa } from 'execa';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../../../harness/core/paths.ts';

let dir: string | undefined;
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('twin demo', () => {
  it('shows pods, healthy targets, round robin through the ALB and a restart under load, then exits 0', async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'rh-demo-'));
    const r = await execa(process.execPath, [path.join(projectRoot, 'bin/rollout-harness.js'), 'twin', 'demo', '--state-dir', dir, '--rate', '50'], { reject: false, timeout: 120_000 });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout.match(/\| web-[a-z0-9]+-[a-z0-9]{5} \| node-\w+ +\| 127\.\d+\.\d+\.\d+ +\| true +\|/g)).toHaveLength(3);
    expect(r.stdout.match(/:8080 \| healthy \|/g)).toHaveLength(3);
    // Round robin: 30 requests over 3 pods.
    expect(r.stdout.match(/\| web-[a-z0-9]+-[a-z0-9]{5} \| 10 +\|/g)).toHaveLength(3);
    expect(r.stdout).toMatch(/600 requests sent, \d+ 5xx during the restart/);
  }, 150_000);
});
