/**
 * What must hold before a run changes anything, checked once when connecting: the load balancer
 * controller has not refused the Ingress, the Deployment has pods to roll, there is somewhere to schedule them, and every drain or spot selector names a node
 * that exists (a spot one, with an EC2 instance, for `spot`). Each failure says what was expected
 * and what the cluster has, so a bad night fails in seconds instead of after a 900 s wait.
 */
import { EnvironmentError } from '../core/errors.ts';
import { isSpotNode } from '../disruptions/drain.ts';
import { instanceIdOf, type KEvent, type KObject, type KubernetesPort } from '../platform/ports.ts';
import type { Spec } from '../matrix/schema.ts';
import type { Target } from './target.ts';
import { topologiesOf } from '../matrix/expand.ts';
import { REPLICAS_WHEN_USED, replicasWhenUsed, viewOf } from './topology.ts';

/** A Deployment with the replicas it will have when used (a gateway at 0 with its annotation), as the checks count them. */
function asUsed(d: KObject): KObject {
  const n = replicasWhenUsed(d);
  return n === undefined ? d : { ...d, spec: { ...d.spec, replicas: n } };
}

/** A node new pods can land on: Ready, not cordoned, without NoSchedule/NoExecute taints. */
export function isSchedulable(n: KObject): boolean {
  const ready = (n.status?.conditions ?? []).some((c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True');
  const blocked = (n.spec?.taints ?? []).some((t: { effect?: string }) => t.effect === 'NoSchedule' || t.effect === 'NoExecute');
  return ready && !n.spec?.unschedulable && !blocked;
}

/** The label that names a node's group, per handler that launches replacements into it. */
const GROUP_LABEL = { karpenter: 'karpenter.sh/nodepool', 'managed-nodegroup': 'eks.amazonaws.com/nodegroup' } as const;

/** True for a disruption whose handler launches a replacement (harness/disruptions/handlers/). */
function launchesReplacement(d: Spec['disruptions'][number]): boolean {
  return (d.kind === 'spot' && d.handler === 'karpenter') || (d.kind === 'rebalance' && d.handler === 'managed-nodegroup') || d.kind === 'node-replace';
}

/** Every problem that would stop the spec from measuring anything on this target (empty: none). */
export function preconditionProblems(spec: Spec, deployment: KObject, nodes: KObject[], kind: Target['kind'] = 'twin'): string[] {
  const problems: string[] = [];
  const name = `${deployment.metadata?.namespace}/${deployment.metadata?.name}`;
  const replicas = deployment.spec?.replicas ?? 1;
  if (replicas < 1) problems.push(`deployment ${name}: expected at least 1 replica, got ${replicas}; a rollout or a node disruption would have no pod to measure`);
  const names = nodes.map((n) => n.metadata?.name ?? '');
  const schedulable = nodes.filter(isSchedulable).map((n) => n.metadata?.name ?? '');
  if (!schedulable.length) problems.push(`nodes: expected at least one schedulable node for the rollout's new pods, got none (${names.join(', ') || 'no nodes'}: cordoned, tainted NoSchedule or not Ready)`);
  for (const [i, d] of spec.disruptions.entries()) {
    if (d.kind === 'rollout') continue;
    const at = `disruptions[${i}] (${d.kind} ${d.node})`;
    // A managed node group adds capacity through its Auto Scaling group, which the harness does not scale in a cluster (harness/platform/kubernetes/capacity.ts).
    if (kind === 'cluster' && d.kind !== 'drain' && d.kind !== 'spot' && d.handler === 'managed-nodegroup') {
      problems.push(`${at}: expected a handler whose replacement the harness can launch in a cluster (karpenter, or nth for rebalance), got managed-nodegroup: its replacement would scale the node group's Auto Scaling group, which is not supported; run it on the twin`);
    }
    let chosen: KObject[];
    if (d.node.startsWith('node:')) {
      chosen = nodes.filter((n) => n.metadata?.name === d.node.slice(5));
      if (!chosen.length) problems.push(`${at}: expected a node named ${d.node.slice(5)}, got only ${names.join(', ') || 'no nodes'}`);
    } else if (d.node === 'spot') {
      chosen = nodes.filter(isSpotNode);
      if (!chosen.length) problems.push(`${at}: expected a spot node (label eks.amazonaws.com/capacityType=SPOT, karpenter.sh/capacity-type=spot or node.kubernetes.io/lifecycle=spot), got none among ${names.join(', ') || 'no nodes'}`);
    } else chosen = nodes;
    if (d.kind !== 'drain') {
      const withInstance = chosen.filter((n) => instanceIdOf(n.spec?.providerID));
      if (chosen.length && !withInstance.length) problems.push(`${at}: expected the node to carry an EC2 providerID (aws:///<zone>/i-…) to terminate, got ${chosen.map((n) => `${n.metadata?.name}: ${n.spec?.providerID ?? 'none'}`).join(', ')}`);
    }
    // A handler that launches a replacement launches it into the node's own group: the node must be one of that handler's.
    const group = launchesReplacement(d) ? GROUP_LABEL[(d as { handler: 'karpenter' | 'managed-nodegroup' }).handler] : undefined;
    if (group && chosen.length && !chosen.some((n) => n.metadata?.labels?.[group])) {
      problems.push(`${at}: expected a node of the handler's group (label ${group}) to replace like ${(d as { handler: string }).handler} does, got ${chosen.map((n) => n.metadata?.name).join(', ')} without it (on the twin, cluster.spotHandler sets the nodes' labels)`);
    }
    // The evicted pods need another node: one schedulable node besides the one drained (whichever it is).
    const drained = chosen.length === 1 ? chosen[0].metadata?.name : undefined;
    const room = drained ? schedulable.filter((n) => n !== drained).length : schedulable.length - 1;
    // A handler that launches a replacement first brings the room with it.
    if (chosen.length && room < 1 && !launchesReplacement(d)) {
      problems.push(`${at}: expected a schedulable node besides the one drained for its pods to move to, got ${schedulable.join(', ') || 'none'}`);
    }
  }
  return problems;
}

/**
 * The AWS Load Balancer Controller says on the Ingress whether its last reconcile worked: a Warning
 * (FailedBuildModel, FailedDeployModel, e.g. two IngressGroup members that disagree on a
 * load-balancer attribute) or Normal SuccessfullyReconciled (controllers/ingress/group_controller.go).
 * While the latest says it failed, the load balancer no longer follows the Ingress, so nothing the
 * run changes through annotations would take effect: an environment error, in the controller's words.
 */
export async function refuseIfControllerRefuses(k8s: Pick<KubernetesPort, 'listEvents'>, namespace: string, ingress: string): Promise<void> {
  const events = (await k8s.listEvents(namespace, `involvedObject.kind=Ingress,involvedObject.name=${ingress}`)).filter(
    (e) => e.reason === 'SuccessfullyReconciled' || (e.type === 'Warning' && /^Failed(Build|Deploy)Model$/.test(e.reason ?? '')),
  );
  const at = (e: KEvent) => new Date(e.lastTimestamp ?? e.eventTime ?? e.metadata?.creationTimestamp ?? 0).getTime() || 0;
  // The latest wins; a tie (same second) counts as refused, the side that changes nothing.
  const latest = events.sort((a, b) => at(a) - at(b) || Number(a.type === 'Warning') - Number(b.type === 'Warning')).at(-1);
  if (latest?.type !== 'Warning') return;
  throw new EnvironmentError(
    `Expected the AWS Load Balancer Controller to reconcile ingress ${namespace}/${ingress}, got its Warning ${latest.reason} at ${latest.lastTimestamp ?? latest.eventTime}: ${latest.message} (the load balancer does not follow the Ingress until that is fixed; kubectl describe ingress ${ingress} -n ${namespace})`,
  );
}

/**
 * Throws an environment error listing every problem; returns when the spec can run here. With a
 * topology, for each path the cells take: its Ingress, and the Deployment its disruptions hit (a
 * gateway kept at 0 replicas until used counts with the replicas it will have).
 */
export async function checkPreconditions(t: Target, spec: Spec): Promise<void> {
  const views = t.topology ? topologiesOf(spec).map((p) => viewOf(t, p)) : [t];
  const nodes = await t.k8s.listNodes();
  const problems = new Set<string>();
  for (const v of views) {
    const alb = v.albSide ?? v;
    // Not when connecting: `restore` connects too, and must put things back whatever the controller says.
    if (alb.ingress) await refuseIfControllerRefuses(t.k8s, alb.namespace, alb.ingress);
    for (const p of preconditionProblems(spec, asUsed(await t.k8s.getDeployment(v.namespace, v.deployment)), nodes, t.kind)) problems.add(p);
    if (v.registered) {
      const g = await t.k8s.getDeployment(v.registered.namespace, v.registered.deployment);
      if ((g.spec?.replicas ?? 1) < 1 && replicasWhenUsed(g) === undefined) {
        problems.add(`deployment ${v.registered.namespace}/${v.registered.deployment} (the gateway): expected at least 1 replica, or 0 with the annotation ${REPLICAS_WHEN_USED} naming how many the gateway cells need, got 0 without it`);
      }
    }
  }
  if (problems.size) throw new EnvironmentError(`The target cannot run this spec; nothing was changed:\n${[...problems].map((p) => `  - ${p}`).join('\n')}`);
}
