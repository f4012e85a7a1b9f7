/**
 * Server-side printing: the meta.k8s.io/v1 Table that kubectl asks for (`Accept: ...;as=Table`),
 * with the columns the real API server prints for the resources the twin serves. Ages are model
 * time. Columns with priority 1 are the ones kubectl shows only with `-o wide`.
 */
import type { KubeObject } from './types.ts';

/** One column of a Table. */
export interface TableColumn {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  format: string;
  description: string;
  priority: number;
}

/** One row: the printed cells and (by default) the object's metadata. */
export interface TableRow {
  cells: unknown[];
  object?: unknown;
}

/** A meta.k8s.io Table. */
export interface Table {
  kind: 'Table';
  apiVersion: string;
  metadata: { resourceVersion?: string };
  columnDefinitions: TableColumn[];
  rows: TableRow[];
}

/** What each row carries besides its cells (the `includeObject` query parameter). */
export type IncludeObject = 'None' | 'Metadata' | 'Object';

type Printer = {
  columns: Array<[name: string, type: TableColumn['type'], priority?: number]>;
  cells(obj: KubeObject, now: number): unknown[];
};

const none = '<none>';

/** kubectl's human-readable duration (k8s.io/apimachinery/pkg/util/duration.HumanDuration). */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) return seconds % 60 === 0 ? `${minutes}m` : `${minutes}m${seconds % 60}s`;
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 8) return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`;
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) return hours % 24 === 0 ? `${Math.floor(hours / 24)}d` : `${Math.floor(hours / 24)}d${hours % 24}h`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24)}d`;
  const years = Math.floor(hours / 24 / 365);
  const days = Math.floor(hours / 24) % 365;
  if (hours < 24 * 365 * 8) return days === 0 ? `${years}y` : `${years}y${days}d`;
  return `${years}y`;
}

function age(timestamp: unknown, now: number): string {
  const t = typeof timestamp === 'string' ? Date.parse(timestamp) : NaN;
  return Number.isNaN(t) ? '<unknown>' : humanDuration(now - t);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;

function podStatus(pod: KubeObject): { reason: string; ready: number; restarts: number; lastRestart?: number } {
  const status: Any = pod.status ?? {};
  let reason: string = status.reason ?? status.phase ?? 'Pending';
  let ready = 0;
  let restarts = 0;
  let lastRestart: number | undefined;
  let hasRunning = false;
  const statuses: Any[] = [...(status.containerStatuses ?? [])].reverse();
  for (const cs of statuses) {
    restarts += cs.restartCount ?? 0;
    const finished = Date.parse(cs.lastState?.terminated?.finishedAt ?? '');
    if (!Number.isNaN(finished) && (lastRestart === undefined || finished > lastRestart)) lastRestart = finished;
    if (cs.state?.waiting?.reason) reason = cs.state.waiting.reason;
    else if (cs.state?.terminated?.reason) reason = cs.state.terminated.reason;
    else if (cs.state?.terminated) {
      const t = cs.state.terminated;
      reason = t.signal ? `Signal:${t.signal}` : `ExitCode:${t.exitCode ?? 0}`;
    } else if (cs.ready && cs.state?.running) {
      hasRunning = true;
      ready++;
    }
  }
  if (reason === 'Completed' && hasRunning) {
    const readyCond = (status.conditions ?? []).some((c: Any) => c.type === 'Ready' && c.status === 'True');
    reason = readyCond ? 'Running' : 'NotReady';
  }
  if (pod.metadata.deletionTimestamp) reason = status.reason === 'NodeLost' ? 'Unknown' : 'Terminating';
  return { reason, ready, restarts, lastRestart };
}

function servicePorts(svc: KubeObject): string {
  const ports: Any[] = svc.spec?.ports ?? [];
  if (ports.length === 0) return none;
  return ports.map((p) => `${p.port}${p.nodePort ? `:${p.nodePort}` : ''}/${p.protocol ?? 'TCP'}`).join(',');
}

function loadBalancerAddresses(obj: KubeObject): string {
  const ingress: Any[] = obj.status?.loadBalancer?.ingress ?? [];
  return ingress.map((i) => i.hostname ?? i.ip).filter(Boolean).join(',');
}

/** A label-selector object as its string form (`app=web,tier in (a,b)`), or `<none>`. */
export function selectorText(selector: Any): string {
  if (!selector) return none;
  const parts = Object.entries(selector.matchLabels ?? {}).map(([k, v]) => `${k}=${String(v)}`);
  for (const e of selector.matchExpressions ?? []) {
    if (e.operator === 'Exists') parts.push(e.key);
    else if (e.operator === 'DoesNotExist') parts.push(`!${e.key}`);
    else parts.push(`${e.key} ${String(e.operator).toLowerCase()} (${(e.values ?? []).join(',')})`);
  }
  return parts.join(',') || none;
}

function containersOf(template: Any): { names: string; images: string } {
  const containers: Any[] = template?.spec?.containers ?? [];
  return { names: containers.map((c) => c.name).join(',') || none, images: containers.map((c) => c.image).join(',') || none };
}

/** At most three entries, then ` + N more...` (kubectl's listWithMoreString). */
function listWithMore(list: string[], empty: string): string {
  if (list.length > 3) return `${list.slice(0, 3).join(',')} + ${list.length - 3} more...`;
  return list.join(',') || empty;
}

/** formatEndpoints: the ready addresses, as ip:port per port (the bare IP for a Service without ports). */
function endpointsText(ep: KubeObject): string {
  const subsets: Any[] = (ep.subsets as Any[] | undefined) ?? [];
  if (subsets.length === 0) return none;
  const list: string[] = [];
  for (const ss of subsets) {
    const addresses: Any[] = ss.addresses ?? [];
    if (!(ss.ports ?? []).length) list.push(...addresses.map((a) => a.ip));
    else for (const p of ss.ports) list.push(...addresses.map((a) => `${a.ip}:${p.port}`));
  }
  return listWithMore(list, '');
}

const printers: Record<string, Printer> = {
  pods: {
    columns: [
      ['Name', 'string'],
      ['Ready', 'string'],
      ['Status', 'string'],
      ['Restarts', 'string'],
      ['Age', 'string'],
      ['IP', 'string', 1],
      ['Node', 'string', 1],
      ['Nominated Node', 'string', 1],
      ['Readiness Gates', 'string', 1],
    ],
    cells(pod, now) {
      const s = podStatus(pod);
      const total = pod.spec?.containers?.length ?? 0;
      const gates: Any[] = pod.spec?.readinessGates ?? [];
      const conditions: Any[] = pod.status?.conditions ?? [];
      const gatesTrue = gates.filter((g) => conditions.some((c) => c.type === g.conditionType && c.status === 'True')).length;
      return [
        pod.metadata.name,
        `${s.ready}/${total}`,
        s.reason,
        s.lastRestart === undefined ? String(s.restarts) : `${s.restarts} (${humanDuration(now - s.lastRestart)} ago)`,
        age(pod.metadata.creationTimestamp, now),
        pod.status?.podIP || none,
        pod.spec?.nodeName || none,
        pod.status?.nominatedNodeName || none,
        gates.length ? `${gatesTrue}/${gates.length}` : none,
      ];
    },
  },
  nodes: {
    columns: [
      ['Name', 'string'],
      ['Status', 'string'],
      ['Roles', 'string'],
      ['Age', 'string'],
      ['Version', 'string'],
      ['Internal-IP', 'string', 1],
      ['External-IP', 'string', 1],
      ['OS-Image', 'string', 1],
      ['Kernel-Version', 'string', 1],
      ['Container-Runtime', 'string', 1],
    ],
    cells(node, now) {
      const ready = (node.status?.conditions ?? []).find((c: Any) => c.type === 'Ready');
      const states = [ready ? (ready.status === 'True' ? 'Ready' : ready.status === 'False' ? 'NotReady' : 'Unknown') : 'Unknown'];
      if (node.spec?.unschedulable) states.push('SchedulingDisabled');
      const roles = Object.keys(node.metadata.labels ?? {})
        .filter((k) => k.startsWith('node-role.kubernetes.io/'))
        .map((k) => k.slice('node-role.kubernetes.io/'.length))
        .filter(Boolean);
      const address = (type: string) => (node.status?.addresses ?? []).find((a: Any) => a.type === type)?.address ?? none;
      const info = node.status?.nodeInfo ?? {};
      return [
        node.metadata.name,
        states.join(','),
        roles.sort().join(',') || none,
        age(node.metadata.creationTimestamp, now),
        info.kubeletVersion ?? '',
        address('InternalIP'),
        address('ExternalIP'),
        info.osImage ?? '<unknown>',
        info.kernelVersion ?? '<unknown>',
        info.containerRuntimeVersion ?? '<unknown>',
      ];
    },
  },
  deployments: {
    columns: [
      ['Name', 'string'],
      ['Ready', 'string'],
      ['Up-to-date', 'integer'],
      ['Available', 'integer'],
      ['Age', 'string'],
      ['Containers', 'string', 1],
      ['Images', 'string', 1],
      ['Selector', 'string', 1],
    ],
    cells(d, now) {
      const c = containersOf(d.spec?.template);
      return [
        d.metadata.name,
        `${d.status?.readyReplicas ?? 0}/${d.spec?.replicas ?? 1}`,
        d.status?.updatedReplicas ?? 0,
        d.status?.availableReplicas ?? 0,
        age(d.metadata.creationTimestamp, now),
        c.names,
        c.images,
        selectorText(d.spec?.selector),
      ];
    },
  },
  replicasets: {
    columns: [
      ['Name', 'string'],
      ['Desired', 'integer'],
      ['Current', 'integer'],
      ['Ready', 'integer'],
      ['Age', 'string'],
      ['Containers', 'string', 1],
      ['Images', 'string', 1],
      ['Selector', 'string', 1],
    ],
    cells(rs, now) {
      const c = containersOf(rs.spec?.template);
      return [
        rs.metadata.name,
        rs.spec?.replicas ?? 1,
        rs.status?.replicas ?? 0,
        rs.status?.readyReplicas ?? 0,
        age(rs.metadata.creationTimestamp, now),
        c.names,
        c.images,
        selectorText(rs.spec?.selector),
      ];
    },
  },
  services: {
    columns: [
      ['Name', 'string'],
      ['Type', 'string'],
      ['Cluster-IP', 'string'],
      ['External-IP', 'string'],
      ['Port(s)', 'string'],
      ['Age', 'string'],
      ['Selector', 'string', 1],
    ],
    cells(svc, now) {
      const type = svc.spec?.type ?? 'ClusterIP';
      const external = loadBalancerAddresses(svc) || (type === 'LoadBalancer' ? '<pending>' : none);
      const selector = Object.entries(svc.spec?.selector ?? {}).map(([k, v]) => `${k}=${String(v)}`).join(',') || none;
      return [svc.metadata.name, type, svc.spec?.clusterIP ?? none, external, servicePorts(svc), age(svc.metadata.creationTimestamp, now), selector];
    },
  },
  endpoints: {
    columns: [
      ['Name', 'string'],
      ['Endpoints', 'string'],
      ['Age', 'string'],
    ],
    cells: (ep, now) => [ep.metadata.name, endpointsText(ep), age(ep.metadata.creationTimestamp, now)],
  },
  endpointslices: {
    columns: [
      ['Name', 'string'],
      ['AddressType', 'string'],
      ['Ports', 'string'],
      ['Endpoints', 'string'],
      ['Age', 'string'],
    ],
    cells: (slice: Any, now) => [
      slice.metadata.name,
      slice.addressType ?? '',
      listWithMore(((slice.ports ?? []) as Any[]).map((p) => (p.port !== undefined ? String(p.port) : (p.name ?? '*'))), '<unset>'),
      listWithMore(((slice.endpoints ?? []) as Any[]).flatMap((e) => e.addresses ?? []), '<unset>'),
      age(slice.metadata.creationTimestamp, now),
    ],
  },
  namespaces: {
    columns: [
      ['Name', 'string'],
      ['Status', 'string'],
      ['Age', 'string'],
    ],
    cells: (ns, now) => [ns.metadata.name, ns.metadata.deletionTimestamp ? 'Terminating' : (ns.status?.phase ?? 'Active'), age(ns.metadata.creationTimestamp, now)],
  },
  events: {
    columns: [
      ['Last Seen', 'string'],
      ['Type', 'string'],
      ['Reason', 'string'],
      ['Object', 'string'],
      ['Message', 'string'],
    ],
    cells(ev, now) {
      const involved: Any = ev.involvedObject ?? {};
      const seen = ev.lastTimestamp ?? ev.eventTime ?? ev.metadata.creationTimestamp;
      return [age(seen, now), ev.type ?? '', ev.reason ?? '', `${String(involved.kind ?? '').toLowerCase()}/${involved.name ?? ''}`, ev.message ?? ''];
    },
  },
  ingresses: {
    columns: [
      ['Name', 'string'],
      ['Class', 'string'],
      ['Hosts', 'string'],
      ['Address', 'string'],
      ['Ports', 'string'],
      ['Age', 'string'],
    ],
    cells(ing, now) {
      const hosts = (ing.spec?.rules ?? []).map((r: Any) => r.host).filter(Boolean);
      const ports = (ing.spec?.tls ?? []).length ? '80, 443' : '80';
      return [ing.metadata.name, ing.spec?.ingressClassName ?? none, hosts.join(',') || '*', loadBalancerAddresses(ing), ports, age(ing.metadata.creationTimestamp, now)];
    },
  },
  poddisruptionbudgets: {
    columns: [
      ['Name', 'string'],
      ['Min Available', 'string'],
      ['Max Unavailable', 'string'],
      ['Allowed Disruptions', 'integer'],
      ['Age', 'string'],
    ],
    cells: (pdb, now) => [
      pdb.metadata.name,
      pdb.spec?.minAvailable !== undefined ? String(pdb.spec.minAvailable) : 'N/A',
      pdb.spec?.maxUnavailable !== undefined ? String(pdb.spec.maxUnavailable) : 'N/A',
      pdb.status?.disruptionsAllowed ?? 0,
      age(pdb.metadata.creationTimestamp, now),
    ],
  },
  // The printer columns of the controller's CRD, after the Name column the API server adds.
  targetgroupbindings: {
    columns: [
      ['Name', 'string'],
      ['Service-Name', 'string'],
      ['Service-Port', 'string'],
      ['Target-Type', 'string'],
      ['ARN', 'string', 1],
      ['Age', 'date'],
    ],
    cells: (tgb, now) => [
      tgb.metadata.name,
      tgb.spec?.serviceRef?.name ?? '',
      tgb.spec?.serviceRef?.port !== undefined ? String(tgb.spec.serviceRef.port) : '',
      tgb.spec?.targetType ?? '',
      tgb.spec?.targetGroupARN ?? '',
      age(tgb.metadata.creationTimestamp, now),
    ],
  },
};

const fallback: Printer = {
  columns: [
    ['Name', 'string'],
    ['Age', 'string'],
  ],
  cells: (obj, now) => [obj.metadata.name, age(obj.metadata.creationTimestamp, now)],
};

/** The column definitions for a resource. */
export function tableColumns(plural: string): TableColumn[] {
  const printer = printers[plural] ?? fallback;
  return printer.columns.map(([name, type, priority = 0], i) => ({
    name,
    type,
    format: i === 0 && name === 'Name' ? 'name' : '',
    description: name,
    priority,
  }));
}

/** Renders objects of `plural` as a Table at model time `now`. */
export function toTable(
  plural: string,
  objects: readonly KubeObject[],
  opts: { now: number; includeObject?: IncludeObject; resourceVersion?: string; withColumns?: boolean; apiVersion?: string },
): Table {
  const printer = printers[plural] ?? fallback;
  const include = opts.includeObject ?? 'Metadata';
  return {
    kind: 'Table',
    apiVersion: opts.apiVersion ?? 'meta.k8s.io/v1',
    metadata: opts.resourceVersion ? { resourceVersion: opts.resourceVersion } : {},
    columnDefinitions: opts.withColumns === false ? [] : tableColumns(plural),
    rows: objects.map((obj) => {
      const row: TableRow = { cells: printer.cells(obj, opts.now) };
      if (include === 'Object') row.object = obj;
      else if (include === 'Metadata') row.object = { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: obj.metadata };
      return row;
    }),
  };
}
