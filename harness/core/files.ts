/** Atomic file writes: a checkpoint is either the old one or the new one, never half of each. */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError, EnvironmentError } from './errors.ts';

/** The file operations results are written with: the real filesystem, or (in tests) one that fails as a full disk does. */
export interface WriteFs {
  mkdir(dir: string, options: { recursive: true }): Promise<unknown>;
  writeFile(file: string, text: string): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  unlink(file: string): Promise<void>;
}

/** The real filesystem. */
export const nodeFs: WriteFs = { mkdir, writeFile, rename, unlink };

/** A results file that could not be written (ENOSPC, EIO, …): the environment's failure, said in one line, with the cause kept. */
export class WriteFailedError extends EnvironmentError {
  constructor(
    readonly file: string,
    cause: unknown,
  ) {
    const code = (cause as NodeJS.ErrnoException)?.code;
    super(`Could not write ${file}: expected a writable file system, got ${code ?? (cause as Error)?.message ?? String(cause)}${code === 'ENOSPC' ? ' (no space left on device)' : code === 'EIO' ? ' (I/O error)' : ''}`, { cause });
  }
}

/** Writes `text` to `file` through a temp file and a rename; on failure, removes the temp file and throws a WriteFailedError. */
export async function writeFileAtomic(file: string, text: string, fs: WriteFs = nodeFs): Promise<void> {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(tmp, text);
    await fs.rename(tmp, file);
  } catch (error) {
    // A half-written temp file must not be left behind (a full disk leaves one).
    await fs.unlink(tmp).catch(() => {});
    throw new WriteFailedError(file, error);
  }
}

/** Writes JSON (2-space indented) atomically. */
export function writeJsonAtomic(file: string, value: unknown, fs: WriteFs = nodeFs): Promise<void> {
  return writeFileAtomic(file, `${JSON.stringify(value, null, 2)}\n`, fs);
}

/** Reads a JSON file. */
export async function readJson<T>(file: string): Promise<T> {
  return JSON.parse(await readFile(file, 'utf8')) as T;
}

/**
 * Creates `dir` (and its missing parents) one level at a time and proves it writable with a probe
 * file. Fails at once with the path and the reason — never spins (recursive mkdir can loop on
 * /proc-like filesystems) — as a ConfigError naming `what` (e.g. `--results-dir`).
 */
export async function ensureWritableDir(dir: string, what: string): Promise<void> {
  const abs = path.resolve(dir);
  const missing: string[] = [];
  let at = abs;
  for (;;) {
    try {
      const s = await stat(at);
      if (!s.isDirectory()) throw new ConfigError(`${what} ${dir}: expected a directory, got a file at ${at}`);
      break;
    } catch (error) {
      if (error instanceof ConfigError) throw error;
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT') throw new ConfigError(`${what} ${dir}: cannot use ${at} (${code})`, [], { cause: error });
      missing.unshift(at);
      const up = path.dirname(at);
      if (up === at) break;
      at = up;
    }
  }
  try {
    for (const d of missing) {
      try {
        await mkdir(d);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
    }
    const probe = path.join(abs, `.write-probe.${process.pid}.${randomBytes(4).toString('hex')}`);
    await writeFile(probe, '');
    await unlink(probe);
  } catch (error) {
    throw new ConfigError(`${what} ${dir}: expected a writable directory, got ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, [], { cause: error });
  }
}
