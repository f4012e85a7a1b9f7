/**
 * Benchmark of the ALB twin's data plane beside nginx, on the same three pods (the test app on
 * 127.0.41.x with --latency-ms of app latency), in one run:
 *
 * - the ALB twin (in this process, at --time-scale, with its access-log sink and CloudWatch
 *   metrics as `twin up` runs them);
 * - nginx (Debian's package: one worker, keep-alive upstreams to the same pods, access log off),
 *   started by the bench from a config in a temp dir and stopped by PID;
 * - a bare Node proxy (node:http and an undici Pool per pod, round robin, nothing else): what a data
 *   plane on Node's HTTP stack costs before any of the twin's work;
 * - one pod direct;
 * - asked for by name (--targets), the paths over two worker processes of this one (node:cluster):
 *   `bare2`, the bare proxy in each, and `twin2`, a whole twin in each: what spreading a Node data
 *   plane over processes buys on this machine.
 *
 * Each is measured with wrk (-t2 -c32 -d8s, --rounds rounds, the targets interleaved) and with an
 * open-model constant arrival rate (undici, in a worker thread so it does not share the twin's
 * event loop, as k6 would not) at each of --rates for --seconds, after --warm-seconds unmeasured at that rate on the same
 * connections (a fresh client's first burst is connection set-up, not the pace). Prints one table: throughput,
 * p50/p99, the ratio to nginx and the goal (≥ 0.9× nginx's throughput, p99 ≤ 1.5× nginx's).
 *
 *   node --import tsx bench/alb-twin.ts [--tsx] [--rounds 2] [--wrk-seconds 8] [--rates 1000,2000 (0: none)] [--seconds 5] [--warm-seconds 1]
 *     [--latency-ms 5] [--time-scale 0.1] [--targets alb,bare,nginx,direct (nginx always; also twin2, bare2)]
 *
 * The bench runs compiled: it bundles itself with esbuild (packages left external, as the CLI's bundle
 * loads the twin) and runs that in a child process, so the twin is measured as `twin up` and the
 * embedded twin run it, not through the TypeScript loader (`--tsx` keeps the loader). Each path gets
 * a 2 s wrk run before the measured rounds (connections, pools, the JIT).
 *
 * nginx and wrk are installed with apt-get when missing (as root); otherwise the bench says what to run.
 * Traffic goes to 127.0.0.0/8 only; every run is bounded in count and time.
 */
import cluster, { type Worker as ClusterWorker } from 'node:cluster';
import { build } from 'esbuild';
import { execa } from 'execa';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import http from 'node:http';
import { Agent, Pool, request, type Dispatcher } from 'undici';
import { scaledClock, type Clock } from '../harness/core/clock.ts';
import { seededRandom } from '../harness/core/random.ts';
import { createAccessLogWriter } from '../harness/twin/alb/access-log.ts';
import { HOP_BY_HOP } from '../harness/twin/alb/data-plane.ts';
import { createAlbTwin, type AlbTwin } from '../harness/twin/alb/twin.ts';
import { S3Store } from '../harness/twin/aws/s3.ts';
import type { AccessLogRecord, LoadBalancerInfo } from '../harness/twin/alb/types.ts';
import { parseTwinConfig } from '../harness/twin/config.ts';
import { projectRoot } from '../harness/core/paths.ts';
import { Network } from '../harness/twin/network.ts';

type Target = 'alb' | 'twin2' | 'bare' | 'bare2' | 'nginx' | 'direct';
const LABEL: Record<Target, string> = {
  alb: 'twin ALB → 3 pods',
  twin2: 'twin ALB, 2 processes (a whole twin each) → 3 pods',
  bare: 'bare Node proxy → 3 pods',
  bare2: 'bare Node proxy, 2 processes → 3 pods',
  nginx: 'nginx (1 worker) → 3 pods',
  direct: 'one pod direct',
};

interface Pod {
  host: string;
  port: number;
  child: ChildProcess;
}

/** One measurement of one target. */
interface Measurement {
  target: Target;
  /** 'wrk' or the open model's rate. */
  load: string;
  throughput: number;
  p50: number;
  p99: number;
  /** Non-2xx/3xx answers and socket errors. */
  errors: number;
  /** CPU of the proxy (the twin or a bare proxy, user + system, every process of it) per request, µs; NaN for nginx, the pod, and the open model (its generator shares this process). */
  cpuPerRequest: number;
  note: string;
}

interface OpenResult {
  planned: number;
  sent: number;
  ok: number;
  failed: number;
  /** Requests not sent because too many were already in flight (the generator's bound). */
  skipped: number;
  achievedRate: number;
  p50: number;
  p99: number;
}

const args = process.argv.slice(2);
/** This file as esbuild's bundle (`runCompiled`), not the TypeScript source. */
const COMPILED = !import.meta.url.endsWith('.ts');
const option = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1] : fallback;
};
const ROUNDS = Number(option('rounds', '2'));
const WRK_SECONDS = Number(option('wrk-seconds', '8'));
const SECONDS = Number(option('seconds', '5'));
const WARM_SECONDS = Number(option('warm-seconds', '1'));
const RATES = option('rates', '1000,2000').split(',').map(Number).filter((r) => r > 0);
const LATENCY_MS = Number(option('latency-ms', '5'));
const TIME_SCALE = Number(option('time-scale', '0.1'));
const ALL_TARGETS: Target[] = ['alb', 'twin2', 'bare', 'bare2', 'nginx', 'direct'];
/** The paths over processes (twin2, bare2) answer a question of the architecture, asked for by name. */
const DEFAULT_TARGETS: Target[] = ['alb', 'bare', 'nginx', 'direct'];
const TARGETS = option('targets', DEFAULT_TARGETS.join(',')).split(',') as Target[];
const unknownTarget = TARGETS.find((t) => !ALL_TARGETS.includes(t));
if (unknownTarget !== undefined || !TARGETS.includes('nginx')) {
  console.error(`Expected --targets to be a comma-separated list of ${ALL_TARGETS.join(', ')} with nginx (the baseline) in it, got ${JSON.stringify(option('targets', ''))}`);
  process.exit(2);
}
const MAX_IN_FLIGHT = 4000;
/** Goals of issue 17: the twin's throughput ≥ 0.9× nginx's, its p99 ≤ 1.5× nginx's. */
const GOAL_THROUGHPUT = 0.9;
const GOAL_P99 = 1.5;

const appScript = path.join(projectRoot, 'fixtures/app/server.mjs');

/** Starts one pod: the test app with LATENCY_MS of real latency and a keep-alive longer than any proxy's idle timeout. */
async function startPod(host: string, name: string): Promise<Pod> {
  const child = spawn(process.execPath, [appScript], {
    env: { ...process.env, HOST: host, PORT: '0', POD_NAME: name, EXIT_WITH_PARENT: '1', TIME_SCALE: '1', LATENCY_MS: String(LATENCY_MS), KEEPALIVE_TIMEOUT_MS: '75000' },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! });
  const [line] = (await Promise.race([once(lines, 'line'), once(child, 'exit').then(() => [''])])) as [string];
  lines.close();
  child.stdout!.resume();
  const port = Number(/listening [\d.]+:(\d+)/.exec(line)?.[1]);
  if (!port) throw new Error(`Expected pod ${name} on ${host} to report 'listening <host>:<port>', got ${JSON.stringify(line)}`);
  return { host, port, child };
}

/** Kills a child we started, by PID, and waits (bounded) for it to exit. */
async function stopChild(clock: Clock, child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || !child.pid) return;
  const exited = once(child, 'exit');
  process.kill(child.pid, signal);
  const bound = new AbortController();
  const late = await Promise.race([exited.then(() => false), clock.sleep(clock.toModelMs(5000), bound.signal).then(() => true, () => false)]);
  bound.abort();
  if (late && child.exitCode === null && child.signalCode === null) {
    process.kill(child.pid, 'SIGKILL');
    await exited;
  }
}

/** A free port on 127.0.0.1 (the kernel's choice). */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Makes sure a Debian package's binary is there: installs the package as root, else says what to run. */
async function ensureInstalled(binary: string, pkg: string): Promise<void> {
  if (existsSync(binary)) return;
  const command = `apt-get install -y ${pkg}`;
  if (process.getuid?.() !== 0) throw new Error(`Expected ${binary} (Debian's ${pkg}), got none; run: sudo ${command}`);
  console.log(`${binary} is missing: running ${command}`);
  try {
    await execa('apt-get', ['install', '-y', pkg], { timeout: 300_000, stdio: 'inherit' });
  } catch (error) {
    throw new Error(`Expected '${command}' to install ${binary}, got: ${(error as Error).message.split('\n')[0]}; run: apt-get update && ${command}`, { cause: error });
  }
  if (!existsSync(binary)) throw new Error(`Expected '${command}' to install ${binary}, got no such file`);
}

/**
 * The ceiling of a data plane written on Node's HTTP stack: node:http in front of one undici Pool
 * per pod (as the twin's), round robin, hop-by-hop headers dropped (the twin's list), and nothing
 * else — no rules, LB nodes, target states, timers, access log or metrics. In this process, idle
 * while the others are measured (and in each worker of `bare2`, on `listenPort`).
 */
async function startBareProxy(pods: Array<{ host: string; port: number }>, listenPort = 0): Promise<{ url: string; close(): Promise<void> }> {
  const pools = pods.map((p) => new Pool(`http://${p.host}:${p.port}`, { pipelining: 1, headersTimeout: 0, bodyTimeout: 0 }));
  let next = 0;
  const server = http.createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
    const pool = pools[next++ % pools.length];
    const headers: Record<string, string | string[]> = {};
    for (const name in req.headers) if (!HOP_BY_HOP.has(name)) headers[name] = req.headers[name]!;
    req.resume();
    pool.dispatch(
      { path: req.url ?? '/', method: (req.method ?? 'GET') as Dispatcher.HttpMethod, headers },
      {
        // undici takes a handler for its newer API by onRequestStart.
        onRequestStart: () => undefined,
        onResponseStart: (_c, status, h) => {
          for (const name of HOP_BY_HOP) delete h[name];
          res.writeHead(status, h);
        },
        onResponseData: (_c, chunk) => {
          res.write(chunk);
        },
        onResponseEnd: () => {
          res.end();
        },
        onResponseError: (_c, err) => {
          if (res.headersSent) res.destroy(err);
          else res.writeHead(502).end();
        },
      },
    );
  });
  server.listen(listenPort, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await Promise.all(pools.map((p) => p.close()));
    },
  };
}

/** Processes of the paths over processes (twin2, bare2): one per core of this machine's two. */
const CLUSTER_PROCESSES = 2;

/** nginx as a reverse proxy to the pods: one worker, keep-alive upstreams, everything in `dir`. */
function nginxConfig(dir: string, port: number, pods: Pod[]): string {
  return `worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
worker_rlimit_nofile 16384;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream pods {
${pods.map((p) => `    server ${p.host}:${p.port};`).join('\n')}
    keepalive 64;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://pods;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
`;
}

/** Waits (bounded, on the clock) until something accepts connections on 127.0.0.1:`port`. */
async function waitListening(clock: Clock, port: number, what: string, alive: () => boolean): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (!alive()) throw new Error(`Expected ${what} to listen on 127.0.0.1:${port}, got an exited process`);
    const up = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ host: '127.0.0.1', port }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (up) return;
    await clock.sleep(clock.toModelMs(50));
  }
  throw new Error(`Expected ${what} to listen on 127.0.0.1:${port} within 5 s, got connection refused`);
}

/** '5.43ms' → 5.43 (ms). */
function wrkMs(value: string | undefined): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(value ?? '');
  if (!m) return NaN;
  return Number(m[1]) * { us: 0.001, ms: 1, s: 1000, m: 60_000 }[m[2] as 'us' | 'ms' | 's' | 'm'];
}

/** CPU seconds (user + system) of other processes of ours, from /proc/<pid>/stat (fields 14 and 15, in clock ticks). */
async function cpuSecondsOf(pids: number[]): Promise<number> {
  let ticks = 0;
  for (const pid of pids) {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    ticks += Number(fields[11]) + Number(fields[12]);
  }
  return ticks / CLOCK_TICKS;
}

/** The worker processes of the paths over processes (this process is their primary), for their CPU per request. */
const clusterPids: Partial<Record<Target, number[]>> = {};
/** /proc's clock ticks per second (USER_HZ). */
let CLOCK_TICKS = 100;

/** One wrk run (closed model: 32 connections, each sends when the last answer came). */
async function runWrk(target: Target, url: string, seconds = WRK_SECONDS): Promise<Measurement> {
  const cpu0 = process.cpuUsage();
  const childPids = clusterPids[target] ?? [];
  const childCpu0 = await cpuSecondsOf(childPids);
  const wrk = await execa('wrk', ['-t2', '-c32', `-d${seconds}s`, '--latency', url], { timeout: (seconds + 30) * 1000 });
  const out = wrk.stdout;
  const throughput = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  if (!Number.isFinite(throughput)) throw new Error(`Expected wrk to print Requests/sec for ${url}, got:\n${out}`);
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const errors = non2xx + (socketErrors ? socketErrors.slice(1).reduce((a, b) => a + Number(b), 0) : 0);
  const cpu = process.cpuUsage(cpu0);
  const requests = Number(/(\d+) requests in/.exec(out)?.[1]);
  const childCpu = ((await cpuSecondsOf(childPids)) - childCpu0) * 1e6;
  // The paths over processes: their workers, and this process, their primary (it accepts and hands over the connections).
  const cpuPerRequest = target === 'nginx' || target === 'direct' ? NaN : (cpu.user + cpu.system + childCpu) / requests;
  return { target, load: 'wrk', throughput, p50: wrkMs(/^\s+50%\s+(\S+)/m.exec(out)?.[1]), p99: wrkMs(/^\s+99%\s+(\S+)/m.exec(out)?.[1]), errors, cpuPerRequest, note: '' };
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

interface DriveInput {
  url: string;
  rate: number;
  seconds: number;
  /** Unmeasured seconds at `rate` first, on the same connections: set-up and the first burst do not count. */
  warmSeconds: number;
}

/** Runs one open-model run in a worker thread. */
function drive(url: string, rate: number, seconds: number): Promise<OpenResult> {
  const input: DriveInput = { url, rate, seconds, warmSeconds: WARM_SECONDS };
  // Node 20 loads a worker's entry before `--import` hooks apply, so a worker of the TypeScript source registers tsx first.
  const entry = `import('tsx/esm/api').then((tsx) => tsx.register()).then(() => import(${JSON.stringify(import.meta.url)}))`;
  const worker = COMPILED ? new Worker(new URL(import.meta.url), { workerData: input }) : new Worker(entry, { eval: true, workerData: input });
  return new Promise<OpenResult>((resolve, reject) => {
    worker.on('message', (message: OpenResult) => resolve(message));
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`Expected the load worker to report, got exit ${code}`)));
  });
}

/** What one open-model phase counted. */
interface Phase {
  planned: number;
  sent: number;
  done: number;
  ok: number;
  failed: number;
  skipped: number;
  latencies: Float64Array;
  start: number;
  lastDone: number;
}

/** Sends `rate` req/s for `seconds` at `url` through `agent` (open model: arrivals do not wait for answers), then waits (bounded) for the answers. */
async function openPhase(clock: Clock, agent: Agent, url: string, rate: number, seconds: number): Promise<Phase> {
  const planned = Math.round(rate * seconds);
  const phase: Phase = { planned, sent: 0, done: 0, ok: 0, failed: 0, skipped: 0, latencies: new Float64Array(planned), start: performance.now(), lastDone: 0 };
  let inFlight = 0;
  const fire = () => {
    inFlight++;
    const t0 = performance.now();
    request(url, { dispatcher: agent })
      .then(async (res) => {
        await res.body.dump();
        if (res.statusCode < 400) phase.ok++;
        else phase.failed++;
      })
      .catch(() => phase.failed++)
      .finally(() => {
        const now = performance.now();
        phase.latencies[phase.done++] = now - t0;
        phase.lastDone = now;
        inFlight--;
      });
  };
  // Each millisecond, send what is due; `sleep` (unlike unref'd intervals) keeps the worker alive.
  while (phase.sent + phase.skipped < planned) {
    const due = Math.min(planned, Math.floor(((performance.now() - phase.start) / 1000) * rate));
    while (phase.sent + phase.skipped < due) {
      if (inFlight >= MAX_IN_FLIGHT) phase.skipped++;
      else {
        phase.sent++;
        fire();
      }
    }
    await clock.sleep(1);
  }
  // Bounded drain: at most 10 s for the stragglers.
  const drainEnd = performance.now() + 10_000;
  while (inFlight > 0 && performance.now() < drainEnd) await clock.sleep(10);
  return phase;
}

/**
 * One measurement: `warmSeconds` at the rate first, unmeasured, then `seconds` measured on the same
 * agent. A fresh client's first burst opens a connection per request (and the twin's pools to the
 * pods, idle-closed after the ALB idle timeout, reopen), which is connection set-up, not the data
 * plane's pace.
 */
async function generate(clock: Clock, { url, rate, seconds, warmSeconds }: DriveInput): Promise<OpenResult> {
  const agent = new Agent({ connections: 512, keepAliveTimeout: 30_000 });
  if (warmSeconds > 0) await openPhase(clock, agent, url, rate, warmSeconds);
  const p = await openPhase(clock, agent, url, rate, seconds);
  await agent.close();
  const elapsed = ((p.lastDone || performance.now()) - p.start) / 1000;
  const sorted = p.latencies.slice(0, p.done).sort();
  return { planned: p.planned, sent: p.sent, ok: p.ok, failed: p.failed, skipped: p.skipped, achievedRate: p.ok / Math.max(elapsed, seconds), p50: percentile(sorted, 50), p99: percentile(sorted, 99) };
}

const fmt = (n: number, digits = 0) => (Number.isFinite(n) ? n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : '–');

/** The table: every measurement of one load, with the ratio to nginx's figure of the same round. */
function table(measurements: Measurement[]): string {
  const lines = [
    '| load | path | throughput (req/s) | p50 (ms) | p99 (ms) | ÷ nginx: throughput | ÷ nginx: p99 | goal (≥ 0.9×, ≤ 1.5×) | errors | proxy CPU (µs/req) |',
    '|---|---|---:|---:|---:|---:|---:|---|---:|---:|',
  ];
  const loads = [...new Set(measurements.map((m) => m.load))];
  for (const load of loads) {
    const rows = measurements.filter((m) => m.load === load);
    // wrk rounds pair up by order: the nth ALB run is compared with the nth nginx run.
    const nginx = rows.filter((m) => m.target === 'nginx');
    const seen = new Map<Target, number>();
    for (const m of rows) {
      const n = seen.get(m.target) ?? 0;
      seen.set(m.target, n + 1);
      const base = nginx[Math.min(n, nginx.length - 1)];
      let ratios = ['', '', ''];
      if (m.target !== 'nginx' && base) {
        const tr = m.throughput / base.throughput;
        const pr = m.p99 / base.p99;
        const goal = m.target === 'alb' || m.target === 'twin2' ? (tr >= GOAL_THROUGHPUT && pr <= GOAL_P99 ? 'met' : `not met${tr < GOAL_THROUGHPUT ? ' (throughput)' : ''}${pr > GOAL_P99 ? ' (p99)' : ''}`) : '';
        ratios = [`${tr.toFixed(2)}×`, `${pr.toFixed(2)}×`, goal];
      }
      lines.push(`| ${load} | ${LABEL[m.target]} | ${fmt(m.throughput)} | ${fmt(m.p50, 2)} | ${fmt(m.p99, 2)} | ${ratios[0]} | ${ratios[1]} | ${ratios[2]} | ${m.errors}${m.note} | ${fmt(m.cpuPerRequest)} |`);
    }
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const clock = scaledClock(TIME_SCALE);
  await ensureInstalled('/usr/sbin/nginx', 'nginx');
  await ensureInstalled('/usr/bin/wrk', 'wrk');
  const network = new Network();
  // The twin as `twin up` runs it: its access log to a file, ALB log files delivered to S3, CloudWatch metrics.
  const stateDir = await mkdtemp(path.join(os.tmpdir(), 'rh-bench-alb-'));
  const accessLogFile = createAccessLogWriter(path.join(stateDir, 'access.log'), { clock });
  const s3 = new S3Store({ clock, buckets: ['bench-logs'], dir: path.join(stateDir, 's3') });
  let records = 0;
  const lbErrors = new Map<string, number>();
  const accessLog = (r: AccessLogRecord) => {
    accessLogFile.write(r);
    records++;
    if (r.reason && r.reason !== 'target-5xx') lbErrors.set(r.reason, (lbErrors.get(r.reason) ?? 0) + 1);
  };
  const config = parseTwinConfig({}).alb;
  const twin = createAlbTwin({ clock, random: seededRandom(1), config, region: 'us-east-1', network, accessLog, logSink: s3 });
  const pods: Pod[] = [];
  let nginx: ChildProcess | undefined;
  let nginxDir: string | undefined;
  let bare: Awaited<ReturnType<typeof startBareProxy>> | undefined;
  const clusters: Array<{ target: Target; stop(): Promise<number[]> }> = [];
  // One cleanup however many ask for it (Ctrl-C, the main path's finally, an uncaught throw); each
  // step runs whether or not an earlier one failed, and says what failed.
  let cleaning: Promise<void> | undefined;
  const cleanup = () =>
    (cleaning ??= (async () => {
      const step = async (what: string, fn: () => Promise<unknown> | undefined) => {
        try {
          await fn();
        } catch (error) {
          console.error(`cleanup, ${what}: ${(error as Error).message}`);
        }
      };
      await step('the ALB twin', () => twin.close());
      for (const c of clusters) {
        await step(`the ${c.target} workers`, async () => {
          const records = await c.stop();
          if (c.target === 'twin2' && records.length) console.log(`twin2's access-log records: ${records.join(' + ')}`);
        });
      }
      await step('the bare proxy', () => bare?.close());
      await step('the access log', () => accessLogFile.close());
      await step('s3', () => s3.close());
      await step('nginx', () => (nginx ? stopChild(clock, nginx, 'SIGTERM') : undefined));
      for (const pod of pods) await step(`pod ${pod.host}`, () => stopChild(clock, pod.child, 'SIGKILL'));
      await step('the temp dirs', () => Promise.all([rm(stateDir, { recursive: true, force: true }), nginxDir ? rm(nginxDir, { recursive: true, force: true }) : undefined]));
    })());
  // A listener that stays: with a `once` listener the process died in the middle of the cleanup,
  // killed by SIGINT once no listener was left (no exit event, status 130), its temp dirs left behind.
  process.on('SIGINT', () => void cleanup().then(() => process.exit(130)));
  // A throw outside main's own awaits (a request handler, a socket) still ends nginx and the pods.
  process.once('uncaughtException', (error) => {
    console.error(error);
    void cleanup().finally(() => process.exit(1));
  });
  try {
    pods.push(...(await Promise.all([1, 2, 3].map((i) => startPod(`127.0.41.${i}`, `bench-${i}`)))));

    nginxDir = await mkdtemp(path.join(os.tmpdir(), 'rh-bench-nginx-'));
    const nginxPort = await freePort();
    const conf = path.join(nginxDir, 'nginx.conf');
    await writeFile(conf, nginxConfig(nginxDir, nginxPort, pods));
    const proc = spawn('/usr/sbin/nginx', ['-g', 'daemon off;', '-p', nginxDir, '-e', path.join(nginxDir, 'error.log'), '-c', conf], { stdio: ['ignore', 'inherit', 'inherit'] });
    nginx = proc;
    await waitListening(clock, nginxPort, 'nginx', () => proc.exitCode === null && proc.signalCode === null);

    const lb = await setUpTwin(twin, clock, pods);
    bare = await startBareProxy(pods);
    const clusterUrls: Partial<Record<Target, string>> = {};
    if (TARGETS.includes('twin2') || TARGETS.includes('bare2')) CLOCK_TICKS = Number((await execa('getconf', ['CLK_TCK'])).stdout) || 100;
    for (const [target, kind] of [['twin2', 'twin'], ['bare2', 'bare']] as const) {
      if (!TARGETS.includes(target)) continue;
      const started = await startCluster(clock, kind, pods, path.join(stateDir, target));
      clusters.push({ target, stop: started.stop });
      clusterPids[target] = started.pids;
      clusterUrls[target] = await started.ready;
    }
    const urls: Record<Target, string> = {
      alb: `${lb.listenerUrl}/`,
      twin2: clusterUrls.twin2 ?? '',
      bare: bare.url,
      bare2: clusterUrls.bare2 ?? '',
      nginx: `http://127.0.0.1:${nginxPort}/`,
      direct: `http://${pods[0].host}:${pods[0].port}/`,
    };
    const overProcesses = (['twin2', 'bare2'] as const)
      .filter((t) => clusterUrls[t])
      .map((t) => `${t} ${clusterUrls[t]} (workers ${clusterPids[t]!.join(', ')}); `)
      .join('');
    console.log(
      `pods: ${pods.map((p) => `${p.host}:${p.port}`).join(', ')} (fixtures/app, ${LATENCY_MS} ms latency); ALB twin ${urls.alb} at time scale ${TIME_SCALE}; bare Node proxy ${urls.bare}; ` +
        `${overProcesses}nginx ${urls.nginx} (pid ${proc.pid}); ` +
        `wrk -t2 -c32 -d${WRK_SECONDS}s × ${ROUNDS} rounds; open model ${RATES.join(', ')} req/s × ${SECONDS} s, each after ${WARM_SECONDS} s unmeasured at its rate on the same connections`,
    );

    const targets = TARGETS;
    // Warm every path (first requests, connections, the JIT) before the measured rounds; each
    // open-model run warms its own connections.
    for (const t of targets) {
      await drive(urls[t], 200, 1);
      await runWrk(t, urls[t], 2);
    }

    const measurements: Measurement[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      for (const t of targets) {
        const m = await runWrk(t, urls[t]);
        measurements.push(m);
        console.log(`wrk round ${round} ${t.padEnd(6)}: ${fmt(m.throughput)} req/s, p50 ${fmt(m.p50, 2)} ms, p99 ${fmt(m.p99, 2)} ms, errors ${m.errors}${Number.isFinite(m.cpuPerRequest) ? `, proxy CPU ${fmt(m.cpuPerRequest)} µs/req` : ''}`);
      }
    }
    for (const rate of RATES) {
      for (const t of targets) {
        const r = await drive(urls[t], rate, SECONDS);
        const note = r.skipped ? ` (${r.skipped} not sent: ${MAX_IN_FLIGHT} in flight)` : '';
        measurements.push({ target: t, load: `open ${rate}/s`, throughput: r.achievedRate, p50: r.p50, p99: r.p99, errors: r.failed, cpuPerRequest: NaN, note });
        console.log(`open ${rate}/s ${t.padEnd(6)}: achieved ${fmt(r.achievedRate)} req/s (${((100 * r.ok) / r.planned).toFixed(2)} %), p50 ${fmt(r.p50, 2)} ms, p99 ${fmt(r.p99, 2)} ms, failed ${r.failed}${note}`);
      }
    }

    console.log(`\n${table(measurements)}\n`);
    const errors = [...lbErrors].map(([reason, n]) => `${reason} ${n}`).join(', ') || 'none';
    twin.flushAccessLogs();
    console.log(`ALB twin access-log records: ${records}; objects in S3: ${s3.list('bench-logs', { maxKeys: 1000 }).contents.length}; LB-generated errors: ${errors}`);
  } finally {
    await cleanup();
  }
}

/**
 * The bench's load balancer in `twin`: three LB nodes, a listener forwarding to the pods' target
 * group, access logs to the bucket bench-logs; resolves once every LB node routes to every pod.
 */
async function setUpTwin(twin: AlbTwin, clock: Clock, pods: Array<{ host: string; port: number }>): Promise<LoadBalancerInfo> {
  const config = parseTwinConfig({}).alb;
  const lb = await twin.createLoadBalancer({ name: 'bench', zones: ['us-east-1a', 'us-east-1b', 'us-east-1c'] });
  const tg = twin.createTargetGroup({ name: 'bench-tg', port: 8080 });
  await twin.createListener({ loadBalancerArn: lb.arn, port: 80, defaultTargetGroupArn: tg.arn });
  twin.modifyLoadBalancerAttributes(lb.arn, { 'access_logs.s3.enabled': 'true', 'access_logs.s3.bucket': 'bench-logs' });
  twin.registerTargets(tg.arn, pods.map((p) => ({ id: p.host, port: p.port })));
  // Registration, the first health checks and every LB node's propagation lag, all on the clock:
  // bounded by a generous multiple of what they can add up to.
  const { registrationTime, registrationLag, healthCheck } = config;
  const boundMs = 4 * 1000 * (registrationTime.tailMax + registrationLag.tailMax + healthCheck.intervalSeconds * (healthCheck.healthyThreshold + 1) + healthCheck.timeoutSeconds);
  const routable = () => lb.zones.every((z) => twin.nodeView(lb.arn, z).filter((r) => r.routable).length === pods.length);
  const deadline = clock.now() + boundMs;
  while (!routable() && clock.now() < deadline) await clock.sleep(Math.min(500, boundMs / 100));
  if (!routable()) {
    const views = Object.fromEntries(lb.zones.map((z) => [z, twin.nodeView(lb.arn, z)]));
    throw new Error(
      `Expected all ${pods.length} pods routable in every LB node within ${boundMs / 1000} model s, got health ${JSON.stringify(twin.describeTargetHealth(tg.arn))} and views ${JSON.stringify(views)}`,
    );
  }
  return lb;
}

/** What a worker of a path over processes gets from the bench (its environment). */
const CLUSTER_WORKER_ENV = 'RH_BENCH_CLUSTER_WORKER';

interface ClusterWorkerInput {
  kind: 'twin' | 'bare';
  /** The port every worker of the path listens on (each path its own: node:cluster shares a port 0 among all workers). */
  port: number;
  dir: string;
  pods: Array<{ host: string; port: number }>;
}

/**
 * A path over CLUSTER_PROCESSES processes (node:cluster; this process their primary, accepting and
 * handing connections round robin). `bare`: the bare proxy in each worker. `twin`: a whole twin in
 * each — its model, health checks, access log, log files and metrics — with the bench's load
 * balancer on the shared port; not a faithful twin (the workers' models do not know of each other),
 * but the twin's whole per-request work spread over processes: the most a data plane of one process
 * per LB node, whose processes would also keep one model in step, could reach.
 */
async function startCluster(clock: Clock, kind: ClusterWorkerInput['kind'], pods: Pod[], dir: string): Promise<{ pids: number[]; ready: Promise<string>; stop(): Promise<number[]> }> {
  const port = await freePort();
  const workers: ClusterWorker[] = [];
  const exited = new Map<ClusterWorker, Promise<unknown>>();
  for (let i = 1; i <= CLUSTER_PROCESSES; i++) {
    const input: ClusterWorkerInput = { kind, port, dir: path.join(dir, String(i)), pods: pods.map((p) => ({ host: p.host, port: p.port })) };
    const worker = cluster.fork({ [CLUSTER_WORKER_ENV]: JSON.stringify(input) });
    workers.push(worker);
    exited.set(worker, once(worker, 'exit'));
  }
  const reply = <T>(worker: ClusterWorker, key: string): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const onMessage = (message: Record<string, unknown>) => {
        if (key in message) resolve(message[key] as T);
        else if ('error' in message) reject(new Error(`Expected ${kind} worker ${worker.process.pid} to report ${key}, got: ${String(message.error)}`));
      };
      worker.on('message', onMessage);
      void exited.get(worker)!.then(() => reject(new Error(`Expected ${kind} worker ${worker.process.pid} to report ${key}, got its exit (${worker.process.exitCode ?? worker.process.signalCode})`)));
    });
  const bounded = async <T>(what: string, work: Promise<T>, realMs: number): Promise<T> => {
    const bound = new AbortController();
    try {
      return await Promise.race([
        work,
        clock.sleep(clock.toModelMs(realMs), bound.signal).then(
          () => Promise.reject(new Error(`Expected ${what} within ${realMs / 1000} s, got nothing`)),
          () => new Promise<never>(() => undefined),
        ),
      ]);
    } finally {
      bound.abort();
    }
  };
  const ready = bounded(
    `every ${kind} worker ready`,
    Promise.all(workers.map((w) => reply<string>(w, 'ready'))).then(() => `http://127.0.0.1:${port}/`),
    120_000,
  );
  ready.catch(() => undefined);
  return {
    pids: workers.map((w) => w.process.pid!),
    ready,
    async stop() {
      const records: number[] = [];
      for (const worker of workers) {
        if (worker.process.exitCode !== null || worker.process.signalCode !== null) continue;
        try {
          // Gone already (Ctrl-C reaches the whole process group): only its exit is left to wait for.
          if (!worker.isConnected()) {
            await bounded(`${kind} worker ${worker.process.pid} to exit`, exited.get(worker)!, 5_000);
            continue;
          }
          const stopped = reply<number>(worker, 'stopped');
          const sent = new Promise<never>((_resolve, reject) => worker.send('stop', (error: Error | null) => error && reject(error)));
          records.push(await bounded(`${kind} worker ${worker.process.pid} to stop`, Promise.race([stopped, sent]), 15_000));
          await bounded(`${kind} worker ${worker.process.pid} to exit`, exited.get(worker)!, 5_000);
        } catch (error) {
          if (worker.process.exitCode === null && worker.process.signalCode === null) worker.process.kill('SIGKILL');
          await exited.get(worker);
          // Ended by Ctrl-C while it was being asked to stop: nothing went wrong.
          if (worker.process.signalCode !== 'SIGINT') throw error;
        }
      }
      return records;
    },
  };
}

/** A worker of `startCluster`: starts its path, reports it ready, and on 'stop' closes everything and reports its access-log records (0 for the bare proxy). */
async function clusterWorker(): Promise<void> {
  const { kind, port, dir, pods } = JSON.parse(process.env[CLUSTER_WORKER_ENV]!) as ClusterWorkerInput;
  // Until its path is up, a stop has nothing to close (the primary removes the dir).
  let stop = () => Promise.resolve(0);
  process.on('message', (message) => {
    if (message !== 'stop') return;
    void stop()
      .then((records) => process.send!({ stopped: records }, () => process.exit(0)))
      .catch((error: Error) => process.send!({ error: error.message }, () => process.exit(1)));
  });
  try {
    if (kind === 'bare') {
      const bare = await startBareProxy(pods, port);
      stop = () => bare.close().then(() => 0);
    } else {
      const clock = scaledClock(TIME_SCALE);
      mkdirSync(dir, { recursive: true });
      const accessLogFile = createAccessLogWriter(path.join(dir, 'access.log'), { clock });
      const s3 = new S3Store({ clock, buckets: ['bench-logs'], dir: path.join(dir, 's3') });
      let records = 0;
      const accessLog = (r: AccessLogRecord) => {
        accessLogFile.write(r);
        records++;
      };
      const config = { ...parseTwinConfig({}).alb, listenerPort: port };
      const twin = createAlbTwin({ clock, random: seededRandom(1), config, region: 'us-east-1', network: new Network(), accessLog, logSink: s3 });
      stop = async () => {
        twin.flushAccessLogs();
        await twin.close();
        await accessLogFile.close();
        await s3.close();
        return records;
      };
      const lb = await setUpTwin(twin, clock, pods);
      if (lb.listenerUrl !== `http://127.0.0.1:${port}`) throw new Error(`Expected the twin's listener on port ${port}, got ${lb.listenerUrl}`);
    }
    process.send!({ ready: true });
  } catch (error) {
    process.send!({ error: (error as Error).message }, () => process.exit(1));
  }
}

/** Bundles this file to plain JavaScript beside node_modules and runs it in a child process; resolves to its exit code. */
async function runCompiled(): Promise<number> {
  const outDir = path.join(projectRoot, 'node_modules/.cache/rollout-harness-bench');
  mkdirSync(outDir, { recursive: true });
  const outfile = path.join(outDir, 'alb-twin.mjs');
  await build({ entryPoints: [fileURLToPath(import.meta.url)], bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', outfile, logLevel: 'error' });
  const child = spawn(process.execPath, [outfile, ...args], { stdio: 'inherit' });
  // A terminal's Ctrl-C reaches the child too, which ends nginx and the pods itself.
  process.on('SIGINT', () => undefined);
  const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
  return code ?? (signal === 'SIGINT' ? 130 : 1);
}

if (cluster.isWorker && process.env[CLUSTER_WORKER_ENV]) {
  void clusterWorker();
} else if (isMainThread && !COMPILED && !args.includes('--tsx')) {
  runCompiled().then(
    (code) => (process.exitCode = code),
    (err) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
} else if (isMainThread) {
  main().catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
} else {
  generate(scaledClock(1), workerData as DriveInput).then((result) => parentPort!.postMessage(result));
}
