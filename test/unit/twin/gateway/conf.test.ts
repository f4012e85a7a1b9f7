import { describe, expect, it } from 'vitest';
import { ACCESS_LOG, backendsJson, LUA_MODULES, NGINX_DEFAULTS, realDuration, renderNginxConf, UPSTREAMINFO_FORMAT } from '../../../../harness/twin/gateway/conf.ts';
import type { GatewayModel } from '../../../../harness/twin/gateway/model.ts';

const opts = { dir: '/tmp/gw', listen: { host: '127.0.3.4', port: 80 }, configListen: '127.0.3.4:10246', luaDir: '/repo/lua', timeScale: 0.05, asRoot: false };
const model = (servers: string[]): GatewayModel => ({
  servers: [{ host: '_', routes: [{ path: '/', exact: false, upstream: 'shop-web-80' }] }],
  upstreams: [{ name: 'shop-web-80', servers }],
});

/** The body of the block that starts with `head` (up to its closing brace at the same depth). */
function block(conf: string, head: string): string {
  const start = conf.indexOf(head);
  expect(start, `${head} in the conf`).toBeGreaterThanOrEqual(0);
  let depth = 0;
  for (let i = conf.indexOf('{', start); i < conf.length; i++) {
    if (conf[i] === '{') depth++;
    if (conf[i] === '}' && --depth === 0) return conf.slice(start, i + 1);
  }
  throw new Error(`unclosed ${head}`);
}

describe('the gateway nginx.conf', () => {
  it('balances in Lua through one upstream_balancer with keep-alive, and names the backend per location', () => {
    const conf = renderNginxConf(model(['127.0.1.1:8080', '127.0.1.2:8080']), opts);
    expect(conf.startsWith(LUA_MODULES.map((m) => `load_module ${m};`).join('\n'), conf.indexOf('load_module'))).toBe(true);
    // The NDK before the Lua module, which needs it.
    expect(LUA_MODULES[0]).toMatch(/ndk_http_module\.so$/);
    const upstream = block(conf, 'upstream upstream_balancer');
    expect(upstream.match(/^\s+server .*$/gm)).toEqual(["    server 0.0.0.1; # placeholder: balancer.balance() sets each try's peer"]);
    expect(block(upstream, 'balancer_by_lua_block')).toContain('balancer.balance()');
    // keepalive after the balancer, as nginx.tmpl: it wraps the balancer's peers.
    expect(upstream.indexOf('keepalive 320;')).toBeGreaterThan(upstream.indexOf('balancer_by_lua_block'));
    // 60 model s at 0.05 real s per model s.
    expect(upstream).toContain('keepalive_timeout 3000ms;');
    expect(conf.match(/^\s*upstream /gm)).toHaveLength(1);
    const location = block(conf, 'location / {');
    expect(location).toContain('set $proxy_upstream_name "shop-web-80";');
    expect(block(location, 'rewrite_by_lua_block')).toContain('balancer.rewrite()');
    expect(location).toContain('proxy_pass http://upstream_balancer;');
    expect(conf).toContain('lua_package_path "/repo/lua/?.lua;/usr/share/lua/5.1/?.lua;;";');
    expect(conf).toContain('lua_shared_dict configuration_data 20m;');
    expect(block(conf, 'init_by_lua_block')).toMatch(/configuration = require\("configuration"\)\s+balancer = require\("balancer"\)/);
    expect(block(conf, 'init_worker_by_lua_block')).toContain('balancer.init_worker()');
  });

  it('writes no endpoint into the conf: the same conf for any endpoints, none included (no reload for an endpoint change)', () => {
    const conf = renderNginxConf(model(['127.0.1.1:8080', '127.0.1.2:8080']), opts);
    expect(conf).not.toContain('127.0.1.1');
    expect(renderNginxConf(model(['127.0.1.3:8080']), opts)).toBe(conf);
    expect(renderNginxConf(model([]), opts)).toBe(conf);
    // A new route is a new conf.
    const routes: GatewayModel = { ...model([]), servers: [{ host: '_', routes: [{ path: '/', exact: false, upstream: 'shop-web-80' }, { path: '/api', exact: false, upstream: 'shop-api-80' }] }] };
    expect(renderNginxConf(routes, opts)).not.toBe(conf);
  });

  it('serves /configuration on the pod port 10246 from 127.0.0.1 only, or on a socket in the port mode', () => {
    const conf = renderNginxConf(model(['127.0.1.1:8080']), opts);
    const server = block(conf, 'server {\n    listen 127.0.3.4:10246;');
    const location = block(server, 'location /configuration');
    expect(location).toMatch(/allow 127\.0\.0\.1;\s+deny all;/);
    expect(block(location, 'content_by_lua_block')).toContain('configuration.call()');
    expect(location).toContain('client_body_buffer_size 10m;');
    const unix = renderNginxConf(model(['127.0.1.1:8080']), { ...opts, listen: { host: '127.0.0.1', port: 40123 }, configListen: 'unix:/tmp/gw/configuration.sock' });
    expect(block(block(unix, 'server {\n    listen unix:/tmp/gw/configuration.sock;'), 'location /configuration')).toMatch(/allow 127\.0\.0\.1;\s+allow unix:;\s+deny all;/);
  });

  it('posts every backend in ingress-nginx\'s shape, one without ready endpoints with none', () => {
    const m: GatewayModel = { ...model([]), upstreams: [{ name: 'shop-api-80', servers: [] }, { name: 'shop-web-80', servers: ['127.0.1.1:8080', '127.0.1.2:8080'] }] };
    expect(JSON.parse(backendsJson(m))).toEqual([
      { name: 'shop-api-80', endpoints: [] },
      { name: 'shop-web-80', endpoints: [{ address: '127.0.1.1', port: '8080' }, { address: '127.0.1.2', port: '8080' }] },
    ]);
    // Key order and no spaces: lua/configuration.lua reads exactly this text.
    expect(backendsJson(model(['127.0.1.1:8080']))).toBe('[{"name":"shop-web-80","endpoints":[{"address":"127.0.1.1","port":"8080"}]}]');
  });

  it('retries and times out as ingress-nginx by default, scaled to real time', () => {
    const conf = renderNginxConf(model(['127.0.1.1:8080']), opts);
    expect(conf).toContain('proxy_next_upstream error timeout;');
    expect(conf).toContain('proxy_next_upstream_tries 3;');
    expect(conf).toContain('proxy_connect_timeout 250ms;');
    expect(conf).toContain('worker_shutdown_timeout 12000ms;');
    expect(conf).toContain('proxy_http_version 1.1;');
    expect(conf).toContain('proxy_set_header Connection "";');
    expect(realDuration(NGINX_DEFAULTS.proxyConnectTimeoutSeconds, 1)).toBe('5000ms');
    expect(realDuration(0.0001, 0.01)).toBe('1ms');
  });

  it('logs every request in the upstreaminfo format to the FIFO the controller copies to stdout', () => {
    expect(UPSTREAMINFO_FORMAT).toBe(
      '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $request_length $request_time [$proxy_upstream_name] [$proxy_alternative_upstream_name] $upstream_addr $upstream_response_length $upstream_response_time $upstream_status $req_id',
    );
    const conf = renderNginxConf(model(['127.0.1.1:8080']), opts);
    expect(conf).toContain(`log_format upstreaminfo '${UPSTREAMINFO_FORMAT}';`);
    expect(conf).toContain(`access_log /tmp/gw/${ACCESS_LOG} upstreaminfo;`);
    // $req_id: the client's X-Request-ID, else nginx's $request_id.
    expect(block(conf, 'map $http_x_request_id $req_id')).toMatch(/default \$http_x_request_id;\s+"" \$request_id;/);
  });

  it('listens on the pod address, serves /healthz on port 80, and keeps every file in the pod directory', () => {
    const conf = renderNginxConf(model(['127.0.1.1:8080']), { ...opts, asRoot: true });
    expect(conf).toContain('listen 127.0.3.4:80 default_server;');
    expect(block(conf, 'location = /healthz')).toContain('return 200;');
    for (const line of ['pid /tmp/gw/nginx.pid;', 'error_log /tmp/gw/error.log notice;', 'client_body_temp_path /tmp/gw/client_body;', 'proxy_temp_path /tmp/gw/proxy;']) expect(conf).toContain(line);
    expect(conf).toContain('user nobody nogroup;');
    expect(renderNginxConf(model([]), opts)).not.toMatch(/^user /m);
  });
});
