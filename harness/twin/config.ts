/**
 * The twin's parameters: a YAML file validated with zod, every default taken from the table in
 * the reference (`alb-eks-behaviour.md`, "Twin parameters"). Durations are model seconds.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ConfigError, formatIssues } from '../core/errors.ts';
import { projectRoot } from '../core/paths.ts';
import { DEFAULT_LOG_LIMITS } from './runtime/logs.ts';

const seconds = z.number().min(0);

/**
 * A distribution of a lag in model seconds: uniform in [min, max], with a uniform tail to `tailMax`.
 * Fields left out take the per-node deregistration lag's defaults (see the ALB twin's README).
 */
export const lagSchema = z
  .object({
    min: seconds.default(5),
    max: seconds.default(20),
    tailProbability: z.number().min(0).max(1).default(0.03),
    tailMax: seconds.default(60),
  })
  .strict()
  .refine((l) => l.min <= l.max && l.max <= Math.max(l.max, l.tailMax), { message: 'expected min ≤ max' });

export const healthCheckSchema = z
  .object({
    path: z.string().default('/healthz'),
    port: z.union([z.literal('traffic-port'), z.number().int().min(1).max(65535)]).default('traffic-port'),
    intervalSeconds: z.number().min(5).max(300).default(15),
    timeoutSeconds: z.number().min(2).max(120).default(5),
    healthyThreshold: z.number().int().min(2).max(10).default(2),
    unhealthyThreshold: z.number().int().min(2).max(10).default(2),
    matcher: z.string().default('200'),
  })
  .strict();

/** What reacts to a spot interruption in the cluster: aws-node-termination-handler, Karpenter or an EKS managed node group. */
export const spotHandlerSchema = z.enum(['nth', 'karpenter', 'managed-nodegroup']);

export const nodeSchema = z
  .object({
    name: z.string().min(1),
    zone: z.string().min(1),
    instanceType: z.string().default('m5.large'),
    lifecycle: z.enum(['on-demand', 'spot']).default('on-demand'),
    /**
     * The Karpenter NodePool or the managed node group the node belongs to (its handler, else
     * cluster.spotHandler, karpenter or managed-nodegroup); default `default` for Karpenter, `ng-spot` / `ng-on-demand`
     * (by lifecycle) for a managed node group.
     */
    group: z.string().regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'expected a lowercase name (letters, digits, hyphens) of at most 63 characters').optional(),
    /**
     * Who manages this node, when not cluster.spotHandler: a cluster may run Karpenter beside a
     * managed node group (a self-managed node, `nth`, is aws-node-termination-handler's). Its labels,
     * its replacement and the handler that reacts to its interruption follow.
     */
    handler: spotHandlerSchema.optional(),
  })
  .strict();

export const twinConfigSchema = z
  .object({
    timeScale: z.number().positive().default(1),
    seed: z.number().int().min(0).default(1),
    region: z.string().default('us-east-1'),
    cluster: z
      .object({
        name: z.string().default('twin'),
        nodes: z.array(nodeSchema).min(1).default([
          { name: 'node-a1', zone: 'us-east-1a', instanceType: 'm5.large', lifecycle: 'on-demand' },
          { name: 'node-b1', zone: 'us-east-1b', instanceType: 'm5.large', lifecycle: 'on-demand' },
          { name: 'node-b2', zone: 'us-east-1b', instanceType: 'm5.large', lifecycle: 'spot' },
        ]),
        /** Spread pods over nodes (default scheduler scoring) or pack them onto as few as possible. */
        scheduling: z.enum(['spread', 'pack']).default('spread'),
        /**
         * The cluster's own spot handler, which reacts to an interruption (the twin's FIS API) and
         * whose labels every node carries (see the twin's README, "Spot handlers").
         */
        spotHandler: spotHandlerSchema.default('nth'),
        /**
         * Replace a terminated instance with a new node of the same zone and lifecycle, as its Auto
         * Scaling group does: always with spotHandler nth; with managed-nodegroup while the group is
         * below its configured size; never with karpenter (Karpenter launches its own replacement).
         */
        replaceTerminatedNodes: z.boolean().default(true),
        nodeLaunchSeconds: seconds.default(60),
        /** Seconds until a node whose instance is gone is marked NotReady (node-monitor-grace-period). */
        nodeNotReadySeconds: seconds.default(40),
        /**
         * The Kubernetes version the API server serves (/version) and validates as: below 1.30 the
         * PodLifecycleSleepAction gate is off and a preStop that only sleeps is refused.
         */
        kubernetesVersion: z.string().regex(/^1\.\d+$/, 'expected a Kubernetes version like 1.31').default('1.31'),
        /** Images the kubelet knows, mapped to the command it runs for them. */
        images: z.record(z.string(), z.array(z.string()).min(1)).default({}),
        /** What the kubelet keeps of each container instance's log (`kubectl logs`); the oldest lines go first. */
        podLogs: z
          .object({
            maxLines: z.number().int().min(1).default(DEFAULT_LOG_LIMITS.maxLines),
            maxBytes: z.number().int().min(1).default(DEFAULT_LOG_LIMITS.maxBytes),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
    controller: z
      .object({
        /** Pod event → ELBv2 API call. */
        reactionSeconds: seconds.default(1),
        /** Requeue while a readiness-gate condition is not yet True. */
        gateRequeueSeconds: seconds.default(15),
        /**
         * Follow EndpointSlices instead of pods, as the real controller's `--enable-endpoint-slices`:
         * bindings react to slice changes (the endpoints controller writes them in the same tick).
         */
        enableEndpointSlices: z.boolean().default(false),
      })
      .strict()
      .prefault({}),
    alb: z
      .object({
        idleTimeoutSeconds: z.number().min(1).max(4000).default(60),
        connectTimeoutSeconds: seconds.default(10),
        /** Passing checks a newly registered target needs: 1, or the healthy threshold. */
        newTargetPassingChecks: z.union([z.literal(1), z.literal('healthyThreshold')]).default(1),
        /**
         * Time from the deregistration (or the target turning unhealthy) until each LB node stops
         * routing new requests to it; capped by the deregistration delay. 5–20 s, 3 % tail to 60 s.
         */
        deregistrationLag: lagSchema.prefault({}),
        /** Time a new target spends in initial/Elb.RegistrationInProgress before its health checks start. */
        registrationTime: lagSchema.prefault({ min: 2, max: 8, tailProbability: 0, tailMax: 8 }),
        /** Time from a target turning healthy until each LB node routes to it. */
        registrationLag: lagSchema.prefault({ min: 1, max: 5, tailProbability: 0, tailMax: 5 }),
        healthCheck: healthCheckSchema.prefault({}),
        deregistrationDelaySeconds: z.number().int().min(0).max(3600).default(300),
        slowStartSeconds: z.number().int().min(0).max(900).default(0),
        /** Listener port on 127.0.0.1 (0 = any free port). */
        listenerPort: z.number().int().min(0).max(65535).default(0),
        accessLogs: z
          .object({
            /** Model seconds per log file and LB node: the ALB user guide's 5 minutes. */
            intervalSeconds: z.number().positive().max(3600).default(300),
            /**
             * What-if: the share of entries left out of the delivered log files (not out of the
             * ground truth). ALB "logs requests on a best-effort basis" (user guide, access logs).
             */
            dropShare: z.number().min(0).max(1).default(0),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
    /** The gateway layer's ingress-controller emulation (image rollout-harness/ingress-nginx; harness/twin/gateway/README.md). */
    gateway: z
      .object({
        /**
         * Model seconds from an EndpointSlice change to nginx serving it: the controller's sync, then
         * the Lua balancer's BACKENDS_SYNC_INTERVAL (1 s) in ingress-nginx.
         */
        syncSeconds: seconds.default(1),
      })
      .strict()
      .prefault({}),
    /** The twin's S3 API subset (access-log delivery, ListObjectsV2/GetObject/HeadObject). */
    s3: z
      .object({
        /** The buckets that exist; enabling access logs to another fails as on AWS. */
        buckets: z.array(z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'expected an S3 bucket name (3-63 lowercase letters, digits, dots, hyphens)')).default(['rollout-harness-alb-logs']),
        /** Object bodies kept in memory beyond this are read back from the state dir. */
        maxMemoryBytes: z.number().int().min(0).default(64 * 1024 * 1024),
      })
      .strict()
      .prefault({}),
    /**
     * Users besides the cluster admin (context `twin`, group system:masters): each gets a bearer
     * token and a kubeconfig context `twin-<name>`, and may do what the RBAC objects among `objects`
     * grant its name or groups — nothing else.
     */
    users: z
      .array(
        z
          .object({
            name: z.string().regex(/^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$/, 'expected a lowercase name (letters, digits, dots, hyphens) of at most 63 characters'),
            groups: z.array(z.string().min(1).refine((g) => g !== 'system:masters', 'expected a group other than system:masters (the admin context has it)')).default([]),
          })
          .strict(),
      )
      .default([])
      .refine((users) => new Set(users.map((u) => u.name)).size === users.length, { message: 'expected distinct user names' }),
    /** Kubernetes manifests created at start (YAML documents or objects). */
    objects: z.array(z.record(z.string(), z.unknown())).default([]),
  })
  .strict();

/** The twin's parameters after defaults. */
export type TwinConfig = z.infer<typeof twinConfigSchema>;
export type LagDistribution = z.infer<typeof lagSchema>;
export type HealthCheckConfig = z.infer<typeof healthCheckSchema>;
export type NodeConfig = z.infer<typeof nodeSchema>;
export type SpotHandlerKind = z.infer<typeof spotHandlerSchema>;
export type TwinUser = TwinConfig['users'][number];

/** The default twin config file. */
export const defaultConfigPath = path.join(projectRoot, 'fixtures/twin/default.yaml');


/** Validates a parsed config object, reporting every error with its path. */
export function parseTwinConfig(input: unknown, source = 'twin config'): TwinConfig {
  const result = twinConfigSchema.safeParse(input ?? {});
  if (!result.success) throw new ConfigError(`Invalid ${source}`, formatIssues(result.error));
  return result.data;
}

/** Reads a twin config file (YAML); relative `objects` files are not supported, manifests are inline. */
export async function loadTwinConfig(
  file: string = defaultConfigPath,
  overrides: { timeScale?: number; seed?: number } = {},
): Promise<TwinConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (cause) {
    throw new ConfigError(`Cannot read twin config ${file}: ${(cause as Error).message}`, [], { cause });
  }
  const docs = parseAllDocuments(text);
  const errors = docs.flatMap((d) => d.errors.map((e) => `${file}: ${e.message}`));
  if (errors.length) throw new ConfigError(`Invalid YAML in ${file}`, errors);
  const raw = (parseYaml(text) ?? {}) as Record<string, unknown>;
  const defined = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined));
  return parseTwinConfig({ ...raw, ...defined }, file);
}
