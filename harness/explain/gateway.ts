/**
 * The gateway hop of a gateway cell (ALB → gateway pods → app pods): each 5xx log entry at a gateway
 * pod joined to the line the gateway logged for it, and its cause from that line and the app pods'
 * lifecycle; an entry the gateway never answered gets its cause from the gateway pods' lifecycle,
 * as the direct classes get theirs from the app pods'. Pure. The rules are in README.md beside this file.
 */
import { attribute, causeOf, arrivalOf, type Attribution, type AttributionInput, type Cause, type CellLogEntry } from './attribute.ts';
import { indexTimeline, phaseAt, podAt, type CellIndex, type PhaseSettings } from './cell-context.ts';
import { lineEndMs, outcomeOf, unanswered, type GatewayLogLine } from './gateway-log.ts';

/** A gateway access-log line with the pod that wrote it. */
export interface GatewayLine extends GatewayLogLine {
  pod: string;
}

/** What the gateway hop adds to attribution. */
export interface GatewayInput {
  /** The cell's lines (its User-Agent) from every gateway pod read: at least its 5xx and retried ones. */
  lines: readonly GatewayLine[];
  /** Gateway pods whose log could not be read, with why (a 5xx they answered says it). */
  unread?: ReadonlyMap<string, string>;
}

/** `ip:port` → ip (IPv6 keeps its colons). */
const hostOf = (addr: string) => addr.slice(0, addr.lastIndexOf(':')).replace(/^\[|\]$/g, '');

/** The tries of a line as text: `10.0.0.1:8080 502, 10.0.0.4:8080 200`. */
export function triesText(l: GatewayLogLine): string {
  return l.tries.map((t) => `${t.addr ?? '-'} ${t.status ?? '-'}`).join(', ') || '-';
}

/**
 * Pairs each 5xx entry the gateway answered (a target status) with an unpaired line of the gateway
 * pod that had the target's IP, of the same path and status, whose end is nearest the ALB's
 * response time within `toleranceSeconds`. Request URLs repeat (the traffic's mix of paths), so
 * the pod, path, status and time are what join them.
 */
export function joinGatewayLines(entries: readonly CellLogEntry[], lines: readonly GatewayLine[], gateway: CellIndex, originMs: number, toleranceSeconds: number): Map<CellLogEntry, GatewayLine> {
  const joined = new Map<CellLogEntry, GatewayLine>();
  const used = new Set<GatewayLine>();
  const byPod = new Map<string, GatewayLine[]>();
  for (const l of lines) byPod.set(l.pod, [...(byPod.get(l.pod) ?? []), l]);
  for (const e of [...entries].sort((a, b) => a.requestCreationMs - b.requestCreationMs)) {
    if (!e.target || e.targetStatusCode === null) continue;
    const pod = podAt(gateway, e.target.ip, arrivalOf(e, originMs));
    let best: GatewayLine | undefined;
    for (const l of pod ? (byPod.get(pod.name) ?? []) : lines) {
      if (used.has(l) || l.status !== e.targetStatusCode || l.path !== e.path) continue;
      const d = Math.abs(lineEndMs(l) - e.timeMs);
      if (d <= toleranceSeconds * 1000 && (!best || d < Math.abs(lineEndMs(best) - e.timeMs))) best = l;
    }
    if (best) {
      used.add(best);
      joined.set(e, best);
    }
  }
  return joined;
}

/** The cause of a 5xx the gateway answered, from its line and the app pods' lifecycle (`app`). */
export function gatewayLineCause(l: GatewayLine, app: CellIndex, originMs: number, slack = 1, watchSlack = slack): { cause: Cause; why: string } {
  const end = (lineEndMs(l) - originMs) / 1000;
  const start = end - (l.durationSeconds ?? 0);
  const at = `${l.pod} line ${l.line}`;
  switch (outcomeOf(l)) {
    case 'no-upstream':
      return { cause: 'gateway-no-upstream', why: `${l.status} from ${at}: no ready endpoint in ${l.upstream ?? 'its upstream'}` };
    case 'upstream-5xx':
      return { cause: 'app-5xx', why: `the app answered ${l.tries.at(-1)?.status ?? l.status} through ${at} (${triesText(l)})` };
    case 'upstream-unanswered': {
      const seen: string[] = [];
      for (const t of l.tries) {
        if (!t.addr || !unanswered(t)) continue;
        const pod = podAt(app, hostOf(t.addr), start);
        if (!pod) {
          seen.push(`${t.addr} (no app pod of the cell had it)`);
          continue;
        }
        const node = pod.node ? app.nodes.get(pod.node) : undefined;
        if (node?.terminated !== undefined && node.terminated <= end + slack) {
          return { cause: 'gateway-upstream-gone', why: `${at} sent it to ${t.addr} (${pod.name}), whose node ${node.name}'s instance was terminated at ${node.terminated} s` };
        }
        // The watch sees SIGTERM and the deletion a little after they happen (as for the direct classes).
        const phase = phaseAt(app, pod, start + watchSlack);
        if (phase === 'gone' || phase === 'after-sigterm') {
          const when = phase === 'gone' ? `deleted at ${pod.deleted} s` : `SIGTERMed at ${pod.terminating! + app.settings.preStopSeconds} s`;
          return { cause: 'gateway-upstream-gone', why: `${at} sent it to ${t.addr} (${pod.name}) at ${round(start)} s, an endpoint already gone (${when}): ${triesText(l)}` };
        }
        seen.push(`${t.addr} (${pod.name} ${phase})`);
      }
      return { cause: 'unknown', why: `no upstream answered ${at} (${triesText(l)}), but none of ${seen.join(', ') || 'its tries'} was gone` };
    }
    default:
      return { cause: 'unknown', why: `${l.status} from ${at} (${triesText(l)}) fits no gateway rule` };
  }
}

/**
 * The cause of a 5xx entry of a gateway cell: from its gateway line when joined; else, when the
 * gateway never answered (no target status), from the gateway pods' lifecycle — the ALB routed to
 * a gateway pod whose nginx had quit (after SIGTERM, or deleted) is `gateway-pod-gone`.
 */
export function gatewayCauseOf(
  e: CellLogEntry,
  line: GatewayLine | undefined,
  indexes: { app: CellIndex; gateway: CellIndex },
  originMs: number,
  options: {
    /** Seconds of slack on the timeline's polled phases (draining, deleted). Default 1. */
    slack?: number;
    /** Seconds of slack on what the pod watch saw (its lateness). Default `slack`. */
    watchSlack?: number;
    /** Why a gateway pod's log could not be read, by pod. */
    unread?: ReadonlyMap<string, string>;
  } = {},
): { cause: Cause; why: string; pod?: string } {
  const { slack = 1, watchSlack = slack, unread } = options;
  const gwPod = e.target ? podAt(indexes.gateway, e.target.ip, arrivalOf(e, originMs)) : undefined;
  if (line) return { ...gatewayLineCause(line, indexes.app, originMs, slack, watchSlack), pod: line.pod };
  if (e.target && e.targetStatusCode !== null && e.targetStatusCode >= 500) {
    const why = gwPod && unread?.get(gwPod.name);
    return { cause: 'unknown', why: `the gateway pod ${gwPod?.name ?? e.target.ip} answered ${e.targetStatusCode} and no line of its log matches it${why ? ` (its log: ${why})` : ''}`, ...(gwPod ? { pod: gwPod.name } : {}) };
  }
  const c = causeOf(e, indexes.gateway, originMs, slack, watchSlack);
  if (c.cause === 'routed-to-gone-pod' || c.cause === 'routed-after-sigterm') return { ...c, cause: 'gateway-pod-gone', why: `gateway pod: ${c.why}` };
  return c;
}

const round = (x: number) => Math.round(x * 1000) / 1000;

/** What attributing a gateway cell needs besides a direct cell's. */
export interface GatewayAttributionInput extends Omit<AttributionInput, 'causeOf'> {
  gateway: GatewayInput;
  /** The gateway pods' phases: their preStop (0 with ingress-nginx's `/wait-shutdown`, which quits nginx at once), grace, and the ALB's delay. */
  gatewaySettings: PhaseSettings;
}

/** A gateway cell's attribution, with what the gateway's log added. */
export interface GatewayAttribution extends Attribution {
  gateway: { joined: number; unjoined: number; retried: number };
  /** The line each joined 5xx was joined to, keyed by its attributed entry (for scoring). */
  lineOf: Map<Attribution['attributed'][number], GatewayLine>;
}

/**
 * Attributes a gateway cell: every 5xx entry by the gateway rules, the client's 5xx the ALB never
 * logged as before-alb, and the requests the gateway retried to a success counted in
 * `gateway-retried` (not failures: they are in no 5xx count).
 */
export function attributeGatewayCell(input: GatewayAttributionInput): GatewayAttribution {
  const slack = input.slackSeconds ?? 1;
  const watchSlack = input.watchSlackSeconds ?? slack;
  const indexes = { app: indexTimeline(input.timeline, input.settings), gateway: indexTimeline(input.timeline, input.gatewaySettings, 'gateway') };
  const fiveXX = input.entries.filter((e) => (e.elbStatusCode ?? 0) >= 500);
  const joined = joinGatewayLines(fiveXX, input.gateway.lines, indexes.gateway, input.originMs, input.matchToleranceSeconds ?? 2);
  let unjoined = 0;
  const attribution = attribute({
    ...input,
    causeOf: (e) => {
      const line = joined.get(e);
      if (!line && e.targetStatusCode !== null && e.targetStatusCode >= 500) unjoined++;
      const c = gatewayCauseOf(e, line, indexes, input.originMs, { slack, watchSlack, unread: input.gateway.unread });
      return line ? { ...c, gateway: { pod: line.pod, line: line.line, status: line.status, tries: triesText(line) } } : c;
    },
  });
  const retried = input.gateway.lines.filter((l) => outcomeOf(l) === 'retried').length;
  attribution.causes['gateway-retried'] = retried;
  const lineOf = new Map<Attribution['attributed'][number], GatewayLine>();
  for (const a of attribution.attributed) {
    if (!a.gateway) continue;
    const line = input.gateway.lines.find((l) => l.pod === a.gateway!.pod && l.line === a.gateway!.line);
    if (line) lineOf.set(a, line);
  }
  return { ...attribution, gateway: { joined: joined.size, unjoined, retried }, lineOf };
}
