/**
 * CapacityPort against a real cluster: capacity is added the way the handler adds it, not with a
 * bare RunInstances (a bare instance would not join as the handler's node). Karpenter: a NodeClaim
 * (karpenter.sh/v1) whose spec is cloned from the interrupted node's NodeClaim — Karpenter launches
 * it; its instance id is read from the NodeClaim's status.providerID once Karpenter set it. A
 * managed node group: refused (scaling its Auto Scaling group is not implemented).
 */
import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import type { Clock } from '../../core/clock.ts';
import { ApiError, EnvironmentError } from '../../core/errors.ts';
import { withApiErrors } from '../api-errors.ts';
import { instanceIdOf, type CapacityPort, type KObject } from '../ports.ts';
import { kubeErrorText } from './adapter.ts';

const NODECLAIMS = { group: 'karpenter.sh', version: 'v1', plural: 'nodeclaims' } as const;
/** How long Karpenter may take to launch the NodeClaim's instance (model ms). */
export const NODECLAIM_LAUNCH_BOUND_MS = 10 * 60_000;

/** The NodeClaim a replacement clones: the spec of `claim`, its NodePool's label, a name Karpenter's way (`<pool>-<suffix>`). */
export function replacementNodeClaim(claim: KObject): KObject & { apiVersion: string; kind: string } {
  const pool = claim.metadata?.labels?.['karpenter.sh/nodepool'];
  return {
    apiVersion: 'karpenter.sh/v1',
    kind: 'NodeClaim',
    metadata: { ...(pool ? { labels: { 'karpenter.sh/nodepool': pool } } : {}), generateName: `${pool ?? 'replacement'}-` } as KObject['metadata'],
    spec: structuredClone(claim.spec),
  };
}

/** Builds the cluster's capacity adapter. */
export function createClusterCapacityAdapter(kc: KubeConfig, clock: Clock, signal?: AbortSignal): CapacityPort {
  const custom = kc.makeApiClient(CustomObjectsApi);
  const karpenter = withApiErrors(`Kubernetes API (context ${kc.getCurrentContext()})`, kc.getCurrentCluster()?.server, {
    async launchKarpenter(nodeName: string, instanceId: string): Promise<{ instanceId: string }> {
      const claims = ((await custom.listClusterCustomObject(NODECLAIMS)) as { items?: KObject[] }).items ?? [];
      const claim = claims.find((c) => c.status?.nodeName === nodeName || instanceIdOf(c.status?.providerID) === instanceId);
      if (!claim) throw new ApiError(`Launching a Karpenter replacement like node ${nodeName}: expected a NodeClaim (karpenter.sh/v1) of that node, got none among ${claims.length}; is the node Karpenter's?`);
      const created = (await custom.createClusterCustomObject({ ...NODECLAIMS, body: replacementNodeClaim(claim) })) as KObject;
      const name = created.metadata?.name ?? '';
      // Karpenter sets status.providerID once the instance is launched: poll every 5 s through the clock, bounded.
      let launched: string | undefined;
      for (const until = clock.now() + NODECLAIM_LAUNCH_BOUND_MS; !signal?.aborted; ) {
        launched = instanceIdOf(((await custom.getClusterCustomObject({ ...NODECLAIMS, name })) as KObject).status?.providerID);
        if (launched || clock.now() >= until) break;
        await clock.sleep(5000, signal);
      }
      if (!launched) throw new ApiError(`NodeClaim ${name} (a replacement like ${nodeName}): expected Karpenter to launch its instance (status.providerID) within ${NODECLAIM_LAUNCH_BOUND_MS / 1000} s, got none`);
      return { instanceId: launched };
    },
  }, kubeErrorText);
  return {
    async launchReplacement(like, handler) {
      if (handler === 'karpenter') return karpenter.launchKarpenter(like.nodeName, like.instanceId);
      throw new EnvironmentError(
        `Launching a replacement like node ${like.nodeName} as an EKS managed node group would: unsupported against a cluster (capacity rebalancing and node group updates scale the node group's Auto Scaling group, which the harness does not do); use the twin, or the spot handler nth/karpenter`,
      );
    },
  };
}
