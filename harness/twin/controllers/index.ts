/**
 * Starts the twin's control-plane controllers together (the kubelet and node lifecycle run
 * beside them, per node): readiness-gate webhook, ReplicaSet, Deployment, scheduler, garbage
 * collector, disruption controller, the endpoints / EndpointSlice controller, and the Job and
 * CronJob controllers, and k6-operator's TestRun controller.
 */
import { startCronJobController } from './cronjob.ts';
import { startDeploymentController } from './deployment.ts';
import { startEndpointsController } from './endpoints.ts';
import { startDisruptionController } from './eviction.ts';
import { startGarbageCollector, type GarbageCollectorDeps } from './gc.ts';
import { startJobController } from './job.ts';
import { startK6OperatorController } from './k6-operator.ts';
import { startReadinessGateWebhook } from './gates.ts';
import { startReplicaSetController } from './replicaset.ts';
import { startScheduler, type SchedulerDeps } from './scheduler.ts';
import type { TwinConfig } from '../config.ts';
import type { Controller } from './util.ts';

/**
 * Dependencies of all controllers: store, clock, log, and the scheduling policy (`scheduling`,
 * else `config.cluster.scheduling`, else spread) and pod GC quarantine.
 */
export type ClusterControllerDeps = SchedulerDeps & GarbageCollectorDeps & { config?: { cluster: Pick<TwinConfig['cluster'], 'scheduling'> } };

/** Starts every cluster controller; `stop()` stops them all. */
export function startClusterControllers(deps: ClusterControllerDeps): Controller {
  const scheduling = deps.scheduling ?? deps.config?.cluster.scheduling;
  // The webhook first, so that no pod is created before it is in place.
  const controllers = [
    startReadinessGateWebhook(deps),
    startReplicaSetController(deps),
    startDeploymentController(deps),
    startScheduler({ ...deps, scheduling }),
    startGarbageCollector(deps),
    startDisruptionController(deps),
    startEndpointsController(deps),
    startJobController(deps),
    startCronJobController(deps),
    startK6OperatorController(deps),
  ];
  return {
    stop() {
      for (const c of controllers.reverse()) c.stop();
    },
  };
}
