import { CommanderError } from 'commander';
import { describe, expect, it } from 'vitest';
import { parseArgv } from '../../../harness/cli/main.ts';

describe('--columns', () => {
  it('takes a list of table columns on run and report', async () => {
    expect((await parseArgv(['run', 'spec.yaml', '--columns', 'failed,p99'])).opts.columns).toEqual(['failed', 'p99']);
    expect((await parseArgv(['report', 'run1', '--columns', 'p50,p95,max'])).opts.columns).toEqual(['p50', 'p95', 'max']);
    expect((await parseArgv(['run', 'spec.yaml'])).opts.columns).toBeUndefined();
  });

  it('refuses an unknown column with what it expects (exit 2, as every bad flag value)', async () => {
    const refused = parseArgv(['run', 'spec.yaml', '--columns', 'failed,p98']);
    await expect(refused).rejects.toBeInstanceOf(CommanderError);
    await expect(refused).rejects.toThrow('Expected a comma-separated list of failed, p50, p95, p99, max, got "failed,p98".');
  });
});
