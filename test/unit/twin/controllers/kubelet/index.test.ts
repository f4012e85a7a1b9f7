import { afterEach, describe, expect, it } from 'vitest';
import { nodeObject } from '../helpers.ts';
import { getPod, kubeletHarness, podObject } from './fakes.ts';

const stops: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (stops.length) await stops.pop()!();
});

function harness() {
  const h = kubeletHarness({ onSigterm: 'ignore', checks: { probe: async () => ({ ok: true, detail: 'ok' }) } });
  stops.push(() => h.kubelets.stop());
  return h;
}

describe('kubelet event dispatch on a manual clock', () => {
  it('runs only pods bound to a node it knows, and starts them when the node appears', async () => {
    const { clock, store, spawned } = harness();
    store.create('pods', podObject('later', {}, { nodeName: 'node-z' }));
    await clock.advance(0);
    expect(spawned).toEqual([]);
    store.create('nodes', nodeObject({ name: 'node-z' }));
    await clock.advance(0);
    expect(spawned.map((p) => p.name)).toEqual(['default/later/app']);
    expect(getPod(store, 'later')?.status?.phase).toBe('Running');
  });

  it('SIGKILLs at once when the pod object is removed, and releases its address', async () => {
    const { clock, store, spawned, released } = harness();
    store.create('pods', podObject('web'));
    await clock.advance(0);
    store.remove('pods', 'default', 'web');
    await clock.advance(0);
    expect(spawned[0].signals.map((s) => s.signal)).toEqual(['SIGKILL']);
    expect(released).toEqual([{ host: '127.0.1.1', port: 8080 }]);
  });

  it('killNode SIGKILLs the node’s processes, blackholes their addresses and reports nothing more', async () => {
    const { clock, store, ctx, kubelets, spawned } = harness();
    store.create('pods', podObject('web'));
    await clock.advance(0);
    kubelets.killNode('node-a');
    await clock.advance(0);
    expect(spawned[0].signals.map((s) => s.signal)).toEqual(['SIGKILL']);
    expect(ctx.network.isBlackholed('127.0.1.1')).toBe(true);
    store.delete('pods', 'default', 'web');
    await clock.advance(60_000);
    // Nobody finishes the termination: the object stays, with the last status reported before the kill.
    expect(getPod(store, 'web')?.status?.phase).toBe('Running');
  });

  it('stop() kills every process, releases every address and leaves no timer behind', async () => {
    const { clock, store, kubelets, spawned, released } = harness();
    store.create('pods', podObject('a', { readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 } }));
    store.create('pods', podObject('b'));
    await clock.advance(0);
    store.delete('pods', 'default', 'b');
    await clock.advance(0);
    await kubelets.stop();
    expect(spawned.every((p) => !p.running)).toBe(true);
    expect(released).toHaveLength(2);
    expect(clock.pending).toBe(0);
  });
});
