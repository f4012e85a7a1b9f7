/**
 * The ingress-controller emulation: the program a gateway pod (image `rollout-harness/ingress-nginx`)
 * runs. It lists and watches Ingresses, Services and EndpointSlices through the twin's API
 * (in-cluster env), writes nginx.conf in its own temp directory, starts a real nginx master as its
 * child on the pod's address, and after each change waits the sync lag, then posts the ready
 * endpoints to nginx's Lua balancer (no reload), reloading nginx gracefully only when the conf
 * itself changes (an Ingress change), as ingress-nginx. `/healthz` on port 10254 answers the
 * readiness probe once nginx holds its first backends. SIGTERM (also what the `/wait-shutdown` preStop sends): nginx quits gracefully,
 * the controller waits for its master, then exits. Every timer runs on a clock scaled by TIME_SCALE.
 *
 * Flags: `--backends-sync-seconds=N` (model seconds, default DEFAULT_SYNC_SECONDS), `--tmp-dir=DIR`
 * (where the pod's own directory is made; default the system's).
 */
import http from 'node:http';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { scaledClock } from '../../core/clock.ts';
import { ACCESS_LOG, backendsJson, CONFIGURATION_PORT, renderNginxConf } from './conf.ts';
import { inClusterFromEnv, startInformer } from './informer.ts';
import { klogLine } from './klog.ts';
import { buildModel, type GatewayModel } from './model.ts';
import { nginxAvailable, postBackends, readFifo, startNginx, type NginxProcess } from './nginx.ts';
import { Reconciler } from './reconcile.ts';
import { BackendSync, DEFAULT_SYNC_SECONDS } from './sync.ts';

/** The readiness port of ingress-nginx's controller (`--healthz-port`). */
const HEALTHZ_PORT = 10254;
/** Model ms before a failed sync is tried again, and before the first one (ingress-nginx: "Initial sync, sleeping for 1 second", then 1 s back-off steps). */
const RETRY_MS = 1000;
/** Model ms a POST of the backends may take. */
const POST_TIMEOUT_MS = 5000;
/** The twin's Lua modules (balancer.lua, configuration.lua), beside this file. */
const LUA_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'lua');

const env = process.env;
// klog stamps lines with the machine's time, as nginx's $time_local is (kubectl logs --timestamps has the model time).
const wall = scaledClock(1);
const log = (level: 'I' | 'W' | 'E', source: string, message: string, kv?: Record<string, string | number>) =>
  process.stderr.write(`${klogLine(level, new Date(wall.now()), process.pid, source, message, kv)}\n`);

function fail(message: string): never {
  log('E', 'main.go:60', message);
  process.exit(1);
}

function flagOf(argv: string[], name: string): string | undefined {
  const flag = argv.find((a) => a.startsWith(`--${name}=`));
  return flag?.slice(name.length + 3);
}

function syncSecondsOf(argv: string[]): number {
  const text = flagOf(argv, 'backends-sync-seconds');
  if (text === undefined) return DEFAULT_SYNC_SECONDS;
  const value = Number(text);
  if (text === '' || !Number.isFinite(value) || value < 0) fail(`Expected --backends-sync-seconds to be a number ≥ 0, got ${JSON.stringify(text)}`);
  return value;
}

const timeScale = Number(env.TIME_SCALE ?? 1);
if (!(timeScale > 0)) fail(`Expected TIME_SCALE to be a positive number, got ${JSON.stringify(env.TIME_SCALE)}`);
const clock = scaledClock(timeScale);
const syncSeconds = syncSecondsOf(process.argv.slice(2));
const api = inClusterFromEnv(env);
if (typeof api === 'string') fail(api);
const found = await nginxAvailable();
if (!found.ok) fail(found.message);
const listen = { host: env.POD_IP || env.HOST || '127.0.0.1', port: Number(env.PORT || 80) };
const asRoot = process.getuid?.() === 0;
const tmpRoot = flagOf(process.argv.slice(2), 'tmp-dir') || os.tmpdir();
await mkdir(tmpRoot, { recursive: true });
const dir = await mkdtemp(path.join(tmpRoot, `${env.POD_NAME ?? 'pod'}-`));
// Workers run as nobody when the master is root: they must be able to enter the directory.
if (asRoot) await chmod(dir, 0o755);
const files = { binary: found.path, dir, conf: path.join(dir, 'nginx.conf') };
// The configuration server on the pod's own address, as ingress-nginx's status port; in the port
// mode every pod is on 127.0.0.1, so a socket in the pod's directory instead.
const configListen = listen.port === 80 ? `${listen.host}:${CONFIGURATION_PORT}` : `unix:${path.join(dir, 'configuration.sock')}`;
// The access log reaches the pod's stdout (kubectl logs) line by line, as nginx writes it.
const stopAccessLog = await readFifo(path.join(dir, ACCESS_LOG), (line) => process.stdout.write(`${line}\n`));

let nginx: NginxProcess | undefined = undefined;
let shuttingDown = false;
// A sync reloads or posts one at a time.
let syncing: Promise<void> = Promise.resolve();

const informers = [
  ['ingresses', '/apis/networking.k8s.io/v1/ingresses'],
  ['services', '/api/v1/services'],
  ['endpointslices', '/apis/discovery.k8s.io/v1/endpointslices'],
].map(([, p]) => startInformer({ api, clock, path: p, onChange: () => nginx && sync.changed(), log: (line) => log('W', 'store.go:420', line) }));
const [ingresses, services, slices] = informers;
const model = (): GatewayModel => buildModel(ingresses.items(), services.items(), slices.items());
const summary = (m: GatewayModel) => m.upstreams.map((u) => `${u.name}=${u.servers.join(',') || '(none)'}`).join(' ');
const confOf = (m: GatewayModel) => renderNginxConf(m, { dir, listen, configListen, luaDir: LUA_DIR, timeScale, asRoot });

// Made once the informers have synced, from the conf nginx starts with.
let reconciler: Reconciler | undefined = undefined;
let retry: ReturnType<typeof clock.setTimeout> | undefined;

/** One sync now (after the lag): reload only when the conf changed, else post the endpoints; a failure is tried again after RETRY_MS. */
function syncNow(): void {
  syncing = syncing
    .then(async () => {
      if (shuttingDown || !nginx?.running || !reconciler) return;
      const m = model();
      const outcome = await reconciler.apply(confOf(m), backendsJson(m), summary(m));
      if (outcome === 'failed' && !shuttingDown && !retry) {
        retry = clock.setTimeout(() => {
          retry = undefined;
          syncNow();
        }, RETRY_MS);
      }
    })
    .catch((error: Error) => {
      log('E', 'controller.go:205', 'Unexpected failure writing the backend', { err: error.message });
    });
}

const sync = new BackendSync(clock, syncSeconds * 1000, syncNow);

await Promise.all(informers.map((i) => i.synced));
const firstConf = confOf(model());
await writeFile(files.conf, firstConf);
// The conf nginx starts with is the reconciler's first: the first sync only posts the backends.
reconciler = new Reconciler(
  {
    async reload(conf) {
      if (!nginx?.running) return 'nginx is not running';
      await writeFile(files.conf, conf);
      return nginx.reload();
    },
    postBackends: (json) => postBackends(configListen, json, clock, POST_TIMEOUT_MS),
  },
  log,
  firstConf,
);
nginx = startNginx(files);
log('I', 'nginx.go:320', 'Starting NGINX process', { pid: nginx.pid, listen: `${listen.host}:${listen.port}`, configuration: configListen, syncSeconds, upstreams: summary(model()) });
const running = nginx;
// nginx takes a moment to listen: the first backends go after a pause, as ingress-nginx's first sync.
log('I', 'controller.go:227', 'Initial sync, sleeping for 1 second');
retry = clock.setTimeout(() => {
  retry = undefined;
  syncNow();
}, RETRY_MS);

const healthz = http.createServer((req, res) => {
  // ingress-nginx's health check also asks nginx /is-dynamic-lb-initialized: not ready before the first backends.
  const ok = running.running && !shuttingDown && reconciler?.initialized === true;
  res.writeHead(ok ? 200 : 500, { 'content-type': 'text/plain' });
  res.end(ok ? 'ok' : running.running ? 'dynamic load balancer not started' : 'nginx is not running');
});
healthz.on('error', (error) => log('E', 'main.go:120', 'healthz server failed', { err: error.message }));
healthz.listen(HEALTHZ_PORT, listen.host);

function cleanup(): void {
  for (const i of informers) i.stop();
  sync.stop();
  retry?.cancel();
  healthz.close();
}

// An exit of any kind takes nginx along (the synchronous hook can only signal).
process.on('exit', () => running.kill());

async function shutdown(why: string): Promise<void> {
  if (shuttingDown) return;
  shuttingDown = true;
  log('I', 'main.go:193', 'Received SIGTERM, shutting down', { reason: why });
  cleanup();
  running.quit();
  const exit = await running.exited;
  stopAccessLog();
  log('I', 'nginx.go:380', 'NGINX process has stopped', { exitCode: exit.code ?? exit.signal ?? '' });
  await rm(dir, { recursive: true, force: true });
  log('I', 'main.go:201', 'Exiting', { code: 0 });
  process.exit(0);
}

process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
// The twin ends its pods' stdin when it exits: go with it, nginx included.
if (env.EXIT_WITH_PARENT === '1') {
  process.stdin.on('end', () => {
    running.kill();
    void rm(dir, { recursive: true, force: true }).finally(() => process.exit(0));
  });
  process.stdin.resume();
}
void running.exited.then(async (exit) => {
  if (shuttingDown) return;
  log('E', 'nginx.go:350', 'NGINX process exited unexpectedly', { code: exit.code ?? exit.signal ?? '' });
  cleanup();
  await rm(dir, { recursive: true, force: true });
  process.exit(1);
});
