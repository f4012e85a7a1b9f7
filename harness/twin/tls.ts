/**
 * The twin's certificate authority: a CA made once per state directory, and server certificates
 * it signs for the hosts an HTTPS listener's rules name (plus 127.0.0.1 and localhost, so a client
 * that connects to the loopback address without a server name can verify too). Made with the
 * `openssl` CLI (EC P-256 keys: fast), cached by host set under `<stateDir>/tls/`. Clients trust
 * the twin through `caFile` (the env file's ROLLOUT_HARNESS_TWIN_CA), never by skipping checks.
 */
import { createHash } from 'node:crypto';
import { access, mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { EnvironmentError } from '../core/errors.ts';
import type { TlsIdentity } from './alb/data-plane.ts';

/** The env file variable that names the twin CA's certificate (PEM). */
export const TWIN_CA_ENV = 'ROLLOUT_HARNESS_TWIN_CA';

/** A certificate authority on disk. */
export interface TwinCertificateAuthority {
  /** The CA certificate, PEM: what clients add to their trusted roots. */
  readonly caFile: string;
  /** A server certificate for `hosts` (DNS names, `*.` wildcards allowed), signed by the CA. */
  issue(hosts: string[]): Promise<TlsIdentity>;
}

const exists = (file: string) =>
  access(file).then(
    () => true,
    () => false,
  );

async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await execa('openssl', args, { cwd });
  } catch (cause) {
    throw new EnvironmentError(`Expected 'openssl ${args[0]}' to make the twin's certificates in ${cwd}, got: ${(cause as Error).message}`, { cause });
  }
}

const KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** Opens (or makes) the CA under `<stateDir>/tls`. */
export async function openCertificateAuthority(stateDir: string): Promise<TwinCertificateAuthority> {
  // Absolute: openssl runs in this directory, so a relative state dir would be resolved twice.
  const dir = path.resolve(stateDir, 'tls');
  await mkdir(dir, { recursive: true });
  const caFile = path.join(dir, 'ca.pem');
  const caKey = path.join(dir, 'ca-key.pem');
  if (!(await exists(caFile)) || !(await exists(caKey))) {
    await openssl(
      ['req', '-x509', ...KEY, '-keyout', caKey, '-out', caFile, '-days', '3650', '-subj', '/CN=rollout-harness twin CA',
        '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'],
      dir,
    );
  }
  const issued = new Map<string, Promise<TlsIdentity>>();
  const make = async (hosts: string[]): Promise<TlsIdentity> => {
    const id = createHash('sha256').update(hosts.join(',')).digest('hex').slice(0, 16);
    const keyFile = path.join(dir, `server-${id}-key.pem`);
    const certFile = path.join(dir, `server-${id}.pem`);
    if (!(await exists(certFile)) || !(await exists(keyFile))) {
      const san = [...hosts.map((h) => `DNS:${h}`), 'DNS:localhost', 'IP:127.0.0.1'].join(',');
      await openssl(
        ['req', '-x509', ...KEY, '-keyout', keyFile, '-out', certFile, '-days', '825', '-CA', caFile, '-CAkey', caKey,
          '-subj', `/CN=${hosts[0] ?? 'localhost'}`, '-addext', `subjectAltName=${san}`, '-addext', 'basicConstraints=critical,CA:FALSE',
          '-addext', 'extendedKeyUsage=serverAuth'],
        dir,
      );
    }
    return { key: await readFile(keyFile, 'utf8'), cert: await readFile(certFile, 'utf8') };
  };
  return {
    caFile,
    issue(hosts) {
      const sorted = [...new Set(hosts.map((h) => h.toLowerCase()))].sort();
      const key = sorted.join(',');
      let identity = issued.get(key);
      if (!identity) {
        identity = make(sorted);
        issued.set(key, identity);
        identity.catch(() => issued.delete(key));
      }
      return identity;
    },
  };
}
