#!/usr/bin/env node
/**
 * A fake k6 for driver tests: accepts k6's argv and replays recorded NDJSON on stdout.
 *
 *   FAKE_K6_ARGV_FILE    write {pid, argv, env: {K6_*}} here as JSON before anything else
 *   FAKE_K6_FIXTURE      a .ndjson.gz (or plain .ndjson) to write to stdout
 *   FAKE_K6_CHUNK_BYTES  bytes per write (default 65536)
 *   FAKE_K6_DELAY_MS     pause between writes (default 0)
 *   FAKE_K6_STDERR       text written to stderr first
 *   FAKE_K6_EXIT         exit code after the output (default 0)
 *   FAKE_K6_ON_SIGTERM   "exit" (default: exit 105 like k6's external abort) or "ignore"
 * SIGINT ends the replay after the current chunk and exits 105, as k6 ends a run gracefully on Ctrl-C.
 */
import { createReadStream, writeFileSync } from 'node:fs';
import { createGunzip } from 'node:zlib';

const env = process.env;
if (process.argv[2] === 'version') {
  process.stdout.write('k6 v0.48.0 (fake)\n');
  process.exit(0);
}
if (env.FAKE_K6_ARGV_FILE) {
  const k6Env = Object.fromEntries(Object.entries(env).filter(([k]) => k.startsWith('K6_')));
  writeFileSync(env.FAKE_K6_ARGV_FILE, JSON.stringify({ pid: process.pid, argv: process.argv.slice(2), env: k6Env }));
}
if (process.argv[2] !== 'run') {
  process.stderr.write(`fake k6: expected "run", got ${JSON.stringify(process.argv.slice(2))}\n`);
  process.exit(2);
}

process.on('SIGTERM', () => {
  if (env.FAKE_K6_ON_SIGTERM === 'ignore') return;
  process.exit(105);
});

let interrupted = false;
process.on('SIGINT', () => {
  interrupted = true;
});

if (env.FAKE_K6_STDERR) process.stderr.write(env.FAKE_K6_STDERR.endsWith('\n') ? env.FAKE_K6_STDERR : `${env.FAKE_K6_STDERR}\n`);

const chunkBytes = Number(env.FAKE_K6_CHUNK_BYTES || 65536);
const delayMs = Number(env.FAKE_K6_DELAY_MS || 0);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const write = (buf) => new Promise((resolve) => (process.stdout.write(buf) ? resolve() : process.stdout.once('drain', resolve)));

if (env.FAKE_K6_FIXTURE) {
  const file = createReadStream(env.FAKE_K6_FIXTURE);
  const source = env.FAKE_K6_FIXTURE.endsWith('.gz') ? file.pipe(createGunzip()) : file;
  let pending = Buffer.alloc(0);
  for await (const data of source) {
    pending = Buffer.concat([pending, data]);
    if (interrupted) break;
    while (pending.length >= chunkBytes && !interrupted) {
      await write(pending.subarray(0, chunkBytes));
      pending = pending.subarray(chunkBytes);
      if (delayMs) await sleep(delayMs);
    }
  }
  // Whole lines only after an interruption, as k6 flushes complete samples.
  if (pending.length && !interrupted) await write(pending);
  else if (interrupted) {
    const end = pending.lastIndexOf(10);
    if (end >= 0) await write(pending.subarray(0, end + 1));
  }
}
process.exitCode = interrupted ? 105 : Number(env.FAKE_K6_EXIT || 0);
