/**
 * `explain.enableAccessLogs`: the run turns the load balancer's access logs on for its duration.
 * The controller owns the load balancer's attributes, so they are set through the Ingress's
 * `alb.ingress.kubernetes.io/load-balancer-attributes` annotation (other keys kept), and read back
 * through DescribeLoadBalancerAttributes. Restore puts both back: since the controller does not
 * revert a key the annotation stops naming, the original values are first written explicitly,
 * waited for, and then the annotation is set back to exactly what it was.
 */
import { parseAttributeList } from '../core/attributes.ts';
import { pollUntil } from '../disruptions/wait.ts';
import type { AccessLogsSetting, OriginalAccessLogs, SettingTarget as Target } from './types.ts';

/** The Ingress annotation holding load-balancer attributes. */
export const LB_ATTRIBUTES_ANNOTATION = 'alb.ingress.kubernetes.io/load-balancer-attributes';
/** The load balancer's access-log attributes, in the order they are written. */
export const ACCESS_LOG_KEYS = ['access_logs.s3.enabled', 'access_logs.s3.bucket', 'access_logs.s3.prefix'] as const;
/** Model ms to wait for the controller to apply the annotation to the load balancer. */
export const ACCESS_LOGS_APPLY_MS = 60_000;

export type { AccessLogsSetting, OriginalAccessLogs } from './types.ts';

/** The access-log attributes asked for. */
export function accessLogAttributes(s: AccessLogsSetting): Record<string, string> {
  return { 'access_logs.s3.enabled': 'true', 'access_logs.s3.bucket': s.bucket, 'access_logs.s3.prefix': s.prefix.replace(/^\/+|\/+$/g, '') };
}

/** The annotation with `values` set (replacing those keys, other keys kept in order). */
export function withAttributes(annotation: string | null | undefined, values: Record<string, string>): string {
  const kept = parseAttributeList(annotation).filter(([k]) => !(k in values));
  return [...kept, ...Object.entries(values)].map(([k, v]) => `${k}=${v}`).join(',');
}

const pick = (attributes: Record<string, string>) => Object.fromEntries(ACCESS_LOG_KEYS.map((k) => [k, attributes[k] ?? (k === 'access_logs.s3.enabled' ? 'false' : '')]));
const matches = (attributes: Record<string, string>, want: Record<string, string>) => Object.entries(want).every(([k, v]) => (attributes[k] ?? (k === 'access_logs.s3.enabled' ? 'false' : '')) === v);
const describe = (a: Record<string, string>) => ACCESS_LOG_KEYS.map((k) => `${k}=${a[k] ?? ''}`).join(',');

async function loadBalancerOf(t: Target): Promise<string> {
  const arn = (await t.elbv2.loadBalancersOf(t.targetGroupArn))[0];
  if (!arn) throw new Error(`explain.enableAccessLogs: no load balancer forwards to ${t.targetGroupArn}`);
  return arn;
}

/** Records the load balancer's access-log attributes and the Ingress annotation. */
export async function snapshotAccessLogs(t: Target): Promise<OriginalAccessLogs> {
  if (!t.ingress) throw new Error('explain.enableAccessLogs: expected an Ingress (target.ingress) whose load-balancer-attributes annotation the controller applies, got none (a TargetGroupBinding\'s load balancer is not the controller\'s: enable its logs yourself)');
  const loadBalancerArn = await loadBalancerOf(t);
  const attributes = pick(await t.elbv2.describeLoadBalancerAttributes(loadBalancerArn));
  const annotation = (await t.k8s.getIngress(t.namespace, t.ingress)).metadata?.annotations?.[LB_ATTRIBUTES_ANNOTATION] ?? null;
  return { loadBalancerArn, attributes, annotation };
}

/** The change `plan` shows. */
export function describeEnable(s: AccessLogsSetting, t: { namespace: string; ingress?: string }): string {
  return `ingress ${t.namespace}/${t.ingress ?? '(none)'}: ${LB_ATTRIBUTES_ANNOTATION} += ${describe(accessLogAttributes(s))} (access logs on for the run, restored after)`;
}

/** Sets the annotation and waits (bounded, model time) until DescribeLoadBalancerAttributes shows the logs on. */
export async function enableAccessLogs(t: Target, original: OriginalAccessLogs, s: AccessLogsSetting, signal: AbortSignal, log: (line: string) => void): Promise<void> {
  const want = accessLogAttributes(s);
  const current = await t.elbv2.describeLoadBalancerAttributes(original.loadBalancerArn);
  if (matches(current, want)) return;
  const ing = await t.k8s.getIngress(t.namespace, t.ingress!);
  await t.k8s.setIngressAnnotations(t.namespace, t.ingress!, { [LB_ATTRIBUTES_ANNOTATION]: withAttributes(ing.metadata?.annotations?.[LB_ATTRIBUTES_ANNOTATION], want) });
  log(`ingress ${t.namespace}/${t.ingress}: ${LB_ATTRIBUTES_ANNOTATION} with ${describe(want)}`);
  const applied = await pollUntil(t.clock, ACCESS_LOGS_APPLY_MS, signal, async () => matches(await t.elbv2.describeLoadBalancerAttributes(original.loadBalancerArn), want));
  if (!applied) {
    const now = pick(await t.elbv2.describeLoadBalancerAttributes(original.loadBalancerArn));
    throw new Error(`explain.enableAccessLogs: the load balancer's attributes did not become ${describe(want)} within ${ACCESS_LOGS_APPLY_MS / 1000} s (they are ${describe(now)}; is the bucket writable by ELB? see the controller's events on the Ingress)`);
  }
}

/** Puts the attributes and the annotation back; returns what it did. */
export async function restoreAccessLogs(t: Target, original: OriginalAccessLogs, signal: AbortSignal): Promise<string[]> {
  if (!t.ingress) return [];
  const done: string[] = [];
  const annotationNow = async () => (await t.k8s.getIngress(t.namespace, t.ingress!)).metadata?.annotations?.[LB_ATTRIBUTES_ANNOTATION] ?? null;
  const lbNow = async () => t.elbv2.describeLoadBalancerAttributes(original.loadBalancerArn);
  if (!matches(await lbNow(), original.attributes)) {
    // Named explicitly, so the controller writes them back.
    await t.k8s.setIngressAnnotations(t.namespace, t.ingress, { [LB_ATTRIBUTES_ANNOTATION]: withAttributes(original.annotation, original.attributes) });
    const back = await pollUntil(t.clock, ACCESS_LOGS_APPLY_MS, signal, async () => matches(await lbNow(), original.attributes));
    done.push(back ? `load balancer: ${describe(original.attributes)} restored (applied by the controller)` : `load balancer: the controller had not applied ${describe(original.attributes)} within ${ACCESS_LOGS_APPLY_MS / 1000} s`);
  }
  if ((await annotationNow()) !== original.annotation) {
    await t.k8s.setIngressAnnotations(t.namespace, t.ingress, { [LB_ATTRIBUTES_ANNOTATION]: original.annotation });
    done.push(`ingress ${t.namespace}/${t.ingress}: ${LB_ATTRIBUTES_ANNOTATION} restored`);
  }
  return done;
}

/** The access-log attributes and the Ingress annotation as they are now (shaped as the originals, for comparing). */
export async function readAccessLogs(t: Target, original: OriginalAccessLogs): Promise<{ attributes: Record<string, string>; annotation: string | null }> {
  const attributes = pick(await t.elbv2.describeLoadBalancerAttributes(original.loadBalancerArn));
  const annotation = t.ingress ? ((await t.k8s.getIngress(t.namespace, t.ingress)).metadata?.annotations?.[LB_ATTRIBUTES_ANNOTATION] ?? null) : original.annotation;
  return { attributes, annotation };
}

/** What still differs from the originals. */
export async function verifyAccessLogs(t: Target, original: OriginalAccessLogs): Promise<string[]> {
  const differences: string[] = [];
  const lb = pick(await t.elbv2.describeLoadBalancerAttributes(original.loadBalancerArn));
  if (!matches(lb, original.attributes)) differences.push(`load balancer: ${describe(lb)}, was ${describe(original.attributes)}`);
  if (t.ingress) {
    const now = (await t.k8s.getIngress(t.namespace, t.ingress)).metadata?.annotations?.[LB_ATTRIBUTES_ANNOTATION] ?? null;
    if (now !== original.annotation) differences.push(`ingress ${t.namespace}/${t.ingress}: ${LB_ATTRIBUTES_ANNOTATION} is ${now ?? '(unset)'}, was ${original.annotation ?? '(unset)'}`);
  }
  return differences;
}
