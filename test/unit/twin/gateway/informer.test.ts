/**
 * The emulation's list+watch against a scripted API on loopback: it lists, watches from the list's
 * resourceVersion, resumes a watch the server ended from the last version it saw (bookmarks
 * included), and lists again after a 410.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { scaledClock } from '../../../../harness/core/clock.ts';
import { CA_FILE_ENV, inClusterFromEnv, startInformer, TOKEN_FILE_ENV, type Informer } from '../../../../harness/twin/gateway/informer.ts';

const slice = (name: string, rv: number) => ({ metadata: { name, namespace: 'shop', resourceVersion: String(rv) } });

let server: http.Server | undefined;
let informer: Informer | undefined;
afterEach(async () => {
  informer?.stop();
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

/** A server that answers each request with the next scripted reply, recording the request paths. */
async function scripted(replies: Array<(res: http.ServerResponse) => void>): Promise<{ port: number; paths: string[] }> {
  const paths: string[] = [];
  server = http.createServer((req, res) => {
    paths.push(req.url ?? '');
    const reply = replies.shift();
    if (reply) reply(res);
    else res.writeHead(200, { 'content-type': 'application/json' }).write(''); // an idle watch, held open
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return { port: (server!.address() as AddressInfo).port, paths };
}

const json = (body: unknown) => (res: http.ServerResponse) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
const events = (...lines: unknown[]) => (res: http.ServerResponse) => res.writeHead(200, { 'content-type': 'application/json' }).end(lines.map((l) => `${JSON.stringify(l)}\n`).join(''));

describe('the gateway informer', () => {
  it('lists, watches from the list version, resumes from the last version seen, and lists again after a 410', async () => {
    const { port, paths } = await scripted([
      json({ metadata: { resourceVersion: '10' }, items: [slice('a', 9)] }),
      // A watch that delivers an ADDED and a bookmark, then ends (as a server's timeout ends it).
      events({ type: 'ADDED', object: slice('b', 11) }, { type: 'BOOKMARK', object: { metadata: { resourceVersion: '15' } } }),
      // The resumed watch: the version is gone.
      events({ type: 'ERROR', object: { code: 410, reason: 'Expired' } }),
      json({ metadata: { resourceVersion: '20' }, items: [slice('b', 11), slice('c', 19)] }),
      events({ type: 'DELETED', object: slice('b', 21) }),
    ]);
    const changes: string[][] = [];
    informer = startInformer({
      api: { host: '127.0.0.1', port, token: 'tok' },
      clock: scaledClock(0.001),
      path: '/apis/discovery.k8s.io/v1/endpointslices',
      onChange: () => changes.push(informer!.items().map((o) => o.metadata.name).sort()),
      log: () => {},
    });
    await informer.synced;
    await vi.waitFor(() => expect(informer!.items().map((o) => o.metadata.name)).toEqual(['c']), { timeout: 5_000 });
    const base = '/apis/discovery.k8s.io/v1/endpointslices';
    expect(paths.slice(0, 5)).toEqual([
      base,
      `${base}?watch=1&allowWatchBookmarks=true&resourceVersion=10`,
      `${base}?watch=1&allowWatchBookmarks=true&resourceVersion=15`,
      base,
      `${base}?watch=1&allowWatchBookmarks=true&resourceVersion=20`,
    ]);
    expect(changes).toEqual([['a'], ['a', 'b'], ['b', 'c'], ['c']]);
  });

  it('reads the in-cluster env: loopback only, the token from its file', () => {
    expect(inClusterFromEnv({ KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: '443' })).toBe('Expected the API on loopback (127.0.0.0/8), got KUBERNETES_SERVICE_HOST=10.0.0.1');
    expect(inClusterFromEnv({})).toBe('Expected KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT in the env (in-cluster config), got null and null');
    expect(inClusterFromEnv({ KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: '6443', [TOKEN_FILE_ENV]: '/nonexistent/token' })).toMatch(/^Cannot read the service account token \/nonexistent\/token/);
    expect(inClusterFromEnv({ KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: '6443' })).toEqual({ host: '127.0.0.1', port: 6443, token: '' });
    expect(inClusterFromEnv({ KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: '6443', [CA_FILE_ENV]: '/nonexistent/ca.crt' })).toMatch(/^Cannot read the service account CA \/nonexistent\/ca\.crt/);
  });
});
