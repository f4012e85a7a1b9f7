/**
 * A matrix run: connect, refuse if another run's changes are still on the cluster, record the
 * original settings, mark what it changes, run every cell (checkpointing after each stage change
 * and each cell), and — on success, error or interruption — restore the original settings, read
 * them back, persist what was measured, and render the report. `resume` continues a run from its
 * checkpoint: it first undoes whatever the stopped run left changed, keeps the cells already
 * done, and runs the rest.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { scaledClock, type Clock } from '../core/clock.ts';
import { ConfigError, EnvironmentError, SafetyError } from '../core/errors.ts';
import { ensureWritableDir, nodeFs, type WriteFs } from '../core/files.ts';
import { packageVersion } from '../core/paths.ts';
import type { UnmeasuredCell } from '../report/expect.ts';
import { REPORT_FORMATS, type ReportFormat } from '../report/formats.ts';
import { reportMetaOf } from '../report/meta.ts';
import { renderMarkdown, type TableColumn } from '../report/markdown.ts';
import { recommend } from '../report/recommend.ts';
import { renderRecommendationMarkdown } from '../report/recommend-md.ts';
import { RESULTS_SCHEMA_VERSION, type CellResult, type RunRecord } from '../report/types.ts';
import { expandCells, topologiesOf } from '../matrix/expand.ts';
import type { LoadedSpec } from '../matrix/load.ts';
import { describeDriver, selectDriver } from '../traffic/index.ts';
import type { TrafficProgress } from '../traffic/types.ts';
import { CellFailedError, runCell, type Stage } from './cell.ts';
import { cellExplainer } from './explain.ts';
import type { PhaseSettings } from '../explain/cell-context.ts';
import { gatewayPhaseSettings, readCellGatewayLogs, type GatewayLogs } from '../explain/gateway-fetch.ts';
import { cellUserAgent } from '../traffic/user-agent.ts';
import type { DeploymentRef } from './target.ts';
import { checkPreconditions } from './preconditions.ts';
import { enableAccessLogs, snapshotAccessLogs } from '../settings/access-logs.ts';
import { findMarkers, isSteady, markNodeChange, markObjects, originalsOf, restoreSettings, snapshotPaths, undoClusterChanges, type OriginalSettings } from './settings.ts';
import { scaleGatewayFromZero, viewOf } from './topology.ts';
import { k6OperatorOf, topologyOf } from '../matrix/schema.ts';
import { cellFileOf, readCell, readRunRecord, RUN_FILE, runDirOf, runFileOf, writeCell, writeInterruptedCell, writeReportFile } from './run-dir.ts';
import { checkRunId, newRunId, restoreCommand, resumeCommand } from './run-id.ts';
import { laneSpec, shardCells, type Shard } from '../matrix/shards.ts';
import { describeRoute } from './traffic-address.ts';
import { holdLease, leaseFor, refuseLive, thisProcess, type HeldLease, type Here } from './lease.ts';
import type { Connect, ConnectOptions, Target } from './target.ts';

/** Progress callbacks (the CLI renders them). */
export interface RunProgress {
  info(line: string): void;
  cellStart(index: number, total: number, id: string): void;
  stage(stage: Stage): void;
  traffic(progress: TrafficProgress): void;
  cellDone(result: CellResult): void;
}

/** How to run. */
export interface RunOptions {
  loaded: LoadedSpec;
  resultsDir: string;
  /** Continue this run from its checkpoint. */
  resume?: string;
  runId?: string;
  signal: AbortSignal;
  progress: RunProgress;
  env?: Record<string, string | undefined>;
  /** Host-name resolution for the traffic address (tests inject one). */
  lookup?: ConnectOptions['lookup'];
  /** Connects to the target (the composition root's `connectTarget`). */
  connect: Connect;
  /** Wall-clock time for the record's timestamps and the run's lease (default: real time). */
  realClock?: Clock;
  /** The table's columns per disruption (default: failed). */
  columns?: TableColumn[];
  /** This process, as its lease names it (default: the real host and pid). */
  here?: Here;
  /** How results are written (default: the real filesystem; tests inject one that fills up). */
  fs?: WriteFs;
  /** Run only this shard's cells, on its lane (`runId` is then the shard's directory, `shard.runId` the run's shared id). */
  shard?: Shard & { runId: string };
  /** Copies the run directory elsewhere (`--results-s3`) as each cell finishes and at the end; a failure at the end is the run's write failure. */
  publish?: (runDir: string) => Promise<void>;
}

/** What a run produced. */
export interface RunOutcome {
  runId: string;
  runDir: string;
  results: CellResult[];
  /** Cells of the spec without a result. */
  unmeasured: UnmeasuredCell[];
  failedExpectations: string[];
  interrupted: boolean;
  /** The environment failure that stopped the run, or the results write that failed (the cells so far are kept). */
  failure?: Error;
  /** What still differed from the originals after restore (empty: every setting verified back). */
  restoreDifferences: string[];
  report: string;
}

/** Runs (or resumes) a matrix. */
export async function runMatrix(opts: RunOptions): Promise<RunOutcome> {
  const { loaded, progress, signal } = opts;
  const realClock = opts.realClock ?? scaledClock(1);
  const here = opts.here ?? thisProcess();
  const fs = opts.fs ?? nodeFs;
  const wallTime = () => new Date(realClock.now()).toISOString();
  // A shard runs on its lane (the target with the lane's overrides) and records the spec as written, which every shard shares.
  const spec = opts.shard ? laneSpec(loaded.spec, opts.shard.index) : loaded.spec;
  const cells = opts.shard ? shardCells(expandCells(loaded.spec), opts.shard, loaded.spec) : expandCells(spec);
  const runId = opts.resume ?? opts.runId ?? newRunId(spec.name, new Date(realClock.now()));
  const runDir = runDirOf(opts.resultsDir, runId);
  const runFile = runFileOf(runDir);
  let record: RunRecord | undefined;
  if (opts.resume) {
    if (!existsSync(runFile)) {
      throw new ConfigError(`Cannot resume ${runId}: ${runFile} does not exist (a run that stopped before writing it changed nothing; start it again with --run-id ${runId})`);
    }
    // Validated, its originals (what restore works from) included: never taken on trust.
    record = await readRunRecord(runFile);
    const was = record.shard ? `${record.shard.index}/${record.shard.count}` : 'none';
    const now = opts.shard ? `${opts.shard.index}/${opts.shard.count}` : 'none';
    if (was !== now) {
      throw new ConfigError(`Cannot resume ${runId}: it ran as shard ${was}, expected the same --shard now, got ${now}${record.shard ? `; continue it with: ${resumeCommand(record.specFile, record.shard.runId, opts.resultsDir, record.shard)}` : ''}`);
    }
    if (JSON.stringify(record.spec) !== JSON.stringify(loaded.spec)) {
      throw new ConfigError(`Cannot resume ${runId}: the spec differs from the one the run started with (${record.specFile})`);
    }
    if (record.endedAt && !record.stoppedBy && record.cells.every((c) => c.status === 'done')) {
      throw new ConfigError(`Cannot resume ${runId}: it finished at ${record.endedAt} with every cell measured; start a new run instead`);
    }
  } else if (existsSync(runFile)) {
    throw new ConfigError(`The run ${runId} already exists in ${runDir}; continue it with: ${resumeCommand(loaded.source, opts.shard?.runId ?? runId, opts.resultsDir, opts.shard)}`);
  }
  await ensureWritableDir(opts.resultsDir, '--results-dir');
  await ensureWritableDir(runDir, '--results-dir');

  const log = (line: string) => progress.info(line);
  /** One wait for the access logs of every cell measured now, each cell's explanation written back. */
  const explainAll = async (): Promise<void> => {
    if (!explain || spec.explain.when !== 'run' || signal.aborted) return;
    for (let i = 0; i < results.length; i++) {
      if (results[i].explain || results[i].modelOrigin === undefined) continue;
      results[i] = await explain(results[i]);
      await writeCell(runDir, results[i], fs).catch((error) => log(`could not write ${results[i].id}'s explanation: ${(error as Error).message}`));
    }
  };
  const logsOnlyForTheRun = spec.explain.enableAccessLogs !== undefined;
  // Checkpoint writes go one after another, so an older snapshot never lands after a newer one.
  let saving: Promise<void> = Promise.resolve();
  const save = (): Promise<void> => {
    const text = `${JSON.stringify(record, null, 2)}\n`;
    saving = saving.catch(() => {}).then(() => writeReportFile(runDir, RUN_FILE, text, fs));
    return saving;
  };
  // Before anything starts: a k6 that is missing or too old fails the run here.
  const driver = await describeDriver(selectDriver(spec.traffic.driver, opts.env ?? process.env), opts.env ?? process.env, realClock, k6OperatorOf(spec.traffic));
  // A resumed run keeps the region it started in, whatever the environment says now.
  const recorded = record?.target.region ? { region: record.target.region, source: `${record.target.regionSource ?? 'unknown'}, recorded when the run started` } : undefined;
  const target: Target = await opts.connect(spec, { resultsDir: runDir, log: () => {}, lookup: opts.lookup, env: opts.env, region: recorded });
  try {
    await settleLeftovers(target, runId, opts, record, log, realClock.now(), here);
    await checkPreconditions(target, spec);
  } catch (error) {
    await target.close();
    throw error;
  }
  progress.info(`traffic to ${describeRoute({ url: target.url, source: target.urlSource, hostHeader: target.hostHeader, servername: target.servername })}`);
  const gw = target.topology?.direct && target.topology.gateway;
  if (gw) progress.info(`gateway cells: traffic to ${describeRoute({ url: gw.url, source: gw.urlSource, hostHeader: gw.hostHeader, servername: gw.servername })}, the targets of ${gw.gateway.namespace}/${gw.gateway.deployment}`);
  if (target.kind === 'cluster') progress.info(`AWS region ${target.region} (${target.regionSource})`);
  progress.info(driver.version ? `${driver.reason} (k6 ${driver.version})` : driver.reason);
  const results: CellResult[] = [];
  // A gateway cell's gateway logs, read as the cell ends (the pods and their logs may be gone by the run's end).
  const gatewayLogs = new Map<string, { logs: GatewayLogs; settings: PhaseSettings }>();
  const explain = cellExplainer(target, spec, runId, log, signal, target.clock, (id) => gatewayLogs.get(id));
  let original: OriginalSettings;
  let failure: Error | undefined;
  let restoreDifferences: string[] = [];
  let lease: HeldLease | undefined;
  try {
    original = record?.original ?? (await snapshotPaths(target, spec));
    // Each path's load balancer: the gateway's has its own (recorded in its path's originals, restored with them).
    const logPaths = accessLogPaths(target, spec, original);
    if (spec.explain.enableAccessLogs) for (const { side, o } of logPaths) o.accessLogs ??= await snapshotAccessLogs(side);
    const previous = record?.cells ?? [];
    record = {
      schemaVersion: RESULTS_SCHEMA_VERSION,
      runId,
      // Absolute: the command that continues the run names it, from wherever it is run.
      specFile: path.resolve(loaded.source),
      spec: loaded.spec,
      ...(opts.shard ? { shard: { runId: opts.shard.runId, index: opts.shard.index, count: opts.shard.count } } : {}),
      target: {
        kind: target.kind,
        ...(spec.target.context ? { context: spec.target.context } : {}),
        namespace: target.namespace,
        deployment: target.deployment,
        targetGroupArn: target.targetGroupArn,
        url: target.url,
        region: target.region,
        // Where the region first came from (a resumed run uses the one it recorded).
        regionSource: (recorded && record?.target.regionSource) || target.regionSource,
        ...(target.twin ? { timeScale: target.twin.timeScale, seed: target.twin.seed } : {}),
        ...(target.topology?.gateway ? { gateway: { namespace: target.topology.gateway.gateway.namespace, deployment: target.topology.gateway.gateway.deployment, disrupt: target.topology.gateway.disrupt, targetGroupArn: target.topology.gateway.targetGroupArn, url: target.topology.gateway.url } } : {}),
      },
      driver,
      versions: { rolloutHarness: packageVersion, node: process.version, platform: `${process.platform}-${process.arch}` },
      startedAt: record?.startedAt ?? wallTime(),
      cells: cells.map((c) => ({ id: c.id, status: previous.find((x) => x.id === c.id)?.status === 'done' ? 'done' : 'pending' })),
      original,
    };
    // The original settings are on disk before anything changes, and every object about to change
    // carries the run's marker, so a run killed at any point can be found and restored.
    await save();
    // The marker carries the lease from its first write; renewed in wall time until restore unmarks.
    await markObjects(target, runId, leaseFor(runId, realClock.now(), here));
    lease = holdLease(target.k8s, target.namespace, runId, realClock, here, log);
    if (spec.explain.enableAccessLogs) for (const { side, o } of logPaths) if (o.accessLogs) await enableAccessLogs(side, o.accessLogs, spec.explain.enableAccessLogs, signal, log);

    let gatewayUp = false;
    for (const [position, cell] of cells.entries()) {
      const entry = record.cells[position];
      const cellFile = cellFileOf(runDir, cell.id);
      if (entry.status === 'done' && existsSync(cellFile)) {
        results.push(await readCell(cellFile));
        continue;
      }
      if (signal.aborted) break;
      const topology = topologyOf(spec, cell.config);
      if (topology === 'gateway' && !gatewayUp) {
        // A gateway kept at 0 replicas until used: scaled up (recorded first) and waited for once, before its first cell.
        await scaleGatewayFromZero(target, original, runId, { record: save, log, isSteady, boundMs: spec.configure.steadyTimeoutSeconds * 1000, signal });
        gatewayUp = true;
      }
      progress.cellStart(position, cells.length, cell.id);
      entry.status = 'running';
      let result: CellResult;
      try {
        result = await runCell(cell, {
          target: viewOf(target, topology),
          spec,
          original: originalsOf(original, topology),
          driver: driver.name,
          signal,
          env: opts.env,
          runId,
          log,
          onStage: (stage) => {
            entry.stage = stage;
            progress.stage(stage);
            void save().catch(() => {});
          },
          onTraffic: (p) => progress.traffic(p),
          recordChange: async (change) => {
            await lease!.exclusive(() => markNodeChange(target, runId, change));
            original.changes.push(change);
            await save();
          },
          undoChanges: async () => {
            for (const line of await lease!.exclusive(() => undoClusterChanges(target, original.changes, runId))) log(line);
            await save();
          },
        });
      } catch (error) {
        if (!(error instanceof CellFailedError)) throw error;
        // The environment failed mid-cell: keep the half-measured cell (INVALID, with why) and stop.
        results.push(error.result);
        entry.status = 'failed';
        progress.cellDone(error.result);
        failure = error.cause instanceof Error ? error.cause : error;
        await writeCell(runDir, error.result, fs).catch((writeError) => log((writeError as Error).message));
        break;
      }
      if (signal.aborted) {
        // Keep what was measured, but the cell runs again on resume.
        await writeInterruptedCell(runDir, result, fs).catch((writeError) => log((writeError as Error).message));
        entry.status = 'pending';
        break;
      }
      if (explain && topology === 'gateway' && target.topology?.gateway) {
        const read = await readGatewayOfCell(target, target.topology.gateway.gateway, result, runId).catch((error: Error) => {
          log(`reading the gateway's logs for ${result.id} failed: ${error.message}; its 5xx are explained at the ALB hop only`);
          return undefined;
        });
        if (read) gatewayLogs.set(result.id, read);
      }
      if (explain && spec.explain.when === 'cell') result = await explain(result);
      // Measured, so in the table even if its file cannot be written (the run stops then, a write failure).
      results.push(result);
      progress.cellDone(result);
      await writeCell(runDir, result, fs);
      entry.status = 'done';
      delete entry.stage;
      await save();
      // A failed upload is tried again after the next cell and at the end, which decides.
      if (opts.publish) await opts.publish(runDir).catch((error) => log(`uploading the results failed: ${(error as Error).message}; tried again after the next cell`));
    }
  } catch (error) {
    failure = error as Error;
  } finally {
    // Logs the run turned on stop when restore turns them off: read them first (Ctrl-C ends the wait).
    if (logsOnlyForTheRun) await explainAll().catch((error) => log(`explaining the cells failed: ${(error as Error).message}`));
    if (record) {
      try {
        progress.info('Restoring the original settings …');
        const restored = await restoreSettings(target, recordedOriginal(record, runFile), runId, log, { spec, beforeUnmark: () => lease?.stop() ?? Promise.resolve() });
        record.restored = restored.done;
        if (restored.kept.length) record.restoreKept = restored.kept;
        else delete record.restoreKept;
        restoreDifferences = restored.differences;
        if (restoreDifferences.length) record.restoreDifferences = restoreDifferences;
        else delete record.restoreDifferences;
      } catch (error) {
        record.restored = [`FAILED: ${(error as Error).message}`];
        restoreDifferences = [`restore failed: ${(error as Error).message}`];
        record.restoreDifferences = restoreDifferences;
        progress.info(`Restoring failed: ${(error as Error).message}; the original settings are in ${runFile}; retry with: ${restoreCommand(runId, opts.resultsDir)}`);
      }
      await lease?.stop();
      record.endedAt = wallTime();
      if (signal.aborted) record.stoppedBy = String(signal.reason ?? 'interrupted');
      else if (failure) record.stoppedBy = `failed: ${failure.message}`;
      else delete record.stoppedBy;
      await save().catch((error) => {
        failure ??= error as Error;
      });
    }
    // After restore, before the target closes: one wait for the logs of every cell measured now.
    if (!logsOnlyForTheRun) await explainAll();
    await target.close();
  }
  if (!record) throw failure ?? new EnvironmentError('The run did not start');
  const measured = new Set(results.map((r) => r.id));
  const unmeasured: UnmeasuredCell[] = cells.filter((c) => !measured.has(c.id)).map((c) => ({ id: c.id, config: c.config, disruption: c.disruption }));
  // The recommended settings from the lags the cells measured, with the cells that confirm them.
  record.recommendation = recommend(results);
  await save().catch((error) => log(`could not write the recommendation to run.json: ${(error as Error).message}`));
  const meta = reportMetaOf(record, results, unmeasured, { ...(opts.columns ? { columns: opts.columns } : {}) });
  const { failedExpectations } = meta;
  const report = renderMarkdown(results, { ...meta, recommendation: renderRecommendationMarkdown(record.recommendation) });
  try {
    await writeReportFile(runDir, 'report.md', report, fs);
    for (const format of Object.values(REPORT_FORMATS) as ReportFormat[]) {
      if (format.file) await writeReportFile(runDir, format.file, format.render({ record, cells: results, failedExpectations, unmeasured }), fs);
    }
  } catch (error) {
    // The table is still returned (and printed); the write failure decides the exit code.
    failure ??= error as Error;
  }
  if (opts.publish) {
    await opts.publish(runDir).catch((error) => {
      failure ??= error as Error;
    });
  }
  return { runId, runDir, results, unmeasured, failedExpectations, interrupted: signal.aborted, failure, restoreDifferences, report };
}

/**
 * Before anything is measured: changes another run left on the cluster (its markers) refuse the
 * run with the command that restores them; the run being resumed gets its own leftovers undone
 * first, so no cell is measured on a cluster the stopped run left changed.
 */
async function settleLeftovers(target: Target, runId: string, opts: RunOptions, record: RunRecord | undefined, log: (line: string) => void, nowMs: number, here: Here): Promise<void> {
  const markers = await findMarkers(target);
  // A run that still renews its lease is running, whether it is another one or the one to resume.
  refuseLive(markers, nowMs, here);
  const foreign = markers.filter((m) => !(opts.resume && m.runId === runId));
  if (foreign.length) {
    const runs = [...new Set(foreign.map((m) => m.runId))];
    const resumes = (await Promise.all(runs.map((r) => resumeOf(r, opts.resultsDir)))).filter((c) => c !== undefined);
    throw new SafetyError(
      `The run ${runs.join(', ')} did not finish: its changes are still on ${foreign.map((m) => m.object).join(', ')}. ` +
        `Restore them first with: ${runs.map((r) => restoreCommand(r, opts.resultsDir)).join(' ; ')}` +
        (resumes.length ? ` (or continue ${runs.length > 1 ? 'them' : 'it'} with: ${resumes.join(' ; ')})` : ''),
    );
  }
  const recorded = opts.resume ? record?.original : undefined;
  if (recorded && (markers.length || recorded.changes.length)) {
    log(`Undoing what the stopped run ${runId} left changed before measuring …`);
    const { differences } = await restoreSettings(target, recorded, runId, log, { spec: opts.shard ? laneSpec(opts.loaded.spec, opts.shard.index) : opts.loaded.spec });
    if (differences.length) throw new EnvironmentError(`Could not restore what run ${runId} left changed:\n${differences.map((d) => `  - ${d}`).join('\n')}`);
  }
}

/** Each path's load-balancer side with the originals its access logs are recorded in (one entry without a topology). */
function accessLogPaths(target: Target, spec: LoadedSpec['spec'], original: OriginalSettings): Array<{ side: Target; o: OriginalSettings }> {
  if (!target.topology) return [{ side: target, o: original }];
  return topologiesOf(spec).map((p) => {
    const view = viewOf(target, p);
    return { side: view.albSide ?? view, o: originalsOf(original, p) };
  });
}

/** The originals a run's record holds (every record past the snapshot has them). */
function recordedOriginal(record: RunRecord, runFile: string): OriginalSettings {
  if (!record.original) throw new ConfigError(`${runFile}: expected the original settings to restore from, got none`);
  return record.original;
}

/** The command that continues another run, when its (valid) record is in the same results directory (its spec from there). */
async function resumeOf(runId: string, resultsDir: string): Promise<string | undefined> {
  try {
    checkRunId(runId, 'the run marker');
    const record = await readRunRecord(runFileOf(runDirOf(resultsDir, runId)));
    return resumeCommand(record.specFile, record.shard?.runId ?? runId, resultsDir, record.shard);
  } catch {
    return undefined;
  }
}

/**
 * A gateway cell's gateway logs and its gateway pods' phase settings (their preStop and grace from
 * the gateway Deployment, the delay of the gateway's target group the cell ran with), read as the
 * cell ends: every gateway pod's log from the cell's start, through pods/log.
 */
async function readGatewayOfCell(target: Target, gateway: DeploymentRef, result: CellResult, runId: string): Promise<{ logs: GatewayLogs; settings: PhaseSettings }> {
  const deployment = await target.k8s.getDeployment(gateway.namespace, gateway.deployment);
  const container = (deployment.spec?.template?.spec?.containers as Array<{ name: string }> | undefined)?.[0]?.name;
  const logs = await readCellGatewayLogs(target.k8s, result, { namespace: gateway.namespace, labelSelector: gateway.labelSelector, ...(container ? { container } : {}) }, cellUserAgent(packageVersion, runId, result));
  return { logs, settings: gatewayPhaseSettings(deployment, result.config.deregistrationDelaySeconds, container) };
}
