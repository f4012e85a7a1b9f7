/**
 * The gateway layer of the twin: ingress-nginx played by real nginx processes and an
 * ingress-controller emulation (main.ts) that follows EndpointSlices. This file holds the names the
 * default world gives it (shared with the harness) and what the kubelet needs to run its image.
 * See README.md beside it.
 */
import path from 'node:path';
import { nginxAvailable } from './nginx.ts';

export { nginxAvailable, NGINX_PACKAGE_HINT } from './nginx.ts';
export { DEFAULT_SYNC_SECONDS } from './sync.ts';
export { UPSTREAMINFO_FORMAT } from './conf.ts';

/** The namespace of the default world's gateway. */
export const GATEWAY_NAMESPACE = 'ingress-nginx';
/** The gateway's Deployment (and Service) in GATEWAY_NAMESPACE. */
export const GATEWAY_DEPLOYMENT = 'ingress-nginx-controller';
/** The ALB Ingress in GATEWAY_NAMESPACE whose targets are the gateway pods. */
export const GATEWAY_INGRESS = 'gateway';
/** Annotation of the gateway Deployment: the replicas to scale it to when a cell uses it (it stays at 0 otherwise). */
export const REPLICAS_WHEN_USED_ANNOTATION = 'rollout-harness.io/replicas-when-used';
/** The image the twin's kubelet runs as the emulation. */
export const GATEWAY_IMAGE = 'rollout-harness/ingress-nginx';

/**
 * The argv of the gateway image: the emulation through tsx, with the world's sync lag and the
 * directory its pods' nginx directories go in (the twin removes it at stop: a SIGKILLed pod cannot).
 */
export function gatewayCommand(projectRoot: string, syncSeconds: number, tmpDir: string): string[] {
  return [process.execPath, '--import', 'tsx', path.join(projectRoot, 'harness/twin/gateway/main.ts'), `--backends-sync-seconds=${syncSeconds}`, `--tmp-dir=${tmpDir}`];
}

/** The kubelet's check before it starts the gateway image: undefined when nginx is there, else the refusal naming the package. */
export async function gatewayImageRefusal(): Promise<string | undefined> {
  const found = await nginxAvailable();
  return found.ok ? undefined : found.message;
}
