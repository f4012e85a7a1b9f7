import { afterEach, describe, expect, it } from 'vitest';
import { MANAGED_BY, startEndpointsController } from '../../../../harness/twin/controllers/endpoints.ts';
import { PORT_ANNOTATION } from '../../../../harness/twin/controllers/kubelet.ts';
import { timestamp, type ObjectStore } from '../../../../harness/twin/kube/store.ts';
import type { KubeObject } from '../../../../harness/twin/kube/types.ts';
import { THREE_NODES, makeStore } from './helpers.ts';

const cleanups: Array<() => void> = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

function service(name: string, selector: Record<string, string>, ports: unknown[] = [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080 }]): KubeObject {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default', labels: { team: 'shop' } }, spec: { selector, ports } };
}

function pod(name: string, opts: { ip?: string; ready?: boolean; node?: string; labels?: Record<string, string>; containerPorts?: unknown[] } = {}): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', labels: opts.labels ?? { app: 'web' } },
    spec: { nodeName: opts.node ?? 'node-a1', terminationGracePeriodSeconds: 30, containers: [{ name: 'app', image: 'app', ports: opts.containerPorts ?? [{ name: 'http', containerPort: 8080 }] }] },
    status: {
      phase: 'Running',
      ...(opts.ip === undefined ? {} : { podIP: opts.ip }),
      conditions: [{ type: 'Ready', status: opts.ready === false ? 'False' : 'True' }],
    },
  };
}

function setReady(store: ObjectStore, name: string, ready: boolean): void {
  store.modify('pods', 'default', name, (p) => {
    p.status.conditions = [{ type: 'Ready', status: ready ? 'True' : 'False', lastTransitionTime: timestamp(store.clock.now()) }];
  });
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;

/** The Endpoints object of `web` (its subsets are free-form). */
function endpointsOf(store: ObjectStore): Any {
  return store.require('endpoints', 'default', 'web');
}

function slicesOf(store: ObjectStore, svc: string): Any[] {
  return store.list('endpointslices', { namespace: 'default', labelSelector: `kubernetes.io/service-name=${svc}` }).items;
}

function start(...pods: KubeObject[]) {
  const { clock, store } = makeStore(THREE_NODES);
  for (const p of pods) store.create('pods', p);
  const controller = startEndpointsController({ store, clock });
  cleanups.push(() => controller.stop());
  return { clock, store };
}

describe('endpoints and EndpointSlice controller', () => {
  it('keeps one slice per Service with the real controller labels, owner, ports and endpoint fields', async () => {
    const { clock, store } = start(pod('web-1', { ip: '127.0.1.1' }), pod('web-2', { ip: '127.0.1.2', node: 'node-b1' }), pod('other', { ip: '127.0.1.3', labels: { app: 'other' } }));
    const svc = store.create('services', service('web', { app: 'web' }));
    await clock.advance(0);
    const slices = slicesOf(store, 'web');
    expect(slices).toHaveLength(1);
    const [slice] = slices;
    expect(slice.metadata.name).toMatch(/^web-[a-z0-9]{5}$/);
    expect(slice.metadata.labels).toEqual({ team: 'shop', 'kubernetes.io/service-name': 'web', 'endpointslice.kubernetes.io/managed-by': MANAGED_BY });
    expect(slice.metadata.ownerReferences).toEqual([{ apiVersion: 'v1', kind: 'Service', name: 'web', uid: svc.metadata.uid, controller: true, blockOwnerDeletion: true }]);
    expect(slice.addressType).toBe('IPv4');
    expect(slice.ports).toEqual([{ name: 'http', port: 8080, protocol: 'TCP' }]);
    expect(slice.endpoints).toEqual([
      {
        addresses: ['127.0.1.1'],
        conditions: { ready: true, serving: true, terminating: false },
        targetRef: { kind: 'Pod', namespace: 'default', name: 'web-1', uid: store.require('pods', 'default', 'web-1').metadata.uid },
        nodeName: 'node-a1',
        zone: 'us-east-1a',
      },
      expect.objectContaining({ addresses: ['127.0.1.2'], nodeName: 'node-b1', zone: 'us-east-1b' }),
    ]);
    const ep = endpointsOf(store);
    expect(ep.metadata.labels).toEqual({ team: 'shop' });
    expect(ep.subsets).toEqual([
      {
        addresses: [
          { ip: '127.0.1.1', nodeName: 'node-a1', targetRef: expect.objectContaining({ kind: 'Pod', name: 'web-1' }) },
          { ip: '127.0.1.2', nodeName: 'node-b1', targetRef: expect.objectContaining({ kind: 'Pod', name: 'web-2' }) },
        ],
        ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      },
    ]);
  });

  it('follows a pod from ready to terminating (ready false, serving true) to gone, in the same tick', async () => {
    const { clock, store } = start(pod('web-1', { ip: '127.0.1.1' }));
    store.create('services', service('web', { app: 'web' }));
    await clock.advance(0);
    store.delete('pods', 'default', 'web-1');
    await clock.advance(0);
    let [slice] = slicesOf(store, 'web');
    expect(slice.endpoints).toEqual([expect.objectContaining({ addresses: ['127.0.1.1'], conditions: { ready: false, serving: true, terminating: true } })]);
    // The Endpoints object leaves terminating pods out.
    expect(endpointsOf(store).subsets).toBeUndefined();
    // Its readiness probe fails while it drains: no longer serving either.
    setReady(store, 'web-1', false);
    await clock.advance(0);
    [slice] = slicesOf(store, 'web');
    expect(slice.endpoints[0].conditions).toEqual({ ready: false, serving: false, terminating: true });
    const name = slice.metadata.name;
    store.remove('pods', 'default', 'web-1');
    await clock.advance(0);
    // The placeholder: the same slice, no ports, no endpoints.
    [slice] = slicesOf(store, 'web');
    expect(slice.metadata.name).toBe(name);
    expect(slice.endpoints).toEqual([]);
    expect(slice.ports).toEqual([]);
  });

  it('lists a not-ready pod as not ready in the slice and under notReadyAddresses; a pod without an IP not at all', async () => {
    const { clock, store } = start(pod('web-1', { ip: '127.0.1.1', ready: false }), pod('web-2'));
    store.create('services', service('web', { app: 'web' }));
    await clock.advance(0);
    const [slice] = slicesOf(store, 'web');
    expect(slice.endpoints).toEqual([expect.objectContaining({ addresses: ['127.0.1.1'], conditions: { ready: false, serving: false, terminating: false } })]);
    expect(endpointsOf(store).subsets).toEqual([
      { notReadyAddresses: [expect.objectContaining({ ip: '127.0.1.1' })], ports: [{ name: 'http', port: 8080, protocol: 'TCP' }] },
    ]);
    setReady(store, 'web-1', true);
    await clock.advance(0);
    expect(slicesOf(store, 'web')[0].endpoints[0].conditions).toEqual({ ready: true, serving: true, terminating: false });
    expect(endpointsOf(store).subsets[0].addresses).toEqual([expect.objectContaining({ ip: '127.0.1.1' })]);
  });

  it('follows a change of the Service selector and a pod relabelled out of it', async () => {
    const { clock, store } = start(pod('web-1', { ip: '127.0.1.1' }), pod('canary-1', { ip: '127.0.1.5', labels: { app: 'canary' } }));
    store.create('services', service('web', { app: 'web' }));
    await clock.advance(0);
    store.modify('services', 'default', 'web', (s) => {
      s.spec.selector = { app: 'canary' };
    });
    await clock.advance(0);
    expect(slicesOf(store, 'web')[0].endpoints.map((e: { targetRef: { name: string } }) => e.targetRef.name)).toEqual(['canary-1']);
    expect(endpointsOf(store).subsets[0].addresses.map((a: { ip: string }) => a.ip)).toEqual(['127.0.1.5']);
    store.modify('pods', 'default', 'canary-1', (p) => {
      p.metadata.labels = { app: 'retired' };
    });
    await clock.advance(0);
    expect(slicesOf(store, 'web')[0].endpoints).toEqual([]);
    expect(endpointsOf(store).subsets).toBeUndefined();
  });

  it('resolves a named targetPort per pod, one slice per port set, and skips pods without that port', async () => {
    const { clock, store } = start(
      pod('web-1', { ip: '127.0.1.1', containerPorts: [{ name: 'web', containerPort: 9000 }] }),
      pod('web-2', { ip: '127.0.1.2', containerPorts: [{ name: 'web', containerPort: 9001 }] }),
      pod('web-3', { ip: '127.0.1.3', containerPorts: [{ name: 'admin', containerPort: 9100 }] }),
    );
    store.create('services', service('web', { app: 'web' }, [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 'web' }]));
    await clock.advance(0);
    const slices = slicesOf(store, 'web');
    const byPort = Object.fromEntries(slices.map((s) => [s.ports.map((p: { port: number }) => p.port).join(','), s.endpoints.map((e: { addresses: string[] }) => e.addresses[0])]));
    // web-3 serves no port named "web": in a slice with no ports, and in no Endpoints subset.
    expect(byPort).toEqual({ '9000': ['127.0.1.1'], '9001': ['127.0.1.2'], '': ['127.0.1.3'] });
    const subsets = endpointsOf(store).subsets as Array<{ addresses: Array<{ ip: string }>; ports: Array<{ port: number }> }>;
    expect(subsets.map((s) => [s.ports[0].port, s.addresses[0].ip])).toEqual([
      [9000, '127.0.1.1'],
      [9001, '127.0.1.2'],
    ]);
  });

  it('gives the port a pod really listens on in the twin port mode, as the Load Balancer Controller registers it', async () => {
    const remapped = pod('web-1', { ip: '127.0.0.1' });
    remapped.metadata.annotations = { [PORT_ANNOTATION]: '41234' };
    const { clock, store } = start(remapped);
    store.create('services', service('web', { app: 'web' }));
    await clock.advance(0);
    expect(slicesOf(store, 'web')[0].ports).toEqual([{ name: 'http', port: 41234, protocol: 'TCP' }]);
    expect(endpointsOf(store).subsets[0].ports).toEqual([{ name: 'http', port: 41234, protocol: 'TCP' }]);
  });

  it('deletes the Endpoints and the slices with the Service, and puts back a slice someone deleted', async () => {
    const { clock, store } = start(pod('web-1', { ip: '127.0.1.1' }));
    store.create('services', service('web', { app: 'web' }));
    await clock.advance(0);
    const [slice] = slicesOf(store, 'web');
    store.remove('endpointslices', 'default', slice.metadata.name);
    await clock.advance(999);
    expect(slicesOf(store, 'web')).toHaveLength(0);
    await clock.advance(1);
    expect(slicesOf(store, 'web')).toHaveLength(1);
    store.delete('services', 'default', 'web');
    await clock.advance(0);
    expect(slicesOf(store, 'web')).toEqual([]);
    expect(store.get('endpoints', 'default', 'web')).toBeUndefined();
  });
});
