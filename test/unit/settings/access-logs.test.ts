/**
 * `explain.enableAccessLogs` against in-memory stand-ins: a controller that, as the LBC, writes the
 * annotation's keys to the load balancer and never reverts a key the annotation stops naming.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../harness/core/clock.ts';
import { EnvironmentError } from '../../../harness/core/errors.ts';
import { enableAccessLogs, LB_ATTRIBUTES_ANNOTATION, restoreAccessLogs, snapshotAccessLogs, verifyAccessLogs, withAttributes } from '../../../harness/settings/access-logs.ts';
import { restoreSettings, snapshotSettings, TG_ATTRIBUTES_ANNOTATION } from '../../../harness/orchestrator/settings.ts';
import { RUN_MARKER } from '../../../harness/core/labels.ts';
import { parseSpec } from '../../../harness/matrix/load.ts';
import type { Target } from '../../../harness/orchestrator/target.ts';
import type { Elbv2Port, KObject, KubernetesPort } from '../../../harness/platform/ports.ts';

const LB = 'arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web/abc';

function world(annotation?: string, controller = true) {
  const ing: KObject = { metadata: { name: 'web', namespace: 'shop', annotations: annotation === undefined ? {} : { [LB_ATTRIBUTES_ANNOTATION]: annotation } } };
  const lb: Record<string, string> = { 'access_logs.s3.enabled': 'false', 'access_logs.s3.bucket': '', 'access_logs.s3.prefix': '', 'idle_timeout.timeout_seconds': '60' };
  const apply = () => {
    if (!controller) return;
    for (const part of (ing.metadata!.annotations![LB_ATTRIBUTES_ANNOTATION] ?? '').split(',').filter(Boolean)) {
      const [k, ...v] = part.split('=');
      lb[k] = v.join('=');
    }
  };
  apply();
  const k8s = {
    getIngress: async () => structuredClone(ing),
    setIngressAnnotations: async (_ns: string, _n: string, a: Record<string, string | null>) => {
      for (const [k, v] of Object.entries(a)) {
        if (v === null) delete ing.metadata!.annotations![k];
        else ing.metadata!.annotations![k] = v;
      }
      apply();
      return ing;
    },
  } as unknown as KubernetesPort;
  const elbv2 = { loadBalancersOf: async () => [LB], describeLoadBalancerAttributes: async () => ({ ...lb }) } as unknown as Elbv2Port;
  const target = { k8s, elbv2, clock: new ManualClock(), namespace: 'shop', deployment: 'web', ingress: 'web', targetGroupArn: 'arn:tg' } as unknown as Target;
  return { target, ing, lb };
}

const signal = new AbortController().signal;
const setting = { bucket: 'my-alb-logs', prefix: 'staging/' };

describe('enableAccessLogs', () => {
  it('keeps the annotation\'s other keys and replaces only the access-log ones', () => {
    expect(withAttributes('idle_timeout.timeout_seconds=120,access_logs.s3.enabled=false', { 'access_logs.s3.enabled': 'true', 'access_logs.s3.bucket': 'b' })).toBe(
      'idle_timeout.timeout_seconds=120,access_logs.s3.enabled=true,access_logs.s3.bucket=b',
    );
    expect(withAttributes(null, { a: '1' })).toBe('a=1');
  });

  it('records, enables through the annotation, then restores both the attributes and the annotation (which never named them)', async () => {
    const w = world('idle_timeout.timeout_seconds=120');
    const original = await snapshotAccessLogs(w.target);
    expect(original).toEqual({ loadBalancerArn: LB, attributes: { 'access_logs.s3.enabled': 'false', 'access_logs.s3.bucket': '', 'access_logs.s3.prefix': '' }, annotation: 'idle_timeout.timeout_seconds=120' });
    const lines: string[] = [];
    await enableAccessLogs(w.target, original, setting, signal, (l) => lines.push(l));
    expect(w.ing.metadata!.annotations![LB_ATTRIBUTES_ANNOTATION]).toBe('idle_timeout.timeout_seconds=120,access_logs.s3.enabled=true,access_logs.s3.bucket=my-alb-logs,access_logs.s3.prefix=staging');
    expect(w.lb).toMatchObject({ 'access_logs.s3.enabled': 'true', 'access_logs.s3.bucket': 'my-alb-logs', 'access_logs.s3.prefix': 'staging', 'idle_timeout.timeout_seconds': '120' });
    expect(lines.join('\n')).toContain(LB_ATTRIBUTES_ANNOTATION);
    expect(await verifyAccessLogs(w.target, original)).toHaveLength(2);

    const done = await restoreAccessLogs(w.target, original, signal);
    expect(done).toHaveLength(2);
    expect(w.ing.metadata!.annotations![LB_ATTRIBUTES_ANNOTATION]).toBe('idle_timeout.timeout_seconds=120');
    expect(w.lb).toMatchObject({ 'access_logs.s3.enabled': 'false', 'access_logs.s3.bucket': '', 'access_logs.s3.prefix': '' });
    expect(await verifyAccessLogs(w.target, original)).toEqual([]);
    // Restoring twice changes nothing more.
    expect(await restoreAccessLogs(w.target, original, signal)).toEqual([]);
  });

  it('removes an annotation that was not there', async () => {
    const w = world(undefined);
    const original = await snapshotAccessLogs(w.target);
    await enableAccessLogs(w.target, original, setting, signal, () => {});
    await restoreAccessLogs(w.target, original, signal);
    expect(w.ing.metadata!.annotations).not.toHaveProperty(LB_ATTRIBUTES_ANNOTATION);
    expect(await verifyAccessLogs(w.target, original)).toEqual([]);
  });

  it('fails, saying what the load balancer shows, when the controller does not apply it within the bound', async () => {
    const w = world(undefined, false);
    const original = await snapshotAccessLogs(w.target);
    const clock = w.target.clock as ManualClock;
    const pending = enableAccessLogs(w.target, original, setting, signal, () => {});
    const advance = async () => {
      for (let i = 0; i < 70; i++) {
        await Promise.resolve();
        await clock.advance(1000);
      }
    };
    await Promise.all([expect(pending).rejects.toThrow(/did not become access_logs.s3.enabled=true.*they are access_logs.s3.enabled=false/), advance()]);
    await expect(pending).rejects.toBeInstanceOf(EnvironmentError);
  });

  it('is refused without an Ingress', async () => {
    const w = world();
    await expect(snapshotAccessLogs({ ...w.target, ingress: undefined } as Target)).rejects.toThrow(/expected an Ingress/);
  });

  /** A world with the rest of what restoreSettings reads (unchanged by the run), the run's marker on the namespace, and the logs turned on by the run. */
  async function enabledByRun() {
    const w = world('idle_timeout.timeout_seconds=120');
    const dep: KObject = { metadata: { name: 'web' }, spec: { template: { spec: { terminationGracePeriodSeconds: 30, containers: [{ name: 'app' }] } } } };
    const ns: KObject = { metadata: { name: 'shop', labels: {}, annotations: { [RUN_MARKER]: 'r1' } } };
    Object.assign(w.target.k8s, {
      getDeployment: async () => structuredClone(dep),
      getNamespace: async () => structuredClone(ns),
      listNodes: async () => [],
      annotate: async (ref: { kind: string }, a: Record<string, string | null>) => {
        if (ref.kind !== 'Namespace') return {};
        for (const [k, v] of Object.entries(a)) if (v === null) delete ns.metadata!.annotations![k];
        return ns;
      },
    });
    Object.assign(w.target.elbv2, { getAttributes: async () => ({ 'deregistration_delay.timeout_seconds': '300' }) });
    Object.assign(w.target, { delayVia: 'api' });
    const original = await snapshotSettings(w.target);
    expect(original.ingressAttributes).toBeNull();
    expect(TG_ATTRIBUTES_ANNOTATION).not.toBe(LB_ATTRIBUTES_ANNOTATION);
    original.accessLogs = await snapshotAccessLogs(w.target);
    await enableAccessLogs(w.target, original.accessLogs, setting, signal, () => {});
    const { spec } = parseSpec({
      matrix: { preStopSeconds: [5], terminationGracePeriodSeconds: [30], readinessGate: [false], deregistrationDelaySeconds: [300] },
      disruptions: ['rollout'],
      explain: { enableAccessLogs: setting },
    });
    return { w, original: JSON.parse(JSON.stringify(original)) as typeof original, spec };
  }

  it('is kept with the original settings and restored by restoreSettings', async () => {
    const { w, original, spec } = await enabledByRun();
    const { done, kept, differences } = await restoreSettings(w.target, original, 'r1', () => {}, { spec });
    expect(differences).toEqual([]);
    expect(kept).toEqual([]);
    expect(done.some((l) => l.startsWith('load balancer: access_logs.s3.enabled=false'))).toBe(true);
    expect(w.lb['access_logs.s3.enabled']).toBe('false');
  });

  it('is left as it is, and reported, when someone sent the logs elsewhere since the run turned them on', async () => {
    const { w, original, spec } = await enabledByRun();
    await w.target.k8s.setIngressAnnotations('shop', 'web', { [LB_ATTRIBUTES_ANNOTATION]: 'access_logs.s3.enabled=true,access_logs.s3.bucket=audit,access_logs.s3.prefix=x' });
    const { done, kept, differences } = await restoreSettings(w.target, original, 'r1', () => {}, { spec });
    expect(done).toEqual([]);
    expect(kept).toEqual([expect.stringMatching(/^access logs is .*audit.* \(changed since the run set it; .* before the run\): left as it is$/)]);
    expect(differences).toEqual([]);
    expect(w.lb['access_logs.s3.bucket']).toBe('audit');
  });
});

/**
 * An IngressGroup: three members on one load balancer and a controller that merges their
 * annotations key by key as the LBC does, refusing the group when two members name a key with
 * different values (and then changing nothing).
 */
function groupWorld() {
  const group = { 'alb.ingress.kubernetes.io/group.name': 'shop-public' };
  const ingresses: Record<string, KObject> = {
    web: { metadata: { name: 'web', namespace: 'shop', annotations: { ...group } } },
    grpc: { metadata: { name: 'grpc', namespace: 'shop', annotations: { ...group, [LB_ATTRIBUTES_ANNOTATION]: 'access_logs.s3.enabled=false,idle_timeout.timeout_seconds=120' } } },
    admin: { metadata: { name: 'admin', namespace: 'shop', annotations: { ...group, [LB_ATTRIBUTES_ANNOTATION]: 'idle_timeout.timeout_seconds=120' } } },
    other: { metadata: { name: 'other', namespace: 'shop', annotations: { [LB_ATTRIBUTES_ANNOTATION]: 'access_logs.s3.enabled=false' } } },
  };
  const lb: Record<string, string> = { 'access_logs.s3.enabled': 'false', 'access_logs.s3.bucket': '', 'access_logs.s3.prefix': '', 'idle_timeout.timeout_seconds': '120' };
  const conflicts: string[] = [];
  const reconcile = () => {
    const merged: Record<string, string> = {};
    for (const ing of Object.values(ingresses)) {
      if (ing.metadata!.annotations!['alb.ingress.kubernetes.io/group.name'] !== 'shop-public') continue;
      for (const part of (ing.metadata!.annotations![LB_ATTRIBUTES_ANNOTATION] ?? '').split(',').filter(Boolean)) {
        const [k, ...rest] = part.split('=');
        const v = rest.join('=');
        if (k in merged && merged[k] !== v) {
          conflicts.push(`conflicting load balancer attributes ${k}: ${merged[k]} | ${v}`);
          return;
        }
        merged[k] = v;
      }
    }
    Object.assign(lb, merged);
  };
  const k8s = {
    getIngress: async (_ns: string, name: string) => structuredClone(ingresses[name]),
    listIngresses: async () => Object.values(ingresses).map((i) => structuredClone(i)),
    setIngressAnnotations: async (_ns: string, name: string, a: Record<string, string | null>) => {
      for (const [k, v] of Object.entries(a)) {
        if (v === null) delete ingresses[name].metadata!.annotations![k];
        else ingresses[name].metadata!.annotations![k] = v;
      }
      reconcile();
      return ingresses[name];
    },
  } as unknown as KubernetesPort;
  const elbv2 = { loadBalancersOf: async () => [LB], describeLoadBalancerAttributes: async () => ({ ...lb }) } as unknown as Elbv2Port;
  const target = { k8s, elbv2, clock: new ManualClock(), namespace: 'shop', deployment: 'web', ingress: 'web', targetGroupArn: 'arn:tg' } as unknown as Target;
  return { target, ingresses, lb, conflicts };
}

describe('enableAccessLogs in an IngressGroup', () => {
  it('writes the same values on every member that names an access-log key, so the controller sees no conflict, and restores each', async () => {
    const w = groupWorld();
    const original = await snapshotAccessLogs(w.target);
    expect(original.members).toEqual({ grpc: 'access_logs.s3.enabled=false,idle_timeout.timeout_seconds=120' });
    const lines: string[] = [];
    await enableAccessLogs(w.target, original, setting, signal, (l) => lines.push(l));
    expect(w.conflicts).toEqual([]);
    expect(w.lb).toMatchObject({ 'access_logs.s3.enabled': 'true', 'access_logs.s3.bucket': 'my-alb-logs' });
    expect(w.ingresses.grpc.metadata!.annotations![LB_ATTRIBUTES_ANNOTATION]).toBe('idle_timeout.timeout_seconds=120,access_logs.s3.enabled=true,access_logs.s3.bucket=my-alb-logs,access_logs.s3.prefix=staging');
    // A member that names none of the keys, and an Ingress outside the group, are left alone.
    expect(w.ingresses.admin.metadata!.annotations![LB_ATTRIBUTES_ANNOTATION]).toBe('idle_timeout.timeout_seconds=120');
    expect(w.ingresses.other.metadata!.annotations![LB_ATTRIBUTES_ANNOTATION]).toBe('access_logs.s3.enabled=false');
    expect(lines.some((l) => l.startsWith('ingress shop/grpc (same IngressGroup)'))).toBe(true);
    expect(await verifyAccessLogs(w.target, original)).toHaveLength(3);

    await restoreAccessLogs(w.target, original, signal);
    expect(w.conflicts).toEqual([]);
    expect(w.lb).toMatchObject({ 'access_logs.s3.enabled': 'false', 'access_logs.s3.bucket': '', 'access_logs.s3.prefix': '' });
    expect(w.ingresses.grpc.metadata!.annotations![LB_ATTRIBUTES_ANNOTATION]).toBe('access_logs.s3.enabled=false,idle_timeout.timeout_seconds=120');
    expect(w.ingresses.web.metadata!.annotations).not.toHaveProperty(LB_ATTRIBUTES_ANNOTATION);
    expect(await verifyAccessLogs(w.target, original)).toEqual([]);
  });

  it('(the stand-in controller) refuses the group when only the target\'s Ingress names the new values', async () => {
    const w = groupWorld();
    await w.target.k8s.setIngressAnnotations('shop', 'web', { [LB_ATTRIBUTES_ANNOTATION]: 'access_logs.s3.enabled=true' });
    expect(w.conflicts).toEqual(['conflicting load balancer attributes access_logs.s3.enabled: true | false']);
    expect(w.lb['access_logs.s3.enabled']).toBe('false');
  });
});
