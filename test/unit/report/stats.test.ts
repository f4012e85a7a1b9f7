import { describe, expect, it } from 'vitest';
import { binomialUpperTail, comparePoissonCounts, logChoose } from '../../../harness/report/stats.ts';

/** C(n, k) as an exact integer. */
function choose(n: number, k: number): bigint {
  let c = 1n;
  for (let i = 1; i <= k; i++) c = (c * BigInt(n - k + i)) / BigInt(i);
  return c;
}

/** num / den of two big integers as a double, scaled down so both fit. */
function ratio(num: bigint, den: bigint): number {
  const shift = BigInt(Math.max(0, den.toString(2).length - 1000));
  return Number(num >> shift) / Number(den >> shift);
}

/**
 * P(X ≥ b) for X ~ Binomial(a + b, tB / (tA + tB)) with integer request counts, as an exact
 * fraction: Σ_{k ≥ b} C(n, k) tB^k tA^(n − k) / (tA + tB)^n — the straightforward sum, independent
 * of the implementation's log-space recurrence.
 */
function exactTail(a: number, tA: number, b: number, tB: number): number {
  const n = a + b;
  let num = 0n;
  for (let k = b; k <= n; k++) num += choose(n, k) * BigInt(tB) ** BigInt(k) * BigInt(tA) ** BigInt(n - k);
  return ratio(num, BigInt(tA + tB) ** BigInt(n));
}

describe('binomialUpperTail', () => {
  it('gives the known values: 2 → 3 in 3,000 each is 16/32, 0 → 40 is 2⁻⁴⁰', () => {
    expect(comparePoissonCounts(2, 3000, 3, 3000).pValue).toBeCloseTo(0.5, 14);
    expect(comparePoissonCounts(0, 3000, 40, 3000).pValue / 2 ** -40).toBeCloseTo(1, 12);
    // 0 → 7 with equal traffic: 2⁻⁷, the smallest count from zero below 0.01.
    expect(comparePoissonCounts(0, 3000, 7, 3000).pValue).toBeCloseTo(1 / 128, 15);
    expect(comparePoissonCounts(0, 3000, 6, 3000).pValue).toBeCloseTo(1 / 64, 15);
  });

  it('matches the exact sum of fractions for unequal traffic and large counts', () => {
    const cases: Array<[number, number, number, number]> = [
      [10, 5000, 25, 3000],
      [12, 9000, 25, 12_000], // the README's worked example: 0.13
      [10, 10_000, 10, 2000],
      [180, 30_000, 220, 30_000],
      [380, 54_000, 450, 54_000],
      [3, 1000, 0, 1000],
      [0, 777, 1, 1333],
      [600, 45_000, 700, 46_000],
    ];
    for (const [a, tA, b, tB] of cases) {
      const expected = exactTail(a, tA, b, tB);
      const got = comparePoissonCounts(a, tA, b, tB).pValue;
      expect(Math.abs(got - expected) / expected, `${a}/${tA} → ${b}/${tB}: ${got} vs ${expected}`).toBeLessThan(1e-9);
    }
  });

  it('keeps tiny tails exact in log space instead of rounding them to 0', () => {
    const expected = exactTail(0, 3000, 400, 3000); // 2⁻⁴⁰⁰ ≈ 3.9e-121
    const got = binomialUpperTail(400, 400, 0.5);
    expect(got).toBeGreaterThan(0);
    expect(Math.abs(got - expected) / expected).toBeLessThan(1e-9);
  });

  it('gives the README\'s worked example', () => {
    expect(comparePoissonCounts(12, 9000, 25, 12_000).pValue).toBeCloseTo(exactTail(12, 9000, 25, 12_000), 12);
    expect(exactTail(12, 9000, 25, 12_000)).toBeCloseTo(0.1318, 4);
  });

  it('handles the edges and refuses nonsense', () => {
    expect(binomialUpperTail(0, 10, 0.3)).toBe(1);
    expect(binomialUpperTail(11, 10, 0.3)).toBe(0);
    expect(binomialUpperTail(0, 0, 0.5)).toBe(1);
    expect(binomialUpperTail(1, 5, 0)).toBe(0);
    expect(binomialUpperTail(5, 5, 1)).toBe(1);
    expect(() => binomialUpperTail(1, 2.5, 0.5)).toThrow(/whole n/);
    expect(() => binomialUpperTail(1, 5, 1.5)).toThrow(/0 ≤ p ≤ 1/);
    expect(() => comparePoissonCounts(1, 0, 2, 100)).toThrow(/requests sent > 0/);
  });

  it('computes log C(n, k) as the exact integer does', () => {
    expect(Math.exp(logChoose(40, 20))).toBeCloseTo(Number(choose(40, 20)), -2);
    expect(logChoose(1000, 0)).toBe(0);
    expect(logChoose(5, 6)).toBe(-Infinity);
  });

  it('states the excess on the second run\'s requests', () => {
    const r = comparePoissonCounts(10, 10_000, 10, 2000);
    expect(r.p0).toBeCloseTo(1 / 6, 15);
    expect(r.excess).toBeCloseTo(8, 12);
  });
});
