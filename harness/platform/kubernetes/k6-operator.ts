/** K6OperatorPort over @kubernetes/client-node (1.x): TestRuns (k6.io/v1alpha1), ConfigMaps, runner pods and their logs. */
import { CoreV1Api, CustomObjectsApi, Log, type KubeConfig } from '@kubernetes/client-node';
import { Writable } from 'node:stream';
import { withApiErrors } from '../api-errors.ts';
import type { K6OperatorPort, KObject } from '../ports.ts';
import { kubeErrorText, statusOf } from './adapter.ts';

const TESTRUN = { group: 'k6.io', version: 'v1alpha1', plural: 'testruns' } as const;

const plain = (value: unknown): KObject => JSON.parse(JSON.stringify(value)) as KObject;

/** Resolves false on 404 (already gone), true once deleted. */
async function deleted(run: () => Promise<unknown>): Promise<boolean> {
  try {
    await run();
    return true;
  } catch (error) {
    if (statusOf(error) === 404) return false;
    throw error;
  }
}

/** Builds the k6-operator adapter. */
export function createK6OperatorAdapter(kc: KubeConfig): K6OperatorPort {
  const core = kc.makeApiClient(CoreV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  const port: K6OperatorPort = {
    async createConfigMap(namespace, body) {
      return plain(await core.createNamespacedConfigMap({ namespace, body: body as never }));
    },
    deleteConfigMap: (namespace, name) => deleted(() => core.deleteNamespacedConfigMap({ namespace, name })),
    async createTestRun(namespace, body) {
      return plain(await custom.createNamespacedCustomObject({ ...TESTRUN, namespace, body }));
    },
    async getTestRun(namespace, name) {
      return plain(await custom.getNamespacedCustomObject({ ...TESTRUN, namespace, name }));
    },
    deleteTestRun: (namespace, name) => deleted(() => custom.deleteNamespacedCustomObject({ ...TESTRUN, namespace, name, propagationPolicy: 'Background' })),
    async listTestRuns(namespace, labelSelector) {
      const list = (await custom.listNamespacedCustomObject({ ...TESTRUN, namespace, labelSelector })) as { items?: KObject[] };
      return (list.items ?? []).map(plain);
    },
    async listPods(namespace, labelSelector) {
      return (await core.listNamespacedPod({ namespace, labelSelector })).items.map(plain);
    },
    deletePod: (namespace, name) => deleted(() => core.deleteNamespacedPod({ namespace, name })),
    async followPodLog(namespace, name, container, onText, signal) {
      const decoder = new TextDecoder();
      const sink = new Writable({
        write(chunk: Buffer | string, _enc, callback) {
          onText(typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true }));
          callback();
        },
      });
      // client-node 1.4 pipes the response body into the sink and never calls a `done` callback:
      // the sink's finish is the log's end (the container exited), its error a broken stream.
      const ended = new Promise<void>((resolve, reject) => {
        sink.once('finish', () => resolve());
        sink.once('error', (e) => (signal.aborted ? resolve() : reject(e)));
        signal.addEventListener('abort', () => resolve(), { once: true });
      });
      const controller = await new Log(kc).log(namespace, name, container, sink, { follow: true });
      if (signal.aborted) controller.abort();
      else signal.addEventListener('abort', () => controller.abort(), { once: true });
      await ended;
    },
  };
  return withApiErrors(`Kubernetes API (context ${kc.getCurrentContext()})`, kc.getCurrentCluster()?.server, port, kubeErrorText);
}
