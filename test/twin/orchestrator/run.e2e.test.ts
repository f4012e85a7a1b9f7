/**
 * A small matrix end to end on the twin, through `runMatrix` exactly as `rollout-harness run` calls
 * it: the known-bad cells lose requests, the known-good cell loses none, every cell is valid, and
 * every setting the run changed is back as it was.
 */
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectTarget } from '../../../harness/cli/connect.ts';
import { runMatrix, type RunOutcome } from '../../../harness/orchestrator/run.ts';
import { cellResultSchema, runRecordSchema } from '../../../harness/report/types.ts';
import { loadSpec } from '../../../harness/matrix/load.ts';
import { readJson } from '../../../harness/core/files.ts';
import { readRun } from '../../../harness/cli/results.ts';
import { compareRuns } from '../../../harness/report/compare.ts';
import { renderMarkdown } from '../../../harness/report/markdown.ts';
import { renderRecommendationMarkdown } from '../../../harness/report/recommend-md.ts';
import { testTwinConfig } from '../../helpers/twin.ts';

let dir: string;
let outcome: RunOutcome;
const lines: string[] = [];

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'rh-e2e-'));
  // One world for every cell: an app that exits at once on SIGTERM, slow health checks, 1 request
  // in 10 taking 20 model seconds, and every replica pinned to the spot node.
  const config = await testTwinConfig({
    timeScale: 0.05,
    // Keep-alive above the ALB's idle timeout (as AWS advises), so the warm-up baseline is clean.
    appEnv: { ON_SIGTERM: 'immediate', KEEPALIVE_TIMEOUT_MS: '65000' },
    alb: {
      newTargetPassingChecks: 'healthyThreshold',
      healthCheck: { path: '/healthz', port: 'traffic-port', intervalSeconds: 30, timeoutSeconds: 5, healthyThreshold: 2, unhealthyThreshold: 2, matcher: '200' },
    },
    podSpec: { nodeSelector: { 'eks.amazonaws.com/capacityType': 'SPOT' } },
    noPdb: true,
  });
  await writeFile(path.join(dir, 'twin.yaml'), stringify(config));
  await writeFile(
    path.join(dir, 'spec.yaml'),
    stringify({
      name: 'e2e',
      target: { twin: { config: path.join(dir, 'twin.yaml') } },
      traffic: { driver: 'builtin', rate: 200, timeoutSeconds: 10, warmupSeconds: 5, cooldownSeconds: 5, mix: [{ path: '/', weight: 9 }, { path: '/slow?ms=20000', weight: 1 }] },
      matrix: {
        // Known good: gate on, preStop 30 ≥ lag 5 + 20 s slow request, grace above preStop.
        readinessGate: [true],
        preStopSeconds: [30],
        terminationGracePeriodSeconds: [45],
        deregistrationDelaySeconds: [60],
        include: [
          { readinessGate: false }, // no gate with health checks slower than pod readiness
          { preStopSeconds: 0 }, // an app that exits on SIGTERM, no preStop
          { terminationGracePeriodSeconds: 10 }, // grace shorter than preStop, slow requests
        ],
      },
      disruptions: ['rollout', { spot: { noticeSeconds: 20 } }],
      expect: [{ where: { readinessGate: true, preStopSeconds: 30, terminationGracePeriodSeconds: 45, disruption: 'rollout' }, max5xx: 0 }],
    }),
  );
  const loaded = await loadSpec(path.join(dir, 'spec.yaml'));
  outcome = await runMatrix({
    loaded,
    connect: connectTarget,
    resultsDir: dir,
    runId: 'e2e',
    signal: new AbortController().signal,
    progress: { info: (l) => lines.push(l), cellStart: () => {}, stage: () => {}, traffic: () => {}, cellDone: () => {} },
  });
}, 600_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('a small matrix on the twin', () => {
  it('runs every cell validly and writes results that match the documented schemas', async () => {
    expect(outcome.results).toHaveLength(8);
    for (const r of outcome.results) expect(r.valid, `${r.id}: ${r.invalidReason}`).toBe(true);
    const files = await readdir(path.join(dir, 'e2e', 'cells'));
    expect(files.filter((f) => f.endsWith('.json')).sort()).toEqual(outcome.results.map((r) => `${r.id}.json`).sort());
    for (const f of files) cellResultSchema.parse(await readJson(path.join(dir, 'e2e', 'cells', f)));
    const record = runRecordSchema.parse(await readJson(path.join(dir, 'e2e', 'run.json')));
    expect(outcome.report).toContain('| gate | preStop s | grace s | dereg delay s | rollout failed');
    // The recommended settings are recorded and shown after the table.
    expect(record.recommendation?.overall.cells).toBe(8);
    expect(outcome.report.indexOf('## Recommended settings')).toBeGreaterThan(outcome.report.indexOf('| gate |'));
  });

  it('counts 5xx where the reference says they happen, and none where it says they do not', () => {
    const byId = new Map(outcome.results.map((r) => [r.id, r]));
    const get = (id: string) => {
      const r = byId.get(id);
      if (!r) throw new Error(`no cell ${id}: ${[...byId.keys()].join(', ')}`);
      return r;
    };
    const good = get('rollout.gate-on.prestop-30.grace-45.dereg-60.r1');
    expect(good.fiveXX, JSON.stringify(good.fiveXXByReason)).toBe(0);
    expect(good.requests.networkErrors, JSON.stringify(good.requests.networkErrorsByCode)).toBe(0);
    // Every cell: sent = answered by status + network errors + cut at the stop (the slow path is in flight then).
    for (const r of outcome.results) {
      const answered = Object.values(r.requests.byStatus).reduce((a, b) => a + b, 0);
      expect(answered + r.requests.networkErrors + r.requests.cutAtStop.count, r.id).toBe(r.requests.sent);
      expect(r.requests.cutAtStop.t.length, r.id).toBe(Math.min(500, r.requests.cutAtStop.count));
    }
    expect(get('rollout.gate-off.prestop-30.grace-45.dereg-60.r1').fiveXXByReason?.['503 no-routable-targets'] ?? 0).toBeGreaterThan(0);
    expect(get('rollout.gate-on.prestop-0.grace-45.dereg-60.r1').fiveXX).toBeGreaterThan(0);
    expect(get('rollout.gate-on.prestop-30.grace-10.dereg-60.r1').fiveXX).toBeGreaterThan(0);
    // Every replica on the spot node: the interruption leaves nothing to route to.
    expect(get('spot-notice20.gate-on.prestop-30.grace-45.dereg-60.r1').fiveXX).toBeGreaterThan(0);
    expect(outcome.failedExpectations).toEqual([]);
  });

  it('reads back for `report` and `compare`', async () => {
    const run = await readRun(path.join(dir, 'e2e'));
    expect(run.cells.map((c) => c.id)).toEqual(outcome.results.map((r) => r.id));
    // The table and the recommended settings (read back from run.json) render as report.md did.
    expect(run.record.recommendation).toBeDefined();
    const again = renderMarkdown(run.cells, { title: 'rollout-harness: e2e', runId: 'e2e', target: 'x', driver: 'builtin', rate: 200, failedExpectations: [], recommendation: renderRecommendationMarkdown(run.record.recommendation!) });
    expect(again.split('\n').filter((l) => l.startsWith('|'))).toEqual(outcome.report.split('\n').filter((l) => l.startsWith('|')));
    expect(compareRuns(run.cells, run.cells).regressions).toEqual([]);
  });

  it('restores every setting it changed', async () => {
    const record = await readJson<{ restored: string[] }>(path.join(dir, 'e2e', 'run.json'));
    expect(record.restored).toEqual(
      expect.arrayContaining([
        'deployment shop/web: terminationGracePeriodSeconds restored',
        'ingress shop/web: alb.ingress.kubernetes.io/target-group-attributes restored',
      ]),
    );
    expect(record.restored.some((l) => l.startsWith('FAILED'))).toBe(false);
  });
});
