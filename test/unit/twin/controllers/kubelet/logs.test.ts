import { afterEach, describe, expect, it } from 'vitest';
import type { LogRequest, LogSource } from '../../../../../harness/twin/runtime/logs.ts';
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

const req = (o: Partial<LogRequest> = {}): LogRequest => ({ namespace: 'default', name: 'web', container: 'app', previous: false, ...o });

function source(x: LogSource | string): LogSource {
  if (typeof x === 'string') throw new Error(`expected a log, got the message ${JSON.stringify(x)}`);
  return x;
}

const texts = (s: LogSource) => s.lines().map((l) => l.text);

describe('kubelet container logs on a manual clock', () => {
  it('keeps what the container writes, stdout and stderr, at the model time it was written', async () => {
    const { clock, store, spawned, kubelets } = harness();
    store.create('pods', podObject('web'));
    await clock.advance(0);
    const t0 = clock.now();
    spawned[0].write('listening on 8080');
    await clock.advance(2000);
    spawned[0].write('GET / 200', 'stderr');
    const log = source(kubelets.openLog(req()));
    expect(log.lines()).toEqual([
      { time: t0, stream: 'stdout', text: 'listening on 8080' },
      { time: t0 + 2000, stream: 'stderr', text: 'GET / 200' },
    ]);
    expect(log.ended).toBe(false);
  });

  it('says a container that has not started is waiting to start', () => {
    const { store, kubelets } = harness();
    store.create('pods', podObject('web'));
    // Not a tick yet: the kubelet has not started the pod.
    expect(kubelets.openLog(req())).toBe('container "app" in pod "web" is waiting to start: ContainerCreating');
  });

  it('keeps the previous instance across a restart, and says when there is none', async () => {
    const { clock, store, spawned, kubelets } = harness({ backoff: { initialSeconds: 10, maxSeconds: 300 } });
    store.create('pods', podObject('web'));
    await clock.advance(0);
    expect(kubelets.openLog(req({ previous: true }))).toBe('previous terminated container "app" in pod "web" not found');
    spawned[0].write('first run');
    spawned[0].exit(1);
    await clock.advance(0);
    // During the back-off the exited instance is both the current log and the previous one.
    expect(texts(source(kubelets.openLog(req())))).toEqual(['first run']);
    expect(source(kubelets.openLog(req()))).toMatchObject({ ended: true });
    expect(texts(source(kubelets.openLog(req({ previous: true }))))).toEqual(['first run']);
    await clock.advance(10_000);
    expect(spawned).toHaveLength(2);
    spawned[1].write('second run');
    expect(texts(source(kubelets.openLog(req())))).toEqual(['second run']);
    expect(texts(source(kubelets.openLog(req({ previous: true }))))).toEqual(['first run']);
    // A third instance: only the current and the previous one are kept.
    spawned[1].exit(1);
    await clock.advance(20_000);
    spawned[2].write('third run');
    expect(texts(source(kubelets.openLog(req())))).toEqual(['third run']);
    expect(texts(source(kubelets.openLog(req({ previous: true }))))).toEqual(['second run']);
  });

  it('ends a followed log when the container exits, and forgets the logs with the pod', async () => {
    const { clock, store, spawned, kubelets } = harness();
    store.create('pods', podObject('web', {}, { terminationGracePeriodSeconds: 1 }));
    await clock.advance(0);
    const seen: string[] = [];
    source(kubelets.openLog(req())).follow(
      (l) => seen.push(l.text),
      () => seen.push('<end>'),
    );
    spawned[0].write('serving');
    store.delete('pods', 'default', 'web');
    await clock.advance(5000);
    expect(seen).toEqual(['serving', '<end>']);
    expect(getPod(store, 'web')).toBeUndefined();
    expect(kubelets.openLog(req())).toMatch(/is waiting to start/);
  });

  it('bounds each instance by the configured lines', async () => {
    const { clock, store, spawned, kubelets } = harness({ logLimits: { maxLines: 2 } });
    store.create('pods', podObject('web'));
    await clock.advance(0);
    for (const t of ['a', 'b', 'c']) spawned[0].write(t);
    expect(texts(source(kubelets.openLog(req())))).toEqual(['b', 'c']);
  });

  it('reads the pod with the given uid only', async () => {
    const { clock, store, spawned, kubelets } = harness();
    store.create('pods', podObject('web'));
    await clock.advance(0);
    spawned[0].write('hello');
    const uid = getPod(store, 'web')!.metadata.uid;
    expect(texts(source(kubelets.openLog(req({ uid }))))).toEqual(['hello']);
    expect(kubelets.openLog(req({ uid: 'another' }))).toMatch(/is waiting to start/);
  });
});
