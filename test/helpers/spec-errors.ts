/** The issues `parseSpec` reports for a spec it must reject (the test fails when it accepts it). */
import { expect } from 'vitest';
import { ConfigError } from '../../harness/core/errors.ts';
import { parseSpec } from '../../harness/matrix/load.ts';

/** Each issue of the ConfigError `parseSpec(input)` throws. */
export function errorsOf(input: unknown): string[] {
  try {
    parseSpec(input);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return [...(error as ConfigError).issues];
  }
  throw new Error('expected the spec to be rejected');
}
