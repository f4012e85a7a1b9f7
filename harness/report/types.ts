/**
 * The result files' shapes, as zod schemas: the TypeScript types derive from them, the JSON Schemas
 * in schemas/ are generated from them (`npm run schemas`), and tests parse real results with them,
 * so the documentation cannot drift from what a run writes.
 */
import { z } from 'zod';
import { cellConfigSchema, NODE_HANDLERS, REPLACING_HANDLERS, specSchema } from '../matrix/schema.ts';
import { recommendationSchema } from './recommend.ts';
import type { OriginalSettings } from '../settings/types.ts';

/** Version of the result files' format. */
export const RESULTS_SCHEMA_VERSION = 1 as const;

const counts = z.record(z.string(), z.number().int().min(0));

/** A timeline event: model seconds since the cell started. */
export const timelineEventSchema = z.discriminatedUnion('type', [
  z.object({ t: z.number(), type: z.literal('stage'), stage: z.string() }).strict(),
  z
    .object({
      t: z.number(),
      type: z.literal('pod'),
      pod: z.string(),
      change: z.enum(['present', 'created', 'ready', 'not-ready', 'terminating', 'deleted']),
      node: z.string().optional(),
      ip: z.string().optional(),
      role: z.literal('gateway').optional().describe("a gateway cell's gateway pod; absent: the app's"),
    })
    .strict(),
  z.object({ t: z.number(), type: z.literal('target'), target: z.string(), state: z.string(), from: z.string().optional(), reason: z.string().optional(), since: z.number().optional().describe('when the poll before the one that saw the change was sent: the change happened in (since, t]') }).strict(),
  z.object({ t: z.number(), type: z.literal('disruption'), action: z.string(), detail: z.string().optional() }).strict(),
  z.object({ t: z.number(), type: z.literal('traffic'), action: z.enum(['start', 'stop']), detail: z.string().optional() }).strict(),
  z.object({ t: z.number(), type: z.literal('note'), detail: z.string() }).strict(),
]);

// A union, not discriminated by kind: a spot result is harness-played (handler) or sent by FIS (via), and strict objects tell them apart.
const disruptionResultSchema = z.union([
  z.object({ kind: z.literal('rollout') }).strict(),
  z.object({ kind: z.literal('drain'), node: z.string() }).strict(),
  // Results written before handlers existed played aws-node-termination-handler; one FIS sent names none (the cluster's own acted).
  z.object({ kind: z.literal('spot'), handler: z.enum(NODE_HANDLERS).default('nth'), node: z.string(), noticeSeconds: z.number() }).strict(),
  z.object({ kind: z.literal('spot'), node: z.string(), noticeSeconds: z.number(), via: z.literal('fis'), durationBeforeInterruption: z.number() }).strict(),
  z.object({ kind: z.literal('rebalance'), handler: z.enum(NODE_HANDLERS), node: z.string() }).strict(),
  z.object({ kind: z.literal('node-replace'), handler: z.enum(REPLACING_HANDLERS), node: z.string() }).strict(),
]);

const distributionSchema = z
  .object({ count: z.number().int().min(0), min: z.number(), p50: z.number(), p90: z.number(), max: z.number(), values: z.array(z.number()).describe('ascending, at most 500') })
  .strict()
  .describe('model seconds');

/** Latency of a set of requests, ms: exact nearest-rank percentiles of their raw durations. */
export const latencyStatsSchema = z
  .object({ count: z.number().int().min(1), p50: z.number().min(0), p95: z.number().min(0), p99: z.number().min(0), max: z.number().min(0) })
  .strict()
  .describe('ms; built-in driver: send to end; k6: http_req_duration');

/** The cause classes of a 5xx (harness/explain/README.md says each rule). */
export const CAUSE_CLASSES = [
  'routed-after-sigterm',
  'routed-to-gone-pod',
  'no-healthy-target',
  'registered-not-healthy',
  'delay-elapsed-in-flight',
  'grace-expired-in-flight',
  'instance-gone',
  'keepalive-race',
  'app-5xx',
  'gateway-upstream-gone',
  'gateway-no-upstream',
  'gateway-pod-gone',
  'gateway-retried',
  'before-alb',
  'unknown',
] as const;

/** Counted in a cell's causes but not a failure: the gateway retried and the client got its answer. */
export const NOT_FAILED_CAUSES: readonly string[] = ['gateway-retried'];

/** A cell's 5xx explained from the ALB access log and CloudWatch. */
export const explainSchema = z
  .object({
    logs: z.enum(['complete', 'partial', 'missing']).describe('complete: every LB node delivered past the window; partial: the wait bound came first; missing: no log entry could be read (why says)'),
    why: z.string().optional(),
    source: z
      .object({ bucket: z.string(), prefix: z.string(), objects: z.number().int().min(0), entries: z.number().int().min(0).describe('entries of this cell (by User-Agent)'), userAgent: z.string() })
      .strict()
      .optional(),
    causes: z.record(z.enum(CAUSE_CLASSES), z.number().int().min(0)).describe('5xx by cause class; gateway-retried counts requests the gateway retried to a success (not failed, not in the 5xx)'),
    attributed: z
      .array(
        z
          .object({
            t: z.number(),
            status: z.number().int(),
            path: z.string().nullable(),
            target: z.string().nullable(),
            lbNode: z.string().nullable(),
            pod: z.string().optional(),
            traceId: z.string().nullable(),
            gateway: z
              .object({ pod: z.string(), line: z.number().int().min(1), status: z.number().int(), tries: z.string().describe('each upstream try: address and status, e.g. "10.0.0.1:8080 502, 10.0.0.4:8080 502"') })
              .strict()
              .optional()
              .describe("the gateway's access-log line this 5xx was joined to"),
            cause: z.enum(CAUSE_CLASSES),
            why: z.string(),
          })
          .strict(),
      )
      .describe('each 5xx with its cause and the rule that matched, at most 500'),
    crossCheck: z
      .object({
        client: z.number().int().min(0).describe('5xx the client counted'),
        accessLog: z.number().int().min(0).describe('5xx entries of the cell in the access log'),
        cloudWatch: z
          .object({
            elb5xx: z.number().min(0),
            target5xx: z.number().min(0),
            from: z.string(),
            to: z.string(),
            accessLog: z
              .object({ elb5xx: z.number().int().min(0), target5xx: z.number().int().min(0), ofCell: z.number().int().min(0).describe('how many of them were this cell\'s') })
              .strict()
              .optional()
              .describe('the access log\'s 5xx entries of the whole load balancer in the same minutes, split as the two metrics are: what CloudWatch is compared with'),
          })
          .strict()
          .optional()
          .describe('HTTPCode_ELB_5XX_Count and HTTPCode_Target_5XX_Count sums over whole minutes of the window, whole load balancer'),
        cloudWatchError: z.string().optional(),
        mismatches: z.array(z.string()),
      })
      .strict(),
    lags: z.object({ deregistration: distributionSchema, registration: distributionSchema, longestRequest: distributionSchema }).strict().optional().describe('per target × LB node'),
    gateway: z
      .object({
        format: z.enum(['nginx', 'envoy']),
        pods: z
          .array(
            z
              .object({
                pod: z.string(),
                status: z.enum(['read', 'gone', 'failed']),
                lines: z.number().int().min(0).describe("the cell's access lines (its User-Agent)"),
                previous: z.boolean().optional().describe("the log of the container's instance before a restart was read too"),
                why: z.string().optional(),
              })
              .strict(),
          )
          .describe('each gateway pod of the cell: its log read, or why not (a pod gone takes its log with it)'),
        lines: z.number().int().min(0).describe("the cell's access lines read from every gateway pod"),
        joined: z.number().int().min(0).describe('5xx log entries at a gateway pod joined to a gateway line'),
        unjoined: z.number().int().min(0).describe('5xx the gateway answered with no gateway line found'),
        retried: z.number().int().min(0).describe('requests the gateway retried after a failed upstream and answered without a 5xx'),
      })
      .strict()
      .optional()
      .describe("gateway cells: the gateway's access log, read through the pod-logs API and joined to the ALB's entries"),
    agreement: z
      .object({
        compared: z.number().int().min(0),
        agreed: z.number().int().min(0),
        share: z.number().min(0).max(1),
        unmatched: z.number().int().min(0).describe('5xx entries without a ground-truth record'),
        disagreements: z.array(z.object({ t: z.number(), traceId: z.string().nullable(), inferred: z.string(), truth: z.string(), accepted: z.array(z.string()) }).strict()).describe('at most 50'),
      })
      .strict()
      .optional()
      .describe('twin only: the inferred causes against the twin\'s ground truth'),
  })
  .strict();

/** One cell's measurement (`cells/<id>.json`). */
export const cellResultSchema = z
  .object({
    schemaVersion: z.literal(RESULTS_SCHEMA_VERSION),
    id: z.string().describe('rollout|drain|spot|rebalance|node-replace[-handler][-node] . gate-on|gate-off . prestop-N . grace-N . dereg-N . rN'),
    index: z.number().int().min(0),
    disruption: disruptionResultSchema,
    repeat: z.number().int().min(1),
    config: cellConfigSchema,
    behindGateway: z
      .object({ namespace: z.string(), deployment: z.string() })
      .strict()
      .optional()
      .describe("the gateway whose pods were the ALB's targets while this cell disrupted the app behind it (target.topology); absent: the disrupted Deployment's pods were the targets"),
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
    fiveXXByReason: counts.optional().describe('twin only: 5xx by the twin\'s exact reason, e.g. {"502 connect-refused": 7}, from its ground-truth access.log'),
    explain: explainSchema.optional().describe('the 5xx explained from the ALB access log, the timeline and CloudWatch'),
    modelOrigin: z.number().optional().describe('model time of t = 0, epoch ms (on the twin its clock runs ahead of real time): puts access-log times on the timeline'),
    driver: z
      .union([
        z.string(),
        z
          .object({
            name: z.literal('k6-operator'),
            version: z.string().describe("the runners' k6 release"),
            testRun: z.string().describe('the TestRun (deleted when the traffic ended)'),
            runners: z
              .array(
                z
                  .object({
                    name: z.string().describe("the runner's pod"),
                    segment: z.string().describe('its execution segment, e.g. 1/3:2/3'),
                    planned: z.number().int().min(0).describe("its share of the plan (k6's ScaleInt64)"),
                    sent: z.number().int().min(0),
                    answered: z.number().int().min(0),
                    networkErrors: z.number().int().min(0),
                    cut: z.number().int().min(0),
                    failed: z.string().optional().describe('why it gave no complete result: the cell is INVALID'),
                  })
                  .strict(),
              )
              .describe("each runner's part; the cell's requests are their exact merge"),
          })
          .strict(),
      ])
      .describe('the traffic driver: its name, or for k6-operator the runners and their parts'),
    disruptionOutcome: z
      .object({
        completed: z.boolean(),
        detail: z.string().optional(),
        reason: z.string().optional(),
        actedOn: z
          .object({
            pods: z.number().int().min(0).describe('pods of the Deployment the disruption evicted, deleted or replaced'),
            needed: z.number().int().min(0).describe('how many it had to: 1 for a drain or spot interruption, every old pod for a rollout'),
            summary: z.string().describe('e.g. "the drain of node-b2 evicted 1 pod(s) of web", "the rollout replaced 0 of 3 old pod(s) of web: …"'),
          })
          .strict()
          .optional()
          .describe('the evidence that the disruption acted on the Deployment: a completed disruption with pods < max(1, needed) makes the cell INVALID'),
        onNode: z
          .object({
            node: z.string(),
            podsOnNode: z.number().int().min(0).describe('pods of the Deployment on the node when the disruption acted'),
            replicas: z.number().int().min(0).describe("the Deployment's replicas then"),
          })
          .strict()
          .optional()
          .describe('node disruptions (spot, rebalance, node-replace): where the Deployment\'s pods were; podsOnNode = replicas is "packed" (all on one node), fewer "spread"'),
      })
      .strict(),
    settled: z.boolean(),
    baseline: z
      .object({ sent: z.number().int().min(0), not2xx: z.number().int().min(0) })
      .strict()
      .optional()
      .describe('the second half of the warm-up, right before the disruption: requests sent and how many did not get a 2xx (a valid cell needs ≥ 99 % 2xx)'),
    warmupsAbandoned: z
      .array(
        z
          .object({
            sent: z.number().int().min(0),
            fiveXX: z.number().int().min(0),
            networkErrors: z.number().int().min(0),
            t: z.number().describe("model seconds since the cell started, when that warm-up's traffic was stopped"),
          })
          .strict(),
      )
      .optional()
      .describe("warm-ups whose second half already failed (> 1 % 5xx or without a status) before anything was disrupted: their traffic was stopped, is counted nowhere else, and the cell warmed up again with fresh traffic (at most traffic.warmupAttempts in all)"),
    marks: z
      .object({ trafficStart: z.number().optional(), disruptionStart: z.number().optional(), settled: z.number().optional(), trafficStop: z.number().optional() })
      .strict()
      .describe('model seconds since the cell started'),
    series: z.array(z.object({ t: z.number(), byStatus: counts, networkErrors: z.number().int().min(0) }).strict()).describe('per second of traffic'),
    latency: z
      .object({ window: latencyStatsSchema.optional(), baseline: latencyStatsSchema.optional() })
      .strict()
      .optional()
      .describe('latency of the requests sent in the disruption window (its start to settled, else to the traffic stop) and in the warm-up baseline; a side without requests is left out'),
    schedule: z
      .object({
        seconds: z.number().int().min(0).describe('seconds of the disruption window with requests due'),
        behindSeconds: z.number().int().min(0).describe('of those, seconds with under 90 % of their due requests sent within 1 s of their due time'),
        behind: z.array(z.object({ t: z.number(), due: z.number().int().min(0), onTime: z.number().int().min(0) }).strict()).describe('those seconds (t: model seconds since the cell started), at most 100'),
        maxLateSeconds: z.number().min(0).describe('the latest a due request of the window was sent after its due time (real seconds)'),
      })
      .strict()
      .optional()
      .describe('whether the traffic was sent on schedule through the disruption window (open model, constant arrival rate); a cell with a behind second is INVALID'),
    twinStall: z
      .object({ seconds: z.number().min(0).describe('model seconds the embedded twin ran late'), t: z.number().describe('when it began, model seconds since the cell started') })
      .strict()
      .optional()
      .describe("the embedded twin's longest event-loop stall in the disruption window, when one of a model second or more was reported; 5 s or more makes the cell INVALID"),
    rates: z
      .object({
        bucketSeconds: z.number().positive().describe('real seconds per bucket'),
        points: z
          .array(
            z
              .object({
                t: z.number().describe('bucket start, model seconds since the cell started'),
                ok: z.number().int().min(0),
                fiveXX: z.number().int().min(0),
                net: z.number().int().min(0),
                other: z.number().int().min(0),
                p50: z.number().min(0).optional(),
                p99: z.number().min(0).optional(),
                max: z.number().min(0).optional(),
              })
              .strict(),
          )
          .describe('requests by send time and outcome (2xx, 5xx, network error, other), with their latency in ms'),
      })
      .strict()
      .optional()
      .describe('traffic over time in buckets sized to the run (about 10 requests or more each, at most 120)'),
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
    shard: z
      .object({ runId: z.string(), index: z.number().int().min(1), count: z.number().int().min(1) })
      .strict()
      .optional()
      .describe('one shard of a sharded run (run --shard I/N): the id the shards share, and which part this is; its cells are the partition\'s part I, run on lane I of target.lanes'),
    target: z
      .object({
        kind: z.enum(['twin', 'cluster']),
        context: z.string().optional(),
        namespace: z.string(),
        deployment: z.string(),
        targetGroupArn: z.string(),
        url: z.string().optional().describe('where the traffic went'),
        region: z.string().optional().describe('the AWS region the clients used'),
        regionSource: z.string().optional().describe('where the region came from: target.region, AWS_REGION, AWS_DEFAULT_REGION, "profile NAME in FILE", "default: …" (us-east-1), or "the local twin"'),
        timeScale: z.number().optional(),
        seed: z.number().optional(),
        gateway: z
          .object({ namespace: z.string(), deployment: z.string(), disrupt: z.enum(['app', 'gateway']), targetGroupArn: z.string(), url: z.string() })
          .strict()
          .optional()
          .describe('the gateway path, when cells took it (target.topology): its Deployment, the one its cells disrupted, its target group and where its traffic went'),
      })
      .strict(),
    driver: z.object({ name: z.string(), reason: z.string(), version: z.string().optional().describe("k6: the release that ran, e.g. v0.48.0; k6-operator: the runner image's release") }).strict(),
    versions: z.object({ rolloutHarness: z.string(), node: z.string(), platform: z.string() }).strict(),
    startedAt: z.string(),
    endedAt: z.string().optional(),
    cells: z
      .array(z.object({ id: z.string(), status: z.enum(['pending', 'running', 'done', 'failed']), stage: z.string().optional() }).strict())
      .describe('each cell\'s status: failed = the environment failed mid-cell (its result is INVALID); pending, running and failed cells run again on --resume'),
    original: z.unknown().optional().describe('settings as found before the run; restored at its end'),
    restored: z.array(z.string()).optional(),
    restoreDifferences: z.array(z.string()).optional().describe('what still differed from the originals after restore read everything back'),
    restoreKept: z.array(z.string()).optional().describe('settings changed since the run set them (by someone else): left as they were, not restored'),
    stoppedBy: z.string().optional(),
    recommendation: recommendationSchema.optional().describe('the recommended settings from the measured lags, with their evidence and the cells that confirm or contradict them'),
  })
  .strict();

/** A cell's explanation. */
export type Explain = z.infer<typeof explainSchema>;
/** One cell's measurement. */
export type CellResult = z.infer<typeof cellResultSchema>;
/** The run record. */
export type RunRecord = Omit<z.infer<typeof runRecordSchema>, 'spec' | 'original'> & { spec: z.output<typeof specSchema>; original?: OriginalSettings };

/** JSON Schemas of the result files, for `schemas/`. */
export function resultJsonSchemas(): Record<string, unknown> {
  return {
    'cell.schema.json': z.toJSONSchema(cellResultSchema, { unrepresentable: 'any' }),
    'run.schema.json': z.toJSONSchema(runRecordSchema, { unrepresentable: 'any', io: 'input' }),
  };
}
