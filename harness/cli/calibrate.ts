/**
 * `rollout-harness twin calibrate RUN… [-o FILE] [--base FILE]`: a twin config whose ALB lag
 * distributions are fitted to the lags the runs measured (cells' `explain.lags`), on top of a base
 * twin config (default: the twin's default world), with a header comment naming the runs and the fit.
 */
import { writeFile } from 'node:fs/promises';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseDocument } from 'yaml';
import { ConfigError } from '../core/errors.ts';
import { calibrate, type FittedLag } from '../explain/calibrate.ts';
import { defaultConfigPath, parseTwinConfig } from '../twin/config.ts';
import { readRun } from './results.ts';

/** What the command was given. */
export interface CalibrateOptions {
  output?: string;
  base?: string;
  resultsDir: string;
}

const text = (l: FittedLag) => `min ${l.min} s, max ${l.max} s, tail ${Math.round(l.tailProbability * 1000) / 10} % to ${l.tailMax} s`;

/** Builds the calibrated config text (exported for tests). */
export async function calibratedConfig(runs: string[], opts: CalibrateOptions): Promise<string> {
  if (!runs.length) throw new ConfigError('twin calibrate: expected at least one run, got none');
  const cells = [];
  const names: string[] = [];
  const without: string[] = [];
  for (const run of runs) {
    const { dir, cells: results } = await readRun(run, opts.resultsDir);
    names.push(path.basename(dir));
    const measured = results.filter((c) => c.explain?.lags && (c.explain.lags.deregistration.count > 0 || c.explain.lags.registration.count > 0));
    if (!measured.length) without.push(`${path.basename(dir)} (${results.length} cells, ${results.filter((c) => c.explain).length} explained, ${results.filter((c) => c.explain?.logs === 'missing').length} without logs)`);
    cells.push(...measured.map((c) => c.explain!.lags!));
  }
  if (without.length) {
    throw new ConfigError(`twin calibrate: expected runs whose cells measured lags from the ALB access logs (explain.lags), got none in ${without.join(', ')}; run them with access logs on (README: "Explaining 5xx")`);
  }
  const fit = calibrate(cells);
  if (!fit.deregistrationLag && !fit.registrationLag) throw new ConfigError(`twin calibrate: the runs ${names.join(', ')} have no lag samples`);
  const baseFile = path.resolve(opts.base ?? defaultConfigPath);
  let baseText: string;
  try {
    baseText = await readFile(baseFile, 'utf8');
  } catch (cause) {
    throw new ConfigError(`twin calibrate: cannot read the base twin config ${baseFile}: ${(cause as Error).message}`, [], { cause });
  }
  const doc = parseDocument(baseText);
  if (doc.errors.length) throw new ConfigError(`Invalid YAML in ${baseFile}`, doc.errors.map((e) => e.message));
  if (fit.deregistrationLag) doc.setIn(['alb', 'deregistrationLag'], fit.deregistrationLag);
  if (fit.registrationLag) doc.setIn(['alb', 'registrationLag'], fit.registrationLag);
  // The result must be a valid twin config.
  parseTwinConfig(doc.toJS(), 'the calibrated twin config');
  const header = [
    `Twin config calibrated by rollout-harness twin calibrate from run(s) ${names.join(', ')}, on ${path.relative(process.cwd(), baseFile) || baseFile}.`,
    fit.deregistrationLag ? `alb.deregistrationLag from ${fit.samples.deregistration} measured lags (target × LB node): ${text(fit.deregistrationLag)}.` : 'alb.deregistrationLag: no samples; left as in the base.',
    fit.registrationLag ? `alb.registrationLag from ${fit.samples.registration} measured lags: ${text(fit.registrationLag)}.` : 'alb.registrationLag: no samples; left as in the base.',
    'Fit: lags from the middle of the poll interval that saw each target change; min / max = 3rd / 97th percentile (≥ 30 samples; 10th / 90th with 10–29; else smallest / largest);',
    'tailProbability = share above max; tailMax = largest. alb.registrationTime is left as in the base: the log cannot separate it from the first health check.',
  ];
  doc.commentBefore = `${header.map((l) => ` ${l}`).join('\n')}\n${doc.commentBefore ? `\n${doc.commentBefore}` : ''}`;
  return doc.toString();
}

/** Runs the command: writes FILE or prints the config. */
export async function calibrateCommand(runs: string[], opts: CalibrateOptions): Promise<number> {
  const out = await calibratedConfig(runs, opts);
  if (opts.output) {
    await writeFile(opts.output, out);
    console.error(`wrote ${opts.output}`);
  } else process.stdout.write(out);
  return 0;
}
