/**
 * The built-in traffic driver, in three parts:
 *
 * 1. Its cost per request: at 2,000 and 4,000 req/s for --seconds against one test-app process, the
 *    driver runs alone in a process of its own (bench/builtin-driver-child.ts), once compiled to
 *    plain JavaScript (esbuild, as a driver process would ship) and once through tsx (the harness's
 *    TypeScript loader); each row gives requests per CPU-second of the whole process (getrusage:
 *    user + system, every thread, start-up included) and its peak RSS, beside the goal and k6
 *    v0.48's figures (and per CPU-second from the first request to the last answer alone, the
 *    steady state without start-up), then the medians of the --repeats runs. k6 is not installed
 *    here, so its figures are the ones recorded in issue 17 (k6 v0.48 with --out json on the same
 *    kind of machine), not measured by this run.
 *    What the memory is: a bare Node process, an idle driver process of each kind (modules loaded,
 *    nothing sent) and what a run adds, split into V8's young and old generations, the
 *    per-request records, the series and the compilers' peak.
 * 2. The highest open-model rate it sustains against one pod with ≥ 99 % of requests sent on time
 *    and exact accounting (in this process), compared with wrk's closed-model maximum.
 * 3. Its memory over a long run at 1000 req/s.
 *
 *   node --import tsx bench/builtin-driver.ts [--seconds 10] [--repeats 1] [--rates 1000,2000,3000,4000] [--soak-minutes 10] [--efficiency-only]
 *
 * Prints Markdown tables. Traffic goes to 127.0.0.1 only; every loop is bounded.
 */
import { build } from 'esbuild';
import { execa } from 'execa';
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { loadavg } from 'node:os';
import path from 'node:path';
import { scaledClock } from '../harness/core/clock.ts';
import { runBuiltinTraffic } from '../harness/traffic/builtin/driver.ts';
import { projectRoot } from '../harness/core/paths.ts';
import type { ChildReport } from './builtin-driver-child.ts';

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const rates = arg('rates', '1000,2000,3000,4000,5000').split(',').map(Number);
const seconds = Number(arg('seconds', '10'));
const repeats = Number(arg('repeats', '1'));
const soakMinutes = Number(arg('soak-minutes', '10'));
const efficiencyOnly = process.argv.includes('--efficiency-only');
const port = 18600 + (process.pid % 1000);
const url = `http://127.0.0.1:${port}`;

/** Issue 17's goals and k6 v0.48's recorded figures (10 s, open model, one test-app process), by rate. */
const GOALS: Record<number, { perCpuSecond: number; k6PerCpuSecond: number }> = {
  2000: { perCpuSecond: 11_000, k6PerCpuSecond: 3_600 },
  4000: { perCpuSecond: 14_000, k6PerCpuSecond: 4_600 },
};
/** The goal, 110 MB, in the MiB this bench prints (110 × 10⁶ bytes = 104.9 MiB). */
const GOAL_RSS_MIB = 110e6 / 2 ** 20;
const K6_RSS = '89–100 MB';

const app = spawn(process.execPath, [path.join(projectRoot, 'fixtures/app/server.mjs')], {
  env: { ...process.env, HOST: '127.0.0.1', PORT: String(port), KEEPALIVE_TIMEOUT_MS: '65000', POD_NAME: 'bench', EXIT_WITH_PARENT: '1' },
  stdio: ['pipe', 'pipe', 'inherit'],
});
const stop = () => app.exitCode === null && app.kill('SIGKILL');
process.on('exit', stop);
await new Promise<void>((resolve, reject) => {
  const bound = setTimeout(() => reject(new Error('the test app did not start within 10 s')), 10_000);
  app.stdout!.on('data', (d: Buffer) => d.toString().includes('listening') && (clearTimeout(bound), resolve()));
  app.on('exit', (code) => reject(new Error(`the test app exited with ${code}`)));
});

const mib = (bytes: number) => bytes / 2 ** 20;
const fmt = (n: number) => Math.round(n).toLocaleString('en');

// The child compiled to one plain-JavaScript file beside node_modules (so undici resolves from it).
const outDir = path.join(projectRoot, 'node_modules/.cache/rollout-harness-bench');
mkdirSync(outDir, { recursive: true });
const compiled = path.join(outDir, 'builtin-driver-child.mjs');
await build({ entryPoints: [path.join(projectRoot, 'bench/builtin-driver-child.ts')], bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', outfile: compiled, logLevel: 'error' });
const kinds = [
  { name: 'compiled (plain node)', args: [compiled] },
  { name: 'tsx (the harness loader)', args: ['--import', 'tsx', path.join(projectRoot, 'bench/builtin-driver-child.ts')] },
];

/** Runs one child to its end (bounded: the plan plus a minute) and returns its report. */
async function runChild(args: string[], plan?: object): Promise<ChildReport> {
  const child = await execa(process.execPath, [...args, plan ? JSON.stringify(plan) : 'idle'], { cwd: projectRoot, timeout: (seconds + 90) * 1000 });
  return JSON.parse(child.stdout.trim().split('\n').at(-1)!) as ChildReport;
}

/** Runs `node -e` alone: the peak RSS and CPU of a Node process that loads nothing. */
async function bareNode(): Promise<{ peakRss: number; cpuSeconds: number }> {
  const child = await execa(process.execPath, ['-e', 'const u = process.resourceUsage(); console.log(JSON.stringify({ peakRss: u.maxRSS * 1024, cpuSeconds: (u.userCPUTime + u.systemCPUTime) / 1e6 }))'], { timeout: 30_000 });
  return JSON.parse(child.stdout) as { peakRss: number; cpuSeconds: number };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
const met = (ok: boolean) => (ok ? '(met)' : '(NOT met)');

console.log(`Built-in driver against one test-app process at ${url} (node ${process.version}, ${seconds} s per run, ${repeats} run(s) of each, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} at the start).\n`);
console.log('## Cost per request: the driver alone in its own process\n');
console.log('CPU is the whole driver process\'s (getrusage of the process itself: user + system, every thread, start-up included; not the test app, not child processes such as the esbuild that tsx runs on a cache miss); peak RSS is that process\'s. The goals are the driver\'s, so they are judged on the compiled rows; the tsx rows are the same code through the harness\'s TypeScript loader, whose start-up is in the table after this one. "Run alone" is per CPU-second from the first request to the last answer (start-up and module loading left out, JIT warm-up in).\n');
console.log(`k6 is not installed on this machine: its column holds k6 v0.48's figures recorded in issue 17, not figures of this run.\n`);
console.log('| rate | process | sent / planned | not 200 or failed | wall s | CPU s (user + sys) | requests per CPU-second | goal | k6 v0.48 | per CPU-second of the run alone | peak RSS | goal | k6 v0.48 |');
console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|');
const bare = await bareNode();
const idle = new Map<string, ChildReport>();
const busiest = new Map<string, ChildReport>();
const medians: string[] = [];
for (const kind of kinds) idle.set(kind.name, await runChild(kind.args));
for (const rate of [2000, 4000]) {
  const goal = GOALS[rate];
  const runs = new Map<string, ChildReport[]>(kinds.map((k) => [k.name, []]));
  for (let r = 0; r < repeats; r++) {
    for (const kind of kinds) {
      const plan = { url, rate, durationSeconds: seconds, timeoutSeconds: 10, mix: [{ path: '/', weight: 1 }] };
      const c = await runChild(kind.args, plan);
      runs.get(kind.name)!.push(c);
      if (c.peakRss > (busiest.get(kind.name)?.peakRss ?? 0)) busiest.set(kind.name, c);
      const cpu = c.userSeconds + c.systemSeconds;
      const perCpu = c.sent / cpu;
      const rss = mib(c.peakRss);
      console.log(
        `| ${rate} | ${kind.name} | ${c.sent} / ${c.planned} | ${c.non2xx + c.networkErrors + c.cut} | ${c.wallSeconds.toFixed(1)} | ${cpu.toFixed(2)} (${c.userSeconds.toFixed(2)} + ${c.systemSeconds.toFixed(2)}) | **${fmt(perCpu)}** ${met(perCpu >= goal.perCpuSecond)} | ≥ ${fmt(goal.perCpuSecond)} | ${fmt(goal.k6PerCpuSecond)} | ${fmt(c.sent / c.runCpuSeconds)} | **${rss.toFixed(0)} MiB** ${met(rss <= GOAL_RSS_MIB)} | ≤ 110 MB (${GOAL_RSS_MIB.toFixed(1)} MiB) | ${K6_RSS} |`,
      );
    }
  }
  for (const kind of kinds) {
    const cs = runs.get(kind.name)!;
    const perCpu = median(cs.map((c) => c.sent / (c.userSeconds + c.systemSeconds)));
    const rss = mib(median(cs.map((c) => c.peakRss)));
    medians.push(`| ${rate} | ${kind.name} | **${fmt(perCpu)}** ${met(perCpu >= goal.perCpuSecond)} | ≥ ${fmt(goal.perCpuSecond)} | ${fmt(goal.k6PerCpuSecond)} (${(perCpu / goal.k6PerCpuSecond).toFixed(1)}×) | ${fmt(median(cs.map((c) => c.sent / c.runCpuSeconds)))} | **${rss.toFixed(0)} MiB** ${met(rss <= GOAL_RSS_MIB)} | ≤ 110 MB (${GOAL_RSS_MIB.toFixed(1)} MiB) | ${K6_RSS} |`);
  }
}
console.log(`\nMedians of the ${repeats} run(s) above:\n`);
console.log('| rate | process | requests per CPU-second | goal | k6 v0.48 | per CPU-second of the run alone | peak RSS | goal | k6 v0.48 |');
console.log('|---|---|---|---|---|---|---|---|---|');
for (const row of medians) console.log(row);

console.log('\n## What the memory is\n');
console.log(`A bare Node process (\`node -e\`): ${mib(bare.peakRss).toFixed(0)} MiB peak RSS, ${bare.cpuSeconds.toFixed(2)} CPU s. An idle driver process loads the driver's modules and sends nothing; the run is the one with the highest peak RSS of its kind. The run's parts are taken at its end (the peak may come earlier); "other" is the rest of what the run added: sockets and their buffers, native memory, pages the heap touched and gave back.\n`);
console.log('| process | idle: peak RSS | of it, modules (idle − bare) | idle: V8 heap used | idle: CPU s to start | run: peak RSS | added by the run | young generation | old generation | per-request records | series | compilers\' peak | other |');
console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|');
for (const [name, c] of idle) {
  const b = busiest.get(name)!;
  const added = b.peakRss - c.peakRss;
  const young = b.youngGeneration - c.youngGeneration;
  const old = b.oldGeneration - c.oldGeneration;
  const other = added - young - old - (b.external - c.external);
  console.log(
    `| ${name} | ${mib(c.peakRss).toFixed(0)} MiB | ${mib(c.peakRss - bare.peakRss).toFixed(0)} MiB | ${mib(c.loadedHeapUsed).toFixed(1)} MiB | ${(c.userSeconds + c.systemSeconds).toFixed(2)} | ${mib(b.peakRss).toFixed(0)} MiB | ${mib(added).toFixed(0)} MiB | +${mib(young).toFixed(0)} MiB | +${mib(old).toFixed(0)} MiB | ${mib(b.recordsBytes).toFixed(1)} MiB | ${b.seriesSeconds} s: < 0.1 MiB | ${mib(b.peakMalloced).toFixed(0)} MiB | ${Math.abs(mib(other)) < 0.5 ? '0' : mib(other).toFixed(0)} MiB |`,
  );
}
if (efficiencyOnly) {
  stop();
  process.exit(0);
}

const clock = scaledClock(1);
console.log('\n## Highest on-schedule rate (the driver in this process)\n');
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
