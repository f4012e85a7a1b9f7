/**
 * One run of the built-in driver in a process of its own, for bench/builtin-driver.ts: imports only
 * the driver and the clock, runs the plan given as JSON in argv[2] (or sends nothing for `idle`:
 * the cost of the process and its modules alone), and prints one JSON line with the result's
 * counts and this process's CPU time and peak RSS (getrusage: every thread, from the start).
 */
import { getHeapSpaceStatistics, getHeapStatistics } from 'node:v8';
import { scaledClock } from '../harness/core/clock.ts';
import { runBuiltinTraffic } from '../harness/traffic/builtin/driver.ts';
import type { TrafficPlan } from '../harness/traffic/types.ts';

/** What one child reports (one JSON line on stdout). */
export interface ChildReport {
  sent: number;
  planned: number;
  answered: number;
  non2xx: number;
  networkErrors: number;
  cut: number;
  wallSeconds: number;
  /** CPU seconds of the whole process (user, system), modules and start-up included. */
  userSeconds: number;
  systemSeconds: number;
  /** CPU seconds from the first request to the last answer (start-up and module loading left out). */
  runCpuSeconds: number;
  /** Peak RSS of the process, bytes. */
  peakRss: number;
  /** RSS and V8 heap once the modules are loaded, before the first request, bytes. */
  loadedRss: number;
  loadedHeapUsed: number;
  /** V8 heap at the end, bytes. */
  heapTotal: number;
  heapUsed: number;
  /** At the end, bytes: V8's young generation (new space), its old generation (old, code and large-object spaces), and memory outside the heap (buffers, typed arrays). */
  youngGeneration: number;
  oldGeneration: number;
  external: number;
  /** The most V8 had allocated outside its heap at once (compilers' working memory), bytes. */
  peakMalloced: number;
  /** Bytes of the per-request records (send time, duration, status of every finished request) and seconds in the series. */
  recordsBytes: number;
  seriesSeconds: number;
}

const loaded = process.memoryUsage();
const arg = process.argv[2] ?? 'idle';
const clock = scaledClock(1);
const sum = (o: Record<string, number>) => Object.values(o).reduce((a, b) => a + b, 0);
let runCpuSeconds = 0;
let recordsBytes = 0;
let seriesSeconds = 0;
let report: Pick<ChildReport, 'sent' | 'planned' | 'answered' | 'non2xx' | 'networkErrors' | 'cut' | 'wallSeconds'> = {
  sent: 0,
  planned: 0,
  answered: 0,
  non2xx: 0,
  networkErrors: 0,
  cut: 0,
  wallSeconds: 0,
};
if (arg !== 'idle') {
  const plan = JSON.parse(arg) as TrafficPlan;
  // The clock's timers do not hold the process open (in the harness other work does); this sleep does until the run ends.
  const done = new AbortController();
  const alive = clock.sleep((plan.durationSeconds + plan.timeoutSeconds + 60) * 1000, done.signal).catch(() => {});
  const before = process.cpuUsage();
  const result = await runBuiltinTraffic(plan, { clock });
  const cpu = process.cpuUsage(before);
  runCpuSeconds = (cpu.user + cpu.system) / 1e6;
  done.abort();
  await alive;
  const answered = sum(result.byStatus);
  const t = result.timings!;
  recordsBytes = t.sentAt.buffer.byteLength + t.durations.buffer.byteLength + t.statuses.buffer.byteLength;
  seriesSeconds = result.series.length;
  report = {
    sent: result.sent,
    planned: result.planned,
    answered,
    non2xx: Object.entries(result.byStatus).reduce((n, [status, count]) => (status.startsWith('2') ? n : n + count), 0),
    networkErrors: sum(result.networkErrors),
    cut: result.cutAtStop.count,
    wallSeconds: (result.endedAt - result.startedAt) / 1000,
  };
}
const usage = process.resourceUsage();
const end = process.memoryUsage();
const space = (name: string) => getHeapSpaceStatistics().find((s) => s.space_name === name)?.space_size ?? 0;
const out: ChildReport = {
  ...report,
  userSeconds: usage.userCPUTime / 1e6,
  systemSeconds: usage.systemCPUTime / 1e6,
  runCpuSeconds,
  peakRss: usage.maxRSS * 1024,
  loadedRss: loaded.rss,
  loadedHeapUsed: loaded.heapUsed,
  heapTotal: end.heapTotal,
  heapUsed: end.heapUsed,
  youngGeneration: space('new_space') + space('new_large_object_space'),
  oldGeneration: space('old_space') + space('code_space') + space('large_object_space') + space('code_large_object_space'),
  external: end.external,
  peakMalloced: getHeapStatistics().peak_malloced_memory,
  recordsBytes,
  seriesSeconds,
};
console.log(JSON.stringify(out));
