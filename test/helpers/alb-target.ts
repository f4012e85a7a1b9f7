/** Starts and stops alb-target-server.mjs processes (real targets for the ALB twin), killed by PID. */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 'alb-target-server.mjs');

/** A running target process. */
export interface TestTarget {
  host: string;
  port: number;
  pid: number;
  /** SIGKILLs the process (by PID) and waits for its exit. */
  stop(): Promise<void>;
}

/** Spawns a target on `host` (a loopback address) with the given server keep-alive timeout (real ms). */
export async function startTarget(host: string, keepAliveMs = 5000, name = host): Promise<TestTarget> {
  const child: ChildProcess = spawn(process.execPath, [script, host, String(keepAliveMs), name], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = once(child, 'exit');
  const lines = createInterface({ input: child.stdout! });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      process.kill(child.pid!, 'SIGKILL');
      await exited;
    }
  };
  try {
    const [line] = (await Promise.race([once(lines, 'line'), exited.then(() => [null])])) as [string | null];
    if (!line) throw new Error(`Expected the test target on ${host} to print its port, got an exit (${String(child.exitCode)})`);
    lines.close();
    return { host, port: (JSON.parse(line) as { port: number }).port, pid: child.pid!, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
