/**
 * The real nginx of a gateway pod: finding Debian's binary, starting its master in the foreground
 * (`daemon off`) as the controller's child, reloading it gracefully after a `-t` check (SIGHUP, as
 * `nginx -s reload`), posting the backends to its configuration server (no reload), and quitting it
 * gracefully (SIGQUIT, as `nginx -s quit`).
 */
import { execFile, spawn } from 'node:child_process';
import { openSync, readFileSync, constants as fsConstants } from 'node:fs';
import { access, constants } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import type { Clock } from '../../core/clock.ts';
import { LUA_MODULES, RESTY_CORE_DIR } from './conf.ts';

/** Where the controller posts the backends (ingress-nginx's configuration.lua). */
export const BACKENDS_PATH = '/configuration/backends';

/** The Debian packages the gateway needs (nginx, its Lua module, lua-resty-core), named in every refusal. */
export const NGINX_PACKAGE_HINT = 'apt-get install nginx libnginx-mod-http-lua lua-resty-core';

/** Where nginx is looked for besides PATH: Debian installs it in /usr/sbin, which a user's PATH may lack. */
const SBIN_DIRS = ['/usr/sbin', '/usr/local/sbin', '/sbin'];

/** Where nginxAvailable looks: PATH's directories, then Debian's sbin directories; the Lua files where Debian puts them. */
export interface NginxSearch {
  /** Default: this process's PATH. */
  path?: string;
  /** Default: /usr/sbin, /usr/local/sbin, /sbin. */
  sbinDirs?: string[];
  /** The files nginx loads for the Lua balancer. Default: Debian's NDK and Lua modules and lua-resty-core's `resty/core.lua`. */
  luaFiles?: string[];
}

/** The files of libnginx-mod-http-lua (and the NDK it depends on) and lua-resty-core that the conf loads. */
const LUA_FILES = [...LUA_MODULES, path.join(RESTY_CORE_DIR, 'resty/core.lua')];

async function exists(file: string, mode: number): Promise<boolean> {
  try {
    await access(file, mode);
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether this machine has an `nginx` executable (on PATH or in an sbin directory) and the Lua
 * module and lua-resty-core its balancer needs, and where nginx is; else the refusal naming the packages.
 */
export async function nginxAvailable(search: NginxSearch = {}): Promise<{ ok: true; path: string } | { ok: false; message: string }> {
  const sbin = search.sbinDirs ?? SBIN_DIRS;
  const dirs = [...(search.path ?? process.env.PATH ?? '').split(path.delimiter).filter(Boolean), ...sbin];
  let binary: string | undefined;
  for (const dir of dirs) {
    if (await exists(path.join(dir, 'nginx'), constants.X_OK)) {
      binary = path.join(dir, 'nginx');
      break;
    }
  }
  const missing: string[] = [];
  for (const file of search.luaFiles ?? LUA_FILES) if (!(await exists(file, constants.R_OK))) missing.push(file);
  if (binary && missing.length === 0) return { ok: true, path: binary };
  const wanted = [
    ...(binary ? [] : [`an nginx executable on PATH${sbin.length ? ` or in ${sbin.join(', ')}` : ''}`]),
    ...(missing.length ? [`its Lua balancer's ${missing.join(', ')}`] : []),
  ];
  const got = [...(binary ? [] : ['no nginx']), ...missing.map((file) => `no ${path.basename(file)}`)];
  return {
    ok: false,
    message: `The gateway runs real nginx with ingress-nginx's Lua balancer: expected ${wanted.join(' and ')}, got ${got.join(', ')}; install Debian's packages with \`${NGINX_PACKAGE_HINT}\``,
  };
}

/** How an nginx master ended. */
export interface NginxExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A running nginx master. */
export interface NginxProcess {
  readonly pid: number;
  readonly exited: Promise<NginxExit>;
  readonly running: boolean;
  /** Checks the conf (`nginx -t`); when it passes, reloads gracefully (SIGHUP). Resolves with nginx's complaint, or undefined. */
  reload(): Promise<string | undefined>;
  /** Graceful shutdown (SIGQUIT): workers finish their requests, at most `worker_shutdown_timeout`. */
  quit(): void;
  /** SIGKILL to the master and its workers (the pod is being torn down). */
  kill(): void;
}

/**
 * Makes `file` a FIFO and reads it line by line: nginx's workers write the access log there and
 * `onLine` gets each line as it comes. Opened read-write, so it never sees end-of-file while nginx
 * reopens it on a reload. Resolves with a function that stops reading.
 */
export function readFifo(file: string, onLine: (line: string) => void): Promise<() => void> {
  return new Promise((resolve, reject) => {
    execFile('mkfifo', ['-m', '0600', file], (error) => {
      if (error) return reject(new Error(`Expected to make the FIFO ${file} with mkfifo, got: ${error.message}`, { cause: error }));
      const fd = openSync(file, fsConstants.O_RDWR | fsConstants.O_NONBLOCK);
      const socket = new net.Socket({ fd, readable: true, writable: false });
      let partial = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => {
        const parts = (partial + chunk).split('\n');
        partial = parts.pop() ?? '';
        for (const line of parts) onLine(line);
      });
      socket.on('error', () => {
        // Closed under us at exit.
      });
      resolve(() => socket.destroy());
    });
  });
}

/** Where one pod's nginx keeps its files. */
export interface NginxFiles {
  binary: string;
  /** The prefix directory (`-p`): conf, pid, temp paths and error log are there. */
  dir: string;
  conf: string;
}

function args(f: NginxFiles): string[] {
  return ['-p', f.dir, '-e', path.join(f.dir, 'error.log'), '-c', f.conf];
}

/** Runs `nginx -t` on the conf: undefined when it passes, else what nginx said. */
export function testConf(f: NginxFiles): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile(f.binary, [...args(f), '-t', '-q'], (error, _stdout, stderr) => resolve(error ? String(stderr || error.message).trim() : undefined));
  });
}

/** The PIDs of a process's children (procfs; none where there is no procfs). */
function workersOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function killPid(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

/** Starts the master in the foreground; its stdout (the access log) and stderr are the controller's. */
export function startNginx(f: NginxFiles): NginxProcess {
  const child = spawn(f.binary, [...args(f), '-g', 'daemon off;'], { stdio: ['ignore', 'inherit', 'inherit'] });
  let running = child.pid !== undefined;
  const exited = new Promise<NginxExit>((resolve) => {
    child.on('error', () => {
      running = false;
      resolve({ code: 127, signal: null });
    });
    child.on('exit', (code, signal) => {
      running = false;
      resolve({ code, signal });
    });
  });
  const signal = (sig: NodeJS.Signals) => {
    if (!running) return;
    try {
      child.kill(sig);
    } catch {
      // Already gone.
    }
  };
  return {
    pid: child.pid ?? 0,
    exited,
    get running() {
      return running;
    },
    async reload() {
      const complaint = await testConf(f);
      if (complaint === undefined) signal('SIGHUP');
      return complaint;
    },
    quit: () => signal('SIGQUIT'),
    kill: () => {
      // A SIGKILLed master leaves its workers running: they go first, while the master's children are its own.
      if (running && child.pid) for (const worker of workersOf(child.pid)) killPid(worker);
      signal('SIGKILL');
    },
  };
}

/**
 * POSTs the backends JSON to a pod's configuration server (`host:port`, or `unix:PATH` in the
 * twin's port mode) at `/configuration/backends`, as ingress-nginx's controller does after a sync
 * (configureDynamically). From 127.0.0.1, the one address the server allows. Resolves with
 * undefined when nginx answered 201, else with what failed; gives up after `timeoutMs` model ms.
 */
export function postBackends(configListen: string, body: string, clock: Clock, timeoutMs: number): Promise<string | undefined> {
  const where = configListen.startsWith('unix:')
    ? { socketPath: configListen.slice('unix:'.length) }
    : { host: configListen.slice(0, configListen.lastIndexOf(':')), port: Number(configListen.slice(configListen.lastIndexOf(':') + 1)), localAddress: '127.0.0.1' };
  const url = `http://${configListen}${BACKENDS_PATH}`;
  return new Promise((resolve) => {
    const req = http.request({ ...where, method: 'POST', path: BACKENDS_PATH, agent: false, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => {
        timer.cancel();
        resolve(res.statusCode === 201 ? undefined : `expected 201 from POST ${url}, got ${res.statusCode ?? '?'} ${text.trim()}`.trim());
      });
      res.on('error', (error) => {
        timer.cancel();
        resolve(`POST ${url} failed: ${error.message}`);
      });
    });
    const timer = clock.setTimeout(() => req.destroy(new Error(`no answer within ${timeoutMs} model ms`)), timeoutMs);
    req.on('error', (error) => {
      timer.cancel();
      resolve(`POST ${url} failed: ${error.message}`);
    });
    req.end(body);
  });
}
