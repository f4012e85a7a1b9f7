/**
 * Fitting the twin's ALB lag distributions (`alb.deregistrationLag`, `alb.registrationLag`:
 * uniform in [min, max] with a uniform tail to tailMax) to lags measured in runs. Pure.
 *
 * The fit (the samples are measured from the middle of the poll interval that saw the target
 * change, see lags.ts): min = the 3rd percentile (nearest rank) with ≥ 30 samples, the 10th with
 * 10–29, else the smallest; max = the 97th percentile with ≥ 30 samples, the 90th with 10–29 (one
 * odd sample in a dozen — a stalled event loop on a loaded machine — does not move the body), else
 * the largest; tailProbability = the share of samples above max; tailMax = the largest.
 */

/** A lag distribution as the twin config takes it (model seconds). */
export interface FittedLag {
  min: number;
  max: number;
  tailProbability: number;
  tailMax: number;
}


const r3 = (x: number) => Math.round(x * 1000) / 1000;

/** Fits one distribution; undefined without samples. */
export function fitLag(samples: readonly number[]): FittedLag | undefined {
  if (!samples.length) return undefined;
  const s = samples.map((x) => Math.max(0, x)).sort((a, b) => a - b);
  const p = s.length >= 30 ? 0.97 : s.length >= 10 ? 0.9 : 1;
  const min = s[Math.max(0, Math.ceil((1 - p) * s.length) - 1)];
  const max = s[Math.ceil(p * s.length) - 1];
  const above = s.filter((x) => x > max).length;
  return { min: r3(min), max: r3(max), tailProbability: r3(above / s.length), tailMax: r3(Math.max(max, s[s.length - 1])) };
}

/** The lags of one cell, as its result keeps them. */
export interface MeasuredLags {
  deregistration: { values: number[] };
  registration: { values: number[] };
}

/** Fits both distributions from the cells' measured lags. */
export function calibrate(cells: readonly MeasuredLags[]): { deregistrationLag?: FittedLag; registrationLag?: FittedLag; samples: { deregistration: number; registration: number } } {
  const dereg = cells.flatMap((c) => c.deregistration.values);
  const reg = cells.flatMap((c) => c.registration.values);
  const deregistrationLag = fitLag(dereg);
  const registrationLag = fitLag(reg);
  return { ...(deregistrationLag ? { deregistrationLag } : {}), ...(registrationLag ? { registrationLag } : {}), samples: { deregistration: dereg.length, registration: reg.length } };
}
