/**
 * Processes: a pod's addresses, its containers' commands started through the process supervisor,
 * and restarts with a crash-loop back-off when a container exits on its own (restartPolicy Always).
 */
import type { KubeObject } from '../../kube/types.ts';
import type { ContainerProcess, ProcessExit } from '../../runtime/types.ts';
import { HOST_IP, expandVars, hookOf, ownEnvOf, probePlanOf, resolveContainerCommand, stripTag } from './spec.ts';
import { mountsOf, prepareVolumes, rewritePaths } from './volumes.ts';
import { emit, nowStamp, releaseAddresses, type ContainerRuntime, type KubeletContext, type PodRuntime } from './runtime.ts';
import { failedStatus, scheduleSync, terminatedRecord } from './status.ts';
import { newInstanceLog } from './logs.ts';
import { startProbing } from './probes.ts';
import { beginTermination, complete, finish } from './termination.ts';

/** Seconds before restart number `restartCount` + 1: `initialSeconds` doubling up to `maxSeconds`. */
export function backoffSeconds(backoff: { initialSeconds: number; maxSeconds: number }, restartCount: number): number {
  return Math.min(backoff.maxSeconds, backoff.initialSeconds * 2 ** restartCount);
}

/** Starts running a pod bound to this kubelet's node. */
export function startPod(ctx: KubeletContext, pod: KubeObject): void {
  const rt: PodRuntime = {
    uid: pod.metadata.uid!,
    namespace: pod.metadata.namespace!,
    name: pod.metadata.name,
    nodeName: pod.spec.nodeName,
    pod,
    state: 'starting',
    containers: [],
    owned: [],
    abort: new AbortController(),
    syncQueued: false,
  };
  ctx.pods.set(rt.uid, rt);
  void launch(ctx, rt).catch((error: Error) => {
    ctx.log(`kubelet ${rt.nodeName}: cannot start ${rt.namespace}/${rt.name}: ${error.message}`);
    if (rt.state === 'starting') failPod(ctx, rt, 'Failed', `Cannot start pod: ${error.message}`);
  });
}

function failPod(ctx: KubeletContext, rt: PodRuntime, reason: string, message: string): void {
  rt.state = 'finished';
  releaseAddresses(ctx, rt);
  emit(ctx, rt, reason, message, 'Warning');
  ctx.store.modify('pods', rt.namespace, rt.name, (obj) => {
    if (obj.metadata.uid !== rt.uid) return;
    obj.status = failedStatus(obj, reason, message, nowStamp(ctx));
  });
}

async function launch(ctx: KubeletContext, rt: PodRuntime): Promise<void> {
  const { addresses, network, clock } = ctx;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const specs: any[] = rt.pod.spec?.containers ?? [];
  if (specs.length === 0) return failPod(ctx, rt, 'Failed', 'Expected at least one container in spec.containers, got none');
  const resolved = specs.map((c) => resolveContainerCommand(c, ctx.images, ctx.projectRoot));
  const bad = resolved.find((r): r is { error: string } => 'error' in r);
  if (bad) return failPod(ctx, rt, 'Failed', bad.error);
  // An image that needs something of this machine (the gateway's nginx) is refused without it.
  for (const spec of specs) {
    const image = stripTag(String(spec.image ?? ''));
    // A container with its own command runs that, not the image's program.
    const refusal = Object.hasOwn(ctx.imageChecks, image) && !spec.command?.length ? await ctx.imageChecks[image]() : undefined;
    if (rt.state !== 'starting' || ctx.stopped) return;
    if (refusal) return failPod(ctx, rt, 'Failed', `Cannot run container ${spec.name} (image ${spec.image}): ${refusal}`);
  }

  // Volumes first: a ConfigMap not there yet holds the pod in ContainerCreating, retried every 2 s.
  let volumes = await prepareVolumes(ctx.store, rt.pod, ctx.volumesDir);
  for (let tries = 0; 'waiting' in volumes; tries++) {
    if (tries % 15 === 0) emit(ctx, rt, 'FailedMount', volumes.waiting, 'Warning');
    await clock.sleep(2000).catch(() => {});
    if (rt.state !== 'starting' || ctx.stopped) return;
    volumes = await prepareVolumes(ctx.store, rt.pod, ctx.volumesDir);
  }
  if (rt.state !== 'starting' || ctx.stopped) return;
  const volumeDirs = volumes.dirs;

  const declared = specs.map((c) => c.ports?.[0]?.containerPort as number | undefined);
  const first = await addresses.allocate(declared[0] ?? 8080);
  rt.owned.push(first);
  rt.address = first;
  for (let i = 1; i < specs.length; i++) {
    if (addresses.perPodAddresses) continue;
    rt.owned.push(await addresses.allocate(declared[i] ?? 8080 + i));
  }
  // Removed, stopped or its node killed while we waited for addresses.
  if (rt.state !== 'starting' || ctx.stopped) {
    releaseAddresses(ctx, rt);
    return;
  }
  // A reused address belongs to this pod now and answers again.
  for (const a of rt.owned) network.restore(a.host, addresses.perPodAddresses ? undefined : a.port);

  const fieldValues: Record<string, string> = {
    'metadata.name': rt.name,
    'metadata.namespace': rt.namespace,
    'metadata.uid': rt.uid,
    'spec.nodeName': rt.nodeName,
    'status.podIP': first.host,
    'status.hostIP': HOST_IP,
  };
  rt.containers = specs.map((spec, i) => {
    const address =
      i === 0 ? first : addresses.perPodAddresses ? { host: first.host, port: declared[i] ?? 8080 + i } : rt.owned[i];
    // The pod's ServiceAccount, `default` when it names none (as the ServiceAccount admission plugin sets it).
    const inCluster = ctx.inClusterEnv({ namespace: rt.namespace, serviceAccountName: String(rt.pod.spec?.serviceAccountName || 'default') });
    const mounts = mountsOf(spec, volumeDirs);
    const argv = resolved[i] as { command: string[]; own: number };
    // Only the container's own values name paths in its mounts (the kubelet's own are host paths).
    const own = ownEnvOf(spec, fieldValues, rt.pod, inCluster);
    for (const [k, v] of Object.entries(own)) own[k] = rewritePaths(v, mounts);
    const env: Record<string, string> = {
      ...inCluster,
      ...own,
      HOST: address.host,
      PORT: String(address.port),
      POD_NAME: rt.name,
      POD_NAMESPACE: rt.namespace,
      POD_IP: first.host,
      NODE_NAME: rt.nodeName,
      TIME_SCALE: String(clock.scale),
    };
    return {
      name: String(spec.name ?? `c${i}`),
      spec,
      // `$(VAR)` from the container's env, then paths under its mounts to the volumes' directories.
      // Only what the pod spec wrote: the image's own program is the twin's, on the host.
      command: argv.command.map((arg, j) => (j < argv.own ? arg : rewritePaths(expandVars(arg, env), mounts))),
      env,
      declaredPort: declared[i] ?? (i === 0 ? 8080 : undefined),
      address,
      readiness: probePlanOf(spec),
      preStop: hookOf(spec, spec.lifecycle?.preStop),
      logs: [],
      gen: 0,
      restartCount: 0,
      ready: false,
      successes: 0,
      failures: 0,
    } satisfies ContainerRuntime;
  });
  rt.state = 'running';
  rt.startTime = nowStamp(ctx);
  for (const c of rt.containers) spawnContainer(ctx, rt, c);
  scheduleSync(ctx, rt);
  if (rt.pod.metadata.deletionTimestamp) beginTermination(ctx, rt);
}

function spawnContainer(ctx: KubeletContext, rt: PodRuntime, c: ContainerRuntime): void {
  c.gen++;
  c.ready = false;
  c.successes = 0;
  c.failures = 0;
  c.waiting = undefined;
  const log = newInstanceLog(ctx, c);
  const onLine = (text: string, stream: 'stdout' | 'stderr') => log.append({ time: ctx.clock.now(), stream, text });
  const proc = ctx.supervisor.spawn({ name: `${rt.namespace}/${rt.name}/${c.name}`, command: c.command, env: c.env, cwd: ctx.projectRoot, onLine });
  // Resolves once the output pipes are drained: the log is complete, followers stop.
  void proc.exited.then(() => log.end());
  c.proc = proc;
  c.startedAt = nowStamp(ctx);
  ctx.log(`kubelet ${rt.nodeName}: ${rt.namespace}/${rt.name}/${c.name} started pid ${proc.pid} on ${c.address?.host}:${c.address?.port}`);
  emit(ctx, rt, 'Started', `Started container ${c.name}`);
  void proc.exited.then((exit) => onExit(ctx, rt, c, proc, exit));
  startProbing(ctx, rt, c);
}

function onExit(ctx: KubeletContext, rt: PodRuntime, c: ContainerRuntime, proc: ContainerProcess, exit: ProcessExit): void {
  if (c.proc !== proc) return;
  c.probeTimer?.cancel();
  c.killTimer?.cancel();
  c.ready = false;
  const record = terminatedRecord(proc, exit, c.startedAt, nowStamp(ctx));
  if (ctx.stopped || rt.state === 'dead' || rt.state === 'finished') return;
  ctx.log(`kubelet ${rt.nodeName}: ${rt.namespace}/${rt.name}/${c.name} pid ${proc.pid} exited ${exit.signal ?? exit.code}`);
  if (rt.state === 'terminating') {
    c.terminated = record;
    if (rt.containers.every((x) => !x.proc?.running)) finish(ctx, rt);
    else scheduleSync(ctx, rt);
    return;
  }
  // Exited on its own. restartPolicy Never, or OnFailure after a success: the container is done, and
  // once all are, the pod is Succeeded (every exit 0) or Failed, and stays until it is deleted.
  const policy = String(rt.pod.spec?.restartPolicy ?? 'Always');
  if (policy === 'Never' || (policy === 'OnFailure' && record.exitCode === 0)) {
    c.terminated = record;
    if (rt.containers.every((x) => !x.proc?.running && x.terminated)) complete(ctx, rt);
    else scheduleSync(ctx, rt);
    return;
  }
  // restartPolicy Always (or OnFailure after a failure): restarted after a back-off.
  c.lastTerminated = record;
  const delayS = backoffSeconds(ctx.backoff, c.restartCount);
  const tail = proc.tail().slice(-3).join(' | ');
  c.waiting = { reason: 'CrashLoopBackOff', message: `back-off ${delayS}s restarting failed container=${c.name} pod=${rt.name}` };
  emit(ctx, rt, 'BackOff', `Back-off restarting failed container ${c.name} (exit ${record.exitCode})${tail ? `: ${tail}` : ''}`, 'Warning');
  scheduleSync(ctx, rt);
  c.restartTimer = ctx.clock.setTimeout(() => {
    c.restartTimer = undefined;
    if (ctx.stopped || rt.state !== 'running') return;
    c.restartCount++;
    spawnContainer(ctx, rt, c);
    scheduleSync(ctx, rt);
  }, delayS * 1000);
}
