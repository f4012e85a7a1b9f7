/**
 * The k6-operator driver against the twin: a TestRun of three runners (the twin's operator
 * emulation; the k6 stand-in in each runner pod), their pod logs followed and merged, the merged
 * count checked against the ALB's access log, and nothing of the TestRun left afterwards.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scaledClock } from '../../../harness/core/clock.ts';
import { projectRoot } from '../../../harness/core/paths.ts';
import { runK6OperatorTraffic } from '../../../harness/orchestrator/k6-operator-traffic.ts';
import { loadKubeConfig } from '../../../harness/platform/kubernetes/adapter.ts';
import { createK6OperatorAdapter } from '../../../harness/platform/kubernetes/k6-operator.ts';
import type { K6OperatorPort } from '../../../harness/platform/ports.ts';
import { RUN_LABEL } from '../../../harness/traffic/k6-operator/testrun.ts';
import { startTestTwin, type TwinHarness } from '../../helpers/twin.ts';

const script = readFileSync(path.join(projectRoot, 'k6-scripts/constant-rate.js'), 'utf8');
const total = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);
let h: TwinHarness;
let port: K6OperatorPort;

beforeAll(async () => {
  h = await startTestTwin({ timeScale: 0.1 });
  port = createK6OperatorAdapter(loadKubeConfig(h.twin.endpoints.kubeconfig));
  await h.waitSteady();
}, 120_000);
afterAll(async () => h?.stop());

const operator = { parallelism: 3, separate: false, runnerImage: 'grafana/k6:1.1.0' };

/** The driver against the twin's ALB at `rate` for `durationSeconds`, as run `runId`'s cell `cellId`; `over` changes the plan or the deps. */
function traffic(rate: number, durationSeconds: number, runId: string, cellId: string, over: { plan?: { userAgent?: string }; deps?: Partial<Parameters<typeof runK6OperatorTraffic>[1]> } = {}) {
  return runK6OperatorTraffic(
    { url: h.twin.endpoints.albUrl, rate, durationSeconds, timeoutSeconds: 5, mix: [{ path: '/', weight: 1 }], ...over.plan },
    { port, clock: scaledClock(1), runId, cellId, namespace: 'shop', operator, script, pollMs: 250, ...over.deps },
  );
}

describe('traffic on k6-operator (the twin’s emulation, stand-in runners)', () => {
  it('three runners each send a third of the plan; the merge equals the access log; the TestRun and its ConfigMap are gone after', async () => {
    const ua = 'rollout-harness/0.1.0 k6op/rollout.r1';
    const result = await traffic(150, 4, 'k6op', 'rollout.r1', { plan: { userAgent: ua }, deps: { cell: 'rollout.r1' } });
    expect(result.incomplete, JSON.stringify(result.runners)).toBeUndefined();
    expect(result.runners.map((r) => [r.segment, r.planned])).toEqual([
      ['0:1/3', 200],
      ['1/3:2/3', 200],
      ['2/3:1', 200],
    ]);
    for (const r of result.runners) {
      expect(Math.abs(r.sent - result.sent / 3), JSON.stringify(r)).toBeLessThanOrEqual(0.01 * (result.sent / 3));
      expect(r.answered + r.networkErrors + r.cut).toBe(r.sent);
      expect(r.name).toMatch(new RegExp(`^${result.testRun}-\\d-[a-z0-9]{5}$`));
    }
    expect(result.sent).toBe(600);
    expect(total(result.byStatus) + total(result.networkErrors) + result.cutAtStop.count).toBe(result.sent);
    // Every request the merge counted is a line of the ALB's access log with the cell's User-Agent, and no more.
    await h.twin.clock.sleep(2000);
    expect(h.records.filter((r) => r.userAgent === ua)).toHaveLength(result.sent);
    expect(result.k6Version).toBe('v1.1.0');
    expect(await port.listTestRuns('shop', `${RUN_LABEL}=k6op`)).toEqual([]);
    expect(await port.deleteConfigMap('shop', result.testRun)).toBe(false);
  }, 120_000);

  it('a runner killed mid-run makes the result incomplete with its name, never fewer requests; the TestRun still goes', async () => {
    const stop = new AbortController();
    const running = traffic(100, 6, 'k6op-killed', 'rollout.r2', { plan: { userAgent: 'rollout-harness/0.1.0 k6op/killed' }, deps: { stop: stop.signal } });
    let victim: string | undefined;
    for (let i = 0; i < 200 && !victim; i++) {
      const pods = (await port.listPods('shop', 'app=k6,runner=true')).filter((p) => p.status?.phase === 'Running');
      if (pods.length === 3) victim = pods.map((p) => String(p.metadata?.name)).find((n) => /-2-[a-z0-9]{5}$/.test(n));
      else await new Promise((r) => setTimeout(r, 100));
    }
    expect(victim).toBeDefined();
    await new Promise((r) => setTimeout(r, 1500));
    await port.deletePod('shop', victim!);
    const result = await running;
    expect(result.incomplete).toContain(`runner ${victim} (1/3:2/3): `);
    expect(result.incomplete).toMatch(/its pod was deleted before k6 finished|k6 exited 105/);
    const killed = result.runners.find((r) => r.name === victim)!;
    expect(killed.failed).toBeDefined();
    expect(killed.sent).toBeLessThan(killed.planned);
    expect(await port.listTestRuns('shop', `${RUN_LABEL}=k6op-killed`)).toEqual([]);
  }, 120_000);

  it("the cell's stop ends every runner early: in-flight requests cut, the plan what was due, the result complete", async () => {
    const stop = new AbortController();
    const running = traffic(100, 30, 'k6op-stop', 'rollout.r3', { plan: { userAgent: 'rollout-harness/0.1.0 k6op/stopped' }, deps: { stop: stop.signal } });
    setTimeout(() => stop.abort(), 5000);
    const result = await running;
    expect(result.incomplete, JSON.stringify(result.runners)).toBeUndefined();
    expect(result.planned).toBeLessThan(3000);
    expect(result.sent).toBeGreaterThan(0);
    expect(total(result.byStatus) + total(result.networkErrors) + result.cutAtStop.count).toBe(result.sent);
    expect(result.sent / result.planned).toBeGreaterThan(0.9);
    expect(await port.listTestRuns('shop', `${RUN_LABEL}=k6op-stop`)).toEqual([]);
  }, 120_000);

  it('runners whose image the cluster cannot run: the TestRun ends in error, every runner named', async () => {
    const result = await traffic(50, 2, 'k6op-bad', 'rollout.r4', { deps: { operator: { ...operator, parallelism: 2, runnerImage: 'example.invalid/k6:1.1.0' } } });
    expect(result.sent).toBe(0);
    expect(result.incomplete).toMatch(/ended in stage error: runner jobs failed/);
    expect(result.runners.every((r) => r.failed)).toBe(true);
    expect(await port.listTestRuns('shop', `${RUN_LABEL}=k6op-bad`)).toEqual([]);
  }, 120_000);
});
