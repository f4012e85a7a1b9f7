import { describe, expect, it } from 'vitest';
import { backendsJson, renderNginxConf } from '../../../../harness/twin/gateway/conf.ts';
import type { GatewayModel } from '../../../../harness/twin/gateway/model.ts';
import { Reconciler, type NginxControl } from '../../../../harness/twin/gateway/reconcile.ts';

const opts = { dir: '/tmp/gw', listen: { host: '127.0.3.4', port: 80 }, configListen: '127.0.3.4:10246', luaDir: '/repo/lua', timeScale: 0.05, asRoot: false };
const model = (servers: string[], paths = ['/']): GatewayModel => ({
  servers: [{ host: '_', routes: paths.map((path) => ({ path, exact: false, upstream: 'shop-web-80' })) }],
  upstreams: [{ name: 'shop-web-80', servers }],
});

/** A stand-in nginx that records what it was asked, failing where told. */
function recorder(fail: { reload?: string; post?: string } = {}) {
  const calls: string[] = [];
  const nginx: NginxControl = {
    reload: async () => {
      calls.push('reload');
      return fail.reload;
    },
    postBackends: async (json) => {
      calls.push(`post ${json}`);
      return fail.post;
    },
  };
  const lines: string[] = [];
  return { calls, lines, fail, nginx, log: (level: string, _source: string, message: string) => lines.push(`${level} ${message}`) };
}

/** One sync of `m` as the controller runs it. */
const apply = (r: Reconciler, m: GatewayModel) => r.apply(renderNginxConf(m, opts), backendsJson(m), 'summary');

describe('a backend sync', () => {
  it('posts changed endpoints to nginx without a reload, and logs it as ingress-nginx does', async () => {
    const rec = recorder();
    const first = model(['127.0.1.1:8080', '127.0.1.2:8080']);
    const r = new Reconciler(rec.nginx, rec.log, renderNginxConf(first, opts));
    expect(r.initialized).toBe(false);
    expect(await apply(r, first)).toBe('dynamic');
    expect(r.initialized).toBe(true);
    // A pod gone, then none left, then back: each a post, never a reload.
    expect(await apply(r, model(['127.0.1.2:8080']))).toBe('dynamic');
    expect(await apply(r, model([]))).toBe('dynamic');
    expect(await apply(r, model(['127.0.1.3:8080']))).toBe('dynamic');
    expect(await apply(r, model(['127.0.1.3:8080']))).toBe('unchanged');
    expect(rec.calls).toEqual([
      `post ${backendsJson(first)}`,
      'post [{"name":"shop-web-80","endpoints":[{"address":"127.0.1.2","port":"8080"}]}]',
      'post [{"name":"shop-web-80","endpoints":[]}]',
      'post [{"name":"shop-web-80","endpoints":[{"address":"127.0.1.3","port":"8080"}]}]',
    ]);
    expect(rec.lines).toEqual(Array(4).fill('I Dynamic reconfiguration succeeded'));
  });

  it('reloads when the Ingresses change the conf (a new location), then posts', async () => {
    const rec = recorder();
    const r = new Reconciler(rec.nginx, rec.log, renderNginxConf(model(['127.0.1.1:8080']), opts));
    expect(await apply(r, model(['127.0.1.1:8080']))).toBe('dynamic');
    expect(await apply(r, model(['127.0.1.1:8080'], ['/', '/api']))).toBe('reloaded');
    expect(rec.calls.slice(1)).toEqual(['reload']);
    expect(await apply(r, model(['127.0.1.2:8080'], ['/', '/api']))).toBe('dynamic');
    expect(rec.calls.slice(2)).toEqual(['post [{"name":"shop-web-80","endpoints":[{"address":"127.0.1.2","port":"8080"}]}]']);
    expect(rec.lines.slice(1, 3)).toEqual(['I Configuration changes detected, backend reload required', 'I Backend successfully reloaded']);
  });

  it('fails, keeping what nginx holds, when the post or the reload fails, and tries it again next time', async () => {
    const rec = recorder({ post: 'POST http://127.0.3.4:10246/configuration/backends failed: connect ECONNREFUSED' });
    const r = new Reconciler(rec.nginx, rec.log, renderNginxConf(model([]), opts));
    expect(await apply(r, model(['127.0.1.1:8080']))).toBe('failed');
    expect(r.initialized).toBe(false);
    expect(rec.lines).toEqual(['W Dynamic reconfiguration failed']);
    rec.fail.post = undefined;
    expect(await apply(r, model(['127.0.1.1:8080']))).toBe('dynamic');
    rec.fail.reload = 'nginx: [emerg] unexpected "}"';
    expect(await apply(r, model(['127.0.1.1:8080'], ['/', '/api']))).toBe('failed');
    rec.fail.reload = undefined;
    expect(await apply(r, model(['127.0.1.1:8080'], ['/', '/api']))).toBe('reloaded');
    expect(rec.calls.filter((c) => c === 'reload')).toHaveLength(2);
  });
});
