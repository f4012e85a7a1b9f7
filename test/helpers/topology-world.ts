/**
 * A stand-in cluster with both paths of `target.topology`: the app (shop/web, its Ingress `web` and
 * target group) and a gateway (ingress-nginx/ingress-nginx-controller, at 0 replicas with the
 * replicas-when-used annotation, its Ingress `gateway` and target group), behind in-memory ports.
 * Deployments are patched with the twin API server's strategic merge; the controller applies an
 * Ingress's target-group attributes to its own group.
 */
import { parseAttributeList } from '../../harness/core/attributes.ts';
import { ManualClock } from '../../harness/core/clock.ts';
import type { Target, TargetTopology } from '../../harness/orchestrator/target.ts';
import { REPLICAS_WHEN_USED } from '../../harness/orchestrator/topology.ts';
import type { Elbv2Port, KObject, KubernetesPort, ObjectRef } from '../../harness/platform/ports.ts';
import { TG_ATTRIBUTES_ANNOTATION } from '../../harness/settings/registry.ts';
import { applyStrategicMergePatch } from '../../harness/twin/kube/patch.ts';

/** The target-group attribute of the deregistration delay. */
export const DELAY = 'deregistration_delay.timeout_seconds';

const deployment = (namespace: string, name: string, labels: Record<string, string>, extra: { replicas: number; annotations?: Record<string, string>; container: string }): KObject => ({
  metadata: { name, namespace, annotations: { ...extra.annotations } },
  spec: { replicas: extra.replicas, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { terminationGracePeriodSeconds: 30, containers: [{ name: extra.container }] } } },
  status: { observedGeneration: 0, replicas: extra.replicas, updatedReplicas: extra.replicas, availableReplicas: extra.replicas },
});

/** Both paths' objects; `disrupt` names the Deployment the gateway cells hit. */
export function topologyWorld(opts: { disrupt?: 'app' | 'gateway'; paths?: Array<'direct' | 'gateway'> } = {}) {
  const namespaces = new Map<string, KObject>(['shop', 'ingress-nginx'].map((n) => [n, { metadata: { name: n, labels: { 'rollout-harness.io/allowed': 'true' }, annotations: {} } }]));
  const deployments = new Map<string, KObject>([
    ['shop/web', deployment('shop', 'web', { app: 'web' }, { replicas: 3, container: 'app' })],
    ['ingress-nginx/ingress-nginx-controller', deployment('ingress-nginx', 'ingress-nginx-controller', { 'app.kubernetes.io/name': 'ingress-nginx' }, { replicas: 0, annotations: { [REPLICAS_WHEN_USED]: '2' }, container: 'controller' })],
  ]);
  const ingresses = new Map<string, KObject>(['shop/web', 'ingress-nginx/gateway'].map((k) => [k, { metadata: { namespace: k.split('/')[0], name: k.split('/')[1], annotations: {} } }]));
  const groups: Record<string, Record<string, string>> = { 'arn:tg/web': { [DELAY]: '300' }, 'arn:tg/gateway': { [DELAY]: '300' } };
  const groupOf: Record<string, string> = { 'shop/web': 'arn:tg/web', 'ingress-nginx/gateway': 'arn:tg/gateway' };
  const nodes = new Map<string, KObject>(['node-a1', 'node-b1'].map((n) => [n, { metadata: { name: n, annotations: {}, labels: {} }, spec: {}, status: { conditions: [{ type: 'Ready', status: 'True' }] } }]));
  const key = (ns: string | undefined, name: string) => `${ns}/${name}`;
  const need = <T>(m: Map<string, T>, k: string, what: string): T => {
    const v = m.get(k);
    if (!v) throw new Error(`${what} "${k}" not found`);
    return v;
  };
  const set = (o: KObject, field: 'labels' | 'annotations', values: Record<string, string | null>) => {
    const into = (o.metadata![field] ??= {});
    for (const [k, v] of Object.entries(values)) {
      if (v === null) delete into[k];
      else into[k] = v;
    }
    return structuredClone(o);
  };
  const objectOf = (ref: ObjectRef) =>
    ref.kind === 'Namespace' ? need(namespaces, ref.name, 'namespace') : ref.kind === 'Deployment' ? need(deployments, key(ref.namespace, ref.name), 'deployment') : ref.kind === 'Ingress' ? need(ingresses, key(ref.namespace, ref.name), 'ingress') : need(nodes, ref.name, 'node');
  // Every write, in order: which object and what.
  const writes: string[] = [];
  const k8s = {
    context: 'test',
    getDeployment: async (ns: string, name: string) => structuredClone(need(deployments, key(ns, name), 'deployment')),
    patchDeployment: async (ns: string, name: string, patch: unknown) => {
      const d = need(deployments, key(ns, name), 'deployment');
      const merged = applyStrategicMergePatch(d, patch);
      if (!merged.ok) throw new Error(`patch rejected (${merged.code}): ${merged.message}`);
      Object.assign(d, merged.value);
      // Rolled out at once: the stand-in's status follows the spec.
      const n = d.spec.replicas ?? 1;
      d.status = { observedGeneration: 0, replicas: n, updatedReplicas: n, availableReplicas: n };
      writes.push(`deployment ${ns}/${name} ${JSON.stringify(patch)}`);
      return structuredClone(d);
    },
    getNamespace: async (name: string) => structuredClone(need(namespaces, name, 'namespace')),
    setNamespaceLabels: async (name: string, labels: Record<string, string | null>) => {
      writes.push(`namespace ${name} labels ${JSON.stringify(labels)}`);
      return set(need(namespaces, name, 'namespace'), 'labels', labels);
    },
    getIngress: async (ns: string, name: string) => structuredClone(need(ingresses, key(ns, name), 'ingress')),
    listEvents: async () => [],
    setIngressAnnotations: async (ns: string, name: string, a: Record<string, string | null>) => {
      const ing = need(ingresses, key(ns, name), 'ingress');
      const out = set(ing, 'annotations', a);
      writes.push(`ingress ${ns}/${name} ${JSON.stringify(a)}`);
      // As the controller: the attributes the annotation names are applied to this Ingress's own group.
      for (const [k, v] of parseAttributeList(ing.metadata?.annotations?.[TG_ATTRIBUTES_ANNOTATION])) groups[groupOf[key(ns, name)]][k] = v;
      return out;
    },
    // Every pod Ready and Running; the gateway's as many as its replicas.
    listPods: async (ns: string) =>
      [...deployments.values()]
        .filter((d) => d.metadata?.namespace === ns)
        .flatMap((d) => Array.from({ length: d.spec.replicas ?? 1 }, (_, i) => ({ metadata: { name: `${d.metadata?.name}-${i}`, namespace: ns, labels: d.spec.template.metadata.labels }, spec: structuredClone(d.spec.template.spec) }))),
    listNodes: async () => [...nodes.values()].map((n) => structuredClone(n)),
    getNode: async (name: string) => structuredClone(need(nodes, name, 'node')),
    annotate: async (ref: ObjectRef, a: Record<string, string | null>) => {
      writes.push(`annotate ${ref.kind} ${ref.namespace ? `${ref.namespace}/` : ''}${ref.name} ${JSON.stringify(a)}`);
      return set(objectOf(ref), 'annotations', a);
    },
  } as unknown as KubernetesPort;
  const elbv2 = {
    getAttributes: async (arn: string) => ({ ...groups[arn] }),
    modifyAttributes: async (arn: string, a: Record<string, string>) => Object.assign(groups[arn], a),
    // The gateway's group has a healthy target per gateway pod; the app's one per app pod.
    describeTargetHealth: async (arn: string) => {
      const d = deployments.get(arn === 'arn:tg/gateway' ? 'ingress-nginx/ingress-nginx-controller' : 'shop/web')!;
      return Array.from({ length: d.spec.replicas ?? 1 }, (_, i) => ({ id: `127.0.${arn === 'arn:tg/gateway' ? 2 : 1}.${i + 1}`, port: 80, state: 'healthy' }));
    },
  } as unknown as Elbv2Port;
  const paths = opts.paths ?? ['direct', 'gateway'];
  const path = (ns: string, ingress: string) => ({ namespace: ns, ingress, bindingName: `k8s-${ingress}`, targetGroupArn: groupOf[key(ns, ingress)], delayVia: 'ingress' as const, url: `http://127.0.0.1:${ingress === 'web' ? 8001 : 8002}`, urlSource: 'the listener' });
  const topology: TargetTopology = {
    app: { namespace: 'shop', deployment: 'web', labelSelector: 'app=web' },
    ...(paths.includes('direct') ? { direct: path('shop', 'web') } : {}),
    ...(paths.includes('gateway') ? { gateway: { ...path('ingress-nginx', 'gateway'), hostHeader: 'shop.example', gateway: { namespace: 'ingress-nginx', deployment: 'ingress-nginx-controller', labelSelector: 'app.kubernetes.io/name=ingress-nginx' }, disrupt: opts.disrupt ?? 'app' } } : {}),
  };
  const first = topology.direct ?? topology.gateway!;
  const target = {
    kind: 'cluster',
    k8s,
    elbv2,
    clock: new ManualClock(),
    topology,
    namespace: 'shop',
    deployment: 'web',
    labelSelector: 'app=web',
    ingress: first.ingress,
    bindingName: first.bindingName,
    targetGroupArn: first.targetGroupArn,
    delayVia: 'ingress',
    url: first.url,
    urlSource: first.urlSource,
    region: 'us-east-1',
    regionSource: 'test',
    close: async () => {},
  } as unknown as Target;
  return { target, k8s, namespaces, deployments, ingresses, groups, nodes, writes };
}
