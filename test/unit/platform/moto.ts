/**
 * A moto_server (Python moto) on a free loopback port for adapter tests: started per test file,
 * ended by its PID. Fake credentials and no instance metadata, so no SDK call leaves loopback.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import net from 'node:net';

/** A running moto_server. */
export interface Moto {
  endpoint: string;
  pid: number;
  stop(): Promise<void>;
}

/** Fake credentials for clients pointed at moto. */
export const MOTO_CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' };

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/**
 * The Python that has moto: `MOTO_PYTHON` (.ci/run sets it), else the first of `python3` on PATH and
 * Debian's /usr/bin/python3 that imports moto.server (a pyenv `python3` may shadow Debian's).
 */
export function motoPython(): string {
  const candidates = process.env.MOTO_PYTHON ? [process.env.MOTO_PYTHON] : ['python3', '/usr/bin/python3'];
  for (const python of candidates) {
    if (spawnSync(python, ['-c', 'import moto.server'], { stdio: 'ignore', timeout: 30_000 }).status === 0) return python;
  }
  throw new Error(`Expected a Python with moto's server (import moto.server), tried ${candidates.join(', ')}: install it with pip install 'moto[server]' (.ci/run does), or set MOTO_PYTHON to a Python that has it`);
}

/** Starts moto_server and resolves once it answers (at most `timeoutMs`). */
export async function startMoto(timeoutMs = 20_000): Promise<Moto> {
  process.env.AWS_EC2_METADATA_DISABLED = 'true';
  const port = await freePort();
  const child: ChildProcess = spawn(motoPython(), ['-m', 'moto.server', '-H', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d) => (stderr = (stderr + String(d)).slice(-2000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const endpoint = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    await exited;
  };
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`moto_server exited with ${child.exitCode}: ${stderr}`);
    try {
      const res = await fetch(`${endpoint}/moto-api/`);
      await res.arrayBuffer();
      if (res.status < 500) break;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`moto_server did not answer on ${endpoint} within ${timeoutMs} ms: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { endpoint, pid: child.pid!, stop };
}
