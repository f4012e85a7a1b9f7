import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../../harness/core/errors.ts';
import { EnvironmentError } from '../../../../harness/core/errors.ts';
import { buildK6Args, defaultK6Script, k6RunFlags, parseK6Version } from '../../../../harness/traffic/k6/args.ts';

const V048 = parseK6Version('k6 v0.48.0 (go1.21.4, linux/amd64)');
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

describe('parseK6Version', () => {
  it.each([
    ['k6 v0.45.1 (2023-07-17T10:09:57+0000/v0.45.1-0-g0dc1e8a6, go1.20.6, linux/amd64)', 'v0.45.1', [0, 45, 1]],
    ['k6 v0.48.0 (go1.21.4, linux/amd64)\n', 'v0.48.0', [0, 48, 0]],
    ['k6 v0.57.0 (go1.23.4, darwin/arm64)\nExtensions:\n  github.com/grafana/xk6-sql v0.4.0, k6/x/sql [js]\n', 'v0.57.0', [0, 57, 0]],
    ['k6 v1.0.0-rc1 (commit/41b4984b75, go1.24.1, linux/amd64)', 'v1.0.0-rc1', [1, 0, 0]],
    ['k6 v1.3.0 (commit/5870e99ae8, go1.25.1, linux/amd64)', 'v1.3.0', [1, 3, 0]],
    ['k6 v2.0.0 (commit/0c3b1c4e2a-dirty, go1.25.9, linux/amd64)', 'v2.0.0', [2, 0, 0]],
    // The binary's own file name comes first (cobra's `{{.Name}} v{{.Version}}`): a release binary kept under its archive's name.
    ['k6-v0.48.0 v0.48.0 (go1.19.8, linux/amd64)\n', 'v0.48.0', [0, 48, 0]],
    ['k6-linux-amd64 v0.51.0 (commit/a1b2c3d4e5, go1.22.3, linux/amd64)\n', 'v0.51.0', [0, 51, 0]],
    ['k6.exe v1.0.0 (commit/41b4984b75, go1.24.2, windows/amd64)\r\n', 'v1.0.0', [1, 0, 0]],
    ['k6-v1.1.0-linux-amd64 v1.1.0 (commit/2e1b1f2c3d, go1.24.4, linux/amd64)\nExtensions:\n  github.com/grafana/xk6-faker v0.4.4, k6/x/faker [js]\n', 'v1.1.0', [1, 1, 0]],
    ['k6-v2 v2.0.0-rc1 (commit/0c3b1c4e2a, go1.25.9, linux/amd64)', 'v2.0.0-rc1', [2, 0, 0]],
    ['/opt/k6/bin/k6-v2.1.0 v2.1.0 (commit/9f8e7d6c5b, go1.25.9, darwin/arm64)\n', 'v2.1.0', [2, 1, 0]],
    // A name that itself looks like a release: the version is the one before " (".
    ['k6 v0.50.0 v0.52.0 (go1.22.4, linux/amd64)', 'v0.52.0', [0, 52, 0]],
  ])('reads %j', (output, text, [major, minor, patch]) => {
    expect(parseK6Version(output)).toMatchObject({ text, major, minor, patch });
  });

  it('says what it expected when the output is not a k6 version', () => {
    expect(() => parseK6Version('command not found: k6\n')).toThrow(EnvironmentError);
    expect(() => parseK6Version('k6 version (devel)')).toThrow('Expected `k6 version` to print "<binary name> vMAJOR.MINOR.PATCH (…)" (e.g. "k6 v1.0.0 (commit/…, go1.24.2, linux/amd64)"), got "k6 version (devel)"');
    // A version inside a word is not the release: nothing separates it from the name.
    expect(() => parseK6Version('k6-v0.48.0 (go1.19.8, linux/amd64)')).toThrow(EnvironmentError);
  });
});

describe('k6RunFlags', () => {
  const v = (text: string) => parseK6Version(`k6 ${text} (go1.24.1, linux/amd64)`);

  it('uses --no-summary and --address "" up to v1.2 (summary-mode=disabled arrived in v1.3)', () => {
    for (const text of ['v0.45.0', 'v0.48.0', 'v0.51.0', 'v0.59.0', 'v1.0.0', 'v1.2.3']) {
      expect(k6RunFlags(v(text)), text).toEqual(['-q', '--no-summary', '--address', '', '--no-usage-report', '--out', 'json=-']);
    }
  });

  it('uses --summary-mode=disabled from v1.3 (no-summary deprecated) and keeps --address "" on v1', () => {
    for (const text of ['v1.3.0', 'v1.8.1']) {
      expect(k6RunFlags(v(text)), text).toEqual(['-q', '--summary-mode=disabled', '--address', '', '--no-usage-report', '--out', 'json=-']);
    }
  });

  it('drops --no-summary and --address on v2 (removed; the REST API is off unless --address is given)', () => {
    for (const text of ['v2.0.0-rc1', 'v2.0.0', 'v2.3.0']) {
      expect(k6RunFlags(v(text)), text).toEqual(['-q', '--summary-mode=disabled', '--no-usage-report', '--out', 'json=-']);
    }
  });
});

describe('buildK6Args', () => {
  it('runs k6 quietly with pure NDJSON on stdout, no REST API and no usage report', () => {
    const { file, args, env } = buildK6Args(plan, { version: V048, script: '/s/constant-rate.js', cell: 'c-1' });
    expect(file).toBe('k6');
    expect(args.slice(0, 9)).toEqual(['run', '-q', '--no-summary', '--address', '', '--no-usage-report', '--out', 'json=-', '-e']);
    expect(args.at(-1)).toBe('/s/constant-rate.js');
    expect(env).toEqual({ K6_NO_USAGE_REPORT: 'true' });
  });

  it('builds the flags of the k6 it is given', () => {
    const v2 = buildK6Args(plan, { version: parseK6Version('k6 v2.0.0 (commit/abc, go1.25.9, linux/amd64)'), script: 's.js' }).args;
    expect(v2.slice(0, 6)).toEqual(['run', '-q', '--summary-mode=disabled', '--no-usage-report', '--out', 'json=-']);
    expect(v2).not.toContain('--no-summary');
    expect(v2).not.toContain('--address');
  });

  it('refuses a k6 older than v0.45, naming the version and the way out', () => {
    const old = parseK6Version('k6 v0.44.1 (2023-05-10T…, go1.20.4, linux/amd64)');
    expect(() => buildK6Args(plan, { version: old, script: 's.js' })).toThrow(EnvironmentError);
    expect(() => buildK6Args(plan, { version: old, script: 's.js' })).toThrow(
      'Expected k6 v0.45 or newer (the script records send times with exec.vu.metrics.metadata), got v0.44.1; upgrade k6 or use driver: builtin',
    );
  });

  it('passes the plan to the script as variables', () => {
    const { args } = buildK6Args(plan, { version: V048, script: 's.js', cell: 'c-1' });
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
    const small = vars(buildK6Args({ ...plan, rate: 2, timeoutSeconds: 1 }, { version: V048, script: 's.js' }).args);
    expect(small.PRE_ALLOCATED_VUS).toBe('5');
    expect(small.MAX_VUS).toBe('12');
    expect(small.CELL).toBeUndefined();
    const huge = vars(buildK6Args({ ...plan, rate: 20_000, timeoutSeconds: 30 }, { version: V048, script: 's.js' }).args);
    expect(huge.PRE_ALLOCATED_VUS).toBe('1000');
    expect(huge.MAX_VUS).toBe('10000');
    const given = vars(buildK6Args(plan, { version: V048, script: 's.js', preAllocatedVUs: 7, maxVUs: 3 }).args);
    expect(given.PRE_ALLOCATED_VUS).toBe('7');
    expect(given.MAX_VUS).toBe('7');
    expect(buildK6Args(plan, { version: V048, script: 's.js', k6Path: '/opt/k6' }).file).toBe('/opt/k6');
  });

  it('rejects a plan k6 cannot run, saying what was expected and what came', () => {
    expect(() => buildK6Args({ ...plan, rate: 0 }, { version: V048, script: 's.js' })).toThrow(ConfigError);
    expect(() => buildK6Args({ ...plan, rate: 0 }, { version: V048, script: 's.js' })).toThrow('Expected the traffic plan\'s rate to be a positive number, got 0');
    expect(() => buildK6Args({ ...plan, durationSeconds: Number.NaN }, { version: V048, script: 's.js' })).toThrow(/durationSeconds.*got NaN/);
    expect(() => buildK6Args({ ...plan, mix: [] }, { version: V048, script: 's.js' })).toThrow(/at least one mix entry/);
  });

  it('points at the shipped script by default', () => {
    expect(defaultK6Script).toMatch(/k6-scripts\/constant-rate\.js$/);
    expect(existsSync(defaultK6Script)).toBe(true);
  });
});

describe('buildK6Args for a listener rule\'s host', () => {
  it('names the rule host in the URL and maps it to the load balancer\'s IP with k6\'s hosts option (Host and server name are the rule\'s)', () => {
    const inv = buildK6Args({ ...plan, url: 'https://127.0.0.1:41234/api', hostHeader: 'shop.example.test', tls: { servername: 'shop.example.test', caFile: '/tmp/twin/ca.pem' } }, { script: 'x.js', version: V048 });
    const v = vars(inv.args);
    expect(v.TARGET).toBe('https://shop.example.test:41234/api');
    expect(JSON.parse(v.HOSTS)).toEqual({ 'shop.example.test': '127.0.0.1' });
    expect(v.HOST_HEADER).toBeUndefined();
    expect(v.INSECURE_SKIP_TLS_VERIFY).toBeUndefined();
    // Go's roots file: the twin's CA.
    expect(inv.env.SSL_CERT_FILE).toBe('/tmp/twin/ca.pem');
  });

  it('sends a Host header to a load balancer reached by its DNS name over plain HTTP', () => {
    const v = vars(buildK6Args({ ...plan, url: 'http://k8s-shared-1.elb.example.test', hostHeader: 'shop.example.test' }, { script: 'x.js', version: V048 }).args);
    expect(v.TARGET).toBe('http://k8s-shared-1.elb.example.test');
    expect(v.HOST_HEADER).toBe('shop.example.test');
    expect(v.HOSTS).toBeUndefined();
  });

  it('refuses HTTPS by DNS name with verification (k6 would send the load balancer\'s name as server name), and takes it with insecureSkipTLSVerify', () => {
    const https = { ...plan, url: 'https://k8s-shared-1.elb.example.test', hostHeader: 'shop.example.test', tls: { servername: 'shop.example.test' } };
    expect(() => buildK6Args(https, { script: 'x.js', version: V048 })).toThrow(/k6 sends the URL's host \(k8s-shared-1.elb.example.test\) as the TLS server name.*set traffic.insecureSkipTLSVerify: true, use driver: builtin/);
    const inv = buildK6Args({ ...https, tls: { ...https.tls, insecureSkipVerify: true } }, { script: 'x.js', version: V048 });
    expect(vars(inv.args)).toMatchObject({ TARGET: 'https://k8s-shared-1.elb.example.test', HOST_HEADER: 'shop.example.test', INSECURE_SKIP_TLS_VERIFY: 'true' });
    expect(inv.env.SSL_CERT_FILE).toBeUndefined();
  });

  it('passes nothing more without a rule host', () => {
    const inv = buildK6Args(plan, { script: 'x.js', version: V048 });
    expect(Object.keys(vars(inv.args))).not.toContain('HOSTS');
    expect(Object.keys(vars(inv.args))).not.toContain('HOST_HEADER');
    expect(inv.env).toEqual({ K6_NO_USAGE_REPORT: 'true' });
  });
});
