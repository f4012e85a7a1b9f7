/**
 * The exact test behind `compare`: are tonight's failed requests more than last night's beyond
 * noise? Each night's failures are modelled as a Poisson count with its own rate per request sent;
 * given the total n = a + b, the after count b is Binomial(n, p0) under "same rate", with
 * p0 = t_after / (t_before + t_after). The one-sided p-value is P(X ≥ b), summed exactly in log
 * space (no normal approximation), so it stays right for the small counts nightly cells have.
 * Pure: numbers in, numbers out.
 */

/** log(e^x + e^y) without overflow. */
function logAdd(x: number, y: number): number {
  if (x === -Infinity) return y;
  if (y === -Infinity) return x;
  const m = Math.max(x, y);
  return m + Math.log1p(Math.exp(-Math.abs(x - y)));
}

/** log C(n, k) as a sum of logs: exact up to rounding for any n a night can send. */
export function logChoose(n: number, k: number): number {
  if (k < 0 || k > n) return -Infinity;
  const m = Math.min(k, n - k);
  let s = 0;
  for (let i = 1; i <= m; i++) s += Math.log(n - m + i) - Math.log(i);
  return s;
}

/** P(X ≥ k) for X ~ Binomial(n, p): the upper tail, summed term by term in log space. */
export function binomialUpperTail(k: number, n: number, p: number): number {
  if (!Number.isInteger(n) || n < 0 || !Number.isInteger(k)) throw new RangeError(`binomialUpperTail: expected whole n ≥ 0 and k, got n=${n}, k=${k}`);
  if (!(p >= 0 && p <= 1)) throw new RangeError(`binomialUpperTail: expected 0 ≤ p ≤ 1, got ${p}`);
  if (k <= 0) return 1;
  if (k > n) return 0;
  if (p === 0) return 0;
  if (p === 1) return 1;
  const lp = Math.log(p);
  const lq = Math.log1p(-p);
  // Term k, then each next one by the ratio (n − i) / (i + 1) · p / q.
  let term = logChoose(n, k) + k * lp + (n - k) * lq;
  let sum = term;
  for (let i = k; i < n; i++) {
    term += Math.log(n - i) - Math.log(i + 1) + lp - lq;
    sum = logAdd(sum, term);
  }
  return Math.min(1, Math.exp(sum));
}

/** What the test says about one cell. */
export interface PoissonComparison {
  /** p0 = t_after / (t_before + t_after): the after share of the failures under "same rate". */
  p0: number;
  /** P(X ≥ after) for X ~ Binomial(before + after, p0). */
  pValue: number;
  /** after − before × t_after / t_before: the failures beyond last night's rate, on tonight's requests. */
  excess: number;
}

/**
 * The conditional binomial test of two Poisson counts: `before` failures in `sentBefore`
 * requests, `after` in `sentAfter`. One-sided: small p-values mean tonight's rate is higher.
 */
export function comparePoissonCounts(before: number, sentBefore: number, after: number, sentAfter: number): PoissonComparison {
  if (!(sentBefore > 0) || !(sentAfter > 0)) throw new RangeError(`comparePoissonCounts: expected requests sent > 0 on both sides, got ${sentBefore} and ${sentAfter}`);
  const p0 = sentAfter / (sentBefore + sentAfter);
  return { p0, pValue: binomialUpperTail(after, before + after, p0), excess: after - (before * sentAfter) / sentBefore };
}
