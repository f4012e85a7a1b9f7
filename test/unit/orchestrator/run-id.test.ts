/**
 * The follow-up commands the CLI prints: each is read back by a real shell and parsed by the CLI's
 * own parser, from another working directory than the one it was printed in.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseArgv } from '../../../harness/cli/main.ts';
import { restoreCommand, resumeCommand, shellQuote } from '../../../harness/orchestrator/run-id.ts';

/** The words a POSIX shell makes of `command` (no expansion happens inside single quotes). */
function words(command: string): string[] {
  return execFileSync('sh', ['-c', `printf '%s\\0' ${command}`], { encoding: 'utf8' }).split('\0').slice(0, -1);
}

describe('resumeCommand', () => {
  it('names the spec by its absolute path, the results directory when it is not the default, and the run id', async () => {
    const printed = resumeCommand('specs/nightly.yaml', '20260101T000000Z-nightly', 'out/ci');
    expect(printed).toBe(`rollout-harness run ${path.resolve('specs/nightly.yaml')} --results-dir ${path.resolve('out/ci')} --resume 20260101T000000Z-nightly`);
    const [bin, ...argv] = words(printed);
    expect(bin).toBe('rollout-harness');
    const parsed = await parseArgv(argv);
    expect(parsed).toMatchObject({ command: 'run', args: [path.resolve('specs/nightly.yaml')], opts: { resultsDir: path.resolve('out/ci'), resume: '20260101T000000Z-nightly' } });
  });

  it('leaves out --results-dir only when it is ./results, however it was written', () => {
    for (const dir of ['results', './results', path.resolve('results'), 'results/']) {
      expect(resumeCommand('a.yaml', 'x', dir), dir).toBe(`rollout-harness run ${path.resolve('a.yaml')} --resume x`);
    }
    expect(resumeCommand('a.yaml', 'x', '../results')).toContain(`--results-dir ${path.resolve('../results')} `);
  });

  it('quotes paths a shell would split or expand, and they come back unchanged', async () => {
    const spec = "/tmp/my specs/it's $HOME *.yaml";
    const dir = '/tmp/out dir/`x`';
    const printed = resumeCommand(spec, 'r1', dir);
    const [, ...argv] = words(printed);
    expect(argv).toEqual(['run', spec, '--results-dir', dir, '--resume', 'r1']);
    expect((await parseArgv(argv)).opts).toMatchObject({ resultsDir: dir, resume: 'r1' });
  });
});

describe('restoreCommand', () => {
  it('names the run and, when not the default, the absolute results directory', async () => {
    expect(restoreCommand('r1', 'results')).toBe('rollout-harness restore r1');
    const printed = restoreCommand('r1', 'elsewhere');
    expect(printed).toBe(`rollout-harness restore r1 --results-dir ${path.resolve('elsewhere')}`);
    expect(await parseArgv(words(printed).slice(1))).toMatchObject({ command: 'restore', args: ['r1'], opts: { resultsDir: path.resolve('elsewhere') } });
  });
});

describe('shellQuote', () => {
  it('leaves plain words bare and single-quotes the rest', () => {
    expect(shellQuote('/a/b-c_d.yaml')).toBe('/a/b-c_d.yaml');
    expect(shellQuote('a b')).toBe("'a b'");
    expect(shellQuote("it's")).toBe("'it'\\''s'");
    expect(shellQuote('')).toBe("''");
  });
});
