/**
 * The gateway topology (issue: Mobility Technologies' write-up ends with it): the ALB registers only
 * gateway pods (ingress-nginx, on on-demand nodes) and the app's pods sit behind them. The gateway
 * follows the app's EndpointSlices within about a second and retries a refused upstream
 * (`proxy_next_upstream error timeout`, 3 tries), so an app rollout or spot interruption at preStop 0
 * loses far fewer requests through it than straight to the app's targets. The gateway is not magic:
 * rolling the gateway itself meets the ALB's deregistration lag like any target, unless its own
 * preStop outlasts it.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { cell, describeCell, runCells, type FidelityCell } from './cells.ts';

let app: Map<string, FidelityCell>;
let gateway: Map<string, FidelityCell>;

const summary = (c: FidelityCell) => `${describeCell(c)} explain ${JSON.stringify({ logs: c.result.explain?.logs, why: c.result.explain?.why, causes: Object.fromEntries(Object.entries(c.result.explain?.causes ?? {}).filter(([, n]) => n)), agreement: c.result.explain?.agreement && { compared: c.result.explain.agreement.compared, agreed: c.result.explain.agreement.agreed, disagreements: c.result.explain.agreement.disagreements.slice(0, 3) }, gateway: c.result.explain?.gateway })}`;

beforeAll(async () => {
  app = await runCells({
    name: 'gw-app',
    rate: 200,
    matrix: { topology: ['direct', 'gateway'], preStopSeconds: [0], terminationGracePeriodSeconds: [30], readinessGate: [false], deregistrationDelaySeconds: [300] },
    disruptions: ['rollout', 'spot'],
  });
  gateway = await runCells({
    name: 'gw-self',
    rate: 200,
    target: { topology: { gateway: { disrupt: 'gateway' } } },
    matrix: { preStopSeconds: [0, 25], terminationGracePeriodSeconds: [300], readinessGate: [false], deregistrationDelaySeconds: [300] },
    disruptions: ['rollout'],
  });
  if (process.env.GW_VERBOSE) for (const c of [...app.values(), ...gateway.values()]) console.log(summary(c));
}, 900_000);

/** Agreement with the twin's ground truth, over the cell's compared 5xx. */
function agreement(c: FidelityCell): number {
  const a = c.result.explain?.agreement;
  return a && a.compared > 0 ? a.agreed / a.compared : 1;
}

describe('gateway topology (Mobility Technologies; ingress-nginx endpoints and retries)', () => {
  for (const disruption of ['rollout', 'spot'] as const) {
    it(`an app ${disruption} at preStop 0 loses at most a fifth through the gateway of what it loses straight to the app's targets`, () => {
      const direct = cell(app, `${disruption}.gate-off.prestop-0.grace-30.dereg-300.r1`);
      const gw = cell(app, `${disruption}.gate-off.prestop-0.grace-30.dereg-300.gw.r1`);
      // The direct cell shows the ALB's lags (routed to pods already gone), so the ratio means something.
      expect(direct.fiveXX, summary(direct)).toBeGreaterThanOrEqual(10);
      expect(gw.fiveXX * 5, `${summary(gw)} vs ${summary(direct)}`).toBeLessThanOrEqual(direct.fiveXX);
      // What hid them in a rollout (three pods replaced): the gateway retried refused upstreams
      // (counted, not failed), read from its own log. A spot interruption takes one pod, and the
      // gateway may drop it before sending it anything (0 to 23 retries seen), so only the ratio holds there.
      if (disruption === 'rollout') expect(gw.result.explain?.causes['gateway-retried'] ?? 0, summary(gw)).toBeGreaterThan(0);
    });
  }

  it('explains the gateway cells from both logs: the ALB\'s and every gateway pod\'s, agreeing with the twin', () => {
    for (const c of [...app.values()].filter((x) => x.result.id.includes('.gw.'))) {
      expect(c.result.explain?.logs, summary(c)).toBe('complete');
      const pods = c.result.explain?.gateway?.pods ?? [];
      expect(pods.length, summary(c)).toBeGreaterThanOrEqual(2);
      for (const p of pods) expect(p.status, summary(c)).toBe('read');
      expect(agreement(c), summary(c)).toBeGreaterThanOrEqual(0.95);
    }
    for (const c of [...app.values()].filter((x) => !x.result.id.includes('.gw.'))) expect(agreement(c), summary(c)).toBeGreaterThanOrEqual(0.95);
  });

  it('rolling the gateway itself loses requests to the ALB\'s lags at preStop 0, and none when its preStop outlasts them', () => {
    const bare = cell(gateway, 'rollout.gate-off.prestop-0.grace-300.dereg-300.gw-disrupt-gw.r1');
    const covered = cell(gateway, 'rollout.gate-off.prestop-25.grace-300.dereg-300.gw-disrupt-gw.r1');
    expect(bare.fiveXX, summary(bare)).toBeGreaterThanOrEqual(20);
    expect(bare.result.explain?.causes['gateway-pod-gone'] ?? 0, summary(bare)).toBeGreaterThanOrEqual(bare.fiveXX * 0.9);
    expect(agreement(bare), summary(bare)).toBeGreaterThanOrEqual(0.95);
    expect(covered.fiveXX, summary(covered)).toBe(0);
    expect(covered.sent, summary(covered)).toBeGreaterThan(0);
  });
});
