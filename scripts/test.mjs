#!/usr/bin/env node
// `npm test`: vitest with the arguments given (`npm test -- --reporter=…`), and beside it the type
// check and the lint at the lowest CPU priority (nice 19). They need ~40 CPU-s; at nice 19 they take
// only what the twin tests leave idle (the timing group leaves 30–50 % of two cores), so they neither
// slow a test that counts on the twin keeping its model time nor add their ~25 s before the suite.
// Each check's output is printed when it ends; the exit status is vitest's, else 1 when a check failed.
import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name) => path.join(root, 'node_modules', '.bin', name);

/** Runs one command; resolves to its exit code (1 when it could not start) and its output. */
function run(command, args, { background }) {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(command, args, { cwd: root, stdio: background ? ['ignore', 'pipe', 'pipe'] : 'inherit' });
    children.add(child);
    let output = '';
    if (background) {
      try {
        os.setPriority(child.pid, 19);
      } catch {
        // not permitted here: it runs at the normal priority
      }
      child.stdout.on('data', (d) => (output += d));
      child.stderr.on('data', (d) => (output += d));
    }
    child.on('error', (error) => {
      output += `${command}: ${error.message}\n`;
    });
    child.on('close', (code, signal) => {
      children.delete(child);
      resolve({ code: code ?? (signal ? 1 : 0), output, seconds: (Date.now() - started) / 1000 });
    });
  });
}

const children = new Set();
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    for (const child of children) child.kill(signal);
  });
}

const checks = [
  ['typecheck', bin('tsc'), ['--noEmit']],
  ['lint', bin('eslint'), ['.']],
].map(([label, command, args]) =>
  run(command, args, { background: true }).then((r) => {
    const text = r.output.trim();
    console.log(`\n[${label}] ${r.code === 0 ? 'passed' : `FAILED (exit ${r.code})`} in ${r.seconds.toFixed(1)} s (at nice 19, beside the tests)${text ? `\n${text}` : ''}`);
    return r.code;
  }),
);
const tests = await run(bin('vitest'), ['run', ...process.argv.slice(2)], { background: false });
const failedChecks = (await Promise.all(checks)).filter((code) => code !== 0).length;
process.exitCode = tests.code !== 0 ? tests.code : failedChecks ? 1 : 0;
