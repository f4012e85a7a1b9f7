import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../../harness/core/errors.ts';
import { buildK6Args, defaultK6Script } from '../../../../harness/traffic/k6/args.ts';
import type { TrafficPlan } from '../../../../harness/traffic/types.ts';

const plan: TrafficPlan = {
  url: 'http://127.0.0.1:41234',
  rate: 200,
  durationSeconds: 90,
  timeoutSeconds: 10,
  mix: [
    { path: '/', weight: 3 },
    { path: '/api?x=1', weight: 1 },
  ],
};

/** The `-e NAME=value` pairs of an argv, as an object. */
function vars(args: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  args.forEach((a, i) => {
    if (a !== '-e') return;
    const pair = args[i + 1];
    const eq = pair.indexOf('=');
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  });
  return out;
}

describe('buildK6Args', () => {
  it('runs k6 quietly with pure NDJSON on stdout, no REST API and no usage report', () => {
    const { file, args, env } = buildK6Args(plan, { script: '/s/constant-rate.js', cell: 'c-1' });
    expect(file).toBe('k6');
    expect(args.slice(0, 9)).toEqual(['run', '-q', '--no-summary', '--address', '', '--no-usage-report', '--out', 'json=-', '-e']);
    expect(args.at(-1)).toBe('/s/constant-rate.js');
    expect(env).toEqual({ K6_NO_USAGE_REPORT: 'true' });
  });

  it('passes the plan to the script as variables', () => {
    const { args } = buildK6Args(plan, { script: 's.js', cell: 'c-1' });
    const v = vars(args);
    expect(v).toEqual({
      TARGET: 'http://127.0.0.1:41234',
      RATE: '200',
      DURATION: '90',
      TIMEOUT: '10',
      MIX: JSON.stringify(plan.mix),
      PRE_ALLOCATED_VUS: '50',
      MAX_VUS: '2010',
      CELL: 'c-1',
    });
    expect(JSON.parse(v.MIX)).toEqual(plan.mix);
  });

  it('sizes VUs for every request hanging until its timeout, within bounds, and honours overrides', () => {
    const small = vars(buildK6Args({ ...plan, rate: 2, timeoutSeconds: 1 }, { script: 's.js' }).args);
    expect(small.PRE_ALLOCATED_VUS).toBe('5');
    expect(small.MAX_VUS).toBe('12');
    expect(small.CELL).toBeUndefined();
    const huge = vars(buildK6Args({ ...plan, rate: 20_000, timeoutSeconds: 30 }, { script: 's.js' }).args);
    expect(huge.PRE_ALLOCATED_VUS).toBe('1000');
    expect(huge.MAX_VUS).toBe('10000');
    const given = vars(buildK6Args(plan, { script: 's.js', preAllocatedVUs: 7, maxVUs: 3 }).args);
    expect(given.PRE_ALLOCATED_VUS).toBe('7');
    expect(given.MAX_VUS).toBe('7');
    expect(buildK6Args(plan, { script: 's.js', k6Path: '/opt/k6' }).file).toBe('/opt/k6');
  });

  it('rejects a plan k6 cannot run, saying what was expected and what came', () => {
    expect(() => buildK6Args({ ...plan, rate: 0 }, { script: 's.js' })).toThrow(ConfigError);
    expect(() => buildK6Args({ ...plan, rate: 0 }, { script: 's.js' })).toThrow('Expected the traffic plan\'s rate to be a positive number, got 0');
    expect(() => buildK6Args({ ...plan, durationSeconds: Number.NaN }, { script: 's.js' })).toThrow(/durationSeconds.*got NaN/);
    expect(() => buildK6Args({ ...plan, mix: [] }, { script: 's.js' })).toThrow(/at least one mix entry/);
  });

  it('points at the shipped script by default', () => {
    expect(defaultK6Script).toMatch(/k6-scripts\/constant-rate\.js$/);
    expect(existsSync(defaultK6Script)).toBe(true);
  });
});
