/**
 * nginx.conf of a gateway pod, written purely from the model: ingress-nginx's defaults where they
 * matter to a rollout (retries, upstream keep-alive, timeouts, the `upstreaminfo` access log, the
 * 503 of a backend without endpoints, `/healthz` on port 80, `worker_shutdown_timeout`), every
 * duration in model seconds scaled to real time, and every file (pid, temp paths, error log) in
 * the pod's own directory. Defaults: ingress-nginx internal/ingress/controller/config/config.go
 * (NewDefault) and rootfs/etc/nginx/template/nginx.tmpl; sources in the gateway's README.
 */
import path from 'node:path';
import type { GatewayModel, Route, Upstream, VirtualServer } from './model.ts';

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

/** Where and how one gateway pod's nginx runs. */
export interface ConfOptions {
  /** The pod's own directory: pid file, temp paths and error log go there. */
  dir: string;
  /** The pod's address for port 80 (its loopback IP). */
  listen: { host: string; port: number };
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

/** The `upstream` block of one upstream with servers (nginx refuses an empty one). */
export function upstreamBlock(u: Upstream, timeScale: number): string {
  const d = NGINX_DEFAULTS;
  return [
    `  upstream ${u.name} {`,
    // max_fails=0: ingress-nginx's Lua balancer keeps picking an endpoint until the controller
    // removes it; nginx's passive failure accounting would hide a gone endpoint sooner.
    ...u.servers.map((s) => `    server ${s} max_fails=0;`),
    `    keepalive ${d.upstreamKeepaliveConnections};`,
    `    keepalive_timeout ${realDuration(d.upstreamKeepaliveTimeoutSeconds, timeScale)};`,
    `    keepalive_requests ${d.upstreamKeepaliveRequests};`,
    '  }',
  ].join('\n');
}

function locationBlock(r: Route, byName: Map<string, Upstream>): string {
  const u = byName.get(r.upstream);
  const head = `    location ${r.exact ? '= ' : ''}${r.path} {`;
  const name = `      set $proxy_upstream_name ${quote(r.upstream)};`;
  // No ready endpoint: ingress-nginx's balancer answers 503 for the backend.
  if (!u || u.servers.length === 0) return [head, name, '      return 503;', '    }'].join('\n');
  return [head, name, `      proxy_pass http://${u.name};`, '    }'].join('\n');
}

function serverBlock(s: VirtualServer, opts: ConfOptions, byName: Map<string, Upstream>): string {
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
  for (const r of s.routes) lines.push(locationBlock(r, byName));
  // A host without a route for the path: ingress-nginx's default backend answers 404.
  if (!s.routes.some((r) => r.path === '/' && !r.exact)) lines.push('    location / {', '      return 404;', '    }');
  lines.push('  }');
  return lines.join('\n');
}

/** The whole nginx.conf of a gateway pod. */
export function renderNginxConf(model: GatewayModel, opts: ConfOptions): string {
  const d = NGINX_DEFAULTS;
  const t = (seconds: number) => realDuration(seconds, opts.timeScale);
  const file = (name: string) => path.join(opts.dir, name);
  const byName = new Map(model.upstreams.map((u) => [u.name, u]));
  return [
    '# Written by the twin\'s ingress-controller emulation; rewritten and reloaded on every backend sync.',
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
    ...model.upstreams.filter((u) => u.servers.length > 0).map((u) => upstreamBlock(u, opts.timeScale)),
    ...model.servers.map((s) => serverBlock(s, opts, byName)),
    '}',
    '',
  ].join('\n');
}
