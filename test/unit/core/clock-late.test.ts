import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { scaledClock } from '../../../harness/core/clock.ts';

let server: net.Server | undefined;
let child: ChildProcess | undefined;

afterEach(async () => {
  if (child?.exitCode === null) child.kill('SIGKILL');
  server?.close();
  server = undefined;
});

/** Keeps this thread busy for `ms` real ms, as a paused or starved one is. */
function block(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // Busy: nothing else runs.
  }
}

describe('a scaled clock whose thread was paused', () => {
  it('reads the I/O that came during the pause before it fires the timer that came due in it', async () => {
    server = net.createServer();
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    const accepted = once(server, 'connection');
    // A peer in another process: told "go", it answers 20 ms later, while this thread is blocked.
    child = spawn(process.execPath, ['-e', `const s = require('net').connect(${port}, '127.0.0.1'); s.on('data', () => setTimeout(() => s.write('x'), 20));`], { stdio: 'ignore' });
    const [socket] = (await accepted) as [net.Socket];
    const order: string[] = [];
    socket.on('data', () => order.push('answer'));
    const clock = scaledClock(1);
    const timeout = clock.setTimeout(() => order.push('timeout'), 60);
    const slept = clock.sleep(60).then(() => order.push('sleep'));
    socket.write('go');
    block(300);
    await slept;
    await new Promise((r) => setTimeout(r, 50));
    timeout.cancel();
    // The answer came at 20 ms, the timeout was due at 60 ms: the answer wins, as it would have
    // on a thread that ran.
    expect(order).toEqual(['answer', 'timeout', 'sleep']);
  });

  it('fires a late timer that was cancelled before its turn not at all', async () => {
    const clock = scaledClock(1);
    let fired = 0;
    const timer = clock.setTimeout(() => fired++, 10);
    // Due after it: in the same timer phase once the pause ends, after the clock deferred its timer.
    const cancelled = new Promise<void>((r) =>
      setTimeout(() => {
        timer.cancel();
        r();
      }, 20),
    );
    block(100);
    await cancelled;
    await new Promise((r) => setTimeout(r, 30));
    expect(fired).toBe(0);
  });
});
