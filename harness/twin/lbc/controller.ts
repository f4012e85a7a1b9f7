/**
 * The AWS Load Balancer Controller twin (IP targets). It reads Ingresses, Services, Pods, Nodes and
 * TargetGroupBindings from the store and drives the ALB twin's control plane as the real controller
 * drives ELBv2 (reference, part B):
 * - an IngressGroup (`group.name`, else the Ingress alone) gets one load balancer; its members, in
 *   `group.order`, build the listeners (`listen-ports`, `certificate-arn`, `ssl-redirect`), the
 *   rules (host, path, pathType) and default actions (the default backend, else a fixed 404) as
 *   ./model.ts describes; a target group per member backend and a TargetGroupBinding labelled for
 *   the group; the members' annotations set the health check, the target-group attributes and the
 *   load-balancer attributes (merged across members: a disagreement is the controller's
 *   FailedBuildModel event on every member, and the load balancer is left as it is);
 * - a binding registers its service's endpoints: ready pods, and not-ready pods whose only missing
 *   condition is this binding's readiness gate (ContainersReady, node Ready, not terminating);
 *   everything else is deregistered — each change `reactionSeconds` after the pod event; with
 *   `enableEndpointSlices` the endpoints come from the service's EndpointSlices instead (ready
 *   endpoints, and not-ready ones whose pod has ContainersReady on a Ready node and is not
 *   terminating, as the real endpoint resolver), each change `reactionSeconds` after the slice event;
 * - the gate condition `target-health.elbv2.k8s.aws/<binding>` follows target health, and while
 *   any gate is not True the binding is requeued every `gateRequeueSeconds` (so a gate turns True up
 *   to one requeue after the target turned healthy, as in the real controller).
 */
import type { Clock, Timer } from '../../core/clock.ts';
import { parseAttributeList } from '../../core/attributes.ts';
import { hashString } from '../../core/random.ts';
import type { AlbControlPlane, ListenerInfo, RuleAction, TargetRef } from '../alb/types.ts';
import type { TwinConfig } from '../config.ts';
import { recordEvent } from '../controllers/events.ts';
import type { ObjectStore } from '../kube/store.ts';
import { timestamp } from '../kube/store.ts';
import type { KubeObject } from '../kube/types.ts';
import { SERVICE_NAME_LABEL } from '../controllers/endpoints.ts';
import { buildGroupModel, groupIdOf, sortMembers, stackLabels, type GroupId, type ModelAction } from './model.ts';

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

interface GroupState {
  loadBalancerArn: string;
  /** The address of the listener traffic is best sent to: one that forwards, HTTP before HTTPS. */
  listenerUrl: string;
  /** `namespace/ingress-service:port` (the target group's resource tag) → target group ARN */
  targetGroups: Map<string, string>;
  /** ALB port → the listener, and what it was last given (default actions, certificates, rules). */
  listeners: Map<number, { info: ListenerInfo; applied: string; rules: string }>;
}

/** The reason of the Warning the controller records when it cannot build a group's model. */
export const FAILED_BUILD_MODEL = 'FailedBuildModel';
/** The Event reason of a successful group reconcile, on every member. */
export const SUCCESSFULLY_RECONCILED = 'SuccessfullyReconciled';

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

/** Name like the real controller's for an explicit group: k8s-<group>-<10 hex>. */
function groupLbName(group: string): string {
  const hash = hashString(`${group}/lb`).toString(16).padStart(8, '0') + '00';
  return `k8s-${group.replace(/[^a-zA-Z0-9-]/g, '').slice(0, 17)}-${hash.slice(0, 10)}`.replace(/--+/g, '-');
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
  const groupState = new Map<string, GroupState>();
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

  /** Ingress `namespace/name` → the group it was last reconciled in: an edit may move it out, and that group rebuilds too. */
  const memberOf = new Map<string, string>();
  /** Group key (the group name, or `namespace/name` of an implicit group) → its id. */
  const groupIds = new Map<string, GroupId>();
  const running = new Map<string, Promise<void>>();

  function groupKeyOf(ing: KubeObject): string | undefined {
    if (!isAlbIngress(ing) || ing.metadata.deletionTimestamp) return undefined;
    const id = groupIdOf(ing);
    if (!id.ok) {
      log(`load balancer controller: ingress ${ing.metadata.namespace}/${ing.metadata.name}: ${id.error}`);
      return undefined;
    }
    groupIds.set(id.value.name, id.value);
    return id.value.name;
  }

  /** Runs one group's reconciles one after another (each awaits the ALB twin). */
  function runGroup(key: string): void {
    const next = (running.get(key) ?? Promise.resolve())
      .then(() => reconcileGroup(key))
      .catch((error) => log(`load balancer controller: group ${key}: ${(error as Error).message}`));
    running.set(key, next);
  }

  /** The model's action with target group ARNs. */
  function actionOf(state: GroupState, a: ModelAction): RuleAction {
    if (a.type !== 'forward') return a;
    const arn = state.targetGroups.get(`${a.backend.namespace}/${a.backend.ingress}-${a.backend.service}:${a.backend.port}`);
    if (!arn) throw new Error(`Expected a target group for ${a.backend.namespace}/${a.backend.ingress}-${a.backend.service}:${a.backend.port}, got none`);
    return { type: 'forward', targetGroupArn: arn };
  }

  async function reconcileGroup(key: string): Promise<void> {
    const id = groupIds.get(key);
    if (!id || stopped) return;
    const candidates = store.list('ingresses').items.filter((ing) => groupKeyOf(ing) === key);
    for (const ing of candidates) memberOf.set(`${ing.metadata.namespace}/${ing.metadata.name}`, key);
    // A group whose members are all gone keeps its load balancer: deletion is not modelled.
    if (candidates.length === 0) return;
    const fail = (error: string) => {
      for (const ing of candidates) recordEvent(store, clock, ing, 'Warning', FAILED_BUILD_MODEL, `Failed build model due to ${error}`, 'ingress');
      log(`load balancer controller: group ${key}: Failed build model due to ${error}`);
    };
    const sorted = sortMembers(candidates);
    if (!sorted.ok) return fail(sorted.error);
    const built = buildGroupModel(id, sorted.value);
    if (!built.ok) return fail(built.error);
    const model = built.value;
    for (const b of model.backends) {
      if (!store.get('services', b.namespace, b.service)) return fail(`ingress: ${b.namespace}/${b.ingress}: services "${b.service}" not found`);
    }

    let state = groupState.get(key);
    if (!state) {
      const zones = [...new Set(store.list('nodes').items.map((n) => n.metadata.labels?.['topology.kubernetes.io/zone']).filter(Boolean) as string[])].sort();
      const [ns, name] = id.explicit ? ['', ''] : key.split('/');
      const lb = await alb.createLoadBalancer({
        name: id.explicit ? groupLbName(key) : awsName(ns, name, 'lb'),
        zones,
        tags: { 'elbv2.k8s.aws/cluster': 'twin', 'ingress.k8s.aws/stack': key, 'ingress.k8s.aws/resource': 'LoadBalancer' },
      });
      state = { loadBalancerArn: lb.arn, listenerUrl: lb.listenerUrl, targetGroups: new Map(), listeners: new Map() };
      groupState.set(key, state);
      log(`load balancer controller: created ${lb.name} for ingress group ${key} at ${lb.listenerUrl}`);
    }
    // The controller owns these too: written on every reconcile (only the ones that differ).
    const lbAttributes = model.loadBalancerAttributes;
    if (Object.keys(lbAttributes).length) {
      const current = alb.describeLoadBalancerAttributes(state.loadBalancerArn);
      const changes = Object.fromEntries(Object.entries(lbAttributes).filter(([k, v]) => current[k] !== v));
      if (Object.keys(changes).length) {
        try {
          alb.modifyLoadBalancerAttributes(state.loadBalancerArn, changes);
          log(`load balancer controller: group ${key}: load balancer attributes ${Object.entries(changes).map(([k, v]) => `${k}=${v}`).join(',')}`);
        } catch (error) {
          // The real controller reports a failed reconcile as an event and retries; the twin logs it.
          log(`load balancer controller: group ${key}: ModifyLoadBalancerAttributes failed: ${(error as Error).message}`);
        }
      }
    }
    for (const backend of model.backends) {
      const ns = backend.namespace;
      const svc = store.get('services', ns, backend.service)!;
      const owner = model.members.find((m) => m.metadata.namespace === ns && m.metadata.name === backend.ingress)!;
      const annotations = owner.metadata.annotations ?? {};
      const resource = `${ns}/${backend.ingress}-${backend.service}:${backend.port}`;
      const svcPort = (svc.spec?.ports ?? []).find((p: { port: number; name?: string }) => p.port === backend.port || p.name === backend.port) ?? svc.spec?.ports?.[0];
      let tgArn = state.targetGroups.get(resource);
      if (!tgArn) {
        // An implicit group keeps the names it always had; an explicit group's members each get their own.
        const tgName = id.explicit ? awsName(ns, backend.service, `tg:${backend.ingress}`) : awsName(ns, backend.service, 'tg');
        const tg = alb.createTargetGroup({
          name: tgName,
          port: typeof svcPort?.targetPort === 'number' ? svcPort.targetPort : 8080,
          tags: { 'elbv2.k8s.aws/cluster': 'twin', 'ingress.k8s.aws/stack': key, 'ingress.k8s.aws/resource': resource },
        });
        tgArn = tg.arn;
        healthCheckDefaults.set(tgArn, { ...tg.healthCheck });
        state.targetGroups.set(resource, tgArn);
        if (!store.get('targetgroupbindings', ns, tgName)) {
          store.create('targetgroupbindings', {
            apiVersion: 'elbv2.k8s.aws/v1beta1',
            kind: 'TargetGroupBinding',
            metadata: { name: tgName, namespace: ns, labels: stackLabels(id) },
            spec: { targetGroupARN: tgArn, targetType: 'ip', serviceRef: { name: backend.service, port: backend.port }, ipAddressType: 'ipv4' },
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
    for (const l of model.listeners) {
      const defaultActions = [actionOf(state, l.defaultAction)];
      const rules = l.rules.map((r) => ({ priority: r.priority, conditions: r.conditions, actions: [actionOf(state!, r.action)] }));
      const applied = JSON.stringify([defaultActions, l.certificateArns]);
      let listener = state.listeners.get(l.port);
      if (!listener) {
        const info = await alb.createListener({ loadBalancerArn: state.loadBalancerArn, port: l.port, protocol: l.protocol, defaultActions, certificateArns: l.certificateArns });
        listener = { info, applied, rules: '[]' };
        state.listeners.set(l.port, listener);
      } else if (listener.applied !== applied) {
        listener.info = await alb.modifyListener(listener.info.arn, { defaultActions, certificateArns: l.certificateArns });
        listener.applied = applied;
      }
      const ruleText = JSON.stringify(rules);
      if (listener.rules !== ruleText) {
        await alb.setRules(listener.info.arn, rules);
        listener.rules = ruleText;
      }
    }
    // Listeners no member asks for any more stay: removing them is not modelled.
    const forwards = (l: ListenerInfo, p: number) =>
      l.defaultActions.some((a) => a.type === 'forward') || (model.listeners.find((m) => m.port === p)?.rules.length ?? 0) > 0;
    const ranked = [...state.listeners].sort(
      ([pa, a], [pb, b]) => Number(!forwards(a.info, pa)) - Number(!forwards(b.info, pb)) || Number(a.info.protocol !== 'HTTP') - Number(b.info.protocol !== 'HTTP') || pa - pb,
    );
    if (ranked[0]) state.listenerUrl = ranked[0][1].info.url;
    const dns = alb.describeLoadBalancers().find((lb) => lb.arn === state.loadBalancerArn)?.dnsName;
    for (const ing of model.members) {
      const ns = ing.metadata.namespace!;
      const name = ing.metadata.name;
      if (dns && ing.status?.loadBalancer?.ingress?.[0]?.hostname !== dns) {
        store.modify('ingresses', ns, name, (o) => {
          o.status = { loadBalancer: { ingress: [{ hostname: dns }] } };
        });
      }
      for (const resolve of waiters.get(`${ns}/${name}`) ?? []) resolve(state.listenerUrl);
      waiters.delete(`${ns}/${name}`);
      // As the group reconciler does after every successful reconcile (controllers/ingress/group_controller.go).
      recordEvent(store, clock, ing, 'Normal', SUCCESSFULLY_RECONCILED, 'Successfully reconciled', 'ingress');
    }
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

  /**
   * The endpoints of a binding's service port from its EndpointSlices (the real controller's
   * resolvePodEndpointsWithEndpointsData): the slice port whose name matches the service port's
   * (any, when it has none); `register` for a ready endpoint, or a not-ready one whose pod has
   * ContainersReady, is not terminating and is on a Ready node. The slice's port is already the
   * one the pod listens on (the endpoints controller applies the twin's port annotation).
   */
  function endpointsFromSlices(ns: string, svc: KubeObject, servicePort: number | string, nodeReady: (node: string) => boolean) {
    const sp = (svc.spec?.ports ?? []).find((p: { port: number; name?: string }) => p.port === servicePort || p.name === servicePort) ?? svc.spec?.ports?.[0];
    const out: Array<{ pod: KubeObject; ip: string; port: number; register: boolean }> = [];
    if (!sp) return out;
    const slices = store.list('endpointslices', { namespace: ns, labelSelector: `${SERVICE_NAME_LABEL}=${svc.metadata.name}` }).items;
    for (const slice of slices) {
      for (const port of (slice.ports ?? []) as Array<{ name?: string; port?: number }>) {
        if (sp.name && sp.name !== port.name) continue;
        if (typeof port.port !== 'number') continue;
        for (const ep of (slice.endpoints ?? []) as Array<{ addresses?: string[]; conditions?: { ready?: boolean; terminating?: boolean }; targetRef?: { kind?: string; name?: string } }>) {
          if (ep.targetRef?.kind !== 'Pod' || !ep.addresses?.length) continue;
          const pod = store.get('pods', ns, ep.targetRef.name!);
          if (!pod) continue;
          const register = ep.conditions?.ready === true || (isTrue(pod, 'ContainersReady') && !ep.conditions?.terminating && nodeReady(pod.spec?.nodeName));
          out.push({ pod, ip: ep.addresses[0], port: port.port, register });
        }
      }
    }
    return out;
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
    if (svc && deps.config.enableEndpointSlices) {
      for (const t of endpointsFromSlices(ns, svc, tgb.spec?.serviceRef?.port, nodeReady)) {
        if ((t.pod.spec?.readinessGates ?? []).some((g: { conditionType: string }) => g.conditionType === gate) && !gated.some((p) => p.metadata.name === t.pod.metadata.name)) gated.push(t.pod);
        if (!t.register) continue;
        const zone = nodes.get(t.pod.spec?.nodeName)?.metadata.labels?.['topology.kubernetes.io/zone'];
        desired.set(`${t.ip}:${t.port}`, { id: t.ip, port: t.port, availabilityZone: zone, pod: t.pod });
      }
    } else if (svc && Object.keys(selector).length) {
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
      const ing = store.get('ingresses', ns, name);
      const keys = new Set([memberOf.get(`${ns}/${name}`), ing ? groupKeyOf(ing) : undefined].filter((k): k is string => k !== undefined));
      for (const key of keys) runGroup(key);
    });

  // With EndpointSlices the binding reconciler watches slices, not pods (a pod change that leaves its
  // slice as it was, such as ContainersReady while a gate is False, is seen at the next gate requeue).
  if (deps.config.enableEndpointSlices) unsubscribers.push(store.watch('endpointslices', {}, (e) => onPodOrService(e.object.metadata.namespace)));
  else unsubscribers.push(store.watch('pods', {}, (e) => onPodOrService(e.object.metadata.namespace)));
  unsubscribers.push(
    store.watch('services', {}, (e) => {
      onPodOrService(e.object.metadata.namespace);
      // A group that waited for a backend service builds once it exists.
      if (e.type === 'ADDED') for (const ing of store.list('ingresses', { namespace: e.object.metadata.namespace }).items) onIngress(ing.metadata.namespace!, ing.metadata.name);
    }),
  );
  unsubscribers.push(
    store.watch('nodes', {}, () => {
      for (const ns of store.list('namespaces').items) onPodOrService(ns.metadata.name);
    }),
  );
  unsubscribers.push(store.watch('targetgroupbindings', {}, (e) => e.type !== 'DELETED' && onPodOrService(e.object.metadata.namespace)));
  unsubscribers.push(
    store.watch('ingresses', {}, (e) => onIngress(e.object.metadata.namespace!, e.object.metadata.name)),
  );
  for (const ing of store.list('ingresses').items) onIngress(ing.metadata.namespace!, ing.metadata.name);
  for (const tgb of store.list('targetgroupbindings').items) onPodOrService(tgb.metadata.namespace);

  return {
    listenerUrl(namespace, name) {
      const group = memberOf.get(`${namespace}/${name}`);
      const state = group === undefined ? undefined : groupState.get(group);
      if (state?.listeners.size) return Promise.resolve(state.listenerUrl);
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
