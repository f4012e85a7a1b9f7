/**
 * k6's execution segments (`--execution-segment`, `--execution-segment-sequence`), as k6 computes
 * them (lib/execution_segment.go, v0.27 and later): a sequence of boundaries from 0 to 1 splits a
 * test between instances; each segment owns the iterations its *stripe* picks out of the global
 * ones, so the instances of a full sequence together run exactly the iterations one instance would.
 * The constant-arrival-rate executor starts the segment's global iteration `gi` at
 * `gi × (timeUnit / rate)` after the scenario's start, `gi` running over the stripe.
 *
 * The striping: with `lcd` the least common denominator of the segments' lengths, each run of `lcd`
 * global iterations gives every segment its length × lcd of them; element i goes to the first
 * segment (largest first, ties in sequence order) whose count × lcd / (length × lcd) ≤ i. k6's docs
 * show it for 0:1/2, 1/2:3/4, 3/4:1: the first instance runs 0, 2, 4, …, the second 1, 5, 9, …, the
 * third 3, 7, 11, … (test/unit/traffic/k6/segments.test.ts).
 */
import { ConfigError } from '../../core/errors.ts';

/** A non-negative rational in lowest terms. */
export interface Fraction {
  n: number;
  d: number;
}

/** One segment: the part [from, to) of the test. */
export interface Segment {
  from: Fraction;
  to: Fraction;
}

/** A segment's share of a sequence's iterations, as k6's `GetStripedOffsets` returns it. */
export interface Stripe {
  /** The segment's position in the sequence. */
  index: number;
  segment: Segment;
  /** The first global iteration the segment runs. */
  start: number;
  /** The steps from each of its iterations to the next, repeating every `lcd` global iterations. */
  offsets: number[];
  /** The sequence's least common denominator: the period of the striping. */
  lcd: number;
}

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

function fraction(n: number, d: number): Fraction {
  const g = gcd(Math.abs(n), Math.abs(d)) || 1;
  return { n: n / g, d: d / g };
}

const sub = (a: Fraction, b: Fraction) => fraction(a.n * b.d - b.n * a.d, a.d * b.d);
const cmp = (a: Fraction, b: Fraction) => a.n * b.d - b.n * a.d;

/** `1/3`, `0.25`, `25%`, `0`, `1` (as k6 reads them) as a fraction in [0, 1]. */
export function parseFraction(text: string, what = 'an execution segment boundary'): Fraction {
  const t = text.trim();
  let f: Fraction | undefined;
  let m: RegExpExecArray | null;
  if ((m = /^(\d+)\/(\d+)$/.exec(t)) && Number(m[2]) > 0) f = fraction(Number(m[1]), Number(m[2]));
  else if ((m = /^(\d+(?:\.\d+)?)%$/.exec(t))) f = decimal(m[1], 100);
  else if ((m = /^(\d+(?:\.\d+)?)$/.exec(t))) f = decimal(m[1], 1);
  if (!f || f.n > f.d) throw new ConfigError(`Expected ${what} to be a fraction from 0 to 1 (1/3, 0.25 or 25%), got ${JSON.stringify(text)}`);
  return f;
}

function decimal(text: string, per: number): Fraction {
  const [whole, frac = ''] = text.split('.');
  const d = 10 ** frac.length;
  return fraction(Number(whole) * d + Number(frac || 0), d * per);
}

/** `a:b` (or `b`, meaning `0:b`), as k6's `--execution-segment` reads it. */
export function parseSegment(text: string): Segment {
  const parts = text.split(':');
  if (parts.length > 2) throw new ConfigError(`Expected an execution segment "FROM:TO" (e.g. 1/3:2/3), got ${JSON.stringify(text)}`);
  const [from, to] = parts.length === 1 ? [{ n: 0, d: 1 }, parseFraction(parts[0])] : [parseFraction(parts[0]), parseFraction(parts[1])];
  if (cmp(from, to) >= 0) throw new ConfigError(`Expected an execution segment's start to be below its end, got ${JSON.stringify(text)}`);
  return { from, to };
}

/** `0,1/3,2/3,1`, as k6's `--execution-segment-sequence` reads it: rising boundaries, filled out to 0 and 1 as k6 does. */
export function parseSequence(text: string): Segment[] {
  const bounds = text.split(',').map((b) => parseFraction(b, 'an execution segment sequence boundary'));
  if (cmp(bounds[0], { n: 0, d: 1 }) !== 0) bounds.unshift({ n: 0, d: 1 });
  if (cmp(bounds[bounds.length - 1], { n: 1, d: 1 }) !== 0) bounds.push({ n: 1, d: 1 });
  const segments: Segment[] = [];
  for (let i = 1; i < bounds.length; i++) {
    if (cmp(bounds[i - 1], bounds[i]) >= 0) throw new ConfigError(`Expected an execution segment sequence of rising boundaries, got ${JSON.stringify(text)}`);
    segments.push({ from: bounds[i - 1], to: bounds[i] });
  }
  return segments;
}

/** `1/3`, `0`, `1`. */
export const fractionText = (f: Fraction): string => (f.n === 0 ? '0' : f.n === f.d ? '1' : `${f.n}/${f.d}`);

/** `1/3:2/3`. */
export const segmentText = (s: Segment): string => `${fractionText(s.from)}:${fractionText(s.to)}`;

/**
 * The flags k6-operator gives runner `index` (1-based) of `parallelism`
 * (pkg/segmentation: `--execution-segment=0:1/4 --execution-segment-sequence=0,1/4,2/4,3/4,1`;
 * its boundaries are not reduced).
 */
export function operatorSegmentFlags(index: number, parallelism: number): string[] {
  if (!Number.isInteger(parallelism) || parallelism < 1) throw new ConfigError(`Expected parallelism to be a whole number ≥ 1, got ${parallelism}`);
  if (!Number.isInteger(index) || index < 1 || index > parallelism) throw new ConfigError(`Expected a runner index from 1 to ${parallelism}, got ${index}`);
  const bound = (i: number) => (i === 0 ? '0' : i === parallelism ? '1' : `${i}/${parallelism}`);
  const sequence = Array.from({ length: parallelism + 1 }, (_, i) => bound(i)).join(',');
  return [`--execution-segment=${bound(index - 1)}:${bound(index)}`, `--execution-segment-sequence=${sequence}`];
}

/** The stripes of k6-operator's runners 1 … `parallelism` (index 0 is runner 1): the even sequence its flags name (`operatorSegmentFlags`). */
export function operatorStripes(parallelism: number): Stripe[] {
  return stripes(parseSequence(operatorSegmentFlags(1, parallelism)[1].slice('--execution-segment-sequence='.length)));
}

/** The stripes of a full sequence (`parseSequence`), one per segment, as k6's `NewExecutionSegmentSequenceWrapper` makes them. */
export function stripes(sequence: readonly Segment[]): Stripe[] {
  const lengths = sequence.map((s) => sub(s.to, s.from));
  const lcd = lengths.reduce((acc, l) => (acc % l.d === 0 ? acc : (acc * l.d) / gcd(acc, l.d)), 1);
  const norm = lengths.map((l) => l.n * (lcd / l.d));
  // Largest first; a stable sort keeps the sequence order among equals.
  const order = sequence.map((_, i) => i).sort((a, b) => norm[b] - norm[a]);
  const taken: number[][] = sequence.map(() => []);
  const chosen = order.map(() => 0);
  for (let i = 0; i < lcd; i++) {
    for (let k = 0; k < order.length; k++) {
      const num = chosen[k] * lcd;
      const denom = norm[order[k]];
      const q = Math.floor(num / denom);
      if (i > q || (i === q && num % denom === 0)) {
        chosen[k]++;
        taken[order[k]].push(i);
        break;
      }
    }
  }
  return sequence.map((segment, index) => {
    const own = taken[index];
    const offsets = own.map((v, j) => (j + 1 < own.length ? own[j + 1] - v : own[0] + lcd - v));
    return { index, segment, start: own[0] ?? 0, offsets, lcd };
  });
}

/** The stripe of `segment` within `sequence` (default: the segment filled out to 0 and 1, as k6 does without a sequence). */
export function stripeOf(segment: Segment, sequence?: readonly Segment[]): Stripe {
  const seq = sequence ?? parseSequence([segment.from, segment.to].map(fractionText).join(','));
  const index = seq.findIndex((s) => cmp(s.from, segment.from) === 0 && cmp(s.to, segment.to) === 0);
  if (index < 0) throw new ConfigError(`Expected the execution segment ${segmentText(segment)} in the sequence ${seq.map(segmentText).join(', ')}`);
  return stripes(seq)[index];
}

/** How many of the first `value` global iterations the stripe runs (k6's `ScaleInt64`): the stripes of a sequence sum to `value`. */
export function scaleInt(stripe: Stripe, value: number): number {
  const per = stripe.offsets.length;
  let result = Math.floor(value / stripe.lcd) * per;
  const rest = value % stripe.lcd;
  for (let g = 0, i = stripe.start; i < rest; i += stripe.offsets[g], g++) result++;
  return result;
}

/** The global iterations the stripe runs, below `limit`, in order. */
export function* iterationsOf(stripe: Stripe, limit: number): Generator<number> {
  if (!stripe.offsets.length) return;
  for (let g = 0, i = stripe.start; i < limit; i += stripe.offsets[g % stripe.offsets.length], g++) yield i;
}
