/**
 * argv → commands. Thin: parses flags, loads the command on demand (so `--help` stays fast), maps
 * errors to exit codes in one place — commander's own (unknown flag or command, bad value) to 2 —
 * and exits as soon as the last line is out. `main()` runs it (bin/rollout-harness.js);
 * `parseArgv()` only parses, for checking command lines written elsewhere.
 */
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { ConfigError, ExitCode, exitCodeOf, worseExitCode } from '../core/errors.ts';
import { packageVersion } from '../core/paths.ts';
import { DEFAULT_ALPHA, DEFAULT_MIN_CHANGE } from '../report/compare.ts';
import { parseColumns, type TableColumn } from '../report/markdown.ts';
import { parseShard, type Shard } from '../matrix/shards.ts';

function positiveNumber(value: string): number {
  const n = Number(value);
  if (!(n > 0) || !Number.isFinite(n)) throw new InvalidArgumentError(`Expected a positive number, got "${value}".`);
  return n;
}

function probability(value: string): number {
  const n = Number(value);
  if (!(n > 0 && n < 1)) throw new InvalidArgumentError(`Expected a level between 0 and 1 (e.g. 0.01), got "${value}".`);
  return n;
}

function wholeNumber(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || value.trim() === '') throw new InvalidArgumentError(`Expected a whole number ≥ 0, got "${value}".`);
  return n;
}

function columnList(value: string): TableColumn[] {
  try {
    return parseColumns(value);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

/** `--format`'s value one of `names`, else a ConfigError naming them (`expected a, b or c`). */
function checkFormat(format: string, names: readonly string[]): void {
  if (!names.includes(format)) throw new ConfigError(`--format: expected ${names.length > 1 ? `${names.slice(0, -1).join(', ')} or ${names.at(-1)}` : names[0]}, got "${format}"`);
}

/** `--shard-of N` in an Indexed Job's pod: shard JOB_COMPLETION_INDEX + 1 of N. */
export function shardFromJobIndex(count: number, index: string | undefined): Shard {
  if (count < 1) throw new ConfigError(`--shard-of: expected a shard count of at least 1, got ${count}`);
  if (index === undefined || !/^\d+$/.test(index) || Number(index) >= count) {
    throw new ConfigError(`--shard-of ${count}: expected JOB_COMPLETION_INDEX (set in an Indexed Job's pods) to be 0…${count - 1}, got ${index === undefined ? 'none' : JSON.stringify(index)}; outside an Indexed Job use --shard I/N`);
  }
  return { index: Number(index) + 1, count };
}

function shard(value: string): Shard {
  try {
    return parseShard(value);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

function seed(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`Expected a whole number ≥ 0, got "${value}".`);
  return n;
}

/** True while `parseArgv` parses: no action runs and commander's own messages stay unprinted (they are in the error). */
let parseOnly = false;

const program = new Command()
  .name('rollout-harness')
  .description('Measure the 5xx that rollouts, node drains and spot interruptions cost behind an AWS ALB on EKS.')
  .version(packageVersion)
  .showHelpAfterError()
  .configureOutput({ writeErr: (text) => void (parseOnly || process.stderr.write(text)) })
  .exitOverride();

/** What `parseArgv` found: the command (e.g. `run`, `twin up`), its arguments and its options after defaults. */
export interface ParsedCommand {
  command: string;
  args: string[];
  opts: Record<string, unknown>;
}

/** Thrown by the preAction hook in parse-only mode, carrying what was parsed, so that no action runs. */
class ParsedOnly extends Error {
  constructor(readonly parsed: ParsedCommand) {
    super('parsed only');
  }
}

program.hook('preAction', (_root, action) => {
  if (!parseOnly) return;
  const names: string[] = [];
  for (let c: Command | null = action; c && c !== program; c = c.parent) names.unshift(c.name());
  throw new ParsedOnly({ command: names.join(' '), args: action.args, opts: action.opts() });
});

program
  .command('run')
  .description('run a matrix spec: configure each cell, drive traffic, disrupt, count 5xx; print the table')
  .argument('<spec>', 'matrix spec (YAML)')
  .option('--results-dir <dir>', 'where runs are written (results/<run-id>/)', 'results')
  .option('--resume <run-id>', 'continue an interrupted or killed run: undo what it left changed, keep its measured cells, run the rest')
  .option('--run-id <id>', 'name of the run directory (default: timestamp-spec name)')
  .option('--results-s3 <url>', 'also upload the run directory to s3://bucket/prefix/<run-id>/ as each cell finishes, and name the run in s3://bucket/prefix/latest when it ends (credentials, region and AWS_ENDPOINT_URL_S3 from the environment)')
  .option('--shard <I/N>', 'run part I of N of the cells (a partition every shard computes alike from the spec) on lane I of target.lanes, into <run-id>.shard-I-of-N; the shards share --run-id; then merge', shard)
  .option('--shard-of <N>', 'in a pod of an Indexed Job: --shard I/N with I = JOB_COMPLETION_INDEX + 1', wholeNumber)
  .option('--then-merge', 'with a shard: once every shard of the run has ended, merge them (the last shard to end does; from --results-s3 when given)')
  .option('--baseline <run>', 'then compare with this run (directory, id under --results-dir, or s3://bucket/prefix/RUN or …/latest); exit code: the worse of the two')
  .option('--summary-file <file>', 'append the report (and the comparison) as Markdown to this file, e.g. $GITHUB_STEP_SUMMARY')
  .option('--alpha <p>', 'with --baseline: level of the exact test (see compare)', probability, DEFAULT_ALPHA)
  .option('--min-change <n>', 'with --baseline: the smallest increase in failed requests that is a regression (see compare)', wholeNumber, DEFAULT_MIN_CHANGE)
  .option('--html-url <url>', 'with --summary-file: link the HTML report at this address')
  .option('--columns <list>', 'the table\'s columns per disruption: failed, p50, p95, p99, max (latency ms, baseline → disruption window), e.g. failed,p99', columnList)
  .addHelpText(
    'after',
    '\nExit codes: 0 every cell valid and every expectation held; 1 an expectation failed; 2 bad spec, flags or arguments;\n' +
      '3 environment or safety refusal (unreachable target, context not allowed, a preflight check failed, another run\'s changes left on the cluster,\n' +
      'another run still running, restore could not verify a setting, a results file could not be written); 4 finished with INVALID cells; 130 interrupted (settings restored).\n' +
      'With --baseline, the worse of that and compare\'s (1 a cell regressed beyond noise; 4 a cell INVALID in either run),\n' +
      'in the order 0 < 4 < 1 < 130 < 3 < 2.',
  )
  .action(async (spec: string, opts) => {
    if (opts.shardOf !== undefined) {
      if (opts.shard) throw new ConfigError('--shard-of: expected either --shard I/N or --shard-of N, got both');
      opts.shard = shardFromJobIndex(opts.shardOf, process.env.JOB_COMPLETION_INDEX);
    }
    if (opts.thenMerge && !opts.shard) throw new ConfigError('--then-merge: expected a shard (--shard I/N or --shard-of N), got a whole run');
    const code = await (await import('./run.ts')).runCommand(spec, opts);
    process.exitCode = code;
    if (opts.thenMerge && ![2, 3, 130].includes(code)) {
      const merged = await (await import('./merge.ts')).mergeWhenComplete(opts.runId, opts.shard.count, { resultsDir: opts.resultsDir, ...(opts.resultsS3 ? { resultsS3: opts.resultsS3 } : {}), ...(opts.columns ? { columns: opts.columns } : {}) });
      process.exitCode = worseExitCode(code, merged);
    }
  });

program
  .command('plan')
  .description('print the cells of a spec and exactly what each would change, touching nothing')
  .argument('<spec>', 'matrix spec (YAML)')
  .option('--format <format>', 'text, or json (the same plan as data: target, traffic, and per cell its id, config, changes and disruption)', 'text')
  .option('--server-dry-run', "also send every cell's changes to the cluster with dryRun=All (validated and admitted, never stored); exit 2 naming the cells a write was refused for")
  .option('--shard <I/N>', 'only the cells run --shard I/N would run, on its lane', shard)
  .action(async (spec: string, opts) => {
    checkFormat(opts.format, ['text', 'json']);
    process.exitCode = await (await import('./run.ts')).planCommand(spec, opts);
  });

program
  .command('preflight')
  .description('check everything a run of the spec needs, changing nothing: context and opt-in, objects, each Kubernetes permission (SelfSubjectAccessReview), the AWS identity and actions (harmless calls), k6')
  .argument('<spec>', 'matrix spec (YAML)')
  .option('--format <format>', 'text (one ✓/✗ line per check, with what to grant) or json', 'text')
  .addHelpText('after', '\nExit codes: 0 every check passed (or could not be checked harmlessly); 2 bad spec or flags; 3 a check failed.')
  .action(async (spec: string, opts) => {
    checkFormat(opts.format, ['text', 'json']);
    process.exitCode = await (await import('./preflight.ts')).preflightCommand(spec, opts);
  });

program
  .command('permissions')
  .description('print the permissions the spec needs (the list preflight checks): RBAC Roles/ClusterRole with bindings, an IAM policy, or the list')
  .argument('<spec>', 'matrix spec (YAML)')
  .option('--format <format>', 'rbac (YAML for kubectl apply), iam (a policy document) or json (the list)', 'rbac')
  .option('--service-account <ns/name>', 'rbac: the ServiceAccount the bindings name', 'rollout-harness/rollout-harness')
  .action(async (spec: string, opts) => {
    checkFormat(opts.format, ['rbac', 'iam', 'json']);
    process.exitCode = await (await import('./preflight.ts')).permissionsCommand(spec, opts);
  });

program
  .command('restore')
  .description('put back every original setting a run recorded (after a kill, or a restore that failed) that still has a value the run set, read them back, and remove its markers; refused while the run is still running')
  .argument('<run>', 'run id under --results-dir, or a run directory')
  .option('--results-dir <dir>', 'where runs are', 'results')
  .action(async (run: string, opts) => {
    process.exitCode = await (await import('./restore.ts')).restoreCommand(run, opts);
  });

program
  .command('report')
  .description('print a run\'s report again (markdown, junit, json or html) from its results')
  .argument('<run>', 'run directory, a run id under --results-dir, or s3://bucket/prefix/RUN or …/latest')
  .option('--format <format>', 'md (fits a GitHub review comment: table, details per cell, comparison), junit, json or html (one self-contained page: heatmap and per-cell timelines)', 'md')
  .option('--results-dir <dir>', 'where runs are', 'results')
  .option('-o, --output <file>', 'write the report (any format) to FILE instead of stdout')
  .option('--baseline <run>', 'md: compare with this run too (exit code: the worse of the two)')
  .option('--html-url <url>', 'md: link the HTML report at this address (e.g. the CI artifact)')
  .option('--columns <list>', 'md: the table\'s columns per disruption: failed, p50, p95, p99, max (latency ms, baseline → disruption window), e.g. failed,p99', columnList)
  .option('--alpha <p>', 'with --baseline: level of the exact test (see compare)', probability, DEFAULT_ALPHA)
  .option('--min-change <n>', 'with --baseline: the smallest increase in failed requests that is a regression (see compare)', wholeNumber, DEFAULT_MIN_CHANGE)
  .action(async (run: string, opts) => {
    const { REPORT_FORMAT_NAMES: names } = await import('../report/formats.ts');
    checkFormat(opts.format, names);
    process.exitCode = await (await import('./results.ts')).reportCommand(run, opts);
  });

program
  .command('compare')
  .description('compare two runs cell by cell (e.g. last night and tonight): failed requests before → after, and a regression only beyond noise')
  .argument('<before>', 'run directory or id, or s3://bucket/prefix/RUN or …/latest')
  .argument('<after>', 'run directory or id, or s3://bucket/prefix/RUN or …/latest')
  .option('--results-dir <dir>', 'where runs are', 'results')
  .option('--alpha <p>', 'level of the one-sided exact test: a cell regressed only if its p-value is at most this', probability, DEFAULT_ALPHA)
  .option('--min-change <n>', 'and only with at least this many more failed requests than the first run\'s rate predicts', wholeNumber, DEFAULT_MIN_CHANGE)
  .option('--summary-file <file>', 'append the comparison as Markdown to this file too, e.g. $GITHUB_STEP_SUMMARY')
  .option('--format <format>', 'md (a table, then regressions, INVALID cells and the cells in one run only), or json (the same as data, with the exit code)', 'md')
  .addHelpText('after', '\nExit codes: 0 no regression; 1 a cell regressed beyond noise; 2 bad arguments; 4 a cell is INVALID in either run, or the runs share no cell (nothing judged).')
  .action(async (before: string, after: string, opts) => {
    checkFormat(opts.format, ['md', 'json']);
    process.exitCode = await (await import('./results.ts')).compareCommand(before, after, opts);
  });

program
  .command('merge')
  .description('merge the shards of one run (run --shard I/N --run-id ID) into the run ID: checks they share the spec and run id and that every shard is there once, then writes run.json, the cells, the report and the recommendation, and prints the table')
  .argument('<run...>', 'the shards\' run directories, their ids under --results-dir (e.g. ID.shard-1-of-2 ID.shard-2-of-2), or s3://bucket/prefix/ID.shard-1-of-2 …')
  .option('--results-dir <dir>', 'where the shards are and the merged run is written (<dir>/<run-id>/)', 'results')
  .option('--results-s3 <url>', 'also upload the merged run to s3://bucket/prefix/<run-id>/ and name it in s3://bucket/prefix/latest')
  .option('--baseline <run>', 'then compare with this run (directory, or id under --results-dir); exit code: the worse of the two')
  .option('--alpha <p>', 'with --baseline: level of the exact test (see compare)', probability, DEFAULT_ALPHA)
  .option('--min-change <n>', 'with --baseline: the smallest increase in failed requests that is a regression (see compare)', wholeNumber, DEFAULT_MIN_CHANGE)
  .option('--columns <list>', 'the table\'s columns per disruption (see run)', columnList)
  .addHelpText('after', '\nExit codes: as run\'s for the merged cells (0, 1 an expectation failed, 4 INVALID cells, 3 a shard could not verify its restore); 2 the directories are not the shards of one run.')
  .action(async (runs: string[], opts) => {
    process.exitCode = await (await import('./merge.ts')).mergeCommand(runs, opts);
  });

const twin = program.command('twin').description('the local twin: a simulated EKS + AWS Load Balancer Controller + ALB on loopback');

twin
  .command('up')
  .description('start the twin, write <state-dir>/kubeconfig and <state-dir>/env, and run until SIGINT/SIGTERM')
  .option('--config <file>', 'twin config (YAML)', undefined)
  .option('--time-scale <x>', "real seconds per model second (default: the config's, 1 in the default world; 0.05 = 20× faster); a run that reaches the twin by context explains 5xx only at 1", positiveNumber)
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

/**
 * Parses argv (the arguments after `rollout-harness`) with the CLI's own parser, without running
 * the command; throws commander's error (a CommanderError) for what the CLI would refuse with exit 2.
 * For checking command lines written elsewhere (CI workflow files).
 */
export async function parseArgv(argv: string[]): Promise<ParsedCommand> {
  parseOnly = true;
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (error) {
    if (error instanceof ParsedOnly) return error.parsed;
    throw error;
  } finally {
    parseOnly = false;
  }
  throw new ConfigError(`Expected a command, got "${argv.join(' ')}"`);
}

/** Runs the CLI on process.argv and exits with the code of the README's table. */
export async function main(): Promise<void> {
  // A reader that goes away (`rollout-harness plan spec.yaml | head`) is not an error.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(0);
    throw error;
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
      code = exitCodeOf({ command: 'error', error });
      if (code !== ExitCode.internal) console.error(`rollout-harness: ${(error as Error).message}`);
      else console.error(error);
    }
  }
  // Exit once the output is flushed: a lingering socket or timer must not keep a finished command alive.
  process.exitCode = code;
  process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
}
