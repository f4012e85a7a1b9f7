/**
 * The built-in driver over HTTPS as it reaches a rule of a shared ALB: it connects to the load
 * balancer's address (127.0.0.1 here) and sends the rule's host as Host header and TLS server name,
 * verified against a certificate made in the test with the openssl CLI (a CA and a leaf for a
 * made-up host that is never resolved).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scaledClock } from '../../../../harness/core/clock.ts';
import { runBuiltinTraffic } from '../../../../harness/traffic/builtin/driver.ts';
import type { TrafficPlan } from '../../../../harness/traffic/types.ts';

const HOST = 'shop.example.test';
let dir: string;
let server: https.Server;
let port: number;
const seen: Array<{ host?: string; servername?: string | false | null }> = [];

/** Runs openssl in the test's directory; throws with its stderr on failure. */
function openssl(...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A self-signed CA: `<name>.key`, `<name>.pem`. */
function makeCa(name: string): void {
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '1', '-subj', `/CN=${name}`);
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'tls-driver-'));
  makeCa('ca');
  makeCa('other-ca');
  openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'leaf.key', '-out', 'leaf.csr', '-subj', `/CN=${HOST}`);
  writeFileSync(path.join(dir, 'leaf.ext'), `subjectAltName=DNS:${HOST}\n`);
  openssl('x509', '-req', '-in', 'leaf.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'leaf.pem', '-days', '1', '-extfile', 'leaf.ext');
  server = https.createServer({ key: readFileSync(path.join(dir, 'leaf.key')), cert: readFileSync(path.join(dir, 'leaf.pem')) }, (req, res) => {
    seen.push({ host: req.headers.host, servername: (req.socket as TLSSocket).servername });
    res.end('ok');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  if (server) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Five requests to 127.0.0.1 with the rule's host, and the given TLS. */
function run(tls: TrafficPlan['tls'], hostHeader = HOST) {
  return runBuiltinTraffic({ url: `https://127.0.0.1:${port}`, rate: 20, durationSeconds: 0.25, timeoutSeconds: 5, mix: [{ path: '/', weight: 1 }], hostHeader, tls }, { clock: scaledClock(1) });
}

describe('the built-in driver over HTTPS', () => {
  it('sends the rule host as Host and server name and verifies the certificate with the extra CA', async () => {
    seen.length = 0;
    const r = await run({ servername: HOST, caFile: path.join(dir, 'ca.pem') });
    expect(r.sent).toBe(5);
    expect(r.byStatus).toEqual({ '200': 5 });
    expect(r.networkErrors).toEqual({});
    expect(seen).toHaveLength(5);
    expect(seen.every((s) => s.host === HOST && s.servername === HOST)).toBe(true);
  });

  it('counts a certificate from an unknown CA as a network error, never as an answer', async () => {
    const r = await run({ servername: HOST, caFile: path.join(dir, 'other-ca.pem') });
    expect(r.byStatus).toEqual({});
    expect(Object.values(r.networkErrors).reduce((a, b) => a + b, 0)).toBe(5);
    expect(Object.keys(r.networkErrors)).toEqual(['UNABLE_TO_VERIFY_LEAF_SIGNATURE']);
  });

  it('refuses a certificate that does not name the host', async () => {
    const r = await run({ servername: 'other.example.test', caFile: path.join(dir, 'ca.pem') }, 'other.example.test');
    expect(r.byStatus).toEqual({});
    expect(Object.keys(r.networkErrors)).toEqual(['ERR_TLS_CERT_ALTNAME_INVALID']);
  });

  it('accepts any certificate with insecureSkipTLSVerify', async () => {
    const r = await run({ servername: HOST, insecureSkipVerify: true });
    expect(r.byStatus).toEqual({ '200': 5 });
  });
});
