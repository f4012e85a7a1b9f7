/**
 * The built-in traffic driver: the highest open-model rate it sustains against one pod (the test
 * app on loopback) with ≥ 99 % of requests sent on time and exact accounting, compared with wrk's
 * closed-model maximum on the same endpoint; then its memory over a long run at 1000 req/s.
 *
 *   node --import tsx bench/builtin-driver.ts [--rates 1000,2000,3000,4000] [--seconds 10] [--soak-minutes 10]
 *
 * Prints Markdown tables. Traffic goes to 127.0.0.1 only; every loop is bounded.
 */
import { execa } from 'execa';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { scaledClock } from '../harness/core/clock.ts';
import { runBuiltinTraffic } from '../harness/traffic/builtin/driver.ts';
import { projectRoot } from '../harness/core/paths.ts';

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const rates = arg('rates', '1000,2000,3000,4000,5000').split(',').map(Number);
const seconds = Number(arg('seconds', '10'));
const soakMinutes = Number(arg('soak-minutes', '10'));
const port = 18600 + (process.pid % 1000);
const url = `http://127.0.0.1:${port}`;

const app = spawn(process.execPath, [path.join(projectRoot, 'fixtures/app/server.mjs')], {
  env: { ...process.env, HOST: '127.0.0.1', PORT: String(port), KEEPALIVE_TIMEOUT_MS: '65000', POD_NAME: 'bench' },
  stdio: ['pipe', 'pipe', 'inherit'],
});
const stop = () => app.kill('SIGKILL');
process.on('exit', stop);
await new Promise<void>((resolve, reject) => {
  app.stdout!.on('data', (d: Buffer) => d.toString().includes('listening') && resolve());
  app.on('exit', () => reject(new Error('the test app exited')));
});

const clock = scaledClock(1);
console.log(`Built-in driver against one test-app process at ${url}, ${seconds} s per rate (node ${process.version}).\n`);
// Warm up (JIT, connection pool) so the first rate is not measured cold.
await runBuiltinTraffic({ url, rate: 500, durationSeconds: 2, timeoutSeconds: 10, mix: [{ path: '/', weight: 1 }] }, { clock });
console.log('| target rate | sent | planned | achieved rate | sent in their scheduled second | accounted | non-2xx | network errors |');
console.log('|---|---|---|---|---|---|---|---|');
let best = 0;
for (const rate of rates) {
  const start = performance.now();
  const result = await runBuiltinTraffic({ url, rate, durationSeconds: seconds, timeoutSeconds: 10, mix: [{ path: '/', weight: 1 }] }, { clock });
  const sendWindow = (performance.now() - start) / 1000;
  const answered = Object.values(result.byStatus).reduce((a, b) => a + b, 0);
  const errors = Object.values(result.networkErrors).reduce((a, b) => a + b, 0);
  const non2xx = Object.entries(result.byStatus).filter(([s]) => !s.startsWith('2')).reduce((a, [, n]) => a + n, 0);
  // On schedule: each full second of the series should hold `rate` requests (buckets are by send time).
  const full = result.series.slice(0, seconds);
  const onTime = full.reduce((a, b) => a + Math.min(rate, Object.values(b.byStatus).reduce((x, y) => x + y, 0) + b.networkErrors), 0) / (rate * seconds);
  const accounted = answered + errors === result.sent;
  const ok = onTime >= 0.99 && accounted && errors === 0 && non2xx === 0;
  if (ok) best = Math.max(best, rate);
  console.log(`| ${rate} | ${result.sent} | ${result.planned} | ${(result.sent / sendWindow).toFixed(0)} /s | ${(onTime * 100).toFixed(2)} % | ${accounted ? 'yes' : 'NO'} | ${non2xx} | ${errors} |`);
}
console.log(`\nHighest rate with ≥ 99 % sent in their scheduled second, exact accounting and no errors: ${best || 'none'} req/s.`);

try {
  const wrk = await execa('wrk', ['-t2', '-c64', `-d${seconds}s`, '--latency', url], { timeout: (seconds + 30) * 1000 });
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(wrk.stdout)?.[1];
  const p50 = /50%\s+([\d.]+\w+)/.exec(wrk.stdout)?.[1];
  const p99 = /99%\s+([\d.]+\w+)/.exec(wrk.stdout)?.[1];
  console.log(`wrk -t2 -c64 -d${seconds}s (closed model, the endpoint's ceiling on this machine): ${rps} req/s, p50 ${p50}, p99 ${p99}.`);
} catch (error) {
  console.log(`wrk: not run (${(error as Error).message.split('\n')[0]}); install it with apt-get install wrk.`);
}

if (soakMinutes > 0) {
  console.log(`\nMemory of this process during ${soakMinutes} min at 1000 req/s (sampled every 30 s):\n`);
  console.log('| minute | rss MiB | heap used MiB | sent so far |');
  console.log('|---|---|---|---|');
  let sent = 0;
  const sample = clock.setInterval(() => {
    const m = process.memoryUsage();
    console.log(`| ${((performance.now() - soakStart) / 60000).toFixed(1)} | ${(m.rss / 2 ** 20).toFixed(1)} | ${(m.heapUsed / 2 ** 20).toFixed(1)} | ${sent} |`);
  }, 30_000);
  const soakStart = performance.now();
  const result = await runBuiltinTraffic(
    { url, rate: 1000, durationSeconds: soakMinutes * 60, timeoutSeconds: 10, mix: [{ path: '/', weight: 1 }] },
    { clock, onProgress: (p) => (sent = p.sent) },
  );
  sample.cancel();
  global.gc?.();
  const m = process.memoryUsage();
  const errors = Object.values(result.networkErrors).reduce((a, b) => a + b, 0);
  console.log(`| end | ${(m.rss / 2 ** 20).toFixed(1)} | ${(m.heapUsed / 2 ** 20).toFixed(1)} | ${result.sent} |`);
  console.log(`\nSoak: ${result.sent} sent of ${result.planned} planned, ${errors} network errors, statuses ${JSON.stringify(result.byStatus)}.`);
}
stop();
