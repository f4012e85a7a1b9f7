/**
 * Progress on the terminal: one live line on a TTY (cell i/N, stage, sent/5xx); without one (every
 * CI job) plain lines instead — one at each stage change, and a heartbeat whenever nothing was
 * printed for 30 real seconds, each with the cell, the stage, the elapsed time and what it waits
 * for — so a long steady or settle wait never looks like a hung job. No colour is used.
 */
import { scaledClock, type Clock, type Timer } from '../core/clock.ts';
import { describeDisruption } from '../disruptions/index.ts';
import { expandCells } from '../matrix/expand.ts';
import type { Spec } from '../matrix/schema.ts';
import type { Stage } from '../orchestrator/cell.ts';
import type { RunProgress } from '../orchestrator/run.ts';
import type { CellResult } from '../report/types.ts';

/** Real milliseconds without a line after which a plain progress line is printed anyway. */
export const HEARTBEAT_REAL_MS = 30_000;

/** Real elapsed time, short: `42s`, `3m05s`, `1h02m`. */
export function formatElapsed(realMs: number): string {
  const s = Math.max(0, Math.round(realMs / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** What a cell's stage waits for, in the spec's words (its bounds by their field names). */
export function waitingFor(stage: Stage, spec: Spec | undefined, cellIndex: number): string {
  if (!spec) return `the ${stage} stage to end`;
  // Spec durations are model seconds: on the twin they run on its scaled clock.
  const s = (n: number) => `${n}${spec.target.context ? ' s' : ' model s'}`;
  switch (stage) {
    case 'configure':
      return `the cell's settings rolled out and every target healthy (at most ${s(spec.configure.steadyTimeoutSeconds)}, configure.steadyTimeoutSeconds)`;
    case 'traffic':
      return `the traffic driver (${spec.traffic.driver}) to start`;
    case 'warmup':
      return `the warm-up (${s(spec.traffic.warmupSeconds)} of traffic) before the disruption`;
    case 'disrupt': {
      const cell = expandCells(spec)[cellIndex];
      return `the disruption: ${cell ? describeDisruption(cell.disruption, spec.target) : 'to complete'}`;
    }
    case 'settle':
      return `the rollout complete, no terminating pods and every target healthy (at most ${s(spec.settleTimeoutSeconds)}, settleTimeoutSeconds)`;
    case 'cooldown':
      return `the cool-down (${s(spec.traffic.cooldownSeconds)} of traffic) after settling`;
    case 'collect':
      return "the traffic's counts";
    case 'done':
      return 'nothing';
  }
}

/**
 * Renders run progress to a stream (stderr), so stdout carries only the table. `clock` is real
 * time (it times the heartbeat and the elapsed times); `spec` says what each stage waits for.
 */
export function terminalProgress(stream: NodeJS.WriteStream = process.stderr, clock: Clock = scaledClock(1), spec?: Spec): RunProgress & { stopping(line: string): void; end(): void } {
  const tty = Boolean(stream.isTTY);
  const realSince = (t: number) => clock.toRealMs(clock.now() - t);
  let head = '';
  let cellIndex = -1;
  let stage: Stage | undefined;
  let counters = '';
  let lastDraw = 0;
  let cellSince = 0;
  let stageSince = 0;
  let lastInfo = '';
  let lastInfoAt = clock.now();
  let heartbeat: Timer | undefined;
  let ended = false;

  const draw = (force = false) => {
    if (!tty) return;
    const now = clock.now();
    if (!force && now - lastDraw < 100) return;
    lastDraw = now;
    const text = `${head} ${stage ?? ''}${counters ? `  ${counters}` : ''}`;
    stream.write(`\r\x1b[2K${text.slice(0, (stream.columns || 120) - 1)}`);
  };
  const clear = () => tty && stream.write('\r\x1b[2K');

  /** A plain line (no TTY): every line re-arms the heartbeat. */
  const plain = (line: string) => {
    stream.write(`${line}\n`);
    arm();
  };
  const stageLine = () =>
    `${head} ${stage} +${formatElapsed(realSince(stageSince))} (cell ${formatElapsed(realSince(cellSince))}): waiting for ${waitingFor(stage!, spec, cellIndex)}${counters ? `; ${counters.replace(/ {2}/g, ', ')}` : ''}`;
  const beat = () => {
    if (ended) return;
    if (stage && stage !== 'done') plain(stageLine());
    else plain(`… +${formatElapsed(realSince(lastInfoAt))} since: ${lastInfo || 'the start'}`);
  };
  function arm() {
    if (tty || ended) return;
    heartbeat?.cancel();
    heartbeat = clock.setTimeout(beat, clock.toModelMs(HEARTBEAT_REAL_MS));
  }
  arm();

  return {
    info(line) {
      clear();
      lastInfo = line;
      lastInfoAt = clock.now();
      if (tty) {
        stream.write(`${line}\n`);
        draw(true);
      } else plain(line);
    },
    cellStart(index, total, id) {
      head = `[${index + 1}/${total}] ${id}`;
      cellIndex = index;
      stage = undefined;
      counters = '';
      cellSince = clock.now();
      draw(true);
    },
    stage(s) {
      stage = s;
      stageSince = clock.now();
      if (!tty && s !== 'done') plain(stageLine());
      draw(true);
    },
    traffic(p) {
      counters = `sent ${p.sent}  5xx ${p.fiveXX}${p.networkErrors ? `  network errors ${p.networkErrors}` : ''}`;
      draw();
    },
    cellDone(r: CellResult) {
      clear();
      const verdict = r.valid ? `${r.fiveXX} 5xx of ${r.requests.sent}` : `INVALID: ${r.invalidReason}`;
      stage = undefined;
      lastInfo = `${head} ${verdict}`;
      lastInfoAt = clock.now();
      if (tty) stream.write(`${head} ${verdict}\n`);
      else plain(`${head} done in ${formatElapsed(realSince(cellSince))}: ${verdict}`);
    },
    /** Prints why the run stops mid-cell: from here the heartbeat speaks of the stopping, not of the cell's stage. */
    stopping(line) {
      stage = undefined;
      this.info(line);
    },
    end() {
      ended = true;
      heartbeat?.cancel();
      clear();
    },
  };
}
