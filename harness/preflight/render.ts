/**
 * The permission list (harness/preflight/permissions.ts) as the objects that grant it: a Role per
 * namespace and a ClusterRole for the cluster-wide part (rbac.authorization.k8s.io/v1), bound to a
 * ServiceAccount, and an IAM policy document. Pure: the same list preflight checks, rendered.
 */
import { stringify } from 'yaml';
import type { AwsPermission, KubePermission, Permission } from './permissions.ts';

/** Who the bindings name: the ServiceAccount the in-cluster job runs as. */
export interface Subject {
  name: string;
  namespace: string;
}

/** The ServiceAccount the rendered bindings name by default. */
export const DEFAULT_SUBJECT: Subject = { name: 'rollout-harness', namespace: 'rollout-harness' };

/** One RBAC rule. */
interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

/** RBAC rules for the permissions: one rule per API group and resource (subresources apart), verbs merged, in the list's order. */
export function rulesOf(perms: KubePermission[]): PolicyRule[] {
  const byResource = new Map<string, PolicyRule>();
  for (const p of perms) {
    const resource = p.subresource ? `${p.resource}/${p.subresource}` : p.resource;
    const key = `${p.group}\0${resource}`;
    const rule = byResource.get(key) ?? { apiGroups: [p.group], resources: [resource], verbs: [] };
    if (!rule.verbs.includes(p.verb)) rule.verbs.push(p.verb);
    byResource.set(key, rule);
  }
  return [...byResource.values()];
}

/**
 * The Kubernetes objects granting the permissions: a Role and RoleBinding per namespace, a
 * ClusterRole and ClusterRoleBinding for what is cluster-wide (nodes, namespaces, pods in every
 * namespace), all named `name`, all binding `subject`. A multi-document YAML for `kubectl apply -f -`.
 */
export function renderRbac(perms: Permission[], opts: { name?: string; subject?: Subject } = {}): string {
  const name = opts.name ?? 'rollout-harness';
  const subject = opts.subject ?? DEFAULT_SUBJECT;
  const kube = perms.filter((p): p is KubePermission => p.api === 'kubernetes');
  const subjects = [{ kind: 'ServiceAccount', name: subject.name, namespace: subject.namespace }];
  const roleRef = (kind: string) => ({ apiGroup: 'rbac.authorization.k8s.io', kind, name });
  const docs: object[] = [];
  const clusterWide = kube.filter((p) => p.namespace === undefined);
  if (clusterWide.length) {
    docs.push({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name }, rules: rulesOf(clusterWide) });
    docs.push({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name }, roleRef: roleRef('ClusterRole'), subjects });
  }
  const namespaces = [...new Set(kube.flatMap((p) => (p.namespace === undefined ? [] : [p.namespace])))];
  for (const namespace of namespaces) {
    docs.push({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name, namespace }, rules: rulesOf(kube.filter((p) => p.namespace === namespace)) });
    docs.push({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name, namespace }, roleRef: roleRef('Role'), subjects });
  }
  return docs.map((d) => stringify(d)).join('---\n');
}

/** The IAM policy document granting the AWS permissions: one statement per service and resource, actions sorted. */
export function renderIamPolicy(perms: Permission[]): { Version: string; Statement: Array<{ Sid: string; Effect: 'Allow'; Action: string[]; Resource: string }> } {
  const byStatement = new Map<string, { service: string; resource: string; actions: string[] }>();
  for (const p of perms.filter((x): x is AwsPermission => x.api === 'aws')) {
    const service = p.action.split(':')[0];
    const key = `${service}\0${p.resource}`;
    const s = byStatement.get(key) ?? { service, resource: p.resource, actions: [] };
    if (!s.actions.includes(p.action)) s.actions.push(p.action);
    byStatement.set(key, s);
  }
  const sids = new Map<string, number>();
  return {
    Version: '2012-10-17',
    Statement: [...byStatement.values()].map((s) => {
      // Sids are alphanumeric: the service, numbered when it has more than one statement.
      const base = s.service.replace(/[^A-Za-z0-9]/g, '').replace(/^./, (c) => c.toUpperCase());
      const n = (sids.get(base) ?? 0) + 1;
      sids.set(base, n);
      return { Sid: `RolloutHarness${base}${n > 1 ? n : ''}`, Effect: 'Allow' as const, Action: s.actions.sort(), Resource: s.resource };
    }),
  };
}
