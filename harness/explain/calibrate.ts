/**
 * Fitting the twin's ALB lag distributions (`alb.deregistrationLag`, `alb.registrationLag`:
 * uniform in [min, max] with a uniform tail to tailMax) to lags measured in runs. Pure.
 *
 * The fit: each sample gets half the target-health poll period added (the harness sees a target
 * turn draining or healthy up to one poll late, so measured lags are short by 0–1 s); min = the
 * smallest sample; max = the 97th percentile (nearest rank) when there are ≥ 20 samples, else the
 * largest; tailProbability = the share of samples above max; tailMax = the largest.
 */

/** A lag distribution as the twin config takes it (model seconds). */
export interface FittedLag {
  min: number;
  max: number;
  tailProbability: number;
  tailMax: number;
}

/** Half the harness's target-health poll period (1 model s): the mean lateness of a seen state change. */
export const POLL_CORRECTION_SECONDS = 0.5;

const r3 = (x: number) => Math.round(x * 1000) / 1000;

/** Fits one distribution; undefined without samples. */
export function fitLag(samples: readonly number[], correction = POLL_CORRECTION_SECONDS): FittedLag | undefined {
  if (!samples.length) return undefined;
  const s = samples.map((x) => Math.max(0, x + correction)).sort((a, b) => a - b);
  const max = s.length >= 20 ? s[Math.ceil(0.97 * s.length) - 1] : s[s.length - 1];
  const above = s.filter((x) => x > max).length;
  return { min: r3(s[0]), max: r3(max), tailProbability: r3(above / s.length), tailMax: r3(Math.max(max, s[s.length - 1])) };
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
