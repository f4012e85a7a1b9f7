/**
 * Explaining a run's cells (harness/explain/) with the target's ports: one log location per run,
 * each cell's entries picked by its User-Agent, the twin's ground truth when there is one. A cell
 * whose logs never came says so in `explain` (logs: missing, with why).
 */
import type { Clock } from '../core/clock.ts';
import { packageVersion } from '../core/paths.ts';
import { CAUSES } from '../explain/attribute.ts';
import type { PhaseSettings } from '../explain/cell-context.ts';
import { locateLogs, type Found, type LogLocation } from '../explain/fetch.ts';
import type { GatewayLogs } from '../explain/gateway-fetch.ts';
import { explainCell } from '../explain/pipeline.ts';
import { topologyOf, type Spec } from '../matrix/schema.ts';
import type { CellResult } from '../report/types.ts';
import { cellUserAgent } from '../traffic/user-agent.ts';
import type { Target } from './target.ts';
import { viewOf } from './topology.ts';

/** A gateway cell's gateway logs, read at its end (`readGatewayLogs`), with the gateway pods' phase settings. */
export type GatewayOfCell = (cellId: string) => { logs: GatewayLogs; settings: PhaseSettings } | undefined;

/**
 * Adds `explain` (and on the twin `fiveXXByReason`) to a cell result; undefined when the spec turns
 * explaining off. `gatewayOf` gives a gateway cell's gateway logs: its 5xx are explained across both hops.
 */
export function cellExplainer(
  target: Target,
  spec: Spec,
  runId: string,
  log: (line: string) => void,
  signal: AbortSignal,
  clock: Clock = target.clock,
  gatewayOf?: GatewayOfCell,
): ((result: CellResult) => Promise<CellResult>) | undefined {
  if (!spec.explain.enabled) return undefined;
  // One log location per load balancer: a gateway cell's are its gateway's ALB's (harness/orchestrator/topology.ts).
  const locations = new Map<string, Promise<Found<LogLocation>>>();
  return async (result) => {
    const path = target.topology ? viewOf(target, topologyOf(spec, result.config)) : target;
    const missing = (why: string): CellResult => ({
      ...result,
      explain: { logs: 'missing', why, causes: Object.fromEntries(CAUSES.map((c) => [c, 0])) as Record<(typeof CAUSES)[number], number>, attributed: [], crossCheck: { client: result.fiveXX, accessLog: 0, mismatches: [] } },
    });
    if (!target.explain) return missing('this target has no access-log store');
    if (signal.aborted) return missing('the run was interrupted before the access logs were read');
    const location = locations.get(path.targetGroupArn) ?? locateLogs(target.elbv2, path.targetGroupArn, spec.explain.accessLogs ?? spec.explain.enableAccessLogs);
    locations.set(path.targetGroupArn, location);
    try {
      const { explain, fiveXXByReason } = await explainCell(result, cellUserAgent(packageVersion, runId, result), {
        ...target.explain,
        elbv2: target.elbv2,
        clock,
        targetGroupArn: path.targetGroupArn,
        log,
        signal,
        options: spec.explain,
        location,
        ...(gatewayOf?.(result.id) ? { gateway: gatewayOf(result.id) } : {}),
        ...(target.twin ? { truthFile: target.twin.accessLogFile } : spec.explain.groundTruth ? { truthFile: spec.explain.groundTruth } : {}),
      });
      return { ...result, explain, ...(fiveXXByReason ? { fiveXXByReason } : {}) };
    } catch (error) {
      return missing(`explaining failed: ${(error as Error).message}`);
    }
  };
}
