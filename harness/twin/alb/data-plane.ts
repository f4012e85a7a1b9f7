/**
 * The ALB twin's data plane: one server on 127.0.0.1 per listener of a load balancer (HTTP, or
 * HTTPS with the twin CA's certificate). Each request runs the listener's rules (compiled when
 * they change): forward, fixed-response or redirect. Client connections are spread over the LB
 * nodes round robin (a connection sticks to its node, as with DNS); each node routes through its
 * own view of each target group and keeps a keep-alive pool per target. Failures get the ALB's
 * status codes and the twin's exact reason in the access log.
 */
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type tls from 'node:tls';
import { Pool, type Dispatcher } from 'undici';
import type { Clock, Timer } from '../../core/clock.ts';
import { EnvironmentError } from '../../core/errors.ts';
import type { TwinConfig } from '../config.ts';
import type { Network } from '../network.ts';
import { hashString } from '../../core/random.ts';
import type { AlbLogEntry } from './alb-log.ts';
import type { NodeView, TargetEntry } from './model.ts';
import { hostOf, pathOf, redirectLocation, ruleIndexOf, type RouteTable } from './rules.ts';
import type { AccessLogRecord, FailureReason, RuleAction, TargetState } from './types.ts';

/** Header that forces a request onto one LB node (by zone name), for tests. */
export const LB_NODE_HEADER = 'x-twin-lb-node';

/** Headers a proxy does not pass on (RFC 9110 §7.6.1), and the twin's own node header. */
export const HOP_BY_HOP: ReadonlySet<string> = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer', LB_NODE_HEADER]);

const STATUS_TEXT: Record<number, string> = {
  301: '301 Moved Permanently',
  302: '302 Found',
  502: '502 Bad Gateway',
  503: '503 Service Temporarily Unavailable',
  504: '504 Gateway Time-out',
};

/** The ALB's own error page for a status. */
function errorPage(status: number): string {
  const title = STATUS_TEXT[status] ?? String(status);
  return `<html>\r\n<head><title>${title}</title></head>\r\n<body>\r\n<center><h1>${title}</h1></center>\r\n</body>\r\n</html>\r\n`;
}

/** Errors raised while connecting (as opposed to on an established connection). */
const connectErrors = new WeakSet<Error>();
/** Set on socket errors of connections that had carried earlier responses. */
const REUSED = Symbol('reused');

/**
 * A keep-alive pool to one target from one LB node (undici: the leanest client in Node). It
 * connects through the twin so connections are counted and the connect timeout runs on the
 * clock; idle connections close after the ALB idle timeout, ignoring the target's Keep-Alive
 * hint as the ALB does (that is the keep-alive race). The idle close is undici's own timer, set
 * from the clock's scale.
 */
class TargetPool {
  readonly pool: Pool;

  constructor(entry: TargetEntry, clock: Clock, idleMs: number, connectMs: number) {
    const idleRealMs = Math.max(1, clock.toRealMs(idleMs));
    this.pool = new Pool(`http://${entry.ref.id}:${entry.ref.port}`, {
      pipelining: 1,
      keepAliveTimeout: idleRealMs,
      keepAliveMaxTimeout: idleRealMs,
      // A hint of N s gives min(N s + 1e12 ms, max): the hint never shortens the idle timeout.
      keepAliveTimeoutThreshold: -1e12,
      // Response timeouts are the ALB idle timeout, kept per request on the clock.
      headersTimeout: 0,
      bodyTimeout: 0,
      connect: (_options, callback) => {
        const socket = net.connect({ host: entry.ref.id, port: entry.ref.port, noDelay: true, keepAlive: true, keepAliveInitialDelay: 1000 });
        let connected = false;
        entry.group.connectionOpened(entry);
        socket.once('close', () => entry.group.connectionClosed(entry));
        const timer = clock.setTimeout(() => {
          const err = Object.assign(new Error(`no connect to ${entry.key} within ${connectMs / 1000}s`), { code: 'ETIMEDOUT' });
          connectErrors.add(err);
          socket.destroy(err);
        }, connectMs);
        // Registered before undici's own listener: marks the error before undici passes it on.
        socket.on('error', (err: Error & { [REUSED]?: boolean }) => {
          if (!connected) {
            timer.cancel();
            connectErrors.add(err);
            callback(err, null);
          } else err[REUSED] = socket.bytesRead > 0;
        });
        socket.once('connect', () => {
          connected = true;
          timer.cancel();
          callback(null, socket);
        });
      },
    });
    this.pool.on('connectionError', () => undefined);
  }
}

/**
 * Real ms after sending within which a reused connection's close counts as a keep-alive race: the
 * reset comes back at once, so this only has to cover event-loop lag on a busy machine.
 */
const KEEPALIVE_RACE_WINDOW_MS = 250;

/** True when the connection the request failed on had carried earlier responses. */
function wasReused(err: Error & { [REUSED]?: boolean; socket?: { bytesRead?: number } }): boolean {
  return err[REUSED] ?? (err.socket?.bytesRead ?? 0) > 0;
}

/** The request's size as received: request line, headers and the body its Content-Length announces. */
function requestBytes(req: http.IncomingMessage): number {
  let size = Buffer.byteLength(`${req.method ?? 'GET'} ${req.url ?? '/'} HTTP/${req.httpVersion}\r\n`) + 2;
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) size += Buffer.byteLength(raw[i]) + Buffer.byteLength(raw[i + 1]) + 4;
  const length = Number(req.headers['content-length']);
  return size + (Number.isFinite(length) && length > 0 ? length : 0);
}

/** One LB node of a load balancer: its name (zone), its view of each target group and its pools. */
export class LbNode {
  /** The view of the first target group a listener forwarded to (what `route` and `nodeView` inspect). */
  view?: NodeView;
  /** Target group ARN → this node's view of it. */
  readonly views = new Map<string, NodeView>();
  readonly pools = new Map<TargetEntry, TargetPool>();

  constructor(readonly name: string) {}

  /** The node no longer routes to a draining target: close its connections as their requests finish. */
  closeIdle(entry: TargetEntry): void {
    if (entry.state !== 'draining' && entry.inGroup) return;
    const pool = this.pools.get(entry);
    if (!pool) return;
    this.pools.delete(entry);
    pool.pool.close().catch(() => undefined);
  }

  /** Drops the pool to a target that left the group; resolves once its requests have failed and its connections are closed. */
  dropPool(entry: TargetEntry): Promise<void> {
    const pool = this.pools.get(entry);
    if (!pool) return Promise.resolve();
    this.pools.delete(entry);
    return pool.pool.destroy().catch(() => undefined);
  }
}

/** One finished request: the twin's ground truth and the entry the ALB would log, from one LB node. */
export interface RequestOutcome {
  node: LbNode;
  record: AccessLogRecord;
  entry: AlbLogEntry;
}

/** What the data plane needs. */
export interface DataPlaneDeps {
  clock: Clock;
  network: Network;
  alb: TwinConfig['alb'];
  /** `app/<name>/<id>`: the ALB log's elb field; also salts trace ids. */
  elb: string;
  /** Called once per request, when the LB has finished with it. */
  onRequest?: (outcome: RequestOutcome) => void;
  nodes: LbNode[];
}

const hex8 = (n: number) => (n >>> 0).toString(16).padStart(8, '0');

/** A certificate and its key, PEM. */
export interface TlsIdentity {
  key: string;
  cert: string;
}

/** One listener's server: its protocol, the load balancer port it stands for, and its compiled rules. */
export class ListenerEndpoint {
  /** undefined until a listener uses the server: requests get 503 ('no listener'). */
  routes?: RouteTable;
  albPort = '80';
  url = '';

  constructor(
    readonly server: http.Server,
    readonly protocol: 'http' | 'https',
  ) {}

  /** The listener's rules changed: the data plane uses `routes` from the next request on. */
  setRoutes(albPort: number, routes: RouteTable): void {
    this.albPort = String(albPort);
    this.routes = routes;
  }

  /** Serves another certificate to new connections (HTTPS). */
  setIdentity(identity: TlsIdentity): void {
    (this.server as https.Server).setSecureContext({ key: identity.key, cert: identity.cert });
  }
}

/** The listeners of one load balancer. */
export class DataPlane {
  readonly nodes: LbNode[];
  readonly endpoints: ListenerEndpoint[] = [];
  #deps: DataPlaneDeps;
  #nodeOf = new WeakMap<net.Socket, LbNode>();
  #nextNode = 0;
  #traceSeq = 0;
  #connSeq = 0;
  #connTrace = new WeakMap<net.Socket, string>();
  #salt: string;
  #idleMs: number;
  #connectMs: number;

  private constructor(deps: DataPlaneDeps) {
    this.#deps = deps;
    this.nodes = deps.nodes;
    this.#salt = hex8(hashString(deps.elb));
    this.#idleMs = deps.alb.idleTimeoutSeconds * 1000;
    this.#connectMs = deps.alb.connectTimeoutSeconds * 1000;
  }

  /** Starts the first listener's server, plain HTTP, on 127.0.0.1:`port` (0 = a free port). */
  static async start(deps: DataPlaneDeps, port: number): Promise<DataPlane> {
    const plane = new DataPlane(deps);
    await plane.listen('http', port);
    return plane;
  }

  /** Starts another listener's server on 127.0.0.1:`port` (0 = a free port); HTTPS serves `identity`. */
  async listen(protocol: 'http' | 'https', port: number, identity?: TlsIdentity): Promise<ListenerEndpoint> {
    // Client-side idle connections close after the ALB idle timeout (Node wants whole real ms).
    const keepAliveTimeout = Math.max(1, Math.round(this.#deps.clock.toRealMs(this.#idleMs)));
    const options = { keepAliveTimeout, requestTimeout: 0 };
    let endpoint: ListenerEndpoint;
    const handler = (req: http.IncomingMessage, res: http.ServerResponse) => this.#handle(req, res, endpoint);
    if (protocol === 'https') {
      if (!identity) throw new Error('An HTTPS listener needs a certificate');
      endpoint = new ListenerEndpoint(https.createServer({ ...options, key: identity.key, cert: identity.cert }, handler), 'https');
      endpoint.server.on('secureConnection', (socket: net.Socket) => this.#accept(socket));
    } else {
      endpoint = new ListenerEndpoint(http.createServer(options, handler), 'http');
      endpoint.server.on('connection', (socket: net.Socket) => this.#accept(socket));
    }
    await new Promise<void>((resolve, reject) => {
      endpoint.server.once('error', (err) =>
        reject(new EnvironmentError(`Expected to listen on 127.0.0.1:${port} for the ALB twin, got ${err.message}`, { cause: err })),
      );
      endpoint.server.listen(port, '127.0.0.1', () => resolve());
    });
    endpoint.url = `${protocol}://127.0.0.1:${(endpoint.server.address() as net.AddressInfo).port}`;
    this.endpoints.push(endpoint);
    return endpoint;
  }

  /** A client connection: it sticks to the next LB node and gets its conn_trace_id. */
  #accept(socket: net.Socket): void {
    socket.setNoDelay(true);
    this.#nodeOf.set(socket, this.nodes[this.#nextNode++ % this.nodes.length]);
    this.#connTrace.set(socket, `TID_${this.#salt}${hex8(hashString(`${this.#salt}:conn`))}${(this.#connSeq++).toString(16).padStart(16, '0')}`);
  }

  /** The first listener's address, e.g. http://127.0.0.1:41234 */
  get url(): string {
    return this.endpoints[0]?.url ?? '';
  }

  /** The load balancer's idle timeout changed (attribute idle_timeout.timeout_seconds): applies to new requests and pools. */
  setIdleTimeout(seconds: number): void {
    this.#idleMs = seconds * 1000;
    for (const e of this.endpoints) e.server.keepAliveTimeout = Math.max(1, Math.round(this.#deps.clock.toRealMs(this.#idleMs)));
  }

  /** Stops listening and closes every connection, to clients and to targets. */
  async close(): Promise<void> {
    const closed = this.endpoints.map((e) => new Promise<void>((resolve) => e.server.close(() => resolve())));
    for (const e of this.endpoints) e.server.closeAllConnections();
    // The requests the pools' destruction cuts off are logged before close resolves, not after.
    const dropped = this.nodes.flatMap((node) => [...node.pools.keys()].map((entry) => node.dropPool(entry)));
    await Promise.all([...closed, ...dropped]);
  }

  #node(req: http.IncomingMessage): LbNode {
    const forced = req.headers[LB_NODE_HEADER];
    if (typeof forced === 'string') {
      const node = this.nodes.find((n) => n.name === forced);
      if (node) return node;
    }
    return this.#nodeOf.get(req.socket) ?? this.nodes[0];
  }

  #handle(req: http.IncomingMessage, res: http.ServerResponse, endpoint: ListenerEndpoint): void {
    const clock = this.#deps.clock;
    const arrived = clock.now();
    const node = this.#node(req);
    const method = req.method ?? 'GET';
    const path = req.url ?? '/';
    const socket = req.socket;
    const client = `${socket.remoteAddress ?? '127.0.0.1'}:${socket.remotePort ?? 0}`;
    const userAgent = typeof req.headers['user-agent'] === 'string' && req.headers['user-agent'] ? req.headers['user-agent'] : '-';
    const traceId = this.#traceId(req, arrived);
    const writtenAtStart = socket.bytesWritten;
    const receivedBytes = requestBytes(req);
    const hostHeader = typeof req.headers.host === 'string' && req.headers.host ? req.headers.host : '127.0.0.1';
    const requestHost = hostHeader.startsWith('[') ? hostHeader.slice(0, hostHeader.indexOf(']') + 1) : hostHeader.split(':')[0];
    const forwardedPort = endpoint.albPort;
    const requestLine = `${method} ${endpoint.protocol}://${requestHost}:${forwardedPort}${path.startsWith('/') ? path : `/${path}`} HTTP/${req.httpVersion}`;
    // The listener's rules decide; a listener without rules goes straight to its default action.
    const routes = endpoint.routes;
    const matched = !routes || routes.rules.length === 0 ? -1 : ruleIndexOf(routes, hostOf(hostHeader), pathOf(path));
    const action: RuleAction | undefined = !routes ? undefined : matched < 0 ? routes.defaultAction : routes.rules[matched].action;
    const targetGroupArn = action?.type === 'forward' ? action.targetGroupArn : '';
    const view = action?.type === 'forward' ? node.views.get(action.targetGroupArn) : undefined;
    const choice = view?.pick() ?? { kind: 'none' as const };
    const connTraceId = this.#connTrace.get(socket) ?? `TID_${this.#salt}${'0'.repeat(24)}`;

    const log = (
      elbStatus: number,
      targetStatus: number | null,
      target: string,
      targetState: TargetState | '-',
      targetControlState: TargetState | '-',
      routedAt: number,
      sentAt: number,
      headersAt: number,
      reason?: FailureReason,
      detail?: string,
    ) => {
      const sink = this.#deps.onRequest;
      if (!sink) return;
      const now = clock.now();
      const record: AccessLogRecord = {
        type: 'request',
        time: arrived / 1000,
        lbNode: node.name,
        method,
        path,
        target,
        targetState,
        targetControlState,
        elbStatus,
        targetStatus,
        requestProcessingTime: (routedAt - arrived) / 1000,
        targetProcessingTime: headersAt < 0 ? -1 : (headersAt - sentAt) / 1000,
        totalTime: (now - arrived) / 1000,
        traceId,
        client,
        userAgent,
      };
      if (reason) record.reason = reason;
      if (detail) record.detail = detail;
      // No response from a target: the guide sets all three processing times to -1 (not dispatched,
      // connection closed by the target, or no response within the idle timeout).
      const answered = targetStatus !== null && headersAt >= 0;
      const entry: AlbLogEntry = {
        time: now,
        elb: this.#deps.elb,
        client,
        target: target === '-' ? '-' : target,
        requestProcessingTime: answered ? (sentAt - arrived) / 1000 : -1,
        targetProcessingTime: answered ? (headersAt - sentAt) / 1000 : -1,
        responseProcessingTime: answered ? 0 : -1,
        elbStatusCode: elbStatus,
        targetStatusCode: targetStatus,
        receivedBytes,
        sentBytes: Math.max(0, socket.bytesWritten - writtenAtStart),
        request: requestLine,
        userAgent,
        targetGroupArn,
        traceId,
        requestCreationTime: arrived,
        connTraceId,
      };
      if (endpoint.protocol === 'https') {
        const tlsSocket = socket as tls.TLSSocket;
        entry.type = 'https';
        entry.tls = { domainName: (tlsSocket as { servername?: string | false }).servername || '', cipher: tlsSocket.getCipher?.()?.name ?? '-', protocol: tlsSocket.getProtocol?.() ?? '-' };
      }
      if (matched >= 0) entry.matchedRulePriority = routes!.rules[matched].priority;
      if (action && action.type !== 'forward') entry.actionExecuted = action.type;
      sink({ node, record, entry });
    };

    if (action && action.type !== 'forward') {
      // The load balancer answers itself: not a target's response, and never a 5xx of the twin's making.
      req.resume();
      const status = action.type === 'redirect' ? this.#sendRedirect(res, action, endpoint, requestHost, forwardedPort, path) : this.#sendFixed(res, action);
      const now = clock.now();
      log(status, null, '-', '-', '-', now, now, -1, undefined, action.type);
      return;
    }

    if (choice.kind === 'none') {
      req.resume();
      this.#sendError(res, 503);
      const now = clock.now();
      log(503, null, '-', '-', '-', now, now, -1, 'no-routable-targets', view ? 'no routable targets in this node' : 'no listener');
      return;
    }

    const entry = choice.entry;
    const group = entry.group;
    const targetKey = entry.key;
    const viewState = choice.viewState;
    const controlState = entry.state;
    const host = entry.ref.id;
    const routedAt = clock.now();
    let sentAt = routedAt;
    let headersAt = -1;
    let done = false;
    const timers: { connect?: Timer; idle?: Timer } = {};
    let controller: Dispatcher.DispatchController | undefined;
    const upstreamAbort = () => controller?.abort(new Error('aborted by the ALB twin'));
    // The node that routed counts the request too: least outstanding requests is per LB node.
    group.requestStarted(entry);
    view?.requestStarted(entry);

    const release = () => {
      timers.connect?.cancel();
      timers.idle?.cancel();
      entry.inFlightAborts.delete(abort);
      group.requestFinished(entry);
      view?.requestFinished(entry);
    };
    const fail = (status: number, reason: FailureReason, detail?: string) => {
      if (done) return;
      done = true;
      upstreamAbort();
      if (!res.headersSent) this.#sendError(res, status);
      else res.destroy();
      release();
      const targetStatus = headersAt >= 0 ? res.statusCode : null;
      log(res.headersSent && headersAt >= 0 ? res.statusCode : status, targetStatus, targetKey, viewState, controlState, routedAt, sentAt, headersAt, reason, detail);
    };
    const abort = () => fail(502, 'delay-elapsed-in-flight', 'deregistration delay elapsed');
    entry.inFlightAborts.add(abort);

    // The client went away first: ALB logs 460, which is not a 5xx.
    res.on('close', () => {
      if (done || res.writableFinished) return;
      done = true;
      upstreamAbort();
      release();
      log(460, headersAt >= 0 ? res.statusCode : null, targetKey, viewState, controlState, routedAt, sentAt, headersAt, undefined, 'client closed');
    });

    if (this.#deps.network.isBlackholed(host, entry.ref.port)) {
      // The instance is gone: the SYN is dropped and only the connect timeout ends the wait.
      req.resume();
      timers.connect = clock.setTimeout(() => fail(504, 'connect-timeout', `no connect to ${targetKey} within ${this.#connectMs / 1000}s`), this.#connectMs);
      return;
    }

    let pool = node.pools.get(entry);
    if (!pool) {
      pool = new TargetPool(entry, clock, this.#idleMs, this.#connectMs);
      node.pools.set(entry, pool);
    }

    timers.idle = clock.setTimeout(
      () => fail(504, 'idle-timeout', `no response within the idle timeout (${this.#idleMs / 1000}s)`),
      this.#idleMs,
    );
    const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
    if (!hasBody) req.resume();
    sentAt = clock.now();
    let status = 0;
    pool.pool.dispatch(
      { path, method: method as Dispatcher.HttpMethod, headers: this.#forwardHeaders(req, traceId, endpoint), body: hasBody ? req : null },
      {
        onRequestStart: (c) => {
          controller = c;
          if (done) upstreamAbort();
        },
        onResponseStart: (_c, statusCode, headers) => {
          if (done || statusCode < 200) return;
          headersAt = clock.now();
          timers.idle?.cancel();
          status = statusCode;
          for (const name of HOP_BY_HOP) delete headers[name];
          res.writeHead(statusCode, headers);
        },
        onResponseData: (c, chunk) => {
          if (done) return;
          if (!res.write(chunk)) {
            c.pause();
            res.once('drain', () => c.resume());
          }
        },
        onResponseEnd: () => {
          if (done) return;
          done = true;
          res.end();
          release();
          if (status >= 500) log(status, status, targetKey, viewState, controlState, routedAt, sentAt, headersAt, 'target-5xx');
          else log(status, status, targetKey, viewState, controlState, routedAt, sentAt, headersAt);
        },
        onResponseError: (_c, err: Error & { code?: string }) => {
          if (done) return;
          const code = err.code ?? err.message;
          if (connectErrors.has(err)) {
            return code === 'ETIMEDOUT' ? fail(504, 'connect-timeout', err.message) : fail(502, 'connect-refused', code);
          }
          // The instance vanished under the request: nothing answers, the idle timeout decides.
          if (this.#deps.network.isBlackholed(host, entry.ref.port) && headersAt < 0) return;
          if (code.startsWith('HPE_') || err.name === 'HTTPParserError') return fail(502, 'malformed-response', code);
          if (headersAt >= 0) return fail(502, 'closed-mid-request', `${code} after the response headers`);
          // A race is the target closing an idle connection just as a request goes out on it; a
          // request that was outstanding for a while and then lost its connection was cut off.
          if (wasReused(err) && clock.toRealMs(clock.now() - sentAt) <= KEEPALIVE_RACE_WINDOW_MS) {
            return fail(502, 'keepalive-race', `${code} on a reused keep-alive connection`);
          }
          fail(502, 'closed-mid-request', code);
        },
      },
    );
  }

  /**
   * The X-Amzn-Trace-Id the target gets (ALB user guide, "Request tracing"): a new `Root` when the
   * request has none; with a Root, a `Self` field inserted (or updated) in front.
   */
  #traceId(req: http.IncomingMessage, arrived: number): string {
    const id = `1-${Math.floor(arrived / 1000).toString(16).padStart(8, '0')}-${this.#salt}${(this.#traceSeq++).toString(16).padStart(16, '0')}`;
    const incoming = req.headers['x-amzn-trace-id'];
    const value = typeof incoming === 'string' ? incoming.trim() : '';
    if (!/(^|;)\s*Root=/.test(value)) return `Root=${id}`;
    const rest = value.split(';').filter((f) => !/^\s*Self=/.test(f));
    return [`Self=${id}`, ...rest].join(';');
  }

  #forwardHeaders(req: http.IncomingMessage, traceId: string, endpoint: ListenerEndpoint): Record<string, string | string[]> {
    const headers: Record<string, string | string[]> = {};
    const src = req.headers;
    for (const name in src) if (!HOP_BY_HOP.has(name)) headers[name] = src[name]!;
    const client = req.socket.remoteAddress ?? '127.0.0.1';
    const xff = src['x-forwarded-for'];
    headers['x-forwarded-for'] = xff ? `${String(xff)}, ${client}` : client;
    headers['x-forwarded-proto'] = endpoint.protocol;
    headers['x-forwarded-port'] = endpoint.albPort;
    headers['x-amzn-trace-id'] = traceId;
    return headers;
  }

  /** A fixed-response action: its status, content type and body, from the load balancer. */
  #sendFixed(res: http.ServerResponse, action: Extract<RuleAction, { type: 'fixed-response' }>): number {
    const status = Number(action.statusCode);
    const body = action.messageBody ?? '';
    res.writeHead(status, { server: 'awselb/2.0', 'content-type': action.contentType ?? 'text/plain', 'content-length': Buffer.byteLength(body) });
    res.end(body);
    return status;
  }

  /** A redirect action: 301 or 302 with the Location its config gives, `#{...}` taken from the request. */
  #sendRedirect(res: http.ServerResponse, action: Extract<RuleAction, { type: 'redirect' }>, endpoint: ListenerEndpoint, host: string, port: string, url: string): number {
    const status = action.statusCode === 'HTTP_302' ? 302 : 301;
    const q = url.indexOf('?');
    const location = redirectLocation(action, { protocol: endpoint.protocol, host, port, path: q < 0 ? url : url.slice(0, q), query: q < 0 ? '' : url.slice(q + 1) });
    const body = errorPage(status);
    res.writeHead(status, { server: 'awselb/2.0', location, 'content-type': 'text/html', 'content-length': Buffer.byteLength(body) });
    res.end(body);
    return status;
  }

  #sendError(res: http.ServerResponse, status: number): void {
    const body = errorPage(status);
    res.writeHead(status, { server: 'awselb/2.0', 'content-type': 'text/html', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  }
}
