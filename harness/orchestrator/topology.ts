/**
 * The two paths of traffic to the app (`target.topology`): direct (the app's pods are the ALB's
 * targets) or through a gateway (the gateway's pods are; the app's behind them). A connected target
 * carries each path the spec's cells take; `viewOf` gives the target a cell runs against: its
 * path's Ingress, target group and traffic address, and the Deployment its disruption and pod
 * settings hit. A gateway kept at 0 replicas until used is scaled up before its first cell, the
 * change recorded before it is made, and scaled back by restore.
 */
import { EnvironmentError } from '../core/errors.ts';
import { RUN_MARKER, UNDO_MARKER } from '../core/labels.ts';
import { pollUntil } from '../disruptions/wait.ts';
import type { Topology } from '../matrix/schema.ts';
import type { KObject } from '../platform/ports.ts';
import type { OriginalSettings } from '../settings/types.ts';
import type { Target, TrafficPath } from './target.ts';

export type { DeploymentRef, GatewayPath, TargetTopology, TrafficPath } from './target.ts';

/** The annotation of a Deployment kept at 0 replicas until a cell uses it: the count to scale it to (the twin's world file sets it on its gateway). */
export const REPLICAS_WHEN_USED = 'rollout-harness.io/replicas-when-used';

/** The ALB side of a path, as a target's fields (every key set, so a view never keeps another path's Host header). */
function albFields(p: TrafficPath): Pick<Target, 'ingress' | 'bindingName' | 'targetGroupArn' | 'delayVia' | 'url' | 'urlSource' | 'hostHeader' | 'servername'> {
  return { ingress: p.ingress, bindingName: p.bindingName, targetGroupArn: p.targetGroupArn, delayVia: p.delayVia, url: p.url, urlSource: p.urlSource, hostHeader: p.hostHeader, servername: p.servername };
}

/**
 * The target a cell of `topology` runs against. Direct: the app's Deployment and path, as without a
 * topology. Gateway, gateway disrupted: the gateway as if it were the app (its Deployment, Ingress,
 * target group). Gateway, app disrupted: the app's Deployment for the pod settings and the
 * disruptions, the gateway's path (`albSide`) for the ALB settings, the gateway's pods as the
 * targets (`registered`). A target without a topology (built by hand) is its own direct view.
 */
export function viewOf(t: Target, topology: Topology): Target {
  const topo = t.topology;
  if (!topo) {
    if (topology === 'gateway') throw new EnvironmentError(`Expected a target connected with its gateway path for a gateway cell, got one with the direct path only (${t.namespace}/${t.deployment})`);
    return t;
  }
  const own = { registered: undefined, albSide: undefined };
  if (topology === 'direct') {
    if (!topo.direct) throw new EnvironmentError(`Expected the direct path of ${topo.app.namespace}/${topo.app.deployment} to be connected for a direct cell, got only the gateway's (the spec's cells named no direct topology when connecting)`);
    return { ...t, ...albFields(topo.direct), ...topo.app, ...own };
  }
  const gw = topo.gateway;
  if (!gw) throw new EnvironmentError(`Expected the gateway path to be connected for a gateway cell, got only the direct path of ${topo.app.namespace}/${topo.app.deployment}`);
  const gatewayAsApp: Target = { ...t, ...albFields(gw), ...gw.gateway, ...own };
  if (gw.disrupt === 'gateway') return gatewayAsApp;
  return { ...t, ...albFields(gw), ...topo.app, registered: gw.gateway, albSide: gatewayAsApp };
}

/**
 * The pods a cell's observer watches: the app's, and in a gateway cell the gateway's too (marked in
 * the timeline as the gateway's), whichever of them the cell disrupts.
 */
export function watchedPods(view: Target): { app: { namespace: string; labelSelector: string }; gateway?: { namespace: string; labelSelector: string } } {
  const own = { namespace: view.namespace, labelSelector: view.labelSelector };
  if (view.registered) return { app: own, gateway: { namespace: view.registered.namespace, labelSelector: view.registered.labelSelector } };
  const gw = view.topology?.gateway;
  const app = view.topology?.app;
  // The gateway disrupted: the view is the gateway as if it were the app.
  if (gw && app && gw.disrupt === 'gateway' && view.namespace === gw.gateway.namespace && view.deployment === gw.gateway.deployment) {
    return { app: { namespace: app.namespace, labelSelector: app.labelSelector }, gateway: own };
  }
  return { app: own };
}

/** The count a Deployment at 0 replicas is scaled to when used (its annotation), or undefined. */
export function replicasWhenUsed(d: KObject): number | undefined {
  const text = d.metadata?.annotations?.[REPLICAS_WHEN_USED];
  const n = text === undefined ? NaN : Number(text);
  return (d.spec?.replicas ?? 1) === 0 && Number.isInteger(n) && n > 0 ? n : undefined;
}

/** The undo marker's entry that puts a Deployment's replicas back. */
const replicasEntry = (n: number) => `replicas:${n}`;

/**
 * Before the first gateway cell: a gateway at 0 replicas with the annotation is scaled to its count.
 * The change goes into the originals (`record` saves them) and onto the Deployment's undo marker
 * before it is made, so restore, `rollout-harness restore RUN` and `--resume` put 0 back. Then waits
 * (bounded, model time) until its pods are Ready and each is a healthy target of its target group.
 */
export async function scaleGatewayFromZero(
  t: Target,
  o: OriginalSettings,
  runId: string,
  opts: { record: () => Promise<void>; log: (line: string) => void; isSteady: (t: Target) => Promise<boolean>; boundMs: number; signal: AbortSignal },
): Promise<void> {
  const { record, log, isSteady, boundMs, signal } = opts;
  const gw = t.topology?.gateway;
  if (!gw) return;
  const { namespace, deployment } = gw.gateway;
  const d = await t.k8s.getDeployment(namespace, deployment);
  const want = replicasWhenUsed(d);
  if (want !== undefined) {
    o.scaledFromZero = { namespace, deployment, replicas: 0 };
    await record();
    await t.k8s.annotate({ kind: 'Deployment', namespace, name: deployment }, { [RUN_MARKER]: runId, [UNDO_MARKER]: JSON.stringify([replicasEntry(0)]) });
    await t.k8s.patchDeployment(namespace, deployment, { spec: { replicas: want } });
    log(`deployment ${namespace}/${deployment}: scaled from 0 to ${want} replicas (${REPLICAS_WHEN_USED}) for the gateway cells; restore scales it back to 0`);
  }
  const gatewayAsApp = viewOf({ ...t, topology: { ...t.topology!, gateway: { ...gw, disrupt: 'gateway' } } }, 'gateway');
  if (!(await pollUntil(t.clock, boundMs, signal, () => isSteady(gatewayAsApp)))) {
    throw new EnvironmentError(`Expected the gateway deployment ${namespace}/${deployment} to have every pod Ready and a healthy target in ${gw.targetGroupArn} within ${boundMs / 1000} s, got ${signal.aborted ? 'interrupted' : 'not yet'}`);
  }
}

/**
 * Restore's part for the scale from zero: the replicas the originals (or the Deployment's undo
 * marker, for a run killed before its checkpoint) recorded, put back; the marker's entry removed.
 * Returns what it did; a count changed since by someone else is left and said in `kept`.
 */
export async function undoScaleFromZero(t: Target, o: OriginalSettings, runId: string, kept: string[]): Promise<string[]> {
  const gw = t.topology?.gateway?.gateway ?? (o.scaledFromZero && { namespace: o.scaledFromZero.namespace, deployment: o.scaledFromZero.deployment });
  if (!gw) return [];
  const d = await t.k8s.getDeployment(gw.namespace, gw.deployment);
  const marked = d.metadata?.annotations?.[RUN_MARKER] === runId ? parseEntries(d.metadata?.annotations?.[UNDO_MARKER]) : [];
  const fromMarker = marked.map((e) => /^replicas:(\d+)$/.exec(e)).find((m) => m)?.[1];
  const was = o.scaledFromZero?.replicas ?? (fromMarker === undefined ? undefined : Number(fromMarker));
  if (was === undefined) return [];
  const done: string[] = [];
  const now = d.spec?.replicas ?? 1;
  const when = Number(d.metadata?.annotations?.[REPLICAS_WHEN_USED]);
  if (now === when) {
    await t.k8s.patchDeployment(gw.namespace, gw.deployment, { spec: { replicas: was } });
    done.push(`deployment ${gw.namespace}/${gw.deployment}: scaled back to ${was} replicas`);
  } else if (now !== was) kept.push(`deployment ${gw.namespace}/${gw.deployment}: ${now} replicas (changed since the run scaled it to ${when}; ${was} before the run): left as it is`);
  if (marked.length) await t.k8s.annotate({ kind: 'Deployment', namespace: gw.namespace, name: gw.deployment }, { [UNDO_MARKER]: null });
  return done;
}

function parseEntries(text: string | undefined): string[] {
  try {
    const list = JSON.parse(text ?? '[]') as unknown;
    return Array.isArray(list) ? list.filter((x): x is string => typeof x === 'string') : [];
  } catch {
    return [];
  }
}
