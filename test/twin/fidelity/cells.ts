/**
 * Runs a small matrix on the twin for the fidelity suite, through `runMatrix` as
 * `rollout-harness run` does, with the twin's own default lags and health checks (not the
 * test-sized ones of the other twin tests), and returns each cell by id.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { connectTarget } from '../../../harness/cli/connect.ts';
import { runMatrix } from '../../../harness/orchestrator/run.ts';
import type { CellResult } from '../../../harness/report/types.ts';
import type { AccessLogRecord } from '../../../harness/twin/alb/types.ts';
import { loadSpec } from '../../../harness/matrix/load.ts';
import { parseTwinConfig } from '../../../harness/twin/config.ts';
import { testTwinConfig, type TwinTestOptions } from '../../helpers/twin.ts';

/** The twin's defaults for every ALB timing parameter. */
export const defaultAlb = parseTwinConfig({}).alb;

/** One cell's outcome, with the figures a fidelity test asserts on. */
export interface FidelityCell {
  result: CellResult;
  fiveXX: number;
  /** 5xx by `<status> <reason>` from the twin's access log. */
  reasons: Record<string, number>;
  sent: number;
  /**
   * 5xx that an LB node routed to a target whose deregistration the control plane had already
   * finished (drained early: `targetControlState` unused, the node's view still healthy).
   */
  afterDrain: number;
  /** The longest time, model seconds, from the first to the last such 5xx of one target (0 when none). */
  afterDrainSpanSeconds: number;
}

/** A matrix: the spec's `matrix` and `disruptions`, a twin world, and the traffic rate. */
export interface FidelityRun {
  name: string;
  world?: TwinTestOptions;
  matrix: Record<string, unknown>;
  disruptions: unknown[];
  /** Real requests per second (default 200: 10 per model second). */
  rate?: number;
  /** Merged into the spec's `target` (e.g. a `topology`). */
  target?: Record<string, unknown>;
}

/** A cell made INVALID only because the twin's own thread ran late (a busy machine, orchestrator/verdict.ts). */
const STALLED = /the local twin stalled for/;

/**
 * Runs the matrix; every cell must be valid. A run whose only invalid cells are twin stalls (the
 * machine, not the model: the verdict says so) is measured once more from scratch; anything else
 * invalid fails at once. The temp dir is removed, and the twin stopped, even on failure.
 */
export async function runCells(run: FidelityRun): Promise<Map<string, FidelityCell>> {
  try {
    return await runCellsOnce(run);
  } catch (error) {
    if (!(error instanceof StalledRun)) throw error;
    console.warn(`fidelity ${run.name}: ${error.message}; measuring the matrix once more`);
    return runCellsOnce(run);
  }
}

/** A run whose invalid cells were all invalid for a twin stall. */
class StalledRun extends Error {}

async function runCellsOnce(run: FidelityRun): Promise<Map<string, FidelityCell>> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `rh-fidelity-${run.name}-`));
  try {
    const world = run.world ?? {};
    const config = await testTwinConfig({
      timeScale: 0.05,
      seed: 1,
      ...world,
      // The controller's and the kubelet's default probe timeouts (5 s and 1 s): the probes
      // discount the twin's own stalls, so a loaded CI machine does not read as failed checks.
      container: { readinessProbe: { httpGet: { path: '/readyz', port: 8080 }, periodSeconds: 2 }, ...world.container },
      // The twin's default lags, not the test-sized ones.
      alb: { deregistrationLag: defaultAlb.deregistrationLag, registrationTime: defaultAlb.registrationTime, registrationLag: defaultAlb.registrationLag, ...world.alb },
    });
    await writeFile(path.join(dir, 'twin.yaml'), stringify(config));
    await writeFile(
      path.join(dir, 'spec.yaml'),
      stringify({
        name: run.name,
        target: { twin: { config: path.join(dir, 'twin.yaml') }, ...run.target },
        traffic: { driver: 'builtin', rate: run.rate ?? 200, timeoutSeconds: 10, warmupSeconds: 10, cooldownSeconds: 10, mix: [{ path: '/', weight: 1 }] },
        matrix: run.matrix,
        disruptions: run.disruptions,
      }),
    );
    const loaded = await loadSpec(path.join(dir, 'spec.yaml'));
    const outcome = await runMatrix({
      loaded,
      connect: connectTarget,
      resultsDir: dir,
      runId: run.name,
      signal: new AbortController().signal,
      progress: { info: () => {}, cellStart: () => {}, stage: () => {}, traffic: () => {}, cellDone: () => {} },
    });
    // The access log holds the cells one after the other, each cell's requests once each.
    const log = (await readFile(path.join(dir, run.name, 'twin', 'access.log'), 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as AccessLogRecord);
    const cells = new Map<string, FidelityCell>();
    let from = 0;
    const invalid = outcome.results.filter((r) => !r.valid);
    if (invalid.length && invalid.every((r) => STALLED.test(r.invalidReason ?? ''))) throw new StalledRun(invalid.map((r) => `cell ${r.id} is invalid: ${r.invalidReason}`).join('; '));
    for (const r of outcome.results) {
      if (!r.valid) throw new Error(`cell ${r.id} is invalid: ${r.invalidReason}`);
      const records = log.slice(from, from + r.requests.sent);
      from += r.requests.sent;
      const late = records.filter((x) => x.elbStatus >= 500 && x.targetControlState === 'unused' && x.targetState === 'healthy');
      const times = new Map<string, number[]>();
      for (const x of late) times.set(x.target, [...(times.get(x.target) ?? []), x.time]);
      const span = Math.max(0, ...[...times.values()].map((ts) => Math.max(...ts) - Math.min(...ts)));
      cells.set(r.id, { result: r, fiveXX: r.fiveXX, reasons: r.fiveXXByReason ?? {}, sent: r.requests.sent, afterDrain: late.length, afterDrainSpanSeconds: span });
    }
    // FIDELITY_VERBOSE=1 prints each cell's figures.
    if (process.env.FIDELITY_VERBOSE) for (const c of cells.values()) console.log(`fidelity ${describeCell(c)}`);
    return cells;
  } finally {
    // FIDELITY_KEEP_DIR=1 keeps the run directory (its path is printed) to look into.
    if (process.env.FIDELITY_KEEP_DIR) console.log(`fidelity run directory kept: ${dir}`);
    else await rm(dir, { recursive: true, force: true });
  }
}

/** The cell `id`, or an error naming the cells there are. */
export function cell(cells: Map<string, FidelityCell>, id: string): FidelityCell {
  const c = cells.get(id);
  if (!c) throw new Error(`no cell ${id}: ${[...cells.keys()].join(', ')}`);
  return c;
}

/** A one-line summary for assertion messages. */
export function describeCell(c: FidelityCell): string {
  return `${c.result.id}: ${c.fiveXX} 5xx of ${c.sent} ${JSON.stringify(c.reasons)}, ${c.afterDrain} after the drain completed (one target's over ${c.afterDrainSpanSeconds.toFixed(1)} s)`;
}
