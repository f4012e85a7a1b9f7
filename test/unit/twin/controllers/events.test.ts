import { describe, expect, it } from 'vitest';
import { recordEvent } from '../../../../harness/twin/controllers/events.ts';
import { makeStore, nodeObject } from './helpers.ts';

describe('recordEvent', () => {
  it('creates a core/v1 Event named <object>.<hex> about the object', () => {
    const { clock, store } = makeStore();
    const pod = store.create('pods', { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web-1', namespace: 'default' }, spec: {} });
    const event = recordEvent(store, clock, pod, 'Normal', 'Scheduled', 'Successfully assigned default/web-1 to node-a1', 'default-scheduler');
    expect(event.metadata.name).toMatch(/^web-1\.[0-9a-f]+$/);
    expect(event).toMatchObject({
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { namespace: 'default' },
      involvedObject: { apiVersion: 'v1', kind: 'Pod', name: 'web-1', namespace: 'default', uid: pod.metadata.uid },
      type: 'Normal',
      reason: 'Scheduled',
      message: 'Successfully assigned default/web-1 to node-a1',
      count: 1,
      firstTimestamp: '2024-05-01T00:00:00Z',
      lastTimestamp: '2024-05-01T00:00:00Z',
      source: { component: 'default-scheduler' },
    });
  });

  it('counts a repeat on the same Event and keeps different messages apart', async () => {
    const { clock, store } = makeStore();
    const pod = store.create('pods', { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web-1', namespace: 'default' }, spec: {} });
    const first = recordEvent(store, clock, pod, 'Warning', 'FailedScheduling', '0/1 nodes are available', 'default-scheduler');
    await clock.advance(5_000);
    const again = recordEvent(store, clock, pod, 'Warning', 'FailedScheduling', '0/1 nodes are available', 'default-scheduler');
    expect(again.metadata.name).toBe(first.metadata.name);
    expect(again).toMatchObject({ count: 2, firstTimestamp: '2024-05-01T00:00:00Z', lastTimestamp: '2024-05-01T00:00:05Z' });
    const other = recordEvent(store, clock, pod, 'Warning', 'FailedScheduling', '0/2 nodes are available', 'default-scheduler');
    expect(other.metadata.name).not.toBe(first.metadata.name);
    expect(store.list('events', { namespace: 'default' }).items).toHaveLength(2);
  });

  it('puts events about cluster-scoped objects in default', () => {
    const { clock, store } = makeStore();
    const node = store.create('nodes', nodeObject({ name: 'node-a1' }));
    expect(recordEvent(store, clock, node, 'Normal', 'NodeReady', 'ready').metadata.namespace).toBe('default');
  });
});
