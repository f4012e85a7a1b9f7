import { afterEach, describe, expect, it } from 'vitest';
import { startReadinessGateWebhook } from '../../../../harness/twin/controllers/gates.ts';
import type { ObjectStore } from '../../../../harness/twin/kube/store.ts';
import { makeStore } from './helpers.ts';

const cleanups: Array<() => void> = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

const INJECT = { 'elbv2.k8s.aws/pod-readiness-gate-inject': 'enabled' };

function setup() {
  const { clock, store } = makeStore([], [{ name: 'gated', labels: INJECT }, { name: 'plain' }]);
  const webhook = startReadinessGateWebhook({ store });
  cleanups.push(() => webhook.stop());
  for (const ns of ['gated', 'plain']) {
    service(store, ns, 'web', { app: 'web' });
    service(store, ns, 'api', { app: 'api' });
    binding(store, ns, 'k8s-web-tg', 'web');
  }
  return { clock, store, webhook };
}

function service(store: ObjectStore, namespace: string, name: string, selector: Record<string, string>) {
  store.create('services', { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace }, spec: { selector, ports: [{ port: 80, targetPort: 8080 }] } });
}

function binding(store: ObjectStore, namespace: string, name: string, serviceName: string, targetType = 'ip') {
  store.create('targetgroupbindings', {
    apiVersion: 'elbv2.k8s.aws/v1beta1',
    kind: 'TargetGroupBinding',
    metadata: { name, namespace },
    spec: { targetGroupARN: `arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/${name}/1`, targetType, serviceRef: { name: serviceName, port: 80 } },
  });
}

function pod(store: ObjectStore, namespace: string, name: string, labels: Record<string, string>, readinessGates?: unknown[]) {
  return store.create('pods', {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, labels },
    spec: { containers: [{ name: 'c', image: 'i' }], ...(readinessGates ? { readinessGates } : {}) },
  });
}

describe('readiness-gate webhook', () => {
  it('injects the target-health gate for a pod selected by a bound service in a labelled namespace', () => {
    const { store } = setup();
    const p = pod(store, 'gated', 'web-1', { app: 'web', version: 'v1' });
    expect(p.spec.readinessGates).toEqual([{ conditionType: 'target-health.elbv2.k8s.aws/k8s-web-tg' }]);
  });

  it('does nothing in a namespace without the label', () => {
    const { store } = setup();
    expect(pod(store, 'plain', 'web-1', { app: 'web' }).spec.readinessGates).toBeUndefined();
  });

  it('does nothing for pods no bound service selects, or that opt out', () => {
    const { store } = setup();
    expect(pod(store, 'gated', 'api-1', { app: 'api' }).spec.readinessGates).toBeUndefined();
    expect(pod(store, 'gated', 'other', { app: 'other' }).spec.readinessGates).toBeUndefined();
    expect(pod(store, 'gated', 'web-x', { app: 'web', 'elbv2.k8s.aws/pod-readiness-gate-inject': 'disabled' }).spec.readinessGates).toBeUndefined();
  });

  it('adds one gate per matching binding, skips instance targets, and never duplicates a gate', () => {
    const { store } = setup();
    binding(store, 'gated', 'k8s-web-tg2', 'web');
    binding(store, 'gated', 'k8s-web-instance', 'web', 'instance');
    const p = pod(store, 'gated', 'web-1', { app: 'web' }, [{ conditionType: 'target-health.elbv2.k8s.aws/k8s-web-tg' }, { conditionType: 'example.com/own' }]);
    expect(p.spec.readinessGates).toEqual([
      { conditionType: 'target-health.elbv2.k8s.aws/k8s-web-tg' },
      { conditionType: 'example.com/own' },
      { conditionType: 'target-health.elbv2.k8s.aws/k8s-web-tg2' },
    ]);
  });

  it('acts only at creation: labelling a namespace later affects new pods only', () => {
    const { store } = setup();
    const before = pod(store, 'plain', 'web-1', { app: 'web' });
    store.modify('namespaces', undefined, 'plain', (ns) => void (ns.metadata.labels = INJECT));
    store.modify('pods', 'plain', 'web-1', (p) => void (p.metadata.labels = { ...p.metadata.labels, touched: 'yes' }));
    expect(store.require('pods', 'plain', 'web-1').spec.readinessGates).toBeUndefined();
    expect(before.spec.readinessGates).toBeUndefined();
    expect(pod(store, 'plain', 'web-2', { app: 'web' }).spec.readinessGates).toEqual([{ conditionType: 'target-health.elbv2.k8s.aws/k8s-web-tg' }]);
  });

  it('stops injecting after stop()', () => {
    const { store, webhook } = setup();
    webhook.stop();
    expect(pod(store, 'gated', 'web-1', { app: 'web' }).spec.readinessGates).toBeUndefined();
  });
});
