/** Progress on the terminal: one live line on a TTY (cell i/N, stage, sent/5xx), plain lines otherwise. */
import { scaledClock, type Clock } from '../core/clock.ts';
import type { RunProgress } from '../orchestrator/run.ts';
import type { CellResult } from '../report/types.ts';

/** Renders run progress to a stream (stderr), so stdout carries only the table. */
export function terminalProgress(stream: NodeJS.WriteStream = process.stderr, clock: Clock = scaledClock(1)): RunProgress & { end(): void } {
  const tty = Boolean(stream.isTTY);
  let head = '';
  let stage = '';
  let counters = '';
  let lastDraw = 0;
  const draw = (force = false) => {
    if (!tty) return;
    const now = clock.now();
    if (!force && now - lastDraw < 100) return;
    lastDraw = now;
    const text = `${head} ${stage}${counters ? `  ${counters}` : ''}`;
    stream.write(`\r\x1b[2K${text.slice(0, (stream.columns || 120) - 1)}`);
  };
  const clear = () => tty && stream.write('\r\x1b[2K');
  return {
    info(line) {
      clear();
      stream.write(`${line}\n`);
      draw(true);
    },
    cellStart(index, total, id) {
      head = `[${index + 1}/${total}] ${id}`;
      stage = '';
      counters = '';
      if (!tty) stream.write(`${head}\n`);
      draw(true);
    },
    stage(s) {
      stage = s;
      draw(true);
    },
    traffic(p) {
      counters = `sent ${p.sent}  5xx ${p.fiveXX}${p.networkErrors ? `  network errors ${p.networkErrors}` : ''}`;
      draw();
    },
    cellDone(r: CellResult) {
      clear();
      const verdict = r.valid ? `${r.fiveXX} 5xx of ${r.requests.sent}` : `INVALID: ${r.invalidReason}`;
      stream.write(`${tty ? `${head} ` : '  '}${verdict}\n`);
    },
    end() {
      clear();
    },
  };
}
