/**
 * The real nginx of a gateway pod: finding Debian's binary, starting its master in the foreground
 * (`daemon off`) as the controller's child, reloading it gracefully after a `-t` check (SIGHUP, as
 * `nginx -s reload`), and quitting it gracefully (SIGQUIT, as `nginx -s quit`).
 */
import { execFile, spawn } from 'node:child_process';
import { openSync, constants as fsConstants } from 'node:fs';
import { access, constants } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';

/** The Debian package that provides nginx, named in every refusal. */
export const NGINX_PACKAGE_HINT = 'apt-get install nginx';

/** Where nginx is looked for besides PATH: Debian installs it in /usr/sbin, which a user's PATH may lack. */
const SBIN_DIRS = ['/usr/sbin', '/usr/local/sbin', '/sbin'];

/** Where nginxAvailable looks: PATH's directories, then Debian's sbin directories. */
export interface NginxSearch {
  /** Default: this process's PATH. */
  path?: string;
  /** Default: /usr/sbin, /usr/local/sbin, /sbin. */
  sbinDirs?: string[];
}

/** Whether this machine has an `nginx` executable (on PATH or in an sbin directory), and where; else the refusal naming the package. */
export async function nginxAvailable(search: NginxSearch = {}): Promise<{ ok: true; path: string } | { ok: false; message: string }> {
  const sbin = search.sbinDirs ?? SBIN_DIRS;
  const dirs = [...(search.path ?? process.env.PATH ?? '').split(path.delimiter).filter(Boolean), ...sbin];
  for (const dir of dirs) {
    const file = path.join(dir, 'nginx');
    try {
      await access(file, constants.X_OK);
      return { ok: true, path: file };
    } catch {
      // Not here.
    }
  }
  return {
    ok: false,
    message: `The gateway runs real nginx: expected an nginx executable on PATH${sbin.length ? ` or in ${sbin.join(', ')}` : ''}, got none; install Debian's package with \`${NGINX_PACKAGE_HINT}\``,
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
  /** SIGKILL (the pod is being torn down). */
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
    kill: () => signal('SIGKILL'),
  };
}
