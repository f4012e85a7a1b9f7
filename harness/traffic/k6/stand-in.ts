/**
 * The twin's stand-in for `k6 run` of k6-scripts/constant-rate.js, for machines without k6: it is
 * **not k6**, only what the harness reads of k6 — the same command line (k6's flags, checked as k6
 * checks them: an unknown one exits 255), the same plan (the script's variables from `-e` or the
 * environment: TARGET, RATE, DURATION, TIMEOUT, MIX, USER_AGENT, CELL, HOST_HEADER), the same
 * schedule (constant arrival rate; with `--execution-segment` and `--execution-segment-sequence`
 * only the segment's stripe of the global iterations, each at gi × 1000 / RATE ms, as k6's executor
 * does; segments.ts), and the same output: k6's NDJSON on stdout (`--out json=-`), `http_reqs` and
 * `http_req_duration` per request with the script's `sent_ms` metadata and k6's network error
 * codes, a `data_sent` Point per iteration (and, on SIGINT or SIGTERM, for each request still in
 * flight, which then gets no `http_reqs` Point: k6's cut at the stop), exit 0, or 105 when stopped.
 * With `--paused` it waits for a `PATCH /v1/status {"data":{"attributes":{"paused":false}}}` on
 * `--address` (k6's REST API, as k6-operator's starter sends it); `GET /v1/status` answers too.
 */
import http from 'node:http';
import https from 'node:https';
import { scaledClock, type Timer } from '../../core/clock.ts';
import { mixPicker } from '../builtin/driver.ts';
import { iterationsOf, parseSegment, parseSequence, stripeOf, type Stripe } from './segments.ts';

/** What a command line asks for. */
export interface StandInArgs {
  segment?: string;
  sequence?: string;
  paused: boolean;
  address?: string;
  tags: Record<string, string>;
  env: Record<string, string>;
  script: string;
}

/** k6's exit codes the stand-in uses (errext/exitcodes). */
export const EXIT = { ok: 0, aborted: 105, invalidConfig: 104, scriptException: 107, badCommandLine: 255 } as const;

class CommandLineError extends Error {}

/** Retries of one request on reused connections (Go's transport has no count: its pool bounds it). */
const MAX_RETRIES = 64;

/** The stand-in runs in real time (traffic rates are real), through the clock as everything does. */
const wall = scaledClock(1);

/** Reads `run …` as k6 does for the flags the harness and k6-operator give; throws CommandLineError on any other. */
export function parseStandInArgs(argv: string[]): StandInArgs {
  const args = [...argv];
  if (args[0] === 'k6') args.shift();
  if (args.shift() !== 'run') throw new CommandLineError(`unknown command ${JSON.stringify(argv[0] ?? '')} for "k6"`);
  const out: StandInArgs = { paused: false, tags: {}, env: {}, script: '' };
  const value = (flag: string, inline: string | undefined) => {
    if (inline !== undefined) return inline;
    if (!args.length) throw new CommandLineError(`flag needs an argument: ${flag}`);
    return args.shift()!;
  };
  while (args.length) {
    const a = args.shift()!;
    if (!a.startsWith('-')) {
      if (out.script) throw new CommandLineError(`accepts 1 arg(s), received 2`);
      out.script = a;
      continue;
    }
    const eq = a.indexOf('=');
    const [flag, inline] = eq > 0 && a.startsWith('--') ? [a.slice(0, eq), a.slice(eq + 1)] : [a, undefined];
    switch (flag) {
      case '-q':
      case '--quiet':
      case '--no-usage-report':
      case '--no-summary':
        break;
      case '--summary-mode':
        if (value(flag, inline) !== 'disabled') throw new CommandLineError('the stand-in writes no summary: expected --summary-mode=disabled');
        break;
      case '--paused':
      case '-p':
        out.paused = true;
        break;
      case '--address':
      case '-a':
        out.address = value(flag, inline);
        break;
      case '--execution-segment':
        out.segment = value(flag, inline);
        break;
      case '--execution-segment-sequence':
        out.sequence = value(flag, inline);
        break;
      case '--out':
      case '-o': {
        const o = value(flag, inline);
        if (o !== 'json=-') throw new CommandLineError(`the stand-in writes only --out json=- (NDJSON on stdout), got ${o}`);
        break;
      }
      case '--tag':
        pair(out.tags, 'tag', value(flag, inline));
        break;
      case '-e':
      case '--env':
        pair(out.env, 'env', value(flag, inline));
        break;
      default:
        throw new CommandLineError(`unknown flag: ${flag}`);
    }
  }
  if (!out.script) throw new CommandLineError('accepts 1 arg(s), received 0');
  return out;
}

/** `name=value` of a `--tag` or `-e` into `into`. */
function pair(into: Record<string, string>, what: string, text: string): void {
  const i = text.indexOf('=');
  if (i < 1) throw new CommandLineError(`invalid ${what} ${JSON.stringify(text)}: expected name=value`);
  into[text.slice(0, i)] = text.slice(i + 1);
}

/** k6's error code and message for a Node network error (lib/netext/httpext/error_codes.go). */
function k6Error(e: NodeJS.ErrnoException | Error): { code: string; error: string } {
  const code = (e as NodeJS.ErrnoException).code;
  if (e.name === 'TimeoutError' || code === 'ETIMEDOUT') return { code: '1050', error: 'request timeout' };
  if (code === 'ECONNREFUSED') return { code: '1212', error: 'dial: connection refused' };
  if (code === 'ECONNRESET') return { code: '1220', error: 'read: connection reset by peer' };
  if (code === 'EPIPE') return { code: '1201', error: 'write: broken pipe' };
  return { code: '1000', error: 'EOF' };
}

/** Runs the stand-in; resolves with its exit code. Output goes to `write` (one NDJSON line per call). */
export async function runStandIn(argv: string[], env: Record<string, string | undefined>, write: (line: string) => void, logError: (line: string) => void): Promise<number> {
  let a: StandInArgs;
  try {
    a = parseStandInArgs(argv);
  } catch (e) {
    if (!(e instanceof CommandLineError)) throw e;
    logError(`time="${new Date(wall.now()).toISOString()}" level=error msg="${e.message}"`);
    return EXIT.badCommandLine;
  }
  const vars = { ...(env.K6_INCLUDE_SYSTEM_ENV_VARS === 'false' ? {} : env), ...a.env };
  const num = (name: string, fallback: number) => (vars[name] === undefined || vars[name] === '' ? fallback : Number(vars[name]));
  const target = String(vars.TARGET ?? '').replace(/\/$/, '');
  const rate = num('RATE', 10);
  const duration = num('DURATION', 10);
  const timeout = num('TIMEOUT', 30);
  let mix: Array<{ path: string; weight: number }>;
  try {
    mix = vars.MIX ? (JSON.parse(vars.MIX) as typeof mix) : [{ path: '/', weight: 1 }];
  } catch {
    mix = [];
  }
  if (!target || !(rate > 0) || !(duration > 0) || !(timeout > 0) || !Array.isArray(mix) || !mix.length) {
    logError(`time="${new Date(wall.now()).toISOString()}" level=error msg="Expected TARGET, RATE, DURATION, TIMEOUT and MIX as the script reads them, got ${JSON.stringify({ target, rate, duration, timeout })}"`);
    return EXIT.scriptException;
  }
  let stripe: Stripe;
  try {
    const sequence = a.sequence ? parseSequence(a.sequence) : undefined;
    stripe = stripeOf(a.segment ? parseSegment(a.segment) : parseSegment('0:1'), sequence);
  } catch (e) {
    logError(`time="${new Date(wall.now()).toISOString()}" level=error msg="${(e as Error).message}"`);
    return EXIT.invalidConfig;
  }

  // The script's smooth weighted round robin over the test-wide iteration number (constant-rate.js, the built-in driver's).
  const pathOf = mixPicker(mix);

  const clock = wall;
  const declared = new Set<string>();
  const emit = (metric: string, type: string, value: number, tags: Record<string, string>, sentMs: string | undefined, at = clock.now()) => {
    if (!declared.has(metric)) {
      declared.add(metric);
      write(JSON.stringify({ type: 'Metric', data: { name: metric, type, contains: metric.startsWith('http_req_') && metric !== 'http_req_failed' ? 'time' : 'default', thresholds: [], submetrics: null }, metric }));
    }
    write(JSON.stringify({ metric, type: 'Point', data: { time: new Date(at).toISOString(), value, tags, ...(sentMs !== undefined ? { metadata: { sent_ms: sentMs } } : {}) } }));
  };
  const agent = { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true, rejectUnauthorized: vars.INSECURE_SKIP_TLS_VERIFY !== 'true' }) };
  const inFlight = new Map<number, { sentMs: string; abort: AbortController }>();
  let stopped = false;

  const send = (gi: number) => {
    const path = pathOf(gi);
    const url = `${target}${path}`;
    const sentMs = String(Math.round(clock.now()));
    const abort = new AbortController();
    inFlight.set(gi, { sentMs, abort });
    const started = clock.now();
    const baseTags = { ...a.tags, cell: vars.CELL || 'none', group: '', method: 'GET', name: url, scenario: 'traffic', url };
    const timer = clock.setTimeout(() => abort.abort(Object.assign(new Error('request timeout'), { name: 'TimeoutError' })), timeout * 1000);
    const finish = (status: string, extra: Record<string, string>) => {
      timer.cancel();
      if (!inFlight.delete(gi)) return;
      const tags = { ...baseTags, ...extra, status, expected_response: String(Number(status) >= 200 && Number(status) < 400) };
      const ms = clock.now() - started;
      emit('http_reqs', 'counter', 1, tags, sentMs);
      emit('http_req_duration', 'trend', ms, tags, sentMs);
      emit('http_req_failed', 'rate', tags.expected_response === 'true' ? 0 : 1, tags, sentMs);
      emit('data_sent', 'counter', 80, { group: '', scenario: 'traffic' }, sentMs);
      settle();
    };
    const u = new URL(url);
    const headers: Record<string, string> = {};
    if (vars.USER_AGENT) headers['user-agent'] = vars.USER_AGENT;
    if (vars.HOST_HEADER) headers.host = vars.HOST_HEADER;
    const attempt = (retries: number) => {
      let answered = false;
      const req = (u.protocol === 'https:' ? https : http).request(u, { method: 'GET', headers, agent: u.protocol === 'https:' ? agent.https : agent.http, signal: abort.signal }, (res) => {
        answered = true;
        res.resume();
        res.on('end', () => finish(String(res.statusCode ?? 0), { proto: 'HTTP/1.1' }));
        res.on('error', (e) => finish('0', { error: k6Error(e).error, error_code: k6Error(e).code }));
      });
      req.on('error', (e) => {
        // Our own stop: the request is cut (no http_reqs Point), not failed.
        if (stopped && abort.signal.aborted && abort.signal.reason === STOP) return;
        // As k6's Go transport does (net/http transport.go, shouldRetryRequest): a GET that failed on a
        // reused keep-alive connection before any answer (the server closed it as the request went
        // out: the keep-alive race) goes again on another connection, until one that was not reused
        // fails (bounded here by the pool a burst can have left idle).
        if (retries < MAX_RETRIES && !answered && !abort.signal.aborted && req.reusedSocket) return attempt(retries + 1);
        const reason = abort.signal.aborted ? (abort.signal.reason as Error) : e;
        finish('0', { error: k6Error(reason).error, error_code: k6Error(reason).code });
      });
      req.end();
    };
    attempt(0);
  };

  const STOP = new Error('stopped');
  const planned = Math.round(rate * duration);
  const periodMs = 1000 / rate;
  const schedule = iterationsOf(stripe, planned);
  let next: Timer | undefined;
  let scheduling = true;
  let resolveDone: (code: number) => void = () => {};
  const done = new Promise<number>((resolve) => (resolveDone = resolve));
  const settle = () => {
    if (!scheduling && !inFlight.size) resolveDone(stopped ? EXIT.aborted : EXIT.ok);
  };
  const start = () => {
    const origin = clock.now();
    const step = () => {
      for (;;) {
        if (stopped) return;
        const { value: gi, done: finished } = schedule.next();
        if (finished) {
          scheduling = false;
          return settle();
        }
        const wait = origin + gi * periodMs - clock.now();
        if (wait > 0) {
          next = clock.setTimeout(() => {
            send(gi);
            step();
          }, wait);
          return;
        }
        // Already due (the process did not run for a while): sent now, as k6's executor does when its timer is past.
        send(gi);
      }
    };
    step();
  };
  const stop = () => {
    if (stopped) return;
    stopped = true;
    scheduling = false;
    next?.cancel();
    // As k6 on SIGINT: the requests in flight get no http_reqs Point, only their iteration's data_sent.
    for (const [gi, r] of [...inFlight]) {
      inFlight.delete(gi);
      r.abort.abort(STOP);
      emit('data_sent', 'counter', 80, { group: '', scenario: 'traffic' }, r.sentMs);
    }
    settle();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);

  let api: http.Server | undefined;
  if (a.address) {
    // k6-operator's `--address=0.0.0.0:6565`: in the twin, the pod's own address (the kubelet's HOST and PORT).
    const wildcard = a.address.startsWith('0.0.0.0:');
    const host = wildcard ? (env.HOST ?? '127.0.0.1') : a.address.slice(0, a.address.lastIndexOf(':')) || '127.0.0.1';
    const port = wildcard && env.PORT ? Number(env.PORT) : Number(a.address.slice(a.address.lastIndexOf(':') + 1));
    let paused = a.paused;
    api = http.createServer((req, res) => {
      const status = () => JSON.stringify({ data: { type: 'status', id: 'default', attributes: { status: paused ? 1 : 3, paused, vus: 0, 'vus-max': 0, stopped, running: !paused && !stopped, tainted: false } } });
      if (req.url !== '/v1/status') return res.writeHead(404).end();
      if (req.method === 'GET') return res.writeHead(200, { 'content-type': 'application/json' }).end(status());
      if (req.method !== 'PATCH') return res.writeHead(405).end();
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        try {
          const attributes = (JSON.parse(body) as { data?: { attributes?: { paused?: boolean; stopped?: boolean } } }).data?.attributes ?? {};
          if (attributes.paused === false && paused) {
            paused = false;
            start();
          }
          if (attributes.stopped === true) stop();
          res.writeHead(200, { 'content-type': 'application/json' }).end(status());
        } catch {
          res.writeHead(400).end();
        }
      });
    });
    await new Promise<void>((resolve, reject) => api!.once('error', reject).listen(port, host, resolve));
  } else if (a.paused) {
    logError(`time="${new Date(wall.now()).toISOString()}" level=error msg="--paused needs the REST API (--address) to be resumed"`);
    return EXIT.invalidConfig;
  }
  // The clock's timers do not hold the process (unref), and between two requests nothing else may:
  // this handle keeps it running until the run is done. It times nothing.
  // eslint-disable-next-line no-restricted-globals
  const hold = setInterval(() => {}, 2 ** 30);
  if (!a.paused) start();
  const code = await done.finally(() => clearInterval(hold));
  api?.close();
  agent.http.destroy();
  agent.https.destroy();
  return code;
}

/** The stand-in as a program: `node bin/run-entry.mjs harness/traffic/k6/stand-in.ts run …`. */
export async function main(argv: string[]): Promise<void> {
  const out = process.stdout;
  const code = await runStandIn(argv, process.env, (line) => out.write(`${line}\n`), (line) => process.stderr.write(`${line}\n`));
  // Exit once stdout is flushed: every line written is read.
  out.write('', () => process.exit(code));
}
