/**
 * The emulation's view of the API, as client-go's informers keep it: list, then watch from the
 * list's resourceVersion (with bookmarks), a cache of the objects by namespace/name, and on any
 * end of the watch a re-watch from the last version seen — or a fresh list when the API answers
 * 410 Gone or the connection fails — after a back-off on the injected clock. The API is reached
 * in-cluster style (see `inClusterFromEnv`).
 */
import http from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import type { Clock, Timer } from '../../core/clock.ts';
import type { Obj } from './model.ts';

/** How a pod reaches the API server: the kubelet's in-cluster env (see the twin's kubelet README). */
export interface InCluster {
  host: string;
  port: number;
  /** Sent as `Authorization: Bearer …`, as client-go's in-cluster config does. */
  token: string;
  /** The CA certificate (PEM) that verifies the API's HTTPS port; absent: plain http (tests' API fixture). */
  ca?: string;
}

/** The env variables naming the service account's token and CA files (the twin cannot mount /var/run/secrets). */
export const TOKEN_FILE_ENV = 'KUBERNETES_SERVICE_ACCOUNT_TOKEN_FILE';
export const CA_FILE_ENV = 'KUBERNETES_SERVICE_ACCOUNT_CA_FILE';

/** The in-cluster config from the env (`KUBERNETES_SERVICE_HOST`/`_PORT`, the token file), or why there is none. */
export function inClusterFromEnv(env: NodeJS.ProcessEnv): InCluster | string {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = Number(env.KUBERNETES_SERVICE_PORT);
  if (!host || !Number.isInteger(port) || port <= 0) {
    return `Expected KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT in the env (in-cluster config), got ${JSON.stringify(host ?? null)} and ${JSON.stringify(env.KUBERNETES_SERVICE_PORT ?? null)}`;
  }
  if (!/^127\./.test(host)) return `Expected the API on loopback (127.0.0.0/8), got KUBERNETES_SERVICE_HOST=${host}`;
  let token = '';
  const file = env[TOKEN_FILE_ENV];
  if (file) {
    try {
      token = readFileSync(file, 'utf8').trim();
    } catch (error) {
      return `Cannot read the service account token ${file} (${TOKEN_FILE_ENV}): ${(error as Error).message}`;
    }
  }
  // With a CA the API is reached over HTTPS, as client-go's in-cluster config always does.
  const caFile = env[CA_FILE_ENV];
  if (!caFile) return { host, port, token };
  try {
    return { host, port, token, ca: readFileSync(caFile, 'utf8') };
  } catch (error) {
    return `Cannot read the service account CA ${caFile} (${CA_FILE_ENV}): ${(error as Error).message}`;
  }
}

/** One watch event as the API streams it. */
interface WatchLine {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  object: any;
}

/** GET a JSON document. */
function getJson(api: InCluster, path: string, signal: AbortSignal): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const req = get(api, path, signal, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) });
        } catch (error) {
          reject(new Error(`Expected JSON from GET ${path}, got ${JSON.stringify(text.slice(0, 200))}`, { cause: error }));
        }
      });
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

/** A GET to the API: over HTTPS verified by the CA when there is one, else plain http. */
function get(api: InCluster, path: string, signal: AbortSignal, onResponse: (res: http.IncomingMessage) => void): http.ClientRequest {
  const options = { host: api.host, port: api.port, path, headers: authHeaders(api), signal, agent: false as const };
  return api.ca ? https.get({ ...options, ca: api.ca }, onResponse) : http.get(options, onResponse);
}

function authHeaders(api: InCluster): Record<string, string> {
  return { accept: 'application/json', 'user-agent': 'nginx-ingress-controller/twin', ...(api.token ? { authorization: `Bearer ${api.token}` } : {}) };
}

/** Streams a watch: resolves when the stream ends, true when the server ended it, false on a failure. */
function streamWatch(api: InCluster, path: string, signal: AbortSignal, onLine: (line: WatchLine) => void): Promise<boolean> {
  return new Promise((resolve) => {
    const req = get(api, path, signal, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        onLine({ type: 'ERROR', object: { code: res.statusCode, message: `watch answered ${res.statusCode}` } });
        res.on('end', () => resolve(false));
        return;
      }
      let partial = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        const parts = (partial + chunk).split('\n');
        partial = parts.pop() ?? '';
        for (const text of parts) {
          if (!text.trim()) continue;
          try {
            onLine(JSON.parse(text) as WatchLine);
          } catch {
            // A torn line cannot happen on a healthy stream; the re-list repairs anything missed.
          }
        }
      });
      res.on('end', () => resolve(true));
      res.on('error', () => resolve(false));
      res.on('close', () => resolve(false));
    });
    req.on('error', () => resolve(false));
  });
}

/** Options of an informer. */
export interface InformerOptions {
  api: InCluster;
  clock: Clock;
  /** The collection path, e.g. `/apis/discovery.k8s.io/v1/endpointslices`. */
  path: string;
  /** Called after every change of the cache (and after each list). */
  onChange: () => void;
  log: (line: string) => void;
  /** Model ms between a failure and the next try (default 1000). */
  retryMs?: number;
}

/** A running informer. */
export interface Informer {
  /** The cached objects. */
  items(): Obj[];
  /** Resolves after the first successful list. */
  readonly synced: Promise<void>;
  stop(): void;
}

/** Starts a list+watch loop over one collection. */
export function startInformer(o: InformerOptions): Informer {
  const cache = new Map<string, Obj>();
  const ctl = new AbortController();
  const retryMs = o.retryMs ?? 1000;
  let resolveSynced = () => {};
  const synced = new Promise<void>((r) => (resolveSynced = r));
  let timer: Timer | undefined;
  const keyOf = (obj: Obj) => `${obj.metadata.namespace ?? ''}/${obj.metadata.name}`;
  const wait = () =>
    new Promise<void>((resolve) => {
      timer = o.clock.setTimeout(resolve, retryMs);
    });

  async function run(): Promise<void> {
    let rv = '';
    while (!ctl.signal.aborted) {
      try {
        if (!rv) {
          const { status, body } = await getJson(o.api, o.path, ctl.signal);
          // eslint-disable-next-line @typescript-eslint/no-explicit-any
          const list = body as any;
          if (status !== 200) throw new Error(`Expected 200 listing ${o.path}, got ${status}: ${list?.message ?? ''}`);
          cache.clear();
          for (const item of list.items ?? []) cache.set(keyOf(item), item);
          rv = String(list.metadata?.resourceVersion ?? '');
          resolveSynced();
          o.onChange();
        }
        let gone = false;
        const ended = await streamWatch(o.api, `${o.path}?watch=1&allowWatchBookmarks=true&resourceVersion=${encodeURIComponent(rv)}`, ctl.signal, (line) => {
          if (line.type === 'ERROR') {
            // 410 Gone: the version is too old to watch from; anything else: list again too.
            gone = true;
            return;
          }
          const version = line.object?.metadata?.resourceVersion;
          if (version) rv = String(version);
          if (line.type === 'BOOKMARK') return;
          if (line.type === 'DELETED') cache.delete(keyOf(line.object));
          else cache.set(keyOf(line.object), line.object);
          o.onChange();
        });
        if (ctl.signal.aborted) return;
        // The server closed a healthy watch: watch again at once from the last version seen.
        if (ended && !gone) continue;
        if (gone) rv = '';
      } catch (error) {
        if (ctl.signal.aborted) return;
        o.log(`listing ${o.path}: ${(error as Error).message}`);
        rv = '';
      }
      await wait();
    }
  }
  void run();
  return {
    items: () => [...cache.values()],
    synced,
    stop() {
      ctl.abort();
      timer?.cancel();
    },
  };
}
