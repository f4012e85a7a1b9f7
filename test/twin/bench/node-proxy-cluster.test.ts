/**
 * bench/node-proxy-cluster.mjs, the data-plane bench's bare proxy over processes: it proxies, and
 * whichever way it is ended (SIGTERM, its parent gone, its primary killed) none of its processes
 * is left running.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { request } from 'undici';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { projectRoot } from '../../../harness/core/paths.ts';
import { startTarget, type TestTarget } from '../../helpers/alb-target.ts';
import { isAlive } from '../../helpers/processes.ts';

const script = path.join(projectRoot, 'bench/node-proxy-cluster.mjs');

interface Proxy {
  child: ChildProcess;
  port: number;
  /** The primary's, then each worker's. */
  pids: number[];
}

let targets: TestTarget[] = [];
let started: number[] = [];

afterEach(async () => {
  for (const pid of started) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  started = [];
  await Promise.all(targets.map((t) => t.stop()));
  targets = [];
});

async function startProxy(processes: number, pods: TestTarget[]): Promise<Proxy> {
  const child = spawn(process.execPath, [script, String(processes), pods.map((p) => `${p.host}:${p.port}`).join(',')], { stdio: ['pipe', 'pipe', 'pipe'] });
  started.push(child.pid!);
  const lines = createInterface({ input: child.stdout! });
  const [line] = (await Promise.race([once(lines, 'line'), once(child, 'exit').then(() => [''])])) as [string];
  lines.close();
  const match = /^listening (\d+) pids ([\d,]+)$/.exec(line);
  if (!match) throw new Error(`Expected 'listening <port> pids <pid,...>', got ${JSON.stringify(line)}`);
  const pids = match[2].split(',').map(Number);
  started.push(...pids);
  return { child, port: Number(match[1]), pids };
}

const allGone = async (pids: number[]) => vi.waitFor(() => expect(pids.filter(isAlive)).toEqual([]), { timeout: 10_000, interval: 50 });

describe('the clustered bare proxy of the data-plane bench', () => {
  it('proxies to its pods round robin from two worker processes, and SIGTERM ends all three processes', async () => {
    targets = await Promise.all([startTarget('127.0.0.1', 5000, 'pod-a'), startTarget('127.0.0.1', 5000, 'pod-b')]);
    const proxy = await startProxy(2, targets);
    expect(proxy.pids).toHaveLength(3);
    expect(proxy.pids[0]).toBe(proxy.child.pid);
    expect(proxy.pids.every(isAlive)).toBe(true);
    const bodies: string[] = [];
    for (let i = 0; i < 8; i++) {
      const res = await request(`http://127.0.0.1:${proxy.port}/`, { reset: true });
      expect(res.statusCode).toBe(200);
      bodies.push(await res.body.text());
    }
    // Each worker's pool takes the pods in turn: both pods answered.
    expect(new Set(bodies)).toEqual(new Set(['pod-a', 'pod-b']));
    process.kill(proxy.child.pid!, 'SIGTERM');
    await allGone(proxy.pids);
  });

  it('ends with its parent (stdin closed), and its workers end when the primary is killed', async () => {
    targets = [await startTarget('127.0.0.1', 5000, 'pod-a')];
    const orphaned = await startProxy(2, targets);
    orphaned.child.stdin!.end();
    await allGone(orphaned.pids);

    const killed = await startProxy(2, targets);
    process.kill(killed.child.pid!, 'SIGKILL');
    await allGone(killed.pids);
  });

  it('says what it expects when its arguments are wrong, with exit code 2', async () => {
    const child = spawn(process.execPath, [script, 'two'], { stdio: ['ignore', 'ignore', 'pipe'] });
    started.push(child.pid!);
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const [code] = (await once(child, 'exit')) as [number];
    expect(code).toBe(2);
    expect(stderr).toContain('Expected: node bench/node-proxy-cluster.mjs <processes ≥ 1> <host:port,...>, got ["two"]');
  });
});
