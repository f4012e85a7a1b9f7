/**
 * `matrix: { topology: [direct, gateway] }` end to end on the twin's default world, through
 * `runMatrix` as `rollout-harness run` calls it: the gateway (kept at 0 replicas until used) is
 * scaled up before the gateway cell, both cells are valid, the gateway cell's traffic reached the
 * gateway's pods through the gateway's own ALB (the ground-truth access log), and restore scales
 * the gateway back to 0. Needs nginx (Debian's package), as every run through the twin's gateway.
 */
import { readFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectTarget } from '../../../harness/cli/connect.ts';
import { readJson } from '../../../harness/core/files.ts';
import { loadSpec } from '../../../harness/matrix/load.ts';
import { runMatrix, type RunOutcome } from '../../../harness/orchestrator/run.ts';
import { runRecordSchema } from '../../../harness/report/types.ts';
import type { AccessLogRecord } from '../../../harness/twin/alb/types.ts';
import { parseUserAgent } from '../../../harness/traffic/user-agent.ts';

const DIRECT = 'rollout.gate-off.prestop-0.grace-30.dereg-10.r1';
const GATEWAY = 'rollout.gate-off.prestop-0.grace-30.dereg-10.gw.r1';

let dir: string;
let outcome: RunOutcome;
const lines: string[] = [];

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'rh-topology-e2e-'));
  await writeFile(
    path.join(dir, 'spec.yaml'),
    stringify({
      name: 'topology',
      // The default world: the app behind its own ALB, and the ingress-nginx gateway behind another.
      target: { twin: { timeScale: 0.05 } },
      traffic: { driver: 'builtin', rate: 50, timeoutSeconds: 10, warmupSeconds: 5, cooldownSeconds: 5 },
      matrix: { topology: ['direct', 'gateway'], preStopSeconds: [0], terminationGracePeriodSeconds: [30], readinessGate: [false], deregistrationDelaySeconds: [10] },
      disruptions: ['rollout'],
    }),
  );
  outcome = await runMatrix({
    loaded: await loadSpec(path.join(dir, 'spec.yaml')),
    connect: connectTarget,
    resultsDir: dir,
    runId: 'topology',
    signal: new AbortController().signal,
    progress: { info: (l) => lines.push(l), cellStart: () => {}, stage: () => {}, traffic: () => {}, cellDone: () => {} },
  });
}, 600_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** The twin's ground-truth access log of the run, by cell (the User-Agent names it). */
async function recordsByCell(): Promise<Map<string, AccessLogRecord[]>> {
  const text = await readFile(path.join(dir, 'topology', 'twin', 'access.log'), 'utf8');
  const byCell = new Map<string, AccessLogRecord[]>();
  for (const line of text.split('\n').filter(Boolean)) {
    const r = JSON.parse(line) as AccessLogRecord;
    const cell = parseUserAgent(r.userAgent)?.cellId;
    if (r.type === 'request' && cell) byCell.set(cell, [...(byCell.get(cell) ?? []), r]);
  }
  return byCell;
}

describe('topology: [direct, gateway] on the twin', () => {
  it('runs both cells validly, the direct one with the id it always had', () => {
    expect(outcome.failure, outcome.failure?.message).toBeUndefined();
    expect(outcome.results.map((r) => r.id)).toEqual([DIRECT, GATEWAY]);
    for (const r of outcome.results) expect(r.valid, `${r.id}: ${r.invalidReason}`).toBe(true);
    expect(lines.some((l) => l.startsWith('deployment ingress-nginx/ingress-nginx-controller: scaled from 0 to 2 replicas'))).toBe(true);
  });

  it('sends the gateway cell through the gateway\'s ALB to the gateway\'s pods, and the direct cell to the app\'s', async () => {
    const byCell = await recordsByCell();
    const targets = (id: string) => new Set((byCell.get(id) ?? []).map((r) => r.target).filter((t) => t !== '-'));
    const direct = targets(DIRECT);
    const gateway = targets(GATEWAY);
    expect(byCell.get(GATEWAY)?.length).toBeGreaterThan(0);
    // The app's rollout replaces its 3 pods: the direct cell routes to old and new ones.
    expect(direct.size).toBeGreaterThanOrEqual(4);
    // The gateway's 2 pods are not disrupted: they are the gateway cell's only targets, none of them an app pod.
    expect(gateway.size).toBeLessThanOrEqual(2);
    expect([...gateway].filter((t) => direct.has(t))).toEqual([]);
  });

  it('scales the gateway back to 0 at restore, and verifies every setting of both paths', async () => {
    expect(outcome.restoreDifferences).toEqual([]);
    const record = runRecordSchema.parse(await readJson(path.join(dir, 'topology', 'run.json')));
    expect(record.restored).toContain('deployment ingress-nginx/ingress-nginx-controller: scaled back to 0 replicas');
    expect((record.original as { scaledFromZero?: unknown }).scaledFromZero).toEqual({ namespace: 'ingress-nginx', deployment: 'ingress-nginx-controller', replicas: 0 });
    expect((record.original as { gatewayPath?: { deregistrationDelaySeconds?: string } }).gatewayPath?.deregistrationDelaySeconds).toBeDefined();
  });
});
