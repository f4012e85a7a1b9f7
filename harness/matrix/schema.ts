/**
 * The matrix spec: what to run, against what, with which traffic, and what to expect. Validated in
 * stages (schema → defaults → cross-field rules), every problem reported at once with its dot-path.
 * Durations are model seconds (on the twin they run on its scaled clock); traffic rates are real.
 */
import { z } from 'zod';
import { OPTIONAL_AXES, OPTIONAL_AXIS_NAMES } from './axes.ts';

/** Upper bound of a modelled duration (model seconds): an hour is far beyond any sane setting. */
export const MAX_SECONDS = 3600;
/** Upper bound of a wait (steady, settle), model seconds: a day. */
export const MAX_WAIT_SECONDS = 86_400;

/**
 * The twin's default world's gateway (harness/twin/gateway/index.ts names the same; a unit test
 * holds them equal): ingress-nginx's chart names, and the `alb` Ingress in front of it.
 */
export const DEFAULT_GATEWAY = { namespace: 'ingress-nginx', deployment: 'ingress-nginx-controller', ingress: 'gateway' } as const;

/** Seconds in 0..max, with a message that says the bound (`whole`: an integer, as Kubernetes and ELBv2 take them). */
const seconds = (max = MAX_SECONDS, whole = false) => (whole ? z.number().int() : z.number()).min(0, 'expected seconds ≥ 0').max(max, `expected at most ${max} seconds`);
const axis = <T extends z.ZodType>(item: T) => z.array(item).min(1, 'expected at least one value').max(50, 'expected at most 50 values');

/** The settings a cell sets: one value per matrix axis. */
export const cellConfigSchema = z
  .object({
    preStopSeconds: seconds(MAX_SECONDS, true),
    terminationGracePeriodSeconds: seconds(MAX_SECONDS, true),
    readinessGate: z.boolean(),
    // The ELBv2 range of deregistration_delay.timeout_seconds.
    deregistrationDelaySeconds: seconds(3600, true),
    // Optional axes (harness/matrix/axes.ts): absent = not varied, the cluster's value left alone.
    preStopAction: OPTIONAL_AXES.preStopAction.schema.optional(),
    maxSurge: OPTIONAL_AXES.maxSurge.schema.optional(),
    maxUnavailable: OPTIONAL_AXES.maxUnavailable.schema.optional(),
    minReadySeconds: OPTIONAL_AXES.minReadySeconds.schema.optional(),
    replicas: OPTIONAL_AXES.replicas.schema.optional(),
    healthCheckIntervalSeconds: OPTIONAL_AXES.healthCheckIntervalSeconds.schema.optional(),
    healthCheckTimeoutSeconds: OPTIONAL_AXES.healthCheckTimeoutSeconds.schema.optional(),
    healthyThresholdCount: OPTIONAL_AXES.healthyThresholdCount.schema.optional(),
    unhealthyThresholdCount: OPTIONAL_AXES.unhealthyThresholdCount.schema.optional(),
    healthCheckPath: OPTIONAL_AXES.healthCheckPath.schema.optional(),
    slowStartSeconds: OPTIONAL_AXES.slowStartSeconds.schema.optional(),
    loadBalancingAlgorithm: OPTIONAL_AXES.loadBalancingAlgorithm.schema.optional(),
    /** The path of the cell's traffic (absent: direct, or the gateway when `target.topology` names one). */
    topology: OPTIONAL_AXES.topology.schema.optional(),
    /** The value chosen on each generic axis (the spec's `axes:`), by name. */
    axes: z.record(z.string(), z.string()).optional(),
  })
  .strict();

/** A generic axis's value name (it names cells). */
const valueName = z.string().regex(/^[a-z0-9][a-z0-9-]{0,39}$/, 'expected 1–40 lowercase letters, digits or "-" (it names cells)');

/**
 * A generic axis: each value a patch of one object — a Deployment strategic-merge patch, the
 * namespace's labels and annotations, Ingress annotations (a null removes one), target-group
 * attributes (set through the API), or a patch of the spec of the PodDisruptionBudget that selects
 * the Deployment's pods.
 */
const genericAxisSchema = z
  .object({
    object: z.enum(['deployment', 'namespace', 'ingress', 'targetGroup', 'pdb'], { error: (issue) => `expected "deployment", "namespace", "ingress", "targetGroup" or "pdb", got ${JSON.stringify(issue.input)}` }),
    values: z.record(valueName, z.record(z.string(), z.unknown())),
  })
  .strict()
  .superRefine((axis, ctx) => {
    const entries = Object.entries(axis.values);
    if (!entries.length) ctx.addIssue({ code: 'custom', path: ['values'], message: 'expected at least one value' });
    for (const [name, value] of entries) {
      for (const [k, v] of Object.entries(value)) {
        if (axis.object === 'namespace' || axis.object === 'pdb') continue;
        const ok = axis.object === 'deployment' ? true : axis.object === 'ingress' ? typeof v === 'string' || v === null : typeof v === 'string';
        if (!ok) ctx.addIssue({ code: 'custom', path: ['values', name, k], message: `expected ${axis.object === 'ingress' ? 'an annotation value (a string, or null to remove it)' : 'an attribute value (a string)'}, got ${JSON.stringify(v)}` });
      }
      // The namespace: its labels and annotations, the part of it a run may change.
      const meta = value.metadata as Record<string, unknown> | undefined;
      const strings = (m: unknown) => typeof m === 'object' && m !== null && Object.values(m).every((x) => typeof x === 'string' || x === null);
      if (axis.object === 'namespace' && (Object.keys(value).some((k) => k !== 'metadata') || !meta || Object.keys(meta).some((k) => k !== 'labels' && k !== 'annotations') || !Object.values(meta).every(strings))) {
        ctx.addIssue({ code: 'custom', path: ['values', name], message: `expected { metadata: { labels: {…}, annotations: {…} } } with string values (null removes one), got ${JSON.stringify(value)}` });
      }
      // The PDB is found by its selector, so an axis may not change the selector.
      if (axis.object === 'pdb' && (Object.keys(value).some((k) => k !== 'spec') || typeof value.spec !== 'object' || value.spec === null || 'selector' in value.spec)) {
        ctx.addIssue({ code: 'custom', path: ['values', name], message: `expected a strategic-merge patch of the PodDisruptionBudget's spec without its selector (e.g. { spec: { maxUnavailable: 1 } }), got ${JSON.stringify(value)}` });
      }
      if (axis.object === 'deployment' && Object.keys(value).some((k) => k !== 'spec' && k !== 'metadata')) {
        ctx.addIssue({ code: 'custom', path: ['values', name], message: `expected a strategic-merge patch of the Deployment (spec, metadata), got keys ${Object.keys(value).join(', ')}` });
      }
    }
  });

/** The matrix's optional axes: each a list of values, absent when not varied. */
const optionalAxes = Object.fromEntries(OPTIONAL_AXIS_NAMES.map((name) => [name, axis(OPTIONAL_AXES[name].schema).optional()])) as {
  [K in keyof typeof OPTIONAL_AXES]: z.ZodOptional<z.ZodArray<(typeof OPTIONAL_AXES)[K]['schema']>>;
};

const partialCell = cellConfigSchema.partial().strict();

/**
 * The gateway in front of the app: its Deployment (whose pods are the ALB's targets) and its `alb`
 * Ingress or TargetGroupBinding; `disrupt` names the Deployment the disruptions and pod settings hit.
 * Defaults: the twin's default world (ingress-nginx/ingress-nginx-controller, Ingress `gateway`).
 */
const gatewaySchema = z
  .object({
    namespace: z.string().min(1).default(DEFAULT_GATEWAY.namespace),
    deployment: z.string().min(1).default(DEFAULT_GATEWAY.deployment),
    /** The `alb` Ingress in front of the gateway (default on the twin: `gateway`). */
    ingress: z.string().min(1).optional(),
    targetGroupBinding: z.string().min(1).optional(),
    /** Base URL of the gateway's ALB (default: its listener, as for the direct path). */
    url: z.url().optional(),
    disrupt: z.enum(['app', 'gateway'], { error: (issue) => `expected "app" (the app's Deployment) or "gateway" (the gateway's), got ${JSON.stringify(issue.input)}` }).default('app'),
  })
  .strict();

const topologySchema = z.union([z.literal('direct'), z.literal('gateway'), z.object({ gateway: gatewaySchema }).strict()], {
  error: (issue) => `expected "direct", "gateway" or { gateway: { namespace, deployment, ingress, targetGroupBinding, url, disrupt } }, got ${JSON.stringify(issue.input)}`,
});

const twinTarget = z
  .object({
    /** Twin config file (YAML); default: fixtures/twin/default.yaml. */
    config: z.string().optional(),
    timeScale: z.number().min(0.01, 'expected a time scale ≥ 0.01 (100× faster)').max(10).optional(),
    seed: z.number().int().min(0).optional(),
    /** Environment of the test app's container (e.g. ON_SIGTERM, SLOW_MS). */
    app: z.object({ env: z.record(z.string(), z.string()).default({}) }).strict().optional(),
  })
  .strict();

/** One lane: what differs from the target on this stack (the rest is the target's). */
const laneSchema = z
  .object({ namespace: z.string().min(1).optional(), deployment: z.string().min(1).optional(), ingress: z.string().min(1).optional(), context: z.string().min(1).optional(), url: z.url().optional() })
  .strict();

const targetSchema = z
  .object({
    twin: twinTarget.optional(),
    kubeconfig: z.string().optional(),
    context: z.string().optional(),
    /** Contexts a run may touch (safety): the context in use must be one of them. */
    allowedContexts: z.array(z.string()).optional(),
    namespace: z.string().min(1).default('shop'),
    deployment: z.string().min(1).default('web'),
    ingress: z.string().min(1).optional(),
    targetGroupBinding: z.string().min(1).optional(),
    /** Default: AWS_REGION, AWS_DEFAULT_REGION, the profile's region, us-east-1 (harness/platform/aws-region.ts). */
    region: z.string().min(1).optional(),
    endpoints: z.object({ elbv2: z.url().optional(), ec2: z.url().optional(), s3: z.url().optional(), cloudwatch: z.url().optional(), fis: z.url().optional(), sts: z.url().optional() }).strict().default({}),
    /** The role AWS FIS assumes for `spot: { via: fis }` (trusts fis.amazonaws.com, may ec2:SendSpotInstanceInterruptions); the twin takes any. */
    fisRoleArn: z.string().regex(/^arn:[a-z-]+:iam::\d{12}:role\/.+$/, 'expected an IAM role ARN (arn:aws:iam::<account>:role/<name>)').optional(),
    /** Base URL of the ALB for traffic (default: the twin's listener, or the Ingress hostname). */
    url: z.url().optional(),
    /** `direct` (absent: the Deployment's pods are the ALB's targets) or through a gateway (harness/matrix/topology.ts). */
    topology: topologySchema.optional(),
    /**
     * Identical stacks a sharded run spreads its cells over (`run --shard I/N` runs on lane I): each
     * overrides some of the target's namespace, deployment, ingress, context and url (harness/matrix/shards.ts).
     */
    lanes: z.array(laneSchema).min(1, 'expected at least one lane').max(64, 'expected at most 64 lanes').optional(),
  })
  .strict();

const mixEntry = z.object({ path: z.string().startsWith('/').max(2048), weight: z.number().positive().max(1_000_000) }).strict();

/** `traffic.k6Operator`. */
const k6OperatorSchema = z
  .object({
    /** Runners (TestRun parallelism): the plan is split between them by k6's execution segments. */
    parallelism: z.number().int().min(1).max(100).default(2),
    /** One runner per node (a required pod anti-affinity on the hostname). */
    separate: z.boolean().default(false),
    /** Where the TestRun and its ConfigMap go; default the target's namespace. */
    namespace: z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'expected a namespace name').max(63).optional(),
    /** Pinned: the operator's own default, grafana/k6:latest, brings a new major release unasked. */
    runnerImage: z.string().min(1).default('grafana/k6:1.1.0'),
    /** The runners' k6 release, when the image's tag does not say it (a digest, a custom tag). */
    k6Version: z.string().regex(/^v?\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/, 'expected a k6 release such as v1.1.0').optional(),
    resources: z.object({ requests: z.record(z.string(), z.string()).optional(), limits: z.record(z.string(), z.string()).optional() }).strict().optional(),
    nodeSelector: z.record(z.string(), z.string()).optional(),
    /** Real seconds the TestRun may take to start its runners (initializer, image pulls, scheduling). */
    startSeconds: z.number().positive().max(3600).default(300),
  })
  .strict();

/** `traffic.k6Operator` with every default filled in (also when the spec has none). */
export function k6OperatorOf(traffic: { k6Operator?: z.input<typeof k6OperatorSchema> }): z.output<typeof k6OperatorSchema> {
  return k6OperatorSchema.parse(traffic.k6Operator ?? {});
}

const trafficSchema = z
  .object({
    driver: z.enum(['auto', 'k6', 'builtin', 'k6-operator']).default('auto'),
    /** `driver: k6-operator`: the TestRun of each cell's traffic (harness/traffic/k6-operator/testrun.ts); `k6OperatorOf` fills in the defaults. */
    k6Operator: k6OperatorSchema.optional(),
    rate: z.number().positive().max(20_000).default(100),
    // Real seconds; beyond an hour a request is lost, not slow (and Node's timers cap at ~24.8 days).
    timeoutSeconds: z.number().positive().max(MAX_SECONDS, `expected at most ${MAX_SECONDS} seconds per request`).default(30),
    mix: z.array(mixEntry).min(1).max(100).default([{ path: '/', weight: 1 }]),
    warmupSeconds: seconds().default(10),
    /**
     * Warm-ups a cell may take before it gives up on a healthy baseline: a warm-up whose second half
     * already fails (the data plane still converging after configure's rollout, the ALB nodes'
     * deregistration lag) is abandoned before anything is disrupted, its traffic stopped and
     * recorded, and fresh traffic warms up again. 1 disables it.
     */
    warmupAttempts: z.number().int().min(1).max(5).default(3),
    cooldownSeconds: seconds().default(10),
    script: z.string().optional(),
    /**
     * Accept any certificate from an HTTPS listener (a self-signed staging certificate), as k6's
     * option of the same name does. Default false: the certificate is verified against the rule's
     * host (the TLS server name) with the system roots, plus the twin's CA on the twin.
     */
    insecureSkipTLSVerify: z.boolean().default(false),
  })
  .strict();

const nodeChoice = z.union([z.enum(['most-pods', 'spot']), z.string().regex(/^node:.+/, 'expected "most-pods", "spot" or "node:<name>"')]);

/** The node handlers whose sequences the harness can play (harness/disruptions/handlers/). */
export const NODE_HANDLERS = ['nth', 'karpenter', 'managed-nodegroup'] as const;
/** A node handler: aws-node-termination-handler, Karpenter, or an EKS managed node group. */
export type NodeHandler = (typeof NODE_HANDLERS)[number];
/** The handlers that replace a node on purpose (drift, consolidation, a node group update). */
export const REPLACING_HANDLERS = ['karpenter', 'managed-nodegroup'] as const;

const handlerOf = <const T extends readonly [string, ...string[]]>(values: T) => z.enum(values, { error: (issue) => `expected ${values.map((v) => JSON.stringify(v)).join(', ')}, got ${JSON.stringify(issue.input)}` });

/** The disruption kinds, as `expect.where.disruption` names them. */
export const DISRUPTION_KINDS = ['rollout', 'drain', 'spot', 'rebalance', 'node-replace'] as const;

/** What a disruption entry may be, for the message when it is none of them. */
const DISRUPTION_FORMS =
  'expected "rollout", "drain", "spot", "rebalance", { rollout: {} }, { drain: { node } }, { spot: { handler, node, noticeSeconds } }, { spot: { via: fis, node, durationBeforeInterruption } }, { rebalance: { handler, node } } or { node-replace: { handler, node } } (handler: "nth", "karpenter" or "managed-nodegroup"; node-replace: "karpenter" or "managed-nodegroup")';

/**
 * A spot interruption: played by the harness as `handler` does, or (`via: fis`) sent by AWS FIS with
 * its durationBeforeInterruption (seconds), to which the cluster's own handler reacts — so an FIS
 * interruption names no handler: the harness plays none.
 */
type SpotDisruption =
  | { kind: 'spot'; handler: NodeHandler; node: string; noticeSeconds: number; via?: undefined; durationBeforeInterruption?: undefined }
  | { kind: 'spot'; handler?: undefined; node: string; noticeSeconds: number; via: 'fis'; durationBeforeInterruption: number };

const disruptionSchema = z.union([
  z.literal('rollout').transform(() => ({ kind: 'rollout' as const })),
  z.literal('drain').transform(() => ({ kind: 'drain' as const, node: 'most-pods' })),
  z.literal('spot').transform((): SpotDisruption => ({ kind: 'spot', handler: 'nth', node: 'spot', noticeSeconds: 120 })),
  z.literal('rebalance').transform(() => ({ kind: 'rebalance' as const, handler: 'nth' as NodeHandler, node: 'spot' })),
  z.object({ rollout: z.object({}).strict() }).strict().transform(() => ({ kind: 'rollout' as const })),
  z.object({ drain: z.object({ node: nodeChoice.default('most-pods') }).strict() }).strict().transform((d) => ({ kind: 'drain' as const, node: d.drain.node })),
  z
    // AWS FIS sends interruption notices from PT2M to PT15M; a real notice is 2 minutes.
    .object({
      spot: z
        .object({
          /** The handler the harness plays (harness/disruptions/handlers/); not with `via: fis`, where the cluster's own acts. */
          handler: handlerOf(NODE_HANDLERS).optional(),
          node: nodeChoice.default('spot'),
          noticeSeconds: seconds(900).default(120),
          /** Who interrupts: the harness plays it, or AWS FIS sends a real aws:ec2:send-spot-instance-interruptions. */
          via: z.enum(['harness', 'fis']).default('harness'),
          /** FIS's durationBeforeInterruption (PT2M..PT15M), whole seconds; over 120 a rebalance recommendation comes first. */
          durationBeforeInterruption: z.number().int('expected whole seconds').min(120, 'expected at least 120 seconds (FIS: PT2M)').max(900, 'expected at most 900 seconds (FIS: PT15M)').optional(),
        })
        .strict()
        .superRefine((d, ctx) => {
          if (d.via === 'fis' && d.handler !== undefined) {
            ctx.addIssue({ code: 'custom', path: ['handler'], message: `expected no handler with via: fis (the cluster's own handler reacts to FIS's interruption; handler names the one the harness plays), got ${JSON.stringify(d.handler)}` });
          }
          if (d.via !== 'fis' && d.durationBeforeInterruption !== undefined) {
            ctx.addIssue({ code: 'custom', path: ['durationBeforeInterruption'], message: 'expected durationBeforeInterruption only with via: fis (the harness-played notice is noticeSeconds)' });
          }
        }),
    })
    .strict()
    // `via` and its duration only when FIS sends it: a harness-played spot reads (and names its cells) as before.
    .transform(({ spot: d }): SpotDisruption =>
      d.via === 'fis'
        ? { kind: 'spot', node: d.node, noticeSeconds: d.noticeSeconds, via: 'fis', durationBeforeInterruption: d.durationBeforeInterruption ?? 120 }
        : { kind: 'spot', handler: (d.handler ?? 'nth') as NodeHandler, node: d.node, noticeSeconds: d.noticeSeconds },
    ),
  z
    .object({ rebalance: z.object({ handler: handlerOf(NODE_HANDLERS).default('nth'), node: nodeChoice.default('spot') }).strict() })
    .strict()
    .transform((d) => ({ kind: 'rebalance' as const, handler: d.rebalance.handler as NodeHandler, node: d.rebalance.node })),
  z
    .object({ 'node-replace': z.object({ handler: handlerOf(REPLACING_HANDLERS), node: nodeChoice.default('most-pods') }).strict() })
    .strict()
    .transform((d) => ({ kind: 'node-replace' as const, handler: d['node-replace'].handler as (typeof REPLACING_HANDLERS)[number], node: d['node-replace'].node })),
], { error: (issue) => `${DISRUPTION_FORMS}, got ${JSON.stringify(issue.input)}` });

const expectationSchema = z
  .object({
    where: partialCell.extend({ disruption: z.enum(DISRUPTION_KINDS).optional() }).strict().default({}),
    /** At most this many 5xx responses. */
    max5xx: z.number().int().min(0).optional(),
    /** At most this many failed requests: 5xx plus requests that got no HTTP status (timeouts, resets). */
    maxFailed: z.number().int().min(0).optional(),
  })
  .strict()
  .refine((r) => r.max5xx !== undefined || r.maxFailed !== undefined, 'expected max5xx, maxFailed or both');

/** The whole spec. */
export const specSchema = z
  .object({
    name: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'expected 1–64 letters, digits, ".", "_" or "-" (it names the run directory)')
      .default('matrix'),
    target: targetSchema.prefault({}),
    configure: z
      .object({
        /** preStop as `exec: [sleep, N]` (default) or the native `sleep` action (k8s ≥ 1.30). */
        preStop: z.enum(['exec', 'native']).default('exec'),
        /** Set the deregistration delay through the Ingress annotation or ModifyTargetGroupAttributes. */
        deregistrationDelayVia: z.enum(['ingress', 'api']).default('ingress'),
        /** Bound on waiting for the configured rollout and steady state, model seconds. */
        steadyTimeoutSeconds: z.number().positive().max(MAX_WAIT_SECONDS, `expected at most ${MAX_WAIT_SECONDS} seconds`).default(900),
      })
      .strict()
      .prefault({}),
    traffic: trafficSchema.prefault({}),
    matrix: z
      .object({
        preStopSeconds: axis(cellConfigSchema.shape.preStopSeconds),
        terminationGracePeriodSeconds: axis(cellConfigSchema.shape.terminationGracePeriodSeconds),
        readinessGate: axis(z.boolean()),
        deregistrationDelaySeconds: axis(cellConfigSchema.shape.deregistrationDelaySeconds),
        ...optionalAxes,
        include: z.array(partialCell).default([]),
        exclude: z.array(partialCell).default([]),
      })
      .strict(),
    /** Generic axes: name → the object and each value's patch; every combination is a config. */
    axes: z
      .record(z.string().regex(/^[a-z][a-zA-Z0-9]{0,39}$/, 'expected an axis name of 1–40 letters and digits, starting with a lowercase letter'), genericAxisSchema)
      .refine((axes) => Object.keys(axes).every((k) => !(k in cellConfigSchema.shape)), 'an axis name must differ from the built-in axes')
      .default({}),
    disruptions: z.array(disruptionSchema).min(1, 'expected at least one disruption').max(20),
    /** Bound on observing one disruption until settled, model seconds. */
    settleTimeoutSeconds: z.number().positive().max(MAX_WAIT_SECONDS, `expected at most ${MAX_WAIT_SECONDS} seconds`).default(900),
    repeat: z.number().int().min(1).max(100).default(1),
    /** Explaining each 5xx from the ALB's access logs and CloudWatch (harness/explain/). */
    explain: z
      .object({
        enabled: z.boolean().default(true),
        /** Where the access logs are; default: the load balancer's access_logs.s3.bucket/prefix attributes. */
        accessLogs: z.object({ bucket: z.string().min(3).max(63), prefix: z.string().max(1024).default('') }).strict().optional(),
        /**
         * Turn the load balancer's access logs on to this bucket/prefix for the run, through the
         * Ingress's load-balancer-attributes annotation; restored afterwards like every setting.
         */
        enableAccessLogs: z
          .object({ bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'expected an S3 bucket name (3-63 lowercase letters, digits, dots, hyphens)'), prefix: z.string().max(1024).refine((p) => !p.includes('AWSLogs'), "the prefix must not contain 'AWSLogs'").default('') })
          .strict()
          .optional(),
        /**
         * The ground truth of a standalone twin (`<state-dir>/access.log` of `twin up`) reached by
         * `target.context`: each cell's attribution is scored against it as on the embedded twin.
         */
        groundTruth: z.string().min(1).optional(),
        /** Read each cell's logs right after it, or all cells' after the run (default: one wait for all). */
        when: z.enum(['cell', 'run']).default('run'),
        /** Bound on waiting for a cell's log objects after its traffic stopped, model seconds (ALBs deliver every 5 min). */
        waitSeconds: z.number().positive().max(MAX_WAIT_SECONDS, `expected at most ${MAX_WAIT_SECONDS} seconds`).default(600),
        /**
         * How often the load balancer delivers its log files, seconds: ALB's 5 minutes. Only a
         * standalone twin reached by `target.context` with a shorter `accessLogs.intervalSeconds`
         * needs another value (the embedded twin says its own).
         */
        logIntervalSeconds: z.number().positive().max(3600).default(300),
        /** How often to list the log objects while waiting, model seconds. */
        pollSeconds: z.number().positive().max(600).default(30),
      })
      .strict()
      .prefault({}),
    expect: z.array(expectationSchema).max(200).default([]),
  })
  .strict();

/** A spec as written (before defaults). */
export type SpecInput = z.input<typeof specSchema>;
/** A spec after validation and defaults. */
export type Spec = z.output<typeof specSchema>;
/** One cell's settings. */
export type CellConfig = z.output<typeof cellConfigSchema>;
/** One disruption with its options. */
export type Disruption = z.output<typeof disruptionSchema>;
/** One expectation rule. */
export type Expectation = z.output<typeof expectationSchema>;

/** The JSON Schema of the spec, for editors (input side: defaults are optional). */
export function specJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(specSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
}

/**
 * The Ingress a target's target group comes from: the one named, else on the twin (no `context`,
 * no binding named) the Ingress named like the Deployment, as in the twin's default world.
 */
export function ingressOf(target: Spec['target']): string | undefined {
  return target.ingress ?? (target.context || target.targetGroupBinding ? undefined : target.deployment);
}

/** A cell's path: the app's pods as the ALB's targets, or a gateway's pods in front of them. */
export type Topology = 'direct' | 'gateway';

/** The gateway a spec names (with its defaults), whether or not a cell uses it. */
export type GatewayTarget = z.output<typeof gatewaySchema>;

/**
 * The gateway of a target: the one `target.topology` names, else the default world's (a bare
 * `gateway`, or a `topology` axis with a direct target). Its Ingress as `ingressOf` finds the app's:
 * the one named, else on the twin the default world's.
 */
export function gatewayOf(target: Spec['target']): GatewayTarget {
  const named = typeof target.topology === 'object' ? target.topology.gateway : gatewaySchema.parse({});
  return { ...named, ingress: named.ingress ?? (target.context || named.targetGroupBinding ? undefined : DEFAULT_GATEWAY.ingress) };
}

/** The path of a cell's config: its `topology` axis value, else the target's own topology. */
export function topologyOf(spec: Pick<Spec, 'target'>, config: { topology?: Topology }): Topology {
  return config.topology ?? (spec.target.topology === undefined || spec.target.topology === 'direct' ? 'direct' : 'gateway');
}

