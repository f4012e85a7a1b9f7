import { describe, expect, it } from 'vitest';
import { mixPicker } from '../../../../harness/traffic/builtin/driver.ts';

describe('mixPicker', () => {
  it('honours weights exactly over a period and interleaves', () => {
    const pick = mixPicker([
      { path: '/', weight: 9 },
      { path: '/slow', weight: 1 },
    ]);
    const first100 = Array.from({ length: 100 }, (_, n) => pick(n));
    expect(first100.filter((p) => p === '/slow')).toHaveLength(10);
    // Interleaved, not bunched: no two slow requests in a row.
    expect(first100.join(' ')).not.toContain('/slow /slow');
  });

  it('falls back to / for an empty mix', () => {
    expect(mixPicker([])(5)).toBe('/');
  });
});
