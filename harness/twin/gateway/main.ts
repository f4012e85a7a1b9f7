/**
 * The ingress-controller emulation: the program a gateway pod (image `rollout-harness/ingress-nginx`)
 * runs. It lists and watches Ingresses, Services and EndpointSlices through the twin's API
 * (in-cluster env), writes nginx.conf in its own temp directory, starts a real nginx master as its
 * child on the pod's address, and after each change waits the sync lag, then rewrites the upstreams
 * from the ready endpoints and reloads nginx gracefully. `/healthz` on port 10254 answers the
 * readiness probe. SIGTERM (also what the `/wait-shutdown` preStop sends): nginx quits gracefully,
 * the controller waits for its master, then exits. Every timer runs on a clock scaled by TIME_SCALE.
 *
 * Flags: `--backends-sync-seconds=N` (model seconds, default DEFAULT_SYNC_SECONDS), `--tmp-dir=DIR`
 * (where the pod's own directory is made; default the system's).
 */
import http from 'node:http';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { scaledClock } from '../../core/clock.ts';
import { ACCESS_LOG, renderNginxConf } from './conf.ts';
import { inClusterFromEnv, startInformer } from './informer.ts';
import { klogLine } from './klog.ts';
import { buildModel, type GatewayModel } from './model.ts';
import { nginxAvailable, readFifo, startNginx, type NginxProcess } from './nginx.ts';
import { BackendSync, DEFAULT_SYNC_SECONDS } from './sync.ts';

/** The readiness port of ingress-nginx's controller (`--healthz-port`). */
const HEALTHZ_PORT = 10254;

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
// The access log reaches the pod's stdout (kubectl logs) line by line, as nginx writes it.
const stopAccessLog = await readFifo(path.join(dir, ACCESS_LOG), (line) => process.stdout.write(`${line}\n`));

let nginx: NginxProcess | undefined = undefined;
let shuttingDown = false;
let lastConf = '';
// A sync writes and reloads one at a time.
let syncing: Promise<void> = Promise.resolve();

const informers = [
  ['ingresses', '/apis/networking.k8s.io/v1/ingresses'],
  ['services', '/api/v1/services'],
  ['endpointslices', '/apis/discovery.k8s.io/v1/endpointslices'],
].map(([, p]) => startInformer({ api, clock, path: p, onChange: () => nginx && sync.changed(), log: (line) => log('W', 'store.go:420', line) }));
const [ingresses, services, slices] = informers;
const model = (): GatewayModel => buildModel(ingresses.items(), services.items(), slices.items());
const summary = (m: GatewayModel) => m.upstreams.map((u) => `${u.name}=${u.servers.join(',') || '(none)'}`).join(' ');

async function writeConf(m: GatewayModel): Promise<boolean> {
  const text = renderNginxConf(m, { dir, listen, timeScale, asRoot });
  if (text === lastConf) return false;
  await writeFile(files.conf, text);
  lastConf = text;
  return true;
}

const sync = new BackendSync(clock, syncSeconds * 1000, () => {
  syncing = syncing.then(async () => {
    if (shuttingDown || !nginx?.running) return;
    const m = model();
    if (!(await writeConf(m))) return;
    const complaint = await nginx.reload();
    if (complaint) {
      log('E', 'controller.go:205', 'Unexpected failure reloading the backend', { err: complaint });
      // The next change tries again, even if it leads back to this conf.
      lastConf = '';
    } else log('I', 'controller.go:213', 'Backend successfully reloaded', { upstreams: summary(m) });
  }).catch((error: Error) => {
    log('E', 'controller.go:205', 'Unexpected failure writing the backend', { err: error.message });
  });
});

await Promise.all(informers.map((i) => i.synced));
await writeConf(model());
nginx = startNginx(files);
log('I', 'nginx.go:320', 'Starting NGINX process', { pid: nginx.pid, listen: `${listen.host}:${listen.port}`, syncSeconds, upstreams: summary(model()) });
const running = nginx;

const healthz = http.createServer((req, res) => {
  const ok = running.running && !shuttingDown;
  res.writeHead(ok ? 200 : 500, { 'content-type': 'text/plain' });
  res.end(ok ? 'ok' : 'nginx is not running');
});
healthz.on('error', (error) => log('E', 'main.go:120', 'healthz server failed', { err: error.message }));
healthz.listen(HEALTHZ_PORT, listen.host);

function cleanup(): void {
  for (const i of informers) i.stop();
  sync.stop();
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
