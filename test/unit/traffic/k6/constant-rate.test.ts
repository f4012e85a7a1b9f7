/**
 * Runs k6-scripts/constant-rate.js outside k6: the script is copied next to tiny stand-ins for
 * `k6/http` and `k6/execution` that record what it asks for, then imported with a given __ENV.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mixPicker } from '../../../../harness/traffic/builtin/driver.ts';
import { buildK6Args, defaultK6Script, parseK6Version } from '../../../../harness/traffic/k6/args.ts';

const V048 = parseK6Version('k6 v0.48.0 (go1.21.4, linux/amd64)');

interface Call {
  url: string;
  params: { timeout: string; tags: Record<string, string>; headers?: Record<string, string> };
  metadata: Record<string, string>;
}
interface ScriptModule {
  options: Record<string, unknown> & { scenarios: Record<string, Record<string, unknown>> };
  default: () => void;
}
const g = globalThis as unknown as {
  __ENV: Record<string, string>;
  __k6calls: Call[];
  __k6exec: { scenario: { iterationInTest: number }; vu: { metrics: { metadata: Record<string, string> } } };
};

let dir: string;
let copies = 0;

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'k6-script-'));
  const k6 = path.join(dir, 'node_modules', 'k6');
  mkdirSync(k6, { recursive: true });
  writeFileSync(path.join(k6, 'package.json'), JSON.stringify({ name: 'k6', type: 'module', exports: { './http': './http.js', './execution': './execution.js' } }));
  writeFileSync(
    path.join(k6, 'http.js'),
    'export default { get(url, params) { globalThis.__k6calls.push({ url, params, metadata: { ...globalThis.__k6exec.vu.metrics.metadata } }); } };\n',
  );
  writeFileSync(
    path.join(k6, 'execution.js'),
    'export default { get scenario() { return globalThis.__k6exec.scenario; }, get vu() { return globalThis.__k6exec.vu; } };\n',
  );
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Imports a fresh copy of the script with `env` as __ENV. */
async function load(env: Record<string, string>): Promise<ScriptModule> {
  const file = path.join(dir, `constant-rate-${copies++}.js`);
  copyFileSync(defaultK6Script, file);
  g.__ENV = env;
  g.__k6calls = [];
  g.__k6exec = { scenario: { iterationInTest: 0 }, vu: { metrics: { metadata: {} } } };
  return (await import(pathToFileURL(file).href)) as ScriptModule;
}

/** The variables buildK6Args passes with -e. */
function envFor(...a: Parameters<typeof buildK6Args>): Record<string, string> {
  const { args } = buildK6Args(...a);
  const env: Record<string, string> = {};
  args.forEach((x, i) => {
    if (x === '-e') {
      const [k, ...v] = args[i + 1].split('=');
      env[k] = v.join('=');
    }
  });
  return env;
}

describe('k6-scripts/constant-rate.js', () => {
  const plan = { url: 'http://127.0.0.1:5000/', rate: 50, durationSeconds: 20, timeoutSeconds: 4, mix: [{ path: '/a', weight: 2 }, { path: '/b', weight: 1 }] };

  it('declares one constant-arrival-rate scenario from the variables buildK6Args passes, without thresholds', async () => {
    const script = await load(envFor(plan, { version: V048, script: 'x', cell: 'cell-7' }));
    expect(script.options.discardResponseBodies).toBe(true);
    expect(script.options.maxRedirects).toBe(0);
    expect(script.options.thresholds).toBeUndefined();
    expect(script.options.scenarios).toEqual({
      traffic: {
        executor: 'constant-arrival-rate',
        rate: 50,
        timeUnit: '1s',
        duration: '20s',
        preAllocatedVUs: 13,
        maxVUs: 210,
        gracefulStop: '5s',
      },
    });
  });

  it('sends one GET per iteration, tagged with the cell, with the timeout and the send time, in the built-in mix order', async () => {
    const script = await load(envFor(plan, { version: V048, script: 'x', cell: 'cell-7' }));
    const before = Date.now();
    for (let i = 0; i < 9; i++) {
      g.__k6exec.scenario.iterationInTest = i;
      script.default();
    }
    const pick = mixPicker(plan.mix);
    expect(g.__k6calls.map((c) => c.url)).toEqual(Array.from({ length: 9 }, (_, i) => `http://127.0.0.1:5000${pick(i)}`));
    expect(g.__k6calls.filter((c) => c.url.endsWith('/a'))).toHaveLength(6);
    for (const call of g.__k6calls) {
      expect(call.params).toEqual({ timeout: '4s', tags: { cell: 'cell-7' } });
      expect(Number(call.metadata.sent_ms)).toBeGreaterThanOrEqual(before);
      expect(Number(call.metadata.sent_ms)).toBeLessThanOrEqual(Date.now());
    }
  });

  it('sets the User-Agent option from USER_AGENT (the run and cell, for the ALB log), and leaves k6\'s own otherwise', async () => {
    const ua = 'rollout-harness/0.1.0 20260101T000000Z-nightly/rollout.gate-on.r1';
    const script = await load(envFor({ ...plan, userAgent: ua }, { version: V048, script: 'x', cell: 'cell-7' }));
    expect(script.options.userAgent).toBe(ua);
    const plain = await load(envFor(plan, { version: V048, script: 'x', cell: 'cell-7' }));
    expect(plain.options.userAgent).toBeUndefined();
  });

  it('sets k6\'s hosts and insecureSkipTLSVerify options and the Host header from the variables buildK6Args passes', async () => {
    const byIp = await load(envFor({ ...plan, url: 'https://127.0.0.1:5000', hostHeader: 'shop.example.test', tls: { servername: 'shop.example.test', insecureSkipVerify: true } }, { version: V048, script: 'x', cell: 'c' }));
    expect(byIp.options.hosts).toEqual({ 'shop.example.test': '127.0.0.1' });
    expect(byIp.options.insecureSkipTLSVerify).toBe(true);
    byIp.default();
    expect(g.__k6calls[0].url).toBe('https://shop.example.test:5000/a');
    expect(g.__k6calls[0].params).toEqual({ timeout: '4s', tags: { cell: 'c' } });

    const byName = await load(envFor({ ...plan, url: 'http://lb.elb.example.test', hostHeader: 'shop.example.test' }, { version: V048, script: 'x', cell: 'c' }));
    expect(byName.options.hosts).toBeUndefined();
    expect(byName.options.insecureSkipTLSVerify).toBeUndefined();
    byName.default();
    expect(g.__k6calls[0]).toMatchObject({ url: 'http://lb.elb.example.test/a', params: { timeout: '4s', tags: { cell: 'c' }, headers: { Host: 'shop.example.test' } } });
  });

  it('runs a fractional rate as an integer per 1000 s, and takes thresholds when given', async () => {
    const script = await load({ TARGET: 'http://127.0.0.1:1', RATE: '2.5', THRESHOLDS: '{"http_req_failed":["rate<0.01"]}' });
    expect(script.options.scenarios.traffic).toMatchObject({ rate: 2500, timeUnit: '1000s', duration: '10s', gracefulStop: '31s' });
    expect(script.options.thresholds).toEqual({ http_req_failed: ['rate<0.01'] });
  });

  it('refuses bad variables with a message saying what was expected and what came', async () => {
    await expect(load({ RATE: '5' })).rejects.toThrow('Expected TARGET (base URL) to be set, got nothing');
    await expect(load({ TARGET: 'http://127.0.0.1:1', RATE: 'fast' })).rejects.toThrow('Expected RATE to be a positive number, got "fast"');
    await expect(load({ TARGET: 'http://127.0.0.1:1', MIX: '[]' })).rejects.toThrow(/Expected MIX to be a non-empty array/);
    await expect(load({ TARGET: 'http://127.0.0.1:1', MIX: '{oops' })).rejects.toThrow(/Expected MIX to be JSON, got "\{oops"/);
  });
});
