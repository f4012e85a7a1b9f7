#!/usr/bin/env node
/**
 * A fake k6 for driver tests: answers `k6 version` and takes `k6 run` argv like the k6 release it
 * plays, then replays recorded NDJSON on stdout.
 *
 *   FAKE_K6_VERSION        the release it plays, e.g. 0.48.0 (default), 1.2.3, 1.3.0, 2.0.0
 *   FAKE_K6_VERSION_OUTPUT print this for `k6 version` instead of the release's own line
 *   FAKE_K6_NAME           the file name the binary was started as (default k6): `k6 version` prints it first
 *   FAKE_K6_ARGV_FILE      write {pid, argv, env: {K6_*}} here as JSON before anything else
 *   FAKE_K6_FIXTURE        a .ndjson.gz (or plain .ndjson) to write to stdout
 *   FAKE_K6_CHUNK_BYTES    bytes per write (default 65536)
 *   FAKE_K6_DELAY_MS       pause between writes (default 0)
 *   FAKE_K6_STDERR         text written to stderr first
 *   FAKE_K6_EXIT           exit code after the output (default 0)
 *   FAKE_K6_ON_SIGTERM     "exit" (default: exit 105 like k6's external abort) or "ignore"
 *   FAKE_K6_UNTIL_SIGINT   "1": write nothing until SIGINT, then the whole fixture (a recording
 *                          of a run stopped by SIGINT), k6's abort line on stderr, and exit 105
 *   FAKE_K6_READY_FILE     with FAKE_K6_UNTIL_SIGINT: created once SIGINT is handled
 * SIGINT otherwise ends the replay after the current chunk and exits 105, as k6 ends a run on Ctrl-C.
 *
 * Flags are checked as the played release's cobra/pflag command line does: an unknown flag is
 * `level=error msg="unknown flag: --x"` on stderr and exit 255 (k6 exits -1 for an error without
 * an exit code of its own). `--summary-mode` arrived in v1.0 and its `disabled` value in v1.3;
 * `--no-summary` is deprecated (a warning) from v1.3 and gone in v2.
 */
import { createReadStream, renameSync, writeFileSync } from 'node:fs';
import { createGunzip } from 'node:zlib';

const env = process.env;
const [major, minor] = (env.FAKE_K6_VERSION || '0.48.0').split('.').map(Number);
const release = env.FAKE_K6_VERSION || '0.48.0';
const logError = (msg) => process.stderr.write(`time="${new Date().toISOString().slice(0, 19)}Z" level=error msg=${JSON.stringify(msg)}\n`);

if (process.argv[2] === 'version') {
  // The root command's version template, `{{.Name}} v{{.Version}}`: the name is the binary's own
  // file name (a k6 kept as `k6-v0.48.0` says so first); v1+ adds commit/….
  const name = env.FAKE_K6_NAME || 'k6';
  if (env.FAKE_K6_VERSION_OUTPUT !== undefined) process.stdout.write(env.FAKE_K6_VERSION_OUTPUT);
  else if (major === 0) process.stdout.write(`${name} v${release} (go1.21.4, linux/amd64)\n`);
  else process.stdout.write(`${name} v${release} (commit/0123456789, go1.24.4, linux/amd64)\n`);
  process.exit(0);
}
// Signals are handled before the argv file tells a test this process is there.
let interrupted = false;
const untilSigint = env.FAKE_K6_UNTIL_SIGINT === '1';
const onSigint = [];
process.on('SIGINT', () => {
  interrupted = true;
  for (const fn of onSigint) fn();
});
process.on('SIGTERM', () => {
  if (env.FAKE_K6_ON_SIGTERM === 'ignore') return;
  process.exit(105);
});
if (env.FAKE_K6_ARGV_FILE) {
  const k6Env = Object.fromEntries(Object.entries(env).filter(([k]) => k.startsWith('K6_')));
  // Atomically: a test polling for the file never reads half of it.
  writeFileSync(`${env.FAKE_K6_ARGV_FILE}.tmp`, JSON.stringify({ pid: process.pid, argv: process.argv.slice(2), env: k6Env }));
  renameSync(`${env.FAKE_K6_ARGV_FILE}.tmp`, env.FAKE_K6_ARGV_FILE);
}
if (process.argv[2] !== 'run') {
  logError(`unknown command ${JSON.stringify(process.argv[2] ?? '')} for "k6"`);
  process.exit(255);
}

// The `k6 run` flags this release knows: name → takes a value.
const flags = new Map([
  ['-q', false], ['--quiet', false], ['-v', false], ['--verbose', false], ['--no-color', false],
  ['-a', true], ['--address', true], ['-o', true], ['--out', true], ['-e', true], ['--env', true],
  ['--no-usage-report', false], ['--no-thresholds', false], ['--summary-export', true], ['--log-output', true],
]);
if (major < 2) flags.set('--no-summary', false);
if (major >= 1) flags.set('--summary-mode', true);
const summaryModes = ['compact', 'full', ...(major === 1 ? ['legacy'] : []), ...(major >= 2 || (major === 1 && minor >= 3) ? ['disabled'] : [])];

const args = process.argv.slice(3);
for (let i = 0; i < args.length; i++) {
  const arg = args[i];
  if (!arg.startsWith('-')) continue;
  const [name, inline] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
  if (!flags.has(name)) {
    logError(`unknown flag: ${name}`);
    process.exit(255);
  }
  const value = flags.get(name) && inline === undefined ? args[++i] : inline;
  if (name === '--summary-mode' && !summaryModes.includes(value)) {
    logError(`invalid summary mode '${value}', use one of: ${summaryModes.join(', ')}`);
    process.exit(255);
  }
  if (name === '--no-summary' && major === 1 && minor >= 3) {
    process.stderr.write('Flag --no-summary has been deprecated, use --summary-mode=disabled instead\n');
  }
}

const chunkBytes = Number(env.FAKE_K6_CHUNK_BYTES || 65536);
const delayMs = Number(env.FAKE_K6_DELAY_MS || 0);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const write = (buf) => new Promise((resolve) => (process.stdout.write(buf) ? resolve() : process.stdout.once('drain', resolve)));
const open = () => {
  const file = createReadStream(env.FAKE_K6_FIXTURE);
  return env.FAKE_K6_FIXTURE.endsWith('.gz') ? file.pipe(createGunzip()) : file;
};

if (env.FAKE_K6_STDERR) process.stderr.write(env.FAKE_K6_STDERR.endsWith('\n') ? env.FAKE_K6_STDERR : `${env.FAKE_K6_STDERR}\n`);

if (untilSigint) {
  // Bounded: a fake nobody stops ends by itself after 30 s.
  const bound = setTimeout(() => process.exit(0), 30_000);
  const replay = async () => {
    clearTimeout(bound);
    if (env.FAKE_K6_FIXTURE) for await (const data of open()) await write(data);
    logError("test run was aborted because k6 received a 'interrupt' signal");
    process.exitCode = 105;
  };
  if (interrupted) await replay();
  else onSigint.push(() => void replay());
  if (env.FAKE_K6_READY_FILE) writeFileSync(env.FAKE_K6_READY_FILE, String(process.pid));
} else {
  if (env.FAKE_K6_FIXTURE) {
    let pending = Buffer.alloc(0);
    for await (const data of open()) {
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
}
