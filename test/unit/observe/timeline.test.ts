/** The timeline's pod events carry node and IP on every change, terminating and deleted included (attribution joins log targets to pods by IP). */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../harness/core/clock.ts';
import { observe, Timeline } from '../../../harness/observe/timeline.ts';
import type { Elbv2Port, KObject, KubernetesPort, PodEvent } from '../../../harness/platform/ports.ts';

const pod = (name: string, extra: Partial<KObject> = {}): KObject => ({
  metadata: { name, ...extra.metadata },
  spec: { nodeName: 'node-a1' },
  status: { podIP: '127.0.1.7', conditions: [{ type: 'Ready', status: 'True' }], ...extra.status },
});

describe('observe', () => {
  it('records node and IP on terminating and deleted pod events', async () => {
    let emit: (e: PodEvent) => void = () => {};
    let ended: () => void = () => {};
    const k8s = {
      watchPods: (_ns: string, _sel: string, onEvent: (e: PodEvent) => void, signal: AbortSignal) => {
        emit = onEvent;
        return new Promise<void>((resolve) => {
          ended = resolve;
          signal.addEventListener('abort', () => resolve());
        });
      },
    } as unknown as KubernetesPort;
    const elbv2 = { describeTargetHealth: async () => [] } as unknown as Elbv2Port;
    const clock = new ManualClock(1_000_000);
    const timeline = new Timeline(clock);
    const o = observe({ k8s, elbv2, targetGroupArn: 'arn', namespace: 'shop', labelSelector: 'app=web', clock, timeline });
    await o.ready;
    emit({ type: 'ADDED', pod: pod('web-1'), initial: true });
    emit({ type: 'MODIFIED', pod: pod('web-1', { metadata: { deletionTimestamp: '2026-01-01T00:00:00Z' } }) });
    // A DELETED event whose object lost its IP: the last one seen is used.
    emit({ type: 'DELETED', pod: { metadata: { name: 'web-1' }, spec: { nodeName: 'node-a1' }, status: {} } });
    await o.stop();
    ended();
    const pods = timeline.events.filter((e) => e.type === 'pod');
    expect(pods).toEqual([
      { t: 0, type: 'pod', pod: 'web-1', change: 'present', node: 'node-a1', ip: '127.0.1.7' },
      { t: 0, type: 'pod', pod: 'web-1', change: 'terminating', node: 'node-a1', ip: '127.0.1.7' },
      { t: 0, type: 'pod', pod: 'web-1', change: 'deleted', node: 'node-a1', ip: '127.0.1.7' },
    ]);
  });

  it('watches a gateway cell\'s gateway pods too, their events marked role gateway, the app\'s unmarked', async () => {
    const emit = new Map<string, (e: PodEvent) => void>();
    const k8s = {
      watchPods: (ns: string, sel: string, onEvent: (e: PodEvent) => void, signal: AbortSignal) => {
        emit.set(`${ns} ${sel}`, onEvent);
        return new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()));
      },
    } as unknown as KubernetesPort;
    const elbv2 = { describeTargetHealth: async () => [] } as unknown as Elbv2Port;
    const clock = new ManualClock(1_000_000);
    const timeline = new Timeline(clock);
    const o = observe({ k8s, elbv2, targetGroupArn: 'arn', namespace: 'shop', labelSelector: 'app=web', clock, timeline, gateway: { namespace: 'ingress-nginx', labelSelector: 'app.kubernetes.io/name=ingress-nginx' } });
    await o.ready;
    expect([...emit.keys()]).toEqual(['shop app=web', 'ingress-nginx app.kubernetes.io/name=ingress-nginx']);
    emit.get('shop app=web')!({ type: 'ADDED', pod: pod('web-1'), initial: true });
    emit.get('ingress-nginx app.kubernetes.io/name=ingress-nginx')!({ type: 'ADDED', pod: pod('gw-1', { status: { podIP: '127.0.2.9' } }), initial: true });
    emit.get('ingress-nginx app.kubernetes.io/name=ingress-nginx')!({ type: 'MODIFIED', pod: pod('gw-1', { metadata: { deletionTimestamp: '2026-01-01T00:00:00Z' }, status: { podIP: '127.0.2.9' } }) });
    await o.stop();
    expect(timeline.events.filter((e) => e.type === 'pod')).toEqual([
      { t: 0, type: 'pod', pod: 'web-1', change: 'present', node: 'node-a1', ip: '127.0.1.7' },
      { t: 0, type: 'pod', pod: 'gw-1', change: 'present', node: 'node-a1', ip: '127.0.2.9', role: 'gateway' },
      { t: 0, type: 'pod', pod: 'gw-1', change: 'terminating', node: 'node-a1', ip: '127.0.2.9', role: 'gateway' },
    ]);
    expect(o.state.pods.has('gw-1')).toBe(false);
  });

  it('says since when a target change could have happened: the send time of the poll before', async () => {
    const states = ['healthy', 'healthy', 'draining'];
    let call = 0;
    const elbv2 = { describeTargetHealth: async () => [{ id: '127.0.1.7', port: 8080, state: states[Math.min(call++, states.length - 1)] }] } as unknown as Elbv2Port;
    const k8s = { watchPods: (_ns: string, _sel: string, _on: unknown, signal: AbortSignal) => new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve())) } as unknown as KubernetesPort;
    const clock = new ManualClock(1_000_000);
    const timeline = new Timeline(clock);
    const o = observe({ k8s, elbv2, targetGroupArn: 'arn', namespace: 'shop', labelSelector: 'app=web', clock, timeline, pollMs: 1000 });
    await o.ready;
    await clock.advance(1000);
    await clock.advance(1000);
    await o.stop();
    expect(timeline.events.filter((e) => e.type === 'target')).toEqual([
      { t: 0, type: 'target', target: '127.0.1.7:8080', state: 'healthy' },
      { t: 2, type: 'target', target: '127.0.1.7:8080', state: 'draining', from: 'healthy', since: 1 },
    ]);
  });
});
