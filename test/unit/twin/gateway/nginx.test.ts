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
  it('refuses without nginx, naming the Debian packages', async () => {
    const found = await nginxAvailable({ path: '/nonexistent', sbinDirs: [], luaFiles: [] });
    expect(found).toEqual({
      ok: false,
      message: "The gateway runs real nginx with ingress-nginx's Lua balancer: expected an nginx executable on PATH, got no nginx; install Debian's packages with `apt-get install nginx libnginx-mod-http-lua lua-resty-core`",
    });
  });

  it('refuses an nginx without the Lua module or lua-resty-core, naming the files and the packages', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'rh-nginx-'));
    dirs.push(dir);
    const bin = path.join(dir, 'nginx');
    await writeFile(bin, '#!/bin/sh\n');
    await chmod(bin, 0o755);
    const lua = path.join(dir, 'ngx_http_lua_module.so');
    const core = path.join(dir, 'resty-core.lua');
    const found = await nginxAvailable({ path: dir, sbinDirs: [], luaFiles: [lua, core] });
    expect(found).toEqual({
      ok: false,
      message: `The gateway runs real nginx with ingress-nginx's Lua balancer: expected its Lua balancer's ${lua}, ${core}, got no ngx_http_lua_module.so, no resty-core.lua; install Debian's packages with \`apt-get install nginx libnginx-mod-http-lua lua-resty-core\``,
    });
    await writeFile(lua, '');
    expect(await nginxAvailable({ path: dir, sbinDirs: [], luaFiles: [lua, core] })).toMatchObject({ ok: false, message: expect.stringContaining(`expected its Lua balancer's ${core}, got no resty-core.lua;`) });
    await writeFile(core, '');
    expect(await nginxAvailable({ path: dir, sbinDirs: [], luaFiles: [lua, core] })).toEqual({ ok: true, path: bin });
  });

  it('finds an executable nginx on PATH before the sbin directories, and skips one that is not executable', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'rh-nginx-'));
    dirs.push(dir);
    const bin = path.join(dir, 'nginx');
    await writeFile(bin, '#!/bin/sh\n');
    await chmod(bin, 0o644);
    expect((await nginxAvailable({ path: dir, sbinDirs: [], luaFiles: [] })).ok).toBe(false);
    await chmod(bin, 0o755);
    expect(await nginxAvailable({ path: `/nonexistent${path.delimiter}${dir}`, sbinDirs: ['/usr/sbin'], luaFiles: [] })).toEqual({ ok: true, path: bin });
  });
});
