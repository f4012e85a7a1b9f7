/**
 * The settings a cell changes — on the Deployment, the namespace, the Ingress or the target group —
 * recorded before the first change, applied per cell, verified through the APIs, and restored at
 * the end (or on abort) from the record.
 */
import { parseAttributeList } from '../core/attributes.ts';
import { LEASE_ANNOTATION, RUN_MARKER, UNDO_MARKER } from '../core/labels.ts';
import { parseLease, type Lease } from './lease.ts';
import type { Target } from './target.ts';
import { accessLogAttributes, readAccessLogs, restoreAccessLogs, withAttributes, type AccessLogsSetting, type OriginalAccessLogs } from './access-logs.ts';
import type { CellConfig, Spec } from '../matrix/schema.ts';
import { expandConfigs } from '../matrix/expand.ts';
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

/** Marks the objects the run will change with its id (and the namespace with its lease), before it changes any of them. */
export async function markObjects(t: Target, runId: string, lease?: Lease): Promise<void> {
  for (const ref of markedObjects(t)) await t.k8s.annotate(ref, { [RUN_MARKER]: runId, ...(lease && ref.kind === 'Namespace' ? { [LEASE_ANNOTATION]: JSON.stringify(lease) } : {}) });
}

/** A marker found on the cluster: which object carries which run's id, and the run's lease there if any. */
export interface FoundMarker {
  runId: string;
  object: string;
  lease?: Lease;
}

/** Every run marker on the target's objects and on the nodes. */
export async function findMarkers(t: Target): Promise<FoundMarker[]> {
  const found: FoundMarker[] = [];
  const read = async (ref: ObjectRef): Promise<KObject> =>
    ref.kind === 'Namespace' ? t.k8s.getNamespace(ref.name) : ref.kind === 'Deployment' ? t.k8s.getDeployment(ref.namespace!, ref.name) : t.k8s.getIngress(ref.namespace!, ref.name);
  const marker = (o: KObject, object: string): FoundMarker | undefined => {
    const runId = o.metadata?.annotations?.[RUN_MARKER];
    const lease = parseLease(o.metadata?.annotations?.[LEASE_ANNOTATION]);
    return runId ? { runId, object, ...(lease?.holderIdentity === runId ? { lease } : {}) } : undefined;
  };
  for (const ref of markedObjects(t)) {
    const m = marker(await read(ref), `${ref.kind.toLowerCase()} ${ref.namespace ? `${ref.namespace}/` : ''}${ref.name}`);
    if (m) found.push(m);
  }
  for (const n of await t.k8s.listNodes()) {
    const m = marker(n, `node ${n.metadata?.name}`);
    if (m) found.push(m);
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

/** What restore did, what it left as the user changed it since, and what still differs from the originals after it read everything back. */
export interface RestoreReport {
  done: string[];
  /** Settings changed since the run set them (not to a value the run sets): left as they are. */
  kept: string[];
  differences: string[];
}

/** What restore needs besides the record. */
export interface RestoreScope {
  /** The spec the run ran: the values its cells set are the only ones restore takes for the run's. */
  spec: Spec;
  signal?: AbortSignal;
  /** Called just before the run's markers are removed (the run stops renewing its lease there). */
  beforeUnmark?: () => Promise<void>;
}

/** Model ms restore waits for the controller to apply a restored annotation to the target group. */
const CONTROLLER_APPLY_MS = 30_000;

/** The values a run may have left on the cluster, per setting (empty: none of the run's values is there any more). */
export interface RunValues {
  preStop: unknown[];
  grace: Array<number | null>;
  gateLabel: Array<string | null>;
  /** The target-group-attributes annotation, when the run sets the delay through it. */
  ingressAttributes: Array<string | null>;
  delay: string[];
  /** Where the run sends the access logs, when it turns them on. */
  accessLogs?: AccessLogsSetting;
}

/** Nothing of the run's is on the cluster: every difference from the originals is someone else's. */
const NO_RUN_VALUES: RunValues = { preStop: [], grace: [], gateLabel: [], ingressAttributes: [], delay: [] };

/** Every value the spec's cells set, per setting (pure). */
export function valuesTheRunSets(spec: Spec, original: OriginalSettings): RunValues {
  const configs = expandConfigs(spec.matrix);
  return {
    preStop: configs.map((c) => preStopFor(c.preStopSeconds, spec.configure.preStop)),
    grace: configs.map((c) => c.terminationGracePeriodSeconds),
    gateLabel: configs.map((c) => (c.readinessGate ? 'enabled' : null)),
    ingressAttributes: original.delayVia === 'ingress' ? configs.map((c) => withDelay(original.ingressAttributes, c.deregistrationDelaySeconds)) : [],
    delay: configs.map((c) => String(c.deregistrationDelaySeconds)),
    ...(spec.explain.enableAccessLogs ? { accessLogs: spec.explain.enableAccessLogs } : {}),
  };
}

/** A setting as restore finds it: at its original value, at one the run sets, or neither (changed since by someone else). */
interface SettingState {
  atOriginal: boolean;
  ours: boolean;
  now: string;
  was: string;
}

/**
 * One entry per setting restore puts back, walked in this order (the Ingress annotation before the
 * delay the controller applies from it): how to read its state and how to put it back.
 */
interface RestorableSetting {
  name(t: Target): string;
  /** Undefined when the run does not touch it on this target. */
  state(t: Target, o: OriginalSettings, values: RunValues): Promise<SettingState | undefined>;
  restore(t: Target, o: OriginalSettings, signal: AbortSignal): Promise<string[]>;
}

const show = (v: unknown) => (v === null || v === undefined ? '(unset)' : typeof v === 'string' || typeof v === 'number' ? String(v) : JSON.stringify(v));
const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
const among = (v: unknown, values: readonly unknown[]) => values.some((x) => same(x, v));

const SETTINGS: RestorableSetting[] = [
  {
    name: (t) => `deployment ${t.namespace}/${t.deployment}: preStop`,
    async state(t, o, values) {
      const c = container(await t.k8s.getDeployment(t.namespace, t.deployment));
      const preStop = c.lifecycle?.preStop ?? null;
      // The whole lifecycle, so that restore leaves no empty object behind.
      const atOriginal = (o.lifecycle === undefined || same(c.lifecycle, o.lifecycle)) && same(preStop, o.preStop);
      return { atOriginal, ours: among(preStop, values.preStop), now: show(preStop), was: show(o.preStop) };
    },
    async restore(t, o) {
      const lifecycle = o.lifecycle === null ? null : { ...(o.lifecycle as object | undefined), preStop: o.preStop };
      await t.k8s.patchDeployment(t.namespace, t.deployment, { spec: { template: { spec: { containers: [{ name: o.container, lifecycle }] } } } });
      return [`deployment ${t.namespace}/${t.deployment}: preStop restored`];
    },
  },
  {
    name: (t) => `deployment ${t.namespace}/${t.deployment}: terminationGracePeriodSeconds`,
    async state(t, o, values) {
      const grace = (await t.k8s.getDeployment(t.namespace, t.deployment)).spec?.template?.spec?.terminationGracePeriodSeconds ?? null;
      return { atOriginal: grace === o.terminationGracePeriodSeconds, ours: values.grace.includes(grace), now: show(grace), was: show(o.terminationGracePeriodSeconds) };
    },
    async restore(t, o) {
      await t.k8s.patchDeployment(t.namespace, t.deployment, { spec: { template: { spec: { terminationGracePeriodSeconds: o.terminationGracePeriodSeconds } } } });
      return [`deployment ${t.namespace}/${t.deployment}: terminationGracePeriodSeconds restored`];
    },
  },
  {
    name: (t) => `namespace ${t.namespace}: ${GATE_LABEL}`,
    async state(t, o, values) {
      const label = (await t.k8s.getNamespace(t.namespace)).metadata?.labels?.[GATE_LABEL] ?? null;
      return { atOriginal: label === o.gateLabel, ours: values.gateLabel.includes(label), now: show(label), was: show(o.gateLabel) };
    },
    async restore(t, o) {
      await t.k8s.setNamespaceLabels(t.namespace, { [GATE_LABEL]: o.gateLabel });
      return [`namespace ${t.namespace}: ${GATE_LABEL} restored`];
    },
  },
  {
    name: (t) => `ingress ${t.namespace}/${t.ingress}: ${TG_ATTRIBUTES_ANNOTATION}`,
    async state(t, o, values) {
      if (!t.ingress || o.ingressAttributes === undefined) return undefined;
      const now = (await t.k8s.getIngress(t.namespace, t.ingress)).metadata?.annotations?.[TG_ATTRIBUTES_ANNOTATION] ?? null;
      return { atOriginal: now === o.ingressAttributes, ours: values.ingressAttributes.includes(now), now: show(now), was: show(o.ingressAttributes) };
    },
    async restore(t, o) {
      await t.k8s.setIngressAnnotations(t.namespace, t.ingress!, { [TG_ATTRIBUTES_ANNOTATION]: o.ingressAttributes ?? null });
      return [`ingress ${t.namespace}/${t.ingress}: ${TG_ATTRIBUTES_ANNOTATION} restored`];
    },
  },
  {
    name: () => `target group: ${DELAY_KEY}`,
    async state(t, o, values) {
      const delay = (await t.elbv2.getAttributes(t.targetGroupArn))[DELAY_KEY];
      return { atOriginal: delay === o.deregistrationDelaySeconds, ours: values.delay.includes(delay), now: show(delay), was: show(o.deregistrationDelaySeconds) };
    },
    restore: (t, o, signal) => restoreDelay(t, o, signal),
  },
  {
    name: () => 'access logs',
    async state(t, o, values) {
      if (!o.accessLogs || !t.ingress) return undefined;
      const now = await readAccessLogs(t, o.accessLogs);
      const was = { attributes: o.accessLogs.attributes, annotation: o.accessLogs.annotation };
      const ours = values.accessLogs ? { attributes: accessLogAttributes(values.accessLogs), annotation: withAttributes(o.accessLogs.annotation, accessLogAttributes(values.accessLogs)) } : undefined;
      return { atOriginal: same(now, was), ours: ours !== undefined && same(now, ours), now: show(now), was: show(was) };
    },
    restore: (t, o, signal) => restoreAccessLogs(t, o.accessLogs!, signal),
  },
];

/**
 * Puts back every setting that still has a value the run sets (its spec's cells' values; none once
 * the run's markers are gone, i.e. after a restore that verified everything), undoes the run's
 * cordons and taints the same way, and leaves — and reports — every setting changed since by
 * someone else. Then reads everything back: when it is all as it should be, removes the run's
 * markers; when not, keeps them (the run still has changes on the cluster) and reports what differs.
 */
export async function restoreSettings(t: Target, original: OriginalSettings, runId: string, log: (line: string) => void, scope: RestoreScope): Promise<RestoreReport> {
  const signal = scope.signal ?? new AbortController().signal;
  const held = original.changes.length > 0 || (await findMarkers(t)).some((m) => m.runId === runId);
  const values = held ? valuesTheRunSets(scope.spec, original) : NO_RUN_VALUES;
  const done: string[] = [];
  const kept: string[] = [];
  const leftAlone = new Set<RestorableSetting>();
  for (const setting of SETTINGS) {
    const state = await setting.state(t, original, values);
    if (!state || state.atOriginal) continue;
    if (state.ours) done.push(...(await setting.restore(t, original, signal)));
    else {
      leftAlone.add(setting);
      kept.push(`${setting.name(t)} is ${state.now} (changed since the run set it; ${state.was} before the run): left as it is`);
    }
  }
  done.push(...(await undoClusterChanges(t, original.changes, runId, kept)));
  for (const line of done) log(line);
  for (const line of kept) log(line);
  const differences: string[] = [];
  for (const setting of SETTINGS) {
    if (leftAlone.has(setting)) continue;
    const state = await setting.state(t, original, values);
    if (state && !state.atOriginal) differences.push(`${setting.name(t)} is ${state.now}, was ${state.was}`);
  }
  if (differences.length) {
    log(`the run's markers stay on the cluster: it still has changes there (${differences.length})`);
  } else {
    await scope.beforeUnmark?.();
    for (const ref of markedObjects(t)) await t.k8s.annotate(ref, { [RUN_MARKER]: null, ...(ref.kind === 'Namespace' ? { [LEASE_ANNOTATION]: null } : {}) });
    for (const m of await findMarkers(t)) if (m.runId === runId) differences.push(`${m.object}: still carries the run's marker`);
  }
  for (const line of differences) log(`still differs after restore: ${line}`);
  return { done, kept, differences };
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

/** The taint the spot disruption sets (harness/disruptions/spot.ts): one with another value or effect was changed since. */
const RUN_TAINT = { value: 'true', effect: 'NoSchedule' };

/**
 * Uncordons and untaints what disruptions changed — the changes in `changes` and those the nodes'
 * markers of this run name (a harness killed before its checkpoint still left those) — and removes
 * the markers. A node uncordoned or untainted since, or whose taint was changed, is left as it is
 * (said in `kept`); nodes that are gone are skipped. Empties `changes`.
 */
export async function undoClusterChanges(t: Target, changes: ClusterChange[], runId: string, kept: string[] = []): Promise<string[]> {
  const done: string[] = [];
  const nodes = new Map((await t.k8s.listNodes()).map((n) => [n.metadata?.name ?? '', n]));
  const todo = new Map<string, Set<string>>();
  for (const change of changes.splice(0)) todo.set(change.node, (todo.get(change.node) ?? new Set()).add(changeKey(change)));
  for (const [name, n] of nodes) {
    if (n.metadata?.annotations?.[RUN_MARKER] !== runId) continue;
    for (const key of parseUndo(n.metadata?.annotations?.[UNDO_MARKER])) todo.set(name, (todo.get(name) ?? new Set()).add(key));
  }
  for (const [name, keys] of todo) {
    const n = nodes.get(name);
    if (!n) continue; // the instance is gone (spot): nothing to undo
    for (const key of keys) {
      if (key === 'cordon') {
        if (n.spec?.unschedulable) {
          await t.k8s.setNodeUnschedulable(name, false);
          done.push(`node ${name}: uncordoned`);
        } else kept.push(`node ${name}: uncordoned since the run cordoned it: left as it is`);
      } else if (key.startsWith('taint:')) {
        const taintKey = key.slice('taint:'.length);
        const taint = (n.spec?.taints ?? []).find((x: { key: string }) => x.key === taintKey) as { value?: string; effect?: string } | undefined;
        if (!taint) kept.push(`node ${name}: taint ${taintKey} removed since the run set it: left as it is`);
        else if ((taint.value ?? '') !== RUN_TAINT.value || taint.effect !== RUN_TAINT.effect) {
          kept.push(`node ${name}: taint ${taintKey} is ${taint.value ?? ''}:${taint.effect} (changed since the run set ${RUN_TAINT.value}:${RUN_TAINT.effect}): left as it is`);
        } else {
          await t.k8s.setNodeTaint(name, taintKey, null);
          done.push(`node ${name}: taint ${taintKey} removed`);
        }
      }
    }
    await t.k8s.annotate({ kind: 'Node', name }, { [RUN_MARKER]: null, [UNDO_MARKER]: null, [LEASE_ANNOTATION]: null });
  }
  return done;
}
