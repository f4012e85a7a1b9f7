/**
 * The gateway hop on a constructed gateway cell: ALB entries at gateway pods joined to the gateway's
 * lines, one 5xx of each gateway class, retries counted and not failed, and the gateway hop's
 * truth agreeing with the attribution.
 */
import { describe, expect, it } from 'vitest';
import type { CellLogEntry } from '../../../harness/explain/attribute.ts';
import { indexTimeline } from '../../../harness/explain/cell-context.ts';
import { attributeGatewayCell, gatewayLineCause, joinGatewayLines, type GatewayLine } from '../../../harness/explain/gateway.ts';
import { parseNginxLine } from '../../../harness/explain/gateway-log.ts';
import { gatewayTargetCauses, gatewayTruth, score, type TruthRecord } from '../../../harness/explain/truth.ts';
import type { TimelineEvent } from '../../../harness/observe/timeline.ts';
import { albEntry, ORIGIN, settings, timeline } from './fixtures.ts';

const UA = 'rollout-harness/0.1.0 run-1/cell-1';
const gatewaySettings = { preStopSeconds: 0, terminationGracePeriodSeconds: 300, deregistrationDelaySeconds: 20 };

// The app pods are those of fixtures.ts (p-old-1 at 10.0.0.1 and p-old-2 at 10.0.0.5 SIGTERMed at
// 15, p-old-1 deleted at 45; p-spot at 10.0.0.3 whose instance goes at 35; p-run at 10.0.0.4).
// Two gateway pods: gw-a (10.0.9.1) runs throughout; gw-b (10.0.9.2) turns terminating at 30
// (nginx quits at once: /wait-shutdown) and is deleted at 31.
const gatewayEvents: TimelineEvent[] = [
  { t: 0, type: 'pod', pod: 'gw-a', change: 'present', node: 'n0', ip: '10.0.9.1', role: 'gateway' },
  { t: 0, type: 'pod', pod: 'gw-b', change: 'present', node: 'n0', ip: '10.0.9.2', role: 'gateway' },
  { t: 0.2, type: 'target', target: '10.0.9.1:80', state: 'healthy' },
  { t: 0.2, type: 'target', target: '10.0.9.2:80', state: 'healthy' },
  { t: 30, type: 'pod', pod: 'gw-b', change: 'terminating', node: 'n0', ip: '10.0.9.2', role: 'gateway' },
  { t: 31, type: 'pod', pod: 'gw-b', change: 'deleted', node: 'n0', ip: '10.0.9.2', role: 'gateway' },
];
const gatewayTimeline = [...timeline, ...gatewayEvents].sort((a, b) => a.t - b.t);

const local = (ms: number) => {
  const d = new Date(ms);
  const mon = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'][d.getUTCMonth()];
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getUTCDate())}/${mon}/${d.getUTCFullYear()}:${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
};

let lineNo = 0;
/** A gateway line of pod `pod`, ending at model second `end` (the kubelet's time), with `tries` as "addr status" pairs. */
function gwLine(pod: string, end: number, status: number, tries: Array<[string, number]>, path = '/', ua = UA): GatewayLine {
  const addrs = tries.length ? tries.map(([a]) => a).join(', ') : '-';
  const lengths = tries.length ? tries.map(([, s]) => (s === 502 || s === 504 ? '0' : '2')).join(', ') : '-';
  const times = tries.length ? tries.map(() => '0.001').join(', ') : '-';
  const statuses = tries.length ? tries.map(([, s]) => String(s)).join(', ') : '-';
  const text = `10.0.1.10 - - [${local(ORIGIN + end * 1000)}] "GET ${path} HTTP/1.1" ${status} 2 "-" "${ua}" 112 0.003 [shop-web-80] [] ${addrs} ${lengths} ${times} ${statuses} id${++lineNo}`;
  return { ...parseNginxLine(text, lineNo), loggedMs: ORIGIN + end * 1000, pod };
}

/** An ALB entry at a gateway target that the gateway answered with `status` (the ALB's response a ms after the gateway's). */
const viaGateway = (t: number, target: string, status: number, path = '/') => albEntry(ORIGIN, { t, elb: status, targetStatus: status, target, path, targetTime: 0.003 });

describe('the gateway hop', () => {
  const lines = [
    gwLine('gw-a', 20.004, 502, [['10.0.0.5:8080', 502], ['10.0.0.1:8080', 502], ['10.0.0.5:8080', 502]]), // both old pods SIGTERMed at 15
    gwLine('gw-a', 4.004, 503, []), // no endpoint at all
    gwLine('gw-a', 3.004, 500, [['10.0.0.4:8080', 500]], '/boom'), // the app's own 500
    gwLine('gw-a', 16.004, 200, [['10.0.0.1:8080', 502], ['10.0.0.4:8080', 200]]), // retried to a success
    gwLine('gw-a', 17.004, 200, [['10.0.0.5:8080', 502], ['10.0.0.4:8080', 200]]), // retried to a success
    gwLine('gw-a', 8.004, 502, [['10.0.0.4:8080', 502]]), // no answer from a running pod
  ];
  const entries: CellLogEntry[] = [
    viaGateway(20, '10.0.9.1:80', 502),
    viaGateway(4, '10.0.9.1:80', 503),
    viaGateway(3, '10.0.9.1:80', 500, '/boom'),
    viaGateway(8, '10.0.9.1:80', 502),
    // nginx on gw-b quit at 30 (terminating, /wait-shutdown): the ALB's connection is refused.
    albEntry(ORIGIN, { t: 30.5, elb: 502, targetStatus: null, target: '10.0.9.2:80', targetTime: null }),
    // gw-a answered 502 but no line of its log matches (another path).
    viaGateway(12, '10.0.9.1:80', 502, '/other'),
    albEntry(ORIGIN, { t: 16, elb: 200, target: '10.0.9.1:80' }),
  ];
  const input = { entries, timeline: gatewayTimeline, settings, originMs: ORIGIN, gateway: { lines }, gatewaySettings, clientFailures: [{ t: 19.99, path: '/', status: 502 }] };

  it('gives each 5xx its gateway class, with the line it was joined to', () => {
    const a = attributeGatewayCell(input);
    const byT = Object.fromEntries(a.attributed.map((x) => [x.t, x.cause]));
    expect(byT).toEqual({ 3: 'app-5xx', 4: 'gateway-no-upstream', 8: 'unknown', 12: 'unknown', 20: 'gateway-upstream-gone', 30.5: 'gateway-pod-gone' });
    const gone = a.attributed.find((x) => x.t === 20)!;
    expect(gone).toMatchObject({ pod: 'gw-a', gateway: { pod: 'gw-a', line: lines[0].line, status: 502, tries: '10.0.0.5:8080 502, 10.0.0.1:8080 502, 10.0.0.5:8080 502' } });
    expect(gone.why).toMatch(/10\.0\.0\.5:8080 \(p-old-2\).*already gone \(SIGTERMed at 15 s\)/);
    expect(a.attributed.find((x) => x.t === 30.5)!.why).toMatch(/^gateway pod: routed to gw-b .* after its SIGTERM/);
    expect(a.attributed.find((x) => x.t === 12)!.why).toMatch(/gateway pod gw-a answered 502 and no line of its log matches it/);
    expect(a.attributed.find((x) => x.t === 8)!.why).toMatch(/none of 10\.0\.0\.4:8080 \(p-run running\) was gone/);
    expect(a.gateway).toEqual({ joined: 4, unjoined: 1, retried: 2 });
  });

  it('counts the retries in the causes without making them failures: the 5xx causes sum to the log\'s 5xx', () => {
    const a = attributeGatewayCell(input);
    expect(a.causes['gateway-retried']).toBe(2);
    const failed = Object.entries(a.causes).filter(([c]) => c !== 'gateway-retried').reduce((n, [, k]) => n + k, 0);
    expect(failed).toBe(entries.filter((e) => (e.elbStatusCode ?? 0) >= 500).length);
    expect(a.attributed.some((x) => x.cause === 'gateway-retried')).toBe(false);
    // The client's 502 at 19.99 is the logged one at 20: matched, no before-alb.
    expect(a.clientMatched).toBe(1);
    // A cell without a 5xx stays at 0 failures whatever the gateway retried.
    const quiet = attributeGatewayCell({ ...input, entries: entries.filter((e) => (e.elbStatusCode ?? 0) < 500), clientFailures: [] });
    expect(quiet.attributed).toEqual([]);
    expect(Object.entries(quiet.causes).filter(([c]) => c !== 'gateway-retried').every(([, k]) => k === 0)).toBe(true);
    expect(quiet.causes['gateway-retried']).toBe(2);
  });

  it('joins by pod, path, status and the nearest time within the tolerance, each line once', () => {
    const gw = indexTimeline(gatewayTimeline, gatewaySettings, 'gateway');
    const two = [gwLine('gw-a', 20.5, 502, [['10.0.0.5:8080', 502]]), gwLine('gw-a', 20.01, 502, [['10.0.0.5:8080', 502]]), gwLine('gw-b', 20.004, 502, [['10.0.0.5:8080', 502]])];
    const e1 = viaGateway(20, '10.0.9.1:80', 502);
    const e2 = viaGateway(20.1, '10.0.9.1:80', 502);
    const far = viaGateway(25, '10.0.9.1:80', 502);
    const joined = joinGatewayLines([e1, e2, far], two, gw, ORIGIN, 2);
    expect(joined.get(e1)).toBe(two[1]);
    expect(joined.get(e2)).toBe(two[0]);
    expect(joined.has(far)).toBe(false);
    expect(joinGatewayLines([viaGateway(20, '10.0.9.1:80', 504)], two, gw, ORIGIN, 2).size).toBe(0);
  });

  it('calls an unanswered try to a pod whose instance was terminated gone too', () => {
    const app = indexTimeline(gatewayTimeline, settings);
    expect(gatewayLineCause(gwLine('gw-a', 36.5, 504, [['10.0.0.3:8080', 504]]), app, ORIGIN).cause).toBe('gateway-upstream-gone');
  });

  it('reaches as far before an endpoint\'s watched SIGTERM as the watch may be late (watchSlack), and no further', () => {
    const app = indexTimeline(gatewayTimeline, settings);
    // p-old-2 (10.0.0.5) was SIGTERMed at 15 by the watch; an unanswered try 2 s before that.
    const early = gwLine('gw-a', 13.004, 502, [['10.0.0.5:8080', 502]]);
    expect(gatewayLineCause(early, app, ORIGIN).cause).toBe('unknown');
    expect(gatewayLineCause(early, app, ORIGIN, 1, 2.5).cause).toBe('gateway-upstream-gone');
    expect(gatewayLineCause(gwLine('gw-a', 11.004, 502, [['10.0.0.5:8080', 502]]), app, ORIGIN, 1, 2.5).cause).toBe('unknown');
  });

  it('agrees with the gateway hop\'s truth (the gateway\'s own record) and the ALB hop\'s (the twin\'s reasons at gateway targets)', () => {
    const a = attributeGatewayCell(input);
    const rec = (t: number, target: string, elbStatus: number, reason: string, path = '/'): TruthRecord => ({ time: ORIGIN / 1000 + t, path, target, elbStatus, reason, targetState: 'healthy' });
    const truth = [
      rec(20, '10.0.9.1:80', 502, 'target-5xx'),
      rec(4, '10.0.9.1:80', 503, 'target-5xx'),
      rec(3, '10.0.9.1:80', 500, 'target-5xx', '/boom'),
      rec(8, '10.0.9.1:80', 502, 'target-5xx'),
      rec(30.5, '10.0.9.2:80', 502, 'connect-refused'),
      rec(12, '10.0.9.1:80', 502, 'target-5xx', '/other'),
    ];
    const s = score(a.attributed, truth, ORIGIN / 1000, 0.5, { lineOf: a.lineOf });
    // The one at 8: nginx got no answer from p-run (truth: upstream gone), the timeline says it ran;
    // the one at 12: no gateway line, so the gateway's answer is judged as the app's (app-5xx).
    expect(s).toMatchObject({ compared: 6, agreed: 4, unmatched: 0 });
    expect(s.disagreements.map((d) => [d.t, d.truth, d.accepted])).toEqual([
      [8, '502 target-5xx; gateway upstream-unanswered', ['gateway-upstream-gone']],
      [12, '502 target-5xx', ['app-5xx']],
    ]);
    expect(gatewayTruth(input.gateway.lines[3]).accepted).toEqual(['gateway-retried']);
    expect(gatewayTargetCauses({ time: 0, path: '/', target: 'x', elbStatus: 502, reason: 'connect-refused', targetState: 'healthy' })).toEqual(['gateway-pod-gone']);
  });
});
