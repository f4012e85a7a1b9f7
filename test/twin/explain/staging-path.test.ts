/**
 * The staging code path of the explain pipeline: `rollout-harness run` as a CLI process against a
 * standalone `twin up` reached as staging is (kubeconfig context, endpoint overrides, no ground
 * truth given to the run), on a world whose Ingress has access logs off. The spec's
 * `explain.enableAccessLogs` turns them on for the run and restores them; every cell reports 5xx
 * by cause, and the causes agree with the twin's ground truth (`<state-dir>/access.log`, joined here
 * by trace id) on ≥ 95 % of the 5xx.
 */
import { execa, type ResultPromise } from 'execa';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scaledClock } from '../../../harness/core/clock.ts';
import { projectRoot } from '../../../harness/core/paths.ts';
import { acceptedCauses, type TruthRecord } from '../../../harness/explain/truth.ts';
import { LB_ATTRIBUTES_ANNOTATION } from '../../../harness/orchestrator/access-logs.ts';
import { createElbv2Adapter } from '../../../harness/platform/elbv2/adapter.ts';
import { createKubernetesAdapter, loadKubeConfig } from '../../../harness/platform/kubernetes/adapter.ts';
import type { CellResult } from '../../../harness/report/types.ts';
import { endAndRemove } from '../../helpers/processes.ts';
import { BIN, startTwinUp, twinUpTarget } from '../../helpers/twin-up.ts';

let dir: string;
let twin: ResultPromise | undefined;
let run: ResultPromise | undefined;
let env: Record<string, string>;
let exitCode: number | undefined;
let output = '';
let cells: CellResult[] = [];
let record: { target: { kind: string }; restoreDifferences?: string[]; original: { accessLogs?: unknown } };
let after: { lb: Record<string, string>; annotation: string | undefined };

/** The default world with the Ingress's access logs off and an app that exits at SIGTERM (5xx with a short preStop). */
async function writeWorld(file: string): Promise<void> {
  const world = parse(await readFile(path.join(projectRoot, 'fixtures/twin/default.yaml'), 'utf8')) as { objects: Array<{ kind: string; metadata: { annotations: Record<string, string> }; spec: { template: { spec: { containers: Array<{ env?: Array<{ name: string; value: string }> }> } } } }> };
  for (const obj of world.objects) {
    if (obj.kind === 'Ingress') delete obj.metadata.annotations[LB_ATTRIBUTES_ANNOTATION];
    const c = obj.kind === 'Deployment' ? obj.spec.template.spec.containers[0] : undefined;
    if (c) {
      const drop = new Set(['KEEPALIVE_TIMEOUT_MS', 'ON_SIGTERM']);
      c.env = [...(c.env ?? []).filter((e: { name: string }) => !drop.has(e.name)), { name: 'KEEPALIVE_TIMEOUT_MS', value: '65000' }, { name: 'ON_SIGTERM', value: 'immediate' }];
    }
  }
  await writeFile(file, stringify(world));
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'rh-staging-path-'));
  await writeWorld(path.join(dir, 'world.yaml'));
  ({ child: twin, env } = await startTwinUp(path.join(dir, 'twin'), 0.03, ['--config', path.join(dir, 'world.yaml'), '--seed', '11']));
  const spec = path.join(dir, 'spec.yaml');
  await writeFile(
    spec,
    stringify({
      name: 'staging-path',
      // Every AWS endpoint overridden to the twin's loopback (S3 and CloudWatch too): no name is resolved.
      target: twinUpTarget(env),
      traffic: { driver: 'builtin', rate: 100, warmupSeconds: 5, cooldownSeconds: 5, timeoutSeconds: 10 },
      matrix: { readinessGate: [true], preStopSeconds: [0, 5], terminationGracePeriodSeconds: [30], deregistrationDelaySeconds: [300] },
      disruptions: ['rollout'],
      explain: { enableAccessLogs: { bucket: 'rollout-harness-alb-logs', prefix: 'staging' }, pollSeconds: 10 },
    }),
  );
  run = execa(process.execPath, [BIN, 'run', spec, '--results-dir', path.join(dir, 'results')], {
    reject: false,
    all: true,
    timeout: 170_000,
    env: { ...process.env, AWS_ACCESS_KEY_ID: 'twin', AWS_SECRET_ACCESS_KEY: 'twin', AWS_REGION: 'us-east-1', AWS_EC2_METADATA_DISABLED: 'true' },
  });
  const done = await run;
  exitCode = done.exitCode;
  output = String(done.all ?? '');
  const runIds = readdirSync(path.join(dir, 'results'));
  expect(runIds, output.slice(-2000)).toHaveLength(1);
  const runDir = path.join(dir, 'results', runIds[0]);
  record = JSON.parse(readFileSync(path.join(runDir, 'run.json'), 'utf8'));
  cells = (record as unknown as { cells: Array<{ id: string }> }).cells.map((c) => JSON.parse(readFileSync(path.join(runDir, 'cells', `${c.id}.json`), 'utf8')) as CellResult);
  const k8s = createKubernetesAdapter(loadKubeConfig(env.KUBECONFIG, 'twin'), scaledClock(1));
  const elbv2 = createElbv2Adapter({ region: 'us-east-1', endpoint: env.AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2, credentials: { accessKeyId: 'twin', secretAccessKey: 'twin' } });
  const tg = (await k8s.listTargetGroupBindings('shop'))[0].spec.targetGroupARN;
  const lb = (await elbv2.loadBalancersOf(tg))[0];
  after = { lb: await elbv2.describeLoadBalancerAttributes(lb), annotation: (await k8s.getIngress('shop', 'web')).metadata?.annotations?.[LB_ATTRIBUTES_ANNOTATION] };
}, 220_000);

afterAll(() => endAndRemove([run, twin], dir), 60_000);

describe('the staging code path against twin up', () => {
  it('runs as against a cluster, enables the access logs for the run and restores them', () => {
    expect({ exitCode, tail: exitCode === 0 ? '' : output.slice(-2000) }).toEqual({ exitCode: 0, tail: '' });
    expect(record.target.kind).toBe('cluster');
    expect(record.original.accessLogs).toMatchObject({ attributes: { 'access_logs.s3.enabled': 'false' }, annotation: null });
    expect(record.restoreDifferences).toBeUndefined();
    expect(after.lb['access_logs.s3.enabled']).toBe('false');
    expect(after.annotation).toBeUndefined();
  });

  it('reports 5xx by cause for every cell, agreeing with the twin\'s ground truth on ≥ 95 %', async () => {
    expect(cells).toHaveLength(2);
    const truth = new Map<string, TruthRecord>();
    for (const line of (await readFile(path.join(dir, 'twin', 'access.log'), 'utf8')).split('\n')) {
      if (!/"elbStatus":\s*5\d\d/.test(line)) continue;
      const r = JSON.parse(line) as TruthRecord & { type?: string };
      if ((r.type === undefined || r.type === 'request') && r.traceId) truth.set(r.traceId, r);
    }
    let compared = 0;
    let agreed = 0;
    for (const c of cells) {
      const e = c.explain!;
      expect({ id: c.id, logs: e.logs, why: e.why, source: e.source?.prefix }).toEqual({ id: c.id, logs: 'complete', why: undefined, source: 'staging' });
      // No ground truth was given to the run: it is the staging path.
      expect(e.agreement).toBeUndefined();
      expect(Object.values(e.causes).reduce((a, b) => a + b, 0), c.id).toBe(e.crossCheck.accessLog + (e.causes['before-alb'] ?? 0));
      expect(e.attributed.length, c.id).toBe(Math.min(500, Object.values(e.causes).reduce((a, b) => a + b, 0)));
      for (const a of e.attributed) {
        if (a.cause === 'before-alb') continue;
        const t = a.traceId ? truth.get(a.traceId) : undefined;
        expect(t, `${c.id}: no ground truth for trace ${a.traceId}`).toBeDefined();
        compared++;
        if (acceptedCauses(t!).includes(a.cause)) agreed++;
      }
    }
    expect(cells.find((c) => c.config.preStopSeconds === 0)!.fiveXX).toBeGreaterThan(0);
    expect(compared).toBeGreaterThan(5);
    expect(agreed / compared).toBeGreaterThanOrEqual(0.95);
  });
});
