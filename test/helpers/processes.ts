/** Process checks for tests that must prove nothing they started is left running. */
import { existsSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';

/** True while `pid` is a live process; a zombie (exited, waiting for a reaper that may never come) counts as gone. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const stat = `/proc/${pid}/stat`;
  return !existsSync(stat) || readFileSync(stat, 'utf8').split(') ')[1]?.[0] !== 'Z';
}

/** Ends the child processes a test started that are still running (SIGINT, so they clean up), then removes its temp dir. */
export async function endAndRemove(children: Array<{ pid?: number; exitCode: number | null; kill(signal: NodeJS.Signals): boolean; catch(fn: () => void): Promise<unknown> } | undefined>, dir: string | undefined): Promise<void> {
  for (const p of children) {
    if (p?.pid && p.exitCode === null) p.kill('SIGINT');
    await p?.catch(() => {});
  }
  if (dir) await rm(dir, { recursive: true, force: true });
}
