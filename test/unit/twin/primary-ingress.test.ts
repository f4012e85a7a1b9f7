import { describe, expect, it } from 'vitest';
import { loadTwinConfig } from '../../../harness/twin/config.ts';
import { GATEWAY_DEPLOYMENT, GATEWAY_INGRESS, GATEWAY_NAMESPACE, REPLICAS_WHEN_USED_ANNOTATION } from '../../../harness/twin/gateway/index.ts';
import type { KubeObject } from '../../../harness/twin/kube/types.ts';
import { primaryIngress } from '../../../harness/twin/twin.ts';

const ing = (namespace: string, name: string, cls: string): KubeObject => ({ apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name, namespace }, spec: { ingressClassName: cls } });

describe("the twin's primary Ingress (ROLLOUT_HARNESS_ALB_URL)", () => {
  it("is the opted-in namespace's ALB Ingress, not the gateway's ALB nor a class-nginx Ingress", () => {
    // As the store lists them: by namespace/name, so the gateway's namespace comes first.
    const listed = [ing('ingress-nginx', 'gateway', 'alb'), ing('shop', 'web', 'alb'), ing('shop', 'web-gateway', 'nginx')];
    expect(primaryIngress(listed, 'shop')?.metadata.name).toBe('web');
    expect(primaryIngress(listed.slice(0, 1), 'shop')?.metadata.name).toBe('gateway');
    expect(primaryIngress([ing('shop', 'web-gateway', 'nginx')], 'shop')?.metadata.name).toBe('web-gateway');
    expect(primaryIngress([], 'shop')).toBeUndefined();
  });
});

describe("the default world's gateway", () => {
  it('is ingress-nginx at 0 replicas, on on-demand nodes, with its own ALB Ingress and a class-nginx Ingress to the app', async () => {
    const config = await loadTwinConfig();
    expect(config.gateway.syncSeconds).toBe(1);
    const objects = config.objects as KubeObject[];
    const find = (kind: string, namespace: string, name: string) => objects.find((o) => o.kind === kind && o.metadata.namespace === namespace && o.metadata.name === name);
    const d = find('Deployment', GATEWAY_NAMESPACE, GATEWAY_DEPLOYMENT)!;
    expect(d.spec.replicas).toBe(0);
    expect(d.metadata.annotations?.[REPLICAS_WHEN_USED_ANNOTATION]).toBe('2');
    const pod = d.spec.template.spec;
    expect(pod).toMatchObject({ terminationGracePeriodSeconds: 300, nodeSelector: { 'eks.amazonaws.com/capacityType': 'ON_DEMAND' } });
    expect(pod.containers[0]).toMatchObject({
      name: 'controller',
      image: 'rollout-harness/ingress-nginx',
      ports: [{ name: 'http', containerPort: 80 }],
      readinessProbe: { httpGet: { path: '/healthz', port: 10254 } },
      lifecycle: { preStop: { exec: { command: ['/wait-shutdown'] } } },
    });
    expect(find('PodDisruptionBudget', GATEWAY_NAMESPACE, GATEWAY_DEPLOYMENT)?.spec.maxUnavailable).toBe(1);
    expect(find('Service', GATEWAY_NAMESPACE, GATEWAY_DEPLOYMENT)?.spec.ports).toEqual([{ name: 'http', port: 80, targetPort: 'http' }]);
    const gw = find('Ingress', GATEWAY_NAMESPACE, GATEWAY_INGRESS)!;
    expect(gw.spec.ingressClassName).toBe('alb');
    expect(gw.metadata.annotations?.['alb.ingress.kubernetes.io/load-balancer-attributes']).toContain('access_logs.s3.prefix=twin-gateway');
    expect(find('Ingress', 'shop', 'web-gateway')?.spec.ingressClassName).toBe('nginx');
    // The app's own path is unchanged: the first Deployment and Ingress of the file are shop/web.
    expect(objects.find((o) => o.kind === 'Deployment')?.metadata.name).toBe('web');
    expect(objects.find((o) => o.kind === 'Ingress')?.metadata.name).toBe('web');
  });
});
