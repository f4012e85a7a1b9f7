/** KubernetesPort over @kubernetes/client-node (1.x). */
import {
  AdmissionregistrationV1Api,
  ApiException,
  ApiextensionsV1Api,
  AppsV1Api,
  AuthorizationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  NetworkingV1Api,
  PatchStrategy,
  PolicyV1Api,
  Watch,
  setHeaderOptions,
} from '@kubernetes/client-node';
import type { Clock } from '../../core/clock.ts';
import { EnvironmentError } from '../../core/errors.ts';
import { withApiErrors, type ErrorText } from '../api-errors.ts';
import { inClusterConfig, kubeconfigPresent, loadInCluster } from './in-cluster.ts';
import type { EvictionOutcome, KObject, KubernetesPort, ObjectRef, PatchKind, PodEvent } from '../ports.ts';

const contentType: Record<PatchKind, string> = {
  strategic: PatchStrategy.StrategicMergePatch,
  merge: PatchStrategy.MergePatch,
  json: PatchStrategy.JsonPatch,
};

/**
 * Loads a kubeconfig (file, or the default chain) and selects a context; without a kubeconfig, in a
 * pod, the in-cluster configuration as context `in-cluster` (harness/platform/kubernetes/in-cluster.ts).
 */
export function loadKubeConfig(file?: string, context?: string, env: Record<string, string | undefined> = process.env): KubeConfig {
  const kc = new KubeConfig();
  const inCluster = file || kubeconfigPresent(env) ? undefined : inClusterConfig(env);
  try {
    if (file) kc.loadFromFile(file);
    else if (inCluster) loadInCluster(kc, inCluster);
    else kc.loadFromDefault();
  } catch (cause) {
    throw new EnvironmentError(`Cannot load the kubeconfig${file ? ` ${file}` : ''}: ${(cause as Error).message}`, { cause });
  }
  if (context) {
    if (!kc.getContexts().some((c) => c.name === context)) {
      throw new EnvironmentError(`The kubeconfig has no context "${context}" (it has: ${kc.getContexts().map((c) => c.name).join(', ') || 'none'})`);
    }
    kc.setCurrentContext(context);
  }
  return kc;
}

/** Status code of a client-node error, if it is an API error. */
export function statusOf(error: unknown): number | undefined {
  return error instanceof ApiException ? error.code : undefined;
}

function plain<T>(value: T): KObject {
  // client-node returns class instances with Date fields; the harness reads plain JSON.
  return JSON.parse(JSON.stringify(value)) as KObject;
}

/** A client-node error as text: the API's status and message, or the network error. */
export function kubeErrorText(error: unknown): ErrorText {
  if (error instanceof ApiException) {
    const body = error.body as { message?: string; reason?: string } | string | undefined;
    const detail = typeof body === 'string' ? (safeJson(body)?.message ?? body) : body?.message;
    return { status: error.code, text: `${error.code}${detail ? `: ${String(detail).slice(0, 300)}` : ''}` };
  }
  const e = error as Error & { code?: string; cause?: { code?: string } };
  return { text: `${e.code ?? e.cause?.code ?? e.name}: ${e.message}` };
}

function safeJson(text: string): { message?: string } | undefined {
  try {
    return JSON.parse(text) as { message?: string };
  } catch {
    return undefined;
  }
}

/** Builds the Kubernetes adapter; with `dryRun`, every write is sent with `dryRun=All` (the API server validates, admits and answers, and stores nothing). */
export function createKubernetesAdapter(kc: KubeConfig, clock: Clock, opts: { dryRun?: boolean } = {}): KubernetesPort {
  const dryRun = opts.dryRun ? 'All' : undefined;
  const core = kc.makeApiClient(CoreV1Api);
  const apps = kc.makeApiClient(AppsV1Api);
  const net = kc.makeApiClient(NetworkingV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  const policy = kc.makeApiClient(PolicyV1Api);
  const authorization = kc.makeApiClient(AuthorizationV1Api);
  const apiextensions = kc.makeApiClient(ApiextensionsV1Api);
  const admission = kc.makeApiClient(AdmissionregistrationV1Api);
  const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
  const strategic = setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch);

  const port: KubernetesPort = {
    context: kc.getCurrentContext(),
    async getDeployment(namespace, name) {
      return plain(await apps.readNamespacedDeployment({ namespace, name }));
    },
    async patchDeployment(namespace, name, body, kind = 'strategic') {
      return plain(await apps.patchNamespacedDeployment({ namespace, name, body, dryRun }, setHeaderOptions('Content-Type', contentType[kind])));
    },
    async getNamespace(name) {
      return plain(await core.readNamespace({ name }));
    },
    async setNamespaceLabels(name, labels) {
      return plain(await core.patchNamespace({ name, body: { metadata: { labels } }, dryRun }, merge));
    },
    async getIngress(namespace, name) {
      return plain(await net.readNamespacedIngress({ namespace, name }));
    },
    async listEvents(namespace, fieldSelector) {
      return (await core.listNamespacedEvent({ namespace, fieldSelector })).items.map(plain);
    },
    async listIngresses(namespace) {
      return (await net.listNamespacedIngress({ namespace })).items.map(plain);
    },
    async setIngressAnnotations(namespace, name, annotations) {
      return plain(await net.patchNamespacedIngress({ namespace, name, body: { metadata: { annotations } }, dryRun }, merge));
    },
    async listPodDisruptionBudgets(namespace) {
      return (await policy.listNamespacedPodDisruptionBudget({ namespace })).items.map(plain);
    },
    async getPodDisruptionBudget(namespace, name) {
      return plain(await policy.readNamespacedPodDisruptionBudget({ namespace, name }));
    },
    async patchPodDisruptionBudget(namespace, name, body, kind = 'strategic') {
      return plain(await policy.patchNamespacedPodDisruptionBudget({ namespace, name, body, dryRun }, setHeaderOptions('Content-Type', contentType[kind])));
    },
    async getTargetGroupBinding(namespace, name) {
      return plain(await custom.getNamespacedCustomObject({ group: 'elbv2.k8s.aws', version: 'v1beta1', namespace, plural: 'targetgroupbindings', name }));
    },
    async listTargetGroupBindings(namespace) {
      const list = (await custom.listNamespacedCustomObject({ group: 'elbv2.k8s.aws', version: 'v1beta1', namespace, plural: 'targetgroupbindings' })) as { items?: KObject[] };
      return (list.items ?? []).map(plain);
    },
    async getService(namespace, name) {
      return plain(await core.readNamespacedService({ namespace, name }));
    },
    async listPods(namespace, labelSelector) {
      return (await core.listNamespacedPod({ namespace, labelSelector })).items.map(plain);
    },
    async listPodsOnNode(nodeName) {
      return (await core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${nodeName}` })).items.map(plain);
    },
    async listNodes() {
      return (await core.listNode()).items.map(plain);
    },
    async getNode(name) {
      return plain(await core.readNode({ name }));
    },
    async setNodeUnschedulable(name, unschedulable) {
      return plain(await core.patchNode({ name, body: { spec: { unschedulable: unschedulable || null } }, dryRun }, strategic));
    },
    async setNodeTaint(name, key, taint) {
      const node = plain(await core.readNode({ name }));
      const others = ((node.spec?.taints ?? []) as Array<{ key: string }>).filter((t) => t.key !== key);
      const taints = taint ? [...others, { key, ...taint }] : others;
      return plain(await core.patchNode({ name, body: { spec: { taints: taints.length ? taints : null } }, dryRun }, merge));
    },
    async evictPod(namespace, name): Promise<EvictionOutcome> {
      try {
        await core.createNamespacedPodEviction({ namespace, name, body: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name, namespace } }, dryRun });
        return { kind: 'evicted' };
      } catch (error) {
        const code = statusOf(error);
        const message = (error as ApiException<unknown>).body ? JSON.stringify((error as ApiException<unknown>).body) : (error as Error).message;
        if (code === 429) return { kind: 'blocked', message };
        if (code === 404) return { kind: 'gone' };
        if (code !== undefined) return { kind: 'failed', code, message };
        throw error;
      }
    },
    async annotate(ref: ObjectRef, annotations) {
      const body = { metadata: { annotations } };
      const ns = ref.namespace ?? '';
      if (ref.kind === 'Namespace') return plain(await core.patchNamespace({ name: ref.name, body, dryRun }, merge));
      if (ref.kind === 'Node') return plain(await core.patchNode({ name: ref.name, body, dryRun }, merge));
      if (ref.kind === 'Deployment') return plain(await apps.patchNamespacedDeployment({ namespace: ns, name: ref.name, body, dryRun }, merge));
      return plain(await net.patchNamespacedIngress({ namespace: ns, name: ref.name, body, dryRun }, merge));
    },
    async readPodLog(namespace, name, opts = {}) {
      // sinceSeconds must be ≥ 1 (the API refuses 0).
      const sinceSeconds = opts.sinceSeconds === undefined ? undefined : Math.max(1, Math.ceil(opts.sinceSeconds));
      return core.readNamespacedPodLog({ namespace, name, container: opts.container, previous: opts.previous, timestamps: opts.timestamps, sinceSeconds });
    },
    async getCustomResourceDefinition(name) {
      return plain(await apiextensions.readCustomResourceDefinition({ name }));
    },
    async listMutatingWebhookConfigurations() {
      return (await admission.listMutatingWebhookConfiguration()).items.map(plain);
    },
    async accessReview(attrs) {
      const resourceAttributes = { verb: attrs.verb, group: attrs.group, resource: attrs.resource, subresource: attrs.subresource, namespace: attrs.namespace, name: attrs.name };
      const review = await authorization.createSelfSubjectAccessReview({ body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', spec: { resourceAttributes } } });
      const s = review.status;
      return { allowed: s?.allowed === true, ...(s?.denied ? { denied: true } : {}), ...(s?.reason ? { reason: s.reason } : {}), ...(s?.evaluationError ? { evaluationError: s.evaluationError } : {}) };
    },
    async watchPods(namespace, labelSelector, onEvent: (e: PodEvent) => void, signal) {
      const watch = new Watch(kc);
      const initial = await core.listNamespacedPod({ namespace, labelSelector });
      // The pods that already exist come first, as an informer delivers them.
      for (const pod of initial.items) onEvent({ type: 'ADDED', pod: plain(pod), initial: true });
      let resourceVersion = initial.metadata?.resourceVersion;
      while (!signal.aborted) {
        const ended = new Promise<unknown>((resolve) => {
          void watch
            .watch(
              `/api/v1/namespaces/${namespace}/pods`,
              { labelSelector, resourceVersion, allowWatchBookmarks: true },
              (type, obj: KObject) => {
                if (obj?.metadata?.resourceVersion) resourceVersion = obj.metadata.resourceVersion;
                if (type === 'ADDED' || type === 'MODIFIED' || type === 'DELETED') onEvent({ type, pod: plain(obj) });
              },
              resolve,
            )
            .then((controller) => {
              if (signal.aborted) controller.abort();
              else signal.addEventListener('abort', () => controller.abort(), { once: true });
            }, resolve);
        });
        const error = await ended;
        if (signal.aborted) return;
        // A dropped or expired watch: back off a little, then resume (relist on 410 Gone).
        if (statusOf(error) === 410 || /410|too old/.test(String((error as Error)?.message ?? ''))) {
          resourceVersion = (await core.listNamespacedPod({ namespace, labelSelector })).metadata?.resourceVersion;
        }
        await clock.sleep(1000, signal).catch(() => {});
      }
    },
  };
  const wrapped = withApiErrors(`Kubernetes API (context ${kc.getCurrentContext()}${opts.dryRun ? ', dry run' : ''})`, kc.getCurrentCluster()?.server, port, kubeErrorText);
  // Synchronous, so set after wrapping (the wrapper makes every method async).
  if (!opts.dryRun) wrapped.dryRun = () => createKubernetesAdapter(kc, clock, { dryRun: true });
  return wrapped;
}
