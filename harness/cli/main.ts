/**
 * argv → commands. Thin: parses flags, loads the command on demand (so `--help` stays fast), maps
 * errors to exit codes in one place — commander's own (unknown flag or command, bad value) to 2 —
 * and exits as soon as the last line is out.
 */
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { ConfigError, ExitCode, exitCodeFor } from '../core/errors.ts';
import { packageVersion } from '../core/paths.ts';

// A reader that goes away (`rollout-harness plan spec.yaml | head`) is not an error.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

function positiveNumber(value: string): number {
  const n = Number(value);
  if (!(n > 0) || !Number.isFinite(n)) throw new InvalidArgumentError(`Expected a positive number, got "${value}".`);
  return n;
}

function seed(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`Expected a whole number ≥ 0, got "${value}".`);
  return n;
}

const program = new Command()
  .name('rollout-harness')
  .description('Measure the 5xx that rollouts, node drains and spot interruptions cost behind an AWS ALB on EKS.')
  .version(packageVersion)
  .showHelpAfterError()
  .exitOverride();

program
  .command('run')
  .description('run a matrix spec: configure each cell, drive traffic, disrupt, count 5xx; print the table')
  .argument('<spec>', 'matrix spec (YAML)')
  .option('--results-dir <dir>', 'where runs are written (results/<run-id>/)', 'results')
  .option('--resume <run-id>', 'continue an interrupted or killed run: undo what it left changed, keep its measured cells, run the rest')
  .option('--run-id <id>', 'name of the run directory (default: timestamp-spec name)')
  .addHelpText(
    'after',
    '\nExit codes: 0 every cell valid and every expectation held; 1 an expectation failed; 2 bad spec, flags or arguments;\n' +
      '3 environment or safety refusal (unreachable target, context not allowed, another run\'s changes left on the cluster,\n' +
      'restore could not verify a setting); 4 finished with INVALID cells; 130 interrupted (settings restored).',
  )
  .action(async (spec: string, opts) => {
    process.exitCode = await (await import('./run.ts')).runCommand(spec, opts);
  });

program
  .command('plan')
  .description('print the cells of a spec and exactly what each would change, touching nothing')
  .argument('<spec>', 'matrix spec (YAML)')
  .action(async (spec: string) => {
    process.exitCode = await (await import('./run.ts')).planCommand(spec);
  });

program
  .command('restore')
  .description('put back every original setting a run recorded (after a kill, or a restore that failed), read them back, and remove its markers')
  .argument('<run>', 'run id under --results-dir, or a run directory')
  .option('--results-dir <dir>', 'where runs are', 'results')
  .action(async (run: string, opts) => {
    process.exitCode = await (await import('./restore.ts')).restoreCommand(run, opts);
  });

program
  .command('report')
  .description('print a run\'s report again (markdown, junit or json) from its results')
  .argument('<run>', 'run directory, or a run id under --results-dir')
  .option('--format <format>', 'md, junit or json', 'md')
  .option('--results-dir <dir>', 'where runs are', 'results')
  .action(async (run: string, opts) => {
    if (!['md', 'junit', 'json'].includes(opts.format)) throw new ConfigError(`--format: expected md, junit or json, got "${opts.format}"`);
    process.exitCode = await (await import('./results.ts')).reportCommand(run, opts);
  });

program
  .command('compare')
  .description('compare two runs cell by cell (e.g. last night and tonight); exit 1 when the second has more 5xx or invalid cells')
  .argument('<before>', 'run directory or id')
  .argument('<after>', 'run directory or id')
  .option('--results-dir <dir>', 'where runs are', 'results')
  .action(async (before: string, after: string, opts) => {
    process.exitCode = await (await import('./results.ts')).compareCommand(before, after, opts);
  });

const twin = program.command('twin').description('the local twin: a simulated EKS + AWS Load Balancer Controller + ALB on loopback');

twin
  .command('up')
  .description('start the twin, write <state-dir>/kubeconfig and <state-dir>/env, and run until SIGINT/SIGTERM')
  .option('--config <file>', 'twin config (YAML)', undefined)
  .option('--time-scale <x>', 'real seconds per model second (0.05 = 20× faster)', positiveNumber)
  .option('--seed <n>', 'seed of the twin\'s randomness', seed)
  .option('--state-dir <dir>', 'where the kubeconfig, env file and access log go', 'results/twin')
  .action(async (opts) => {
    process.exitCode = await (await import('./twin-up.ts')).twinUp(opts);
  });

twin
  .command('demo')
  .description('start the twin, show its pods, targets and traffic through the ALB, restart the Deployment under load, count the 5xx, and stop')
  .option('--config <file>', 'twin config (YAML)', undefined)
  .option('--time-scale <x>', 'real seconds per model second', positiveNumber, 0.05)
  .option('--seed <n>', 'seed of the twin\'s randomness', seed)
  .option('--state-dir <dir>', 'where the kubeconfig, env file and access log go', 'results/twin-demo')
  .option('--rate <n>', 'requests per second (real) during the restart', positiveNumber, 100)
  .action(async (opts) => {
    process.exitCode = await (await import('./twin-demo.ts')).twinDemo(opts);
  });

twin
  .command('calibrate')
  .description('write a twin config whose ALB lag distributions are fitted to the lags measured in runs (from their ALB access logs)')
  .argument('<run...>', 'run directories or ids under --results-dir (staging or twin runs with access logs)')
  .option('-o, --output <file>', 'write the config here (default: stdout)')
  .option('--base <file>', 'twin config to start from (default: the twin\'s default world)')
  .option('--results-dir <dir>', 'where runs are', 'results')
  .action(async (runs: string[], opts) => {
    process.exitCode = await (await import('./calibrate.ts')).calibrateCommand(runs, opts);
  });

let code: number;
try {
  await program.parseAsync();
  code = Number(process.exitCode ?? 0);
} catch (error) {
  if (error instanceof CommanderError) {
    // --help and --version end here with 0; every other commander error is bad usage.
    code = error.exitCode === 0 ? 0 : ExitCode.usage;
  } else {
    code = exitCodeFor(error);
    if (code !== ExitCode.internal) console.error(`rollout-harness: ${(error as Error).message}`);
    else console.error(error);
  }
}
// Exit once the output is flushed: a lingering socket or timer must not keep a finished command alive.
process.exitCode = code;
process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
