/**
 * The Lua balancer on a real nginx (Debian's nginx, libnginx-mod-http-lua, lua-resty-core), no
 * twin: the conf the emulation writes, stand-in upstreams on 127.0.0.1, the backends posted to
 * the configuration server as the controller posts them. Before any post, and for a backend
 * without endpoints, 503; round robin among the posted endpoints; a refused endpoint retried on
 * the next (upstream_status "502, 200"); an endpoint change taken without a reload (the same
 * worker process serves before and after); the posted endpoints kept across a reload.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scaledClock } from '../../../harness/core/clock.ts';
import { ACCESS_LOG, backendsJson, renderNginxConf } from '../../../harness/twin/gateway/conf.ts';
import type { GatewayModel } from '../../../harness/twin/gateway/model.ts';
import { nginxAvailable, postBackends, readFifo, startNginx, type NginxProcess } from '../../../harness/twin/gateway/nginx.ts';
import { requirement } from '../../helpers/requirement.ts';

const found = await nginxAvailable();
const needsNginx = requirement("Debian's nginx with its Lua module", found.ok, 'apt-get install -y nginx libnginx-mod-http-lua lua-resty-core; .ci/run installs them');
const clock = scaledClock(1);
const LUA_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../../harness/twin/gateway/lua');

/** A free port on 127.0.0.1 (closed again: a connection to it is refused). */
async function freePort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as AddressInfo;
  await new Promise((resolve) => s.close(resolve));
  return port;
}

/** An upstream stand-in that answers its own name. */
async function upstream(name: string): Promise<{ server: http.Server; addr: string }> {
  const server = http.createServer((_req, res) => res.end(name));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, addr: `127.0.0.1:${(server.address() as AddressInfo).port}` };
}

let dir = '';
let nginx: NginxProcess | undefined;
let stopLog: (() => void) | undefined;
const upstreams: http.Server[] = [];
const log: string[] = [];
let url = '';
let configListen = '';
let a = '';
let b = '';
let refused = '';
const model = (servers: string[]): GatewayModel => ({ servers: [{ host: '_', routes: [{ path: '/', exact: false, upstream: 'shop-web-80' }] }], upstreams: [{ name: 'shop-web-80', servers }] });

/** GET / through nginx: status and body. */
async function get(): Promise<{ status: number; body: string }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  return { status: res.status, body: await res.text() };
}

/** The worker processes of the master (procfs). */
async function workers(): Promise<string> {
  return (await readFile(`/proc/${nginx!.pid}/task/${nginx!.pid}/children`, 'utf8')).trim();
}

/** The access-log lines of the last `n` requests, once nginx has written them. */
async function lastLines(n: number): Promise<string[]> {
  for (let i = 0; i < 100 && log.length < n; i++) await clock.sleep(10);
  return log.splice(0).slice(-n);
}

beforeAll(async () => {
  if (!needsNginx.run) return;
  needsNginx.check();
  if (!found.ok) return;
  dir = await mkdtemp(path.join(os.tmpdir(), 'rh-lua-'));
  const A = await upstream('a');
  const B = await upstream('b');
  upstreams.push(A.server, B.server);
  a = A.addr;
  b = B.addr;
  refused = `127.0.0.1:${await freePort()}`;
  const port = await freePort();
  configListen = `127.0.0.1:${await freePort()}`;
  url = `http://127.0.0.1:${port}/`;
  const files = { binary: found.path, dir, conf: path.join(dir, 'nginx.conf') };
  const asRoot = process.getuid?.() === 0;
  if (asRoot) await import('node:fs/promises').then((fs) => fs.chmod(dir, 0o755));
  await writeFile(files.conf, renderNginxConf(model([]), { dir, listen: { host: '127.0.0.1', port }, configListen, luaDir: LUA_DIR, timeScale: 1, asRoot }));
  stopLog = await readFifo(path.join(dir, ACCESS_LOG), (line) => log.push(line));
  nginx = startNginx(files);
  // Until nginx listens (bounded): a GET of the backends answers once the configuration server is up.
  for (let i = 0; i < 200; i++) {
    const up = await fetch(`http://${configListen}/configuration/backends`, { signal: AbortSignal.timeout(1_000) }).then((r) => r.ok, () => false);
    if (up) break;
    await clock.sleep(25);
  }
});

afterAll(async () => {
  nginx?.kill();
  if (nginx) await nginx.exited;
  stopLog?.();
  for (const s of upstreams) {
    s.closeAllConnections();
    s.close();
  }
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe.runIf(needsNginx.run)("ingress-nginx's Lua balancer on a real nginx", () => {
  it('answers 503 for the backend before any endpoint is posted', async () => {
    expect(await get()).toMatchObject({ status: 503 });
    const [line] = await lastLines(1);
    expect(line).toMatch(/" 503 \d+ .*\[shop-web-80\] \[\] - - - - [0-9a-f]{32}$/);
  });

  it('balances round robin among the posted endpoints and retries a refused one on the next, with no reload when they change', async () => {
    const before = await workers();
    expect(before).toMatch(/^\d+$/);
    expect(await postBackends(configListen, backendsJson(model([a, b].sort())), clock, 5_000)).toBeUndefined();
    const bodies = [];
    for (let i = 0; i < 4; i++) bodies.push((await get()).body);
    expect(new Set(bodies)).toEqual(new Set(['a', 'b']));
    expect(bodies[0]).not.toBe(bodies[1]);
    expect(bodies[2]).toBe(bodies[0]);
    await lastLines(4);

    // A gone endpoint (refused) beside a live one: every request answered 200, the ones sent to it retried.
    expect(await postBackends(configListen, backendsJson(model([a, refused].sort())), clock, 5_000)).toBeUndefined();
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await get()).status);
    expect(statuses).toEqual([200, 200, 200, 200]);
    const lines = await lastLines(4);
    const retried = lines.filter((l) => l.includes(`${refused}, ${a}`));
    expect(retried.length, lines.join('\n')).toBeGreaterThan(0);
    for (const l of retried) expect(l).toMatch(/ 502, 200 [0-9a-f]{32}$/);

    // Only b: every request to b, by the same worker (no reload started another).
    expect(await postBackends(configListen, backendsJson(model([b])), clock, 5_000)).toBeUndefined();
    for (let i = 0; i < 3; i++) expect(await get()).toEqual({ status: 200, body: 'b' });
    expect(await workers()).toBe(before);
  });

  it('keeps the posted endpoints across a reload (an Ingress change): the new worker balances with them at once', async () => {
    const before = await workers();
    expect(await nginx!.reload()).toBeUndefined();
    // The reload is done when another worker serves (bounded).
    for (let i = 0; i < 200 && (await workers()) === before; i++) await clock.sleep(10);
    expect(await workers()).not.toBe(before);
    for (let i = 0; i < 3; i++) expect(await get()).toEqual({ status: 200, body: 'b' });
  });

  it('answers 503 again when the backend has no endpoint, and refuses a body that is not the backends', async () => {
    expect(await postBackends(configListen, backendsJson(model([])), clock, 5_000)).toBeUndefined();
    expect((await get()).status).toBe(503);
    const refusal = await postBackends(configListen, '{"not":"backends"}', clock, 5_000);
    expect(refusal).toBe(`expected 201 from POST http://${configListen}/configuration/backends, got 400 expected a JSON array of backends`);
    // What nginx holds is unchanged.
    expect(await (await fetch(`http://${configListen}/configuration/backends`)).text()).toBe(backendsJson(model([])));
  });
});
