/**
 * grafana/k6-operator's TestRun controller (k6.io/v1alpha1), as the twin runs it: the stages and
 * the Jobs the operator makes, with the twin's own Job controller and kubelet running them.
 *
 * - `initialization` → `initialized`: the operator's initializer Job (`k6 archive` + `k6 inspect`
 *   to read the script's options) is not run; the stage passes at the next sync.
 * - `initialized` → `created`: one runner Job per runner, `<name>-<i>` for i = 1 … parallelism
 *   (pkg/resources/jobs/runner.go): labels `app=k6`, `k6_cr=<name>`, `runner=true` (+ the spec's
 *   runner labels), backoffLimit 0, restartPolicy Never, hostname `<name>-<i>`, the script's
 *   ConfigMap at /test, container `k6` running `k6 run --quiet --execution-segment=… 
 *   --execution-segment-sequence=… <arguments> /test/<file> --address=0.0.0.0:6565 --paused --tag
 *   instance_id=<i> --tag testrun_name=<name>` (segments from pkg/segmentation), the runner's image,
 *   env, resources and nodeSelector, and the operator's default readiness probe (`GET /v1/status` on 6565).
 * - `created` → `started`: once every runner pod is ready, the starter (a Job of curls in the
 *   operator) resumes them together through k6's REST API (`PATCH /v1/status {"data":{"attributes":{"paused":false}}}`);
 *   here the controller sends those requests itself.
 * - `started` → `finished` once every runner Job completed; `error` as soon as one failed (the
 *   operator reports a failed runner Job, its pod's exit code in the pod status).
 * The runners' Jobs are owned by the TestRun: deleting it deletes them (the garbage collector).
 * The image's `k6` is the twin's k6: `K6_BIN` when the twin has one, else the stand-in
 * (harness/traffic/k6/stand-in.ts), which is not k6 (twin.ts maps the image).
 */
import http from 'node:http';
import { ApiError, type ObjectStore } from '../kube/store.ts';
import type { KubeObject } from '../kube/types.ts';
import type { Clock } from '../../core/clock.ts';
import { recordEvent } from './events.ts';
import { PORT_ANNOTATION } from './kubelet/status.ts';
import { WorkQueue, controllerRef, keyOf, newControllerRef, splitKey, watchAll, writeStatus, type Controller, type ControllerDeps, type Log } from './util.ts';

const COMPONENT = 'k6-operator';
/** The runners' REST API port (the operator always configures 6565). */
export const K6_API_PORT = 6565;
const RESYNC_MS = 1000;
const RESUME_TIMEOUT_MS = 5000;

/** k6-operator's command-line segment flags for runner `index` (1-based) of `total` (pkg/segmentation). */
function segmentFlags(index: number, total: number): string[] {
  if (total <= 1) return [];
  const bound = (i: number) => (i === 0 ? '0' : i === total ? '1' : `${i}/${total}`);
  return [`--execution-segment=${bound(index - 1)}:${bound(index)}`, `--execution-segment-sequence=${Array.from({ length: total + 1 }, (_, i) => bound(i)).join(',')}`];
}

/** Starts the TestRun controller. */
export function startK6OperatorController(deps: ControllerDeps): Controller {
  const { store, clock } = deps;
  const log = deps.log ?? (() => {});
  const resuming = new Set<string>();
  const queue = new WorkQueue(COMPONENT, clock, (key) => sync(store, clock, log, key, resuming, () => queue.add(key)), log);
  const requeueOwner = (obj: KubeObject) => {
    const job = obj.kind === 'Pod' ? controllerRef(obj) : undefined;
    const jobName = obj.kind === 'Job' ? obj.metadata.name : job?.kind === 'Job' ? job.name : undefined;
    if (!jobName) return;
    const owner = obj.kind === 'Job' ? controllerRef(obj) : controllerRef(store.get('jobs', obj.metadata.namespace, jobName) ?? obj);
    if (owner?.kind === 'TestRun') queue.add(`${obj.metadata.namespace}/${owner.name}`);
  };
  const stopWatch = watchAll(store, {
    testruns: (event) => event.type !== 'DELETED' && queue.add(keyOf(event.object.metadata)),
    jobs: (event) => requeueOwner(event.object),
    pods: (event) => requeueOwner(event.object),
  });
  for (const tr of store.list('testruns').items) queue.add(keyOf(tr.metadata));
  return {
    stop() {
      stopWatch();
      queue.stop();
    },
  };
}

const stageOf = (tr: KubeObject): string => String(tr.status?.stage ?? '');

function setStage(store: ObjectStore, tr: KubeObject, stage: string, condition?: { reason: string; message: string }): void {
  writeStatus(store, 'testruns', tr, { ...(tr.status ?? {}), stage, ...(condition ? { conditions: [{ type: 'TestRunRunning', status: 'False', ...condition }] } : {}) });
}

function runnerJob(tr: KubeObject, index: number): KubeObject {
  const spec = tr.spec ?? {};
  const name = tr.metadata.name;
  const total = Number(spec.parallelism ?? 1);
  const runner = spec.runner ?? {};
  const file = String(spec.script?.configMap?.file ?? 'test.js');
  const labels = { app: 'k6', k6_cr: name, runner: 'true', ...(runner.metadata?.labels ?? {}) };
  const args = String(spec.arguments ?? '')
    .split(' ')
    .map((a: string) => a.trim())
    .filter(Boolean);
  const command = ['k6', 'run', '--quiet', ...segmentFlags(index, total), ...args, `/test/${file}`, `--address=0.0.0.0:${K6_API_PORT}`, '--paused', '--tag', `instance_id=${index}`, '--tag', `testrun_name=${name}`];
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: `${name}-${index}`, namespace: tr.metadata.namespace, labels, ownerReferences: [newControllerRef(tr)] },
    spec: {
      backoffLimit: 0,
      template: {
        metadata: { labels },
        spec: {
          hostname: `${name}-${index}`,
          restartPolicy: 'Never',
          ...(runner.nodeSelector ? { nodeSelector: runner.nodeSelector } : {}),
          containers: [
            {
              name: 'k6',
              image: String(runner.image || 'grafana/k6:latest'),
              command,
              env: runner.env ?? [],
              ...(runner.resources ? { resources: runner.resources } : {}),
              ports: [{ containerPort: K6_API_PORT }],
              // The operator's default probe (runner.go generateProbe): ready once k6's REST API answers.
              readinessProbe: runner.readinessProbe ?? { httpGet: { path: '/v1/status', port: K6_API_PORT, scheme: 'HTTP' } },
              volumeMounts: [{ name: 'k6-test-volume', mountPath: '/test' }],
            },
          ],
          volumes: [{ name: 'k6-test-volume', configMap: { name: String(spec.script?.configMap?.name ?? '') } }],
        },
      },
    },
  };
}

const jobDone = (job: KubeObject | undefined, type: 'Complete' | 'Failed') => (job?.status?.conditions ?? []).some((c: { type: string; status: string }) => c.type === type && c.status === 'True');

function sync(store: ObjectStore, clock: Clock, log: Log, key: string, resuming: Set<string>, again: () => void): number | void {
  const { namespace, name } = splitKey(key);
  const tr = store.get('testruns', namespace, name);
  if (!tr || tr.metadata.deletionTimestamp) return;
  const stage = stageOf(tr);
  const total = Number(tr.spec?.parallelism ?? 1);
  if (stage === '') return setStage(store, tr, 'initialization');
  if (stage === 'initialization') {
    if (!store.get('configmaps', namespace, String(tr.spec?.script?.configMap?.name ?? ''))) {
      recordEvent(store, clock, tr, 'Warning', 'ScriptNotFound', `ConfigMap ${tr.spec?.script?.configMap?.name} not found`, COMPONENT);
      return setStage(store, tr, 'error', { reason: 'ScriptNotFound', message: 'the script ConfigMap does not exist' });
    }
    return setStage(store, tr, 'initialized');
  }
  if (stage === 'initialized') {
    for (let i = 1; i <= total; i++) {
      try {
        store.create('jobs', runnerJob(tr, i));
      } catch (error) {
        if (!(error instanceof ApiError) || error.code !== 409) throw error;
      }
    }
    recordEvent(store, clock, tr, 'Normal', 'RunnersCreated', `Created ${total} runner jobs`, COMPONENT);
    return setStage(store, tr, 'created');
  }
  const runners = store.list('pods', { namespace, labelSelector: `app=k6,k6_cr=${name},runner=true` }).items;
  const jobs = Array.from({ length: total }, (_, i) => store.get('jobs', namespace, `${name}-${i + 1}`));
  if (jobs.some((j) => jobDone(j, 'Failed'))) {
    const failed = jobs.filter((j) => jobDone(j, 'Failed')).map((j) => j!.metadata.name);
    recordEvent(store, clock, tr, 'Warning', 'RunnerFailed', `Runner jobs failed: ${failed.join(', ')}`, COMPONENT);
    return setStage(store, tr, 'error', { reason: 'RunnerFailed', message: `runner jobs failed: ${failed.join(', ')}` });
  }
  if (stage === 'created') {
    // The starter runs once every runner is ready (its REST API answers the readiness probe): resumed together, they start together.
    const running = runners.filter((p) => p.status?.phase === 'Running' && p.status?.podIP && (p.status?.conditions ?? []).some((c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True'));
    if (running.length < total || resuming.has(key)) return RESYNC_MS;
    // The starter: every runner resumed together, once all answer.
    resuming.add(key);
    // In the twin's port mode a pod listens elsewhere than its containerPort: the kubelet's annotation says where.
    void Promise.all(running.map((p) => resume(String(p.status!.podIP), Number(p.metadata.annotations?.[PORT_ANNOTATION] ?? K6_API_PORT), clock)))
      .then((answers) => {
        const latest = store.get('testruns', namespace, name);
        if (latest && answers.every(Boolean)) setStage(store, latest, 'started');
        else log(`${COMPONENT}: ${key}: a runner did not take the resume yet; trying again`);
      })
      .finally(() => {
        resuming.delete(key);
        again();
      });
    return;
  }
  if (stage === 'started') {
    if (jobs.every((j) => jobDone(j, 'Complete'))) return setStage(store, tr, 'finished');
    return RESYNC_MS;
  }
}

/** PATCHes a runner's k6 REST API to resume it; true when it answered 200. */
function resume(host: string, port: number, clock: Clock): Promise<boolean> {
  return new Promise((resolve) => {
    const body = JSON.stringify({ data: { attributes: { paused: false }, id: 'default', type: 'status' } });
    const req = http.request({ host, port, path: '/v1/status', method: 'PATCH', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === 200));
    });
    const timer = clock.setTimeout(() => req.destroy(new Error('timeout')), RESUME_TIMEOUT_MS);
    req.on('error', () => resolve(false));
    req.on('close', () => timer.cancel());
    req.end(body);
  });
}
