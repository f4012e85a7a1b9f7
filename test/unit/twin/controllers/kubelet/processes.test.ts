import { afterEach, describe, expect, it } from 'vitest';
import { backoffSeconds } from '../../../../../harness/twin/controllers/kubelet/processes.ts';
import { getPod, kubeletHarness, podObject } from './fakes.ts';

const stops: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (stops.length) await stops.pop()!();
});

function harness(opts: Parameters<typeof kubeletHarness>[0] = {}) {
  const h = kubeletHarness(opts);
  stops.push(() => h.kubelets.stop());
  return h;
}

describe('kubelet processes on a manual clock', () => {
  it('doubles the crash-loop back-off up to its maximum', () => {
    const backoff = { initialSeconds: 10, maxSeconds: 300 };
    expect([0, 1, 2, 5, 6].map((n) => backoffSeconds(backoff, n))).toEqual([10, 20, 40, 300, 300]);
  });

  it('starts the container command with its address, pod fields and time scale in the env', async () => {
    const { clock, store, spawned } = harness();
    store.create('pods', podObject('web', { env: [{ name: 'GREETING', value: 'hi' }] }));
    await clock.advance(0);
    const status = getPod(store, 'web')!.status;
    expect(status).toMatchObject({ phase: 'Running', podIP: '127.0.1.1', hostIP: '127.0.0.1' });
    expect(spawned.map((p) => p.name)).toEqual(['default/web/app']);
    expect(status.containerStatuses[0]).toMatchObject({ ready: true, started: true, containerID: `twin://${spawned[0].pid}` });
  });

  it('restarts a container that exits on its own after the back-off, reporting CrashLoopBackOff meanwhile', async () => {
    const { clock, store, spawned } = harness({ backoff: { initialSeconds: 10, maxSeconds: 300 } });
    store.create('pods', podObject('web'));
    await clock.advance(0);
    spawned[0].exit(3);
    await clock.advance(0);
    const waiting = getPod(store, 'web')!.status.containerStatuses[0];
    expect(waiting).toMatchObject({ ready: false, restartCount: 0, state: { waiting: { reason: 'CrashLoopBackOff' } }, lastState: { terminated: { exitCode: 3, reason: 'Error' } } });
    await clock.advance(9_999);
    expect(spawned).toHaveLength(1);
    await clock.advance(1);
    expect(spawned).toHaveLength(2);
    expect(getPod(store, 'web')!.status.containerStatuses[0]).toMatchObject({ restartCount: 1, state: { running: {} } });
    // The second crash waits twice as long.
    spawned[1].exit(3);
    await clock.advance(19_999);
    expect(spawned).toHaveLength(2);
    await clock.advance(1);
    expect(spawned).toHaveLength(3);
  });

  it('fails a pod whose image it does not know, without starting anything', async () => {
    const { clock, store, spawned, released } = harness();
    store.create('pods', podObject('web', { image: 'nowhere:1' }));
    await clock.advance(0);
    expect(spawned).toEqual([]);
    expect(released).toEqual([]);
    const status = getPod(store, 'web')!.status;
    expect(status.phase).toBe('Failed');
    expect(status.message).toMatch(/^Failed to pull image "nowhere:1": expected an image the twin knows/);
    expect(store.list('events').items.map((e) => e.reason)).toContain('Failed');
  });

  it('refuses an image whose check fails (the gateway without nginx), naming what to install, and starts it once the check passes', async () => {
    let refusal: string | undefined = 'expected an nginx executable on PATH, got none; install Debian\'s package with `apt-get install nginx`';
    const { clock, store, spawned, released } = harness({ imageChecks: { app: async () => refusal } });
    store.create('pods', podObject('gw'));
    await clock.advance(0);
    expect(spawned).toEqual([]);
    expect(released).toEqual([]);
    const status = getPod(store, 'gw')!.status;
    expect(status.phase).toBe('Failed');
    expect(status.message).toBe(`Cannot run container app (image app): ${refusal}`);
    const events = store.list('events').items.filter((e) => e.reason === 'Failed');
    expect(events.map((e) => e.message)).toEqual([status.message]);
    refusal = undefined;
    store.create('pods', podObject('gw2'));
    await clock.advance(0);
    expect(spawned.map((p) => p.name)).toEqual(['default/gw2/app']);
  });

  it('gives every container the in-cluster env, under its own', async () => {
    const inCluster = { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: '6443', KUBERNETES_SERVICE_ACCOUNT_TOKEN_FILE: '/state/serviceaccount/token' };
    const asked: Array<{ namespace: string; serviceAccountName: string }> = [];
    const { clock, store, spawned } = harness({
      inClusterEnv: (pod) => {
        asked.push(pod);
        return inCluster;
      },
    });
    store.create('pods', podObject('web', { env: [{ name: 'KUBERNETES_SERVICE_PORT', value: '1' }] }));
    await clock.advance(0);
    expect(spawned[0].env).toMatchObject({ ...inCluster, KUBERNETES_SERVICE_PORT: '1', POD_NAME: 'web' });
    // A pod that names no ServiceAccount runs as `default`.
    expect(asked).toEqual([{ namespace: 'default', serviceAccountName: 'default' }]);
  });

  it('asks for the in-cluster env of the pod\'s own ServiceAccount', async () => {
    const asked: Array<{ namespace: string; serviceAccountName: string }> = [];
    const { clock, store } = harness({ inClusterEnv: (pod) => (asked.push(pod), {}) });
    store.create('pods', podObject('gw', {}, { serviceAccountName: 'ingress-nginx' }));
    await clock.advance(0);
    expect(asked).toEqual([{ namespace: 'default', serviceAccountName: 'ingress-nginx' }]);
  });
});
