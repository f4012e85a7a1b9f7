/**
 * The twin's gateway layer: the default world's names for it, and whether this machine can run it
 * (its pods run Debian's `nginx`). The harness reads these to resolve `topology: gateway` on the
 * twin and to refuse a spec that needs nginx before anything starts.
 */
import { access, constants } from 'node:fs/promises';
import path from 'node:path';

/** The namespace of the default world's gateway. */
export const GATEWAY_NAMESPACE = 'ingress-nginx';
/** The default world's gateway Deployment (ingress-nginx's controller). */
export const GATEWAY_DEPLOYMENT = 'ingress-nginx-controller';
/** The `alb` Ingress that puts the gateway's pods behind their own ALB. */
export const GATEWAY_INGRESS = 'gateway';
/** The annotation of a Deployment kept at 0 replicas until a cell uses it: the count to scale it to. */
export const REPLICAS_WHEN_USED_ANNOTATION = 'rollout-harness.io/replicas-when-used';

/** Finds an executable `nginx` on PATH (and in the sbin directories Debian installs it to). */
export async function nginxAvailable(): Promise<{ ok: true; path: string } | { ok: false; message: string }> {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter).filter(Boolean), '/usr/sbin', '/usr/local/sbin', '/sbin'];
  for (const dir of new Set(dirs)) {
    const file = path.join(dir, 'nginx');
    try {
      await access(file, constants.X_OK);
      return { ok: true, path: file };
    } catch {
      // not here
    }
  }
  return { ok: false, message: `expected an nginx executable on PATH or in /usr/sbin (the gateway's pods run it), got none; install it with: apt-get install nginx` };
}
