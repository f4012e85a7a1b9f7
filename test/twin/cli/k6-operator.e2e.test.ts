/**
 * `traffic.driver: k6-operator` through the real CLI against a standalone `twin up` (reached as
 * staging is): a rollout cell whose traffic is a TestRun of three runners (the twin's operator
 * emulation, the k6 stand-in in each runner pod), merged exactly and checked against the ALB's own
 * access log; then a run killed mid-cell, whose TestRun `--resume` deletes before it measures.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadKubeConfig } from '../../../harness/platform/kubernetes/adapter.ts';
import { createK6OperatorAdapter } from '../../../harness/platform/kubernetes/k6-operator.ts';
import { RUN_LABEL } from '../../../harness/traffic/k6-operator/testrun.ts';
import { faultsTwinOfFile } from '../../helpers/cli-faults.ts';

const twin = faultsTwinOfFile('rh-k6op-');
const { results, specFile, cli, runJson, waitForCheckpoint } = twin;
const operator = () => createK6OperatorAdapter(loadKubeConfig(twin.f().env.KUBECONFIG, 'twin'));
const k6op = { driver: 'k6-operator', k6Operator: { parallelism: 3 }, rate: 150, warmupSeconds: 4, cooldownSeconds: 2 };

/** The User-Agents of the twin's ground-truth access log, counted. */
function agents(): Map<string, number> {
  const byAgent = new Map<string, number>();
  const file = path.join(twin.f().dir, 'twin', 'access.log');
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line) continue;
    const ua = (JSON.parse(line) as { userAgent: string }).userAgent;
    byAgent.set(ua, (byAgent.get(ua) ?? 0) + 1);
  }
  return byAgent;
}

describe('traffic on k6-operator', () => {
  it('a rollout cell on three runners: each a third, the merge equal to the access log, the TestRun gone after', async () => {
    const spec = await specFile('k6op', { traffic: k6op });
    const r = await cli(['run', spec, '--results-dir', results(), '--run-id', 'k6op']);
    expect(r.exitCode, String(r.all)).toBe(0);
    expect(r.stderr).toContain('Using k6-operator');
    const id = runJson('k6op').cells[0].id;
    const cell = JSON.parse(readFileSync(path.join(results(), 'k6op', 'cells', `${id}.json`), 'utf8'));
    expect(cell.valid, cell.invalidReason).toBe(true);
    expect(cell.driver).toMatchObject({ name: 'k6-operator', version: 'v1.1.0' });
    const runners = cell.driver.runners as Array<{ name: string; segment: string; planned: number; sent: number; answered: number; networkErrors: number; cut: number }>;
    expect(runners.map((x) => x.segment)).toEqual(['0:1/3', '1/3:2/3', '2/3:1']);
    // The cell's stop deletes the runner pods together, but each k6 ends a little apart (CI saw one
    // 140 ms before the others): each runner is due its third of the plan until its own stop, and
    // sends that; the stops lie within a second of each other (a second is 50 requests a runner).
    for (const x of runners) {
      expect(Math.abs(x.sent - x.planned), JSON.stringify(runners)).toBeLessThanOrEqual(Math.max(1, 0.01 * x.planned));
      expect(Math.abs(x.planned - cell.requests.planned / 3), JSON.stringify(runners)).toBeLessThanOrEqual(k6op.rate / 3);
      expect(x.answered + x.networkErrors + x.cut).toBe(x.sent);
    }
    expect(runners.reduce((a, x) => a + x.planned, 0)).toBe(cell.requests.planned);
    expect(runners.reduce((a, x) => a + x.sent, 0)).toBe(cell.requests.sent);
    const answered = Object.values(cell.requests.byStatus as Record<string, number>).reduce((a, b) => a + b, 0);
    expect(answered + cell.requests.networkErrors + cell.requests.cutAtStop.count).toBe(cell.requests.sent);
    // Every request of the cell is one line of the ALB's log with the cell's User-Agent (cut ones too:
    // the ALB logs them as 460). A request that died on a keep-alive connection the ALB had just
    // closed went again on another, as k6's does (test/twin/traffic/k6-stand-in.test.ts): one line.
    const ua = [...agents().keys()].find((a) => a.endsWith(` k6op/${id}`));
    expect(ua).toBeDefined();
    expect(agents().get(ua!)).toBe(cell.requests.sent);
    expect(await operator().listTestRuns('shop', `${RUN_LABEL}=k6op`)).toEqual([]);
    // The runner pods go with their Jobs, in the background (the garbage collector), as in a cluster.
    const gone = Date.now() + 30_000;
    while ((await operator().listPods('shop', 'app=k6,runner=true')).length && Date.now() < gone) await new Promise((r) => setTimeout(r, 200));
    expect(await operator().listPods('shop', 'app=k6,runner=true')).toEqual([]);
  }, 240_000);

  it('SIGKILL mid-cell leaves the TestRun running; --resume deletes it before it measures', async () => {
    const spec = await specFile('k6op-killed', { traffic: k6op });
    const run = cli(['run', spec, '--results-dir', results(), '--run-id', 'k6op-killed']);
    await waitForCheckpoint('k6op-killed', (rec) => ['warmup', 'disrupt'].includes(rec.cells[0]?.stage ?? ''));
    run.kill('SIGKILL');
    await run;
    const left = await operator().listTestRuns('shop', `${RUN_LABEL}=k6op-killed`);
    expect(left).toHaveLength(1);
    const r = await cli(['run', spec, '--results-dir', results(), '--resume', 'k6op-killed']);
    expect(r.exitCode, String(r.all)).toBe(0);
    const all = String(r.all);
    const deleted = all.indexOf(`k6-operator TestRun shop/${left[0].metadata?.name}: deleted`);
    expect(deleted, all).toBeGreaterThan(-1);
    // Deleted before the resumed cell's traffic started.
    expect(deleted).toBeLessThan(all.indexOf('traffic +0s'));
    expect(await operator().listTestRuns('shop', `${RUN_LABEL}=k6op-killed`)).toEqual([]);
  }, 300_000);

  it('a runner killed mid-cell makes the cell INVALID with its name', async () => {
    const spec = await specFile('k6op-runner', { traffic: k6op });
    const run = cli(['run', spec, '--results-dir', results(), '--run-id', 'k6op-runner']);
    await waitForCheckpoint('k6op-runner', (rec) => ['warmup', 'disrupt', 'settle'].includes(rec.cells[0]?.stage ?? ''));
    let victim: string | undefined;
    for (let i = 0; i < 300 && !victim; i++) {
      victim = (await operator().listPods('shop', 'app=k6,runner=true')).map((p) => String(p.metadata?.name)).find((n) => /-3-[a-z0-9]{5}$/.test(n));
      if (!victim) await new Promise((r) => setTimeout(r, 100));
    }
    expect(victim).toBeDefined();
    await new Promise((r) => setTimeout(r, 1000));
    await operator().deletePod('shop', victim!);
    const r = await run;
    expect(r.exitCode, String(r.all)).toBe(4);
    const id = runJson('k6op-runner').cells[0].id;
    const cell = JSON.parse(readFileSync(path.join(results(), 'k6op-runner', 'cells', `${id}.json`), 'utf8'));
    expect(cell.valid).toBe(false);
    expect(cell.invalidReason).toContain(`traffic incomplete: runner ${victim} (2/3:1): `);
    expect(cell.driver.runners.find((x: { name: string }) => x.name === victim).failed).toBeDefined();
    expect(await operator().listTestRuns('shop', `${RUN_LABEL}=k6op-runner`)).toEqual([]);
  }, 240_000);
});
