// The process supervisor with real processes: spawn, signals, tails, killAll, and no orphans.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { scaledClock } from '../../../harness/core/clock.ts';
import { projectRoot } from '../../../harness/core/paths.ts';
import { getPriority } from 'node:os';
import { createProcessSupervisor, POD_NICENESS } from '../../../harness/twin/runtime/processes.ts';
import type { ProcessSupervisor } from '../../../harness/twin/runtime/types.ts';
import { isAlive } from '../../helpers/processes.ts';
import { requirement } from '../../helpers/requirement.ts';

const app = path.join(projectRoot, 'fixtures/app/server.mjs');
const clock = scaledClock(1);
const supervisors: ProcessSupervisor[] = [];
const strays: number[] = [];
// The process group of a child is read from procfs (Linux).
const procfs = requirement('procfs (/proc/self/stat)', existsSync('/proc/self/stat'), 'a Linux machine with /proc mounted');

function supervisor(opts?: Parameters<typeof createProcessSupervisor>[0]): ProcessSupervisor {
  const s = createProcessSupervisor(opts);
  supervisors.push(s);
  return s;
}


afterEach(async () => {
  await Promise.all(supervisors.splice(0).map((s) => s.killAll()));
  for (const pid of strays.splice(0)) {
    if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  }
});

describe('process supervisor', () => {
  it('spawns the app, tails its output, and SIGTERM ends it', async () => {
    const lines: string[] = [];
    const s = supervisor({ onOutput: (name, line) => lines.push(`${name}: ${line}`) });
    const proc = s.spawn({ name: 'default/web/app', command: ['node', app], env: { PORT: '0', POD_NAME: 'web' } });
    expect(proc.pid).toBeGreaterThan(0);
    expect(s.pids()).toEqual([proc.pid]);
    await vi.waitFor(() => expect(proc.tail().some((l) => l.startsWith('listening 127.0.0.1:'))).toBe(true), { timeout: 10_000 });
    expect(lines[0]).toMatch(/^default\/web\/app: listening 127\.0\.0\.1:\d+ pid \d+$/);
    expect(proc.running).toBe(true);
    expect(isAlive(proc.pid)).toBe(true);
    proc.signal('SIGTERM');
    expect(await proc.exited).toEqual({ code: 0, signal: null });
    expect(proc.running).toBe(false);
    expect(proc.tail().some((l) => l.startsWith('SIGTERM received mode graceful'))).toBe(true);
    expect(s.pids()).toEqual([]);
    expect(isAlive(proc.pid)).toBe(false);
  });

  it('runs `node` as this Node, with only PATH, the given env and EXIT_WITH_PARENT=1', async () => {
    const s = supervisor();
    const proc = s.spawn({
      name: 'env',
      command: ['node', '-e', 'console.log(process.execPath); console.log(JSON.stringify(process.env))'],
      env: { POD_NAME: 'p1' },
    });
    expect(await proc.exited).toEqual({ code: 0, signal: null });
    const [execPath, envJson] = proc.tail();
    expect(execPath).toBe(process.execPath);
    const env = JSON.parse(envJson) as Record<string, string>;
    expect(env.POD_NAME).toBe('p1');
    expect(env.EXIT_WITH_PARENT).toBe('1');
    expect(env.PATH).toBe(process.env.PATH);
    // The host's environment (here vitest's own variables) does not leak into containers.
    expect(env.VITEST).toBeUndefined();
  });

  it.runIf(procfs.run)('puts each child in its own process group', async () => {
    procfs.check();
    const s = supervisor();
    const proc = s.spawn({ name: 'group', command: ['sleep', '30'], env: {} });
    const pgrp = Number(readFileSync(`/proc/${proc.pid}/stat`, 'utf8').split(') ')[1].split(' ')[2]);
    expect(pgrp).toBe(proc.pid);
    expect(pgrp).not.toBe(Number(readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ')[2]));
  });

  it('runs each child at a lower priority than the twin (POD_NICENESS above its own)', async () => {
    const s = supervisor();
    const proc = s.spawn({ name: 'nice', command: ['sleep', '30'], env: {} });
    expect(getPriority(proc.pid)).toBe(Math.min(19, getPriority() + POD_NICENESS));
  });

  // Each child leads its own session; under Linux's autogroup a session's CPU share is weighed as a
  // whole, so the child's nice value alone would not make it yield to the twin (sched(7)).
  it('makes each child’s session group as nice as the child where the kernel groups sessions (autogroup)', async () => {
    const s = supervisor();
    const proc = s.spawn({ name: 'nice-group', command: ['sleep', '30'], env: {} });
    const group = (pid: number | 'self') => readFileSync(`/proc/${pid}/autogroup`, 'utf8');
    const id = (text: string) => /^\/autogroup-(\d+) /.exec(text)?.[1];
    expect(id(group(proc.pid))).toBeDefined();
    expect(id(group(proc.pid))).not.toBe(id(group('self')));
    expect(group(proc.pid)).toMatch(new RegExp(` nice ${Math.min(19, getPriority() + POD_NICENESS)}\\n?$`));
  });

  it('keeps only the last 50 lines', async () => {
    const s = supervisor();
    const proc = s.spawn({ name: 'chatty', command: ['node', '-e', 'for (let i = 0; i < 120; i++) console.log(`line ${i}`)'], env: {} });
    await proc.exited;
    const tail = proc.tail();
    expect(tail).toHaveLength(50);
    expect(tail[0]).toBe('line 70');
    expect(tail[49]).toBe('line 119');
  });

  it('gives every line, with its stream, to the spawn’s onLine before the exit resolves', async () => {
    const s = supervisor();
    const got: string[] = [];
    const proc = s.spawn({
      name: 'both',
      command: ['node', '-e', 'console.log("out 1"); console.error("err 1"); console.log("out 2")'],
      env: {},
      onLine: (line, stream) => got.push(`${stream}: ${line}`),
    });
    await proc.exited;
    expect(got.filter((l) => l.startsWith('stdout'))).toEqual(['stdout: out 1', 'stdout: out 2']);
    expect(got.filter((l) => l.startsWith('stderr'))).toEqual(['stderr: err 1']);
  });

  it('reports a command that cannot start as exit 127 with the reason in the tail', async () => {
    const s = supervisor();
    const got: string[] = [];
    const proc = s.spawn({ name: 'missing', command: ['/nonexistent/rollout-harness-binary'], env: {}, onLine: (line, stream) => got.push(`${stream}: ${line}`) });
    expect(await proc.exited).toEqual({ code: 127, signal: null });
    expect(proc.tail().join('\n')).toMatch(/cannot start "\/nonexistent\/rollout-harness-binary": .*ENOENT/);
    expect(got).toEqual([`stderr: ${proc.tail()[0]}`]);
    proc.signal('SIGKILL'); // a no-op, never a signal to PID 0
    await s.killAll();
  });

  it('SIGKILL ends the whole process group, grandchildren included', async () => {
    const s = supervisor();
    const proc = s.spawn({ name: 'shell', command: ['sh', '-c', 'sleep 30 & echo $!; wait'], env: {} });
    await vi.waitFor(() => expect(proc.tail()).toHaveLength(1), { timeout: 10_000 });
    const grandchild = Number(proc.tail()[0]);
    strays.push(grandchild);
    expect(isAlive(grandchild)).toBe(true);
    proc.signal('SIGKILL');
    expect(await proc.exited).toEqual({ code: null, signal: 'SIGKILL' });
    await vi.waitFor(() => expect(isAlive(grandchild)).toBe(false), { timeout: 5_000 });
  });

  it('killAll SIGKILLs every child and waits for all of them', async () => {
    const s = supervisor();
    const procs = [0, 1, 2].map((i) =>
      s.spawn({ name: `p${i}`, command: ['node', app], env: { PORT: '0', ON_SIGTERM: 'ignore' } }),
    );
    expect(s.pids().sort()).toEqual(procs.map((p) => p.pid).sort());
    await s.killAll();
    for (const p of procs) {
      expect(p.running).toBe(false);
      expect(await p.exited).toEqual({ code: null, signal: 'SIGKILL' });
      expect(isAlive(p.pid)).toBe(false);
    }
    expect(s.pids()).toEqual([]);
  });

  it.each([
    ['app', 'the parent is SIGKILLed: the app sees stdin end and exits (EXIT_WITH_PARENT)'],
    ['crash', 'the parent crashes: its exit hook SIGKILLs a child that ignores stdin'],
  ])('leaves no orphan when %s — %s', async (mode) => {
    const parent = spawn(process.execPath, ['--import', 'tsx', path.join(projectRoot, 'test/twin/runtime/parent-process.ts'), mode], {
      cwd: projectRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    strays.push(parent.pid!);
    const parentExit = new Promise((r) => parent.once('exit', r));
    const childPid = await new Promise<number>((resolve, reject) => {
      let out = '';
      parent.stdout!.on('data', (chunk) => {
        out += String(chunk);
        const m = /child (\d+)/.exec(out);
        if (m) resolve(Number(m[1]));
      });
      void parentExit.then(() => reject(new Error(`parent exited before printing the child: ${out}`)));
    });
    strays.push(childPid);
    expect(childPid).toBeGreaterThan(0);
    if (mode === 'app') {
      // Let the app get going, then take the parent away without any chance to clean up.
      await clock.sleep(300);
      expect(isAlive(childPid)).toBe(true);
      parent.kill('SIGKILL');
    }
    await parentExit;
    await vi.waitFor(() => expect(isAlive(childPid)).toBe(false), { timeout: 5_000, interval: 50 });
  });
});
