/**
 * The bare Node proxy of bench/alb-twin.ts over several processes (node:cluster, round-robin
 * accept in the primary): node:http in front of one undici Pool per pod, hop-by-hop headers
 * dropped, nothing else. What a Node data plane spread over processes can reach, beside the one
 * event loop the twin's data plane runs on.
 *
 *   node bench/node-proxy-cluster.mjs <processes> <pod host:port,...>
 *
 * Listens on a free port of 127.0.0.1 and prints `listening <port> pids <primary>,<worker>,...`.
 * Ends its workers on SIGTERM, and ends when its parent does (stdin closes), as the test app's pods.
 */
import cluster from 'node:cluster';
import http from 'node:http';
import { Pool } from 'undici';

const [count, podList] = process.argv.slice(2);
const processes = Number(count);
if (!Number.isInteger(processes) || processes < 1 || !podList) {
  console.error(`Expected: node bench/node-proxy-cluster.mjs <processes ≥ 1> <host:port,...>, got ${JSON.stringify(process.argv.slice(2))}`);
  process.exit(2);
}
/** The twin's list (harness/twin/alb/data-plane.ts HOP_BY_HOP), without its own node header. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer']);

if (cluster.isPrimary) {
  cluster.schedulingPolicy = cluster.SCHED_RR;
  // Port 0 in every worker: the primary binds once and hands each worker's listen the same socket.
  const workers = Array.from({ length: processes }, () => cluster.fork());
  let listening = 0;
  cluster.on('listening', (_worker, address) => {
    if (++listening === processes) console.log(`listening ${address.port} pids ${[process.pid, ...workers.map((w) => w.process.pid)].join(',')}`);
  });
  const stop = () => {
    for (const w of workers) w.process.kill('SIGKILL');
    process.exit(0);
  };
  cluster.on('exit', (worker, code, signal) => {
    if (listening < processes) {
      console.error(`Expected worker ${worker.process.pid} to listen, got exit ${code ?? signal}`);
      stop();
    }
  });
  process.on('SIGTERM', stop);
  process.stdin.on('end', stop);
  process.stdin.on('close', stop);
  process.stdin.resume();
} else {
  const pools = podList.split(',').map((pod) => new Pool(`http://${pod}`, { pipelining: 1, headersTimeout: 0, bodyTimeout: 0 }));
  let next = 0;
  const server = http.createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
    const pool = pools[next++ % pools.length];
    const headers = {};
    for (const name in req.headers) if (!HOP_BY_HOP.has(name)) headers[name] = req.headers[name];
    req.resume();
    pool.dispatch(
      { path: req.url ?? '/', method: req.method ?? 'GET', headers },
      {
        onRequestStart: () => undefined,
        onResponseStart: (_c, status, h) => {
          for (const name of HOP_BY_HOP) delete h[name];
          res.writeHead(status, h);
        },
        onResponseData: (_c, chunk) => {
          res.write(chunk);
        },
        onResponseEnd: () => {
          res.end();
        },
        onResponseError: (_c, err) => {
          if (res.headersSent) res.destroy(err);
          else res.writeHead(502).end();
        },
      },
    );
  });
  // A worker whose primary is gone (killed) exits by itself: node:cluster ends a worker on an unexpected disconnect.
  server.listen(0, '127.0.0.1');
}
