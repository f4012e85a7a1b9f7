/** findK6 and selectDriver against real directories on a made-up PATH. */
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { scaledClock } from '../../../../harness/core/clock.ts';
import { EnvironmentError } from '../../../../harness/core/errors.ts';
import { describeDriver, k6VersionFor, selectDriver } from '../../../../harness/traffic/index.ts';
import { findK6 } from '../../../../harness/traffic/k6/args.ts';

const FAKE_K6 = fileURLToPath(new URL('../../../helpers/fake-k6.mjs', import.meta.url));

let root: string;
let empty: string;
let withK6: string;
let decoys: string;

beforeEach(() => {
  root = mkdtempSync(path.join(tmpdir(), 'k6-path-'));
  empty = path.join(root, 'empty');
  withK6 = path.join(root, 'bin');
  decoys = path.join(root, 'decoys');
  for (const d of [empty, withK6, decoys]) mkdirSync(d);
  symlinkSync(FAKE_K6, path.join(withK6, 'k6'));
  // A k6 that is not executable, and a directory named k6: neither is a k6 binary.
  writeFileSync(path.join(decoys, 'k6'), '#!/bin/sh\n');
  chmodSync(path.join(decoys, 'k6'), 0o644);
  mkdirSync(path.join(empty, 'k6'));
});

afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

describe('describeDriver for k6-operator', () => {
  it("names the runner image's release, and refuses one the harness cannot drive or cannot tell", async () => {
    const env = {};
    const choice = selectDriver('k6-operator', env);
    expect(choice.name).toBe('k6-operator');
    expect(await describeDriver(choice, env, scaledClock(1), { runnerImage: 'grafana/k6:1.1.0' })).toMatchObject({ name: 'k6-operator', version: 'v1.1.0' });
    expect(await describeDriver(choice, env, scaledClock(1), { runnerImage: 'grafana/k6@sha256:0', k6Version: 'v0.48.0' })).toMatchObject({ version: 'v0.48.0' });
    await expect(describeDriver(choice, env, scaledClock(1), { runnerImage: 'grafana/k6:0.44.0' })).rejects.toThrow(/v0\.45 or newer.*got v0\.44\.0/);
    await expect(describeDriver(choice, env, scaledClock(1), { runnerImage: 'grafana/k6:latest' })).rejects.toThrow(/release tag/);
  });
});

describe('findK6', () => {
  it('takes the first executable k6 on PATH, skipping non-executables and directories', () => {
    expect(findK6({ PATH: [empty, decoys, withK6].join(path.delimiter) })).toBe(path.join(withK6, 'k6'));
    expect(findK6({ PATH: [empty, decoys].join(path.delimiter) })).toBeUndefined();
    expect(findK6({})).toBeUndefined();
  });

  it('prefers K6_BIN over PATH', () => {
    expect(findK6({ K6_BIN: '/opt/k6/bin/k6', PATH: withK6 })).toBe('/opt/k6/bin/k6');
  });
});

describe('selectDriver', () => {
  it("'auto' picks k6 when it is on PATH, and says so", () => {
    const choice = selectDriver('auto', { PATH: [empty, withK6].join(path.delimiter) });
    expect(choice.name).toBe('k6');
    expect(choice.reason).toBe(`Using k6 at ${path.join(withK6, 'k6')} (driver: auto) because it is on PATH.`);
  });

  it("'auto' picks k6 from K6_BIN even when PATH has none", () => {
    const choice = selectDriver('auto', { PATH: empty, K6_BIN: FAKE_K6 });
    expect(choice).toEqual({ name: 'k6', reason: `Using k6 at ${FAKE_K6} (driver: auto) because K6_BIN points to it.` });
  });

  it("'auto' falls back to the built-in driver when k6 is nowhere", () => {
    const choice = selectDriver('auto', { PATH: [empty, decoys].join(path.delimiter) });
    expect(choice).toEqual({ name: 'builtin', reason: 'Using the built-in driver (driver: auto) because K6_BIN is unset and k6 is not on PATH.' });
  });

  it('honours an explicit choice, and warns when k6 is asked for but missing', () => {
    expect(selectDriver('builtin', { PATH: withK6 }).name).toBe('builtin');
    expect(selectDriver('k6', { PATH: withK6 }).reason).toContain(path.join(withK6, 'k6'));
    const missing = selectDriver('k6', { PATH: empty });
    expect(missing.name).toBe('k6');
    expect(missing.reason).toMatch(/k6 is not on PATH, so the run will fail to start it/);
  });
});

describe('describeDriver and k6VersionFor', () => {
  it('records the k6 release for run.json, reading `k6 version` once per environment and binary', async () => {
    const versionCalls = path.join(root, 'calls');
    // A k6 that counts its `version` calls, then answers as the fake k6 v2.0.0 does.
    const counting = path.join(root, 'counting-k6');
    writeFileSync(counting, `#!/bin/sh\n[ "$1" = version ] && echo x >> ${versionCalls}\nexec ${process.execPath} ${FAKE_K6} "$@"\n`);
    chmodSync(counting, 0o755);
    const env = { ...process.env, K6_BIN: counting, FAKE_K6_VERSION: '2.0.0' };
    const choice = selectDriver('k6', env);
    const described = await describeDriver(choice, env, scaledClock(1));
    expect(described).toEqual({ ...choice, version: 'v2.0.0' });
    expect((await k6VersionFor(counting, env, scaledClock(1))).text).toBe('v2.0.0');
    expect(readFileSync(versionCalls, 'utf8')).toBe('x\n');
    // Another environment asks again.
    expect((await k6VersionFor(counting, { ...env, FAKE_K6_VERSION: '0.48.0' }, scaledClock(1))).text).toBe('v0.48.0');
    expect(readFileSync(versionCalls, 'utf8')).toBe('x\nx\n');
  });

  it('leaves the built-in driver as chosen and fails early when k6 is missing', async () => {
    const nothing = { PATH: path.join(root, 'nowhere') };
    const builtin = selectDriver('builtin', nothing);
    expect(await describeDriver(builtin, nothing, scaledClock(1))).toEqual(builtin);
    const k6 = selectDriver('k6', nothing);
    const error = await describeDriver(k6, nothing, scaledClock(1)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EnvironmentError);
    expect((error as Error).message).toBe('k6 not found at k6; install k6 or use driver: builtin');
  });
});
