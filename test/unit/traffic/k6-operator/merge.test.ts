/**
 * The k6-operator merge, on the recorded k6 v0.48 output split into execution segments the way
 * k6's runners would have sent it: each runner's stream parsed on its own, then merged, must equal
 * the one stream parsed whole — counts, statuses, network errors, the cut-at-stop multiset,
 * dropped iterations and latency percentiles from raw durations.
 */
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../../../../harness/core/paths.ts';
import { parseK6Output, parseK6Time, type K6Aggregate } from '../../../../harness/traffic/k6/parse.ts';
import { iterationsOf, parseSequence, stripes, type Stripe } from '../../../../harness/traffic/k6/segments.ts';
import { mergeRunners, seriesOf } from '../../../../harness/traffic/k6-operator/merge.ts';
import { latencyIn } from '../../../../harness/traffic/timing.ts';

const lines = (name: string) => gunzipSync(readFileSync(`${projectRoot}/fixtures/k6/${name}`)).toString('utf8').split('\n').filter(Boolean);
const total = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);

interface PointJson {
  type: string;
  metric: string;
  data: { time: string; metadata?: { sent_ms?: string } };
}

/**
 * Splits k6 NDJSON between the runners of `sequence`: a line belongs to the runner whose stripe
 * holds its global iteration (`iterationOf`); Metric declarations go to every runner, as each
 * runner declares the metrics it emits; lines of no iteration (vus) to the first.
 */
function split(all: string[], sequence: string, iterationOf: (p: PointJson) => number | undefined): { streams: string[][]; stripes: Stripe[] } {
  const st = stripes(parseSequence(sequence));
  const owner = new Map<number, number>();
  for (const s of st) for (const i of iterationsOf(s, 100_000)) owner.set(i, s.index);
  const streams: string[][] = st.map(() => []);
  for (const line of all) {
    const p = JSON.parse(line) as PointJson;
    if (p.type !== 'Point') {
      for (const s of streams) s.push(line);
      continue;
    }
    const k = iterationOf(p);
    streams[k === undefined ? 0 : owner.get(k)!].push(line);
  }
  return { streams, stripes: st };
}

async function mergeOf(all: string[], sequence: string, iterationOf: (p: PointJson) => number | undefined, planned: number) {
  const { streams, stripes: st } = split(all, sequence, iterationOf);
  const parts: K6Aggregate[] = [];
  for (const s of streams) parts.push(await parseK6Output([s.join('\n') + '\n']));
  return { parts, merged: mergeRunners(parts.map((aggregate, i) => ({ name: `rh-tr-${i + 1}`, stripe: st[i], aggregate })), { planned, now: 0 }) };
}

function expectSameTraffic(merged: ReturnType<typeof mergeRunners>, whole: K6Aggregate): void {
  expect(merged.sent).toBe(whole.sent);
  expect(merged.byStatus).toEqual(whole.byStatus);
  expect(merged.networkErrors).toEqual(whole.networkErrors);
  expect(merged.cutAtStop).toEqual(whole.cutAtStop);
  expect(merged.droppedIterations).toBe(whole.droppedIterations);
  expect(merged.startedAt).toBe(whole.startedAt);
  expect(merged.timings!.count).toBe(whole.timings.count);
  // Percentiles of the raw durations: the same as the whole run's, to the microsecond.
  expect(latencyIn(merged.timings!, 0, Infinity)).toEqual(latencyIn(whole.timings, 0, Infinity));
  expect(merged.series).toEqual(seriesOf(whole.timings, whole.startedAt));
  expect(total(merged.byStatus) + total(merged.networkErrors) + merged.cutAtStop.count).toBe(merged.sent);
  for (const r of merged.runners) expect(r.answered + r.networkErrors + r.cut, r.name).toBe(r.sent);
}

describe('merging k6-operator runners', () => {
  it('the SIGINT run (50 req/s, 72 requests cut at the stop) split in thirds by its schedule merges to the whole run exactly', async () => {
    const all = lines('sigint-inflight-v0.48.ndjson.gz');
    const whole = await parseK6Output([all.join('\n') + '\n']);
    const t0 = whole.scenarioStartedAt!;
    // Iteration k was due at t0 + 20 ms × k: sent_ms where the script recorded it, else the Point's time (dropped iterations).
    const iterationOf = (p: PointJson) => {
      if (p.metric === 'vus' || p.metric === 'vus_max') return undefined;
      const at = p.data.metadata?.sent_ms !== undefined ? Number(p.data.metadata.sent_ms) : parseK6Time(p.data.time);
      return Math.max(0, Math.round((at - t0) / 20));
    };
    const { parts, merged } = await mergeOf(all, '0,1/3,2/3,1', iterationOf, 1500);
    expectSameTraffic(merged, whole);
    expect(merged.sent).toBe(118);
    expect(merged.cutAtStop.count).toBe(72);
    expect(merged.droppedIterations).toBe(64);
    // Every runner had a share of the cut requests: the multiset is theirs together.
    expect(parts.map((p) => p.cutAtStop.count).every((n) => n > 0)).toBe(true);
    // The plan (50 req/s × 30 s) split by the segments: a third each, summing to the plan.
    expect(merged.runners.map((r) => [r.segment, r.planned])).toEqual([
      ['0:1/3', 500],
      ['1/3:2/3', 500],
      ['2/3:1', 500],
    ]);
    expect(merged.planned).toBe(1500);
    // Sent: each runner within one request of a third.
    for (const r of merged.runners) expect(Math.abs(r.sent - 118 / 3)).toBeLessThanOrEqual(1);
  });

  it('the mixed-status run (200, 502, 503, 504 and network errors) split in quarters by request merges to the whole run exactly', async () => {
    const all = lines('mixed-status-v0.48.ndjson.gz');
    const whole = await parseK6Output([all.join('\n') + '\n']);
    // No send-time metadata here: a request's Points share their time; requests are numbered in order of appearance.
    const byTime = new Map<string, number>();
    const iterationOf = (p: PointJson) => {
      if (!p.metric.startsWith('http_req')) return undefined;
      if (!byTime.has(p.data.time)) byTime.set(p.data.time, byTime.size);
      return byTime.get(p.data.time);
    };
    const { merged } = await mergeOf(all, '0,1/4,2/4,3/4,1', iterationOf, 301);
    expectSameTraffic(merged, whole);
    expect(merged.sent).toBe(301);
    expect(merged.byStatus).toEqual({ '200': 241, '502': 15, '503': 15, '504': 15 });
    expect(total(merged.networkErrors)).toBe(15);
    expect(merged.runners.map((r) => r.sent)).toEqual([76, 75, 75, 75]);
    expect(merged.runners.map((r) => r.planned)).toEqual([76, 75, 75, 75]);
  });

  it('a runner that failed is named, never counted as fewer requests', async () => {
    const all = lines('smoke-200-v0.48.ndjson.gz');
    const whole = await parseK6Output([all.join('\n') + '\n']);
    const st = stripes(parseSequence('0,1/2,1'));
    const merged = mergeRunners(
      [
        { name: 'rh-tr-1', stripe: st[0], aggregate: whole },
        { name: 'rh-tr-2', stripe: st[1], aggregate: await parseK6Output([]), failed: 'its pod failed (exit 107: script exception)' },
      ],
      { planned: 502, now: 1 },
    );
    expect(merged.incomplete).toBe('runner rh-tr-2 (1/2:1): its pod failed (exit 107: script exception)');
    expect(merged.runners[1]).toMatchObject({ name: 'rh-tr-2', sent: 0, planned: 251, failed: 'its pod failed (exit 107: script exception)' });
    expect(merged.planned).toBe(502);
  });
});
