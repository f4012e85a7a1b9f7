/**
 * The settings a cell changes — on the Deployment, the namespace, the Ingress or the target group —
 * recorded before the first change, applied per cell, verified through the APIs, and restored at
 * the end (or on abort) from the record.
 */
import { parseAttributeList } from '../core/attributes.ts';
import type { Target } from './target.ts';
import type { CellConfig, Spec } from '../spec/schema.ts';
import type { ClusterChange } from '../disruptions/types.ts';
import { pollUntil, rolloutComplete } from '../disruptions/wait.ts';
import { RESTARTED_AT } from '../disruptions/rollout.ts';
import type { KObject } from '../platform/ports.ts';

/** The namespace label that turns on readiness-gate injection. */
export const GATE_LABEL = 'elbv2.k8s.aws/pod-readiness-gate-inject';
/** The Ingress annotation holding target-group attributes. */
export const TG_ATTRIBUTES_ANNOTATION = 'alb.ingress.kubernetes.io/target-group-attributes';
const DELAY_KEY = 'deregistration_delay.timeout_seconds';

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
  /** The target group's delay (when set through the API). */
  deregistrationDelaySeconds?: string;
  /** Changes disruptions made (cordons, taints). */
  changes: ClusterChange[];
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
    changes: [],
  };
  if (t.ingress) original.ingressAttributes = (await t.k8s.getIngress(t.namespace, t.ingress)).metadata?.annotations?.[TG_ATTRIBUTES_ANNOTATION] ?? null;
  else original.deregistrationDelaySeconds = (await t.elbv2.getAttributes(t.targetGroupArn))[DELAY_KEY];
  return original;
}

/** The preStop a cell asks for (null = none). */
export function preStopFor(seconds: number, style: Spec['configure']['preStop']): unknown {
  if (seconds <= 0) return null;
  return style === 'native' ? { sleep: { seconds } } : { exec: { command: ['sleep', String(seconds)] } };
}

/** What `plan` prints for a config: each change, without touching anything. */
export function describeConfig(config: CellConfig, spec: Spec, t: { namespace: string; deployment: string; ingress?: string }): string[] {
  const preStop = preStopFor(config.preStopSeconds, spec.configure.preStop);
  return [
    `deployment ${t.namespace}/${t.deployment}: terminationGracePeriodSeconds=${config.terminationGracePeriodSeconds}, preStop=${preStop ? JSON.stringify(preStop) : 'none'}`,
    `namespace ${t.namespace}: label ${GATE_LABEL}=${config.readinessGate ? 'enabled' : '(removed)'}`,
    spec.configure.deregistrationDelayVia === 'ingress' && t.ingress
      ? `ingress ${t.namespace}/${t.ingress}: annotation ${TG_ATTRIBUTES_ANNOTATION} with ${DELAY_KEY}=${config.deregistrationDelaySeconds}`
      : `target group: ModifyTargetGroupAttributes ${DELAY_KEY}=${config.deregistrationDelaySeconds}`,
    'roll out so every pod carries these settings, then wait until every target is healthy',
  ];
}

/** Sets the delay through the Ingress annotation or the ELBv2 API. */
async function setDelay(t: Target, spec: Spec, seconds: number): Promise<void> {
  if (spec.configure.deregistrationDelayVia === 'ingress' && t.ingress) {
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
  await setDelay(t, spec, config.deregistrationDelaySeconds);
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

/** Puts back every original setting and undoes cordons and taints; returns what it did. */
export async function restoreSettings(t: Target, spec: Spec, original: OriginalSettings, log: (line: string) => void): Promise<string[]> {
  const done: string[] = [];
  const d = await t.k8s.getDeployment(t.namespace, t.deployment);
  const c = container(d);
  const lifecycleChanged = original.lifecycle !== undefined && JSON.stringify(c.lifecycle ?? null) !== JSON.stringify(original.lifecycle);
  if (lifecycleChanged || JSON.stringify(c.lifecycle?.preStop ?? null) !== JSON.stringify(original.preStop) || (d.spec?.template?.spec?.terminationGracePeriodSeconds ?? null) !== original.terminationGracePeriodSeconds) {
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
  if (original.deregistrationDelaySeconds !== undefined && spec.configure.deregistrationDelayVia === 'api') {
    await t.elbv2.modifyAttributes(t.targetGroupArn, { [DELAY_KEY]: original.deregistrationDelaySeconds });
    done.push(`target group: ${DELAY_KEY} restored`);
  }
  done.push(...(await undoClusterChanges(t, original.changes)));
  for (const line of done) log(line);
  return done;
}

/** Uncordons and untaints what disruptions changed (nodes that are gone are skipped); empties the list. */
export async function undoClusterChanges(t: Target, changes: ClusterChange[]): Promise<string[]> {
  const done: string[] = [];
  const nodes = new Set((await t.k8s.listNodes()).map((n) => n.metadata?.name));
  for (const change of changes.splice(0)) {
    if (!nodes.has(change.node)) continue; // the instance is gone (spot): nothing to undo
    if (change.kind === 'cordon') await t.k8s.setNodeUnschedulable(change.node, false);
    else await t.k8s.setNodeTaint(change.node, change.key, null);
    done.push(`node ${change.node}: ${change.kind === 'cordon' ? 'uncordoned' : `taint ${change.key} removed`}`);
  }
  return done;
}
