/**
 * The settings registry: one entry per setting a run may change, each with the object it lives on,
 * whether changing it needs new pods, how `plan` describes it, how it is recorded, applied, read
 * back and put back. Configure, restore and read-back walk this list; none of them knows a setting
 * by name (see README.md beside this file).
 */
import { parseAttributeList } from '../core/attributes.ts';
import { pollUntil } from '../disruptions/wait.ts';
import type { CellConfig, Spec } from '../matrix/schema.ts';
import { optionalAxesOf } from '../matrix/expand.ts';
import type { OptionalAxis } from '../matrix/axes.ts';
import type { KObject, TargetGroupHealthCheck } from '../platform/ports.ts';
import { accessLogAttributes, readAccessLogs, restoreAccessLogs, withAttributes } from './access-logs.ts';
import type { DelayChannel, OriginalSettings, PlanTarget, RunValues, SettingEntry, SettingState, SettingTarget } from './types.ts';
import { genericEntries, snapshotGeneric } from './generic.ts';

/** The namespace label that turns on readiness-gate injection. */
export const GATE_LABEL = 'elbv2.k8s.aws/pod-readiness-gate-inject';
/** The Ingress annotation holding target-group attributes. */
export const TG_ATTRIBUTES_ANNOTATION = 'alb.ingress.kubernetes.io/target-group-attributes';
/** The target-group attribute of the deregistration delay. */
export const DELAY_KEY = 'deregistration_delay.timeout_seconds';
/** Model ms restore waits for the controller to apply a restored annotation to the target group. */
export const CONTROLLER_APPLY_MS = 30_000;

export type { OriginalSettings, PlanTarget, RunValues, SettingEntry, SettingState } from './types.ts';

/** The objects of the ALB's side of a path: under a gateway with the app disrupted, those of the gateway's path. */
const ALB_OBJECTS: ReadonlySet<SettingEntry['object']> = new Set(['ingress', 'targetGroup', 'loadBalancer']);

/** The target an entry reads and writes: the ALB's side for the Ingress, target group and load balancer, else `t` (harness/orchestrator/topology.ts). */
export function sideOf<T extends { albSide?: unknown }>(entry: Pick<SettingEntry, 'object'>, t: T): T {
  return t.albSide && ALB_OBJECTS.has(entry.object) ? (t.albSide as T) : t;
}

/** The channel: the Ingress annotation when asked for and there is an Ingress, else ModifyTargetGroupAttributes. */
export function delayChannel(spec: Spec, ingress: string | undefined): DelayChannel {
  return spec.configure.deregistrationDelayVia === 'ingress' && ingress ? 'ingress' : 'api';
}

/** The annotation with the deregistration delay set to `seconds`, other attributes kept in order. */
export function withDelay(annotation: string | null | undefined, seconds: number): string {
  return withAttributes(annotation, { [DELAY_KEY]: String(seconds) });
}

/** The preStop a cell asks for (null = none): `action` wins over the spec-wide `configure.preStop`. */
export function preStopFor(seconds: number, style: Spec['configure']['preStop'], action?: 'exec' | 'sleep'): unknown {
  if (seconds <= 0) return null;
  const sleep = action ? action === 'sleep' : style === 'native';
  return sleep ? { sleep: { seconds } } : { exec: { command: ['sleep', String(seconds)] } };
}

/** The Deployment's first container (the app's). */
export function container(d: KObject): { name: string; lifecycle?: { preStop?: unknown } } {
  const c = d.spec?.template?.spec?.containers?.[0];
  if (!c) throw new Error(`deployment ${d.metadata?.name} has no container`);
  return c;
}

/** A strategic-merge value that replaces the object there instead of merging into it (null removes it). */
const replacing = (v: unknown) => (v && typeof v === 'object' ? { $patch: 'replace', ...v } : null);
const show = (v: unknown) => (v === null || v === undefined ? '(unset)' : typeof v === 'string' || typeof v === 'number' ? String(v) : JSON.stringify(v));
const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
const among = (v: unknown, values: readonly unknown[] | undefined) => (values ?? []).some((x) => same(x, v));
const deploymentName = (t: { namespace: string; deployment: string }) => `deployment ${t.namespace}/${t.deployment}`;
const getDeployment = (t: SettingTarget) => t.k8s.getDeployment(t.namespace, t.deployment);
const annotationOf = async (t: SettingTarget, key: string) => (t.ingress ? ((await t.k8s.getIngress(t.namespace, t.ingress)).metadata?.annotations?.[key] ?? null) : undefined);

/**
 * The target-group attributes a config sets, by attribute key: the delay always, slow start and the
 * algorithm when their axes are in the matrix. They travel together in one annotation or one call.
 */
export function targetGroupAttributesOf(config: CellConfig): Record<string, string> {
  return Object.fromEntries(TG_ATTRIBUTE_ENTRIES.filter((e) => e.value(config) !== undefined).map((e) => [e.attribute, e.value(config)!]));
}

/**
 * A target-group attribute back to its original value. An Ingress annotation that names it is
 * applied by the controller (waited for, bounded); one that does not leaves the attribute at the
 * last value the controller set (it does not revert removed attributes), so it is set back through
 * ModifyTargetGroupAttributes — as it is when the run used the API.
 */
async function restoreAttribute(t: SettingTarget, o: OriginalSettings, key: string, original: string, signal: AbortSignal): Promise<string[]> {
  const current = async () => (await t.elbv2.getAttributes(t.targetGroupArn))[key];
  if ((await current()) === original) return [];
  const controllerOwns = o.delayVia === 'ingress' && parseAttributeList(o.ingressAttributes).some(([k]) => k === key);
  if (controllerOwns && (await pollUntil(t.clock, CONTROLLER_APPLY_MS, signal, async () => (await current()) === original))) {
    return [`target group: ${key} back to ${original} (applied by the controller)`];
  }
  await t.elbv2.modifyAttributes(t.targetGroupArn, { [key]: original });
  return [`target group: ${key} set back to ${original} through ModifyTargetGroupAttributes${controllerOwns ? ' (the controller had not applied the annotation)' : ''}`];
}

/** A target-group attribute set through the channel decided at connect; `axis` undefined for the built-in delay. */
interface TgAttributeEntry extends SettingEntry {
  attribute: string;
  value(config: CellConfig): string | undefined;
}

function tgAttribute(opts: { key: string; axis: keyof CellConfig; attribute: string; fallback: string; optional?: OptionalAxis }): TgAttributeEntry {
  const { key, axis, attribute, fallback, optional } = opts;
  const was = (o: OriginalSettings) => (optional ? o.axes?.[optional] : o.deregistrationDelaySeconds);
  return {
    key,
    object: 'targetGroup',
    rollout: false,
    axes: [axis],
    attribute,
    value: (config) => (config[axis] === undefined ? undefined : String(config[axis])),
    name: () => `target group: ${attribute}`,
    wants: (config) => (config[axis] === undefined ? undefined : String(config[axis])),
    describe: (want, t) =>
      t.delayVia === 'ingress' ? `ingress ${t.namespace}/${t.ingress}: annotation ${TG_ATTRIBUTES_ANNOTATION} with ${attribute}=${show(want)}` : `target group: ModifyTargetGroupAttributes ${attribute}=${show(want)}`,
    read: async (t, o) => (was(o) === undefined ? undefined : ((await t.elbv2.getAttributes(t.targetGroupArn))[attribute] ?? fallback)),
    was,
    async apply(t, config) {
      // Through the Ingress, the annotation entry (walked before this one) carries it.
      if (t.delayVia === 'ingress' && t.ingress) return undefined;
      const want = config[axis] === undefined ? undefined : String(config[axis]);
      if (want === undefined || (await t.elbv2.getAttributes(t.targetGroupArn))[attribute] === want) return undefined;
      await t.elbv2.modifyAttributes(t.targetGroupArn, { [attribute]: want });
      return `target group: ${attribute}=${want}`;
    },
    restore: (t, o, signal) => restoreAttribute(t, o, attribute, String(was(o)), signal),
  };
}

/** A field of the Deployment's spec set by an optional axis, at `path` under `spec`. */
function deploymentField(axis: OptionalAxis, path: string[], rollout = false): SettingEntry {
  const at = (d: KObject) => path.reduce<unknown>((v, k) => (v as Record<string, unknown> | undefined)?.[k], d.spec) ?? null;
  const fragment = (value: unknown) => ({ spec: path.reduceRight<unknown>((inner, k) => ({ [k]: inner }), value) }) as Record<string, unknown>;
  return {
    key: axis,
    object: 'deployment',
    rollout,
    axes: [axis],
    name: (t) => `${deploymentName(t)}: spec.${path.join('.')}`,
    wants: (config) => config[axis],
    describe: (want) => `spec.${path.join('.')}=${show(want)}`,
    read: async (t, o) => (o.axes?.[axis] === undefined ? undefined : at(await getDeployment(t))),
    was: (o) => o.axes?.[axis],
    patch: (want) => fragment(want),
    async restore(t, o) {
      await t.k8s.patchDeployment(t.namespace, t.deployment, fragment(o.axes?.[axis] ?? null));
      return [`${deploymentName(t)}: spec.${path.join('.')} restored`];
    },
  };
}

/**
 * An Ingress annotation of the target group's health check, set by an optional axis. The controller
 * applies it to the target group in its own time: configure reads the target group back (bounded by
 * the steady wait), restore waits for it (bounded) and compares it with the recorded one.
 */
function healthCheckAnnotation(axis: OptionalAxis, annotation: string, field: keyof TargetGroupHealthCheck): SettingEntry {
  const was = (o: OriginalSettings) => o.axes?.[axis];
  const effective = async (t: SettingTarget) => String((await t.elbv2.getHealthCheck(t.targetGroupArn))[field]);
  const recordedEffective = (o: OriginalSettings) => (o.targetGroupHealthCheck ? String(o.targetGroupHealthCheck[field]) : undefined);
  return {
    key: axis,
    object: 'ingress',
    rollout: false,
    axes: [axis],
    name: (t) => `ingress ${t.namespace}/${t.ingress}: ${annotation}`,
    wants: (config) => (config[axis] === undefined ? undefined : String(config[axis])),
    describe: (want, t) => `ingress ${t.namespace}/${t.ingress ?? '(none)'}: annotation ${annotation}=${show(want)}`,
    read: async (t, o) => (was(o) === undefined ? undefined : annotationOf(t, annotation)),
    was,
    effective,
    async apply(t, config) {
      if (config[axis] === undefined) return undefined;
      if (!t.ingress) throw new Error(`matrix.${axis}: expected an Ingress (target.ingress) whose ${annotation} annotation the controller applies, got none`);
      const want = String(config[axis]);
      if ((await annotationOf(t, annotation)) === want) return undefined;
      await t.k8s.setIngressAnnotations(t.namespace, t.ingress, { [annotation]: want });
      return `ingress ${t.namespace}/${t.ingress}: ${annotation}=${want}`;
    },
    async state(t, o, values) {
      const annotationWas = was(o);
      if (annotationWas === undefined) return undefined;
      const now = await annotationOf(t, annotation);
      if (now === undefined) return undefined;
      const groupWas = recordedEffective(o);
      const groupNow = groupWas === undefined ? undefined : await effective(t);
      const annotationBack = same(now, annotationWas);
      return {
        atOriginal: annotationBack && groupNow === groupWas,
        // The annotation is back but the group still shows the run's value: the controller has not applied it yet.
        ours: among(now, values[axis]) || (annotationBack && among(groupNow, values[axis])),
        now: groupWas === undefined ? show(now) : `${show(now)} (target group ${field} ${groupNow})`,
        was: groupWas === undefined ? show(annotationWas) : `${show(annotationWas)} (target group ${field} ${groupWas})`,
      };
    },
    async restore(t, o, signal) {
      if (!t.ingress) return [];
      await t.k8s.setIngressAnnotations(t.namespace, t.ingress, { [annotation]: (was(o) as string | null | undefined) ?? null });
      const groupWas = recordedEffective(o);
      // The controller applies the annotation in its own time; restore's read-back reports it when it did not.
      if (groupWas !== undefined) await pollUntil(t.clock, CONTROLLER_APPLY_MS, signal, async () => (await effective(t)) === groupWas);
      return [`ingress ${t.namespace}/${t.ingress}: ${annotation} restored`];
    },
  };
}

const ALB = 'alb.ingress.kubernetes.io/';

/** The target-group attributes, in the order the annotation lists them. */
const TG_ATTRIBUTE_ENTRIES: TgAttributeEntry[] = [
  tgAttribute({ key: 'deregistrationDelay', axis: 'deregistrationDelaySeconds', attribute: DELAY_KEY, fallback: '300' }),
  // ELB user guide, "Edit target group attributes": slow start off (0) and round robin by default.
  tgAttribute({ key: 'slowStartSeconds', axis: 'slowStartSeconds', attribute: 'slow_start.duration_seconds', fallback: '0', optional: 'slowStartSeconds' }),
  tgAttribute({ key: 'loadBalancingAlgorithm', axis: 'loadBalancingAlgorithm', attribute: 'load_balancing.algorithm.type', fallback: 'round_robin', optional: 'loadBalancingAlgorithm' }),
];

/**
 * Every setting, walked in this order by configure, restore and read-back: the Deployment's, the
 * namespace's, the Ingress's annotations before the target-group attributes the controller applies
 * from them, and the access logs last.
 */
export const SETTINGS: readonly SettingEntry[] = [
  {
    key: 'preStop',
    object: 'deployment',
    rollout: true,
    axes: ['preStopSeconds', 'preStopAction'],
    name: (t) => `${deploymentName(t)}: preStop`,
    wants: (config, spec) => preStopFor(config.preStopSeconds, spec.configure.preStop, config.preStopAction),
    describe: (want) => `preStop=${want ? JSON.stringify(want) : 'none'}`,
    read: async (t) => container(await getDeployment(t)).lifecycle?.preStop ?? null,
    was: (o) => o.preStop,
    // `$patch: replace`: an exec handler must not merge with a sleep one (a handler has exactly one action).
    patch: (want, o) => ({ spec: { template: { spec: { containers: [{ name: o.container, lifecycle: { preStop: replacing(want) } }] } } } }),
    async state(t, o, values) {
      const c = container(await getDeployment(t));
      const preStop = c.lifecycle?.preStop ?? null;
      // The whole lifecycle, so that restore leaves no empty object behind.
      const atOriginal = (o.lifecycle === undefined || same(c.lifecycle, o.lifecycle)) && same(preStop, o.preStop);
      return { atOriginal, ours: among(preStop, values.preStop), now: show(preStop), was: show(o.preStop) };
    },
    async restore(t, o) {
      const lifecycle = o.lifecycle === null ? null : { ...(o.lifecycle as object | undefined), preStop: replacing(o.preStop) };
      await t.k8s.patchDeployment(t.namespace, t.deployment, { spec: { template: { spec: { containers: [{ name: o.container, lifecycle }] } } } });
      return [`${deploymentName(t)}: preStop restored`];
    },
  },
  {
    key: 'grace',
    object: 'deployment',
    rollout: true,
    axes: ['terminationGracePeriodSeconds'],
    name: (t) => `${deploymentName(t)}: terminationGracePeriodSeconds`,
    wants: (config) => config.terminationGracePeriodSeconds,
    describe: (want) => `terminationGracePeriodSeconds=${show(want)}`,
    read: async (t) => (await getDeployment(t)).spec?.template?.spec?.terminationGracePeriodSeconds ?? null,
    was: (o) => o.terminationGracePeriodSeconds,
    patch: (want) => ({ spec: { template: { spec: { terminationGracePeriodSeconds: want } } } }),
    async restore(t, o) {
      await t.k8s.patchDeployment(t.namespace, t.deployment, { spec: { template: { spec: { terminationGracePeriodSeconds: o.terminationGracePeriodSeconds } } } });
      return [`${deploymentName(t)}: terminationGracePeriodSeconds restored`];
    },
  },
  deploymentField('maxSurge', ['strategy', 'rollingUpdate', 'maxSurge']),
  deploymentField('maxUnavailable', ['strategy', 'rollingUpdate', 'maxUnavailable']),
  deploymentField('minReadySeconds', ['minReadySeconds']),
  deploymentField('replicas', ['replicas']),
  {
    key: 'gateLabel',
    object: 'namespace',
    // The webhook injects gates at pod creation: new pods are needed.
    rollout: true,
    axes: ['readinessGate'],
    name: (t) => `namespace ${t.namespace}: ${GATE_LABEL}`,
    wants: (config) => (config.readinessGate ? 'enabled' : null),
    describe: (want, t) => `namespace ${t.namespace}: label ${GATE_LABEL}=${want ?? '(removed)'}`,
    read: async (t) => (await t.k8s.getNamespace(t.namespace)).metadata?.labels?.[GATE_LABEL] ?? null,
    was: (o) => o.gateLabel,
    async apply(t, config) {
      const want = config.readinessGate ? 'enabled' : null;
      if (((await t.k8s.getNamespace(t.namespace)).metadata?.labels?.[GATE_LABEL] ?? null) === want) return undefined;
      await t.k8s.setNamespaceLabels(t.namespace, { [GATE_LABEL]: want });
      return `namespace ${t.namespace}: ${GATE_LABEL}=${want ?? '(removed)'}`;
    },
    async restore(t, o) {
      await t.k8s.setNamespaceLabels(t.namespace, { [GATE_LABEL]: o.gateLabel });
      return [`namespace ${t.namespace}: ${GATE_LABEL} restored`];
    },
  },
  // The controller's annotations (aws-load-balancer-controller, "Ingress annotations": health check).
  healthCheckAnnotation('healthCheckIntervalSeconds', `${ALB}healthcheck-interval-seconds`, 'intervalSeconds'),
  healthCheckAnnotation('healthCheckTimeoutSeconds', `${ALB}healthcheck-timeout-seconds`, 'timeoutSeconds'),
  healthCheckAnnotation('healthyThresholdCount', `${ALB}healthy-threshold-count`, 'healthyThresholdCount'),
  healthCheckAnnotation('unhealthyThresholdCount', `${ALB}unhealthy-threshold-count`, 'unhealthyThresholdCount'),
  healthCheckAnnotation('healthCheckPath', `${ALB}healthcheck-path`, 'path'),
  {
    key: 'ingressAttributes',
    object: 'ingress',
    rollout: false,
    axes: ['deregistrationDelaySeconds', 'slowStartSeconds', 'loadBalancingAlgorithm'],
    name: (t) => `ingress ${t.namespace}/${t.ingress}: ${TG_ATTRIBUTES_ANNOTATION}`,
    wants: (config, _spec, o) => (o.delayVia === 'ingress' && o.ingressAttributes !== undefined ? withAttributes(o.ingressAttributes, targetGroupAttributesOf(config)) : undefined),
    // `plan` shows each attribute on its own entry.
    describe: () => '',
    read: async (t, o) => (o.ingressAttributes === undefined ? undefined : annotationOf(t, TG_ATTRIBUTES_ANNOTATION)),
    was: (o) => o.ingressAttributes,
    async apply(t, config) {
      if (t.delayVia !== 'ingress' || !t.ingress) return undefined;
      const current = await annotationOf(t, TG_ATTRIBUTES_ANNOTATION);
      const attributes = targetGroupAttributesOf(config);
      const next = withAttributes(current, attributes);
      if (next === current) return undefined;
      await t.k8s.setIngressAnnotations(t.namespace, t.ingress, { [TG_ATTRIBUTES_ANNOTATION]: next });
      return `ingress ${t.namespace}/${t.ingress}: ${TG_ATTRIBUTES_ANNOTATION} with ${Object.entries(attributes).map(([k, v]) => `${k}=${v}`).join(',')}`;
    },
    async restore(t, o) {
      await t.k8s.setIngressAnnotations(t.namespace, t.ingress!, { [TG_ATTRIBUTES_ANNOTATION]: o.ingressAttributes ?? null });
      return [`ingress ${t.namespace}/${t.ingress}: ${TG_ATTRIBUTES_ANNOTATION} restored`];
    },
  },
  ...TG_ATTRIBUTE_ENTRIES,
  {
    key: 'accessLogs',
    object: 'loadBalancer',
    rollout: false,
    axes: [],
    name: () => 'access logs',
    wants: (_config, spec, o) => (spec.explain.enableAccessLogs && o.accessLogs ? { attributes: accessLogAttributes(spec.explain.enableAccessLogs), annotation: withAttributes(o.accessLogs.annotation, accessLogAttributes(spec.explain.enableAccessLogs)) } : undefined),
    // Enabled once for the run (before the first cell), not per cell: `plan` says so separately.
    describe: () => '',
    read: async (t, o) => (o.accessLogs && t.ingress ? readAccessLogs(t, o.accessLogs) : undefined),
    was: (o) => (o.accessLogs ? { attributes: o.accessLogs.attributes, annotation: o.accessLogs.annotation } : undefined),
    restore: (t, o, signal) => (o.accessLogs ? restoreAccessLogs(t, o.accessLogs, signal) : Promise.resolve([])),
  },
];

/** The entry's state against the originals and the run's values (undefined: the run does not touch it here). */
export async function stateOf(entry: SettingEntry, t: SettingTarget, o: OriginalSettings, values: RunValues): Promise<SettingState | undefined> {
  if (entry.state) return entry.state(t, o, values);
  const was = entry.was(o);
  if (was === undefined) return undefined;
  const now = await entry.read(t, o);
  if (now === undefined) return undefined;
  return { atOriginal: same(now, was), ours: among(now, values[entry.key]), now: show(now), was: show(was) };
}

/** Reads the settings the run may change: the built-in ones always, each optional axis when the spec sets it. */
export async function snapshotSettings(t: SettingTarget, spec?: Spec): Promise<OriginalSettings> {
  const d = await getDeployment(t);
  const ns = await t.k8s.getNamespace(t.namespace);
  const c = container(d);
  // The Ingress and target group of the cell's path: the gateway's under a gateway with the app disrupted.
  const alb = t.albSide ?? t;
  const original: OriginalSettings = {
    container: c.name,
    preStop: c.lifecycle?.preStop ?? null,
    lifecycle: c.lifecycle ?? null,
    terminationGracePeriodSeconds: d.spec?.template?.spec?.terminationGracePeriodSeconds ?? null,
    gateLabel: ns.metadata?.labels?.[GATE_LABEL] ?? null,
    delayVia: t.delayVia,
    deregistrationDelaySeconds: (await t.elbv2.getAttributes(alb.targetGroupArn))[DELAY_KEY] ?? '300',
    changes: [],
  };
  if (alb.ingress) original.ingressAttributes = (await t.k8s.getIngress(alb.namespace, alb.ingress)).metadata?.annotations?.[TG_ATTRIBUTES_ANNOTATION] ?? null;
  const axes = spec ? optionalAxesOf(spec.matrix) : [];
  if (axes.length) {
    // Axes without an entry of their own (preStopAction) are recorded by the entry they shape.
    const own = axes.flatMap((axis) => SETTINGS.filter((e) => e.key === axis).map((entry) => ({ axis, entry })));
    original.axes = {};
    // `read` answers only for recorded axes: mark each as recorded (null), then read it.
    for (const { axis } of own) original.axes[axis] = null;
    for (const { axis, entry } of own) original.axes[axis] = ((await entry.read(sideOf(entry, t), original)) ?? null) as string | number | null;
  }
  // The target group's own health check, read back by restore beside the annotations that set it.
  if (SETTINGS.some((e) => e.effective && original.axes?.[e.key as OptionalAxis] !== undefined)) original.targetGroupHealthCheck = await t.elbv2.getHealthCheck(alb.targetGroupArn);
  const generic = spec ? await snapshotGeneric(t, spec) : undefined;
  if (generic) original.generic = generic;
  return original;
}

/** What `plan` prints for a config: each change, without touching anything. */
export function describeConfig(config: CellConfig, spec: Spec, t: { namespace: string; deployment: string; ingress?: string; albSide?: { namespace: string; deployment: string; ingress?: string } }): string[] {
  const alb = t.albSide ? { ...t.albSide, delayVia: delayChannel(spec, t.albSide.ingress) } : undefined;
  const target: PlanTarget = { namespace: t.namespace, deployment: t.deployment, ...(t.ingress ? { ingress: t.ingress } : {}), delayVia: alb?.delayVia ?? delayChannel(spec, t.ingress), ...(alb ? { albSide: alb } : {}) };
  const entries = settingsOf(spec);
  // `wants` of the annotation entries needs originals plan does not have: describe from the config alone.
  const o = { delayVia: target.delayVia } as OriginalSettings;
  const lines: string[] = [];
  const deployment: string[] = [];
  for (const entry of entries) {
    // A generic axis's full value needs the originals: plan shows the value's own patch.
    const choice = entry.key.startsWith('axes.') ? config.axes?.[entry.key.slice('axes.'.length)] : undefined;
    const want = choice !== undefined ? spec.axes[entry.key.slice('axes.'.length)].values[choice] : entry.wants(config, spec, o);
    if (want === undefined) continue;
    const line = entry.describe(want, sideOf(entry, target));
    if (!line) continue;
    if (entry.object === 'deployment' && !entry.key.startsWith('axes.')) deployment.push(line);
    else lines.push(line);
  }
  const rollout = entries.some((e) => e.rollout && (e.key.startsWith('axes.') || e.wants(config, spec, o) !== undefined));
  return [
    `${deploymentName(t)}: ${deployment.join(', ')}`,
    ...lines,
    ...(rollout ? ['roll out so every pod carries these settings, then wait until every target is healthy'] : []),
  ];
}

/** The registry for a spec: the built-in entries, then one per generic axis (`axes:`). */
export function settingsOf(spec: Pick<Spec, 'axes'> | undefined): readonly SettingEntry[] {
  const generic = genericEntries(spec);
  return generic.length ? [...SETTINGS, ...generic] : SETTINGS;
}
