/**
 * The AWS Load Balancer Controller's pod readiness-gate webhook, as a store admission step on
 * pod creation: in a namespace labelled `elbv2.k8s.aws/pod-readiness-gate-inject=enabled`, a
 * pod selected by the Service of a TargetGroupBinding (IP targets) gets the readiness gate
 * `target-health.elbv2.k8s.aws/<binding name>`. Only at creation, as the real webhook: turning
 * the label on or off affects new pods only.
 */
import type { ObjectStore } from '../kube/store.ts';
import type { KubeObject } from '../kube/types.ts';
import type { Controller, Log } from './util.ts';

/** The namespace label that turns injection on (value `enabled`); a pod labelled `disabled` opts out. */
export const READINESS_GATE_INJECT_LABEL = 'elbv2.k8s.aws/pod-readiness-gate-inject';
/** Prefix of the condition type of each injected gate. */
export const TARGET_HEALTH_CONDITION_PREFIX = 'target-health.elbv2.k8s.aws';

/** The gate condition type for a TargetGroupBinding. */
export function gateConditionType(bindingName: string): string {
  return `${TARGET_HEALTH_CONDITION_PREFIX}/${bindingName}`;
}

/**
 * The gate condition types a new pod should carry, in binding-name order (computeTargetHealthReadinessGates):
 * one per IP-target TargetGroupBinding of the namespace whose Service selects the pod.
 */
export function readinessGatesFor(store: ObjectStore, pod: KubeObject): string[] {
  const ns = pod.metadata.namespace;
  const namespace = ns ? store.get('namespaces', undefined, ns) : undefined;
  if (namespace?.metadata.labels?.[READINESS_GATE_INJECT_LABEL] !== 'enabled') return [];
  if (pod.metadata.labels?.[READINESS_GATE_INJECT_LABEL] === 'disabled') return [];
  const gates: string[] = [];
  for (const binding of store.list('targetgroupbindings', { namespace: ns }).items) {
    // The twin's bindings are IP targets unless they say otherwise; instance targets get no gate.
    if (binding.spec?.targetType && binding.spec.targetType !== 'ip') continue;
    const serviceName = binding.spec?.serviceRef?.name;
    const service = serviceName ? store.get('services', ns, serviceName) : undefined;
    const selector = (service?.spec?.selector ?? {}) as Record<string, string>;
    // An empty Service selector selects nothing (labels.Nothing()).
    if (Object.keys(selector).length === 0) continue;
    if (Object.entries(selector).every(([k, v]) => pod.metadata.labels?.[k] === v)) gates.push(gateConditionType(binding.metadata.name));
  }
  return gates;
}

/** Installs the webhook on `store`; `stop()` turns it off (the admission step stays, inert). */
export function startReadinessGateWebhook(deps: { store: ObjectStore; log?: Log }): Controller {
  const { store } = deps;
  let active = true;
  store.addAdmission('pods', (pod) => {
    if (!active) return;
    const gates = readinessGatesFor(store, pod);
    if (gates.length === 0) return;
    pod.spec ??= {};
    const existing = (pod.spec.readinessGates ?? []) as Array<{ conditionType: string }>;
    const missing = gates.filter((type) => !existing.some((g) => g.conditionType === type));
    if (missing.length === 0) return;
    pod.spec.readinessGates = [...existing, ...missing.map((conditionType) => ({ conditionType }))];
    deps.log?.(`pod-readiness-gate-injector: ${pod.metadata.namespace}/${pod.metadata.name || pod.metadata.generateName}: added ${missing.join(', ')}`);
  });
  return {
    stop() {
      active = false;
    },
  };
}
