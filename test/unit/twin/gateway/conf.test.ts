import { describe, expect, it } from 'vitest';
import { ACCESS_LOG, NGINX_DEFAULTS, realDuration, renderNginxConf, UPSTREAMINFO_FORMAT } from '../../../../harness/twin/gateway/conf.ts';
import type { GatewayModel } from '../../../../harness/twin/gateway/model.ts';

const opts = { dir: '/tmp/gw', listen: { host: '127.0.3.4', port: 80 }, timeScale: 0.05, asRoot: false };
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
  it('writes the upstream block from the ready endpoints, without passive failure marking, with keep-alive', () => {
    const conf = renderNginxConf(model(['127.0.1.1:8080', '127.0.1.2:8080']), opts);
    const upstream = block(conf, 'upstream shop-web-80');
    expect(upstream.match(/^\s+server .*$/gm)).toEqual(['    server 127.0.1.1:8080 max_fails=0;', '    server 127.0.1.2:8080 max_fails=0;']);
    expect(upstream).toContain('keepalive 320;');
    // 60 model s at 0.05 real s per model s.
    expect(upstream).toContain('keepalive_timeout 3000ms;');
    const location = block(conf, 'location / {');
    expect(location).toContain('set $proxy_upstream_name "shop-web-80";');
    expect(location).toContain('proxy_pass http://shop-web-80;');
  });

  it('answers 503 where the backend has no ready endpoint (nginx refuses an empty upstream block)', () => {
    const conf = renderNginxConf(model([]), opts);
    expect(conf).not.toContain('upstream shop-web-80');
    const location = block(conf, 'location / {');
    expect(location).toContain('return 503;');
    expect(location).not.toContain('proxy_pass');
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
