/** Process checks for tests that must prove nothing they started is left running. */
import { existsSync, readFileSync } from 'node:fs';

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
