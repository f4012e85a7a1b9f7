/**
 * Progress without a TTY (a CI job's log): a plain line at each stage change, and at least one every
 * 30 real seconds of waiting, each with the cell, the stage, the elapsed time and what it waits for.
 * Timed with a manual clock: the heartbeat is a timer of the injected clock.
 */
import { describe, expect, it } from 'vitest';
import { formatElapsed, HEARTBEAT_REAL_MS, terminalProgress, waitingFor } from '../../../harness/cli/progress.ts';
import { ManualClock } from '../../../harness/core/clock.ts';
import { parseSpec } from '../../../harness/matrix/load.ts';
import type { CellResult } from '../../../harness/report/types.ts';

const spec = (over: Record<string, unknown> = {}) =>
  parseSpec({
    matrix: { preStopSeconds: [5], terminationGracePeriodSeconds: [30], readinessGate: [false], deregistrationDelaySeconds: [30] },
    disruptions: ['rollout', 'drain'],
    settleTimeoutSeconds: 900,
    ...over,
  }).spec;

/** A stream that records what is written; `isTTY` as given. */
function stream(tty: boolean): NodeJS.WriteStream & { text(): string; lines(): string[] } {
  let out = '';
  return {
    isTTY: tty,
    columns: 200,
    write(chunk: string) {
      out += chunk;
      return true;
    },
    text: () => out,
    lines: () => out.split('\n').filter(Boolean),
  } as unknown as NodeJS.WriteStream & { text(): string; lines(): string[] };
}

describe('terminalProgress without a TTY', () => {
  it('prints a line at each stage change, with the cell, the stage, the elapsed time and what it waits for', async () => {
    const clock = new ManualClock(1_000_000);
    const out = stream(false);
    const progress = terminalProgress(out, clock, spec());
    progress.cellStart(1, 2, 'drain.x.r1');
    progress.stage('configure');
    await clock.advance(12_000);
    progress.stage('traffic');
    progress.traffic({ sent: 120, fiveXX: 0, networkErrors: 0 } as never);
    progress.stage('warmup');
    await clock.advance(10_000);
    progress.stage('disrupt');
    progress.end();
    expect(out.lines()).toEqual([
      "[2/2] drain.x.r1 configure +0s (cell 0s): waiting for the cell's settings rolled out and every target healthy (at most 900 model s, configure.steadyTimeoutSeconds)",
      '[2/2] drain.x.r1 traffic +0s (cell 12s): waiting for the traffic driver (auto) to start',
      '[2/2] drain.x.r1 warmup +0s (cell 12s): waiting for the warm-up (10 model s of traffic) before the disruption; sent 120, 5xx 0',
      expect.stringMatching(/^\[2\/2\] drain\.x\.r1 disrupt \+0s \(cell 22s\): waiting for the disruption: cordon the node \(most-pods\) and evict its pods .*; sent 120, 5xx 0$/),
    ]);
    // Plain text: no cursor movement and no colour.
    expect(out.text()).not.toContain('\x1b');
  });

  it('repeats the line at least every 30 real seconds of a long wait (a 900 s settle is never silent)', async () => {
    const clock = new ManualClock(0);
    const out = stream(false);
    const progress = terminalProgress(out, clock, spec({ target: { context: 'staging', allowedContexts: ['staging'], ingress: 'web' } }));
    progress.cellStart(0, 2, 'rollout.x.r1');
    progress.stage('settle');
    await clock.advance(125_000);
    const lines = out.lines();
    expect(lines).toEqual([
      '[1/2] rollout.x.r1 settle +0s (cell 0s): waiting for the rollout complete, no terminating pods and every target healthy (at most 900 s, settleTimeoutSeconds)',
      '[1/2] rollout.x.r1 settle +30s (cell 30s): waiting for the rollout complete, no terminating pods and every target healthy (at most 900 s, settleTimeoutSeconds)',
      '[1/2] rollout.x.r1 settle +1m00s (cell 1m00s): waiting for the rollout complete, no terminating pods and every target healthy (at most 900 s, settleTimeoutSeconds)',
      '[1/2] rollout.x.r1 settle +1m30s (cell 1m30s): waiting for the rollout complete, no terminating pods and every target healthy (at most 900 s, settleTimeoutSeconds)',
      '[1/2] rollout.x.r1 settle +2m00s (cell 2m00s): waiting for the rollout complete, no terminating pods and every target healthy (at most 900 s, settleTimeoutSeconds)',
    ]);
    progress.end();
    await clock.advance(120_000);
    expect(out.lines()).toHaveLength(lines.length);
    expect(clock.pending).toBe(0);
  });

  it('counts the 30 s from the last line printed, and speaks of what the run does between cells', async () => {
    const clock = new ManualClock(0);
    const out = stream(false);
    const progress = terminalProgress(out, clock, spec());
    progress.cellStart(0, 1, 'rollout.x.r1');
    progress.stage('cooldown');
    await clock.advance(20_000);
    progress.info('node a: uncordoned');
    await clock.advance(29_000);
    expect(out.lines()).toHaveLength(2);
    await clock.advance(1_000);
    expect(out.lines().at(-1)).toBe('[1/1] rollout.x.r1 cooldown +50s (cell 50s): waiting for the cool-down (10 model s of traffic) after settling');
    progress.stage('done');
    progress.cellDone({ valid: true, fiveXX: 3, requests: { sent: 900 } } as CellResult);
    expect(out.lines().at(-1)).toBe('[1/1] rollout.x.r1 done in 50s: 3 5xx of 900');
    progress.info('Restoring the original settings …');
    await clock.advance(HEARTBEAT_REAL_MS);
    expect(out.lines().at(-1)).toBe('… +30s since: Restoring the original settings …');
    // The time counts from that line, not from the last heartbeat.
    await clock.advance(HEARTBEAT_REAL_MS);
    expect(out.lines().at(-1)).toBe('… +1m00s since: Restoring the original settings …');
    progress.end();
  });

  it('after an interrupt, the heartbeat speaks of the stopping, not of the stage the cell was in', async () => {
    const clock = new ManualClock(0);
    const out = stream(false);
    const progress = terminalProgress(out, clock, spec());
    progress.cellStart(0, 1, 'rollout.x.r1');
    progress.stage('settle');
    progress.stopping('SIGINT: stopping traffic …');
    await clock.advance(HEARTBEAT_REAL_MS);
    expect(out.lines().slice(-2)).toEqual(['SIGINT: stopping traffic …', '… +30s since: SIGINT: stopping traffic …']);
    progress.end();
  });
});

describe('terminalProgress on a TTY', () => {
  it('keeps one live line and prints no heartbeat', async () => {
    const clock = new ManualClock(0);
    const out = stream(true);
    const progress = terminalProgress(out, clock, spec());
    progress.cellStart(0, 1, 'rollout.x.r1');
    progress.stage('settle');
    await clock.advance(5 * HEARTBEAT_REAL_MS);
    expect(out.text()).toBe('\r\x1b[2K[1/1] rollout.x.r1 \r\x1b[2K[1/1] rollout.x.r1 settle');
    expect(clock.pending).toBe(0);
    progress.end();
  });
});

describe('waitingFor and formatElapsed', () => {
  it('names each stage\'s wait with the bound of the spec field that limits it', () => {
    const s = spec({ configure: { steadyTimeoutSeconds: 600 }, target: { context: 'c', allowedContexts: ['c'], ingress: 'web' } });
    expect(waitingFor('configure', s, 0)).toContain('(at most 600 s, configure.steadyTimeoutSeconds)');
    expect(waitingFor('disrupt', s, 0)).toMatch(/^the disruption: restart deployment shop\/web/);
    expect(waitingFor('collect', s, 0)).toBe("the traffic's counts");
  });

  it('formats real elapsed time', () => {
    // Rounded: a heartbeat that fires a few ms early still reads +30s.
    expect([0, 400, 29_990, 59_400, 60_000, 185_000, 3_600_000, 3_725_000].map(formatElapsed)).toEqual(['0s', '0s', '30s', '59s', '1m00s', '3m05s', '1h00m', '1h02m']);
  });
});
