/**
 * Seeded randomness: every random choice the twin makes (lags, jitter) comes from one of these,
 * so a run is repeatable from the seed recorded in its results.
 */

/** A seeded source of pseudo-random numbers. */
export interface Random {
  readonly seed: number;
  /** A float in [0, 1). */
  next(): number;
  /** A float in [min, max). */
  between(min: number, max: number): number;
  /** An integer in [min, max]. */
  int(min: number, max: number): number;
  /** A new independent stream derived from this one (so adding a consumer does not shift others). */
  fork(label: string): Random;
}

/** mulberry32: small, fast and good enough for simulation jitter. */
export function seededRandom(seed: number): Random {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    seed,
    next,
    between: (min, max) => min + (max - min) * next(),
    int: (min, max) => min + Math.floor((max - min + 1) * next()),
    fork: (label) => seededRandom(hashString(`${seed}:${label}`)),
  };
}

/** FNV-1a, 32 bits. */
export function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Lowercase letters and digits: the characters of the random parts of AWS and Kubernetes names. */
export const LOWER_ALNUM = 'abcdefghijklmnopqrstuvwxyz0123456789';

/** `length` characters of `alphabet` drawn from `random`. */
export function randomChars(random: Random, length: number, alphabet = LOWER_ALNUM): string {
  let out = '';
  for (let i = 0; i < length; i++) out += alphabet[random.int(0, alphabet.length - 1)];
  return out;
}
