// A tiny HTTP target for the ALB twin's tests and benchmark. argv: host [keepAliveMs] [name].
// Paths: /healthz (status set by /admin/health/<code>), /status/<code>, /slow/<ms>, /busy/<ms>,
// /pause/<after>-<spin>, /hang, /headers, /close (drops the connection), /malformed (answers
// garbage); anything else → 200 with the name.
import http from 'node:http';
import { setImmediate } from 'node:timers';

const [host = '127.0.0.1', keepAliveMs = '5000', name = host] = process.argv.slice(2);
let health = 200;
const idle = new WeakMap();
const server = http.createServer((req, res) => {
  clearTimeout(idle.get(req.socket));
  // The idle close is done here rather than by server.keepAliveTimeout, which newer Node
  // releases stretch by a hidden 1 s buffer.
  res.on('finish', () => idle.set(req.socket, setTimeout(() => req.socket.destroy(), Number(keepAliveMs))));
  const [, first = '', arg = ''] = (req.url ?? '/').split('/');
  if (first === 'healthz') return void res.writeHead(health).end('ok');
  if (first === 'admin') return void ((health = Number(req.url.split('/')[3])), res.end('set'));
  if (first === 'status') return void res.writeHead(Number(arg)).end(`status ${arg}`);
  if (first === 'slow') return void setTimeout(() => res.end(`slow ${name}`), Number(arg));
  if (first === 'hang') return;
  if (first === 'busy') {
    // Burns CPU so the event loop lags, as a loaded pod's does.
    for (const end = performance.now() + Number(arg); performance.now() < end; );
    return void res.end(`busy ${name}`);
  }
  if (first === 'pause') {
    // Answers, then freezes the event loop from <after> ms for <spin> ms (a GC pause). The
    // freeze runs in the check phase, so the next loop turn fires due timers (the idle close)
    // before it reads a request that arrived meanwhile: the keep-alive race, made certain.
    const [after, spin] = arg.split('-').map(Number);
    setTimeout(() => setImmediate(() => {
      for (const end = performance.now() + spin; performance.now() < end; );
    }), after);
    return void res.end(`pause ${name}`);
  }
  if (first === 'headers') return void res.end(JSON.stringify(req.headers));
  if (first === 'close') return void req.socket.destroy();
  if (first === 'malformed') return void req.socket.end('HTTP/1.1 abc nonsense\r\n\r\n');
  res.setHeader('x-target', name);
  res.end(name);
});
server.keepAliveTimeout = 0; // no timeout of Node's own: the idle close above decides
server.listen(0, host, () => process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`));
process.on('SIGTERM', () => process.exit(0));
