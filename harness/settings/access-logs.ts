/**
 * `explain.enableAccessLogs`: the run turns the load balancer's access logs on for its duration.
 * The controller owns the load balancer's attributes, so they are set through the Ingress's
 * `alb.ingress.kubernetes.io/load-balancer-attributes` annotation (other keys kept), and read back
 * through DescribeLoadBalancerAttributes. Restore puts both back: since the controller does not
 * revert a key the annotation stops naming, the original values are first written explicitly,
 * waited for, and then the annotation is set back to exactly what it was.
 *
 * In an IngressGroup (`alb.ingress.kubernetes.io/group.name`) the members share one load balancer,
 * and the controller merges their annotations key by key: a member that does not name a key leaves
 * it to the others, two members naming it with different values make it refuse the whole group
 * ("conflicting load balancer attributes <key>: <a> | <b>", aws-load-balancer-controller
 * pkg/ingress/model_build_load_balancer_attributes.go). So the run writes the access-log values on
 * the target's Ingress and on every other member (in its namespace) that already names an
 * access-log key — all with the same values, never a conflict — and leaves the others alone.
 * Restore puts each of them back. Members in other namespaces are not seen (the run lists Ingresses
 * in its own namespace only): if one of them names these keys, the controller refuses and
 * enabling fails within its bound, naming the controller's events.
 */
import { parseAttributeList } from '../core/attributes.ts';
import { EnvironmentError } from '../core/errors.ts';
import type { KObject } from '../platform/ports.ts';
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

/** The IngressGroup annotation (one load balancer for every member). */
const GROUP_ANNOTATION = 'alb.ingress.kubernetes.io/group.name';

/** The other members of the Ingress's explicit group (same namespace) whose annotation names an access-log key, with that annotation. */
export function accessLogMembers(ingress: KObject, namespaceIngresses: KObject[]): Record<string, string | null> {
  const group = ingress.metadata?.annotations?.[GROUP_ANNOTATION];
  if (!group) return {};
  const members: Record<string, string | null> = {};
  for (const other of namespaceIngresses) {
    const annotations = other.metadata?.annotations ?? {};
    if (other.metadata?.name === ingress.metadata?.name || annotations[GROUP_ANNOTATION] !== group) continue;
    const annotation = annotations[LB_ATTRIBUTES_ANNOTATION] ?? null;
    if (parseAttributeList(annotation).some(([k]) => (ACCESS_LOG_KEYS as readonly string[]).includes(k))) members[other.metadata!.name!] = annotation;
  }
  return members;
}

/** Records the load balancer's access-log attributes, the Ingress annotation and those of the group members that name access-log keys. */
export async function snapshotAccessLogs(t: Target): Promise<OriginalAccessLogs> {
  if (!t.ingress) throw new Error('explain.enableAccessLogs: expected an Ingress (target.ingress) whose load-balancer-attributes annotation the controller applies, got none (a TargetGroupBinding\'s load balancer is not the controller\'s: enable its logs yourself)');
  const loadBalancerArn = await loadBalancerOf(t);
  const attributes = pick(await t.elbv2.describeLoadBalancerAttributes(loadBalancerArn));
  const ingress = await t.k8s.getIngress(t.namespace, t.ingress);
  const annotation = ingress.metadata?.annotations?.[LB_ATTRIBUTES_ANNOTATION] ?? null;
  const members = ingress.metadata?.annotations?.[GROUP_ANNOTATION] ? accessLogMembers(ingress, await t.k8s.listIngresses(t.namespace)) : {};
  return { loadBalancerArn, attributes, annotation, ...(Object.keys(members).length ? { members } : {}) };
}

const annotationOf = async (t: Target, name: string) => (await t.k8s.getIngress(t.namespace, name)).metadata?.annotations?.[LB_ATTRIBUTES_ANNOTATION] ?? null;

/** The annotation without the access-log keys (null when nothing is left). */
function withoutAccessLogKeys(annotation: string | null): string | null {
  const kept = parseAttributeList(annotation).filter(([k]) => !(ACCESS_LOG_KEYS as readonly string[]).includes(k));
  return kept.length ? kept.map(([k, v]) => `${k}=${v}`).join(',') : null;
}

/**
 * Writes `values` on the target's Ingress and on the group members the run writes, so that no two
 * members ever disagree, even between two writes: the members first stop naming the keys (the
 * target's Ingress, or the load balancer as it is, still decides them), then the target's Ingress
 * takes the values, then the members take the same.
 */
async function writeAcrossGroup(t: Target, original: OriginalAccessLogs, values: Record<string, string>): Promise<string[]> {
  const done: string[] = [];
  const members = Object.keys(original.members ?? {});
  for (const name of members) {
    const now = await annotationOf(t, name);
    const stripped = withoutAccessLogKeys(now);
    if (stripped !== now) await t.k8s.setIngressAnnotations(t.namespace, name, { [LB_ATTRIBUTES_ANNOTATION]: stripped });
  }
  await t.k8s.setIngressAnnotations(t.namespace, t.ingress!, { [LB_ATTRIBUTES_ANNOTATION]: withAttributes(await annotationOf(t, t.ingress!), values) });
  done.push(`ingress ${t.namespace}/${t.ingress}: ${LB_ATTRIBUTES_ANNOTATION} with ${describe(values)}`);
  for (const name of members) {
    await t.k8s.setIngressAnnotations(t.namespace, name, { [LB_ATTRIBUTES_ANNOTATION]: withAttributes(await annotationOf(t, name), values) });
    done.push(`ingress ${t.namespace}/${name} (same IngressGroup): ${LB_ATTRIBUTES_ANNOTATION} with ${describe(values)}`);
  }
  return done;
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
  for (const line of await writeAcrossGroup(t, original, want)) log(line);
  const applied = await pollUntil(t.clock, ACCESS_LOGS_APPLY_MS, signal, async () => matches(await t.elbv2.describeLoadBalancerAttributes(original.loadBalancerArn), want));
  if (!applied) {
    const now = pick(await t.elbv2.describeLoadBalancerAttributes(original.loadBalancerArn));
    // The controller refusing the group (conflicting attributes) or the bucket policy: the environment, exit 3.
    throw new EnvironmentError(`explain.enableAccessLogs: the load balancer's attributes did not become ${describe(want)} within ${ACCESS_LOGS_APPLY_MS / 1000} s (they are ${describe(now)}; is the bucket writable by ELB? see the controller's events on the Ingress)`);
  }
}

/** Puts the attributes and the annotation back; returns what it did. */
export async function restoreAccessLogs(t: Target, original: OriginalAccessLogs, signal: AbortSignal): Promise<string[]> {
  if (!t.ingress) return [];
  const done: string[] = [];
  const annotationNow = async () => (await t.k8s.getIngress(t.namespace, t.ingress!)).metadata?.annotations?.[LB_ATTRIBUTES_ANNOTATION] ?? null;
  const lbNow = async () => t.elbv2.describeLoadBalancerAttributes(original.loadBalancerArn);
  if (!matches(await lbNow(), original.attributes)) {
    // Named explicitly (on every member the run wrote, alike), so the controller writes them back.
    await writeAcrossGroup(t, original, original.attributes);
    const back = await pollUntil(t.clock, ACCESS_LOGS_APPLY_MS, signal, async () => matches(await lbNow(), original.attributes));
    done.push(back ? `load balancer: ${describe(original.attributes)} restored (applied by the controller)` : `load balancer: the controller had not applied ${describe(original.attributes)} within ${ACCESS_LOGS_APPLY_MS / 1000} s`);
  }
  if ((await annotationNow()) !== original.annotation) {
    await t.k8s.setIngressAnnotations(t.namespace, t.ingress, { [LB_ATTRIBUTES_ANNOTATION]: original.annotation });
    done.push(`ingress ${t.namespace}/${t.ingress}: ${LB_ATTRIBUTES_ANNOTATION} restored`);
  }
  // Each member back to exactly what it was: the values they name are the originals again, never a conflict.
  for (const [name, was] of Object.entries(original.members ?? {})) {
    if ((await annotationOf(t, name)) === was) continue;
    await t.k8s.setIngressAnnotations(t.namespace, name, { [LB_ATTRIBUTES_ANNOTATION]: was });
    done.push(`ingress ${t.namespace}/${name} (same IngressGroup): ${LB_ATTRIBUTES_ANNOTATION} restored`);
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
  for (const [name, was] of Object.entries(original.members ?? {})) {
    const now = (await t.k8s.getIngress(t.namespace, name)).metadata?.annotations?.[LB_ATTRIBUTES_ANNOTATION] ?? null;
    if (now !== was) differences.push(`ingress ${t.namespace}/${name} (same IngressGroup): ${LB_ATTRIBUTES_ANNOTATION} is ${now ?? '(unset)'}, was ${was ?? '(unset)'}`);
  }
  return differences;
}
