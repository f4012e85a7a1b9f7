/**
 * A twin Kubernetes API on loopback for tests: a store seeded with a namespace, two nodes, a
 * Deployment and two bound pods; the server; a kubeconfig in a temp dir. `close` undoes it all.
 */
import http from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ManualClock, type Clock } from '../../../harness/core/clock.ts';
import type { TokenAuthenticator } from '../../../harness/twin/kube/authn.ts';
import { writeKubeconfig } from '../../../harness/twin/kube/kubeconfig.ts';
import { startKubeApiServer, type EvictHook, type KubeApiServer, type LogsHook } from '../../../harness/twin/kube/server.ts';
import { ObjectStore } from '../../../harness/twin/kube/store.ts';
import { openCertificateAuthority } from '../../../harness/twin/tls.ts';
import type { KubeObject } from '../../../harness/twin/kube/types.ts';

export const T0 = Date.parse('2024-06-01T12:00:00Z');

export interface ApiFixture {
  clock: Clock;
  store: ObjectStore;
  api: KubeApiServer;
  dir: string;
  kubeconfig: string;
  close(): Promise<void>;
}

/** A pod as the controllers would leave it: bound, running, ready. */
export function runningPod(name: string, nodeName: string, labels: Record<string, string> = { app: 'web' }): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', labels, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-5d8f', uid: 'rs-uid', controller: true }] },
    spec: { nodeName, terminationGracePeriodSeconds: 30, containers: [{ name: 'app', image: 'fixtures/app', ports: [{ containerPort: 8080 }] }] },
    status: {
      phase: 'Running',
      podIP: `127.0.1.${nodeName === 'node-a1' ? 1 : 2}`,
      conditions: [{ type: 'Ready', status: 'True' }],
      containerStatuses: [{ name: 'app', ready: true, restartCount: 0, state: { running: { startedAt: '2024-06-01T12:00:00Z' } } }],
    },
  };
}

function node(name: string, zone: string): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels: { 'topology.kubernetes.io/zone': zone, 'kubernetes.io/hostname': name } },
    spec: { providerID: `aws:///${zone}/i-${name}` },
    status: {
      conditions: [{ type: 'Ready', status: 'True' }],
      addresses: [{ type: 'InternalIP', address: name === 'node-a1' ? '127.0.1.10' : '127.0.2.10' }],
      nodeInfo: { kubeletVersion: 'v1.31.0-twin', osImage: 'Twin', kernelVersion: '6.1', containerRuntimeVersion: 'twin://1' },
    },
  };
}

/** Fills the store with the objects every test starts from. */
export function seed(store: ObjectStore): void {
  store.create('namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default' }, status: { phase: 'Active' } });
  store.create('nodes', node('node-a1', 'us-east-1a'));
  store.create('nodes', node('node-b1', 'us-east-1b'));
  store.create('deployments', {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'default', labels: { app: 'web' } },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: 'web' } },
      template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'app', image: 'fixtures/app', env: [{ name: 'A', value: '1' }] }] } },
    },
    status: { replicas: 2, readyReplicas: 2, updatedReplicas: 2, availableReplicas: 2 },
  });
  store.create('pods', runningPod('web-1', 'node-a1'));
  store.create('pods', runningPod('web-2', 'node-b1'));
}

/**
 * Starts a seeded store and API server (ManualClock unless given) and writes a kubeconfig. With
 * `auth`, the server authenticates and authorizes, and the kubeconfig points at its HTTPS port
 * (kubectl sends tokens only over TLS) with the contexts' tokens and a CA made in the temp dir.
 */
export async function startApiFixture(
  opts: {
    clock?: Clock;
    evict?: EvictHook;
    logs?: LogsHook;
    bookmarkSeconds?: number;
    auth?: { tokens: TokenAuthenticator; token: string; users?: Array<{ context: string; token: string }> };
  } = {},
): Promise<ApiFixture> {
  const clock = opts.clock ?? new ManualClock(T0);
  const store = new ObjectStore(clock);
  seed(store);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'kube-api-'));
  let api: KubeApiServer | undefined;
  try {
    const ca = opts.auth ? await openCertificateAuthority(dir) : undefined;
    const tls = ca ? await ca.issue(['localhost']) : undefined;
    api = await startKubeApiServer({ store, clock, hooks: { evict: opts.evict, logs: opts.logs }, bookmarkSeconds: opts.bookmarkSeconds, auth: opts.auth?.tokens, tls });
    const kubeconfig = path.join(dir, 'kubeconfig');
    await writeKubeconfig(kubeconfig, { server: api.secureUrl ?? api.url, certificateAuthority: ca?.caFile, namespace: 'default', token: opts.auth?.token, users: opts.auth?.users });
    const started = api;
    return {
      clock,
      store,
      api: started,
      dir,
      kubeconfig,
      async close() {
        await started.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await api?.close();
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

/** A watch stream read line by line with node:http. */
export interface WatchStream {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- wire JSON, inspected field by field
  events: Array<{ type: string; object: any }>;
  ended: Promise<void>;
  isEnded(): boolean;
  close(): void;
}

/** Opens a watch (or any streaming GET) and collects its newline-delimited JSON events. */
export function openWatch(url: string, headers: Record<string, string> = {}): Promise<WatchStream> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers }, (res) => {
      const events: WatchStream['events'] = [];
      let buffer = '';
      let ended = false;
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let nl: number;
        while ((nl = buffer.indexOf('\n')) >= 0) {
          const line = buffer.slice(0, nl);
          buffer = buffer.slice(nl + 1);
          if (line.trim()) events.push(JSON.parse(line));
        }
      });
      const endedPromise = new Promise<void>((done) => {
        res.on('end', done);
        res.on('close', done);
        res.on('error', () => done());
      }).then(() => {
        ended = true;
      });
      resolve({ status: res.statusCode ?? 0, events, ended: endedPromise, isEnded: () => ended, close: () => req.destroy() });
    });
    req.on('error', reject);
  });
}
