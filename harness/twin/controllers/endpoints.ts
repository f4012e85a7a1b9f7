/**
 * The endpoints and EndpointSlice controllers, after kubernetes pkg/controller/endpointslice and
 * pkg/controller/endpoint: for every Service with a selector they keep, from the pods it selects,
 * - EndpointSlices (`discovery.k8s.io/v1`, addressType IPv4): one per set of resolved ports
 *   (usually one per Service), named `<service>-<5 chars>`, labelled `kubernetes.io/service-name` and
 *   `endpointslice.kubernetes.io/managed-by`, owned by the Service; one endpoint per pod that has an
 *   IP and has not finished, with `ready` (Ready and not terminating), `serving` (Ready, terminating
 *   or not), `terminating`, nodeName, zone and targetRef; a Service with no endpoints keeps one
 *   empty placeholder slice, as the real controller does;
 * - the Endpoints object of the same name: `addresses` (Ready) and `notReadyAddresses`, terminating
 *   pods left out (unless `publishNotReadyAddresses`), repacked into subsets by port set.
 * Both react in the same tick as the pod or Service change (the real controllers' batch period
 * defaults to 0). In the twin's port mode a pod listens on another port than its containerPort; its
 * `PORT_ANNOTATION` gives the real one, and the ports written say where the pod really listens (the
 * same rule as the Load Balancer Controller twin's `targetPort`).
 */
import { ApiError, type ObjectStore } from '../kube/store.ts';
import type { KubeObject } from '../kube/types.ts';
import { PORT_ANNOTATION } from './kubelet/status.ts';
import { selectorMatches } from '../../core/labels.ts';
import { WorkQueue, isPodReady, isPodTerminal, jsonEqual, keyOf, newControllerRef, splitKey, watchAll, type Controller, type ControllerDeps, type Log } from './util.ts';

const COMPONENT = 'endpointslice-controller';
/** The label naming a slice's Service. */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
/** The label naming the controller that manages a slice. */
export const MANAGED_BY_LABEL = 'endpointslice.kubernetes.io/managed-by';
/** The value of MANAGED_BY_LABEL on the slices this controller keeps. */
export const MANAGED_BY = 'endpointslice-controller.k8s.io';
/** Delay before resyncing a Service after someone else changed or deleted its slice (endpointSliceChangeMinSyncDelay). */
const SLICE_CHANGE_MIN_SYNC_DELAY_MS = 1_000;

/** A Service port as the API stores it. */
interface ServicePort {
  name?: string;
  port: number;
  protocol?: string;
  targetPort?: number | string;
  appProtocol?: string;
}

/** A slice's or Endpoints subset's port. */
export interface EndpointPort {
  name: string;
  port: number;
  protocol: string;
  appProtocol?: string;
}

/**
 * FindPort: the port a pod serves a Service port on: the targetPort number, else the containerPort
 * named by targetPort (across containers), else the Service port itself; undefined when a named
 * targetPort matches no container port. In the twin's port mode the PORT_ANNOTATION replaces the
 * port that matches the first container's first declared port (8080 when it declares none), which
 * is the one the kubelet remapped.
 */
export function podPortFor(pod: KubeObject, sp: ServicePort): number | undefined {
  const tp = sp.targetPort ?? sp.port;
  let port: number | undefined;
  if (typeof tp === 'number') port = tp;
  else if (/^\d+$/.test(tp)) port = Number(tp);
  else {
    for (const c of pod.spec?.containers ?? []) {
      const named = (c.ports ?? []).find((p: { name?: string; protocol?: string }) => p.name === tp && (p.protocol ?? 'TCP') === (sp.protocol ?? 'TCP'));
      if (named) {
        port = named.containerPort;
        break;
      }
    }
  }
  if (port === undefined) return undefined;
  const override = pod.metadata.annotations?.[PORT_ANNOTATION];
  const declared = pod.spec?.containers?.[0]?.ports?.[0]?.containerPort ?? 8080;
  return override && port === declared ? Number(override) : port;
}

/** The ports of one pod for a Service (ports whose targetPort the pod cannot serve are left out). */
function podPorts(pod: KubeObject, svc: KubeObject): EndpointPort[] {
  const out: EndpointPort[] = [];
  for (const sp of (svc.spec?.ports ?? []) as ServicePort[]) {
    const port = podPortFor(pod, sp);
    if (port === undefined) continue;
    out.push({ name: sp.name ?? '', port, protocol: sp.protocol ?? 'TCP', ...(sp.appProtocol ? { appProtocol: sp.appProtocol } : {}) });
  }
  return out;
}

/** ShouldPodBeInEndpoints: it has an IP, has not finished, and (unless `includeTerminating`) is not terminating. */
export function shouldPodBeInEndpoints(pod: KubeObject, includeTerminating: boolean): boolean {
  if (!pod.status?.podIP) return false;
  if (isPodTerminal(pod)) return false;
  return includeTerminating || !pod.metadata.deletionTimestamp;
}

function selectorOf(svc: KubeObject): string | undefined {
  const selector = Object.entries((svc.spec?.selector ?? {}) as Record<string, string>);
  return selector.length ? selector.map(([k, v]) => `${k}=${v}`).join(',') : undefined;
}

function portsKey(ports: EndpointPort[]): string {
  return JSON.stringify([...ports].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.port - b.port)));
}

function podRef(pod: KubeObject) {
  return { kind: 'Pod', namespace: pod.metadata.namespace, name: pod.metadata.name, uid: pod.metadata.uid };
}

/** The Service's labels the controllers copy onto their objects, plus the headless marker. */
function copiedLabels(svc: KubeObject): Record<string, string> {
  const labels = { ...(svc.metadata.labels ?? {}) };
  if (svc.spec?.clusterIP === 'None') labels['service.kubernetes.io/headless'] = '';
  return labels;
}

/** The desired slices of a Service: one body per port set, in a stable order; [] when there is no endpoint. */
export function desiredSlices(svc: KubeObject, pods: KubeObject[], nodes: Map<string, KubeObject>): Array<{ ports: EndpointPort[]; endpoints: unknown[] }> {
  const publishNotReady = svc.spec?.publishNotReadyAddresses === true;
  const groups = new Map<string, { ports: EndpointPort[]; endpoints: unknown[] }>();
  for (const pod of [...pods].sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1))) {
    if (!shouldPodBeInEndpoints(pod, true)) continue;
    const ports = podPorts(pod, svc);
    const serving = isPodReady(pod);
    const terminating = Boolean(pod.metadata.deletionTimestamp);
    const zone = nodes.get(pod.spec?.nodeName)?.metadata.labels?.['topology.kubernetes.io/zone'];
    const endpoint = {
      addresses: [pod.status.podIP],
      conditions: { ready: publishNotReady || (serving && !terminating), serving, terminating },
      ...(pod.spec?.hostname && pod.spec?.subdomain === svc.metadata.name ? { hostname: pod.spec.hostname } : {}),
      targetRef: podRef(pod),
      ...(pod.spec?.nodeName ? { nodeName: pod.spec.nodeName } : {}),
      ...(zone ? { zone } : {}),
    };
    const key = portsKey(ports);
    const group = groups.get(key) ?? { ports, endpoints: [] };
    group.endpoints.push(endpoint);
    groups.set(key, group);
  }
  return [...groups.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, g]) => g);
}

/** The desired Endpoints subsets of a Service (RepackSubsets: grouped by port set, addresses sorted by IP). */
export function desiredSubsets(svc: KubeObject, pods: KubeObject[]): unknown[] {
  const publishNotReady = svc.spec?.publishNotReadyAddresses === true;
  const headless = ((svc.spec?.ports ?? []) as ServicePort[]).length === 0;
  const groups = new Map<string, { ports: EndpointPort[]; addresses: Array<Record<string, unknown>>; notReadyAddresses: Array<Record<string, unknown>> }>();
  for (const pod of pods) {
    if (!shouldPodBeInEndpoints(pod, publishNotReady)) continue;
    const ports = podPorts(pod, svc);
    if (ports.length === 0 && !headless) continue;
    const address = {
      ip: pod.status.podIP,
      ...(pod.spec?.hostname && pod.spec?.subdomain === svc.metadata.name ? { hostname: pod.spec.hostname } : {}),
      ...(pod.spec?.nodeName ? { nodeName: pod.spec.nodeName } : {}),
      targetRef: podRef(pod),
    };
    // One subset per port in the real controller, merged by RepackSubsets into one per port set.
    const key = portsKey(ports);
    const group = groups.get(key) ?? { ports, addresses: [], notReadyAddresses: [] };
    (publishNotReady || isPodReady(pod) ? group.addresses : group.notReadyAddresses).push(address);
    groups.set(key, group);
  }
  const byIp = (a: Record<string, unknown>, b: Record<string, unknown>) =>
    String(a.ip) < String(b.ip) ? -1 : String(a.ip) > String(b.ip) ? 1 : String((a.targetRef as { name: string }).name) < String((b.targetRef as { name: string }).name) ? -1 : 1;
  return [...groups.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, g]) => ({
      ...(g.addresses.length ? { addresses: g.addresses.sort(byIp) } : {}),
      ...(g.notReadyAddresses.length ? { notReadyAddresses: g.notReadyAddresses.sort(byIp) } : {}),
      ...(g.ports.length ? { ports: [...g.ports].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.port - b.port)) } : {}),
    }));
}

/** Starts the endpoints and EndpointSlice controllers (one queue keyed by Service). */
export function startEndpointsController(deps: ControllerDeps): Controller {
  const { store, clock } = deps;
  const log = deps.log ?? (() => {});
  /** Service key → names of the pods it selected at its last sync: a pod relabelled out of it still resyncs it. */
  const members = new Map<string, Set<string>>();
  // The store delivers events synchronously: those that arrive while a sync runs are this controller's own writes.
  let syncing = false;
  const queue = new WorkQueue(
    COMPONENT,
    clock,
    (key) => {
      syncing = true;
      try {
        syncService(store, log, key, members);
      } finally {
        syncing = false;
      }
    },
    log,
  );
  const enqueueForPod = (pod: KubeObject) => {
    const ns = pod.metadata.namespace!;
    for (const svc of store.list('services', { namespace: ns }).items) {
      const key = keyOf(svc.metadata);
      const selector = svc.spec?.selector as Record<string, string> | undefined;
      // A Service without a selector selects nothing (selectorMatches would take an empty one as everything).
      const selects = selector && Object.keys(selector).length > 0 && selectorMatches({ matchLabels: selector }, pod.metadata.labels);
      if (selects || members.get(key)?.has(pod.metadata.name)) queue.add(key);
    }
  };
  const stopWatch = watchAll(store, {
    services: (event) => queue.add(keyOf(event.object.metadata)),
    pods: (event) => enqueueForPod(event.object),
    endpointslices: (event) => {
      // A managed slice someone else changed or deleted is put back, after the real controller's minimum delay
      // (its own writes are skipped, as the real controller's slice tracker does).
      const labels = event.object.metadata.labels ?? {};
      if (syncing || labels[MANAGED_BY_LABEL] !== MANAGED_BY || !labels[SERVICE_NAME_LABEL] || event.type === 'ADDED') return;
      queue.addAfter(`${event.object.metadata.namespace}/${labels[SERVICE_NAME_LABEL]}`, SLICE_CHANGE_MIN_SYNC_DELAY_MS);
    },
  });
  for (const svc of store.list('services').items) queue.add(keyOf(svc.metadata));
  return {
    stop() {
      stopWatch();
      queue.stop();
    },
  };
}

function syncService(store: ObjectStore, log: Log, key: string, members: Map<string, Set<string>>): void {
  const { namespace, name } = splitKey(key);
  const svc = store.get('services', namespace, name);
  const managed = store.list('endpointslices', { namespace, labelSelector: `${SERVICE_NAME_LABEL}=${name},${MANAGED_BY_LABEL}=${MANAGED_BY}` }).items;
  if (!svc) {
    members.delete(key);
    // The endpoints controller deletes the Endpoints; the garbage collector deletes the owned slices.
    store.remove('endpoints', namespace, name);
    for (const slice of managed) store.remove('endpointslices', namespace, slice.metadata.name);
    return;
  }
  const selector = selectorOf(svc);
  // A Service without a selector has its endpoints kept by someone else.
  if (!selector) {
    members.delete(key);
    return;
  }
  const pods = store.list('pods', { namespace, labelSelector: selector }).items;
  members.set(key, new Set(pods.map((p) => p.metadata.name)));
  const nodes = new Map(store.list('nodes').items.map((n) => [n.metadata.name, n]));
  syncSlices(store, log, svc, desiredSlices(svc, pods, nodes), managed);
  syncEndpoints(store, log, svc, desiredSubsets(svc, pods));
}

function syncSlices(store: ObjectStore, log: Log, svc: KubeObject, desired: Array<{ ports: EndpointPort[]; endpoints: unknown[] }>, existing: KubeObject[]): void {
  const ns = svc.metadata.namespace!;
  const ownedNow = existing.filter((s) => s.metadata.ownerReferences?.some((r) => r.uid === svc.metadata.uid));
  // Slices of an earlier Service of the same name go.
  for (const stale of existing.filter((s) => !ownedNow.includes(s))) store.remove('endpointslices', ns, stale.metadata.name);
  // No endpoint at all: one placeholder slice with no ports and no endpoints.
  const wanted = desired.length ? desired : [{ ports: [] as EndpointPort[], endpoints: [] as unknown[] }];
  const labels = { ...copiedLabels(svc), [SERVICE_NAME_LABEL]: svc.metadata.name, [MANAGED_BY_LABEL]: MANAGED_BY };
  const unused = [...ownedNow];
  const toCreate: typeof wanted = [];
  for (const want of wanted) {
    const index = unused.findIndex((s) => portsKey((s.ports ?? []) as EndpointPort[]) === portsKey(want.ports));
    if (index < 0) {
      toCreate.push(want);
      continue;
    }
    const [slice] = unused.splice(index, 1);
    const body = { ports: want.ports, endpoints: want.endpoints };
    if (jsonEqual({ ports: slice.ports ?? [], endpoints: slice.endpoints ?? [] }, body) && jsonEqual(slice.metadata.labels, labels)) continue;
    store.modify('endpointslices', ns, slice.metadata.name, (o) => {
      o.metadata.labels = labels;
      o.ports = want.ports;
      o.endpoints = want.endpoints;
    });
  }
  // A slice whose port set is gone is reused for a new port set before another is created.
  for (const want of toCreate) {
    const reuse = unused.shift();
    if (reuse) {
      store.modify('endpointslices', ns, reuse.metadata.name, (o) => {
        o.metadata.labels = labels;
        o.ports = want.ports;
        o.endpoints = want.endpoints;
      });
      continue;
    }
    try {
      store.create('endpointslices', {
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        metadata: {
          name: '',
          generateName: `${svc.metadata.name.slice(0, 57)}-`,
          namespace: ns,
          labels,
          ownerReferences: [newControllerRef(svc)],
        },
        addressType: 'IPv4',
        ports: want.ports,
        endpoints: want.endpoints,
      });
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      log(`${COMPONENT}: ${ns}/${svc.metadata.name}: creating an EndpointSlice failed: ${error.message}`);
    }
  }
  for (const extra of unused) store.remove('endpointslices', ns, extra.metadata.name);
}

function syncEndpoints(store: ObjectStore, log: Log, svc: KubeObject, subsets: unknown[]): void {
  const ns = svc.metadata.namespace!;
  const name = svc.metadata.name;
  const labels = copiedLabels(svc);
  const current = store.get('endpoints', ns, name);
  if (!current) {
    try {
      store.create('endpoints', { apiVersion: 'v1', kind: 'Endpoints', metadata: { name, namespace: ns, labels }, ...(subsets.length ? { subsets } : {}) });
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      log(`endpoint-controller: ${ns}/${name}: creating Endpoints failed: ${error.message}`);
    }
    return;
  }
  if (jsonEqual(current.subsets ?? [], subsets) && jsonEqual(current.metadata.labels ?? {}, labels)) return;
  store.modify('endpoints', ns, name, (o) => {
    o.metadata.labels = labels;
    if (subsets.length) o.subsets = subsets;
    else delete o.subsets;
  });
}
