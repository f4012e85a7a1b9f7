/**
 * A small cluster for controller tests: a ManualClock, a store with a namespace and nodes, and a
 * simulated kubelet that does what the real one does to pod objects (Running + Ready after a
 * start-up delay, honouring readiness gates; removes a deleted pod after a termination delay).
 */
import { ManualClock } from '../../../../harness/core/clock.ts';
import { ObjectStore, timestamp } from '../../../../harness/twin/kube/store.ts';
import type { KubeObject } from '../../../../harness/twin/kube/types.ts';

/** Start of model time in tests: a whole second, so second-precision timestamps are exact. */
export const T0 = Date.parse('2024-05-01T00:00:00Z');

/** A node to create. */
export interface NodeSpec {
  name: string;
  zone?: string;
  ready?: boolean;
  unschedulable?: boolean;
  taints?: Array<{ key: string; value?: string; effect: string }>;
  maxPods?: number;
  labels?: Record<string, string>;
}

/** A Node object as the node lifecycle creates it. */
export function nodeObject(spec: NodeSpec): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: spec.name,
      labels: { 'kubernetes.io/hostname': spec.name, ...(spec.zone ? { 'topology.kubernetes.io/zone': spec.zone } : {}), ...spec.labels },
    },
    spec: { ...(spec.unschedulable ? { unschedulable: true } : {}), ...(spec.taints ? { taints: spec.taints } : {}) },
    status: {
      conditions: [{ type: 'Ready', status: spec.ready === false ? 'False' : 'True' }],
      ...(spec.maxPods !== undefined ? { allocatable: { pods: String(spec.maxPods) } } : {}),
    },
  };
}

/** A fresh store on a ManualClock with namespace `default` (and `extraNamespaces`) and the given nodes. */
export function makeStore(nodes: NodeSpec[] = [], extraNamespaces: Array<{ name: string; labels?: Record<string, string> }> = []) {
  const clock = new ManualClock(T0);
  const store = new ObjectStore(clock);
  for (const ns of [{ name: 'default' }, ...extraNamespaces]) {
    store.create('namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns.name, ...('labels' in ns ? { labels: ns.labels } : {}) } });
  }
  for (const n of nodes) store.create('nodes', nodeObject(n));
  return { clock, store };
}

/** Three Ready nodes in two zones, like the twin's default config. */
export const THREE_NODES: NodeSpec[] = [
  { name: 'node-a1', zone: 'us-east-1a' },
  { name: 'node-b1', zone: 'us-east-1b' },
  { name: 'node-b2', zone: 'us-east-1b' },
];

/** Options of the simulated kubelet. */
export interface FakeKubeletOptions {
  /** Model ms from binding to Ready (Infinity: never ready). */
  readyAfterMs?: number;
  /** Model ms from deletionTimestamp to the pod object's removal. */
  terminateAfterMs?: number;
}

/** A simulated kubelet: reacts to pod objects through clock timers only (never inside a watch callback). */
export function startFakeKubelet(store: ObjectStore, clock: ManualClock, opts: FakeKubeletOptions = {}) {
  const readyAfter = opts.readyAfterMs ?? 2_000;
  const terminateAfter = opts.terminateAfterMs ?? 1_000;
  const starting = new Set<string>();
  const stopping = new Set<string>();
  const timers: Array<{ cancel(): void }> = [];
  const key = (p: KubeObject) => `${p.metadata.namespace}/${p.metadata.name}/${p.metadata.uid}`;

  const recomputeReady = (p: KubeObject) => {
    const conditions = (p.status?.conditions ?? []) as Array<{ type: string; status: string; lastTransitionTime?: string }>;
    const containersReady = conditions.find((c) => c.type === 'ContainersReady')?.status === 'True';
    const gates = (p.spec?.readinessGates ?? []) as Array<{ conditionType: string }>;
    const gatesOk = gates.every((g) => conditions.find((c) => c.type === g.conditionType)?.status === 'True');
    const ready = containersReady && gatesOk ? 'True' : 'False';
    const current = conditions.find((c) => c.type === 'Ready');
    if (current?.status === ready) return;
    p.status.conditions = [...conditions.filter((c) => c.type !== 'Ready'), { type: 'Ready', status: ready, lastTransitionTime: timestamp(clock.now()) }];
  };

  const stopWatch = store.watch('pods', {}, (event) => {
    const pod = event.object;
    if (event.type === 'DELETED') return;
    const k = key(pod);
    if (pod.metadata.deletionTimestamp) {
      if (stopping.has(k)) return;
      stopping.add(k);
      timers.push(clock.setTimeout(() => void store.remove('pods', pod.metadata.namespace, pod.metadata.name), terminateAfter));
      return;
    }
    if (!pod.spec?.nodeName || starting.has(k)) return;
    starting.add(k);
    if (!Number.isFinite(readyAfter)) return;
    timers.push(
      clock.setTimeout(() => {
        store.modify('pods', pod.metadata.namespace, pod.metadata.name, (p) => {
          if (p.metadata.uid !== pod.metadata.uid || p.metadata.deletionTimestamp) return p;
          const now = timestamp(clock.now());
          const others = ((p.status?.conditions ?? []) as Array<{ type: string }>).filter((c) => c.type !== 'ContainersReady');
          p.status = { ...p.status, phase: 'Running', podIP: '127.0.0.1', conditions: [...others, { type: 'ContainersReady', status: 'True', lastTransitionTime: now }] };
          recomputeReady(p);
        });
      }, readyAfter),
    );
  });

  return {
    /** Sets a readiness-gate condition (as the Load Balancer Controller does) and recomputes Ready. */
    setCondition(namespace: string, name: string, type: string, status: 'True' | 'False') {
      store.modify('pods', namespace, name, (p) => {
        const conditions = ((p.status?.conditions ?? []) as Array<{ type: string }>).filter((c) => c.type !== type);
        p.status = { ...p.status, conditions: [...conditions, { type, status, lastTransitionTime: timestamp(clock.now()) }] };
        recomputeReady(p);
      });
    },
    stop() {
      stopWatch();
      for (const t of timers) t.cancel();
    },
  };
}

/** A Deployment manifest with app label `app`. */
export function deploymentObject(name: string, opts: { replicas?: number; strategy?: unknown; minReadySeconds?: number; progressDeadlineSeconds?: number; revisionHistoryLimit?: number; grace?: number } = {}): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: 'default' },
    spec: {
      replicas: opts.replicas ?? 3,
      selector: { matchLabels: { app: name } },
      ...(opts.strategy ? { strategy: opts.strategy } : {}),
      ...(opts.minReadySeconds !== undefined ? { minReadySeconds: opts.minReadySeconds } : {}),
      ...(opts.progressDeadlineSeconds !== undefined ? { progressDeadlineSeconds: opts.progressDeadlineSeconds } : {}),
      ...(opts.revisionHistoryLimit !== undefined ? { revisionHistoryLimit: opts.revisionHistoryLimit } : {}),
      template: {
        metadata: { labels: { app: name } },
        spec: { terminationGracePeriodSeconds: opts.grace ?? 30, containers: [{ name: 'app', image: 'app:1' }] },
      },
    },
  };
}

/** `kubectl rollout restart`: the restartedAt annotation on the pod template. */
export function restart(store: ObjectStore, name: string, at: string): void {
  store.modify('deployments', 'default', name, (d) => {
    d.spec.template.metadata.annotations = { ...d.spec.template.metadata.annotations, 'kubectl.kubernetes.io/restartedAt': at };
  });
}

/** `kubectl rollout status`'s completion check. */
export function rolloutComplete(d: KubeObject): boolean {
  const s = d.status ?? {};
  const progressing = (s.conditions ?? []).find((c: { type: string }) => c.type === 'Progressing');
  return (
    (s.observedGeneration ?? 0) >= (d.metadata.generation ?? 0) &&
    progressing?.reason !== 'ProgressDeadlineExceeded' &&
    (s.updatedReplicas ?? 0) === d.spec.replicas &&
    (s.replicas ?? 0) === (s.updatedReplicas ?? 0) &&
    (s.availableReplicas ?? 0) === (s.updatedReplicas ?? 0)
  );
}

/** Advances the clock in steps until `done()` or `maxMs` model ms have passed; returns whether done. */
export async function advanceUntil(clock: ManualClock, done: () => boolean, maxMs: number, stepMs = 500): Promise<boolean> {
  await clock.advance(0);
  for (let t = 0; t < maxMs && !done(); t += stepMs) await clock.advance(stepMs);
  return done();
}

/** Pods of a Deployment (by app label). */
export function podsOf(store: ObjectStore, app: string): KubeObject[] {
  return store.list('pods', { namespace: 'default', labelSelector: `app=${app}` }).items;
}
