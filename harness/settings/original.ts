/**
 * The schema of the originals a run records (run.json `original`): read back on `--resume` and by
 * `restore`, validated — a hand-edited or truncated record is refused with the path of what is
 * wrong, instead of restoring from a guess.
 */
import { z } from 'zod';
import { ConfigError, formatIssues } from '../core/errors.ts';
import { OPTIONAL_AXIS_NAMES, type OptionalAxis } from '../matrix/axes.ts';
import type { OriginalSettings } from './types.ts';

const clusterChange = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('cordon'), node: z.string() }).strict(),
  z.object({ kind: z.literal('taint'), node: z.string(), key: z.string() }).strict(),
  z.object({ kind: z.literal('fis-template'), runId: z.string() }).strict(),
  z.object({ kind: z.literal('k6-testrun'), runId: z.string(), namespace: z.string() }).strict(),
]);

/** run.json `original`. */
export const originalSettingsSchema: z.ZodType<OriginalSettings> = z
  .object({
    container: z.string().min(1),
    preStop: z.unknown().refine((v) => v !== undefined, 'expected the recorded preStop (null when none)'),
    lifecycle: z.unknown().optional(),
    terminationGracePeriodSeconds: z.number().int().min(0).nullable(),
    gateLabel: z.string().nullable(),
    ingressAttributes: z.string().nullable().optional(),
    delayVia: z.enum(['ingress', 'api'], { error: (issue) => `expected "ingress" or "api", got ${JSON.stringify(issue.input)}` }),
    deregistrationDelaySeconds: z.string(),
    changes: z.array(clusterChange),
    accessLogs: z.object({ loadBalancerArn: z.string(), attributes: z.record(z.string(), z.string()), annotation: z.string().nullable() }).strict().optional(),
    axes: z.partialRecord(z.enum(OPTIONAL_AXIS_NAMES as [OptionalAxis, ...OptionalAxis[]]), z.union([z.string(), z.number(), z.null()])).optional(),
    targetGroupHealthCheck: z
      .object({ intervalSeconds: z.number().int(), timeoutSeconds: z.number().int(), healthyThresholdCount: z.number().int(), unhealthyThresholdCount: z.number().int(), path: z.string() })
      .strict()
      .optional(),
    generic: z.record(z.string(), z.record(z.string(), z.unknown())).optional(),
    gatewayPath: z.lazy(() => originalSettingsSchema).optional(),
    scaledFromZero: z.object({ namespace: z.string().min(1), deployment: z.string().min(1), replicas: z.number().int().min(0) }).strict().optional(),
  })
  .strict();

/** The recorded originals, validated; `where` names the record in the error (e.g. the run.json path). */
export function parseOriginal(value: unknown, where: string): OriginalSettings {
  const parsed = originalSettingsSchema.safeParse(value);
  if (!parsed.success) throw new ConfigError(`${where}: the recorded original settings are not valid; restore by hand from them, or fix the record`, formatIssues(parsed.error).map((line) => `original.${line}`));
  return parsed.data;
}
