/** The registry of resources the twin's Kubernetes API serves. */
import type { ResourceInfo } from './types.ts';

const rw = ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'];

function r(group: string, version: string, kind: string, plural: string, namespaced: boolean, extra: Partial<ResourceInfo> = {}): ResourceInfo {
  return { group, version, kind, listKind: `${kind}List`, plural, singular: kind.toLowerCase(), namespaced, verbs: rw, ...extra };
}

/** Every served resource, by plural name. */
export const resources: Record<string, ResourceInfo> = Object.fromEntries(
  [
    r('', 'v1', 'Namespace', 'namespaces', false, { shortNames: ['ns'] }),
    r('', 'v1', 'Node', 'nodes', false, { shortNames: ['no'], subresources: ['status'] }),
    r('', 'v1', 'Pod', 'pods', true, { shortNames: ['po'], subresources: ['status', 'eviction', 'log'] }),
    r('', 'v1', 'Service', 'services', true, { shortNames: ['svc'] }),
    r('', 'v1', 'Event', 'events', true, { shortNames: ['ev'] }),
    r('', 'v1', 'Endpoints', 'endpoints', true, { shortNames: ['ep'], listKind: 'EndpointsList', singular: 'endpoints' }),
    r('apps', 'v1', 'Deployment', 'deployments', true, { shortNames: ['deploy'], subresources: ['status', 'scale'] }),
    r('apps', 'v1', 'ReplicaSet', 'replicasets', true, { shortNames: ['rs'], subresources: ['status'] }),
    r('discovery.k8s.io', 'v1', 'EndpointSlice', 'endpointslices', true),
    r('networking.k8s.io', 'v1', 'Ingress', 'ingresses', true, { shortNames: ['ing'], subresources: ['status'] }),
    r('policy', 'v1', 'PodDisruptionBudget', 'poddisruptionbudgets', true, { shortNames: ['pdb'], subresources: ['status'] }),
    r('elbv2.k8s.aws', 'v1beta1', 'TargetGroupBinding', 'targetgroupbindings', true, { subresources: ['status'] }),
    r('', 'v1', 'ConfigMap', 'configmaps', true, { shortNames: ['cm'] }),
    r('batch', 'v1', 'Job', 'jobs', true, { subresources: ['status'] }),
    r('batch', 'v1', 'CronJob', 'cronjobs', true, { shortNames: ['cj'], subresources: ['status'] }),
    r('', 'v1', 'ServiceAccount', 'serviceaccounts', true, { shortNames: ['sa'] }),
    // grafana/k6-operator's CRD (controllers/k6-operator.ts runs it).
    r('k6.io', 'v1alpha1', 'TestRun', 'testruns', true, { subresources: ['status'] }),
    r('rbac.authorization.k8s.io', 'v1', 'Role', 'roles', true),
    r('rbac.authorization.k8s.io', 'v1', 'ClusterRole', 'clusterroles', false),
    r('rbac.authorization.k8s.io', 'v1', 'RoleBinding', 'rolebindings', true),
    r('rbac.authorization.k8s.io', 'v1', 'ClusterRoleBinding', 'clusterrolebindings', false),
    // Reviews are asked, never stored: create is their only verb (served by server.ts, not the store).
    r('authorization.k8s.io', 'v1', 'SelfSubjectAccessReview', 'selfsubjectaccessreviews', false, { verbs: ['create'] }),
    r('authorization.k8s.io', 'v1', 'SelfSubjectRulesReview', 'selfsubjectrulesreviews', false, { verbs: ['create'] }),
    r('authorization.k8s.io', 'v1', 'SubjectAccessReview', 'subjectaccessreviews', false, { verbs: ['create'] }),
    r('authentication.k8s.io', 'v1', 'SelfSubjectReview', 'selfsubjectreviews', false, { verbs: ['create'] }),
  ].map((info) => [info.plural, info]),
);

/** `apiVersion` of a resource, e.g. `apps/v1` or `v1`. */
export function apiVersionOf(info: ResourceInfo): string {
  return info.group ? `${info.group}/${info.version}` : info.version;
}

/** The resource for a kind (first match). */
export function resourceForKind(kind: string): ResourceInfo | undefined {
  return Object.values(resources).find((info) => info.kind === kind);
}
