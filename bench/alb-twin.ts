/**
 * Benchmark of the ALB twin's data plane: three pods on 127.0.41.x, an ALB twin at time scale 1,
 * and an open-model constant arrival rate (undici) at 500, 1000 and 2000 req/s for ~10 s each,
 * through the ALB and straight to one pod. Prints achieved rate and latency percentiles per run,
 * the latency the ALB adds, and a markdown table. The load generator runs in a worker thread
 * (this same file), so it does not share the twin's event loop, as k6 would not.
 *
 *   node --import tsx bench/alb-twin.ts [--seconds 10] [--rates 500,1000,2000]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { Agent, request } from 'undici';
import { scaledClock, type Clock } from '../harness/core/clock.ts';
import { seededRandom } from '../harness/core/random.ts';
import { createAlbTwin } from '../harness/twin/alb/twin.ts';
import type { AccessLogRecord } from '../harness/twin/alb/types.ts';
import { parseTwinConfig } from '../harness/twin/config.ts';
import { projectRoot } from '../harness/core/paths.ts';
import { Network } from '../harness/twin/network.ts';

interface Pod {
  host: string;
  port: number;
  child: ChildProcess;
}

interface RunResult {
  target: 'alb' | 'direct';
  rate: number;
  planned: number;
  sent: number;
  ok: number;
  failed: number;
  /** Requests not sent because too many were already in flight (the generator's bound). */
  skipped: number;
  achievedRate: number;
  p50: number;
  p90: number;
  p99: number;
  /** Event-loop utilization of the load generator's thread during the run (0–1). */
  generatorElu: number;
  /** Event-loop utilization of the twin's (main) thread during the run (0–1). */
  twinElu: number;
}

const args = process.argv.slice(2);
const option = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1] : fallback;
};
const SECONDS = Number(option('seconds', '10'));
const RATES = option('rates', '500,1000,2000').split(',').map(Number);
const MAX_IN_FLIGHT = 4000;

const appScript = path.join(projectRoot, 'fixtures/app/server.mjs');
const fallbackScript = path.join(projectRoot, 'test/helpers/alb-target-server.mjs');

/** Starts one pod: the test app when present, else the tests' tiny target server. */
async function startPod(host: string, name: string): Promise<Pod> {
  const useApp = existsSync(appScript);
  const child = useApp
    ? spawn(process.execPath, [appScript], {
        env: { ...process.env, HOST: host, PORT: '0', POD_NAME: name, EXIT_WITH_PARENT: '1' },
        stdio: ['pipe', 'pipe', 'inherit'],
      })
    : spawn(process.execPath, [fallbackScript, host, '5000', name], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! });
  const [line] = (await Promise.race([once(lines, 'line'), once(child, 'exit').then(() => [''])])) as [string];
  lines.close();
  const port = useApp ? Number(/listening [\d.]+:(\d+)/.exec(line)?.[1]) : (JSON.parse(line || '{}') as { port?: number }).port;
  if (!port) throw new Error(`Expected pod ${name} on ${host} to report its port, got ${JSON.stringify(line)}`);
  return { host, port, child };
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

interface DriveInput {
  url: string;
  rate: number;
  seconds: number;
  target: RunResult['target'];
}

/** Runs one load run in a worker thread. */
function drive(url: string, rate: number, seconds: number, target: RunResult['target']): Promise<RunResult> {
  const input: DriveInput = { url, rate, seconds, target };
  // Node 20 loads a worker's entry before `--import` hooks apply, so the worker registers tsx first.
  const entry = `import('tsx/esm/api').then((tsx) => tsx.register()).then(() => import(${JSON.stringify(import.meta.url)}))`;
  const worker = new Worker(entry, { eval: true, workerData: input });
  // Measured from the worker's first message, so its module loading does not count.
  let elu0 = performance.eventLoopUtilization();
  return new Promise<RunResult>((resolve, reject) => {
    worker.on('message', (message: 'started' | RunResult) => {
      if (message === 'started') elu0 = performance.eventLoopUtilization();
      else resolve({ ...message, twinElu: performance.eventLoopUtilization(elu0).utilization });
    });
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`Expected the load worker to report, got exit ${code}`)));
  });
}

/** Sends `rate` req/s for `seconds` at `url` (open model: arrivals do not wait for answers). */
async function generate(clock: Clock, { url, rate, seconds, target }: DriveInput): Promise<RunResult> {
  const agent = new Agent({ connections: 512, keepAliveTimeout: 30_000 });
  const planned = Math.round(rate * seconds);
  const latencies = new Float64Array(planned);
  let sent = 0;
  let done = 0;
  let ok = 0;
  let failed = 0;
  let skipped = 0;
  let inFlight = 0;
  let lastDone = 0;
  const start = performance.now();
  const elu0 = performance.eventLoopUtilization();
  const fire = () => {
    inFlight++;
    const t0 = performance.now();
    request(url, { dispatcher: agent })
      .then(async (res) => {
        await res.body.dump();
        if (res.statusCode < 400) ok++;
        else failed++;
      })
      .catch(() => failed++)
      .finally(() => {
        const now = performance.now();
        latencies[done++] = now - t0;
        lastDone = now;
        inFlight--;
      });
  };
  // Each millisecond, send what is due; `sleep` (unlike unref'd intervals) keeps the worker alive.
  while (sent + skipped < planned) {
    const due = Math.min(planned, Math.floor(((performance.now() - start) / 1000) * rate));
    while (sent + skipped < due) {
      if (inFlight >= MAX_IN_FLIGHT) skipped++;
      else {
        sent++;
        fire();
      }
    }
    await clock.sleep(1);
  }
  // Bounded drain: at most 10 s for the stragglers.
  const drainEnd = performance.now() + 10_000;
  while (inFlight > 0 && performance.now() < drainEnd) await clock.sleep(10);
  await agent.close();
  const elapsed = ((lastDone || performance.now()) - start) / 1000;
  const sorted = latencies.slice(0, done).sort();
  return {
    target,
    rate,
    planned,
    sent,
    ok,
    failed,
    skipped,
    achievedRate: ok / Math.max(elapsed, seconds),
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    generatorElu: performance.eventLoopUtilization(elu0).utilization,
    twinElu: NaN,
  };
}

async function main(): Promise<void> {
  const clock = scaledClock(1);
  const network = new Network();
  let records = 0;
  const lbErrors = new Map<string, number>();
  const accessLog = (r: AccessLogRecord) => {
    records++;
    if (r.reason && r.reason !== 'target-5xx') lbErrors.set(r.reason, (lbErrors.get(r.reason) ?? 0) + 1);
  };
  const config = parseTwinConfig({}).alb;
  const twin = createAlbTwin({ clock, random: seededRandom(1), config, region: 'us-east-1', network, accessLog });
  const pods: Pod[] = [];
  const cleanup = async () => {
    await twin.close();
    for (const pod of pods) {
      if (pod.child.exitCode === null && pod.child.signalCode === null) {
        process.kill(pod.child.pid!, 'SIGKILL');
        await once(pod.child, 'exit');
      }
    }
  };
  process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));
  try {
    pods.push(...(await Promise.all([1, 2, 3].map((i) => startPod(`127.0.41.${i}`, `bench-${i}`)))));
    const lb = await twin.createLoadBalancer({ name: 'bench', zones: ['us-east-1a', 'us-east-1b', 'us-east-1c'] });
    const tg = twin.createTargetGroup({ name: 'bench-tg', port: 8080 });
    await twin.createListener({ loadBalancerArn: lb.arn, port: 80, defaultTargetGroupArn: tg.arn });
    twin.registerTargets(tg.arn, pods.map((p) => ({ id: p.host, port: p.port })));
    const ready = () => lb.zones.every((z) => twin.nodeView(lb.arn, z).filter((r) => r.routable).length === pods.length);
    for (let i = 0; i < 100 && !ready(); i++) await clock.sleep(100);
    if (!ready()) throw new Error(`Expected all 3 pods routable within 10 s, got ${JSON.stringify(twin.describeTargetHealth(tg.arn))}`);
    console.log(`pods: ${pods.map((p) => `${p.host}:${p.port}`).join(', ')} (${existsSync(appScript) ? 'fixtures/app' : 'test target'}); ALB ${lb.listenerUrl}; ${SECONDS}s per run`);

    const direct = `http://${pods[0].host}:${pods[0].port}/`;
    // Warm both paths so connection set-up does not count.
    await drive(direct, 200, 1, 'direct');
    await drive(`${lb.listenerUrl}/`, 200, 1, 'alb');

    const results: RunResult[] = [];
    for (const rate of RATES) {
      for (const [target, url] of [
        ['direct', direct],
        ['alb', `${lb.listenerUrl}/`],
      ] as const) {
        const r = await drive(url, rate, SECONDS, target);
        results.push(r);
        console.log(
          `${target.padEnd(6)} ${String(rate).padStart(5)} req/s: achieved ${r.achievedRate.toFixed(1)} req/s (${((100 * r.ok) / r.planned).toFixed(2)} %), ` +
            `p50 ${r.p50.toFixed(2)} ms, p90 ${r.p90.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms, failed ${r.failed}, skipped ${r.skipped}, ` +
            `event-loop use: generator ${(100 * r.generatorElu).toFixed(0)} %, twin ${(100 * r.twinElu).toFixed(0)} %`,
        );
      }
    }

    const lines = [
      '| rate (req/s) | path | achieved (req/s) | achieved % | p50 (ms) | p90 (ms) | p99 (ms) | added p50 (ms) | added p99 (ms) |',
      '|---:|---|---:|---:|---:|---:|---:|---:|---:|',
    ];
    for (const rate of RATES) {
      const d = results.find((r) => r.rate === rate && r.target === 'direct')!;
      const a = results.find((r) => r.rate === rate && r.target === 'alb')!;
      for (const r of [d, a]) {
        const added = r === a ? [(a.p50 - d.p50).toFixed(2), (a.p99 - d.p99).toFixed(2)] : ['', ''];
        lines.push(
          `| ${rate} | ${r.target === 'alb' ? 'ALB twin → 3 pods' : 'direct → 1 pod'} | ${r.achievedRate.toFixed(1)} | ${((100 * r.ok) / r.planned).toFixed(2)} | ${r.p50.toFixed(2)} | ${r.p90.toFixed(2)} | ${r.p99.toFixed(2)} | ${added[0]} | ${added[1]} |`,
        );
      }
    }
    console.log(`\n${lines.join('\n')}\n`);
    const errors = [...lbErrors].map(([reason, n]) => `${reason} ${n}`).join(', ') || 'none';
    console.log(`access-log records: ${records}; LB-generated errors: ${errors}`);
  } finally {
    await cleanup();
  }
}

if (isMainThread) {
  main().catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
} else {
  parentPort!.postMessage('started');
  generate(scaledClock(1), workerData as DriveInput).then((result) => parentPort!.postMessage(result));
}
