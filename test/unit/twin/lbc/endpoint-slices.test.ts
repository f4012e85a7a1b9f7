import { afterEach, describe, expect, it } from 'vitest';
import { seededRandom } from '../../../../harness/core/random.ts';
import { createAlbTwin } from '../../../../harness/twin/alb/twin.ts';
import type { TargetRef } from '../../../../harness/twin/alb/types.ts';
import { startEndpointsController } from '../../../../harness/twin/controllers/endpoints.ts';
import { PORT_ANNOTATION } from '../../../../harness/twin/controllers/kubelet.ts';
import { parseTwinConfig } from '../../../../harness/twin/config.ts';
import type { KubeObject } from '../../../../harness/twin/kube/types.ts';
import { startLoadBalancerController } from '../../../../harness/twin/lbc/controller.ts';
import { Network } from '../../../../harness/twin/network.ts';
import { THREE_NODES, makeStore } from '../controllers/helpers.ts';

const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

function pod(name: string, ip: string, conditions: Record<string, string> = { Ready: 'True', ContainersReady: 'True' }): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', labels: { app: 'web' } },
    spec: { nodeName: 'node-a1', terminationGracePeriodSeconds: 30, containers: [{ name: 'app', image: 'app', ports: [{ containerPort: 8080 }] }] },
    status: { phase: 'Running', podIP: ip, conditions: Object.entries(conditions).map(([type, status]) => ({ type, status })) },
  };
}

/** A store, the ALB twin's control plane with one target group, a Service, a binding and the controller twin. */
function setup(opts: { slices: boolean; endpointsController?: boolean; pods: KubeObject[] }) {
  const { clock, store } = makeStore(THREE_NODES);
  const config = parseTwinConfig({ controller: { enableEndpointSlices: opts.slices } });
  const alb = createAlbTwin({ clock, random: seededRandom(1), config: config.alb, region: 'us-east-1', network: new Network(), healthProbe: async () => ({ kind: 'status', status: 200 }) });
  cleanups.push(() => alb.close());
  const tg = alb.createTargetGroup({ name: 'web-tg', port: 8080 });
  for (const p of opts.pods) store.create('pods', p);
  store.create('services', { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'default' }, spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080 }] } });
  store.create('targetgroupbindings', {
    apiVersion: 'elbv2.k8s.aws/v1beta1',
    kind: 'TargetGroupBinding',
    metadata: { name: 'web-tg', namespace: 'default' },
    spec: { targetGroupARN: tg.arn, targetType: 'ip', serviceRef: { name: 'web', port: 80 } },
  });
  if (opts.endpointsController !== false) {
    const endpoints = startEndpointsController({ store, clock });
    cleanups.push(() => endpoints.stop());
  }
  // The target group is in no load balancer (no listener is opened), so its targets stay `unused`:
  // what the controller registered is read from its calls.
  const registered = new Set<string>();
  const recording = new Proxy(alb, {
    get(target, prop, receiver) {
      if (prop === 'registerTargets' || prop === 'deregisterTargets') {
        return (arn: string, list: TargetRef[]) => {
          for (const t of list) registered[prop === 'registerTargets' ? 'add' : 'delete'](`${t.id}:${t.port}`);
          return target[prop](arn, list);
        };
      }
      if (prop === 'describeTargetHealth') return (arn: string) => target.describeTargetHealth(arn).map((t) => ({ ...t, state: registered.has(`${t.target.id}:${t.target.port}`) ? 'healthy' : 'draining' }));
      return Reflect.get(target, prop, receiver);
    },
  });
  const lbc = startLoadBalancerController({ store, clock, alb: recording, config: config.controller });
  cleanups.push(() => lbc.stop());
  const targets = () => [...registered].sort();
  return { clock, store, targets };
}

describe('the Load Balancer Controller twin following EndpointSlices', () => {
  it('registers the slice endpoints one reaction after the slice changed, at the port the pod really listens on, and deregisters a terminating one', async () => {
    const remapped = pod('web-2', '127.0.0.1');
    remapped.metadata.annotations = { [PORT_ANNOTATION]: '41234' };
    const { clock, store, targets } = setup({ slices: true, pods: [pod('web-1', '127.0.1.1'), remapped] });
    await clock.advance(999);
    expect(targets()).toEqual([]);
    await clock.advance(1);
    expect(targets()).toEqual(['127.0.0.1:41234', '127.0.1.1:8080']);
    store.delete('pods', 'default', 'web-1');
    await clock.advance(999);
    expect(targets()).toEqual(['127.0.0.1:41234', '127.0.1.1:8080']);
    await clock.advance(1);
    expect(targets()).toEqual(['127.0.0.1:41234']);
  });

  it('registers a not-ready endpoint whose containers are ready (its readiness gate pending), but not one whose containers are not', async () => {
    const { clock, targets } = setup({
      slices: true,
      pods: [pod('web-1', '127.0.1.1', { Ready: 'False', ContainersReady: 'True' }), pod('web-2', '127.0.1.2', { Ready: 'False', ContainersReady: 'False' })],
    });
    await clock.advance(1_000);
    expect(targets()).toEqual(['127.0.1.1:8080']);
  });

  it('reads slices, not pods: without an endpoints controller nothing registers, while the default reads the pods', async () => {
    const onSlices = setup({ slices: true, endpointsController: false, pods: [pod('web-1', '127.0.1.1')] });
    await onSlices.clock.advance(5_000);
    expect(onSlices.targets()).toEqual([]);
    const onPods = setup({ slices: false, endpointsController: false, pods: [pod('web-1', '127.0.1.1')] });
    await onPods.clock.advance(1_000);
    expect(onPods.targets()).toEqual(['127.0.1.1:8080']);
  });
});
