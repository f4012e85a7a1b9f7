/** Reading a gateway cell's gateway logs through a stand-in Kubernetes port: every pod, restarts, gone pods said. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../../../harness/core/paths.ts';
import { ApiError } from '../../../harness/core/errors.ts';
import { gatewayPhaseSettings, gatewayPodsOf, readCellGatewayLogs, readGatewayLogs } from '../../../harness/explain/gateway-fetch.ts';
import type { KObject, KubernetesPort, PodLogOptions } from '../../../harness/platform/ports.ts';

const nginx = readFileSync(path.join(projectRoot, 'fixtures/gateway-logs/nginx-upstreaminfo.log'), 'utf8');
const UA = 'rollout-harness/0.1.0 run-1/cell-1';
const pod = (name: string, restartCount = 0): KObject => ({ metadata: { name }, status: { containerStatuses: [{ name: 'controller', restartCount }] } }) as KObject;

/** A stand-in port: the pods listed now, each pod's current and previous log; records every read. */
function port(pods: KObject[], logs: Record<string, string | Error>): { k8s: KubernetesPort; reads: Array<{ pod: string } & PodLogOptions> } {
  const reads: Array<{ pod: string } & PodLogOptions> = [];
  const k8s = {
    listPods: async (namespace: string, selector?: string) => {
      expect([namespace, selector]).toEqual(['ingress-nginx', 'app.kubernetes.io/name=ingress-nginx']);
      return pods;
    },
    readPodLog: async (_ns: string, name: string, opts: PodLogOptions = {}) => {
      reads.push({ pod: name, ...opts });
      const text = logs[opts.previous ? `${name} previous` : name];
      if (text instanceof Error) throw text;
      if (text === undefined) throw new ApiError(`no log of ${name}`, 404);
      return text;
    },
  } as unknown as KubernetesPort;
  return { k8s, reads };
}

const request = { namespace: 'ingress-nginx', labelSelector: 'app.kubernetes.io/name=ingress-nginx', container: 'controller', format: 'nginx' as const, sinceSeconds: 120, userAgent: UA };

describe('readGatewayLogs', () => {
  it('reads each pod with timestamps since the cell began, keeps the cell\'s 5xx and retried lines, and says which pod was gone', async () => {
    const { k8s, reads } = port([pod('gw-a')], { 'gw-a': nginx });
    const got = await readGatewayLogs(k8s, { ...request, pods: ['gw-a', 'gw-old'] });
    expect(reads).toEqual([{ pod: 'gw-a', container: 'controller', timestamps: true, sinceSeconds: 120 }]);
    expect(got.pods).toEqual([
      { pod: 'gw-a', status: 'read', lines: 6 },
      { pod: 'gw-old', status: 'gone', lines: 0, why: 'ingress-nginx/gw-old was gone when the cell ended: its log went with it' },
    ]);
    // The 500, the retried 200, the 502, the 504 and the 503; not the plain 200s nor the health check.
    expect(got.lines.map((l) => [l.pod, l.status, l.line])).toEqual([
      ['gw-a', 500, 7],
      ['gw-a', 200, 8],
      ['gw-a', 502, 9],
      ['gw-a', 504, 11],
      ['gw-a', 503, 12],
    ]);
  });

  it('reads the previous instance too after a restart, numbering the lines on through both', async () => {
    const first = nginx.split('\n').slice(0, 8).join('\n');
    const { k8s, reads } = port([pod('gw-a', 1)], { 'gw-a previous': first, 'gw-a': nginx });
    const got = await readGatewayLogs(k8s, { ...request, pods: ['gw-a'] });
    expect(reads.map((r) => r.previous ?? false)).toEqual([true, false]);
    expect(got.pods[0]).toMatchObject({ status: 'read', previous: true, lines: 9 });
    expect(got.lines.map((l) => l.line)).toEqual([7, 8, 15, 16, 17, 19, 20]);
    // The earlier log unreadable: said, and the current one still read.
    const lost = port([pod('gw-a', 2)], { 'gw-a previous': new ApiError('previous terminated container "controller" not found', 400), 'gw-a': nginx });
    const partial = await readGatewayLogs(lost.k8s, { ...request, pods: ['gw-a'] });
    expect(partial.pods).toEqual([{ pod: 'gw-a', status: 'read', lines: 6, why: 'the log of its container before the restart could not be read: previous terminated container "controller" not found' }]);
  });

  it('says a pod deleted between the listing and the read was gone (404), and a log it cannot parse failed, with the line', async () => {
    const { k8s } = port([pod('gw-a'), pod('gw-b')], { 'gw-b': '2026-10-01T12:00:03.004000000Z 10.0.1.10 - - [01/Oct/2026:12:00:03 +0000] "GET / HTTP/1.1" 200\n' });
    const got = await readGatewayLogs(k8s, { ...request, pods: [] });
    expect(got.pods[0]).toMatchObject({ pod: 'gw-a', status: 'gone', why: 'ingress-nginx/gw-a was gone when its log was read: no log of gw-a' });
    expect(got.pods[1]).toMatchObject({ pod: 'gw-b', status: 'failed' });
    expect(got.pods[1].why).toMatch(/^reading the log of ingress-nginx\/gw-b failed: pod ingress-nginx\/gw-b:1: expected ingress-nginx's upstreaminfo format/);
  });

  it('reads the pods the cell\'s timeline saw as the gateway\'s, not the app\'s', () => {
    expect(
      gatewayPodsOf([
        { t: 0, type: 'pod', pod: 'web-1', change: 'present' },
        { t: 0, type: 'pod', pod: 'gw-b', change: 'present', role: 'gateway' },
        { t: 1, type: 'pod', pod: 'gw-a', change: 'created', role: 'gateway' },
        { t: 9, type: 'pod', pod: 'gw-b', change: 'deleted', role: 'gateway' },
      ]),
    ).toEqual(['gw-b', 'gw-a']);
  });

  it('takes the gateway pods\' phases from the gateway Deployment: /wait-shutdown quits at once, a sleep keeps accepting', () => {
    const deployment = (preStop: unknown, grace?: number) => ({ spec: { template: { spec: { ...(grace ? { terminationGracePeriodSeconds: grace } : {}), containers: [{ name: 'controller', lifecycle: { preStop } }] } } } }) as KObject;
    expect(gatewayPhaseSettings(deployment({ exec: { command: ['/wait-shutdown'] } }, 300), 20, 'controller')).toEqual({ preStopSeconds: 0, terminationGracePeriodSeconds: 300, deregistrationDelaySeconds: 20 });
    expect(gatewayPhaseSettings(deployment({ sleep: { seconds: 25 } }), 20).preStopSeconds).toBe(25);
    expect(gatewayPhaseSettings(deployment({ exec: { command: ['/bin/sh', '-c', 'sleep 15'] } }), 20)).toEqual({ preStopSeconds: 15, terminationGracePeriodSeconds: 30, deregistrationDelaySeconds: 20 });
    expect(gatewayPhaseSettings(deployment(undefined), 5).preStopSeconds).toBe(0);
  });

  it('reads a cell\'s gateway logs since it began, for the pods its timeline saw', async () => {
    const { k8s, reads } = port([pod('gw-a')], { 'gw-a': nginx });
    const timeline = [{ t: 0, type: 'pod' as const, pod: 'gw-z', change: 'present' as const, role: 'gateway' as const }];
    const got = await readCellGatewayLogs(k8s, { timeline, durationSeconds: 95.2 }, { namespace: 'ingress-nginx', labelSelector: 'app.kubernetes.io/name=ingress-nginx', container: 'controller' }, UA);
    expect(reads).toEqual([{ pod: 'gw-a', container: 'controller', timestamps: true, sinceSeconds: 156 }]);
    expect(got.pods.map((p) => [p.pod, p.status])).toEqual([
      ['gw-a', 'read'],
      ['gw-z', 'gone'],
    ]);
    expect(got.format).toBe('nginx');
  });
});
