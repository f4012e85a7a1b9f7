/**
 * `target.topology` against a stand-in cluster with both paths (test/helpers/topology-world.ts):
 * which Deployment, Ingress and target group each cell's settings land on, the scale from zero
 * recorded before it is made and put back by restore, and a gate cell behind a gateway not run.
 */
import { describe, expect, it } from 'vitest';
import { RUN_MARKER, UNDO_MARKER } from '../../../harness/core/labels.ts';
import { EnvironmentError } from '../../../harness/core/errors.ts';
import type { ManualClock } from '../../../harness/core/clock.ts';
import { expandCells } from '../../../harness/matrix/expand.ts';
import { parseSpec } from '../../../harness/matrix/load.ts';
import { topologyOf, type CellConfig } from '../../../harness/matrix/schema.ts';
import { runCell } from '../../../harness/orchestrator/cell.ts';
import { cellExplainer } from '../../../harness/orchestrator/explain.ts';
import type { CellResult } from '../../../harness/report/types.ts';
import { checkPreconditions } from '../../../harness/orchestrator/preconditions.ts';
import { applySettings, findMarkers, isSteady, markObjects, originalsOf, restoreSettings, snapshotPaths, TG_ATTRIBUTES_ANNOTATION } from '../../../harness/orchestrator/settings.ts';
import { REPLICAS_WHEN_USED, scaleGatewayFromZero, viewOf } from '../../../harness/orchestrator/topology.ts';
import type { OriginalSettings } from '../../../harness/settings/types.ts';
import type { KObject } from '../../../harness/platform/ports.ts';
import { DELAY, topologyWorld } from '../../helpers/topology-world.ts';

/** A spec over both paths (or the gateway's alone with `disrupt`), one config per topology. */
function specOf(opts: { gate?: boolean; disrupt?: 'app' | 'gateway' } = {}) {
  return parseSpec({
    target: opts.disrupt === 'gateway' ? { topology: { gateway: { disrupt: 'gateway' } } } : {},
    matrix: { preStopSeconds: [7], terminationGracePeriodSeconds: [45], readinessGate: [opts.gate ?? false], deregistrationDelaySeconds: [20], ...(opts.disrupt === 'gateway' ? {} : { topology: ['direct', 'gateway'] }) },
    disruptions: ['rollout'],
  }).spec;
}

const GW = 'ingress-nginx/ingress-nginx-controller';
const preStopOf = (d: KObject) => d.spec?.template?.spec?.containers?.[0]?.lifecycle?.preStop ?? null;
const delayAnnotation = (w: ReturnType<typeof topologyWorld>, ing: string) => w.ingresses.get(ing)!.metadata?.annotations?.[TG_ATTRIBUTES_ANNOTATION];

describe('viewOf: the target a cell runs against', () => {
  it('direct: the app and its own path, as without a topology', () => {
    const w = topologyWorld();
    const v = viewOf(w.target, 'direct');
    expect(v).toMatchObject({ namespace: 'shop', deployment: 'web', labelSelector: 'app=web', ingress: 'web', targetGroupArn: 'arn:tg/web', url: 'http://127.0.0.1:8001' });
    expect(v.registered).toBeUndefined();
    expect(v.albSide).toBeUndefined();
    expect(v.hostHeader).toBeUndefined();
  });

  it('gateway, app disrupted: the app for pods and disruptions, the gateway path for the ALB and the traffic, its pods as the targets', () => {
    const v = viewOf(topologyWorld().target, 'gateway');
    expect(v).toMatchObject({ namespace: 'shop', deployment: 'web', labelSelector: 'app=web', targetGroupArn: 'arn:tg/gateway', url: 'http://127.0.0.1:8002', hostHeader: 'shop.example' });
    expect(v.registered).toEqual({ namespace: 'ingress-nginx', deployment: 'ingress-nginx-controller', labelSelector: 'app.kubernetes.io/name=ingress-nginx' });
    expect(v.albSide).toMatchObject({ namespace: 'ingress-nginx', deployment: 'ingress-nginx-controller', ingress: 'gateway', targetGroupArn: 'arn:tg/gateway' });
  });

  it('gateway, gateway disrupted: the gateway as the app', () => {
    const v = viewOf(topologyWorld({ disrupt: 'gateway', paths: ['gateway'] }).target, 'gateway');
    expect(v).toMatchObject({ namespace: 'ingress-nginx', deployment: 'ingress-nginx-controller', ingress: 'gateway', targetGroupArn: 'arn:tg/gateway' });
    expect(v.registered).toBeUndefined();
  });

  it('refuses a path the target was not connected with, saying which', () => {
    expect(() => viewOf(topologyWorld({ paths: ['direct'] }).target, 'gateway')).toThrow(/Expected the gateway path to be connected for a gateway cell, got only the direct path of shop\/web/);
  });
});

describe('settings by topology: which Deployment and which target group', () => {
  it('a gateway cell sets preStop and grace on the app and the delay on the gateway\'s Ingress; a direct cell on the app\'s', async () => {
    const spec = specOf();
    const [direct, gateway] = expandCells(spec).map((c) => c.config);
    const w = topologyWorld();
    const original = await snapshotPaths(w.target, spec);
    await applySettings(viewOf(w.target, 'gateway'), spec, gateway, () => {}, originalsOf(original, 'gateway'));
    expect(preStopOf(w.deployments.get('shop/web')!)).toEqual({ exec: { command: ['sleep', '7'] } });
    expect(w.deployments.get('shop/web')!.spec.template.spec.terminationGracePeriodSeconds).toBe(45);
    expect(preStopOf(w.deployments.get(GW)!)).toBeNull();
    expect(delayAnnotation(w, 'ingress-nginx/gateway')).toBe(`${DELAY}=20`);
    expect(w.groups['arn:tg/gateway'][DELAY]).toBe('20');
    expect(delayAnnotation(w, 'shop/web')).toBeUndefined();
    expect(w.groups['arn:tg/web'][DELAY]).toBe('300');
    await applySettings(viewOf(w.target, 'direct'), spec, direct, () => {}, originalsOf(original, 'direct'));
    expect(w.groups['arn:tg/web'][DELAY]).toBe('20');
  });

  it('with disrupt: gateway the pod settings land on the gateway\'s Deployment and the app is left alone', async () => {
    const spec = specOf({ disrupt: 'gateway' });
    const w = topologyWorld({ disrupt: 'gateway', paths: ['gateway'] });
    const [cell] = expandCells(spec);
    expect(topologyOf(spec, cell.config)).toBe('gateway');
    const original = await snapshotPaths(w.target, spec);
    await applySettings(viewOf(w.target, 'gateway'), spec, cell.config, () => {}, original);
    expect(preStopOf(w.deployments.get(GW)!)).toEqual({ exec: { command: ['sleep', '7'] } });
    expect(w.deployments.get(GW)!.spec.template.spec.terminationGracePeriodSeconds).toBe(45);
    expect(preStopOf(w.deployments.get('shop/web')!)).toBeNull();
    expect(w.namespaces.get('shop')!.metadata?.labels).toEqual({ 'rollout-harness.io/allowed': 'true' });
    expect(w.groups['arn:tg/gateway'][DELAY]).toBe('20');
  });

  it('restore puts back both paths: the app\'s Deployment, both Ingresses and both target groups, and removes every marker', async () => {
    const spec = specOf();
    const [direct, gateway] = expandCells(spec).map((c) => c.config);
    const w = topologyWorld();
    const original = await snapshotPaths(w.target, spec);
    expect(original.gatewayPath).toMatchObject({ deregistrationDelaySeconds: '300', ingressAttributes: null, container: 'app' });
    await markObjects(w.target, 'r1');
    expect((await findMarkers(w.target)).map((m) => m.object)).toEqual(['namespace shop', 'deployment shop/web', 'ingress shop/web', 'namespace ingress-nginx', `deployment ${GW}`, 'ingress ingress-nginx/gateway']);
    await applySettings(viewOf(w.target, 'direct'), spec, direct, () => {}, originalsOf(original, 'direct'));
    await applySettings(viewOf(w.target, 'gateway'), spec, gateway, () => {}, originalsOf(original, 'gateway'));
    const { done, differences } = await restoreSettings(w.target, original, 'r1', () => {}, { spec });
    expect(differences).toEqual([]);
    expect(done).toEqual(expect.arrayContaining([`ingress shop/web: ${TG_ATTRIBUTES_ANNOTATION} restored`, `ingress ingress-nginx/gateway: ${TG_ATTRIBUTES_ANNOTATION} restored`, 'deployment shop/web: preStop restored']));
    expect(preStopOf(w.deployments.get('shop/web')!)).toBeNull();
    expect(w.groups['arn:tg/gateway'][DELAY]).toBe('300');
    expect(w.groups['arn:tg/web'][DELAY]).toBe('300');
    expect(await findMarkers(w.target)).toEqual([]);
  });
});

describe('scale from zero', () => {
  /** Scales the stand-in's gateway up as a run does, `saved` seeing the Deployment as each save found it. */
  async function scaleUp(w: ReturnType<typeof topologyWorld>, original: OriginalSettings) {
    const saved: Array<{ recorded: unknown; replicas: number }> = [];
    const record = async () => {
      saved.push({ recorded: structuredClone(original.scaledFromZero), replicas: w.deployments.get(GW)!.spec.replicas });
    };
    await scaleGatewayFromZero(w.target, original, 'r1', { record, log: () => {}, isSteady, boundMs: 10_000, signal: new AbortController().signal });
    return saved;
  }

  it('records the change before making it, scales to the annotation\'s count, and restore puts 0 back', async () => {
    const spec = specOf();
    const w = topologyWorld();
    const original = await snapshotPaths(w.target, spec);
    await markObjects(w.target, 'r1');
    const saved = await scaleUp(w, original);
    // Saved while the Deployment was still at 0: a run killed right after finds what to undo.
    expect(saved).toEqual([{ recorded: { namespace: 'ingress-nginx', deployment: 'ingress-nginx-controller', replicas: 0 }, replicas: 0 }]);
    const gw = w.deployments.get(GW)!;
    expect(gw.spec.replicas).toBe(2);
    expect(gw.metadata?.annotations?.[UNDO_MARKER]).toBe('["replicas:0"]');
    expect(w.writes.findIndex((x) => x.startsWith(`annotate Deployment ${GW} `) && x.includes(UNDO_MARKER))).toBeLessThan(w.writes.findIndex((x) => x.startsWith(`deployment ${GW} `)));
    const { done, differences } = await restoreSettings(w.target, original, 'r1', () => {}, { spec });
    expect(done).toContain(`deployment ${GW}: scaled back to 0 replicas`);
    expect(differences).toEqual([]);
    expect(gw.spec.replicas).toBe(0);
    expect(gw.metadata?.annotations?.[UNDO_MARKER]).toBeUndefined();
    expect(gw.metadata?.annotations?.[RUN_MARKER]).toBeUndefined();
  });

  it('restore finds the scale on the Deployment\'s undo marker when the run was killed before its record had it', async () => {
    const spec = specOf();
    const w = topologyWorld();
    const original = await snapshotPaths(w.target, spec);
    await markObjects(w.target, 'r1');
    await scaleUp(w, original);
    // The record as the killed run left it: without the scale.
    const { scaledFromZero: _lost, ...recorded } = original;
    await restoreSettings(w.target, recorded as OriginalSettings, 'r1', () => {}, { spec });
    expect(w.deployments.get(GW)!.spec.replicas).toBe(0);
  });

  it('leaves a count someone changed since, and says so', async () => {
    const spec = specOf();
    const w = topologyWorld();
    const original = await snapshotPaths(w.target, spec);
    await markObjects(w.target, 'r1');
    await scaleUp(w, original);
    w.deployments.get(GW)!.spec.replicas = 5;
    const { kept } = await restoreSettings(w.target, original, 'r1', () => {}, { spec });
    expect(kept).toContain(`deployment ${GW}: 5 replicas (changed since the run scaled it to 2; 0 before the run): left as it is`);
    expect(w.deployments.get(GW)!.spec.replicas).toBe(5);
  });

  it('does nothing to a gateway that already runs', async () => {
    const w = topologyWorld();
    await w.k8s.patchDeployment('ingress-nginx', 'ingress-nginx-controller', { spec: { replicas: 3 } });
    const original = await snapshotPaths(w.target, specOf());
    expect(await scaleUp(w, original)).toEqual([]);
    expect(original.scaledFromZero).toBeUndefined();
    expect(w.deployments.get(GW)!.spec.replicas).toBe(3);
  });

  it('fails, expected against got, when the gateway\'s targets do not become healthy within the bound', async () => {
    const w = topologyWorld();
    Object.assign(w.target.elbv2, { describeTargetHealth: async () => [] });
    const original = await snapshotPaths(w.target, specOf());
    const run = scaleGatewayFromZero(w.target, original, 'r1', { record: async () => {}, log: () => {}, isSteady, boundMs: 3000, signal: new AbortController().signal });
    const failed = expect(run).rejects.toThrow(`Expected the gateway deployment ${GW} to have every pod Ready and a healthy target in arn:tg/gateway within 3 s, got not yet`);
    for (let i = 0; i < 10; i++) await (w.target.clock as ManualClock).advance(1000);
    await failed;
  });
});

describe('steady behind a gateway', () => {
  it('counts the gateway\'s pods against its target group, and the app\'s rollout apart', async () => {
    const w = topologyWorld();
    await w.k8s.patchDeployment('ingress-nginx', 'ingress-nginx-controller', { spec: { replicas: 2 } });
    const view = viewOf(w.target, 'gateway');
    // 3 app pods, 2 gateway pods, 2 healthy targets: steady.
    expect(await isSteady(view)).toBe(true);
    const healthy = w.target.elbv2.describeTargetHealth.bind(w.target.elbv2);
    Object.assign(w.target.elbv2, { describeTargetHealth: async (arn: string) => (await healthy(arn)).map((x, i) => (i === 0 ? { ...x, state: 'draining' } : x)) });
    expect(await isSteady(view)).toBe(false);
    Object.assign(w.target.elbv2, { describeTargetHealth: healthy });
    w.deployments.get('shop/web')!.status.availableReplicas = 2;
    expect(await isSteady(view)).toBe(false);
  });
});

describe('preconditions by topology', () => {
  it('counts a gateway at 0 with the annotation as used, and refuses one at 0 without it', async () => {
    const spec = specOf({ disrupt: 'gateway' });
    const w = topologyWorld({ disrupt: 'gateway', paths: ['gateway'] });
    await expect(checkPreconditions(w.target, spec)).resolves.toBeUndefined();
    delete w.deployments.get(GW)!.metadata!.annotations![REPLICAS_WHEN_USED];
    await expect(checkPreconditions(w.target, spec)).rejects.toThrow(`deployment ${GW}: expected at least 1 replica, got 0`);
  });

  it('refuses a gateway the app sits behind at 0 replicas without the annotation', async () => {
    const w = topologyWorld();
    delete w.deployments.get(GW)!.metadata!.annotations![REPLICAS_WHEN_USED];
    await expect(checkPreconditions(w.target, specOf())).rejects.toThrow(EnvironmentError);
    await expect(checkPreconditions(w.target, specOf())).rejects.toThrow(`deployment ${GW} (the gateway): expected at least 1 replica, or 0 with the annotation ${REPLICAS_WHEN_USED}`);
  });
});

describe('a readiness-gate cell behind a gateway', () => {
  it('is INVALID "not tested", changes nothing and disrupts nothing, while the direct cell of the same config is run', async () => {
    const spec = specOf({ gate: true });
    const cells = expandCells(spec);
    const w = topologyWorld();
    const gated = cells.find((c) => c.config.topology === 'gateway')!;
    const noDeps = { spec, driver: 'builtin' as const, signal: new AbortController().signal, onStage: () => {}, onTraffic: () => {}, recordChange: async () => {}, undoChanges: async () => {}, log: () => {} };
    const result = await runCell(gated, { ...noDeps, target: viewOf(w.target, 'gateway') });
    expect(result.valid).toBe(false);
    expect(result.invalidReason).toMatch(/^not tested: the readiness gate acts on the ALB's targets, which are the gateway's pods \(ingress-nginx\/ingress-nginx-controller\), not those of shop\/web/);
    expect(w.writes).toEqual([]);
    // The same config with the gateway disrupted gates the gateway's pods: it is a measurement, not skipped.
    const own: CellConfig = { ...gated.config };
    expect(viewOf(topologyWorld({ disrupt: 'gateway', paths: ['gateway'] }).target, topologyOf(spec, own)).registered).toBeUndefined();
  });
});

describe('explaining by topology', () => {
  it('looks for each cell\'s access logs on its own path\'s load balancer', async () => {
    const spec = specOf();
    const w = topologyWorld();
    const asked: string[] = [];
    Object.assign(w.target.elbv2, {
      loadBalancersOf: async (arn: string) => {
        asked.push(arn);
        return [];
      },
    });
    Object.assign(w.target, { explain: { store: {}, metrics: {} } });
    const explain = cellExplainer(w.target, spec, 'r1', () => {}, new AbortController().signal)!;
    const results = expandCells(spec).map((c) => ({ id: c.id, config: c.config, fiveXX: 0, modelOrigin: 0, marks: { trafficStart: 1, trafficStop: 2 }, durationSeconds: 3 }) as unknown as CellResult);
    const [direct, gateway] = await Promise.all(results.map((r) => explain(r)));
    expect(direct.explain?.why).toBe('no load balancer forwards to arn:tg/web');
    expect(gateway.explain?.why).toBe('no load balancer forwards to arn:tg/gateway');
    expect(asked.sort()).toEqual(['arn:tg/gateway', 'arn:tg/web']);
  });
});
