/**
 * What the ingress-controller emulation serves, computed purely from the API objects it watches:
 * the `ingressClassName: nginx` Ingresses, their Services and those Services' EndpointSlices.
 * One upstream per Service port, named `<namespace>-<service>-<port>` as ingress-nginx names its
 * backends, holding only endpoints whose `conditions.ready` is true (ingress-nginx
 * internal/ingress/controller/endpointslices.go, getEndpointsFromSlices).
 */

/** An API object as read from the wire (only the fields used here are typed). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Obj = { metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> }; spec?: any; [key: string]: any };

/** The Ingress class the emulation serves, as ingress-nginx's default `--ingress-class`. */
export const INGRESS_CLASS = 'nginx';
/** The label naming an EndpointSlice's Service. */
const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

/** One upstream: its name and its ready endpoints (`ip:port`, sorted). */
export interface Upstream {
  name: string;
  servers: string[];
}

/** A location of a server: a path (exact or prefix) sent to one upstream. */
export interface Route {
  path: string;
  exact: boolean;
  upstream: string;
}

/** A virtual server: a host (`_` for rules without one and default backends) and its routes. */
export interface VirtualServer {
  host: string;
  routes: Route[];
}

/** Everything nginx.conf is written from. */
export interface GatewayModel {
  servers: VirtualServer[];
  upstreams: Upstream[];
}

/** Whether an Ingress is served by this controller (`spec.ingressClassName` or the legacy annotation). */
export function servedByNginx(ing: Obj): boolean {
  return ing.spec?.ingressClassName === INGRESS_CLASS || ing.metadata.annotations?.['kubernetes.io/ingress.class'] === INGRESS_CLASS;
}

/** The upstream name of a Service port as ingress-nginx writes it: `<namespace>-<service>-<port>`. */
export function upstreamName(namespace: string, service: string, port: number | string): string {
  return `${namespace}-${service}-${port}`;
}

interface ServicePort {
  name?: string;
  port: number;
  protocol?: string;
  targetPort?: number | string;
}

/**
 * The ready endpoints of one Service port: for each slice of the Service, its port of the same
 * name (any port when the Service port has no name; the numeric targetPort when none matches),
 * and each endpoint whose `conditions.ready` is true — as getEndpointsFromSlices does.
 */
export function readyServers(sp: ServicePort, slices: Obj[]): string[] {
  const out = new Set<string>();
  for (const slice of slices) {
    const ports: number[] = [];
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    for (const p of (slice.ports ?? []) as any[]) {
      if ((p.protocol ?? 'TCP') !== (sp.protocol ?? 'TCP')) continue;
      let port = !sp.name || sp.name === (p.name ?? '') ? Number(p.port ?? 0) : 0;
      if (port === 0 && typeof sp.targetPort === 'number') port = sp.targetPort;
      if (port > 0) ports.push(port);
    }
    if ((slice.ports ?? []).length === 0 && typeof sp.targetPort === 'number') ports.push(sp.targetPort);
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    for (const ep of (slice.endpoints ?? []) as any[]) {
      if (ep.conditions?.ready !== true) continue;
      for (const port of ports) for (const address of ep.addresses ?? []) out.add(`${address}:${port}`);
    }
  }
  return [...out].sort();
}

/** A backend reference of an Ingress (`service: { name, port: { number | name } }`). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function backendRef(backend: any): { service: string; port: number | string } | undefined {
  const svc = backend?.service;
  if (!svc?.name) return undefined;
  const port = svc.port?.number ?? svc.port?.name;
  return port === undefined ? undefined : { service: String(svc.name), port };
}

/**
 * The model of the class-nginx Ingresses among `ingresses`: a server per host (rules without a
 * host and default backends go to `_`), a route per path (`Exact` → exact, else prefix), and one
 * upstream per Service port referenced, with its ready endpoints. A backend whose Service or port
 * does not exist gets an upstream with no servers (nginx then answers 503).
 */
export function buildModel(ingresses: Obj[], services: Obj[], slices: Obj[]): GatewayModel {
  const servers = new Map<string, VirtualServer>();
  const upstreams = new Map<string, Upstream>();
  const serverOf = (host: string) => {
    let s = servers.get(host);
    if (!s) servers.set(host, (s = { host, routes: [] }));
    return s;
  };
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const upstreamOf = (ns: string, backend: any): string | undefined => {
    const ref = backendRef(backend);
    if (!ref) return undefined;
    const name = upstreamName(ns, ref.service, ref.port);
    if (upstreams.has(name)) return name;
    const svc = services.find((s) => s.metadata.namespace === ns && s.metadata.name === ref.service);
    const sp = ((svc?.spec?.ports ?? []) as ServicePort[]).find((p) => (typeof ref.port === 'number' ? p.port === ref.port : p.name === ref.port));
    const own = slices.filter((sl) => sl.metadata.namespace === ns && sl.metadata.labels?.[SERVICE_NAME_LABEL] === ref.service);
    upstreams.set(name, { name, servers: sp ? readyServers(sp, own) : [] });
    return name;
  };
  const sorted = [...ingresses].filter(servedByNginx).sort((a, b) => key(a).localeCompare(key(b)));
  for (const ing of sorted) {
    const ns = ing.metadata.namespace ?? 'default';
    for (const rule of ing.spec?.rules ?? []) {
      const server = serverOf(rule.host || '_');
      for (const p of rule.http?.paths ?? []) {
        const upstream = upstreamOf(ns, p.backend);
        if (!upstream) continue;
        const path = String(p.path || '/');
        // The first Ingress to claim a path keeps it (ingress-nginx orders by creation; names here).
        if (server.routes.some((r) => r.path === path && r.exact === (p.pathType === 'Exact'))) continue;
        server.routes.push({ path, exact: p.pathType === 'Exact', upstream });
      }
    }
    if (ing.spec?.defaultBackend) {
      const upstream = upstreamOf(ns, ing.spec.defaultBackend);
      const server = serverOf('_');
      if (upstream && !server.routes.some((r) => r.path === '/' && !r.exact)) server.routes.push({ path: '/', exact: false, upstream });
    }
  }
  if (!servers.has('_')) serverOf('_');
  return {
    servers: [...servers.values()].sort((a, b) => (a.host === '_' ? -1 : b.host === '_' ? 1 : a.host.localeCompare(b.host))),
    upstreams: [...upstreams.values()].sort((a, b) => a.name.localeCompare(b.name)),
  };
}

function key(o: Obj): string {
  return `${o.metadata.namespace ?? ''}/${o.metadata.name}`;
}
