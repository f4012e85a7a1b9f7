/**
 * The optional matrix axes: beside the four built-in ones, each setting a cell may vary. An axis
 * absent from the matrix is not varied, and the cluster's value is left alone. Pure data: the
 * schema of one value and how the value names a cell; what each does on the cluster is its entry
 * in `harness/settings/registry.ts`.
 */
import { z } from 'zod';

/** An integer ≥ 0 or a percent ("25%"), as Kubernetes takes maxSurge and maxUnavailable. */
const intOrPercentError = { error: (issue: { input?: unknown }) => `expected an integer ≥ 0 or a percent, got ${JSON.stringify(issue.input)}` };
const intOrPercent = z.union([z.number().int(intOrPercentError).min(0, intOrPercentError), z.string().regex(/^\d+%$/, intOrPercentError)], intOrPercentError);
/** One of `values`, the message listing them and what came. */
const oneOf = <const T extends readonly [string, ...string[]]>(values: T) => z.enum(values, { error: (issue) => `expected ${values.map((v) => JSON.stringify(v)).join(', ')}, got ${JSON.stringify(issue.input)}` });
/** A whole number in min..max, the message naming the range (AWS ranges, see each axis). */
const whole = (min: number, max: number) => z.number().int(`expected an integer in ${min}–${max}`).min(min, `expected an integer in ${min}–${max}`).max(max, `expected an integer in ${min}–${max}`);

/** Every optional axis: its value's schema and the short name it gives a cell id part (`surge-25pct`). */
export const OPTIONAL_AXES = {
  /** preStop as an exec of `sleep` or the kubelet's own sleep action (Kubernetes ≥ 1.30, KEP-3960). */
  preStopAction: { schema: oneOf(['exec', 'sleep']), id: 'action' },
  maxSurge: { schema: intOrPercent, id: 'surge' },
  maxUnavailable: { schema: intOrPercent, id: 'unavail' },
  minReadySeconds: { schema: whole(0, 3600), id: 'minready' },
  replicas: { schema: whole(1, 1000), id: 'replicas' },
  // The ALB's health-check ranges (ELB user guide, "Health checks for Application Load Balancer target groups").
  healthCheckIntervalSeconds: { schema: whole(5, 300), id: 'hc-interval' },
  healthCheckTimeoutSeconds: { schema: whole(2, 120), id: 'hc-timeout' },
  healthyThresholdCount: { schema: whole(2, 10), id: 'hc-healthy' },
  unhealthyThresholdCount: { schema: whole(2, 10), id: 'hc-unhealthy' },
  healthCheckPath: { schema: z.string().regex(/^\/[\x21-\x7e]{0,1023}$/, 'expected a path starting with "/" (at most 1024 printable characters)'), id: 'hc-path' },
  // ELB user guide, "Edit target group attributes": slow start 30–900 s, or 0 to turn it off.
  slowStartSeconds: { schema: z.number().int().refine((v) => v === 0 || (v >= 30 && v <= 900), 'expected 0 (off) or an integer in 30–900'), id: 'slowstart' },
  loadBalancingAlgorithm: { schema: oneOf(['round_robin', 'least_outstanding_requests', 'weighted_random']), id: 'lb' },
  /** The path traffic takes: the app's pods as the ALB's targets, or the gateway's (harness/matrix/topology.ts); named in ids as `gw`, never by `axisIdPart`. */
  topology: { schema: oneOf(['direct', 'gateway']), id: 'gw' },
} as const;

/** The name of an optional axis. */
export type OptionalAxis = keyof typeof OPTIONAL_AXES;
/** The optional axes' names, in the order they appear in cell ids and tables. */
export const OPTIONAL_AXIS_NAMES = Object.keys(OPTIONAL_AXES) as OptionalAxis[];

/** The cell-id part of an optional axis's value: `surge-25pct`, `hc-path-healthz`. */
export function axisIdPart(axis: OptionalAxis, value: unknown): string {
  const text = String(value).replace(/%/g, 'pct').toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
  return `${OPTIONAL_AXES[axis].id}-${text || 'root'}`;
}

/** The column heading of an optional axis in tables (markdown, HTML). */
export const AXIS_HEADINGS: Record<OptionalAxis, string> = {
  preStopAction: 'preStop action',
  maxSurge: 'maxSurge',
  maxUnavailable: 'maxUnavailable',
  minReadySeconds: 'minReady s',
  replicas: 'replicas',
  healthCheckIntervalSeconds: 'hc interval s',
  healthCheckTimeoutSeconds: 'hc timeout s',
  healthyThresholdCount: 'healthy n',
  unhealthyThresholdCount: 'unhealthy n',
  healthCheckPath: 'hc path',
  slowStartSeconds: 'slow start s',
  loadBalancingAlgorithm: 'algorithm',
  topology: 'topology',
};
