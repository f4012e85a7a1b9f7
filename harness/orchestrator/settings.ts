/**
 * The settings a cell changes — on the Deployment, the namespace, the Ingress or the target group —
 * recorded before the first change, applied per cell, verified through the APIs, and restored at
 * the end (or on abort) from the record.
 */
import { parseAttributeList } from '../core/attributes.ts';
import { RUN_MARKER, UNDO_MARKER } from '../core/labels.ts';
import type { Target } from './target.ts';
import { restoreAccessLogs, verifyAccessLogs, type OriginalAccessLogs } from './access-logs.ts';
import type { CellConfig, Spec } from '../matrix/schema.ts';
import type { ClusterChange } from '../disruptions/types.ts';
import { pollUntil, rolloutComplete } from '../disruptions/wait.ts';
import { RESTARTED_AT } from '../disruptions/rollout.ts';
import type { KObject, ObjectRef } from '../platform/ports.ts';

/** The namespace label that turns on readiness-gate injection. */
export const GATE_LABEL = 'elbv2.k8s.aws/pod-readiness-gate-inject';
/** The Ingress annotation holding target-group attributes. */
export const TG_ATTRIBUTES_ANNOTATION = 'alb.ingress.kubernetes.io/target-group-attributes';
const DELAY_KEY = 'deregistration_delay.timeout_seconds';

/** How the deregistration delay is set: decided once, when connecting, and stored with the originals. */
export type DelayChannel = 'ingress' | 'api';

/** The channel: the Ingress annotation when asked for and there is an Ingress, else ModifyTargetGroupAttributes. */
export function delayChannel(spec: Spec, ingress: string | undefined): DelayChannel {
  return spec.configure.deregistrationDelayVia === 'ingress' && ingress ? 'ingress' : 'api';
}

/** The original values, as found before the run changed anything (JSON-serializable). */
export interface OriginalSettings {
  container: string;
  /** The container's lifecycle.preStop (null when none). */
  preStop: unknown;
  /** The container's whole lifecycle (null when none), so that restore leaves no empty object behind. */
  lifecycle?: unknown;
  terminationGracePeriodSeconds: number | null;
  /** The namespace's gate label value (null when unset). */
  gateLabel: string | null;
  /** The Ingress annotation (null when unset; undefined when no Ingress is used). */
  ingressAttributes?: string | null;
  /** How this run sets the delay (decided once, at connect). */
  delayVia: DelayChannel;
  /** The target group's effective delay, read through DescribeTargetGroupAttributes. */
  deregistrationDelaySeconds: string;
  /** Changes disruptions made and not yet undone (cordons, taints). */
  changes: ClusterChange[];
  /** The load balancer's access-log attributes and the Ingress annotation, when the run enables the logs (`explain.enableAccessLogs`). */
  accessLogs?: OriginalAccessLogs;
}

/** The annotation with the deregistration delay set to `seconds`, other attributes kept in order. */
export function withDelay(annotation: string | null | undefined, seconds: number): string {
  const entries = parseAttributeList(annotation).filter(([k]) => k !== DELAY_KEY);
  return [...entries, [DELAY_KEY, String(seconds)]].map(([k, v]) => `${k}=${v}`).join(',');
}

function container(d: KObject): { name: string; lifecycle?: { preStop?: unknown } } {
  const c = d.spec?.template?.spec?.containers?.[0];
  if (!c) throw new Error(`deployment ${d.metadata?.name} has no container`);
  return c;
}

/** Reads the settings the run may change. */
export async function snapshotSettings(t: Target): Promise<OriginalSettings> {
  const d = await t.k8s.getDeployment(t.namespace, t.deployment);
  const ns = await t.k8s.getNamespace(t.namespace);
  const c = container(d);
  const original: OriginalSettings = {
    container: c.name,
    preStop: c.lifecycle?.preStop ?? null,
    lifecycle: c.lifecycle ?? null,
    terminationGracePeriodSeconds: d.spec?.template?.spec?.terminationGracePeriodSeconds ?? null,
    gateLabel: ns.metadata?.labels?.[GATE_LABEL] ?? null,
    delayVia: t.delayVia,
    deregistrationDelaySeconds: (await t.elbv2.getAttributes(t.targetGroupArn))[DELAY_KEY] ?? '300',
    changes: [],
  };
  if (t.ingress) original.ingressAttributes = (await t.k8s.getIngress(t.namespace, t.ingress)).metadata?.annotations?.[TG_ATTRIBUTES_ANNOTATION] ?? null;
  return original;
}

/** The objects a run changes (nodes aside): each carries the run's marker while the run has it changed. */
function markedObjects(t: Target): ObjectRef[] {
  return [
    { kind: 'Namespace', name: t.namespace },
    { kind: 'Deployment', namespace: t.namespace, name: t.deployment },
    ...(t.ingress ? [{ kind: 'Ingress' as const, namespace: t.namespace, name: t.ingress }] : []),
  ];
}

/** Marks the objects the run will change with its id, before it changes any of them. */
export async function markObjects(t: Target, runId: string): Promise<void> {
  for (const ref of markedObjects(t)) await t.k8s.annotate(ref, { [RUN_MARKER]: runId });
}

/** A marker found on the cluster: which object carries which run's id. */
export interface FoundMarker {
  runId: string;
  object: string;
}

/** Every run marker on the target's objects and on the nodes. */
export async function findMarkers(t: Target): Promise<FoundMarker[]> {
  const found: FoundMarker[] = [];
  const read = async (ref: ObjectRef): Promise<KObject> =>
    ref.kind === 'Namespace' ? t.k8s.getNamespace(ref.name) : ref.kind === 'Deployment' ? t.k8s.getDeployment(ref.namespace!, ref.name) : t.k8s.getIngress(ref.namespace!, ref.name);
  for (const ref of markedObjects(t)) {
    const runId = (await read(ref)).metadata?.annotations?.[RUN_MARKER];
    if (runId) found.push({ runId, object: `${ref.kind.toLowerCase()} ${ref.namespace ? `${ref.namespace}/` : ''}${ref.name}` });
  }
  for (const n of await t.k8s.listNodes()) {
    const runId = n.metadata?.annotations?.[RUN_MARKER];
    if (runId) found.push({ runId, object: `node ${n.metadata?.name}` });
  }
  return found;
}

const changeKey = (c: ClusterChange) => (c.kind === 'cordon' ? 'cordon' : `taint:${c.key}`);

/** Marks a node with the change about to be made (before it is made), so it can be undone after any crash. */
export async function markNodeChange(t: Target, runId: string, change: ClusterChange): Promise<void> {
  const node = await t.k8s.getNode(change.node);
  const list = parseUndo(node.metadata?.annotations?.[UNDO_MARKER]);
  if (!list.includes(changeKey(change))) list.push(changeKey(change));
  await t.k8s.annotate({ kind: 'Node', name: change.node }, { [RUN_MARKER]: runId, [UNDO_MARKER]: JSON.stringify(list) });
}

function parseUndo(text: string | undefined): string[] {
  try {
    const list = JSON.parse(text ?? '[]') as unknown;
    return Array.isArray(list) ? list.filter((x): x is string => typeof x === 'string') : [];
  } catch {
    return [];
  }
}

/** The preStop a cell asks for (null = none). */
export function preStopFor(seconds: number, style: Spec['configure']['preStop']): unknown {
  if (seconds <= 0) return null;
  return style === 'native' ? { sleep: { seconds } } : { exec: { command: ['sleep', String(seconds)] } };
}

/** What `plan` prints for a config: each change, without touching anything. */
export function describeConfig(config: CellConfig, spec: Spec, t: { namespace: string; deployment: string; ingress?: string }): string[] {
  const via = delayChannel(spec, t.ingress);
  const preStop = preStopFor(config.preStopSeconds, spec.configure.preStop);
  return [
    `deployment ${t.namespace}/${t.deployment}: terminationGracePeriodSeconds=${config.terminationGracePeriodSeconds}, preStop=${preStop ? JSON.stringify(preStop) : 'none'}`,
    `namespace ${t.namespace}: label ${GATE_LABEL}=${config.readinessGate ? 'enabled' : '(removed)'}`,
    via === 'ingress'
      ? `ingress ${t.namespace}/${t.ingress}: annotation ${TG_ATTRIBUTES_ANNOTATION} with ${DELAY_KEY}=${config.deregistrationDelaySeconds}`
      : `target group: ModifyTargetGroupAttributes ${DELAY_KEY}=${config.deregistrationDelaySeconds}`,
    'roll out so every pod carries these settings, then wait until every target is healthy',
  ];
}

/** Sets the delay through the channel decided at connect: the Ingress annotation or the ELBv2 API. */
async function setDelay(t: Target, seconds: number): Promise<void> {
  if (t.delayVia === 'ingress' && t.ingress) {
    const ing = await t.k8s.getIngress(t.namespace, t.ingress);
    const current = ing.metadata?.annotations?.[TG_ATTRIBUTES_ANNOTATION];
    const next = withDelay(current, seconds);
    if (next !== current) await t.k8s.setIngressAnnotations(t.namespace, t.ingress, { [TG_ATTRIBUTES_ANNOTATION]: next });
  } else {
    await t.elbv2.modifyAttributes(t.targetGroupArn, { [DELAY_KEY]: String(seconds) });
  }
}

/** True when a pod carries the config. */
function podMatches(pod: KObject, config: CellConfig, wantPreStop: unknown, gate: string | undefined): boolean {
  const c = pod.spec?.containers?.[0];
  const grace = pod.spec?.terminationGracePeriodSeconds ?? 30;
  const gates = (pod.spec?.readinessGates ?? []).map((g: { conditionType: string }) => g.conditionType);
  const hasGate = gate ? gates.includes(gate) : gates.some((g: string) => g.startsWith('target-health.elbv2.k8s.aws/'));
  return grace === config.terminationGracePeriodSeconds && JSON.stringify(c?.lifecycle?.preStop ?? null) === JSON.stringify(wantPreStop) && hasGate === config.readinessGate;
}

/** Result of configuring a cell: values, not exceptions. */
export type ConfigureOutcome = { ok: true; detail: string } | { ok: false; reason: string };

/**
 * Applies a cell's config, rolls out so every pod carries it, verifies pods, gate conditions and
 * the effective target-group attribute, and waits until steady (every target healthy).
 */
export async function configureCell(t: Target, spec: Spec, config: CellConfig, signal: AbortSignal, log: (line: string) => void): Promise<ConfigureOutcome> {
  const bound = spec.configure.steadyTimeoutSeconds * 1000;
  const preStop = preStopFor(config.preStopSeconds, spec.configure.preStop);
  const d = await t.k8s.getDeployment(t.namespace, t.deployment);
  const c = container(d);
  const patch: Record<string, unknown> = {};
  if (JSON.stringify(c.lifecycle?.preStop ?? null) !== JSON.stringify(preStop) || d.spec?.template?.spec?.terminationGracePeriodSeconds !== config.terminationGracePeriodSeconds) {
    Object.assign(patch, { spec: { template: { spec: { terminationGracePeriodSeconds: config.terminationGracePeriodSeconds, containers: [{ name: c.name, lifecycle: { preStop } }] } } } });
  }
  const ns = await t.k8s.getNamespace(t.namespace);
  const wantLabel = config.readinessGate ? 'enabled' : null;
  if ((ns.metadata?.labels?.[GATE_LABEL] ?? null) !== wantLabel) {
    await t.k8s.setNamespaceLabels(t.namespace, { [GATE_LABEL]: wantLabel });
    log(`namespace ${t.namespace}: ${GATE_LABEL}=${wantLabel ?? '(removed)'}`);
  }
  await setDelay(t, config.deregistrationDelaySeconds);
  if (Object.keys(patch).length) {
    await t.k8s.patchDeployment(t.namespace, t.deployment, patch);
    log(`deployment ${t.namespace}/${t.deployment}: preStop ${config.preStopSeconds} s, grace ${config.terminationGracePeriodSeconds} s`);
  }
  const gate = t.bindingName ? `target-health.elbv2.k8s.aws/${t.bindingName}` : undefined;
  const podsMatch = async () => {
    const pods = (await t.k8s.listPods(t.namespace, t.labelSelector)).filter((p) => !p.metadata?.deletionTimestamp);
    return pods.length > 0 && pods.every((p) => podMatches(p, config, preStop, gate));
  };
  if (!Object.keys(patch).length && !(await podsMatch())) {
    // Only the gate label changed: the webhook injects gates at pod creation, so new pods are needed.
    await t.k8s.patchDeployment(t.namespace, t.deployment, { spec: { template: { metadata: { annotations: { [RESTARTED_AT]: new Date(t.clock.now()).toISOString() } } } } });
    log(`deployment ${t.namespace}/${t.deployment}: restarted so that pods pick up the readiness gate setting`);
  }
  const rolled = await pollUntil(t.clock, bound, signal, async () => rolloutComplete(await t.k8s.getDeployment(t.namespace, t.deployment)) && (await podsMatch()));
  if (!rolled) return { ok: false, reason: signal.aborted ? 'interrupted' : `pods did not carry the config within ${bound / 1000} s` };
  const delayOk = await pollUntil(t.clock, bound, signal, async () => (await t.elbv2.getAttributes(t.targetGroupArn))[DELAY_KEY] === String(config.deregistrationDelaySeconds));
  if (!delayOk) return { ok: false, reason: `the target group's ${DELAY_KEY} did not become ${config.deregistrationDelaySeconds} within ${bound / 1000} s` };
  const steady = await waitSteady(t, bound, signal);
  if (!steady) return { ok: false, reason: signal.aborted ? 'interrupted' : `targets were not all healthy within ${bound / 1000} s` };
  return { ok: true, detail: 'configured, verified and steady' };
}

/** True when the Deployment is complete, none of its pods is terminating, and each pod is a healthy target (none initial or draining). */
export async function isSteady(t: Target): Promise<boolean> {
  const d = await t.k8s.getDeployment(t.namespace, t.deployment);
  if (!rolloutComplete(d)) return false;
  const pods = await t.k8s.listPods(t.namespace, t.labelSelector);
  if (pods.some((p) => p.metadata?.deletionTimestamp)) return false;
  const targets = await t.elbv2.describeTargetHealth(t.targetGroupArn);
  return pods.length === (d.spec?.replicas ?? 1) && targets.length === pods.length && targets.every((x) => x.state === 'healthy');
}

/** Waits (model time, bounded) until `isSteady`. */
export function waitSteady(t: Target, boundMs: number, signal: AbortSignal): Promise<boolean> {
  return pollUntil(t.clock, boundMs, signal, () => isSteady(t));
}

/** What restore did, and what still differs from the originals after it read everything back. */
export interface RestoreReport {
  done: string[];
  differences: string[];
}

/** Model ms restore waits for the controller to apply a restored annotation to the target group. */
const CONTROLLER_APPLY_MS = 30_000;

/**
 * Puts back every original setting, undoes the run's cordons and taints (from the record and from
 * the nodes' markers), removes the run's markers, then reads everything back and fixes or reports
 * any difference. The user's own cordons and taints were never recorded, so they stay.
 */
export async function restoreSettings(t: Target, original: OriginalSettings, runId: string, log: (line: string) => void, signal: AbortSignal = new AbortController().signal): Promise<RestoreReport> {
  const done: string[] = [];
  const d = await t.k8s.getDeployment(t.namespace, t.deployment);
  if (!deploymentMatches(d, original)) {
    const lifecycle = original.lifecycle === null ? null : { ...(original.lifecycle as object | undefined), preStop: original.preStop };
    await t.k8s.patchDeployment(t.namespace, t.deployment, {
      spec: { template: { spec: { terminationGracePeriodSeconds: original.terminationGracePeriodSeconds, containers: [{ name: original.container, lifecycle }] } } },
    });
    done.push(`deployment ${t.namespace}/${t.deployment}: preStop and terminationGracePeriodSeconds restored`);
  }
  const ns = await t.k8s.getNamespace(t.namespace);
  if ((ns.metadata?.labels?.[GATE_LABEL] ?? null) !== original.gateLabel) {
    await t.k8s.setNamespaceLabels(t.namespace, { [GATE_LABEL]: original.gateLabel });
    done.push(`namespace ${t.namespace}: ${GATE_LABEL} restored`);
  }
  if (t.ingress && original.ingressAttributes !== undefined) {
    const ing = await t.k8s.getIngress(t.namespace, t.ingress);
    if ((ing.metadata?.annotations?.[TG_ATTRIBUTES_ANNOTATION] ?? null) !== original.ingressAttributes) {
      await t.k8s.setIngressAnnotations(t.namespace, t.ingress, { [TG_ATTRIBUTES_ANNOTATION]: original.ingressAttributes });
      done.push(`ingress ${t.namespace}/${t.ingress}: ${TG_ATTRIBUTES_ANNOTATION} restored`);
    }
  }
  done.push(...(await restoreDelay(t, original, signal)));
  if (original.accessLogs) done.push(...(await restoreAccessLogs(t, original.accessLogs, signal)));
  done.push(...(await undoClusterChanges(t, original.changes, runId)));
  for (const ref of markedObjects(t)) await t.k8s.annotate(ref, { [RUN_MARKER]: null });
  for (const line of done) log(line);
  const differences = await verifyRestored(t, original, runId);
  for (const line of differences) log(`still differs after restore: ${line}`);
  return { done, differences };
}

/**
 * The target group's delay back to its original value. An Ingress annotation that names the delay
 * is applied by the controller (waited for, bounded); one that does not leaves the attribute at the
 * last value the controller set (it does not revert removed attributes), so it is set back through
 * ModifyTargetGroupAttributes — as it is when the run used the API.
 */
async function restoreDelay(t: Target, original: OriginalSettings, signal: AbortSignal): Promise<string[]> {
  const current = async () => (await t.elbv2.getAttributes(t.targetGroupArn))[DELAY_KEY];
  if ((await current()) === original.deregistrationDelaySeconds) return [];
  const controllerOwns = original.delayVia === 'ingress' && parseAttributeList(original.ingressAttributes).some(([k]) => k === DELAY_KEY);
  if (controllerOwns && (await pollUntil(t.clock, CONTROLLER_APPLY_MS, signal, async () => (await current()) === original.deregistrationDelaySeconds))) {
    return [`target group: ${DELAY_KEY} back to ${original.deregistrationDelaySeconds} (applied by the controller)`];
  }
  await t.elbv2.modifyAttributes(t.targetGroupArn, { [DELAY_KEY]: original.deregistrationDelaySeconds });
  return [`target group: ${DELAY_KEY} set back to ${original.deregistrationDelaySeconds} through ModifyTargetGroupAttributes${controllerOwns ? ' (the controller had not applied the annotation)' : ''}`];
}

function deploymentMatches(d: KObject, original: OriginalSettings): boolean {
  const c = container(d);
  const lifecycleOk = original.lifecycle === undefined || JSON.stringify(c.lifecycle ?? null) === JSON.stringify(original.lifecycle);
  return lifecycleOk && JSON.stringify(c.lifecycle?.preStop ?? null) === JSON.stringify(original.preStop) && (d.spec?.template?.spec?.terminationGracePeriodSeconds ?? null) === original.terminationGracePeriodSeconds;
}

/** Reads every setting back and lists what still differs from the originals (empty: restored). */
export async function verifyRestored(t: Target, original: OriginalSettings, runId: string): Promise<string[]> {
  const differences: string[] = [];
  const d = await t.k8s.getDeployment(t.namespace, t.deployment);
  if (!deploymentMatches(d, original)) differences.push(`deployment ${t.namespace}/${t.deployment}: preStop or terminationGracePeriodSeconds is not the original`);
  const ns = await t.k8s.getNamespace(t.namespace);
  const label = ns.metadata?.labels?.[GATE_LABEL] ?? null;
  if (label !== original.gateLabel) differences.push(`namespace ${t.namespace}: ${GATE_LABEL} is ${label ?? '(unset)'}, was ${original.gateLabel ?? '(unset)'}`);
  if (t.ingress && original.ingressAttributes !== undefined) {
    const now = (await t.k8s.getIngress(t.namespace, t.ingress)).metadata?.annotations?.[TG_ATTRIBUTES_ANNOTATION] ?? null;
    if (now !== original.ingressAttributes) differences.push(`ingress ${t.namespace}/${t.ingress}: ${TG_ATTRIBUTES_ANNOTATION} is ${now ?? '(unset)'}, was ${original.ingressAttributes ?? '(unset)'}`);
  }
  const delay = (await t.elbv2.getAttributes(t.targetGroupArn))[DELAY_KEY];
  if (delay !== original.deregistrationDelaySeconds) differences.push(`target group: ${DELAY_KEY} is ${delay}, was ${original.deregistrationDelaySeconds}`);
  if (original.accessLogs) differences.push(...(await verifyAccessLogs(t, original.accessLogs)));
  for (const m of await findMarkers(t)) if (m.runId === runId) differences.push(`${m.object}: still carries the run's marker`);
  return differences;
}

/**
 * Uncordons and untaints what disruptions changed — the changes in `changes` and those the nodes'
 * markers of this run name (a harness killed before its checkpoint still left those) — and removes
 * the markers. Nodes that are gone are skipped. Empties `changes`.
 */
export async function undoClusterChanges(t: Target, changes: ClusterChange[], runId: string): Promise<string[]> {
  const done: string[] = [];
  const nodes = new Map((await t.k8s.listNodes()).map((n) => [n.metadata?.name ?? '', n]));
  const todo = new Map<string, Set<string>>();
  for (const change of changes.splice(0)) todo.set(change.node, (todo.get(change.node) ?? new Set()).add(changeKey(change)));
  for (const [name, n] of nodes) {
    if (n.metadata?.annotations?.[RUN_MARKER] !== runId) continue;
    for (const key of parseUndo(n.metadata?.annotations?.[UNDO_MARKER])) todo.set(name, (todo.get(name) ?? new Set()).add(key));
  }
  for (const [name, keys] of todo) {
    if (!nodes.has(name)) continue; // the instance is gone (spot): nothing to undo
    for (const key of keys) {
      if (key === 'cordon') {
        await t.k8s.setNodeUnschedulable(name, false);
        done.push(`node ${name}: uncordoned`);
      } else if (key.startsWith('taint:')) {
        await t.k8s.setNodeTaint(name, key.slice('taint:'.length), null);
        done.push(`node ${name}: taint ${key.slice('taint:'.length)} removed`);
      }
    }
    await t.k8s.annotate({ kind: 'Node', name }, { [RUN_MARKER]: null, [UNDO_MARKER]: null });
  }
  return done;
}
