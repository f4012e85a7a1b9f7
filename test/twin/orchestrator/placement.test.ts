/**
 * No valid 0 for a disruption that disrupted nothing, on the in-process twin through `runMatrix`:
 * a repeated spot cell and a drain of `node: spot` after a spot cell start with pods on the spot
 * node (configure re-places them onto the replacement node), and each records the pods it acted
 * on; a drain of a node the user cordoned, and of a spot node a single replica does not run on,
 * is INVALID with why instead of a valid 0.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectTarget } from '../../../harness/cli/connect.ts';
import { pollUntil, rolloutComplete } from '../../../harness/disruptions/wait.ts';
import { loadSpec } from '../../../harness/matrix/load.ts';
import { runMatrix, type RunOutcome } from '../../../harness/orchestrator/run.ts';
import type { Target } from '../../../harness/orchestrator/target.ts';
import { testTwinConfig, type TwinTestOptions } from '../../helpers/twin.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'rh-placement-'));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Runs a spec on its own in-process twin; `before` changes the twin as a user would before the run. */
async function run(name: string, spec: Record<string, unknown>, world: TwinTestOptions = {}, before?: (t: Target) => Promise<void>): Promise<{ outcome: RunOutcome; lines: string[] }> {
  const config = await testTwinConfig({ cluster: { nodeNotReadySeconds: 10, nodeLaunchSeconds: 20 }, ...world });
  await writeFile(path.join(dir, `${name}.twin.yaml`), stringify(config));
  await writeFile(
    path.join(dir, `${name}.yaml`),
    stringify({
      name,
      target: { twin: { config: path.join(dir, `${name}.twin.yaml`) } },
      traffic: { driver: 'builtin', rate: 50, timeoutSeconds: 10, warmupSeconds: 10, cooldownSeconds: 5 },
      // The world's own settings: configure changes nothing, so only placement moves pods.
      matrix: { readinessGate: [false], preStopSeconds: [0], terminationGracePeriodSeconds: [30], deregistrationDelaySeconds: [10] },
      configure: { steadyTimeoutSeconds: 300 },
      settleTimeoutSeconds: 300,
      explain: { enabled: false },
      ...spec,
    }),
  );
  const lines: string[] = [];
  const outcome = await runMatrix({
    loaded: await loadSpec(path.join(dir, `${name}.yaml`)),
    connect: async (s, opts) => {
      const target = await connectTarget(s, opts);
      await before?.(target);
      return target;
    },
    resultsDir: dir,
    runId: name,
    signal: new AbortController().signal,
    progress: { info: (l) => lines.push(l), cellStart: () => {}, stage: () => {}, traffic: () => {}, cellDone: () => {} },
  });
  return { outcome, lines };
}

const byId = (o: RunOutcome) => Object.fromEntries(o.results.map((r) => [r.id.replace(/\.gate-off\.prestop-0\.grace-30\.dereg-10/, ''), r]));

describe('repeated spot cells, then drains of a spot node', () => {
  let outcome: RunOutcome;
  let lines: string[];
  beforeAll(async () => {
    // A terminated node reads Ready for 60 s (as a real one does for the node controller's 40 s), past the next cell's configure.
    ({ outcome, lines } = await run('spot-repeat', { disruptions: [{ spot: { noticeSeconds: 10 } }, { drain: { node: 'spot' } }], repeat: 2 }, { cluster: { nodeNotReadySeconds: 60, nodeLaunchSeconds: 20 } }));
  }, 600_000);

  it('runs r2 of the spot cell, and the drain after it, on pods configure put back onto the replacement spot node', () => {
    const cells = byId(outcome);
    expect(Object.keys(cells)).toEqual(['spot-notice10.r1', 'spot-notice10.r2', 'drain-spot.r1', 'drain-spot.r2']);
    // Before: r2 was INVALID ("no pod of web runs on the chosen node node-b2-r1"), and a drain of the spot node could be a valid 0.
    expect(Object.fromEntries(Object.entries(cells).map(([id, c]) => [id, c.valid ? 'valid' : c.invalidReason]))).toEqual({
      'spot-notice10.r1': 'valid',
      'spot-notice10.r2': 'valid',
      'drain-spot.r1': 'valid',
      'drain-spot.r2': 'valid',
    });
    for (const [id, cell] of Object.entries(cells)) expect(cell.disruptionOutcome.actedOn?.pods, `${id}: ${cell.disruptionOutcome.actedOn?.summary}`).toBeGreaterThanOrEqual(1);
    expect(cells['spot-notice10.r2'].disruptionOutcome.actedOn?.summary).toMatch(/^the spot interruption of node-b2-r1 evicted 1 pod\(s\) of web/);
    expect(cells['drain-spot.r1'].disruptionOutcome.actedOn?.summary).toMatch(/^the drain of node-b2-r\d evicted 1 pod\(s\) of web$/);
    expect(lines.filter((l) => l.includes('restarted so that the scheduler places pods on')).length).toBeGreaterThanOrEqual(2);
    expect(outcome.restoreDifferences).toEqual([]);
  });
});

describe('a drain whose node runs no pod of the Deployment', () => {
  it('is INVALID with why when the user cordoned the node (the configure rollout moved the pods off it)', async () => {
    const { outcome } = await run(
      'cordoned',
      // A changed grace: configure rolls out, and the new pods avoid the cordoned node.
      { disruptions: [{ drain: { node: 'node:node-a1' } }], matrix: { readinessGate: [false], preStopSeconds: [0], terminationGracePeriodSeconds: [31], deregistrationDelaySeconds: [10] } },
      {},
      async (t) => {
        await t.k8s.setNodeUnschedulable('node-a1', true);
      },
    );
    const [cell] = outcome.results;
    expect(cell.valid).toBe(false);
    expect(cell.invalidReason).toBe('configure: no pod of web runs on the chosen node node-a1, and no pod can be placed there (node-a1: cordoned, tainted NoSchedule, not Ready or its instance gone)');
  }, 600_000);

  it('is INVALID with why when the single replica runs elsewhere, even after re-placing it', async () => {
    const { outcome } = await run('one-replica', { disruptions: [{ drain: { node: 'spot' } }] }, {}, async (t) => {
      await t.k8s.patchDeployment('shop', 'web', { spec: { replicas: 1 } });
      await pollUntil(t.clock, 120_000, new AbortController().signal, async () => rolloutComplete(await t.k8s.getDeployment('shop', 'web')) && (await t.k8s.listPods('shop', 'app=web')).length === 1);
      // The one pod away from the spot node (as the scale-down may leave it anywhere).
      const [pod] = await t.k8s.listPods('shop', 'app=web');
      if (pod.spec?.nodeName === 'node-b2') await t.k8s.evictPod('shop', pod.metadata!.name!);
    });
    const [cell] = outcome.results;
    expect(cell.valid).toBe(false);
    expect(cell.invalidReason).toMatch(/^configure: no pod of web runs on the chosen node node-b2 \(nor on any other schedulable spot node\) after re-placing the pods \(they run on node-(a1|b1)\)$/);
  }, 600_000);
});
