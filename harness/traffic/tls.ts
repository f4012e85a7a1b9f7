/**
 * The TLS side of a traffic plan as Node's `tls.connect` options (for undici's connector): the
 * server name sent and verified, the system roots plus an extra CA, or no verification.
 */
import { readFileSync } from 'node:fs';
import { createSecureContext, rootCertificates, type SecureContext } from 'node:tls';
import { EnvironmentError } from '../core/errors.ts';
import type { TrafficTls } from './types.ts';

/**
 * The `connect` options for an undici dispatcher; reads the CA file once and builds one secure
 * context for every connection (with `ca` alone, each connection parses the ~150 roots again: tens
 * of ms of CPU per handshake, enough to stall a driver that opens many).
 */
export function tlsConnectOptions(tls: TrafficTls | undefined): { servername?: string; secureContext?: SecureContext; rejectUnauthorized?: boolean } {
  if (!tls) return {};
  let ca: string[] | undefined;
  if (tls.caFile) {
    try {
      // `ca` replaces Node's roots: keep them, so a staging certificate still verifies.
      ca = [...rootCertificates, readFileSync(tls.caFile, 'utf8')];
    } catch (cause) {
      throw new EnvironmentError(`Expected a readable PEM CA certificate at ${tls.caFile}, got ${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}`, { cause });
    }
  }
  return {
    ...(tls.servername ? { servername: tls.servername } : {}),
    ...(ca ? { secureContext: createSecureContext({ ca }) } : {}),
    ...(tls.insecureSkipVerify ? { rejectUnauthorized: false } : {}),
  };
}
