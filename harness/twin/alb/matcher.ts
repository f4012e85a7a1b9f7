/** Health-check success codes ("200", "200-299", "200,204"), as the ALB target group Matcher accepts them. */

/** A parsed matcher: tells whether an HTTP status counts as a passing check. */
export type MatcherResult = { ok: true; matches: (status: number) => boolean } | { ok: false; error: string };

/** Parses an ALB HttpCode matcher; codes must lie in 200–499 as the ALB requires. */
export function parseMatcher(text: string): MatcherResult {
  const ranges: Array<[number, number]> = [];
  const parts = text.split(',').map((p) => p.trim());
  for (const part of parts) {
    const m = /^(\d{3})(?:-(\d{3}))?$/.exec(part);
    if (!m) return { ok: false, error: `expected HTTP codes like "200", "200-299" or "200,204", got "${text}"` };
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (lo < 200 || hi > 499 || lo > hi) {
      return { ok: false, error: `expected codes or ranges within 200-499 (low ≤ high), got "${part}"` };
    }
    ranges.push([lo, hi]);
  }
  return { ok: true, matches: (status) => ranges.some(([lo, hi]) => status >= lo && status <= hi) };
}
