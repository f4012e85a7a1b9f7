/**
 * What the ALB twin's log files cost the data plane's event loop: ALB log lines (as the data plane
 * formats them) go into a `GzipBuilder` (1 MB slices), with an event-loop turn every 50 lines as a
 * serving data plane gives one; prints, per round, the event loop's time in `addLine` for all lines,
 * the calls over 0.2 ms, the longest three and `finish`.
 *
 *   node --import tsx bench/alb-log-files.ts [--lines 100000] [--rounds 3]
 *
 * Pure CPU in this process: no network, no files.
 */
import { formatAlbLogLine, type AlbLogEntry } from '../harness/twin/alb/alb-log.ts';
import { GzipBuilder } from '../harness/twin/alb/log-delivery.ts';

const args = process.argv.slice(2);
const option = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1] : fallback;
};
const LINES = Number(option('lines', '100000'));
const ROUNDS = Number(option('rounds', '3'));
if (!(LINES > 0) || !(ROUNDS > 0)) {
  console.error(`Expected --lines and --rounds above 0, got ${option('lines', '100000')} and ${option('rounds', '3')}`);
  process.exit(2);
}

const T0 = Date.parse('2026-12-04T18:00:00Z');
/** A request through the bench's twin: a client port, a pod, a trace id and times that vary as real ones do. */
function entry(i: number): AlbLogEntry {
  const time = T0 + i * 0.2;
  return {
    time,
    elb: 'app/bench/50dc6c495c0c9188',
    client: `127.0.0.1:${40000 + (i % 20000)}`,
    target: `127.0.41.${1 + (i % 3)}:8080`,
    requestProcessingTime: 0,
    targetProcessingTime: 0.005 + (i % 7) / 1000,
    responseProcessingTime: 0,
    elbStatusCode: 200,
    targetStatusCode: 200,
    receivedBytes: 120,
    sentBytes: 230 + (i % 50),
    request: `GET http://127.0.0.1:80/item/${i % 997} HTTP/1.1`,
    userAgent: 'wrk',
    targetGroupArn: 'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/bench-tg/0123456789abcdef',
    traceId: `Root=1-${Math.floor(time / 1000).toString(16)}-50dc6c49${i.toString(16).padStart(16, '0')}`,
    requestCreationTime: time - 6,
    connTraceId: `TID_50dc6c49aa${(i % 32).toString(16).padStart(22, '0')}`,
  };
}

const lines = Array.from({ length: LINES }, (_, i) => formatAlbLogLine(entry(i)));
const megabytes = lines.reduce((n, l) => n + Buffer.byteLength(l) + 1, 0) / 2 ** 20;
console.log(`${LINES} ALB log lines, ${megabytes.toFixed(1)} MiB; an event-loop turn every 50 lines`);
for (let round = 1; round <= ROUNDS; round++) {
  const builder = new GzipBuilder();
  const slow: number[] = [];
  let total = 0;
  for (let i = 0; i < lines.length; i++) {
    const start = performance.now();
    builder.addLine(lines[i]);
    const took = performance.now() - start;
    total += took;
    if (took > 0.2) slow.push(took);
    // Not a timer: one event-loop turn, so the thread pool's results come in as they would.
    if (i % 50 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  const start = performance.now();
  const file = builder.finish();
  const finish = performance.now() - start;
  slow.sort((a, b) => b - a);
  console.log(
    `round ${round}: addLine ${total.toFixed(1)} ms in all (${((1000 * total) / LINES).toFixed(2)} µs a line), ` +
      `${slow.length} calls over 0.2 ms (longest ${slow.slice(0, 3).map((ms) => ms.toFixed(2)).join(', ') || '–'} ms), finish ${finish.toFixed(2)} ms, file ${(file.length / 2 ** 20).toFixed(2)} MiB`,
  );
}
