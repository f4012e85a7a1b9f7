/**
 * Throughput of the k6 path's NDJSON parser, and the built-in driver's cost per request.
 *
 *   node --import tsx bench/k6-parser.ts [--seconds 3] [--rate 2000] [--traffic-seconds 5]
 *
 * 1. Parser: the recorded k6 v0.48 outputs in fixtures/k6/ are decompressed into memory once and
 *    replayed through one K6OutputAggregator in 64 KiB chunks, many times over, for --seconds per
 *    fixture (at most 10 000 replays). Reports lines/s and MB/s; the goal is ≥ 100 000 lines/s
 *    (k6 writes ~13 lines per request, so that is ~7 500 req/s of k6 output on one core).
 * 2. Built-in driver: --rate req/s for --traffic-seconds against the test app (fixtures/app/server.mjs)
 *    in its own process on 127.0.0.1; reports requests per CPU-second of this process
 *    (process.cpuUsage: user + system) and its peak RSS.
 *
 * Prints Markdown tables. Traffic goes to 127.0.0.1 only; every loop is bounded in count and time.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { scaledClock } from '../harness/core/clock.ts';
import { projectRoot } from '../harness/core/paths.ts';
import { runBuiltinTraffic } from '../harness/traffic/builtin/driver.ts';
import { K6OutputAggregator } from '../harness/traffic/k6/parse.ts';

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const parseSeconds = Number(arg('seconds', '3'));
const rate = Number(arg('rate', '2000'));
const trafficSeconds = Number(arg('traffic-seconds', '5'));
const MAX_REPLAYS = 10_000;
const CHUNK = 64 * 1024;

console.log(`node ${process.version}, ${process.platform}-${process.arch}\n`);
console.log('## k6 NDJSON parser (recorded k6 v0.48 output, replayed in memory)\n');
console.log('| fixture | lines per replay | replays | lines/s | MB/s | requests/s of k6 output |');
console.log('|---|---|---|---|---|---|');
let worst = Infinity;
for (const name of ['mixed-status-v0.48.ndjson.gz', 'smoke-200-v0.48.ndjson.gz', 'sigint-inflight-v0.48.ndjson.gz']) {
  const data = gunzipSync(readFileSync(path.join(projectRoot, 'fixtures/k6', name)));
  const chunks: Buffer[] = [];
  for (let i = 0; i < data.length; i += CHUNK) chunks.push(data.subarray(i, i + CHUNK));
  // Warm up the JIT so the first fixture is not measured cold.
  for (let i = 0; i < 3; i++) {
    const warm = new K6OutputAggregator();
    for (const c of chunks) warm.write(c);
    warm.end();
  }
  const aggregator = new K6OutputAggregator();
  const started = performance.now();
  let replays = 0;
  while (replays < MAX_REPLAYS && performance.now() - started < parseSeconds * 1000) {
    for (const c of chunks) aggregator.write(c);
    replays++;
  }
  aggregator.end();
  const elapsed = (performance.now() - started) / 1000;
  const result = aggregator.result();
  const linesPerSecond = result.lines / elapsed;
  const requestsPerSecond = (result.pointsByMetric.http_reqs ?? 0) / elapsed;
  worst = Math.min(worst, linesPerSecond);
  console.log(
    `| ${name} | ${(result.lines / replays).toFixed(0)} | ${replays} | ${Math.round(linesPerSecond).toLocaleString('en')} | ${((data.length * replays) / elapsed / 1e6).toFixed(1)} | ${Math.round(requestsPerSecond).toLocaleString('en')} |`,
  );
}
console.log(`\nSlowest: ${Math.round(worst).toLocaleString('en')} lines/s (goal ≥ 100,000): ${worst >= 100_000 ? 'met' : 'NOT met'}.\n`);

console.log(`## Built-in driver: ${rate} req/s for ${trafficSeconds} s against one test-app process on loopback\n`);
const port = 19600 + (process.pid % 300);
const app = spawn(process.execPath, [path.join(projectRoot, 'fixtures/app/server.mjs')], {
  env: { ...process.env, HOST: '127.0.0.1', PORT: String(port), KEEPALIVE_TIMEOUT_MS: '65000', POD_NAME: 'bench', EXIT_WITH_PARENT: '1' },
  stdio: ['pipe', 'pipe', 'inherit'],
});
const killApp = () => app.exitCode === null && app.kill('SIGKILL');
process.on('exit', killApp);
try {
  await new Promise<void>((resolve, reject) => {
    const bound = setTimeout(() => reject(new Error('the test app did not start within 10 s')), 10_000);
    app.stdout!.on('data', (d: Buffer) => d.toString().includes('listening') && (clearTimeout(bound), resolve()));
    app.on('exit', (code) => reject(new Error(`the test app exited with ${code}`)));
  });
  const url = `http://127.0.0.1:${port}`;
  const plan = { url, rate, durationSeconds: trafficSeconds, timeoutSeconds: 5, mix: [{ path: '/', weight: 1 }] };
  // Warm-up: JIT and connection pool.
  await runBuiltinTraffic({ ...plan, durationSeconds: 1 }, { clock: scaledClock(1) });
  let peakRss = 0;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 100);
  const cpuBefore = process.cpuUsage();
  const wallBefore = performance.now();
  const result = await runBuiltinTraffic(plan, { clock: scaledClock(1) });
  const cpu = process.cpuUsage(cpuBefore);
  const wall = (performance.now() - wallBefore) / 1000;
  clearInterval(sampler);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  const answered = Object.values(result.byStatus).reduce((a, b) => a + b, 0);
  const errors = Object.values(result.networkErrors).reduce((a, b) => a + b, 0);
  console.log('| sent | planned | answered | network errors | cut at stop | wall s | CPU s (user+sys) | requests per CPU-second | peak RSS |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  console.log(
    `| ${result.sent} | ${result.planned} | ${answered} | ${errors} | ${result.cutAtStop.count} | ${wall.toFixed(2)} | ${cpuSeconds.toFixed(2)} | ${Math.round(result.sent / cpuSeconds).toLocaleString('en')} | ${(peakRss / 1024 / 1024).toFixed(0)} MiB |`,
  );
} finally {
  killApp();
}
