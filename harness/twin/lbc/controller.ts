/**
 * The AWS Load Balancer Controller twin (IP targets). It reads Ingresses, Services, Pods, Nodes and
 * TargetGroupBindings from the store and drives the ALB twin's control plane as the real controller
 * drives ELBv2 (reference, part B):
 * - an ALB Ingress gets a load balancer, a listener, a target group per backend service and a
 *   TargetGroupBinding; its annotations set the health check, the target-group attributes and the
 *   load-balancer attributes (`load-balancer-attributes`, e.g. access_logs.s3.*);
 * - a binding registers its service's endpoints: ready pods, and not-ready pods whose only missing
 *   condition is this binding's readiness gate (ContainersReady, node Ready, not terminating);
 *   everything else is deregistered — each change `reactionSeconds` after the pod event;
 * - the gate condition `target-health.elbv2.k8s.aws/<binding>` follows target health, and while
 *   any gate is not True the binding is requeued every `gateRequeueSeconds` (so a gate turns True up
 *   to one requeue after the target turned healthy, as in the real controller).
 */
import type { Clock, Timer } from '../../core/clock.ts';
import { parseAttributeList } from '../../core/attributes.ts';
import { hashString } from '../../core/random.ts';
import type { AlbControlPlane, TargetRef } from '../alb/types.ts';
import type { TwinConfig } from '../config.ts';
import type { ObjectStore } from '../kube/store.ts';
import { timestamp } from '../kube/store.ts';
import type { KubeObject } from '../kube/types.ts';

/** The readiness-gate condition type prefix. */
export const GATE_PREFIX = 'target-health.elbv2.k8s.aws/';
/** Annotation the kubelet twin sets when a pod listens on another port than its containerPort. */
export const PORT_ANNOTATION = 'twin.rollout-harness.io/port';

const ANN = 'alb.ingress.kubernetes.io/';

/** What the controller twin needs. */
export interface LbcDeps {
  store: ObjectStore;
  clock: Clock;
  alb: AlbControlPlane;
  config: TwinConfig['controller'];
  log?: (line: string) => void;
}

/** A running controller twin. */
export interface LoadBalancerControllerTwin {
  /** Resolves when the Ingress `namespace/name` has a load balancer; gives its listener URL. */
  listenerUrl(namespace: string, name: string): Promise<string>;
  stop(): void;
}

interface IngressState {
  loadBalancerArn: string;
  listenerUrl: string;
  /** service name → target group ARN */
  targetGroups: Map<string, string>;
}

function condition(pod: KubeObject, type: string): { status: string } | undefined {
  return (pod.status?.conditions ?? []).find((c: { type: string }) => c.type === type);
}

function isTrue(pod: KubeObject, type: string): boolean {
  return condition(pod, type)?.status === 'True';
}

function isAlbIngress(ing: KubeObject): boolean {
  return ing.spec?.ingressClassName === 'alb' || ing.metadata.annotations?.['kubernetes.io/ingress.class'] === 'alb';
}

/** Name like the real controller's: k8s-<ns>-<name>-<10 hex>, at most 32 characters. */
function awsName(namespace: string, name: string, salt: string): string {
  const hash = hashString(`${namespace}/${name}/${salt}`).toString(16).padStart(8, '0') + '00';
  return `k8s-${namespace.slice(0, 8)}-${name.slice(0, 8)}-${hash.slice(0, 10)}`;
}

/** Backend services of an Ingress with their ports (defaultBackend and every rule path). */
function backends(ing: KubeObject): Array<{ name: string; port: number | string }> {
  const out = new Map<string, number | string>();
  const add = (b: { service?: { name: string; port?: { number?: number; name?: string } } } | undefined) => {
    if (b?.service?.name) out.set(b.service.name, b.service.port?.number ?? b.service.port?.name ?? 80);
  };
  add(ing.spec?.defaultBackend);
  for (const rule of ing.spec?.rules ?? []) for (const p of rule.http?.paths ?? []) add(p.backend);
  return [...out].map(([name, port]) => ({ name, port }));
}

/** Parses `a=b,c=d` (the target-group-attributes annotation). */
export function parseAttributes(text: string | undefined): Record<string, string> {
  return Object.fromEntries(parseAttributeList(text));
}

/** The health check an Ingress's annotations ask for (only the keys that are set). */
export function healthCheckFromAnnotations(a: Record<string, string> = {}): Record<string, unknown> {
  const hc: Record<string, unknown> = {};
  const num = (k: string) => (a[ANN + k] !== undefined ? Number(a[ANN + k]) : undefined);
  if (a[ANN + 'healthcheck-path']) hc.path = a[ANN + 'healthcheck-path'];
  if (a[ANN + 'healthcheck-port']) hc.port = a[ANN + 'healthcheck-port'] === 'traffic-port' ? 'traffic-port' : Number(a[ANN + 'healthcheck-port']);
  if (num('healthcheck-interval-seconds') !== undefined) hc.intervalSeconds = num('healthcheck-interval-seconds');
  if (num('healthcheck-timeout-seconds') !== undefined) hc.timeoutSeconds = num('healthcheck-timeout-seconds');
  if (num('healthy-threshold-count') !== undefined) hc.healthyThreshold = num('healthy-threshold-count');
  if (num('unhealthy-threshold-count') !== undefined) hc.unhealthyThreshold = num('unhealthy-threshold-count');
  if (a[ANN + 'success-codes']) hc.matcher = a[ANN + 'success-codes'];
  return hc;
}

/** Starts the controller twin. */
export function startLoadBalancerController(deps: LbcDeps): LoadBalancerControllerTwin {
  const { store, clock, alb } = deps;
  const log = deps.log ?? (() => {});
  const ingresses = new Map<string, IngressState>();
  const waiters = new Map<string, Array<(url: string) => void>>();
  const pending = new Map<string, Timer>();
  const requeues = new Map<string, Timer>();
  const unsubscribers: Array<() => void> = [];
  /** Each target group's health check as created: what a health-check annotation's removal returns to. */
  const healthCheckDefaults = new Map<string, Record<string, unknown>>();
  let stopped = false;

  /** Runs `fn` once, `delayMs` from now, unless already scheduled under `key`. */
  function schedule(key: string, delayMs: number, fn: () => void, timers = pending): void {
    if (stopped || timers.has(key)) return;
    timers.set(
      key,
      clock.setTimeout(() => {
        timers.delete(key);
        if (stopped) return;
        try {
          fn();
        } catch (error) {
          log(`load balancer controller: ${key}: ${(error as Error).message}`);
        }
      }, delayMs),
    );
  }

  const reactionMs = deps.config.reactionSeconds * 1000;

  async function reconcileIngress(ns: string, name: string): Promise<void> {
    const ing = store.get('ingresses', ns, name);
    const key = `${ns}/${name}`;
    if (!ing || !isAlbIngress(ing) || ing.metadata.deletionTimestamp) return;
    const annotations = ing.metadata.annotations ?? {};
    let state = ingresses.get(key);
    if (!state) {
      const zones = [...new Set(store.list('nodes').items.map((n) => n.metadata.labels?.['topology.kubernetes.io/zone']).filter(Boolean) as string[])].sort();
      const lb = await alb.createLoadBalancer({
        name: awsName(ns, name, 'lb'),
        zones,
        tags: { 'elbv2.k8s.aws/cluster': 'twin', 'ingress.k8s.aws/stack': key, 'ingress.k8s.aws/resource': 'LoadBalancer' },
      });
      state = { loadBalancerArn: lb.arn, listenerUrl: lb.listenerUrl, targetGroups: new Map() };
      ingresses.set(key, state);
      log(`load balancer controller: created ${lb.name} for ingress ${key} at ${lb.listenerUrl}`);
    }
    // The controller owns these too: written on every reconcile (only the ones that differ).
    const lbAttributes = parseAttributes(annotations[ANN + 'load-balancer-attributes']);
    if (Object.keys(lbAttributes).length) {
      const current = alb.describeLoadBalancerAttributes(state.loadBalancerArn);
      const changes = Object.fromEntries(Object.entries(lbAttributes).filter(([k, v]) => current[k] !== v));
      if (Object.keys(changes).length) {
        try {
          alb.modifyLoadBalancerAttributes(state.loadBalancerArn, changes);
          log(`load balancer controller: ingress ${key}: load balancer attributes ${Object.entries(changes).map(([k, v]) => `${k}=${v}`).join(',')}`);
        } catch (error) {
          // The real controller reports a failed reconcile as an event and retries; the twin logs it.
          log(`load balancer controller: ingress ${key}: ModifyLoadBalancerAttributes failed: ${(error as Error).message}`);
        }
      }
    }
    for (const backend of backends(ing)) {
      const svc = store.get('services', ns, backend.name);
      if (!svc) continue;
      const svcPort = (svc.spec?.ports ?? []).find((p: { port: number; name?: string }) => p.port === backend.port || p.name === backend.port) ?? svc.spec?.ports?.[0];
      let tgArn = state.targetGroups.get(backend.name);
      if (!tgArn) {
        const tgName = awsName(ns, backend.name, 'tg');
        const tg = alb.createTargetGroup({
          name: tgName,
          port: typeof svcPort?.targetPort === 'number' ? svcPort.targetPort : 8080,
          tags: { 'elbv2.k8s.aws/cluster': 'twin', 'ingress.k8s.aws/stack': key, 'ingress.k8s.aws/resource': `${ns}/${name}-${backend.name}:${backend.port}` },
        });
        tgArn = tg.arn;
        healthCheckDefaults.set(tgArn, { ...tg.healthCheck });
        state.targetGroups.set(backend.name, tgArn);
        if (state.targetGroups.size === 1) {
          alb.createListener({ loadBalancerArn: state.loadBalancerArn, port: 80, defaultTargetGroupArn: tgArn });
        }
        if (!store.get('targetgroupbindings', ns, tgName)) {
          store.create('targetgroupbindings', {
            apiVersion: 'elbv2.k8s.aws/v1beta1',
            kind: 'TargetGroupBinding',
            metadata: { name: tgName, namespace: ns, labels: { 'ingress.k8s.aws/stack-name': name, 'ingress.k8s.aws/stack-namespace': ns } },
            spec: { targetGroupARN: tgArn, targetType: 'ip', serviceRef: { name: backend.name, port: backend.port }, ipAddressType: 'ipv4' },
          });
        }
      }
      // The controller owns these settings: it writes them on every reconcile, reverting direct edits.
      // Its desired health check is its defaults (here: the group's as created) with the annotations laid
      // over, so a removed annotation puts the default back (the controller's ingress model builder).
      const hc = { ...healthCheckDefaults.get(tgArn), ...healthCheckFromAnnotations(annotations) };
      if (Object.keys(hc).length) alb.modifyHealthCheck(tgArn, hc);
      const attributes = parseAttributes(annotations[ANN + 'target-group-attributes']);
      if (Object.keys(attributes).length) alb.modifyTargetGroupAttributes(tgArn, attributes);
    }
    const dns = alb.describeLoadBalancers().find((lb) => lb.arn === state.loadBalancerArn)?.dnsName;
    if (dns && ing.status?.loadBalancer?.ingress?.[0]?.hostname !== dns) {
      store.modify('ingresses', ns, name, (o) => {
        o.status = { loadBalancer: { ingress: [{ hostname: dns }] } };
      });
    }
    for (const resolve of waiters.get(key) ?? []) resolve(state.listenerUrl);
    waiters.delete(key);
  }

  /** The port a pod serves the binding's service port on. */
  function targetPort(pod: KubeObject, svc: KubeObject, servicePort: number | string): number | undefined {
    const override = pod.metadata.annotations?.[PORT_ANNOTATION];
    if (override) return Number(override);
    const sp = (svc.spec?.ports ?? []).find((p: { port: number; name?: string }) => p.port === servicePort || p.name === servicePort) ?? svc.spec?.ports?.[0];
    const tp = sp?.targetPort ?? sp?.port;
    if (typeof tp === 'number') return tp;
    for (const c of pod.spec?.containers ?? []) {
      const named = (c.ports ?? []).find((p: { name?: string }) => p.name === tp);
      if (named) return named.containerPort;
    }
    return undefined;
  }

  function reconcileBinding(ns: string, name: string): void {
    const tgb = store.get('targetgroupbindings', ns, name);
    if (!tgb) return;
    const tgArn: string = tgb.spec?.targetGroupARN;
    const svc = store.get('services', ns, tgb.spec?.serviceRef?.name);
    const gate = GATE_PREFIX + name;
    const nodes = new Map(store.list('nodes').items.map((n) => [n.metadata.name, n]));
    const nodeReady = (nodeName: string) => (nodes.get(nodeName)?.status?.conditions ?? []).some((c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True');
    const desired = new Map<string, TargetRef & { availabilityZone?: string; pod: KubeObject }>();
    const selector: Record<string, string> = svc?.spec?.selector ?? {};
    const gated: KubeObject[] = [];
    if (svc && Object.keys(selector).length) {
      const labelSelector = Object.entries(selector).map(([k, v]) => `${k}=${v}`).join(',');
      for (const pod of store.list('pods', { namespace: ns, labelSelector }).items) {
        const ip = pod.status?.podIP;
        if (!ip || pod.metadata.deletionTimestamp) continue;
        const hasGate = (pod.spec?.readinessGates ?? []).some((g: { conditionType: string }) => g.conditionType === gate);
        if (hasGate) gated.push(pod);
        const ready = isTrue(pod, 'Ready');
        const onlyGateMissing = hasGate && isTrue(pod, 'ContainersReady') && nodeReady(pod.spec?.nodeName);
        if (!ready && !onlyGateMissing) continue;
        const port = targetPort(pod, svc, tgb.spec?.serviceRef?.port);
        if (!port) continue;
        const zone = nodes.get(pod.spec?.nodeName)?.metadata.labels?.['topology.kubernetes.io/zone'];
        desired.set(`${ip}:${port}`, { id: ip, port, availabilityZone: zone, pod });
      }
    }
    const current = alb.describeTargetHealth(tgArn).filter((t) => t.state !== 'draining' && t.state !== 'unused');
    const currentKeys = new Set(current.map((t) => `${t.target.id}:${t.target.port}`));
    const toRegister = [...desired.entries()].filter(([k]) => !currentKeys.has(k)).map(([, t]) => ({ id: t.id, port: t.port, availabilityZone: t.availabilityZone }));
    const toDeregister = current.filter((t) => !desired.has(`${t.target.id}:${t.target.port}`)).map((t) => t.target);
    if (toRegister.length) {
      alb.registerTargets(tgArn, toRegister);
      log(`load balancer controller: ${name}: registered ${toRegister.map((t) => `${t.id}:${t.port}`).join(' ')}`);
    }
    if (toDeregister.length) {
      alb.deregisterTargets(tgArn, toDeregister);
      log(`load balancer controller: ${name}: deregistered ${toDeregister.map((t) => `${t.id}:${t.port}`).join(' ')}`);
    }
    // Gate conditions follow the target's health.
    const health = new Map(alb.describeTargetHealth(tgArn).map((t) => [`${t.target.id}:${t.target.port}`, t]));
    let anyPending = false;
    for (const pod of gated) {
      const entry = [...desired.entries()].find(([, t]) => t.pod.metadata.name === pod.metadata.name);
      const h = entry ? health.get(entry[0]) : undefined;
      const healthy = h?.state === 'healthy';
      if (!healthy) anyPending = true;
      const want = healthy ? 'True' : 'False';
      const have = condition(pod, gate) as { status: string; reason?: string } | undefined;
      const reason = healthy ? undefined : (h?.reason ?? 'Target.NotRegistered');
      if (have?.status === want && (healthy || have.reason === reason)) continue;
      store.modify('pods', ns, pod.metadata.name, (o) => {
        const conditions = (o.status?.conditions ?? []).filter((c: { type: string }) => c.type !== gate);
        const now = timestamp(clock.now());
        conditions.push({
          type: gate,
          status: want,
          ...(reason ? { reason, message: h?.description ?? 'Target is not registered' } : {}),
          lastProbeTime: now,
          lastTransitionTime: have?.status === want ? ((have as { lastTransitionTime?: string }).lastTransitionTime ?? now) : now,
        });
        o.status = { ...(o.status ?? {}), conditions };
      });
    }
    if (anyPending) schedule(`tgb:${ns}/${name}`, deps.config.gateRequeueSeconds * 1000, () => reconcileBinding(ns, name), requeues);
  }

  function bindingsFor(ns: string): KubeObject[] {
    return store.list('targetgroupbindings', { namespace: ns }).items;
  }

  const onPodOrService = (ns: string | undefined) => {
    if (!ns) return;
    for (const tgb of bindingsFor(ns)) {
      schedule(`tgb:${ns}/${tgb.metadata.name}`, reactionMs, () => reconcileBinding(ns, tgb.metadata.name));
    }
  };
  const onIngress = (ns: string, name: string) =>
    schedule(`ing:${ns}/${name}`, 0, () => {
      reconcileIngress(ns, name).catch((error) => log(`load balancer controller: ingress ${ns}/${name}: ${(error as Error).message}`));
    });

  unsubscribers.push(store.watch('pods', {}, (e) => onPodOrService(e.object.metadata.namespace)));
  unsubscribers.push(store.watch('services', {}, (e) => onPodOrService(e.object.metadata.namespace)));
  unsubscribers.push(
    store.watch('nodes', {}, () => {
      for (const ns of store.list('namespaces').items) onPodOrService(ns.metadata.name);
    }),
  );
  unsubscribers.push(store.watch('targetgroupbindings', {}, (e) => e.type !== 'DELETED' && onPodOrService(e.object.metadata.namespace)));
  unsubscribers.push(
    store.watch('ingresses', {}, (e) => {
      if (e.type !== 'DELETED') onIngress(e.object.metadata.namespace!, e.object.metadata.name);
    }),
  );
  for (const ing of store.list('ingresses').items) onIngress(ing.metadata.namespace!, ing.metadata.name);
  for (const tgb of store.list('targetgroupbindings').items) onPodOrService(tgb.metadata.namespace);

  return {
    listenerUrl(namespace, name) {
      const state = ingresses.get(`${namespace}/${name}`);
      if (state) return Promise.resolve(state.listenerUrl);
      return new Promise((resolve) => {
        const key = `${namespace}/${name}`;
        waiters.set(key, [...(waiters.get(key) ?? []), resolve]);
      });
    },
    stop() {
      stopped = true;
      for (const u of unsubscribers) u();
      for (const t of [...pending.values(), ...requeues.values()]) t.cancel();
      pending.clear();
      requeues.clear();
    },
  };
}
