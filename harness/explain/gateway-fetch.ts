/**
 * Reading a gateway cell's gateway logs through the pod-logs API, at the end of the cell while its
 * gateway pods still run: each pod's log since the cell started, with the kubelet's timestamps (on
 * the twin they are model time, the ALB log's clock), and the log of the container's instance
 * before a restart too. A pod that is gone took its log with it: that is said, never dropped.
 * Only the cell's lines (its User-Agent) that a 5xx can join or that show a retry are kept.
 */
import type { TimelineEvent } from '../observe/timeline.ts';
import type { KObject, KubernetesPort } from '../platform/ports.ts';
import type { PhaseSettings } from './cell-context.ts';
import type { GatewayLine } from './gateway.ts';
import { outcomeOf, parseGatewayLog, type GatewayLogFormat } from './gateway-log.ts';

/** What was read of one gateway pod. */
export interface GatewayPodLog {
  pod: string;
  status: 'read' | 'gone' | 'failed';
  /** The cell's access lines in it. */
  lines: number;
  /** The previous instance's log was read too (the container had restarted). */
  previous?: boolean;
  why?: string;
}

/** A gateway cell's gateway logs, as read. */
export interface GatewayLogs {
  format: GatewayLogFormat;
  pods: GatewayPodLog[];
  /** The cell's lines a 5xx can join (status ≥ 500) or that show a retry; line numbers run on through a previous instance's log into the current one's. */
  lines: GatewayLine[];
}

/** What reading needs. */
export interface GatewayLogRequest {
  namespace: string;
  /** The gateway Deployment's pod selector: the pods there now. */
  labelSelector: string;
  /** The gateway pods the cell's timeline saw (some may be gone by now). */
  pods: readonly string[];
  container?: string;
  format: GatewayLogFormat;
  /** The cell's duration and a margin, seconds (model seconds on the twin: its API counts them on its clock). */
  sinceSeconds: number;
  /** The cell's User-Agent. */
  userAgent: string;
}

/** The gateway pods a cell's timeline saw (its events with `role: 'gateway'`), in the order first seen. */
export function gatewayPodsOf(timeline: readonly TimelineEvent[]): string[] {
  return [...new Set(timeline.flatMap((e) => (e.type === 'pod' && e.role === 'gateway' ? [e.pod] : [])))];
}

/**
 * The gateway pods' phase settings from the gateway Deployment: its grace (Kubernetes' 30 s when
 * unset), and its preStop as the seconds the gateway keeps accepting after turning terminating — a
 * sleep's seconds (`sleep: {seconds}`, or an exec of `sleep N`), else 0: ingress-nginx's
 * `/wait-shutdown` quits nginx at once, which stops accepting and finishes what is in flight.
 */
export function gatewayPhaseSettings(deployment: KObject, deregistrationDelaySeconds: number, container?: string): PhaseSettings {
  const spec = deployment.spec?.template?.spec ?? {};
  const containers = (spec.containers ?? []) as Array<{ name: string; lifecycle?: { preStop?: { sleep?: { seconds?: number }; exec?: { command?: string[] } } } }>;
  const c = containers.find((x) => x.name === container) ?? containers[0];
  const hook = c?.lifecycle?.preStop;
  const slept = /^(?:\S*\/)?sleep\s+(\d+(?:\.\d+)?)$/.exec((hook?.exec?.command ?? []).filter((a) => !/^(?:\S*\/)?(?:ba)?sh$|^-c$/.test(a)).join(' '));
  const preStopSeconds = hook?.sleep?.seconds ?? (slept ? Number(slept[1]) : 0);
  return { preStopSeconds, terminationGracePeriodSeconds: (spec.terminationGracePeriodSeconds as number | undefined) ?? 30, deregistrationDelaySeconds };
}

const statusOf = (error: unknown) => (error as { status?: number; code?: number }).status ?? (error as { code?: unknown }).code;

/**
 * A gateway cell's gateway logs, read at its end: the pods its timeline saw and those running now,
 * each since the cell began (its duration so far and a minute more).
 */
export function readCellGatewayLogs(
  k8s: KubernetesPort,
  cell: { timeline: readonly TimelineEvent[]; durationSeconds: number },
  gateway: { namespace: string; labelSelector: string; container?: string; format?: GatewayLogFormat },
  userAgent: string,
): Promise<GatewayLogs> {
  return readGatewayLogs(k8s, { ...gateway, format: gateway.format ?? 'nginx', pods: gatewayPodsOf(cell.timeline), sinceSeconds: Math.ceil(cell.durationSeconds) + 60, userAgent });
}

/** Reads every gateway pod's log (the ones running and the ones the cell saw), in pod name order. */
export async function readGatewayLogs(k8s: KubernetesPort, req: GatewayLogRequest): Promise<GatewayLogs> {
  const running = new Map<string, number>();
  for (const p of await k8s.listPods(req.namespace, req.labelSelector)) {
    const statuses = (p.status?.containerStatuses ?? []) as Array<{ name: string; restartCount?: number }>;
    const c = statuses.find((s) => !req.container || s.name === req.container);
    if (p.metadata?.name) running.set(p.metadata.name, c?.restartCount ?? 0);
  }
  const names = [...new Set([...req.pods, ...running.keys()])].sort();
  const pods: GatewayPodLog[] = [];
  const lines: GatewayLine[] = [];
  for (const pod of names) {
    if (!running.has(pod)) {
      pods.push({ pod, status: 'gone', lines: 0, why: `${req.namespace}/${pod} was gone when the cell ended: its log went with it` });
      continue;
    }
    const opts = { container: req.container, timestamps: true, sinceSeconds: req.sinceSeconds };
    try {
      const restarted = (running.get(pod) ?? 0) > 0;
      // After a restart the earlier instance's lines are in its previous log (kept until the next restart).
      let previousWhy: string | undefined;
      const before = restarted
        ? await k8s.readPodLog(req.namespace, pod, { ...opts, previous: true }).catch((error: Error) => {
            previousWhy = `the log of its container before the restart could not be read: ${error.message}`;
            return '';
          })
        : '';
      const texts = [before, await k8s.readPodLog(req.namespace, pod, opts)].filter((t, i) => i > 0 || restarted);
      // One numbering through both instances' logs, as if they were one file.
      const { lines: parsed } = parseGatewayLog(texts.join(texts[0] && !texts[0].endsWith('\n') ? '\n' : ''), req.format, `pod ${req.namespace}/${pod}`);
      const mine = parsed.filter((l) => l.userAgent === req.userAgent);
      for (const l of mine) if (l.status >= 500 || outcomeOf(l) === 'retried') lines.push({ ...l, pod });
      pods.push({ pod, status: 'read', lines: mine.length, ...(restarted && !previousWhy ? { previous: true } : {}), ...(previousWhy ? { why: previousWhy } : {}) });
    } catch (error) {
      const gone = statusOf(error) === 404;
      pods.push({ pod, status: gone ? 'gone' : 'failed', lines: 0, why: gone ? `${req.namespace}/${pod} was gone when its log was read: ${(error as Error).message}` : `reading the log of ${req.namespace}/${pod} failed: ${(error as Error).message}` });
    }
  }
  return { format: req.format, pods, lines };
}
