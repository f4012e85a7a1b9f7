/**
 * Generic axes (the spec's top-level `axes:`): each value a patch of one object — a Deployment
 * strategic-merge patch, the namespace's labels and annotations, Ingress annotations,
 * target-group attributes, or a strategic-merge patch of the PodDisruptionBudget that selects the
 * Deployment's pods. They get the built-in
 * axes' guarantees by recording, before the run, the object's values at every path any of the
 * axis's patches names (its "projection"); a cell sets original-then-its-value at those paths (so
 * a value never inherits what another cell's value left), restore writes the projection back, and
 * read-back compares projections. Lists whose items carry a `name` (containers, env, volumes) are
 * matched by name as strategic merge does; an item absent before the run is recorded as
 * `{ name, $patch: delete }`, so restore removes it.
 */
import { ConfigError } from '../core/errors.ts';
import { selectorMatches } from '../core/labels.ts';
import type { CellConfig, Spec } from '../matrix/schema.ts';
import type { OriginalSettings, SettingEntry, SettingTarget } from './types.ts';

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const byName = (v: unknown): v is Array<Json & { name: string }> => Array.isArray(v) && v.length > 0 && v.every((x) => isObject(x) && typeof x.name === 'string');

/** The document's values at every path `patch` names, shaped as the patch (absent: null, or a delete directive for a named list item). */
export function project(doc: unknown, patch: Json): Json {
  const out: Json = {};
  for (const [k, p] of Object.entries(patch)) {
    const d = isObject(doc) ? doc[k] : undefined;
    if (isObject(p)) out[k] = project(d, p);
    else if (byName(p)) {
      out[k] = p.map((item) => {
        const found = Array.isArray(d) ? d.find((x) => isObject(x) && x.name === item.name) : undefined;
        return found ? project(found, item) : { name: item.name, $patch: 'delete' };
      });
    } else out[k] = d === undefined ? null : structuredClone(d);
  }
  return out;
}

/** `value` laid over `base` (both patch-shaped): named list items merged by name, a delete directive replaced by the item set. */
export function overlay(base: Json, value: Json): Json {
  const out: Json = structuredClone(base);
  for (const [k, v] of Object.entries(value)) {
    const b = out[k];
    if (isObject(v) && isObject(b)) out[k] = overlay(b, v);
    else if (byName(v) && Array.isArray(b)) {
      const items = [...(b as Json[])];
      for (const item of v) {
        const i = items.findIndex((x) => x.name === item.name);
        const laid = i >= 0 && items[i].$patch !== 'delete' ? overlay(items[i], item) : structuredClone(item);
        if (i >= 0) items[i] = laid;
        else items.push(laid);
      }
      out[k] = items;
    } else out[k] = structuredClone(v);
  }
  return out;
}

/** Every path any value of the axis names (the patches laid over each other). */
const pathsOf = (values: Record<string, Json>): Json => Object.values(values).reduce<Json>((all, v) => overlay(all, v), {});

const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
const show = (v: unknown) => JSON.stringify(v);

/** A generic axis as the spec declares it. */
export type GenericAxis = Spec['axes'][string];

/**
 * The name of the PodDisruptionBudget that selects the Deployment's pods (its template's labels).
 * None, or more than one (the eviction API refuses to evict such pods), is a config error naming the axis.
 */
export async function pdbOf(t: SettingTarget, axisName: string): Promise<string> {
  const labels = (await t.k8s.getDeployment(t.namespace, t.deployment)).spec?.template?.metadata?.labels as Record<string, string> | undefined;
  const matching = (await t.k8s.listPodDisruptionBudgets(t.namespace)).filter((p) => selectorMatches(p.spec?.selector, labels)).map((p) => p.metadata?.name ?? '');
  if (matching.length === 1) return matching[0];
  const pods = `the pods of deployment ${t.namespace}/${t.deployment} (labels ${JSON.stringify(labels ?? {})})`;
  throw new ConfigError(`axes.${axisName}: expected one PodDisruptionBudget in namespace ${t.namespace} whose selector matches ${pods}, got ${matching.length ? matching.join(', ') : 'none'}`);
}

/** The axis's object's values now, at the axis's paths. */
async function readProjection(t: SettingTarget, name: string, axis: GenericAxis, paths: Json = pathsOf(axis.values)): Promise<Json> {
  if (axis.object === 'deployment') return project(await t.k8s.getDeployment(t.namespace, t.deployment), paths);
  if (axis.object === 'namespace') return project(await t.k8s.getNamespace(t.namespace), paths);
  if (axis.object === 'ingress') {
    if (!t.ingress) throw new Error(`axes.${name}: expected an Ingress (target.ingress) to annotate, got none`);
    return project((await t.k8s.getIngress(t.namespace, t.ingress)).metadata?.annotations ?? {}, paths);
  }
  if (axis.object === 'pdb') return project(await t.k8s.getPodDisruptionBudget(t.namespace, await pdbOf(t, name)), paths);
  return project(await t.elbv2.getAttributes(t.targetGroupArn), paths);
}

/** The registry entry of one generic axis: recorded, applied, read back and restored like a built-in one. */
export function genericEntry(name: string, axis: GenericAxis): SettingEntry {
  const paths = pathsOf(axis.values);
  const recorded = (o: OriginalSettings) => o.generic?.[name];
  const wants = (config: CellConfig, o: OriginalSettings) => {
    const choice = config.axes?.[name];
    const base = recorded(o);
    return choice === undefined || base === undefined ? undefined : overlay(base, axis.values[choice]);
  };
  const LABELS = {
    deployment: (t: { namespace: string; deployment: string }) => `deployment ${t.namespace}/${t.deployment}`,
    namespace: (t: { namespace: string }) => `namespace ${t.namespace}`,
    ingress: (t: { namespace: string; ingress?: string }) => `ingress ${t.namespace}/${t.ingress}`,
    targetGroup: () => 'target group',
    pdb: (t: { namespace: string; deployment: string }) => `the PodDisruptionBudget of deployment ${t.namespace}/${t.deployment}`,
  };
  const label = (t: { namespace: string; deployment: string; ingress?: string }) => LABELS[axis.object](t);
  const readNow = (t: SettingTarget) => readProjection(t, name, axis, paths);
  const write = async (t: SettingTarget, value: Json) => {
    if (axis.object === 'deployment') await t.k8s.patchDeployment(t.namespace, t.deployment, value);
    else if (axis.object === 'namespace') {
      const meta = (value.metadata ?? {}) as { labels?: Record<string, string | null>; annotations?: Record<string, string | null> };
      if (meta.labels) await t.k8s.setNamespaceLabels(t.namespace, meta.labels);
      if (meta.annotations) await t.k8s.annotate({ kind: 'Namespace', name: t.namespace }, meta.annotations);
    }
    else if (axis.object === 'ingress') await t.k8s.setIngressAnnotations(t.namespace, t.ingress!, value as Record<string, string | null>);
    else if (axis.object === 'pdb') await t.k8s.patchPodDisruptionBudget(t.namespace, await pdbOf(t, name), value);
    else await t.elbv2.modifyAttributes(t.targetGroupArn, value as Record<string, string>);
  };
  return {
    key: `axes.${name}`,
    object: axis.object,
    // A Deployment patch may change the pod template: configure rolls out when it does.
    rollout: axis.object === 'deployment' && isObject(paths.spec) && 'template' in paths.spec,
    axes: [],
    name: (t) => `${label(t)}: axis ${name}`,
    wants: (config, _spec, o) => wants(config, o),
    describe: (want, t) => `${label(t)}: axis ${name} ${show(want)}`,
    read: async (t, o) => (recorded(o) === undefined ? undefined : readNow(t)),
    was: recorded,
    // A Deployment value joins the cell's one Deployment patch (one rollout); others are written here.
    ...(axis.object === 'deployment' ? { patch: (want: unknown) => (isObject(want) ? want : {}) } : {}),
    async apply(t, config, _spec, o) {
      if (axis.object === 'deployment') return undefined;
      const want = o ? wants(config, o) : undefined;
      if (want === undefined || same(await readNow(t), want)) return undefined;
      await write(t, want);
      return `${label(t)}: axis ${name}=${config.axes?.[name]}`;
    },
    async restore(t, o) {
      const was = recorded(o);
      if (!was) return [];
      await write(t, was);
      return [`${label(t)}: axis ${name} restored`];
    },
  };
}

/** Records each generic axis's projection (before the run changes anything). */
export async function snapshotGeneric(t: SettingTarget, spec: Spec): Promise<Record<string, Json> | undefined> {
  const names = Object.keys(spec.axes);
  if (!names.length) return undefined;
  const out: Record<string, Json> = {};
  // An Ingress or target-group axis reads the ALB's side (the gateway's path under a gateway that is not disrupted).
  for (const name of names) out[name] = await readProjection(['ingress', 'targetGroup'].includes(spec.axes[name].object) ? (t.albSide ?? t) : t, name, spec.axes[name]);
  return out;
}

/** The registry entries of the spec's generic axes. */
export function genericEntries(spec: Pick<Spec, 'axes'> | undefined): SettingEntry[] {
  return Object.entries(spec?.axes ?? {}).map(([name, axis]) => genericEntry(name, axis));
}
