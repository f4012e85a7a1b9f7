/**
 * The twin's Kubernetes API on the wire: the ObjectStore served over plain HTTP on 127.0.0.1 with
 * the paths, verbs, status codes, watch streams and discovery documents that kubectl and
 * @kubernetes/client-node expect from a real API server. Every timed behaviour of a watch
 * (bookmarks, timeoutSeconds) runs on the injected clock.
 */
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { parse as parseYaml } from 'yaml';
import type { Clock, Timer } from '../../core/clock.ts';
import { formatLine, selectLines, type LogLine, type LogRequest, type LogSource } from '../runtime/logs.ts';
import { apiGroup, apiGroupList, apiResourceList, apiVersions, openApiV3Document, openApiV3Index, versionInfo } from './discovery.ts';
import type { Authentication } from './authn.ts';
import { applyPatch, patchTypeOf, type PatchType } from './patch.ts';
import { authorize, forbiddenMessage, rulesFor, type RbacSource, type RequestAttributes, type UserInfo } from './rbac.ts';
import { apiVersionOf, resources } from './resources.ts';
import { parseSelector } from './selectors.ts';
import { ApiError, type ListOptions, type ObjectStore } from './store.ts';
import { selectorText, toTable, type IncludeObject } from './table.ts';
import type { KubeObject, ResourceInfo } from './types.ts';
import { validateWrite } from './validation.ts';

/** What an eviction hook answers: the HTTP status and body of the eviction response. */
export interface EvictionResponse {
  code: number;
  body: unknown;
}

/** Decides an eviction (PDBs): the default deletes the pod and answers 201. */
export type EvictHook = (namespace: string, name: string, body: unknown) => EvictionResponse | Promise<EvictionResponse>;

/** Opens a container's log for `pods/log` (the kubelet): the log, or the kubelet's reason there is none (a 400). */
export type LogsHook = (req: LogRequest) => LogSource | string;

/** What the API server needs. */
export interface KubeApiServerDeps {
  store: ObjectStore;
  clock: Clock;
  hooks?: { evict?: EvictHook; logs?: LogsHook };
  /** 0 or absent: an ephemeral port. */
  port?: number;
  host?: '127.0.0.1';
  /** Model seconds between BOOKMARK events on watches that allow them (default 60). */
  bookmarkSeconds?: number;
  /** Called once per finished request with a line like `GET /api/v1/pods 200`. */
  log?: (line: string) => void;
  /** The Kubernetes version served and validated as (`1.N`, default 1.31): gates fields as that version's API server does. */
  kubernetesVersion?: string;
  /**
   * Authentication (bearer tokens) and, with it, RBAC authorization over the store's Roles and
   * bindings. Absent: every request is served, as by an API server that checks nothing.
   */
  auth?: { authenticate(authorization: string | undefined): Authentication };
  /**
   * A key and certificate (PEM) to answer on HTTPS too, on a second port with the same handler:
   * kubectl sends a kubeconfig user's token only over TLS (clientcmd reads credentials only for a
   * TLS transport), so a kubeconfig with tokens points there.
   */
  tls?: { key: string; cert: string };
}

/** A running API server. */
export interface KubeApiServer {
  /** e.g. http://127.0.0.1:43125 */
  url: string;
  port: number;
  /** The HTTPS address when `tls` was given, e.g. https://127.0.0.1:43127. */
  secureUrl?: string;
  /** Ends every watch, closes every connection and stops listening. */
  close(): Promise<void>;
}

/** Largest request body accepted. */
export const MAX_BODY_BYTES = 3 * 1024 * 1024;
/** A watcher whose unread output exceeds this is cut off (a client that stopped reading). */
const MAX_WATCH_BUFFER = 16 * 1024 * 1024;

/** Where a request path leads. */
export type ApiRoute =
  | { kind: 'version' }
  | { kind: 'health' }
  | { kind: 'apiVersions' }
  | { kind: 'apiGroupList' }
  | { kind: 'apiGroup'; group: string }
  | { kind: 'resourceList'; group: string; version: string }
  | { kind: 'openApiV3Index' }
  | { kind: 'openApiV3'; group: string; version: string }
  | { kind: 'resource'; info: ResourceInfo; namespace?: string; name?: string; subresource?: string; watch: boolean }
  | { kind: 'notFound' };

function findResource(group: string, version: string, plural: string): ResourceInfo | undefined {
  const info = Object.hasOwn(resources, plural) ? resources[plural] : undefined;
  return info && info.group === group && info.version === version ? info : undefined;
}

/**
 * Routes a request path: /version, /api, /apis, discovery per group/version, and
 * /api/v1/[watch/][namespaces/NS/]PLURAL[/NAME[/SUB]] or the same under /apis/G/V.
 */
export function parseApiPath(pathname: string): ApiRoute {
  let segs: string[];
  try {
    segs = pathname.split('/').filter(Boolean).map(decodeURIComponent);
  } catch {
    return { kind: 'notFound' };
  }
  if (segs.length === 1 && segs[0] === 'version') return { kind: 'version' };
  if (segs.length === 1 && ['healthz', 'readyz', 'livez'].includes(segs[0])) return { kind: 'health' };
  if (segs[0] === 'openapi' && segs[1] === 'v3') {
    if (segs.length === 2) return { kind: 'openApiV3Index' };
    if (segs.length === 4 && segs[2] === 'api') return { kind: 'openApiV3', group: '', version: segs[3] };
    if (segs.length === 5 && segs[2] === 'apis') return { kind: 'openApiV3', group: segs[3], version: segs[4] };
    return { kind: 'notFound' };
  }
  let group: string;
  let version: string;
  let rest: string[];
  if (segs[0] === 'api') {
    if (segs.length === 1) return { kind: 'apiVersions' };
    group = '';
    version = segs[1];
    rest = segs.slice(2);
  } else if (segs[0] === 'apis') {
    if (segs.length === 1) return { kind: 'apiGroupList' };
    if (segs.length === 2) return { kind: 'apiGroup', group: segs[1] };
    group = segs[1];
    version = segs[2];
    rest = segs.slice(3);
  } else return { kind: 'notFound' };
  if (rest.length === 0) return { kind: 'resourceList', group, version };
  let watch = false;
  if (rest[0] === 'watch') {
    watch = true;
    rest = rest.slice(1);
  }
  let namespace: string | undefined;
  if (rest[0] === 'namespaces' && rest.length >= 3 && findResource(group, version, rest[2])?.namespaced) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const info = findResource(group, version, rest[0] ?? '');
  if (!info || rest.length > 3) return { kind: 'notFound' };
  if (namespace !== undefined && !info.namespaced) return { kind: 'notFound' };
  const [, name, subresource] = rest;
  // A namespaced object is only addressable with its namespace.
  if (name !== undefined && info.namespaced && namespace === undefined) return { kind: 'notFound' };
  if (subresource !== undefined && (watch || !info.subresources?.includes(subresource))) return { kind: 'notFound' };
  return { kind: 'resource', info, namespace, name, subresource, watch };
}

/** A request that cannot be served, as an HTTP status with a Kubernetes Status reason. */
class RequestFailure extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

/** A metav1.Status object. */
export function statusObject(code: number, reason: string, message: string, details?: Record<string, unknown>) {
  const ok = code >= 200 && code < 300;
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: ok ? 'Success' : 'Failure',
    ...(message ? { message } : {}),
    ...(reason ? { reason } : {}),
    ...(details ? { details } : {}),
    code,
  };
}

/** How a response is represented, from the Accept header. */
export type Representation = { kind: 'json' } | { kind: 'table'; apiVersion: string };

/**
 * Picks the representation from an Accept header: a meta.k8s.io Table when asked for (and
 * allowed), else plain JSON; undefined when nothing acceptable is offered (406).
 */
export function negotiate(accept: string | undefined, allowTable: boolean): Representation | undefined {
  if (!accept || !accept.trim()) return { kind: 'json' };
  for (const entry of accept.split(',')) {
    const [typePart, ...paramParts] = entry.split(';').map((p) => p.trim());
    const type = typePart.toLowerCase();
    const params = Object.fromEntries(
      paramParts.map((p) => {
        const i = p.indexOf('=');
        return i < 0 ? [p, ''] : [p.slice(0, i).trim(), p.slice(i + 1).trim()];
      }),
    );
    const jsonLike = type === 'application/json' || type === '*/*' || type === 'application/*';
    if (params.as !== undefined) {
      if (allowTable && jsonLike && params.as === 'Table' && params.g === 'meta.k8s.io' && (params.v === 'v1' || params.v === 'v1beta1')) {
        return { kind: 'table', apiVersion: `meta.k8s.io/${params.v}` };
      }
      // Aggregated discovery, PartialObjectMetadata and others are not served: the client
      // falls back to the next entry.
      continue;
    }
    if (jsonLike) return { kind: 'json' };
  }
  return undefined;
}

function isTrue(value: string | null): boolean {
  return value === 'true' || value === '1';
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function hasStatusSubresource(info: ResourceInfo): boolean {
  return info.subresources?.includes('status') ?? false;
}

function sendJson(res: http.ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-cache, private' });
  res.end(text);
}

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > MAX_BODY_BYTES) {
    req.resume();
    return Promise.reject(tooLarge(declared));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        failed = true;
        chunks.length = 0;
        reject(tooLarge(size));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => !failed && resolve(Buffer.concat(chunks)));
    req.on('error', (error) => !failed && reject(error));
  });
}

function tooLarge(size: number): RequestFailure {
  return new RequestFailure(413, 'RequestEntityTooLarge', `request entity too large: expected at most ${MAX_BODY_BYTES} bytes, got ${size}`);
}

function parseBody(buf: Buffer, contentType: string | undefined): unknown {
  const text = buf.toString('utf8');
  if (!text.trim()) return undefined;
  const type = (contentType ?? '').split(';')[0].trim().toLowerCase();
  if (type.includes('protobuf') || type.includes('cbor')) {
    // Clients that prefer a binary encoding switch to JSON on a 415.
    throw new RequestFailure(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json, application/yaml (got ${type})`);
  }
  try {
    if (type === 'application/yaml' || type === 'application/x-yaml') return parseYaml(text);
    return JSON.parse(text);
  } catch (error) {
    throw new RequestFailure(400, 'BadRequest', `expected a ${type.includes('yaml') ? 'YAML' : 'JSON'} body, got unparseable input: ${(error as Error).message}`);
  }
}

function requireObjectBody(body: unknown, what: string): Record<string, unknown> {
  if (!isObject(body)) {
    throw new RequestFailure(400, 'BadRequest', `expected a ${what} object in the request body, got ${body === undefined ? 'an empty body' : Array.isArray(body) ? 'an array' : typeof body}`);
  }
  return body;
}

function checkSelectors(opts: ListOptions): void {
  for (const [which, text] of [
    ['labelSelector', opts.labelSelector],
    ['fieldSelector', opts.fieldSelector],
  ] as const) {
    try {
      parseSelector(text);
    } catch (error) {
      throw new RequestFailure(400, 'BadRequest', `unable to parse ${which} ${JSON.stringify(text)}: ${(error as Error).message}`);
    }
  }
}

/**
 * True for `dryRun=All` (query or DeleteOptions): the request is validated and admitted as a real
 * one, and answered with the object that would result, but nothing is stored and no watch event
 * fires. Any other value is refused as the API server does.
 */
function isDryRun(values: unknown[]): boolean {
  for (const v of values) {
    if (v !== 'All') throw new RequestFailure(400, 'BadRequest', `dryRun: Unsupported value: ${JSON.stringify(v)}: supported values: "All"`);
  }
  return values.length > 0;
}

function dryRunOf(q: URLSearchParams): boolean {
  return isDryRun(q.getAll('dryRun'));
}

function optionalSeconds(value: unknown, what: string): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const n = typeof value === 'string' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) {
    throw new RequestFailure(400, 'BadRequest', `expected ${what} to be a non-negative integer, got ${JSON.stringify(value)}`);
  }
  return n;
}

/** The object's metadata as a mutable record, created when missing. */
function metadataOf(body: Record<string, unknown>): Record<string, unknown> {
  if (body.metadata === undefined) body.metadata = {};
  if (!isObject(body.metadata)) throw new RequestFailure(400, 'BadRequest', `expected metadata to be an object, got ${JSON.stringify(body.metadata)}`);
  return body.metadata;
}

function checkKind(body: Record<string, unknown>, info: ResourceInfo): void {
  if (body.kind !== undefined && body.kind !== info.kind) {
    throw new RequestFailure(400, 'BadRequest', `expected kind ${info.kind} for ${info.plural}, got ${JSON.stringify(body.kind)}`);
  }
  if (body.apiVersion !== undefined && body.apiVersion !== apiVersionOf(info)) {
    throw new RequestFailure(400, 'BadRequest', `expected apiVersion ${apiVersionOf(info)} for ${info.plural}, got ${JSON.stringify(body.apiVersion)}`);
  }
}

/** Checks or fills the name and namespace of a body against the URL. */
function checkIdentity(meta: Record<string, unknown>, route: { info: ResourceInfo; namespace?: string; name?: string }): void {
  if (route.name !== undefined) {
    if (meta.name === undefined || meta.name === '') meta.name = route.name;
    else if (meta.name !== route.name) {
      throw new RequestFailure(400, 'BadRequest', `the name of the object (${String(meta.name)}) does not match the name on the URL (${route.name})`);
    }
  }
  if (route.info.namespaced) {
    if (meta.namespace !== undefined && meta.namespace !== '' && meta.namespace !== route.namespace) {
      throw new RequestFailure(400, 'BadRequest', `the namespace of the provided object (${String(meta.namespace)}) does not match the namespace sent on the request (${route.namespace})`);
    }
    meta.namespace = route.namespace;
  } else delete meta.namespace;
}

/** Strategy on create, as the real registry does: status is the server's, not the client's. */
function prepareForCreate(info: ResourceInfo, body: Record<string, unknown>): void {
  const meta = metadataOf(body);
  for (const field of ['resourceVersion', 'uid', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'generation', 'managedFields', 'selfLink']) {
    delete meta[field];
  }
  if (info.plural === 'pods') body.status = { phase: 'Pending' };
  else if (info.plural === 'namespaces') body.status = { phase: 'Active' };
  else if (hasStatusSubresource(info) && info.plural !== 'nodes') delete body.status;
}

function labelSelectorString(selector: unknown): string {
  const text = selectorText(selector);
  return text === '<none>' ? '' : text;
}

function toScale(d: KubeObject) {
  const m = d.metadata;
  return {
    kind: 'Scale',
    apiVersion: 'autoscaling/v1',
    metadata: { name: m.name, namespace: m.namespace, uid: m.uid, resourceVersion: m.resourceVersion, creationTimestamp: m.creationTimestamp },
    spec: { replicas: d.spec?.replicas ?? 1 },
    status: { replicas: d.status?.replicas ?? 0, selector: labelSelectorString(d.spec?.selector) },
  };
}

/**
 * What a request asks for, as the API server's RequestInfo says before authorizing it: a verb on
 * a resource (get, list, watch, create, update, patch, delete, deletecollection) or on a path
 * outside the resources (the HTTP method in lower case); undefined for a path nothing serves.
 */
export function requestAttributes(route: ApiRoute, method: string, pathname: string, q: URLSearchParams): RequestAttributes | undefined {
  if (route.kind === 'notFound') return undefined;
  if (route.kind !== 'resource') return { kind: 'nonResource', verb: method.toLowerCase(), path: pathname };
  const { info, namespace, name, subresource } = route;
  let verb: string;
  switch (method) {
    case 'GET':
    case 'HEAD':
      verb = route.watch || (isTrue(q.get('watch')) && !subresource) ? 'watch' : name === undefined ? 'list' : 'get';
      break;
    case 'POST':
      verb = 'create';
      break;
    case 'PUT':
      verb = 'update';
      break;
    case 'PATCH':
      verb = 'patch';
      break;
    case 'DELETE':
      verb = name === undefined ? 'deletecollection' : 'delete';
      break;
    default:
      verb = method.toLowerCase();
  }
  return { kind: 'resource', verb, group: info.group, resource: info.plural, subresource, name, namespace };
}

/** The API server's 401: the credentials are missing (where anonymous access is not allowed) or not known. */
function unauthorized(): RequestFailure {
  return new RequestFailure(401, 'Unauthorized', 'Unauthorized');
}

/** The attributes an access review asks about: exactly one of resourceAttributes and nonResourceAttributes (422 otherwise). */
function reviewAttributes(kind: string, spec: Record<string, unknown>): RequestAttributes {
  const r = spec.resourceAttributes;
  const n = spec.nonResourceAttributes;
  if (isObject(r) === isObject(n)) {
    throw new RequestFailure(
      422,
      'Invalid',
      `${kind}.authorization.k8s.io "" is invalid: spec.resourceAttributes: Invalid value: ${isObject(r) ? '"both"' : '"null"'}: exactly one of nonResourceAttributes or resourceAttributes must be specified`,
    );
  }
  const text = (v: unknown) => (typeof v === 'string' ? v : '');
  if (isObject(n)) return { kind: 'nonResource', verb: text(n.verb), path: text(n.path) };
  const a = r as Record<string, unknown>;
  return {
    kind: 'resource',
    verb: text(a.verb),
    group: text(a.group),
    resource: text(a.resource),
    ...(text(a.subresource) ? { subresource: text(a.subresource) } : {}),
    ...(text(a.name) ? { name: text(a.name) } : {}),
    ...(text(a.namespace) ? { namespace: text(a.namespace) } : {}),
  };
}

/** Starts the API server on 127.0.0.1 and resolves once it listens. */
export async function startKubeApiServer(deps: KubeApiServerDeps): Promise<KubeApiServer> {
  const { store, clock } = deps;
  const host = deps.host ?? '127.0.0.1';
  if (host !== '127.0.0.1') throw new RangeError(`Expected host 127.0.0.1, got ${JSON.stringify(host)}`);
  const bookmarkMs = (deps.bookmarkSeconds ?? 60) * 1000;
  const kubernetesVersion = deps.kubernetesVersion ?? '1.31';
  const watches = new Set<() => void>();
  let address = '';
  const rbac: RbacSource = { list: (plural) => store.list(plural).items };

  const onRequest: http.RequestListener = (req, res) => {
    if (deps.log) res.on('close', () => deps.log?.(`${req.method} ${req.url} ${res.statusCode}`));
    handle(req, res).catch((error: unknown) => sendFailure(res, error));
  };
  const server = http.createServer({ keepAlive: true }, onRequest);
  // Clients reuse idle connections for a while; a short server-side idle timeout races them.
  server.keepAliveTimeout = 65_000;
  server.on('clientError', (_error, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });

  function sendFailure(res: http.ServerResponse, error: unknown): void {
    let status;
    if (error instanceof RequestFailure) status = statusObject(error.code, error.reason, error.message, error.details);
    else if (error instanceof ApiError) status = statusObject(error.code, error.reason, error.message, error.details);
    else {
      deps.log?.(`internal error: ${(error as Error)?.stack ?? String(error)}`);
      status = statusObject(500, 'InternalError', `an error on the server has prevented the request from succeeding: ${(error as Error)?.message ?? String(error)}`);
    }
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (status.code === 413) res.setHeader('Connection', 'close');
    sendJson(res, status.code, status);
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://twin.invalid');
    const route = parseApiPath(url.pathname);
    const method = req.method ?? 'GET';
    const user = authenticateAndAuthorize(req, route, method, url);
    if (route.kind === 'health') {
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('ok');
      return;
    }
    if (route.kind === 'notFound') throw new RequestFailure(404, 'NotFound', 'the server could not find the requested resource');
    if (route.kind !== 'resource') {
      if (method !== 'GET') throw new RequestFailure(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource: ${method}`);
      const body = discovery(route);
      if (!body) throw new RequestFailure(404, 'NotFound', 'the server could not find the requested resource');
      if (!negotiate(req.headers.accept, false)) throw notAcceptable(req.headers.accept);
      sendJson(res, 200, body);
      return;
    }
    const q = url.searchParams;
    const rep = negotiate(req.headers.accept, true);
    if (!rep) throw notAcceptable(req.headers.accept);
    const { info, name, subresource } = route;
    if (info.group === 'authorization.k8s.io' || info.group === 'authentication.k8s.io') {
      if (method !== 'POST' || name !== undefined || route.watch) throw methodNotAllowed(method);
      return review(req, res, info, user);
    }
    if (route.watch || (method === 'GET' && isTrue(q.get('watch')) && !subresource)) {
      if (method !== 'GET') throw methodNotAllowed(method);
      serveWatch(req, res, route, q, rep);
      return;
    }
    if (name === undefined) {
      if (method === 'GET') return list(res, route, q, rep);
      if (method === 'POST') return create(req, res, route, q);
      throw methodNotAllowed(method);
    }
    switch (subresource) {
      case undefined:
        if (method === 'GET') return sendObject(res, 200, info, store.require(info.plural, route.namespace, name), rep, q);
        if (method === 'PUT') return replace(req, res, route, q, false);
        if (method === 'PATCH') return patch(req, res, route, q, false);
        if (method === 'DELETE') return remove(req, res, route, q);
        throw methodNotAllowed(method);
      case 'status':
        if (method === 'GET') return sendJson(res, 200, store.require(info.plural, route.namespace, name));
        if (method === 'PUT') return replace(req, res, route, q, true);
        if (method === 'PATCH') return patch(req, res, route, q, true);
        throw methodNotAllowed(method);
      case 'eviction':
        if (method === 'POST') return evict(req, res, route, q);
        throw methodNotAllowed(method);
      case 'scale':
        return scale(req, res, route, q, method);
      case 'log':
        if (method === 'GET') return podLog(req, res, route, q);
        throw methodNotAllowed(method);
      default:
        throw new RequestFailure(404, 'NotFound', 'the server could not find the requested resource');
    }
  }

  /**
   * Who the request is from, once the API server may serve it: 401 for a token it did not issue or
   * an anonymous request that the public paths do not cover, 403 (kubectl's message) for a user no
   * rule allows. Undefined without auth: everything is allowed.
   */
  function authenticateAndAuthorize(req: http.IncomingMessage, route: ApiRoute, method: string, url: URL): UserInfo | undefined {
    if (!deps.auth) return undefined;
    const who = deps.auth.authenticate(req.headers.authorization);
    if (who.kind === 'invalid') throw unauthorized();
    const attrs = requestAttributes(route, method, url.pathname, url.searchParams);
    if (!attrs) {
      // Nothing is served there: the user learns it (404), the anonymous one does not.
      if (who.kind === 'anonymous') throw unauthorized();
      return who.user;
    }
    const decision = authorize(rbac, who.user, attrs);
    if (decision.allowed) return who.user;
    if (who.kind === 'anonymous') throw unauthorized();
    const details = attrs.kind === 'resource' ? { ...(attrs.name ? { name: attrs.name } : {}), group: attrs.group, kind: attrs.resource } : undefined;
    throw new RequestFailure(403, 'Forbidden', forbiddenMessage(who.user, attrs, decision.reason), details);
  }

  /**
   * POST a SelfSubjectAccessReview, SelfSubjectRulesReview, SubjectAccessReview or
   * SelfSubjectReview: answered with the request and its status (allowed and why; the rules; who
   * the caller is), never stored.
   */
  async function review(req: http.IncomingMessage, res: http.ServerResponse, info: ResourceInfo, user: UserInfo | undefined): Promise<void> {
    const body = requireObjectBody(parseBody(await readBody(req), req.headers['content-type']), info.kind);
    checkKind(body, info);
    const spec = isObject(body.spec) ? body.spec : {};
    const answer = (status: Record<string, unknown>) =>
      sendJson(res, 201, {
        kind: info.kind,
        apiVersion: apiVersionOf(info),
        metadata: { ...(isObject(body.metadata) ? body.metadata : {}), creationTimestamp: null },
        ...(info.plural === 'selfsubjectreviews' ? {} : { spec }),
        status,
      });
    if (info.plural === 'selfsubjectreviews') return answer({ userInfo: user ? { username: user.name, groups: user.groups } : {} });
    if (info.plural === 'selfsubjectrulesreviews') {
      const namespace = typeof spec.namespace === 'string' ? spec.namespace : '';
      if (!user) {
        return answer({ resourceRules: [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }], nonResourceRules: [{ verbs: ['*'], nonResourceURLs: ['*'] }], incomplete: false });
      }
      return answer(rulesFor(rbac, user, namespace));
    }
    const attrs = reviewAttributes(info.kind, spec);
    let subject = user;
    if (info.plural === 'subjectaccessreviews') {
      if (typeof spec.user !== 'string' && !Array.isArray(spec.groups)) {
        throw new RequestFailure(422, 'Invalid', `SubjectAccessReview.authorization.k8s.io "" is invalid: spec.user: Invalid value: "": at least one of user or group must be specified`);
      }
      subject = { name: typeof spec.user === 'string' ? spec.user : '', groups: Array.isArray(spec.groups) ? spec.groups.map(String) : [] };
    }
    if (!subject) return answer({ allowed: true, reason: 'the twin API checks no credentials' });
    const decision = authorize(rbac, subject, attrs);
    return answer({ allowed: decision.allowed, ...(decision.reason ? { reason: decision.reason } : {}) });
  }

  function discovery(route: ApiRoute): unknown {
    switch (route.kind) {
      case 'version':
        return versionInfo(kubernetesVersion);
      case 'apiVersions':
        return apiVersions(address);
      case 'apiGroupList':
        return apiGroupList();
      case 'apiGroup':
        return apiGroup(route.group);
      case 'resourceList':
        return apiResourceList(route.group, route.version);
      case 'openApiV3Index':
        return openApiV3Index();
      case 'openApiV3':
        return openApiV3Document(route.group, route.version);
      default:
        return undefined;
    }
  }

  function sendObject(res: http.ServerResponse, code: number, info: ResourceInfo, obj: KubeObject, rep: Representation, q: URLSearchParams): void {
    if (rep.kind === 'table') {
      sendJson(res, code, toTable(info.plural, [obj], { now: clock.now(), includeObject: includeObjectOf(q), resourceVersion: obj.metadata.resourceVersion, apiVersion: rep.apiVersion }));
    } else sendJson(res, code, obj);
  }

  function list(res: http.ServerResponse, route: Extract<ApiRoute, { kind: 'resource' }>, q: URLSearchParams, rep: Representation): void {
    const opts = listOptions(route, q);
    const { items, resourceVersion } = store.list(route.info.plural, opts);
    if (rep.kind === 'table') {
      sendJson(res, 200, toTable(route.info.plural, items, { now: clock.now(), includeObject: includeObjectOf(q), resourceVersion, apiVersion: rep.apiVersion }));
      return;
    }
    sendJson(res, 200, { kind: route.info.listKind, apiVersion: apiVersionOf(route.info), metadata: { resourceVersion }, items });
  }

  async function create(req: http.IncomingMessage, res: http.ServerResponse, route: Extract<ApiRoute, { kind: 'resource' }>, q: URLSearchParams): Promise<void> {
    const { info } = route;
    if (info.namespaced && route.namespace === undefined) throw methodNotAllowed('POST');
    const dryRun = dryRunOf(q);
    const body = requireObjectBody(parseBody(await readBody(req), req.headers['content-type']), info.kind);
    checkKind(body, info);
    checkIdentity(metadataOf(body), route);
    prepareForCreate(info, body);
    const created = store.create(info.plural, body as KubeObject, { dryRun, validate: (obj) => validateWrite(info, obj, kubernetesVersion) });
    sendJson(res, 201, created);
  }

  async function replace(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    route: Extract<ApiRoute, { kind: 'resource' }>,
    q: URLSearchParams,
    statusOnly: boolean,
  ): Promise<void> {
    const { info, namespace } = route;
    const name = route.name!;
    const dryRun = dryRunOf(q);
    const body = requireObjectBody(parseBody(await readBody(req), req.headers['content-type']), info.kind);
    checkKind(body, info);
    const meta = metadataOf(body);
    checkIdentity(meta, route);
    const current = store.require(info.plural, namespace, name);
    const expectRv = typeof meta.resourceVersion === 'string' && meta.resourceVersion ? meta.resourceVersion : undefined;
    const next = mergeForWrite(info, current, body as KubeObject, statusOnly);
    if (!statusOnly) validateWrite(info, next, kubernetesVersion);
    sendJson(res, 200, store.update(info.plural, next, { expectRv, dryRun }));
  }

  async function patch(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    route: Extract<ApiRoute, { kind: 'resource' }>,
    q: URLSearchParams,
    statusOnly: boolean,
  ): Promise<void> {
    const { info, namespace } = route;
    const name = route.name!;
    const dryRun = dryRunOf(q);
    const type = patchTypeOf(req.headers['content-type']);
    const raw = await readBody(req);
    if (!type) {
      throw new RequestFailure(
        415,
        'UnsupportedMediaType',
        `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json (got ${JSON.stringify(req.headers['content-type'] ?? '')})`,
      );
    }
    const patchBody = parseBody(raw, 'application/json');
    if (patchBody === undefined) throw new RequestFailure(400, 'BadRequest', 'expected a patch in the request body, got an empty body');
    const current = store.require(info.plural, namespace, name);
    const patched = applyPatchOrFail(type, current, patchBody);
    const meta = metadataOf(patched);
    if (meta.name !== name) throw new RequestFailure(400, 'BadRequest', `the name of the object (${String(meta.name)}) does not match the name on the URL (${name})`);
    checkIdentity(meta, route);
    const expectRv = typeof meta.resourceVersion === 'string' && meta.resourceVersion ? meta.resourceVersion : undefined;
    const next = mergeForWrite(info, current, patched as KubeObject, statusOnly);
    if (!statusOnly) validateWrite(info, next, kubernetesVersion);
    sendJson(res, 200, store.update(info.plural, next, { expectRv, dryRun }));
  }

  function applyPatchOrFail(type: PatchType, doc: unknown, patchBody: unknown): Record<string, unknown> {
    const outcome = applyPatch(type, doc, patchBody);
    if (!outcome.ok) throw new RequestFailure(outcome.code, outcome.code === 422 ? 'Invalid' : 'BadRequest', outcome.message);
    if (!isObject(outcome.value)) throw new RequestFailure(422, 'Invalid', `expected the patched document to be an object, got ${JSON.stringify(outcome.value)}`);
    return outcome.value;
  }

  /**
   * The object to store for a write: a write to /status changes only .status; a write to the
   * main resource of a kind with a status subresource keeps the stored .status.
   */
  function mergeForWrite(info: ResourceInfo, current: KubeObject, incoming: KubeObject, statusOnly: boolean): KubeObject {
    if (statusOnly) {
      const next = structuredClone(current);
      if (incoming.status === undefined) delete next.status;
      else next.status = incoming.status;
      return next;
    }
    if (hasStatusSubresource(info)) {
      if (current.status === undefined) delete incoming.status;
      else incoming.status = structuredClone(current.status);
    }
    return incoming;
  }

  async function remove(req: http.IncomingMessage, res: http.ServerResponse, route: Extract<ApiRoute, { kind: 'resource' }>, q: URLSearchParams): Promise<void> {
    const { info, namespace } = route;
    const name = route.name!;
    const body = parseBody(await readBody(req), 'application/json');
    const options = body === undefined ? {} : requireObjectBody(body, 'DeleteOptions');
    const dryRun = dryRunOf(q) || isDryRun(Array.isArray(options.dryRun) ? options.dryRun : []);
    const gracePeriodSeconds = optionalSeconds(q.get('gracePeriodSeconds') ?? options.gracePeriodSeconds, 'gracePeriodSeconds');
    const current = store.require(info.plural, namespace, name);
    const pre = isObject(options.preconditions) ? options.preconditions : {};
    if (pre.uid && pre.uid !== current.metadata.uid) {
      throw new RequestFailure(409, 'Conflict', `Precondition failed: UID in precondition: ${String(pre.uid)}, UID in object meta: ${current.metadata.uid}`);
    }
    if (pre.resourceVersion && pre.resourceVersion !== current.metadata.resourceVersion) {
      throw new RequestFailure(409, 'Conflict', `Precondition failed: ResourceVersion in precondition: ${String(pre.resourceVersion)}, ResourceVersion in object meta: ${current.metadata.resourceVersion}`);
    }
    const result = store.delete(info.plural, namespace, name, { gracePeriodSeconds, dryRun });
    // A dry run leaves the object in place: answer as if it had been deleted (or marked).
    const stillThere = dryRun ? Boolean(result.metadata.deletionTimestamp) : store.get(info.plural, namespace, name) !== undefined;
    if (info.plural === 'pods' || stillThere) {
      sendJson(res, stillThere && info.plural !== 'pods' ? 202 : 200, result);
      return;
    }
    sendJson(res, 200, statusObject(200, '', '', { name, group: info.group, kind: info.plural, uid: current.metadata.uid }));
  }

  async function evict(req: http.IncomingMessage, res: http.ServerResponse, route: Extract<ApiRoute, { kind: 'resource' }>, q: URLSearchParams): Promise<void> {
    const namespace = route.namespace!;
    const name = route.name!;
    const body = requireObjectBody(parseBody(await readBody(req), req.headers['content-type']), 'Eviction');
    // ?dryRun=All on the eviction counts as the Eviction's own deleteOptions.dryRun.
    if (dryRunOf(q)) body.deleteOptions = { ...(isObject(body.deleteOptions) ? body.deleteOptions : {}), dryRun: ['All'] };
    if (body.kind !== undefined && body.kind !== 'Eviction') throw new RequestFailure(400, 'BadRequest', `expected kind Eviction, got ${JSON.stringify(body.kind)}`);
    const meta = isObject(body.metadata) ? body.metadata : {};
    if (meta.name !== undefined && meta.name !== name) {
      throw new RequestFailure(400, 'BadRequest', `name in URL does not match name in Eviction object: expected ${name}, got ${JSON.stringify(meta.name)}`);
    }
    store.require('pods', namespace, name);
    if (deps.hooks?.evict) {
      const answer = await deps.hooks.evict(namespace, name, body);
      sendJson(res, answer.code, answer.body ?? statusObject(answer.code, '', ''));
      return;
    }
    const deleteOptions = isObject(body.deleteOptions) ? body.deleteOptions : {};
    const gracePeriodSeconds = optionalSeconds(deleteOptions.gracePeriodSeconds, 'deleteOptions.gracePeriodSeconds');
    const dryRun = isDryRun(Array.isArray(deleteOptions.dryRun) ? deleteOptions.dryRun : []);
    store.delete('pods', namespace, name, { gracePeriodSeconds, dryRun });
    sendJson(res, 201, statusObject(201, '', ''));
  }

  async function scale(req: http.IncomingMessage, res: http.ServerResponse, route: Extract<ApiRoute, { kind: 'resource' }>, q: URLSearchParams, method: string): Promise<void> {
    const { info, namespace } = route;
    const name = route.name!;
    if (method === 'GET') {
      sendJson(res, 200, toScale(store.require(info.plural, namespace, name)));
      return;
    }
    if (method !== 'PUT' && method !== 'PATCH') throw methodNotAllowed(method);
    const dryRun = dryRunOf(q);
    const raw = await readBody(req);
    const current = store.require(info.plural, namespace, name);
    let wanted: Record<string, unknown>;
    if (method === 'PUT') wanted = requireObjectBody(parseBody(raw, req.headers['content-type']), 'Scale');
    else {
      const type = patchTypeOf(req.headers['content-type']);
      if (!type) throw new RequestFailure(415, 'UnsupportedMediaType', `expected a patch content type, got ${JSON.stringify(req.headers['content-type'] ?? '')}`);
      wanted = applyPatchOrFail(type, toScale(current), parseBody(raw, 'application/json'));
    }
    const replicas = isObject(wanted.spec) ? wanted.spec.replicas : undefined;
    if (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 0) {
      throw new RequestFailure(422, 'Invalid', `Scale.autoscaling "${name}" is invalid: spec.replicas: expected a non-negative integer, got ${JSON.stringify(replicas)}`);
    }
    const meta = isObject(wanted.metadata) ? wanted.metadata : {};
    const expectRv = typeof meta.resourceVersion === 'string' && meta.resourceVersion ? meta.resourceVersion : undefined;
    current.spec = { ...(current.spec ?? {}), replicas };
    sendJson(res, 200, toScale(store.update(info.plural, current, { expectRv, dryRun })));
  }

  /**
   * GET pods/NAME/log: the container's lines as plain text, selected as PodLogOptions say; with
   * `follow`, a chunked stream that ends when the container instance ends, the client goes away,
   * `limitBytes` is reached or the server closes.
   */
  function podLog(req: http.IncomingMessage, res: http.ServerResponse, route: Extract<ApiRoute, { kind: 'resource' }>, q: URLSearchParams): void {
    const namespace = route.namespace!;
    const name = route.name!;
    const opts = parseLogOptions(name, q);
    const pod = store.require('pods', namespace, name);
    const container = logContainerOf(pod, opts.container);
    // An unscheduled pod has no kubelet to ask: the API server answers with nothing.
    if (!pod.spec?.nodeName) return sendText(res, '');
    const source = deps.hooks?.logs?.({ namespace, name, uid: pod.metadata.uid, container, previous: opts.previous });
    if (source === undefined) throw new RequestFailure(400, 'BadRequest', `container ${JSON.stringify(container)} in pod ${JSON.stringify(name)} is not available`);
    if (typeof source === 'string') throw new RequestFailure(400, 'BadRequest', source);
    const sinceMs = opts.sinceSeconds !== undefined ? clock.now() - opts.sinceSeconds * 1000 : opts.sinceMs;
    const initial = selectLines(source.lines(), { tailLines: opts.tailLines, sinceMs });
    let left = opts.limitBytes ?? Number.POSITIVE_INFINITY;
    /** The bytes of `lines` that fit in what is left of limitBytes. */
    const take = (lines: LogLine[]): Buffer => {
      const whole = Buffer.from(lines.map((l) => formatLine(l, opts.timestamps)).join(''), 'utf8');
      const out = whole.length > left ? whole.subarray(0, left) : whole;
      left -= out.length;
      return out;
    };
    if (!opts.follow) {
      const body = take(initial);
      res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': body.length, 'Cache-Control': 'no-cache, private' });
      res.end(body);
      return;
    }
    // No Content-Length: Node sends the body chunked, as the API server streams a followed log.
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Cache-Control': 'no-cache, private' });
    res.flushHeaders();
    let closed = false;
    const following: { stop?: () => void } = {};
    const finish = () => {
      if (closed) return;
      closed = true;
      following.stop?.();
      watches.delete(finish);
      if (!res.writableEnded) res.end();
    };
    const send = (lines: LogLine[]) => {
      if (closed || res.destroyed) return;
      const chunk = take(lines);
      if (chunk.length > 0) res.write(chunk);
      if (left <= 0 || res.writableLength > MAX_WATCH_BUFFER) finish();
    };
    watches.add(finish);
    res.on('close', finish);
    req.on('close', finish);
    send(initial);
    if (closed) return;
    following.stop = source.follow((line) => send(sinceMs === undefined || line.time >= sinceMs ? [line] : []), finish);
    if (closed) following.stop();
  }

  function serveWatch(req: http.IncomingMessage, res: http.ServerResponse, route: Extract<ApiRoute, { kind: 'resource' }>, q: URLSearchParams, rep: Representation): void {
    const { info } = route;
    const opts = listOptions(route, q);
    const rv = q.get('resourceVersion') ?? '';
    if (rv && !/^[0-9]+$/.test(rv)) throw new RequestFailure(400, 'BadRequest', `expected resourceVersion to be a number, got ${JSON.stringify(rv)}`);
    const timeoutSeconds = optionalSeconds(q.get('timeoutSeconds'), 'timeoutSeconds');
    const sendInitialEvents = isTrue(q.get('sendInitialEvents'));
    const include = includeObjectOf(q);

    res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private' });
    res.flushHeaders();
    const timers: Timer[] = [];
    let stopWatch: (() => void) | undefined;
    let closed = false;
    let columnsSent = false;
    const finish = () => {
      if (closed) return;
      closed = true;
      stopWatch?.();
      for (const t of timers) t.cancel();
      watches.delete(finish);
      if (!res.writableEnded) res.end();
    };
    watches.add(finish);
    res.on('close', finish);
    const write = (type: string, object: unknown) => {
      if (closed || res.destroyed) return;
      let out = object;
      if (rep.kind === 'table' && type !== 'ERROR' && type !== 'BOOKMARK') {
        // Column definitions go out once per stream, as the real server does.
        out = toTable(info.plural, [object as KubeObject], { now: clock.now(), includeObject: include, withColumns: !columnsSent, apiVersion: rep.apiVersion });
        columnsSent = true;
      }
      res.write(`${JSON.stringify({ type, object: out })}\n`);
      if (res.writableLength > MAX_WATCH_BUFFER) finish();
    };
    const bookmark = (annotations?: Record<string, string>) =>
      write('BOOKMARK', { kind: info.kind, apiVersion: apiVersionOf(info), metadata: { resourceVersion: store.resourceVersion, ...(annotations ? { annotations } : {}) } });
    try {
      if (!rv || rv === '0' || sendInitialEvents) {
        // Without a resourceVersion a watch starts with the current state as ADDED events.
        const current = store.list(info.plural, opts);
        for (const item of current.items) write('ADDED', item);
        if (sendInitialEvents) bookmark({ 'k8s.io/initial-events-end': 'true' });
        stopWatch = store.watch(info.plural, { ...opts, resourceVersion: current.resourceVersion }, (e) => write(e.type, e.object));
      } else {
        stopWatch = store.watch(info.plural, { ...opts, resourceVersion: rv }, (e) => write(e.type, e.object));
      }
    } catch (error) {
      if (error instanceof ApiError && error.code === 410) write('ERROR', statusObject(410, 'Expired', error.message));
      else write('ERROR', statusObject(500, 'InternalError', (error as Error)?.message ?? String(error)));
      finish();
      return;
    }
    if (closed) {
      stopWatch();
      return;
    }
    if (isTrue(q.get('allowWatchBookmarks'))) timers.push(clock.setInterval(() => bookmark(), bookmarkMs));
    if (timeoutSeconds !== undefined && timeoutSeconds > 0) timers.push(clock.setTimeout(finish, timeoutSeconds * 1000));
    req.on('close', finish);
  }

  const listen = (s: http.Server, port: number) =>
    new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen(port, host, () => {
        s.off('error', reject);
        resolve();
      });
    });
  await listen(server, deps.port ?? 0);
  const port = (server.address() as AddressInfo).port;
  address = `${host}:${port}`;
  let secure: https.Server | undefined;
  if (deps.tls) {
    secure = https.createServer({ key: deps.tls.key, cert: deps.tls.cert, keepAlive: true }, onRequest);
    secure.keepAliveTimeout = server.keepAliveTimeout;
    try {
      await listen(secure, 0);
    } catch (error) {
      server.close();
      server.closeAllConnections();
      throw error;
    }
  }
  const closeServer = (s: http.Server) =>
    new Promise<void>((resolve) => {
      s.close(() => resolve());
      s.closeAllConnections();
    });
  return {
    url: `http://${address}`,
    port,
    ...(secure ? { secureUrl: `https://${host}:${(secure.address() as AddressInfo).port}` } : {}),
    close: async () => {
      for (const finish of [...watches]) finish();
      await Promise.all([closeServer(server), ...(secure ? [closeServer(secure)] : [])]);
    },
  };
}

function listOptions(route: Extract<ApiRoute, { kind: 'resource' }>, q: URLSearchParams): ListOptions {
  const fieldSelector = [q.get('fieldSelector') ?? '', route.name !== undefined ? `metadata.name=${route.name}` : ''].filter(Boolean).join(',');
  const opts: ListOptions = {
    namespace: route.info.namespaced ? route.namespace : undefined,
    labelSelector: q.get('labelSelector') ?? undefined,
    fieldSelector: fieldSelector || undefined,
  };
  checkSelectors(opts);
  return opts;
}

function includeObjectOf(q: URLSearchParams): IncludeObject {
  const v = q.get('includeObject');
  return v === 'None' || v === 'Object' ? v : 'Metadata';
}

function sendText(res: http.ServerResponse, text: string): void {
  res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-cache, private' });
  res.end(text);
}

/** PodLogOptions from the query, validated as the API server does (422 Invalid, 400 for what does not parse). */
export interface PodLogOptions {
  container?: string;
  follow: boolean;
  previous: boolean;
  timestamps: boolean;
  tailLines?: number;
  sinceSeconds?: number;
  /** sinceTime as model epoch ms. */
  sinceMs?: number;
  limitBytes?: number;
}

function parseLogOptions(name: string, q: URLSearchParams): PodLogOptions {
  const integer = (key: string): number | undefined => {
    const v = q.get(key);
    if (v === null || v === '') return undefined;
    if (!/^-?[0-9]+$/.test(v)) throw new RequestFailure(400, 'BadRequest', `expected ${key} to be an integer, got ${JSON.stringify(v)}`);
    return Number(v);
  };
  const opts: PodLogOptions = {
    container: q.get('container') || undefined,
    follow: isTrue(q.get('follow')),
    previous: isTrue(q.get('previous')),
    timestamps: isTrue(q.get('timestamps')),
    tailLines: integer('tailLines'),
    sinceSeconds: integer('sinceSeconds'),
    limitBytes: integer('limitBytes'),
  };
  const sinceTime = q.get('sinceTime');
  if (sinceTime) {
    const ms = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(sinceTime) ? Date.parse(sinceTime) : Number.NaN;
    if (Number.isNaN(ms)) throw new RequestFailure(400, 'BadRequest', `expected sinceTime in RFC 3339 (2006-01-02T15:04:05Z), got ${JSON.stringify(sinceTime)}`);
    opts.sinceMs = ms;
  }
  const causes: Array<{ field: string; message: string }> = [];
  if (opts.tailLines !== undefined && opts.tailLines < 0) causes.push({ field: 'tailLines', message: `Invalid value: ${opts.tailLines}: must be greater than or equal to 0` });
  if (opts.limitBytes !== undefined && opts.limitBytes < 1) causes.push({ field: 'limitBytes', message: `Invalid value: ${opts.limitBytes}: must be greater than 0` });
  if (opts.sinceSeconds !== undefined && opts.sinceSeconds < 1) causes.push({ field: 'sinceSeconds', message: `Invalid value: ${opts.sinceSeconds}: must be greater than 0` });
  if (opts.sinceSeconds !== undefined && opts.sinceMs !== undefined) causes.push({ field: '', message: 'Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified' });
  if (causes.length > 0) {
    const text = causes.map((c) => (c.field ? `${c.field}: ${c.message}` : c.message)).join(', ');
    throw new RequestFailure(422, 'Invalid', `PodLogOptions ${JSON.stringify(name)} is invalid: ${text}`, { name, group: '', kind: 'PodLogOptions', causes: causes.map((c) => ({ field: c.field, message: c.message })) });
  }
  return opts;
}

/** The container a log request names, or the pod's only one; the API server's 400s otherwise. */
function logContainerOf(pod: KubeObject, asked: string | undefined): string {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- wire JSON
  const names: string[] = (pod.spec?.containers ?? []).map((c: any) => String(c.name));
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- wire JSON
  const initNames: string[] = (pod.spec?.initContainers ?? []).map((c: any) => String(c.name));
  const podName = pod.metadata.name;
  if (asked === undefined) {
    if (names.length === 1) return names[0];
    if (names.length === 0) throw new RequestFailure(400, 'BadRequest', `pod ${podName} does not have a container`);
    const init = initNames.length > 0 ? ` or one of the init containers: [${initNames.join(' ')}]` : '';
    throw new RequestFailure(400, 'BadRequest', `a container name must be specified for pod ${podName}, choose one of: [${names.join(' ')}]${init}`);
  }
  if (!names.includes(asked) && !initNames.includes(asked)) throw new RequestFailure(400, 'BadRequest', `container ${asked} is not valid for pod ${podName}`);
  return asked;
}

function methodNotAllowed(method: string): RequestFailure {
  return new RequestFailure(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource: ${method}`);
}

function notAcceptable(accept: string | undefined): RequestFailure {
  return new RequestFailure(406, 'NotAcceptable', `expected an Accept header that allows application/json, got ${JSON.stringify(accept ?? '')}`);
}
