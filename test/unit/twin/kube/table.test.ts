import { describe, expect, it } from 'vitest';
import { humanDuration, tableColumns, toTable } from '../../../../harness/twin/kube/table.ts';
import type { KubeObject } from '../../../../harness/twin/kube/types.ts';

const t0 = Date.parse('2024-01-01T00:00:00Z');

function pod(extra: Partial<KubeObject> & { status?: unknown; spec?: unknown } = {}): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web-1', namespace: 'default', creationTimestamp: '2024-01-01T00:00:00Z', uid: 'u1' },
    spec: { nodeName: 'node-a1', containers: [{ name: 'app' }, { name: 'side' }], readinessGates: [{ conditionType: 'target-health.elbv2.k8s.aws/tg' }] },
    status: {
      phase: 'Running',
      podIP: '127.0.1.2',
      conditions: [{ type: 'target-health.elbv2.k8s.aws/tg', status: 'True' }],
      containerStatuses: [
        { name: 'app', ready: true, restartCount: 1, state: { running: {} } },
        { name: 'side', ready: false, restartCount: 0, state: { waiting: { reason: 'CrashLoopBackOff' } } },
      ],
    },
    ...extra,
  };
}

describe('humanDuration', () => {
  it('prints durations as kubectl does', () => {
    expect(humanDuration(-5000)).toBe('<invalid>');
    expect(humanDuration(5_000)).toBe('5s');
    expect(humanDuration(119_000)).toBe('119s');
    expect(humanDuration(150_000)).toBe('2m30s');
    expect(humanDuration(600_000)).toBe('10m');
    expect(humanDuration(3 * 3_600_000 + 5 * 60_000)).toBe('3h5m');
    expect(humanDuration(30 * 3_600_000)).toBe('30h');
    expect(humanDuration(3 * 86_400_000 + 2 * 3_600_000)).toBe('3d2h');
    expect(humanDuration(400 * 86_400_000)).toBe('400d');
  });
});

describe('toTable', () => {
  it('prints pods with READY, STATUS, RESTARTS and the wide columns', () => {
    const table = toTable('pods', [pod()], { now: t0 + 42_000, resourceVersion: '7' });
    expect(table).toMatchObject({ kind: 'Table', apiVersion: 'meta.k8s.io/v1', metadata: { resourceVersion: '7' } });
    expect(table.columnDefinitions.map((c) => [c.name, c.priority])).toEqual([
      ['Name', 0],
      ['Ready', 0],
      ['Status', 0],
      ['Restarts', 0],
      ['Age', 0],
      ['IP', 1],
      ['Node', 1],
      ['Nominated Node', 1],
      ['Readiness Gates', 1],
    ]);
    expect(table.columnDefinitions[0].format).toBe('name');
    expect(table.rows[0].cells).toEqual(['web-1', '1/2', 'CrashLoopBackOff', '1', '42s', '127.0.1.2', 'node-a1', '<none>', '1/1']);
    expect(table.rows[0].object).toMatchObject({ kind: 'PartialObjectMetadata', metadata: { name: 'web-1', uid: 'u1' } });
  });

  it('shows Terminating for a pod being deleted and honours includeObject', () => {
    const deleting = pod();
    deleting.metadata.deletionTimestamp = '2024-01-01T00:00:10Z';
    const table = toTable('pods', [deleting], { now: t0, includeObject: 'Object', withColumns: false });
    expect(table.rows[0].cells[2]).toBe('Terminating');
    expect(table.rows[0].object).toBe(deleting);
    expect(table.columnDefinitions).toEqual([]);
    expect(toTable('pods', [deleting], { now: t0, includeObject: 'None' }).rows[0]).not.toHaveProperty('object');
  });

  it('prints nodes with status, roles and version', () => {
    const node: KubeObject = {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: 'node-a1', creationTimestamp: '2024-01-01T00:00:00Z', labels: { 'node-role.kubernetes.io/worker': '' } },
      spec: { unschedulable: true },
      status: { conditions: [{ type: 'Ready', status: 'True' }], nodeInfo: { kubeletVersion: 'v1.31.0-twin' }, addresses: [{ type: 'InternalIP', address: '127.0.9.1' }] },
    };
    const [row] = toTable('nodes', [node], { now: t0 + 3_600_000 }).rows;
    expect(row.cells.slice(0, 6)).toEqual(['node-a1', 'Ready,SchedulingDisabled', 'worker', '60m', 'v1.31.0-twin', '127.0.9.1']);
  });

  it('prints deployments with READY, UP-TO-DATE and AVAILABLE', () => {
    const d: KubeObject = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', creationTimestamp: '2024-01-01T00:00:00Z' },
      spec: { replicas: 3, selector: { matchLabels: { app: 'web' } }, template: { spec: { containers: [{ name: 'app', image: 'app:1' }] } } },
      status: { readyReplicas: 2, updatedReplicas: 3, availableReplicas: 2 },
    };
    expect(tableColumns('deployments').filter((c) => c.priority === 0).map((c) => c.name)).toEqual(['Name', 'Ready', 'Up-to-date', 'Available', 'Age']);
    expect(toTable('deployments', [d], { now: t0 + 1000 }).rows[0].cells).toEqual(['web', '2/3', 3, 2, '1s', 'app', 'app:1', 'app=web']);
  });

  it('prints Endpoints as kubectl does: ready ip:port, three at most, <none> without subsets', () => {
    const ep = (subsets?: unknown[]): KubeObject => ({ apiVersion: 'v1', kind: 'Endpoints', metadata: { name: 'web', creationTimestamp: '2024-01-01T00:00:00Z' }, ...(subsets ? { subsets } : {}) });
    const addresses = ['127.0.1.1', '127.0.1.2', '127.0.1.3', '127.0.1.4'].map((ip) => ({ ip }));
    expect(tableColumns('endpoints').map((c) => c.name)).toEqual(['Name', 'Endpoints', 'Age']);
    const cells = (e: KubeObject) => toTable('endpoints', [e], { now: t0 + 2000 }).rows[0].cells;
    expect(cells(ep([{ addresses: addresses.slice(0, 2), notReadyAddresses: [{ ip: '127.0.1.9' }], ports: [{ port: 8080 }] }]))).toEqual(['web', '127.0.1.1:8080,127.0.1.2:8080', '2s']);
    expect(cells(ep([{ addresses, ports: [{ port: 8080 }] }]))[1]).toBe('127.0.1.1:8080,127.0.1.2:8080,127.0.1.3:8080 + 1 more...');
    expect(cells(ep())[1]).toBe('<none>');
    // Only not-ready addresses: kubectl prints an empty cell.
    expect(cells(ep([{ notReadyAddresses: [{ ip: '127.0.1.9' }], ports: [{ port: 8080 }] }]))[1]).toBe('');
  });

  it('prints EndpointSlices with ADDRESSTYPE, PORTS and ENDPOINTS, <unset> when empty', () => {
    const slice = (ports: unknown[], endpoints: unknown[]): KubeObject => ({
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: 'web-x7k2p', creationTimestamp: '2024-01-01T00:00:00Z' },
      addressType: 'IPv4',
      ports,
      endpoints,
    });
    expect(tableColumns('endpointslices').map((c) => c.name)).toEqual(['Name', 'AddressType', 'Ports', 'Endpoints', 'Age']);
    const eps = ['127.0.1.1', '127.0.1.2', '127.0.1.3', '127.0.1.4'].map((ip) => ({ addresses: [ip], conditions: { ready: false } }));
    expect(toTable('endpointslices', [slice([{ name: 'http', port: 8080 }], eps)], { now: t0 }).rows[0].cells).toEqual([
      'web-x7k2p',
      'IPv4',
      '8080',
      '127.0.1.1,127.0.1.2,127.0.1.3 + 1 more...',
      '0s',
    ]);
    expect(toTable('endpointslices', [slice([], [])], { now: t0 }).rows[0].cells.slice(2, 4)).toEqual(['<unset>', '<unset>']);
  });

  it('falls back to NAME and AGE for resources without a printer', () => {
    const cells = toTable('widgets', [{ apiVersion: 'v1', kind: 'Widget', metadata: { name: 'w', creationTimestamp: '2024-01-01T00:00:00Z' } }], { now: t0 + 5000 }).rows[0].cells;
    expect(cells).toEqual(['w', '5s']);
  });
});
