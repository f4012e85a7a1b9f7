/**
 * A stand-in cluster for settings tests: one namespace, Deployment, Ingress, target group and two
 * nodes behind in-memory ports; the Deployment patched with the twin API server's strategic merge.
 */
import { parseAttributeList } from '../../harness/core/attributes.ts';
import { ManualClock } from '../../harness/core/clock.ts';
import { TG_ATTRIBUTES_ANNOTATION } from '../../harness/settings/registry.ts';
import type { DelayChannel } from '../../harness/settings/types.ts';
import type { Target } from '../../harness/orchestrator/target.ts';
import type { Elbv2Port, KObject, KubernetesPort, ObjectRef, TargetGroupHealthCheck } from '../../harness/platform/ports.ts';
import { applyStrategicMergePatch } from '../../harness/twin/kube/patch.ts';

/** The target-group attribute of the deregistration delay. */
export const DELAY = 'deregistration_delay.timeout_seconds';

/** A cluster of one namespace, Deployment, Ingress, target group and two nodes; `controller` applies the annotation to the group as the LBC does. */
export function world(opts: { via: DelayChannel; annotation?: string; controller?: boolean; stuckDelay?: boolean; stuckDeployment?: boolean; stuckLabel?: boolean; stuckHealthCheck?: boolean; pdbs?: KObject[] }) {
  const ns: KObject = { metadata: { name: 'shop', labels: {}, annotations: {} } };
  const dep: KObject = { metadata: { name: 'web', namespace: 'shop', annotations: {} }, spec: { template: { metadata: { labels: { app: 'web' } }, spec: { terminationGracePeriodSeconds: 30, containers: [{ name: 'app' }] } } } };
  // The namespace's PodDisruptionBudgets (default: one selecting the Deployment's pods).
  const pdbs = new Map<string, KObject>((opts.pdbs ?? [{ metadata: { name: 'web', namespace: 'shop' }, spec: { maxUnavailable: 1, selector: { matchLabels: { app: 'web' } } } }]).map((p) => [p.metadata!.name!, p]));
  const ing: KObject = { metadata: { name: 'web', namespace: 'shop', annotations: opts.annotation ? { [TG_ATTRIBUTES_ANNOTATION]: opts.annotation } : {} } };
  const nodes = new Map<string, KObject>(['node-a1', 'node-b1'].map((n) => [n, { metadata: { name: n, annotations: {} }, spec: {} }]));
  const attributes: Record<string, string> = { [DELAY]: '300' };
  // The target group's own health check: the controller's defaults overlaid with the Ingress's annotations.
  const HC_DEFAULTS: TargetGroupHealthCheck = { intervalSeconds: 15, timeoutSeconds: 5, healthyThresholdCount: 2, unhealthyThresholdCount: 2, path: '/' };
  const healthCheck: TargetGroupHealthCheck = { ...HC_DEFAULTS };
  const HC_ANNOTATIONS: Record<string, keyof TargetGroupHealthCheck> = {
    'healthcheck-interval-seconds': 'intervalSeconds',
    'healthcheck-timeout-seconds': 'timeoutSeconds',
    'healthy-threshold-count': 'healthyThresholdCount',
    'unhealthy-threshold-count': 'unhealthyThresholdCount',
    'healthcheck-path': 'path',
  };
  const set = (o: KObject, field: 'labels' | 'annotations', values: Record<string, string | null>) => {
    const into = (o.metadata![field] ??= {});
    for (const [k, v] of Object.entries(values)) {
      if (v === null) delete into[k];
      else into[k] = v;
    }
    return o;
  };
  const objectOf = (ref: ObjectRef) => (ref.kind === 'Namespace' ? ns : ref.kind === 'Deployment' ? dep : ref.kind === 'Ingress' ? ing : nodes.get(ref.name)!);
  const k8s = {
    context: 'test',
    getDeployment: async () => structuredClone(dep),
    // The twin API server's strategic merge (containers by name, `$patch` directives, null removes).
    patchDeployment: async (_ns: string, _n: string, patch: unknown) => {
      if (opts.stuckDeployment) return dep;
      const merged = applyStrategicMergePatch(dep, patch);
      if (!merged.ok) throw new Error(`patch rejected (${merged.code}): ${merged.message}`);
      Object.assign(dep, merged.value);
      return dep;
    },
    getNamespace: async () => structuredClone(ns),
    listPodDisruptionBudgets: async () => [...pdbs.values()].map((p) => structuredClone(p)),
    getPodDisruptionBudget: async (_ns: string, name: string) => {
      const p = pdbs.get(name);
      if (!p) throw new Error(`poddisruptionbudgets "${name}" not found`);
      return structuredClone(p);
    },
    patchPodDisruptionBudget: async (_ns: string, name: string, patch: unknown) => {
      const merged = applyStrategicMergePatch(pdbs.get(name), patch);
      if (!merged.ok) throw new Error(`patch rejected (${merged.code}): ${merged.message}`);
      pdbs.set(name, merged.value as KObject);
      return structuredClone(merged.value as KObject);
    },
    setNamespaceLabels: async (_n: string, labels: Record<string, string | null>) => (opts.stuckLabel ? ns : set(ns, 'labels', labels)),
    getIngress: async () => structuredClone(ing),
    setIngressAnnotations: async (_ns: string, _n: string, a: Record<string, string | null>) => {
      set(ing, 'annotations', a);
      // As the controller: the attributes the annotation names are applied; those it stops naming stay.
      if (opts.controller) for (const [k, v] of parseAttributeList(ing.metadata?.annotations?.[TG_ATTRIBUTES_ANNOTATION])) attributes[k] = v;
      // As the controller, unless stuck: the health check is its defaults with the annotations laid over.
      if (opts.controller && !opts.stuckHealthCheck) {
        for (const [suffix, field] of Object.entries(HC_ANNOTATIONS)) {
          const v = ing.metadata?.annotations?.[`alb.ingress.kubernetes.io/${suffix}`];
          Object.assign(healthCheck, { [field]: v === undefined ? HC_DEFAULTS[field] : field === 'path' ? v : Number(v) });
        }
      }
      return ing;
    },
    listNodes: async () => [...nodes.values()].map((n) => structuredClone(n)),
    getNode: async (name: string) => structuredClone(nodes.get(name)!),
    setNodeUnschedulable: async (name: string, u: boolean) => {
      nodes.get(name)!.spec.unschedulable = u || undefined;
      return nodes.get(name)!;
    },
    setNodeTaint: async (name: string, key: string, taint: object | null) => {
      const n = nodes.get(name)!;
      n.spec.taints = [...(n.spec.taints ?? []).filter((t: { key: string }) => t.key !== key), ...(taint ? [{ key, ...taint }] : [])];
      if (!n.spec.taints.length) delete n.spec.taints;
      return n;
    },
    annotate: async (ref: ObjectRef, a: Record<string, string | null>) => set(objectOf(ref), 'annotations', a),
  } as unknown as KubernetesPort;
  const elbv2 = {
    getAttributes: async () => ({ ...attributes }),
    getHealthCheck: async () => ({ ...healthCheck }),
    modifyAttributes: async (_arn: string, a: Record<string, string>) => {
      if (!opts.stuckDelay) Object.assign(attributes, a);
      return { ...attributes };
    },
  } as unknown as Elbv2Port;
  const target = { k8s, elbv2, clock: new ManualClock(), namespace: 'shop', deployment: 'web', ingress: 'web', targetGroupArn: 'arn:tg', delayVia: opts.via } as unknown as Target;
  return { target, ns, dep, ing, nodes, attributes, healthCheck, pdbs };
}

