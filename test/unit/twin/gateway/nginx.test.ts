import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { nginxAvailable } from '../../../../harness/twin/gateway/index.ts';

const dirs: string[] = [];
afterEach(async () => {
  while (dirs.length) await rm(dirs.pop()!, { recursive: true, force: true });
});

describe('nginxAvailable', () => {
  it('refuses without nginx, naming the Debian package', async () => {
    const found = await nginxAvailable({ path: '/nonexistent', sbinDirs: [] });
    expect(found).toEqual({ ok: false, message: 'The gateway runs real nginx: expected an nginx executable on PATH, got none; install Debian\'s package with `apt-get install nginx`' });
  });

  it('finds an executable nginx on PATH before the sbin directories, and skips one that is not executable', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'rh-nginx-'));
    dirs.push(dir);
    const bin = path.join(dir, 'nginx');
    await writeFile(bin, '#!/bin/sh\n');
    await chmod(bin, 0o644);
    expect((await nginxAvailable({ path: dir, sbinDirs: [] })).ok).toBe(false);
    await chmod(bin, 0o755);
    expect(await nginxAvailable({ path: `/nonexistent${path.delimiter}${dir}`, sbinDirs: ['/usr/sbin'] })).toEqual({ ok: true, path: bin });
  });
});
