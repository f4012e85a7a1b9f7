/**
 * Fault soak: SIGKILL the harness at 10 random points of a 3-cell run against a standalone
 * `twin up` (reached like staging: kubeconfig context, endpoint overrides), each kill followed by
 * `--resume`, then one last `--resume` to the end. Prints, per kill, where the run was and what
 * the next resume undid; at the end it checks, through the APIs, that every setting is back to the
 * original (Deployment, namespace label, Ingress annotation, the target group's delay, cordons,
 * taints, markers) and that every cell was measured exactly once. Bounded: 10 kills, each within
 * 40 s, and a final run of at most 10 minutes. Exit 0 only when everything checks out.
 *
 *   npm run bench:faults [-- --kills 10 --seed 7]
 */
import { execa, type ResultPromise } from 'execa';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { scaledClock } from '../harness/core/clock.ts';
import { RUN_MARKER } from '../harness/core/labels.ts';
import { seededRandom } from '../harness/core/random.ts';
import { createElbv2Adapter } from '../harness/platform/elbv2/adapter.ts';
import { createKubernetesAdapter, loadKubeConfig } from '../harness/platform/kubernetes/adapter.ts';
import type { KObject } from '../harness/platform/ports.ts';
import { BIN, startTwinUp, twinUpTarget, writeQuietWorld } from '../test/helpers/twin-up.ts';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const KILLS = arg('kills', 10);
const random = seededRandom(arg('seed', 7));
const realClock = scaledClock(1);

const dir = await mkdtemp(path.join(os.tmpdir(), 'rh-soak-'));
const world = await writeQuietWorld(path.join(dir, 'world.yaml'));
const { child: twin, env } = await startTwinUp(path.join(dir, 'twin'), 0.05, ['--config', world]);
let run: ResultPromise | undefined;
try {
  const k8s = createKubernetesAdapter(loadKubeConfig(env.KUBECONFIG, 'twin'), realClock);
  const elbv2 = createElbv2Adapter({ region: 'us-east-1', endpoint: env.AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2, credentials: { accessKeyId: 'twin', secretAccessKey: 'twin' } });
  const tgArn = (await k8s.listTargetGroupBindings('shop'))[0].spec.targetGroupARN;
  /** Everything a run may change, as read through the APIs. */
  const settings = async () => {
    const d = await k8s.getDeployment('shop', 'web');
    const c = d.spec.template.spec.containers[0];
    const nodes = (await k8s.listNodes()).map((n: KObject) => ({ name: n.metadata?.name, cordoned: Boolean(n.spec?.unschedulable), taints: (n.spec?.taints ?? []).map((t: { key: string }) => t.key).sort() }));
    const objects = [await k8s.getNamespace('shop'), d, await k8s.getIngress('shop', 'web'), ...(await k8s.listNodes())];
    return {
      preStop: c.lifecycle?.preStop ?? null,
      grace: d.spec.template.spec.terminationGracePeriodSeconds ?? null,
      gate: (await k8s.getNamespace('shop')).metadata?.labels?.['elbv2.k8s.aws/pod-readiness-gate-inject'] ?? null,
      annotation: (await k8s.getIngress('shop', 'web')).metadata?.annotations?.['alb.ingress.kubernetes.io/target-group-attributes'] ?? null,
      delay: (await elbv2.getAttributes(tgArn))['deregistration_delay.timeout_seconds'],
      nodes: nodes.filter((n) => n.cordoned || n.taints.length).map((n) => `${n.name}:${n.cordoned ? 'cordoned' : ''}${n.taints.join('+')}`),
      markers: objects.filter((o) => o.metadata?.annotations?.[RUN_MARKER]).map((o) => o.metadata?.name),
    };
  };
  const original = await settings();

  const spec = path.join(dir, 'soak.yaml');
  await writeFile(
    spec,
    stringify({
      name: 'soak',
      target: twinUpTarget(env),
      traffic: { driver: 'builtin', rate: 100, warmupSeconds: 10, cooldownSeconds: 5, timeoutSeconds: 10 },
      matrix: { readinessGate: [true], preStopSeconds: [20], terminationGracePeriodSeconds: [40], deregistrationDelaySeconds: [30] },
      disruptions: ['rollout', 'drain', { drain: { node: 'spot' } }],
      explain: { enabled: false },
    }),
  );
  const results = path.join(dir, 'results');
  const runDir = path.join(results, 'soak');
  const harness = (args: string[]) =>
    execa(process.execPath, [BIN, 'run', spec, '--results-dir', results, ...args], {
      reject: false,
      all: true,
      env: { ...process.env, AWS_ACCESS_KEY_ID: 'twin', AWS_SECRET_ACCESS_KEY: 'twin', AWS_REGION: 'us-east-1' },
    });
  const record = () => (existsSync(path.join(runDir, 'run.json')) ? JSON.parse(readFileSync(path.join(runDir, 'run.json'), 'utf8')) : undefined);
  /** First write time of each cell file: a cell measured twice would get a newer one. */
  const firstWrite = new Map<string, number>();
  const noteCells = async () => {
    if (!existsSync(path.join(runDir, 'cells'))) return;
    for (const f of await readdir(path.join(runDir, 'cells'))) {
      if (f.endsWith('.interrupted.json') || !f.endsWith('.json')) continue;
      const mtime = statSync(path.join(runDir, 'cells', f)).mtimeMs;
      const id = f.replace(/\.json$/, '');
      const status = record()?.cells.find((c: { id: string }) => c.id === id)?.status;
      if (status === 'done' && !firstWrite.has(id)) firstWrite.set(id, mtime);
    }
  };

  const started = realClock.now();
  let undone = 0;
  console.log(`fault soak: ${KILLS} SIGKILLs of a 3-cell run against twin up (time scale 0.05), each followed by --resume`);
  for (let i = 0; i < KILLS; i++) {
    // A run killed before its first checkpoint changed nothing: it starts again rather than resumes.
    const args = record() ? ['--resume', 'soak'] : ['--run-id', 'soak'];
    const atMs = Math.round(1000 + random.next() * 39_000);
    run = harness(args);
    const finished = await Promise.race([run.then(() => true), realClock.sleep(atMs).then(() => false)]);
    if (finished) {
      const r = await run;
      console.log(`  run ${i + 1}: finished (exit ${r.exitCode}) before the kill at ${(atMs / 1000).toFixed(1)} s`);
      if (r.exitCode !== 0) throw new Error(`the run failed:\n${r.all}`);
      break;
    }
    const where = record();
    const cell = where?.cells.findIndex((c: { status: string }) => c.status !== 'done') ?? -1;
    run.kill('SIGKILL');
    const r = await run;
    if (String(r.all).includes('Undoing what the stopped run')) undone++;
    const left = await settings();
    console.log(`  kill ${i + 1} at ${(atMs / 1000).toFixed(1)} s (${args[0]}): cell ${cell + 1}/3 stage ${where?.cells[cell]?.stage ?? '(before the first checkpoint)'}; left changed: ${JSON.stringify({ ...left, nodes: left.nodes.join(' ') || '-', markers: left.markers.length })}`);
    await noteCells();
  }
  const last = record()?.cells.every((c: { status: string }) => c.status === 'done') && record()?.endedAt ? undefined : harness(record() ? ['--resume', 'soak'] : ['--run-id', 'soak']);
  if (last) {
    run = last;
    const bound = realClock.sleep(600_000).then(() => last.kill('SIGINT'));
    const r = await last;
    void bound;
    if (String(r.all).includes('Undoing what the stopped run')) undone++;
    console.log(`  final --resume: exit ${r.exitCode}`);
    if (r.exitCode !== 0) throw new Error(`the final resume failed:\n${r.all}`);
  }
  await noteCells();

  const final = await settings();
  const rec = record();
  const files = (await readdir(path.join(runDir, 'cells'))).filter((f) => f.endsWith('.json') && !f.endsWith('.interrupted.json'));
  const remeasured = [...firstWrite].filter(([id, t]) => statSync(path.join(runDir, 'cells', `${id}.json`)).mtimeMs !== t).map(([id]) => id);
  const checks = {
    'every setting back to the original': JSON.stringify(final) === JSON.stringify(original),
    'every cell done': rec.cells.every((c: { status: string }) => c.status === 'done'),
    'one result file per cell': files.length === rec.cells.length && new Set(files).size === rec.cells.length,
    'no done cell measured again': remeasured.length === 0,
    'restore verified at the end': !rec.restoreDifferences,
  };
  console.log(`\n${(realClock.now() - started) / 1000} s in all; ${undone} resumes undid leftovers before measuring`);
  console.log(`original: ${JSON.stringify(original)}`);
  console.log(`final:    ${JSON.stringify(final)}`);
  for (const [what, ok] of Object.entries(checks)) console.log(`  ${ok ? 'ok  ' : 'FAIL'} ${what}`);
  process.exitCode = Object.values(checks).every(Boolean) ? 0 : 1;
} finally {
  if (run?.pid && run.exitCode === null) run.kill('SIGKILL');
  await run?.catch(() => {});
  twin.kill('SIGINT');
  await twin.catch(() => {});
  await rm(dir, { recursive: true, force: true });
}
