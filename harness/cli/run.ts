/** `rollout-harness run SPEC` and `rollout-harness plan SPEC`. */
import { constants, createWriteStream, type WriteStream } from 'node:fs';
import { access, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { scaledClock } from '../core/clock.ts';
import { ConfigError, ExitCode, InterruptedError, exitCodeOf } from '../core/errors.ts';
import { WriteFailedError, type WriteFs } from '../core/files.ts';
import { PLACEMENT_FIRST } from '../disruptions/drain.ts';
import { describeDisruption } from '../disruptions/index.ts';
import { checkRunId, newRunId, restoreCommand, resumeCommand, shardRunId } from '../orchestrator/run-id.ts';
import { describeRoute } from '../orchestrator/traffic-address.ts';
import type { RunOutcome } from '../orchestrator/run.ts';
import type { PreflightPorts } from '../preflight/checks.ts';
import type { TableColumn } from '../report/markdown.ts';
import { describeConfig } from '../orchestrator/settings.ts';
import { describeEnable } from '../settings/access-logs.ts';
import { expandCells, expandConfigs, topologiesOf } from '../matrix/expand.ts';
import { loadSpec } from '../matrix/load.ts';
import { checkShard, laneSpec, shardCells, type Shard } from '../matrix/shards.ts';
import { parseS3Url, resultsUploader } from '../orchestrator/results-s3.ts';
import { gatewayOf, ingressOf, topologyOf, type CellConfig } from '../matrix/schema.ts';
import { REPLICAS_WHEN_USED } from '../orchestrator/topology.ts';
import { terminalProgress } from './progress.ts';

/** Flags of `run`. */
export interface RunCommandOptions {
  resultsDir: string;
  resume?: string;
  runId?: string;
  /** Compare with this run afterwards. */
  baseline?: string;
  /** Append the review Markdown here (e.g. $GITHUB_STEP_SUMMARY). */
  summaryFile?: string;
  alpha?: number;
  minChange?: number;
  htmlUrl?: string;
  /** The table's columns per disruption. */
  columns?: TableColumn[];
  /** Run only this part of the cells, on its lane (`--shard I/N`). */
  shard?: Shard;
  /** Upload the run directory to `s3://bucket/prefix/<run-id>/` as each cell finishes (`--results-s3`). */
  resultsS3?: string;
}

/** Runs the matrix, prints the table, returns the exit code (see `--help`); `deps.fs` writes the results (tests inject a full disk), `deps.preflight` the checks' ports. */
export async function runCommand(specFile: string, opts: RunCommandOptions, deps: { fs?: WriteFs; preflight?: PreflightPorts } = {}): Promise<number> {
  if (opts.runId !== undefined) checkRunId(opts.runId, '--run-id');
  if (opts.resume !== undefined) checkRunId(opts.resume, '--resume');
  if (opts.runId !== undefined && opts.resume !== undefined) throw new ConfigError('--run-id and --resume: expected one of them, got both');
  if (opts.htmlUrl !== undefined && opts.summaryFile === undefined) throw new ConfigError('--html-url: expected with --summary-file (it links the HTML report from the summary), got it alone');
  const loaded = await loadSpec(specFile);
  for (const w of loaded.warnings) console.error(`warning: ${w}`);
  // A missing baseline or an unwritable summary file is bad input: refused before anything changes.
  const after = opts.baseline !== undefined || opts.summaryFile !== undefined ? await import('./results.ts') : undefined;
  const baseline = opts.baseline !== undefined ? await after!.readAnyRun(opts.baseline, opts.resultsDir) : undefined;
  const s3 = opts.resultsS3 !== undefined ? parseS3Url(opts.resultsS3, '--results-s3') : undefined;
  if (opts.summaryFile !== undefined) await after!.checkSummaryFile(opts.summaryFile);
  const truth = loaded.spec.target.context ? loaded.spec.explain.groundTruth : undefined;
  if (truth !== undefined) {
    try {
      await access(truth, constants.R_OK);
    } catch (error) {
      throw new ConfigError(`explain.groundTruth: expected a readable file (a twin up's <state-dir>/access.log), got ${truth}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
  }
  const shard = opts.shard;
  if (shard) checkShard(loaded.spec, shard);
  // The shards of one run agree on its id only when they are given it.
  if (shard && shard.count > 1 && opts.runId === undefined && opts.resume === undefined) throw new ConfigError(`--shard ${shard.index}/${shard.count}: expected --run-id too (the shards of one run share it, so that merge finds them), got none`);
  // A cluster's run (its lane's, for a shard) checks what preflight checks first: a missing permission refuses it now, not at 3 a.m. in the middle of a cell.
  const checked = shard ? laneSpec(loaded.spec, shard.index) : loaded.spec;
  if (checked.target.context) {
    const { preflightLines } = await import('./preflight.ts');
    const { renderChecklist } = await import('../preflight/checks.ts');
    const lines = await preflightLines(checked, specFile, { ...(deps.preflight ? { ports: deps.preflight } : {}) });
    const failed = lines.filter((l) => l.status === 'fail').length;
    if (failed) {
      console.error(`${renderChecklist(lines)}\nrollout-harness: refusing to run: ${failed} preflight check${failed === 1 ? '' : 's'} failed (above)`);
      return exitCodeOf({ command: 'preflight', failed });
    }
    const passed = lines.filter((l) => l.status === 'pass').length;
    console.error(`Preflight (context ${checked.target.context}, namespace ${checked.target.namespace}): ${passed} checks passed, ${lines.length - passed} not checkable without a change; \`rollout-harness preflight\` lists them`);
  }
  const sharedId = opts.resume ?? opts.runId ?? newRunId(loaded.spec.name, new Date(scaledClock(1).now()));
  // A shard writes its own directory, <run-id>.shard-I-of-N, beside the other shards'.
  const runId = shard ? shardRunId(sharedId, shard) : sharedId;
  const resume = (ofRun: string) => resumeCommand(specFile, shard ? sharedId : ofRun, opts.resultsDir, shard);
  const progress = terminalProgress(process.stderr, scaledClock(1), loaded.spec);
  const controller = new AbortController();
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    signals++;
    if (signals === 1) {
      progress.stopping(`${sig}: stopping traffic, restoring the original settings and saving results (again to force quit) …`);
      controller.abort(new InterruptedError(sig));
    } else {
      progress.end();
      process.stderr.write(
        `${sig} again: quitting at once, without finishing the restore. Put the original settings back with:\n  ${restoreCommand(runId, opts.resultsDir)}\n` +
          `or continue the run (it restores first) with:\n  ${resume(runId)}\n`,
      );
      process.exit(ExitCode.interrupted);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const all = expandCells(loaded.spec);
    const cells = shard ? shardCells(all, shard, loaded.spec) : all;
    progress.info(`${cells.length} cells from ${specFile}${shard ? ` (shard ${shard.index}/${shard.count} of ${all.length} cells${loaded.spec.target.lanes ? `, lane ${shard.index}` : ''})` : ''}${opts.resume ? ` (resuming ${opts.resume})` : ''}`);
    // Loaded on demand: the Kubernetes and AWS clients take seconds to load, and `plan` needs neither.
    const [{ runMatrix }, { connectTarget }] = await Promise.all([import('../orchestrator/run.ts'), import('./connect.ts')]);
    const uploader = s3 ? resultsUploader(await (await import('./results-s3.ts')).resultsStore(), s3, runId) : undefined;
    if (uploader) {
      // Refused (exit 3) before anything changes, not found out after the first cell.
      await uploader.check();
      progress.info(`results to ${uploader.url} as each cell finishes`);
    }
    const outcome = await runMatrix({ loaded, resultsDir: opts.resultsDir, resume: opts.resume === undefined ? undefined : runId, runId, ...(shard ? { shard: { ...shard, runId: sharedId } } : {}), signal: controller.signal, progress, connect: connectTarget, ...(opts.columns ? { columns: opts.columns } : {}), fs: deps.fs, ...(uploader ? { publish: async (dir: string) => void (await uploader.sync(dir)) } : {}) });
    progress.end();
    console.log(outcome.report);
    console.error(`Results: ${path.resolve(outcome.runDir)}`);
    const code = runExitCode(outcome, opts.resultsDir, resume);
    const final = after ? await after.finishRun(outcome.runDir, code, { ...opts, baseline }) : code;
    if (uploader) {
      // The comparison written after the run goes up too; `latest` names only a whole run that ended.
      await uploader.sync(outcome.runDir);
      if (!shard && !outcome.failure && !outcome.interrupted) await uploader.markLatest();
      console.error(`Uploaded: ${uploader.url}${!shard && !outcome.failure && !outcome.interrupted ? ' (and latest)' : ''}`);
    }
    return final;
  } finally {
    progress.end();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** The exit code of a finished (or stopped) run (decided by `exitCodeOf`), with the lines that say why on stderr. */
function runExitCode(outcome: RunOutcome, resultsDir: string, resume: (runId: string) => string): number {
  const invalid = outcome.results.filter((r) => !r.valid).length;
  const code = exitCodeOf({ command: 'run', failure: outcome.failure, restoreDifferences: outcome.restoreDifferences.length, interrupted: outcome.interrupted, failedExpectations: outcome.failedExpectations.length, invalidCells: invalid });
  if (outcome.failure instanceof WriteFailedError) {
    // Not the cluster's failure: the cells above were measured and the settings restored; only the files are missing.
    console.error(`rollout-harness: ${outcome.failure.message}; the table above is what was measured`);
  } else if (outcome.failure) {
    console.error(`rollout-harness: the run stopped: ${outcome.failure.message}`);
    if (code === ExitCode.internal) console.error(outcome.failure);
    console.error(`The cells measured so far are kept; continue with: ${resume(outcome.runId)}`);
  }
  if (outcome.restoreDifferences.length) {
    console.error(`rollout-harness: the original settings could not all be verified back:\n${outcome.restoreDifferences.map((d) => `  - ${d}`).join('\n')}\nRetry with: ${restoreCommand(outcome.runId, resultsDir)}`);
  }
  if (code === ExitCode.interrupted && !outcome.failure) console.error(`Interrupted. Continue with: ${resume(outcome.runId)}`);
  if (code === ExitCode.invalidCells) console.error(`rollout-harness: ${invalid} of ${outcome.results.length} cells are INVALID (see the footnotes)`);
  return code;
}

/** What `plan` says of the traffic address when the spec gives no `target.url`. */
export const TRAFFIC_FROM_LOAD_BALANCER =
  'the load balancer that forwards to the target group, read when connecting: a listener whose default action forwards to it, else the listener rule that does (HTTPS preferred, never a redirect), with the rule\'s host as Host header and TLS server name (plan --server-dry-run reads it now)';

/** What `plan` prints: the target (a shard's: its lane), the traffic, and per cell (a shard's: its part) what would be changed; plain data for `--format json`. */
export async function planOf(specFile: string, shard?: Shard) {
  const loaded = await loadSpec(specFile);
  if (shard) checkShard(loaded.spec, shard);
  const spec = shard ? laneSpec(loaded.spec, shard.index) : loaded.spec;
  const t = spec.target;
  const ingress = ingressOf(t);
  const at = { namespace: t.namespace, deployment: t.deployment, ingress };
  const gateway = topologiesOf(spec).includes('gateway') ? gatewayOf(t) : undefined;
  // A cell's objects: the app's (direct), the gateway's (gateway disrupted), or the app's with the gateway's Ingress and target group.
  const atOf = (config: CellConfig) => {
    if (!gateway || topologyOf(spec, config) === 'direct') return at;
    const g = { namespace: gateway.namespace, deployment: gateway.deployment, ingress: gateway.ingress };
    return gateway.disrupt === 'gateway' ? g : { ...at, ingress: undefined, albSide: g };
  };
  // Behind a gateway the ALB's targets are the gateway's pods: a gate on the app's would measure nothing (harness/orchestrator/cell.ts).
  const notRun = (config: CellConfig) => (gateway && gateway.disrupt === 'app' && topologyOf(spec, config) === 'gateway' && config.readinessGate ? ['not run (INVALID "not tested"): the readiness gate acts on the ALB\'s targets, the gateway\'s pods, not the app\'s this cell disrupts'] : undefined);
  // Only a real cluster has an AWS region; resolved the way the run resolves it.
  const region = t.context ? await (await import('../platform/aws-region.ts')).resolveRegion(t.region, process.env) : undefined;
  return {
    spec: spec.name,
    warnings: loaded.warnings,
    target: { where: t.context ? `context ${t.context}` : 'the local twin (started in-process)', ...(t.context ? { context: t.context } : {}), namespace: t.namespace, deployment: t.deployment, ...(ingress ? { ingress } : {}), ...(t.targetGroupBinding ? { targetGroupBinding: t.targetGroupBinding } : {}) },
    ...(region ? { region } : {}),
    traffic: {
      rate: spec.traffic.rate,
      driver: spec.traffic.driver,
      warmupSeconds: spec.traffic.warmupSeconds,
      cooldownSeconds: spec.traffic.cooldownSeconds,
      // Where traffic goes, and why: the spec's URL, or what the load balancer shows when connecting (plan --server-dry-run reads it).
      to: t.url ? `${t.url} (target.url)` : TRAFFIC_FROM_LOAD_BALANCER,
      ...(spec.traffic.insecureSkipTLSVerify ? { insecureSkipTLSVerify: true } : {}),
    },
    ...(gateway
      ? {
          gateway: { namespace: gateway.namespace, deployment: gateway.deployment, ...(gateway.ingress ? { ingress: gateway.ingress } : {}), ...(gateway.targetGroupBinding ? { targetGroupBinding: gateway.targetGroupBinding } : {}), disrupt: gateway.disrupt },
          beforeFirstGatewayCell: `deployment ${gateway.namespace}/${gateway.deployment}: when at 0 replicas with the annotation ${REPLICAS_WHEN_USED}, scaled to that count and waited for (every pod Ready, every target healthy); scaled back to 0 at the end`,
        }
      : {}),
    ...(spec.explain.enableAccessLogs ? { beforeFirstCell: describeEnable(spec.explain.enableAccessLogs, { namespace: t.namespace, ingress }) } : {}),
    counts: { configs: expandConfigs(spec.matrix, spec.axes).length, disruptions: spec.disruptions.length, repeats: spec.repeat },
    ...(shard ? { shard: { index: shard.index, count: shard.count, of: expandCells(spec).length } } : {}),
    cells: (shard ? shardCells(expandCells(spec), shard, spec) : expandCells(spec)).map((cell) => ({ index: cell.index, id: cell.id, config: cell.config, changes: notRun(cell.config) ?? describeConfig(cell.config, spec, atOf(cell.config)), disruption: `${cell.disruption.kind === 'rollout' ? '' : `${PLACEMENT_FIRST}; `}${describeDisruption(cell.disruption, atOf(cell.config))}` })),
  };
}

/** Prints the cells and exactly what would be changed (as text, or `--format json`); touches nothing. */
export async function planCommand(specFile: string, opts: { format?: 'text' | 'json'; serverDryRun?: boolean; resultsDir?: string; shard?: Shard } = {}): Promise<number> {
  if (opts.shard && opts.serverDryRun) throw new ConfigError('--shard and --server-dry-run: expected one of them, got both (plan --server-dry-run checks the whole spec on its target)');
  const plan = await planOf(specFile, opts.shard);
  const dryRun = opts.serverDryRun ? await planDryRun(specFile, opts.resultsDir ?? 'results') : undefined;
  if (opts.format === 'json') {
    console.log(JSON.stringify(dryRun ? { ...plan, traffic: { ...plan.traffic, to: describeRoute(dryRun.route), route: dryRun.route }, serverDryRun: dryRun.findings } : plan, null, 2));
    return exitCodeOf({ command: 'plan', findings: dryRun?.findings.length ?? 0 });
  }
  for (const w of plan.warnings) console.log(`warning: ${w}`);
  const t = plan.target;
  console.log(`Target: ${t.where}, deployment ${t.namespace}/${t.deployment}${t.ingress ? `, ingress ${t.ingress}` : ''}${t.targetGroupBinding ? `, binding ${t.targetGroupBinding}` : ''}`);
  if (plan.gateway) {
    const g = plan.gateway;
    console.log(`Gateway: deployment ${g.namespace}/${g.deployment}${g.ingress ? `, ingress ${g.ingress}` : ''}${g.targetGroupBinding ? `, binding ${g.targetGroupBinding}` : ''}; the gateway cells disrupt ${g.disrupt === 'gateway' ? 'the gateway' : 'the app'} (pod settings there) and set the ALB settings on the gateway's target group`);
  }
  if (plan.region) console.log(`AWS region: ${plan.region.region} (${plan.region.source})`);
  console.log(`Traffic: ${plan.traffic.rate} req/s (driver ${plan.traffic.driver}), warm-up ${plan.traffic.warmupSeconds} s, cool-down ${plan.traffic.cooldownSeconds} s`);
  console.log(`Traffic to: ${dryRun ? describeRoute(dryRun.route) : plan.traffic.to}${plan.traffic.insecureSkipTLSVerify ? ' (certificates not verified: traffic.insecureSkipTLSVerify)' : ''}`);
  if (plan.beforeFirstCell) console.log(`Before the first cell: ${plan.beforeFirstCell}`);
  if (plan.beforeFirstGatewayCell) console.log(`Before the first gateway cell: ${plan.beforeFirstGatewayCell}`);
  if (plan.shard) console.log(`Shard ${plan.shard.index}/${plan.shard.count}: ${plan.cells.length} of the ${plan.shard.of} cells (${plan.counts.configs} configs × ${plan.counts.disruptions} disruptions × ${plan.counts.repeats} repeats):\n`);
  else console.log(`${plan.cells.length} cells (${plan.counts.configs} configs × ${plan.counts.disruptions} disruptions × ${plan.counts.repeats} repeats):\n`);
  let lastConfig = '';
  for (const cell of plan.cells) {
    const key = JSON.stringify(cell.config);
    if (key !== lastConfig) {
      lastConfig = key;
      console.log(`config ${JSON.stringify(cell.config)}:`);
      for (const line of cell.changes) console.log(`    ${line}`);
    }
    console.log(`  ${cell.index + 1}. ${cell.id}: ${cell.disruption}`);
  }
  console.log('\nAt the end (or on interrupt) every original setting is restored and cordons are undone. Nothing was changed by this command.');
  if (dryRun && !dryRun.findings.length) console.log('Server dry run (dryRun=All): the cluster admitted every change of every cell.');
  for (const f of dryRun?.findings ?? []) console.log(f.kind === 'refused' ? `server dry run refused: ${f.cells.join(', ')}: ${f.message}` : `server dry run: ${f.message}`);
  return exitCodeOf({ command: 'plan', findings: dryRun?.findings.length ?? 0 });
}

/**
 * Connects to the spec's target, reads where traffic would go, and sends every cell's changes with
 * dryRun=All (see harness/orchestrator/dry-run.ts). An in-process twin's controllers log to the
 * twin's own file (`<results>/twin/twin.log`, beside its kubeconfig), not to the user's stderr, which is the plan's.
 */
async function planDryRun(specFile: string, resultsDir: string) {
  const { spec } = await loadSpec(specFile);
  const [{ connectTarget }, { serverDryRun }] = await Promise.all([import('./connect.ts'), import('../orchestrator/dry-run.ts')]);
  const twinLog = spec.target.context ? undefined : await openTwinLog(path.join(resultsDir, 'twin', 'twin.log'));
  try {
    const target = await connectTarget(spec, { resultsDir, log: (line) => twinLog?.write(`${line}\n`) });
    try {
      const route = { url: target.url, source: target.urlSource, ...(target.hostHeader ? { hostHeader: target.hostHeader } : {}), ...(target.servername ? { servername: target.servername } : {}) };
      return { route, findings: await serverDryRun(target, spec) };
    } finally {
      await target.close();
    }
  } finally {
    await new Promise<void>((resolve) => (twinLog ? twinLog.end(resolve) : resolve()));
  }
}

/** Opens the twin's log file for appending (its directory created). */
async function openTwinLog(file: string): Promise<WriteStream> {
  await mkdir(path.dirname(file), { recursive: true });
  return createWriteStream(file, { flags: 'a' });
}
