/**
 * The result files' shapes, as zod schemas: the TypeScript types derive from them, the JSON Schemas
 * in schemas/ are generated from them (`npm run schemas`), and tests parse real results with them,
 * so the documentation cannot drift from what a run writes.
 */
import { z } from 'zod';
import { cellConfigSchema, specSchema } from '../matrix/schema.ts';

/** Version of the result files' format. */
export const RESULTS_SCHEMA_VERSION = 1 as const;

const counts = z.record(z.string(), z.number().int().min(0));

/** A timeline event: model seconds since the cell started. */
export const timelineEventSchema = z.discriminatedUnion('type', [
  z.object({ t: z.number(), type: z.literal('stage'), stage: z.string() }).strict(),
  z
    .object({ t: z.number(), type: z.literal('pod'), pod: z.string(), change: z.enum(['present', 'created', 'ready', 'not-ready', 'terminating', 'deleted']), node: z.string().optional(), ip: z.string().optional() })
    .strict(),
  z.object({ t: z.number(), type: z.literal('target'), target: z.string(), state: z.string(), from: z.string().optional(), reason: z.string().optional() }).strict(),
  z.object({ t: z.number(), type: z.literal('disruption'), action: z.string(), detail: z.string().optional() }).strict(),
  z.object({ t: z.number(), type: z.literal('traffic'), action: z.enum(['start', 'stop']), detail: z.string().optional() }).strict(),
  z.object({ t: z.number(), type: z.literal('note'), detail: z.string() }).strict(),
]);

const disruptionResultSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('rollout') }).strict(),
  z.object({ kind: z.literal('drain'), node: z.string() }).strict(),
  z.object({ kind: z.literal('spot'), node: z.string(), noticeSeconds: z.number() }).strict(),
]);

/** One cell's measurement (`cells/<id>.json`). */
export const cellResultSchema = z
  .object({
    schemaVersion: z.literal(RESULTS_SCHEMA_VERSION),
    id: z.string().describe('rollout|drain|spot . gate-on|gate-off . prestop-N . grace-N . dereg-N . rN'),
    index: z.number().int().min(0),
    disruption: disruptionResultSchema,
    repeat: z.number().int().min(1),
    config: cellConfigSchema,
    valid: z.boolean().describe('false when the cell cannot be trusted; never read an invalid cell as 0 errors'),
    invalidReason: z.string().optional(),
    requests: z
      .object({
        planned: z.number().int().min(0),
        sent: z.number().int().min(0),
        byStatus: counts.describe('by HTTP status, e.g. {"200": 9800, "502": 12}'),
        networkErrors: z.number().int().min(0).describe('requests that got no HTTP status (timeouts, resets)'),
        networkErrorsByCode: counts,
        cutAtStop: z
          .object({
            count: z.number().int().min(0),
            t: z.array(z.number()).describe('when each was sent, model seconds since the cell started; at most 500 kept'),
          })
          .strict()
          .describe('requests in flight when the traffic stopped, cut by the driver: neither answered nor failed; sent = Σ byStatus + networkErrors + cutAtStop.count'),
        achieved: z.number().min(0).describe('(sent − cutAtStop) / (planned − cutAtStop): the share of the due requests that got an answer or a network error'),
      })
      .strict(),
    fiveXX: z.number().int().min(0).describe('requests answered with a 5xx'),
    fiveXXByReason: counts.optional().describe('twin only: 5xx by the twin\'s exact reason, e.g. {"502 connect-refused": 7}'),
    driver: z.string(),
    disruptionOutcome: z.object({ completed: z.boolean(), detail: z.string().optional(), reason: z.string().optional() }).strict(),
    settled: z.boolean(),
    baseline: z
      .object({ sent: z.number().int().min(0), not2xx: z.number().int().min(0) })
      .strict()
      .optional()
      .describe('the second half of the warm-up, right before the disruption: requests sent and how many did not get a 2xx (a valid cell needs ≥ 99 % 2xx)'),
    marks: z
      .object({ trafficStart: z.number().optional(), disruptionStart: z.number().optional(), settled: z.number().optional(), trafficStop: z.number().optional() })
      .strict()
      .describe('model seconds since the cell started'),
    series: z.array(z.object({ t: z.number(), byStatus: counts, networkErrors: z.number().int().min(0) }).strict()).describe('per second of traffic'),
    timeline: z.array(timelineEventSchema),
    failures: z
      .array(z.object({ t: z.number(), path: z.string(), status: z.number().int().optional(), error: z.string().optional() }).strict())
      .describe('the first failed requests (5xx or network error), at most 500'),
    startedAt: z.string(),
    durationSeconds: z.number().describe('model seconds'),
    realDurationSeconds: z.number().min(0).optional().describe('wall-clock seconds the cell took (the twin runs model time faster)'),
  })
  .strict();

/** The run (`run.json`). */
export const runRecordSchema = z
  .object({
    schemaVersion: z.literal(RESULTS_SCHEMA_VERSION),
    runId: z.string(),
    specFile: z.string(),
    spec: z.record(z.string(), z.unknown()).describe('the spec after defaults (disruptions as {kind, ...})'),
    target: z
      .object({
        kind: z.enum(['twin', 'cluster']),
        context: z.string().optional(),
        namespace: z.string(),
        deployment: z.string(),
        targetGroupArn: z.string(),
        url: z.string().optional().describe('where the traffic went'),
        timeScale: z.number().optional(),
        seed: z.number().optional(),
      })
      .strict(),
    driver: z.object({ name: z.string(), reason: z.string(), version: z.string().optional().describe('k6 only: the release that ran, e.g. v0.48.0') }).strict(),
    versions: z.object({ rolloutHarness: z.string(), node: z.string(), platform: z.string() }).strict(),
    startedAt: z.string(),
    endedAt: z.string().optional(),
    cells: z
      .array(z.object({ id: z.string(), status: z.enum(['pending', 'running', 'done', 'failed']), stage: z.string().optional() }).strict())
      .describe('each cell\'s status: failed = the environment failed mid-cell (its result is INVALID); pending, running and failed cells run again on --resume'),
    original: z.unknown().optional().describe('settings as found before the run; restored at its end'),
    restored: z.array(z.string()).optional(),
    restoreDifferences: z.array(z.string()).optional().describe('what still differed from the originals after restore read everything back'),
    stoppedBy: z.string().optional(),
  })
  .strict();

/** One cell's measurement. */
export type CellResult = z.infer<typeof cellResultSchema>;
/** The run record. */
export type RunRecord = Omit<z.infer<typeof runRecordSchema>, 'spec'> & { spec: z.output<typeof specSchema> };

/** JSON Schemas of the result files, for `schemas/`. */
export function resultJsonSchemas(): Record<string, unknown> {
  return {
    'cell.schema.json': z.toJSONSchema(cellResultSchema, { unrepresentable: 'any' }),
    'run.schema.json': z.toJSONSchema(runRecordSchema, { unrepresentable: 'any', io: 'input' }),
  };
}
