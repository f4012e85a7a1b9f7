import { describe, expect, it } from 'vitest';
import { clockSkew } from '../../../harness/explain/cross-check.ts';

const START = Date.parse('2026-12-02T10:00:00Z');
const END = START + 60_000;
const at = (...seconds: number[]) => seconds.map((s) => ({ requestCreationMs: START + s * 1000 }));

describe('the clock check of a cell’s log entries', () => {
  it('passes entries inside the window, and ones a little outside it', () => {
    expect(clockSkew(at(0, 10, 30, 59, 62, -3), START, END, 5000)).toBeUndefined();
    expect(clockSkew([], START, END, 5000)).toBeUndefined();
  });

  it('names the median offset when most entries lie outside (a log clock running ahead)', () => {
    // 20× model time: entries spread from 20 min to 40 min past the window's start.
    const ahead = at(...Array.from({ length: 9 }, (_, i) => 1200 + i * 150), 30);
    const why = clockSkew(ahead, START, END, 5000);
    expect(why).toMatch(/^9 of the 10 entries with this cell's User-Agent were logged outside its traffic window \(10:00:00–10:01:00 by this machine's clock\), by a median of 1740\.0 s/);
    expect(why).toContain('--time-scale 1');
  });

  it('also when the log runs behind, and not when only a minority is outside', () => {
    expect(clockSkew(at(-300, -290, -280, 5), START, END, 5000)).toMatch(/3 of the 4 .* by a median of -290\.0 s/);
    expect(clockSkew(at(-300, 5, 6, 7), START, END, 5000)).toBeUndefined();
  });
});
