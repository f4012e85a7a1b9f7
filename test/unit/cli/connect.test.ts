import { describe, expect, it } from 'vitest';
import { trafficUrl } from '../../../harness/cli/connect.ts';
import { EnvironmentError } from '../../../harness/core/errors.ts';
import type { Elbv2Port, ListenerEndpoint } from '../../../harness/platform/ports.ts';
import { parseSpec } from '../../../harness/matrix/load.ts';

const target = (over: Record<string, unknown> = {}) =>
  parseSpec({
    target: { context: 'staging', allowedContexts: ['staging'], ingress: 'web', ...over },
    matrix: { preStopSeconds: [0], terminationGracePeriodSeconds: [30], readinessGate: [true], deregistrationDelaySeconds: [300] },
    disruptions: ['rollout'],
  }).spec.target;
const elbv2 = (listener: ListenerEndpoint | undefined) => ({ listenerOf: async () => listener }) as unknown as Elbv2Port;
const noLookup = async (host: string) => {
  throw new Error(`no lookup expected, got one for ${host}`);
};

describe('trafficUrl', () => {
  it('takes the load balancer DNS name with the forwarding listener, leaving out the default port', async () => {
    const resolved: string[] = [];
    const lookup = async (host: string) => void resolved.push(host);
    const http = await trafficUrl(target(), elbv2({ loadBalancerName: 'lb', dnsName: 'lb-1.example.test', port: 80, protocol: 'HTTP' }), 'arn:tg', lookup);
    expect(http).toEqual({ url: 'http://lb-1.example.test', source: 'load balancer lb, HTTP listener on port 80' });
    const https = await trafficUrl(target(), elbv2({ loadBalancerName: 'lb', dnsName: 'lb-1.example.test', port: 8443, protocol: 'HTTPS' }), 'arn:tg', lookup);
    expect(https.url).toBe('https://lb-1.example.test:8443');
    expect(resolved).toEqual(['lb-1.example.test', 'lb-1.example.test']);
  });

  it('resolves nothing for an IP address (the twin: 127.0.0.1)', async () => {
    const r = await trafficUrl(target(), elbv2({ loadBalancerName: 'twin', dnsName: '127.0.0.1', port: 41234, protocol: 'HTTP' }), 'arn:tg', noLookup);
    expect(r.url).toBe('http://127.0.0.1:41234');
  });

  it('fails before any change when the address does not resolve, or no listener forwards to the group', async () => {
    const enotfound = async () => {
      throw Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' });
    };
    await expect(trafficUrl(target({ url: 'https://web.staging.example.test' }), elbv2(undefined), 'arn:tg', enotfound)).rejects.toThrow(
      new EnvironmentError('Expected the traffic address web.staging.example.test (target.url) to resolve, got ENOTFOUND; nothing was changed'),
    );
    await expect(trafficUrl(target(), elbv2(undefined), 'arn:tg', noLookup)).rejects.toThrow(/^Expected a load balancer listener that forwards to arn:tg, got none/);
  });
});
