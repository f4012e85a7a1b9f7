/**
 * nginx.conf of a gateway pod, written purely from the model's servers and routes, and the
 * backends JSON the controller posts to it. As ingress-nginx since 0.10, the conf holds no
 * endpoint: one `upstream upstream_balancer` balances in Lua (lua/balancer.lua) among the
 * endpoints posted to the configuration server (pod port 10246, lua/configuration.lua), so an
 * endpoint change needs no reload. ingress-nginx's defaults where they matter to a rollout
 * (retries, upstream keep-alive, timeouts, the `upstreaminfo` access log, the 503 of a backend
 * without endpoints, `/healthz` on port 80, `worker_shutdown_timeout`), every duration in model
 * seconds scaled to real time, and every file (pid, temp paths, error log) in the pod's own
 * directory. Defaults: ingress-nginx internal/ingress/controller/config/config.go (NewDefault) and
 * rootfs/etc/nginx/template/nginx.tmpl; sources in the gateway's README.
 */
import path from 'node:path';
import type { GatewayModel, Route, VirtualServer } from './model.ts';

/** ingress-nginx's default `log-format-upstream`, the access log format named `upstreaminfo`. */
export const UPSTREAMINFO_FORMAT =
  '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $request_length $request_time [$proxy_upstream_name] [$proxy_alternative_upstream_name] $upstream_addr $upstream_response_length $upstream_response_time $upstream_status $req_id';

/** The access log's name in the pod's directory (a FIFO the controller reads). */
export const ACCESS_LOG = 'access.log';

/** ingress-nginx's defaults that the conf writes, in model seconds (config.go NewDefault). */
export const NGINX_DEFAULTS = {
  proxyConnectTimeoutSeconds: 5,
  proxyReadTimeoutSeconds: 60,
  proxySendTimeoutSeconds: 60,
  proxyNextUpstream: 'error timeout',
  proxyNextUpstreamTries: 3,
  upstreamKeepaliveConnections: 320,
  upstreamKeepaliveTimeoutSeconds: 60,
  upstreamKeepaliveRequests: 10000,
  /** Client keep-alive (`keep-alive` 75 s). */
  keepaliveTimeoutSeconds: 75,
  workerShutdownTimeoutSeconds: 240,
} as const;

/** The port of ingress-nginx's status server, where `/configuration/backends` is posted (`--status-port`). */
export const CONFIGURATION_PORT = 10246;

/** The upstream every proxied location passes to; the Lua balancer picks the endpoint (nginx.tmpl). */
export const BALANCER_UPSTREAM = 'upstream_balancer';

/** Debian's dynamic modules: the Lua module needs the NDK loaded before it (libnginx-mod-http-lua, libnginx-mod-http-ndk). */
export const LUA_MODULES = ['/usr/lib/nginx/modules/ndk_http_module.so', '/usr/lib/nginx/modules/ngx_http_lua_module.so'];

/** Where Debian's lua-resty-core (and lua-resty-lrucache) put their modules. */
export const RESTY_CORE_DIR = '/usr/share/lua/5.1';

/** Where and how one gateway pod's nginx runs. */
export interface ConfOptions {
  /** The pod's own directory: pid file, temp paths and error log go there. */
  dir: string;
  /** The pod's address for port 80 (its loopback IP). */
  listen: { host: string; port: number };
  /**
   * Where the configuration server listens: `host:port` (the pod's IP and CONFIGURATION_PORT), or
   * `unix:PATH` in the twin's port mode, where every pod shares 127.0.0.1.
   */
  configListen: string;
  /** The directory of the twin's Lua modules (balancer.lua, configuration.lua). */
  luaDir: string;
  /** Real seconds per model second: every duration below is scaled by it. */
  timeScale: number;
  /** The master runs as root: workers run as `nobody`, which must be able to enter the directory. */
  asRoot: boolean;
  /** nginx worker processes (default 1: the twin's pods share a small machine). */
  workerProcesses?: number;
}

/** A duration of `seconds` model seconds as nginx writes real time: whole milliseconds, at least 1. */
export function realDuration(seconds: number, timeScale: number): string {
  return `${Math.max(1, Math.round(seconds * 1000 * timeScale))}ms`;
}

/** An nginx string literal. */
function quote(text: string): string {
  return `"${text.replace(/["\\]/g, (c) => `\\${c}`)}"`;
}

/** The one `upstream` block: a placeholder server, the Lua balancer, keep-alive to the endpoints (nginx.tmpl). */
export function balancerUpstreamBlock(timeScale: number): string {
  const d = NGINX_DEFAULTS;
  return [
    `  upstream ${BALANCER_UPSTREAM} {`,
    '    server 0.0.0.1; # placeholder: balancer.balance() sets each try\'s peer',
    '    balancer_by_lua_block {',
    '      balancer.balance()',
    '    }',
    `    keepalive ${d.upstreamKeepaliveConnections};`,
    `    keepalive_timeout ${realDuration(d.upstreamKeepaliveTimeoutSeconds, timeScale)};`,
    `    keepalive_requests ${d.upstreamKeepaliveRequests};`,
    '  }',
  ].join('\n');
}

function locationBlock(r: Route): string {
  return [
    `    location ${r.exact ? '= ' : ''}${r.path} {`,
    `      set $proxy_upstream_name ${quote(r.upstream)};`,
    // The backend's balancer, or 503 when it has no ready endpoint (balancer.rewrite()).
    '      rewrite_by_lua_block {',
    '        balancer.rewrite()',
    '      }',
    `      proxy_pass http://${BALANCER_UPSTREAM};`,
    '    }',
  ].join('\n');
}

/** The status server on CONFIGURATION_PORT: only `/configuration`, from loopback (nginx.tmpl). */
function configurationServer(opts: ConfOptions): string {
  const unix = opts.configListen.startsWith('unix:');
  return [
    '  server {',
    `    listen ${opts.configListen};`,
    '    access_log off;',
    '    location /configuration {',
    '      allow 127.0.0.1;',
    ...(unix ? ['      allow unix:;'] : []),
    '      deny all;',
    // ingress-nginx's limit (nginx.tmpl); a buffer as large keeps the body in memory, where configuration.lua reads it.
    '      client_max_body_size 10m;',
    '      client_body_buffer_size 10m;',
    '      proxy_buffering off;',
    '      content_by_lua_block {',
    '        configuration.call()',
    '      }',
    '    }',
    '    location / {',
    '      return 404;',
    '    }',
    '  }',
  ].join('\n');
}

function serverBlock(s: VirtualServer, opts: ConfOptions): string {
  const isDefault = s.host === '_';
  const lines = [
    '  server {',
    `    listen ${opts.listen.host}:${opts.listen.port}${isDefault ? ' default_server' : ''};`,
    `    server_name ${s.host};`,
    '    set $proxy_upstream_name "-";',
    '    set $proxy_alternative_upstream_name "";',
  ];
  // ingress-nginx's default server answers health checks of cloud load balancers on port 80.
  if (isDefault) lines.push('    location = /healthz {', '      access_log off;', '      return 200;', '    }');
  for (const r of s.routes) lines.push(locationBlock(r));
  // A host without a route for the path: ingress-nginx's default backend answers 404.
  if (!s.routes.some((r) => r.path === '/' && !r.exact)) lines.push('    location / {', '      return 404;', '    }');
  lines.push('  }');
  return lines.join('\n');
}

/** The whole nginx.conf of a gateway pod: the same for any endpoints (they are posted, see backendsJson). */
export function renderNginxConf(model: GatewayModel, opts: ConfOptions): string {
  const d = NGINX_DEFAULTS;
  const t = (seconds: number) => realDuration(seconds, opts.timeScale);
  const file = (name: string) => path.join(opts.dir, name);
  return [
    '# Written by the twin\'s ingress-controller emulation; rewritten and reloaded only when its servers or routes change.',
    ...LUA_MODULES.map((m) => `load_module ${m};`),
    ...(opts.asRoot ? ['user nobody nogroup;'] : []),
    `worker_processes ${opts.workerProcesses ?? 1};`,
    `pid ${file('nginx.pid')};`,
    `error_log ${file('error.log')} notice;`,
    `worker_shutdown_timeout ${t(d.workerShutdownTimeoutSeconds)};`,
    'events {',
    '  worker_connections 4096;',
    '}',
    'http {',
    `  client_body_temp_path ${file('client_body')};`,
    `  proxy_temp_path ${file('proxy')};`,
    `  fastcgi_temp_path ${file('fastcgi')};`,
    `  uwsgi_temp_path ${file('uwsgi')};`,
    `  scgi_temp_path ${file('scgi')};`,
    '  default_type text/html;',
    `  keepalive_timeout ${t(d.keepaliveTimeoutSeconds)};`,
    // A request id from the client (X-Request-ID) is kept, else nginx makes one (nginx.tmpl).
    '  map $http_x_request_id $req_id {',
    '    default $http_x_request_id;',
    '    "" $request_id;',
    '  }',
    `  log_format upstreaminfo '${UPSTREAMINFO_FORMAT}';`,
    // A FIFO the controller copies to its stdout, the pod's log (kubectl logs reads it): a pod's
    // stdout here is a socket, which /dev/stdout cannot open.
    `  access_log ${file(ACCESS_LOG)} upstreaminfo;`,
    `  proxy_connect_timeout ${t(d.proxyConnectTimeoutSeconds)};`,
    `  proxy_read_timeout ${t(d.proxyReadTimeoutSeconds)};`,
    `  proxy_send_timeout ${t(d.proxySendTimeoutSeconds)};`,
    `  proxy_next_upstream ${d.proxyNextUpstream};`,
    `  proxy_next_upstream_tries ${d.proxyNextUpstreamTries};`,
    '  proxy_next_upstream_timeout 0;',
    '  proxy_buffering off;',
    '  proxy_http_version 1.1;',
    '  proxy_set_header Connection "";',
    '  proxy_set_header Host $host;',
    '  proxy_set_header X-Request-ID $req_id;',
    '  proxy_set_header X-Real-IP $remote_addr;',
    '  proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;',
    '  proxy_set_header X-Forwarded-Proto $scheme;',
    `  lua_package_path ${quote(`${path.join(opts.luaDir, '?.lua')};${path.join(RESTY_CORE_DIR, '?.lua')};;`)};`,
    // ingress-nginx's size (buildLuaSharedDictionaries); shared memory is kept across reloads.
    '  lua_shared_dict configuration_data 20m;',
    '  init_by_lua_block {',
    '    configuration = require("configuration")',
    '    balancer = require("balancer")',
    '  }',
    '  init_worker_by_lua_block {',
    '    balancer.init_worker()',
    '  }',
    balancerUpstreamBlock(opts.timeScale),
    ...model.servers.map((s) => serverBlock(s, opts)),
    configurationServer(opts),
    '}',
    '',
  ].join('\n');
}

/**
 * The backends the controller posts to `/configuration/backends`, in ingress-nginx's shape (a
 * JSON array of `{ name, endpoints: [{ address, port }] }`, the port a string), every upstream
 * of the model, those without ready endpoints with an empty list. lua/configuration.lua reads
 * exactly this shape.
 */
export function backendsJson(model: GatewayModel): string {
  const backends = model.upstreams.map((u) => ({
    name: u.name,
    endpoints: u.servers.map((s) => {
      const at = s.lastIndexOf(':');
      return { address: s.slice(0, at), port: s.slice(at + 1) };
    }),
  }));
  return JSON.stringify(backends);
}
