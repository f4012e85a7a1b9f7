/** `rollout-harness twin up` as a child process for CLI tests: started, up, and its env file read. */
import { execa, type ResultPromise } from 'execa';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { projectRoot } from '../../harness/core/paths.ts';

/** The CLI entry point. */
export const BIN = path.join(projectRoot, 'bin/rollout-harness.js');

/** A running `twin up`: its process and the variables of its env file. */
export interface TwinUpProcess {
  child: ResultPromise;
  env: Record<string, string>;
}

/** Starts `twin up --state-dir stateDir` and resolves once it says it is up (bounded: 30 s). */
export async function startTwinUp(stateDir: string, timeScale = 0.05): Promise<TwinUpProcess> {
  const child = execa(process.execPath, [BIN, 'twin', 'up', '--state-dir', stateDir, '--time-scale', String(timeScale)], { reject: false, all: true, buffer: true });
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`twin up did not come up in 30 s:\n${output}`)), 30_000);
    child.all!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Press Ctrl-C to stop.')) {
        clearTimeout(timer);
        resolve();
      }
    });
    void child.then(() => {
      clearTimeout(timer);
      reject(new Error(`twin up exited early:\n${output}`));
    });
  });
  const text = await readFile(path.join(stateDir, 'env'), 'utf8');
  const env = Object.fromEntries([...text.matchAll(/^export (\w+)=(.*)$/gm)].map((m) => [m[1], m[2].replace(/^'|'$/g, '')]));
  return { child, env };
}
