/**
 * The run's side of the settings: marking the objects a run changes, configuring a cell by walking
 * the settings registry (harness/settings/registry.ts), the steadiness check, restoring and reading
 * back every setting (again by walking the registry), and undoing node changes.
 */
import { ApiError, EnvironmentError } from '../core/errors.ts';
import { LEASE_ANNOTATION, RUN_MARKER, UNDO_MARKER } from '../core/labels.ts';
import { parseLease, type FoundMarker, type Lease } from './lease.ts';

export type { FoundMarker } from './lease.ts';
import type { Target } from './target.ts';
import type { CellConfig, Spec, Topology } from '../matrix/schema.ts';
import type { ClusterChange, NodeChange } from '../disruptions/types.ts';
import { pollUntil, rolloutComplete } from '../disruptions/wait.ts';
import { RESTARTED_AT } from '../disruptions/rollout.ts';
import type { KObject, ObjectRef } from '../platform/ports.ts';
import { RUN_LABEL as RUN_ID_LABEL } from '../traffic/k6-operator/testrun.ts';
import { SETTINGS, settingsOf, sideOf, snapshotSettings, stateOf, targetGroupAttributesOf, type OriginalSettings, type RunValues, type SettingEntry } from '../settings/registry.ts';
import { expandConfigs, topologiesOf } from '../matrix/expand.ts';
import { undoScaleFromZero, viewOf } from './topology.ts';

export { delayChannel, describeConfig, GATE_LABEL, preStopFor, snapshotSettings, TG_ATTRIBUTES_ANNOTATION, withDelay, type OriginalSettings } from '../settings/registry.ts';
export type { DelayChannel } from '../settings/types.ts';

/**
 * The objects a run changes (nodes aside): each carries the run's marker while the run has it
 * changed. With a topology, those of each path: the app's namespace and Deployment, the direct
 * path's Ingress, the gateway's namespace, Deployment and Ingress.
 */
function markedObjects(t: Target): ObjectRef[] {
  const refs: ObjectRef[] = [];
  const add = (namespace: string, deployment: string, ingress: { namespace: string; name?: string }) => {
    refs.push({ kind: 'Namespace', name: namespace }, { kind: 'Deployment', namespace, name: deployment });
    if (ingress.name) refs.push({ kind: 'Ingress', namespace: ingress.namespace, name: ingress.name });
  };
  const topo = t.topology;
  if (!topo) add(t.namespace, t.deployment, { namespace: t.namespace, name: t.ingress });
  else {
    add(topo.app.namespace, topo.app.deployment, { namespace: topo.direct?.namespace ?? topo.app.namespace, name: topo.direct?.ingress });
    if (topo.gateway) add(topo.gateway.gateway.namespace, topo.gateway.gateway.deployment, { namespace: topo.gateway.namespace, name: topo.gateway.ingress });
  }
  const seen = new Set<string>();
  return refs.filter((r) => !seen.has(`${r.kind}/${r.namespace}/${r.name}`) && seen.add(`${r.kind}/${r.namespace}/${r.name}`));
}

/** Marks the objects the run will change with its id (and its namespace with its lease), before it changes any of them. */
export async function markObjects(t: Target, runId: string, lease?: Lease): Promise<void> {
  for (const ref of markedObjects(t)) await t.k8s.annotate(ref, { [RUN_MARKER]: runId, ...(lease && ref.kind === 'Namespace' && ref.name === t.namespace ? { [LEASE_ANNOTATION]: JSON.stringify(lease) } : {}) });
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

/** The taint a change records when it names no value and effect (NTH's, harness/disruptions/handlers/nth.ts). */
const RUN_TAINT = { value: 'true', effect: 'NoSchedule' };

/**
 * A change as a node's undo marker lists it: `cordon`, `taint:<key>` (the spot notice's
 * `true:NoSchedule`), or `taint:<key>=<value>:<effect>` for any other taint a handler sets.
 */
const changeKey = (c: NodeChange) => {
  if (c.kind === 'cordon') return 'cordon';
  const value = c.value ?? RUN_TAINT.value;
  const effect = c.effect ?? RUN_TAINT.effect;
  return value === RUN_TAINT.value && effect === RUN_TAINT.effect ? `taint:${c.key}` : `taint:${c.key}=${value}:${effect}`;
};

/** The taint an undo marker's entry names (a taint key holds neither "=" nor ":"). */
function parseTaintKey(entry: string): { key: string; value: string; effect: string } {
  const m = /^([^=:]+)=([^:]*):(\w+)$/.exec(entry);
  return m ? { key: m[1], value: m[2], effect: m[3] } : { key: entry, ...RUN_TAINT };
}

/**
 * Marks a node with the change about to be made (before it is made), so it can be undone after any
 * crash. An FIS template marks no node: it carries the run's marker tag itself.
 */
export async function markNodeChange(t: Target, runId: string, change: ClusterChange): Promise<void> {
  // An FIS template and a TestRun mark no node: each carries the run's marker itself.
  if (change.kind === 'fis-template' || change.kind === 'k6-testrun') return;
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

/** True when a pod carries the config's pod-level settings (grace, preStop, gate). */
function podMatches(pod: KObject, config: CellConfig, wantPreStop: unknown, gate: string | undefined): boolean {
  const c = pod.spec?.containers?.[0];
  const grace = pod.spec?.terminationGracePeriodSeconds ?? 30;
  const gates = (pod.spec?.readinessGates ?? []).map((g: { conditionType: string }) => g.conditionType);
  const hasGate = gate ? gates.includes(gate) : gates.some((g: string) => g.startsWith('target-health.elbv2.k8s.aws/'));
  return grace === config.terminationGracePeriodSeconds && JSON.stringify(c?.lifecycle?.preStop ?? null) === JSON.stringify(wantPreStop) && hasGate === config.readinessGate;
}

/** Result of configuring a cell: values, not exceptions. */
export type ConfigureOutcome = { ok: true; detail: string } | { ok: false; reason: string };

/** Deep merge of strategic-merge fragments (containers merged by name, as the API server does). */
function mergePatch(into: Record<string, unknown>, from: Record<string, unknown>): Record<string, unknown> {
  for (const [k, v] of Object.entries(from)) {
    const have = into[k];
    if (k === 'containers' && Array.isArray(have) && Array.isArray(v)) {
      for (const c of v as Array<{ name: string }>) {
        const same = (have as Array<{ name: string }>).find((x) => x.name === c.name);
        if (same) mergePatch(same as Record<string, unknown>, c as Record<string, unknown>);
        else have.push(c);
      }
    } else if (have && v && typeof have === 'object' && typeof v === 'object' && !Array.isArray(v)) mergePatch(have as Record<string, unknown>, v as Record<string, unknown>);
    else into[k] = v;
  }
  return into;
}

/** The config's Deployment changes, as one strategic-merge patch (undefined: the Deployment already carries them). */
async function deploymentPatch(t: Target, spec: Spec, config: CellConfig, o: OriginalSettings): Promise<{ patch?: Record<string, unknown>; changed: string[] }> {
  const patch: Record<string, unknown> = {};
  const changed: string[] = [];
  for (const entry of settingsOf(spec)) {
    if (!entry.patch) continue;
    const want = entry.wants(config, spec, o);
    if (want === undefined || JSON.stringify((await entry.read(t, o)) ?? null) === JSON.stringify(want)) continue;
    mergePatch(patch, entry.patch(want, o));
    changed.push(entry.describe(want, t).replace(`deployment ${t.namespace}/${t.deployment}: `, ''));
  }
  return Object.keys(patch).length ? { patch, changed } : { changed };
}

/** The originals `read` needs to answer for the config's axes while configuring (the run's record has them; these are for the read only). */
function readScope(t: Target, d: KObject, config: CellConfig, original?: OriginalSettings): OriginalSettings {
  const axes = Object.fromEntries(Object.keys(config).map((k) => [k, null]));
  return { container: d.spec?.template?.spec?.containers?.[0]?.name ?? '', preStop: null, terminationGracePeriodSeconds: null, gateLabel: null, delayVia: t.delayVia, deregistrationDelaySeconds: '', changes: [], axes, ingressAttributes: (t.albSide ?? t).ingress ? null : undefined, ...(original?.generic ? { generic: original.generic } : {}) };
}

/**
 * Applies a cell's config by walking the registry: the namespace's, the Ingress's and the target
 * group's settings one by one, the Deployment's as one strategic-merge patch (one rollout).
 * Returns whether the Deployment was patched.
 */
export async function applySettings(t: Target, spec: Spec, config: CellConfig, log: (line: string) => void, original?: OriginalSettings): Promise<{ patched: boolean }> {
  const o = readScope(t, await t.k8s.getDeployment(t.namespace, t.deployment), config, original);
  const { patch, changed } = await deploymentPatch(t, spec, config, o);
  let patched = false;
  for (const entry of settingsOf(spec)) {
    const line = await entry.apply?.(sideOf(entry, t), config, spec, o);
    if (line) log(line);
    if (line && entry.object === 'deployment') patched = true;
  }
  if (patch) {
    await t.k8s.patchDeployment(t.namespace, t.deployment, patch);
    log(`deployment ${t.namespace}/${t.deployment}: ${changed.join(', ')}`);
  }
  return { patched: patched || patch !== undefined };
}

/** Each setting the config sets that the cluster does not show yet, read back through the APIs (empty: all there). */
export async function settingsDiffering(t: Target, spec: Spec, config: CellConfig, original?: OriginalSettings): Promise<string[]> {
  const o = readScope(t, await t.k8s.getDeployment(t.namespace, t.deployment), config, original);
  const differing: string[] = [];
  for (const entry of settingsOf(spec)) {
    const want = readBackWant(entry, config, spec, o);
    if (want === undefined) continue;
    const side = sideOf(entry, t);
    const now = (await entry.read(side, o)) ?? null;
    if (JSON.stringify(now) !== JSON.stringify(want)) differing.push(`${entry.name(side)} is ${typeof now === 'string' ? now : JSON.stringify(now)}, expected ${typeof want === 'string' ? want : JSON.stringify(want)}`);
    // Where it takes effect (the target group's own health check), once the controller applied it.
    else if (entry.effective) {
      const effective = await entry.effective(side);
      if (JSON.stringify(effective) !== JSON.stringify(want)) differing.push(`${entry.name(side)}: the target group shows ${typeof effective === 'string' ? effective : JSON.stringify(effective)}, expected ${typeof want === 'string' ? want : JSON.stringify(want)}`);
    }
  }
  return differing;
}

/**
 * Applies a cell's config, rolls out when a setting needs new pods, verifies pods, gate conditions
 * and each setting read back (target-group attributes as the API shows them), and waits until
 * steady (every target healthy).
 */
export async function configureCell(t: Target, spec: Spec, config: CellConfig, signal: AbortSignal, log: (line: string) => void, original?: OriginalSettings): Promise<ConfigureOutcome> {
  const bound = spec.configure.steadyTimeoutSeconds * 1000;
  const preStop = SETTINGS.find((e) => e.key === 'preStop')!.wants(config, spec, {} as OriginalSettings);
  const { patched } = await applySettings(t, spec, config, log, original);
  // The app's pods behind a gateway are nobody's targets here: no gate of any binding is wanted on them (a gated gateway cell is not run, harness/orchestrator/cell.ts).
  const gate = t.bindingName && !t.registered ? `target-health.elbv2.k8s.aws/${t.bindingName}` : undefined;
  const podsMatch = async () => {
    const pods = (await t.k8s.listPods(t.namespace, t.labelSelector)).filter((p) => !p.metadata?.deletionTimestamp);
    return pods.length > 0 && pods.every((p) => podMatches(p, config, preStop, gate));
  };
  if (!patched && !(await podsMatch())) {
    // Only the gate label changed: the webhook injects gates at pod creation, so new pods are needed.
    await t.k8s.patchDeployment(t.namespace, t.deployment, { spec: { template: { metadata: { annotations: { [RESTARTED_AT]: new Date(t.clock.now()).toISOString() } } } } });
    log(`deployment ${t.namespace}/${t.deployment}: restarted so that pods pick up the readiness gate setting`);
  }
  const rolled = await pollUntil(t.clock, bound, signal, async () => rolloutComplete(await t.k8s.getDeployment(t.namespace, t.deployment)) && (await podsMatch()));
  if (!rolled) return { ok: false, reason: signal.aborted ? 'interrupted' : `pods did not carry the config within ${bound / 1000} s` };
  // Read back every setting the config sets (the controller applies annotations in its own time).
  let differing: string[] = [];
  const applied = await pollUntil(t.clock, bound, signal, async () => (differing = await settingsDiffering(t, spec, config, original)).length === 0);
  if (!applied) return { ok: false, reason: signal.aborted ? 'interrupted' : `not applied within ${bound / 1000} s: ${differing.join('; ')}` };
  const steady = await waitSteady(t, bound, signal);
  if (!steady) return { ok: false, reason: signal.aborted ? 'interrupted' : `targets were not all healthy within ${bound / 1000} s` };
  return { ok: true, detail: 'configured, verified and steady' };
}

/** The value configure reads back for an entry: every setting the config sets but the annotation of target-group attributes (checked through the attributes themselves) and the access logs (enabled once per run). */
function readBackWant(entry: SettingEntry, config: CellConfig, spec: Spec, o: OriginalSettings): unknown {
  if (entry.key === 'ingressAttributes' || entry.key === 'accessLogs') return undefined;
  if ('attribute' in entry && typeof entry.attribute === 'string') return targetGroupAttributesOf(config)[entry.attribute];
  return entry.wants(config, spec, o);
}

/**
 * True when the Deployment is complete, none of its pods is terminating, and each pod is a healthy
 * target (none initial or draining). Behind a gateway (`registered`): the app's Deployment complete
 * with none terminating, and the gateway's the same with each of its pods a healthy target.
 */
export async function isSteady(t: Target): Promise<boolean> {
  const d = await t.k8s.getDeployment(t.namespace, t.deployment);
  if (!rolloutComplete(d)) return false;
  const pods = await t.k8s.listPods(t.namespace, t.labelSelector);
  if (pods.some((p) => p.metadata?.deletionTimestamp)) return false;
  if (t.registered) return pods.length === (d.spec?.replicas ?? 1) && isSteady({ ...t, ...t.registered, registered: undefined });
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

/** Every value the spec's cells set, per registry entry (pure). */
export function valuesTheRunSets(spec: Spec, original: OriginalSettings): RunValues {
  const configs = expandConfigs(spec.matrix, spec.axes);
  return Object.fromEntries(settingsOf(spec).map((e) => [e.key, configs.map((c) => e.wants(c, spec, original)).filter((v) => v !== undefined)]));
}

/** Nothing of the run's is on the cluster: every difference from the originals is someone else's. */
const NO_RUN_VALUES: RunValues = {};

/**
/**
 * Puts back every setting that still has a value the run sets (its spec's cells' values; none once
 * the run's markers are gone, i.e. after a restore that verified everything), undoes the run's
 * cordons and taints the same way, and leaves — and reports — every setting changed since by
 * someone else. Then reads everything back: when it is all as it should be, removes the run's
 * markers; when not, keeps them (the run still has changes on the cluster) and reports what differs.
 */
export async function restoreSettings(t: Target, original: OriginalSettings, runId: string, log: (line: string) => void, scope: RestoreScope): Promise<RestoreReport> {
  const signal = scope.signal ?? new AbortController().signal;
  const held = original.changes.length > 0 || original.scaledFromZero !== undefined || (await findMarkers(t)).some((m) => m.runId === runId);
  const views = restoreViews(t, original, scope.spec);
  const done: string[] = [];
  const kept: string[] = [];
  const leftAlone = new Set<string>();
  for (const [i, view] of views.entries()) {
    const values = held ? valuesTheRunSets(scope.spec, view.o) : NO_RUN_VALUES;
    for (const setting of settingsOf(scope.spec)) {
      const side = sideOf(setting, view.t);
      const state = await stateOf(setting, side, view.o, values);
      if (!state || state.atOriginal) continue;
      if (state.ours) done.push(...(await setting.restore(side, view.o, signal)));
      else {
        leftAlone.add(`${i}:${setting.key}`);
        kept.push(`${setting.name(side)} is ${state.now} (changed since the run set it; ${state.was} before the run): left as it is`);
      }
    }
  }
  done.push(...(await undoScaleFromZero(t, original, runId, kept)));
  done.push(...(await undoClusterChanges(t, original.changes, runId, kept)));
  for (const line of done) log(line);
  for (const line of kept) log(line);
  const differences: string[] = [];
  for (const [i, view] of views.entries()) {
    const values = held ? valuesTheRunSets(scope.spec, view.o) : NO_RUN_VALUES;
    for (const setting of settingsOf(scope.spec)) {
      if (leftAlone.has(`${i}:${setting.key}`)) continue;
      const side = sideOf(setting, view.t);
      const state = await stateOf(setting, side, view.o, values);
      if (state && !state.atOriginal) differences.push(`${setting.name(side)} is ${state.now}, was ${state.was}`);
    }
  }
  const scaled = original.scaledFromZero;
  if (scaled && !kept.some((k) => k.startsWith(`deployment ${scaled.namespace}/${scaled.deployment}: `))) {
    const now = (await t.k8s.getDeployment(scaled.namespace, scaled.deployment)).spec?.replicas ?? 1;
    if (now !== scaled.replicas) differences.push(`deployment ${scaled.namespace}/${scaled.deployment}: ${now} replicas, was ${scaled.replicas}`);
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

/** The views restore walks, each with its originals: the first path's, and the gateway path's when the cells took both. */
function restoreViews(t: Target, original: OriginalSettings, spec: Spec): Array<{ t: Target; o: OriginalSettings }> {
  if (!t.topology) return [{ t, o: original }];
  const used = topologiesOf(spec);
  const views = [{ t: viewOf(t, used[0] ?? 'direct'), o: original }];
  if (used.length > 1 && original.gatewayPath) views.push({ t: viewOf(t, 'gateway'), o: original.gatewayPath });
  return views;
}

/**
 * Deletes the FIS experiment templates carrying the run's marker tag (found by the tag: a harness
 * killed between the create and its answer never learnt the id), then lists again to prove none is left.
 */
async function deleteFisTemplates(t: Target, runId: string, kept: string[]): Promise<string[]> {
  if (!t.fis) {
    kept.push(`FIS experiment templates tagged ${RUN_MARKER}=${runId}: not connected to FIS, left as they are (delete them with aws fis delete-experiment-template)`);
    return [];
  }
  const done: string[] = [];
  for (const id of await t.fis.port.listTemplatesByTag(RUN_MARKER, runId)) {
    if (await t.fis.port.deleteTemplate(id)) done.push(`FIS experiment template ${id}: deleted`);
  }
  const left = await t.fis.port.listTemplatesByTag(RUN_MARKER, runId);
  if (left.length) throw new EnvironmentError(`Expected no FIS experiment template tagged ${RUN_MARKER}=${runId} after deleting them, got ${left.join(', ')}`);
  return done;
}
/** Deletes the run's TestRuns (their runner Jobs and pods with them) and script ConfigMaps in `namespace`, found by the run-id label. */
async function deleteTestRuns(t: Target, runId: string, namespace: string, kept: string[]): Promise<string[]> {
  const selector = `${RUN_ID_LABEL}=${runId}`;
  if (!t.k6Operator) {
    kept.push(`k6-operator TestRuns labelled ${selector} in ${namespace}: not connected, left as they are (kubectl delete testruns,configmaps -n ${namespace} -l ${selector})`);
    return [];
  }
  const done: string[] = [];
  for (const tr of await t.k6Operator.listTestRuns(namespace, selector)) {
    const name = String(tr.metadata?.name);
    if (await t.k6Operator.deleteTestRun(namespace, name)) done.push(`k6-operator TestRun ${namespace}/${name}: deleted (its runners with it)`);
    if (await t.k6Operator.deleteConfigMap(namespace, name)) done.push(`ConfigMap ${namespace}/${name} (its script): deleted`);
  }
  const left = (await t.k6Operator.listTestRuns(namespace, selector)).filter((tr) => !tr.metadata?.deletionTimestamp);
  if (left.length) throw new EnvironmentError(`Expected no TestRun labelled ${selector} in ${namespace} after deleting them, got ${left.map((tr) => tr.metadata?.name).join(', ')}`);
  return done;
}

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
  const recorded = changes.splice(0);
  // FIS templates first: an experiment not yet started from one cannot start after restore.
  if (recorded.some((c) => c.kind === 'fis-template')) done.push(...(await deleteFisTemplates(t, runId, kept)));
  // A TestRun of a killed run may still be sending traffic: gone before anything else is measured.
  for (const namespace of new Set(recorded.flatMap((c) => (c.kind === 'k6-testrun' ? [c.namespace] : [])))) done.push(...(await deleteTestRuns(t, runId, namespace, kept)));
  for (const change of recorded) if (change.kind !== 'fis-template' && change.kind !== 'k6-testrun') todo.set(change.node, (todo.get(change.node) ?? new Set()).add(changeKey(change)));
  for (const [name, n] of nodes) {
    if (n.metadata?.annotations?.[RUN_MARKER] !== runId) continue;
    for (const key of parseUndo(n.metadata?.annotations?.[UNDO_MARKER])) todo.set(name, (todo.get(name) ?? new Set()).add(key));
  }
  for (const [name, keys] of todo) {
    const n = nodes.get(name);
    if (!n) continue; // the instance is gone (spot): nothing to undo
    try {
      await undoNode(t, name, n, keys, done, kept);
    } catch (error) {
      // Deleted since the listing (its instance was terminated: the node controller removes the Node): nothing left to undo.
      if (error instanceof ApiError && error.status === 404) continue;
      throw error;
    }
  }
  return done;
}

/** Undoes one node's recorded changes and removes its markers. */
async function undoNode(t: Target, name: string, n: KObject, keys: Set<string>, done: string[], kept: string[]): Promise<void> {
  for (const key of keys) {
    if (key === 'cordon') {
      if (n.spec?.unschedulable) {
        await t.k8s.setNodeUnschedulable(name, false);
        done.push(`node ${name}: uncordoned`);
      } else kept.push(`node ${name}: uncordoned since the run cordoned it: left as it is`);
    } else if (key.startsWith('taint:')) {
      const set = parseTaintKey(key.slice('taint:'.length));
      const taintKey = set.key;
      const taint = (n.spec?.taints ?? []).find((x: { key: string }) => x.key === taintKey) as { value?: string; effect?: string } | undefined;
      if (!taint) kept.push(`node ${name}: taint ${taintKey} removed since the run set it: left as it is`);
      else if ((taint.value ?? '') !== set.value || taint.effect !== set.effect) {
        kept.push(`node ${name}: taint ${taintKey} is ${taint.value ?? ''}:${taint.effect} (changed since the run set ${set.value}:${set.effect}): left as it is`);
      } else {
        await t.k8s.setNodeTaint(name, taintKey, null);
        done.push(`node ${name}: taint ${taintKey} removed`);
      }
    }
  }
  await t.k8s.annotate({ kind: 'Node', name }, { [RUN_MARKER]: null, [UNDO_MARKER]: null, [LEASE_ANNOTATION]: null });
}

/** The originals of every path the spec's cells take: the first path's, with the gateway path's under `gatewayPath` when they take both. */
export async function snapshotPaths(t: Target, spec: Spec): Promise<OriginalSettings> {
  if (!t.topology) return snapshotSettings(t, spec);
  const used = topologiesOf(spec);
  const original = await snapshotSettings(viewOf(t, used[0] ?? 'direct'), spec);
  if (used.length > 1) original.gatewayPath = await snapshotSettings(viewOf(t, 'gateway'), spec);
  return original;
}

/** The originals a cell of `topology` configures against: its path's (node changes are always recorded in the run's own). */
export function originalsOf(original: OriginalSettings, topology: Topology): OriginalSettings {
  return topology === 'gateway' && original.gatewayPath ? original.gatewayPath : original;
}
