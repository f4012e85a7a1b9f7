/**
 * Spec interpretation, pure: what a pod spec asks of the kubelet — the command of each container,
 * its readiness probe and preStop hook, its environment and the grace period of a deletion.
 */
import path from 'node:path';
import type { KubeObject } from '../../kube/types.ts';

/** The image of the test app; any tag runs `fixtures/app/server.mjs`. */
export const TEST_APP_IMAGE = 'rollout-harness/test-app';
/** The host IP every pod reports: node addresses are never real, so the loopback stands in. */
export const HOST_IP = '127.0.0.1';

/** A lifecycle handler: sleeping is done on the clock, not by a process. */
export type Hook = { kind: 'sleep'; ms: number } | { kind: 'exec'; command: string[] } | { kind: 'http'; path: string; port: number };

/** A readiness probe with the Kubernetes defaults filled in, in model milliseconds. */
export interface ProbePlan {
  action: Exclude<Hook, { kind: 'sleep' }> | { kind: 'tcp'; port: number };
  initialDelayMs: number;
  periodMs: number;
  timeoutMs: number;
  successThreshold: number;
  failureThreshold: number;
}

/** The argv of a container (from `own` on, what the pod spec wrote: command or args), or why there is none. */
export type Resolved = { command: string[]; own: number } | { error: string };

/** The image without its tag or digest. */
export function stripTag(image: string): string {
  const noDigest = image.split('@')[0];
  const slash = noDigest.lastIndexOf('/');
  const colon = noDigest.lastIndexOf(':');
  return colon > slash ? noDigest.slice(0, colon) : noDigest;
}

/** The argv for a container: `command` (+ `args`) from the spec, else the image's command (+ `args`). */
export function resolveContainerCommand(
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  container: any,
  images: Record<string, string[]>,
  projectRoot: string,
): Resolved {
  const args: string[] = (container.args ?? []).map(String);
  const image = String(container.image ?? '');
  if (Array.isArray(container.command) && container.command.length > 0) {
    // The image's own program called by its name (`k6 run …` in grafana/k6): the twin's program for the image.
    const program = images[image] ?? images[stripTag(image)];
    const name = stripTag(image).split('/').pop();
    if (program && String(container.command[0]) === name) return { command: [...program, ...container.command.slice(1).map(String), ...args], own: program.length };
    return { command: [...container.command.map(String), ...args], own: 0 };
  }
  const base =
    images[image] ??
    images[stripTag(image)] ??
    (stripTag(image) === TEST_APP_IMAGE ? [process.execPath, path.join(projectRoot, 'fixtures/app/server.mjs')] : undefined);
  if (!base) {
    const known = [TEST_APP_IMAGE, ...Object.keys(images)].map((i) => JSON.stringify(i)).join(', ');
    return { error: `Failed to pull image "${image}": expected an image the twin knows (${known}) or a container command, got an unknown image` };
  }
  return { command: [...base, ...args], own: base.length };
}

function parseSeconds(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)s?$/.exec(text.trim());
  return m ? Number(m[1]) : undefined;
}

/**
 * ingress-nginx's preStop (`/wait-shutdown`, its chart's default): the twin has no such file, so it
 * runs it as the binary does — SIGTERM to the controller, then wait until it (and its nginx) exited.
 */
export const WAIT_SHUTDOWN = '/wait-shutdown';

/** Whether an exec hook is ingress-nginx's `/wait-shutdown`. */
export function isWaitShutdown(command: string[]): boolean {
  return command.length === 1 && command[0] === WAIT_SHUTDOWN;
}

/** The seconds of a preStop exec command that only sleeps (`sleep N`, `sh -c "sleep N"`, `/bin/sleep N`), else undefined. */
export function sleepSecondsOf(command: string[]): number | undefined {
  const isSleep = (s: string) => /^(?:\/usr)?(?:\/bin\/)?sleep$/.test(s);
  if (command.length === 2 && isSleep(command[0])) return parseSeconds(command[1]);
  if (command.length === 3 && /^(?:\/usr)?(?:\/bin\/)?(?:ba|da)?sh$/.test(command[0]) && command[1] === '-c') {
    const m = /^\s*(?:exec\s+)?(\S+)\s+([^\s;]+)\s*;?\s*$/.exec(command[2]);
    if (m && isSleep(m[1])) return parseSeconds(m[2]);
  }
  return undefined;
}

/** A probe or hook port: a number, a numeric string, or the name of one of the container's ports. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function portOf(container: any, port: unknown): number | undefined {
  if (typeof port === 'number') return port;
  if (typeof port === 'string' && /^\d+$/.test(port)) return Number(port);
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const named = (container.ports ?? []).find((p: any) => p.name === port);
  return named?.containerPort;
}

/** A lifecycle handler of the spec (`sleep`, `exec`, `httpGet`); an exec that only sleeps becomes a sleep. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function hookOf(container: any, action: any): Hook | undefined {
  if (!action) return undefined;
  if (action.sleep?.seconds !== undefined) return { kind: 'sleep', ms: Number(action.sleep.seconds) * 1000 };
  if (Array.isArray(action.exec?.command) && action.exec.command.length > 0) {
    const command = action.exec.command.map(String);
    const seconds = sleepSecondsOf(command);
    return seconds !== undefined ? { kind: 'sleep', ms: seconds * 1000 } : { kind: 'exec', command };
  }
  if (action.httpGet) {
    return { kind: 'http', path: String(action.httpGet.path ?? '/'), port: portOf(container, action.httpGet.port) ?? 80 };
  }
  return undefined;
}

/** The container's readiness probe with the Kubernetes defaults, or undefined when it has none (or none the twin can run). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function probePlanOf(container: any): ProbePlan | undefined {
  const probe = container.readinessProbe;
  if (!probe) return undefined;
  const action = probe.tcpSocket
    ? { kind: 'tcp' as const, port: portOf(container, probe.tcpSocket.port) ?? 80 }
    : hookOf(container, { exec: probe.exec, httpGet: probe.httpGet });
  if (!action || action.kind === 'sleep') return undefined;
  return {
    action,
    initialDelayMs: (probe.initialDelaySeconds ?? 0) * 1000,
    periodMs: (probe.periodSeconds ?? 10) * 1000,
    timeoutMs: (probe.timeoutSeconds ?? 1) * 1000,
    successThreshold: probe.successThreshold ?? 1,
    failureThreshold: probe.failureThreshold ?? 3,
  };
}

/** The grace period of a pod's termination in model ms: the deletion's, else the spec's, else 30 s. */
export function graceMs(pod: KubeObject): number {
  return (pod.metadata.deletionGracePeriodSeconds ?? pod.spec?.terminationGracePeriodSeconds ?? 30) * 1000;
}

/**
 * `$(VAR)` references in a command, argument or env value expanded from `env`, as the kubelet
 * does: `$$` is a literal `$`, and a reference to a variable not defined is left as it is.
 */
export function expandVars(text: string, env: Record<string, string>): string {
  return text.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (whole, name: string | undefined) => (name === undefined ? '$' : Object.hasOwn(env, name) ? env[name] : whole));
}

/** A downward-API field of the pod: the fixed ones the kubelet knows, and `metadata.labels['k']` / `metadata.annotations['k']`. */
function fieldValue(fieldPath: string, fieldValues: Record<string, string>, pod?: KubeObject): string | undefined {
  if (Object.hasOwn(fieldValues, fieldPath)) return fieldValues[fieldPath];
  const m = /^metadata\.(labels|annotations)\['([^']+)'\]$/.exec(fieldPath);
  return m ? pod?.metadata?.[m[1] as 'labels' | 'annotations']?.[m[2]] : undefined;
}

/** The container's own env: literal values (with `$(VAR)` of earlier ones and of `base` expanded) and the downward-API fields the twin knows. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function ownEnvOf(container: any, fieldValues: Record<string, string>, pod?: KubeObject, base: Record<string, string> = {}): Record<string, string> {
  const own: Record<string, string> = {};
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  for (const e of (container.env ?? []) as any[]) {
    if (e.value !== undefined) own[e.name] = expandVars(String(e.value), { ...base, ...own });
    else if (e.valueFrom?.fieldRef?.fieldPath) {
      const v = fieldValue(String(e.valueFrom.fieldRef.fieldPath), fieldValues, pod);
      if (v !== undefined) own[e.name] = v;
    }
  }
  return own;
}
