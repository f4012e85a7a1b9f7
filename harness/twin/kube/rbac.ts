/**
 * Authorization as the API server's RBAC authorizer does it (`plugin/pkg/auth/authorizer/rbac`):
 * a request is allowed when a rule of a ClusterRole bound by a ClusterRoleBinding, or of a Role or
 * ClusterRole bound by a RoleBinding in the request's namespace, matches its verb, API group,
 * resource (with subresource), name — or, for a path outside the resources, its nonResourceURL.
 * Nothing denies: what no rule allows is forbidden. Pure, over the objects it is given.
 */
import type { KubeObject } from './types.ts';

/** Who a request comes from, as authentication found it. */
export interface UserInfo {
  name: string;
  groups: string[];
}

/** What a request asks for, as the API server's RequestInfo describes it. */
export type RequestAttributes =
  | {
      kind: 'resource';
      verb: string;
      /** '' for the core group. */
      group: string;
      resource: string;
      subresource?: string;
      name?: string;
      /** Absent at the cluster scope. */
      namespace?: string;
    }
  | { kind: 'nonResource'; verb: string; path: string };

/** A decision and the authorizer's reason (`RBAC: allowed by …`, or why a binding was skipped). */
export interface Decision {
  allowed: boolean;
  reason: string;
}

/** The RBAC objects a decision reads (the store's, or any list of them). */
export interface RbacSource {
  list(plural: 'roles' | 'clusterroles' | 'rolebindings' | 'clusterrolebindings'): KubeObject[];
}

/** One PolicyRule of a Role or ClusterRole. */
export interface PolicyRule {
  verbs: string[];
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
}

/** A subject of a binding. */
interface Subject {
  kind: string;
  name: string;
  namespace?: string;
}

/** The groups every authenticated user has, and the anonymous user's. */
export const AUTHENTICATED = 'system:authenticated';
export const UNAUTHENTICATED = 'system:unauthenticated';
/** The user of a request without credentials. */
export const ANONYMOUS: UserInfo = { name: 'system:anonymous', groups: [UNAUTHENTICATED] };

/** The identity of a ServiceAccount's token, as the API server's service-account authenticator gives it. */
export function serviceAccountUser(namespace: string, name: string): UserInfo {
  return { name: `system:serviceaccount:${namespace}:${name}`, groups: ['system:serviceaccounts', `system:serviceaccounts:${namespace}`, AUTHENTICATED] };
}

function rulesOf(role: KubeObject | undefined): PolicyRule[] {
  const rules = (role as { rules?: unknown } | undefined)?.rules;
  return Array.isArray(rules) ? (rules as PolicyRule[]) : [];
}

function has(list: string[] | undefined, value: string): boolean {
  return Array.isArray(list) && (list.includes(value) || list.includes('*'));
}

/** True when `rule` allows `attrs` (`RuleAllows` in `pkg/registry/rbac/validation`). */
export function ruleAllows(attrs: RequestAttributes, rule: PolicyRule): boolean {
  if (!has(rule.verbs, attrs.verb)) return false;
  if (attrs.kind === 'nonResource') {
    return (rule.nonResourceURLs ?? []).some((url) => url === '*' || url === attrs.path || (url.endsWith('*') && attrs.path.startsWith(url.slice(0, -1))));
  }
  if (!has(rule.apiGroups, attrs.group)) return false;
  const combined = attrs.subresource ? `${attrs.resource}/${attrs.subresource}` : attrs.resource;
  // "deployments" does not reach deployments/scale; "*/scale" reaches every resource's scale.
  const resourceOk = (rule.resources ?? []).some((r) => r === '*' || r === combined || (attrs.subresource !== undefined && r === `*/${attrs.subresource}`));
  if (!resourceOk) return false;
  const names = rule.resourceNames ?? [];
  return names.length === 0 || (attrs.name !== undefined && names.includes(attrs.name));
}

function subjectsOf(binding: KubeObject): Subject[] {
  const subjects = (binding as { subjects?: unknown }).subjects;
  return Array.isArray(subjects) ? (subjects as Subject[]) : [];
}

/** True when the subject is the user, one of its groups, or its ServiceAccount (`appliesToUser`). */
function appliesTo(user: UserInfo, subject: Subject, bindingNamespace: string | undefined): boolean {
  switch (subject.kind) {
    case 'User':
      return subject.name === user.name;
    case 'Group':
      return user.groups.includes(subject.name);
    case 'ServiceAccount': {
      const ns = subject.namespace || bindingNamespace || '';
      return user.name === `system:serviceaccount:${ns}:${subject.name}`;
    }
    default:
      return false;
  }
}

/** A subject as the authorizer names it (`describeSubject`): a ServiceAccount as "name/namespace". */
function describeSubject(subject: Subject, bindingNamespace: string | undefined): string {
  return subject.kind === 'ServiceAccount' ? `ServiceAccount "${subject.name}/${subject.namespace || bindingNamespace || ''}"` : `${subject.kind} "${subject.name}"`;
}

/** A binding that applies to the user, its role's rules (or why they could not be read), and how the authorizer names it. */
interface Grant {
  rules: PolicyRule[];
  describe: () => string;
  error?: string;
}

/** The grants that apply to `user` at the cluster scope and, with a namespace, in it — in the authorizer's order. */
function grantsFor(source: RbacSource, user: UserInfo, namespace: string | undefined): Grant[] {
  const clusterRoles = new Map(source.list('clusterroles').map((r) => [r.metadata.name, r]));
  const grants: Grant[] = [];
  const roleOf = (ref: { kind?: string; name?: string } | undefined, ns: string | undefined): { role?: KubeObject; error?: string } => {
    const name = String(ref?.name ?? '');
    if (ref?.kind === 'Role') {
      const role = source.list('roles').find((r) => r.metadata.namespace === ns && r.metadata.name === name);
      return role ? { role } : { error: `role.rbac.authorization.k8s.io "${name}" not found` };
    }
    const role = clusterRoles.get(name);
    return role ? { role } : { error: `clusterrole.rbac.authorization.k8s.io "${name}" not found` };
  };
  for (const b of source.list('clusterrolebindings')) {
    const subject = subjectsOf(b).find((s) => appliesTo(user, s, undefined));
    if (!subject) continue;
    const ref = (b as { roleRef?: { kind?: string; name?: string } }).roleRef;
    const { role, error } = roleOf({ kind: 'ClusterRole', name: ref?.name }, undefined);
    grants.push({ rules: rulesOf(role), error, describe: () => `ClusterRoleBinding "${b.metadata.name}" of ClusterRole "${ref?.name}" to ${describeSubject(subject, undefined)}` });
  }
  if (namespace) {
    for (const b of source.list('rolebindings').filter((x) => x.metadata.namespace === namespace)) {
      const subject = subjectsOf(b).find((s) => appliesTo(user, s, namespace));
      if (!subject) continue;
      const ref = (b as { roleRef?: { kind?: string; name?: string } }).roleRef;
      const { role, error } = roleOf(ref, namespace);
      grants.push({ rules: rulesOf(role), error, describe: () => `RoleBinding "${b.metadata.name}/${namespace}" of ${ref?.kind ?? 'Role'} "${ref?.name}" to ${describeSubject(subject, namespace)}` });
    }
  }
  return grants;
}

/** Decides a request: allowed by the first rule that matches; else not, with the errors met on the way as the reason. */
export function authorize(source: RbacSource, user: UserInfo, attrs: RequestAttributes): Decision {
  const errors: string[] = [];
  const namespace = attrs.kind === 'resource' ? attrs.namespace : undefined;
  for (const grant of grantsFor(source, user, namespace)) {
    if (grant.error) errors.push(grant.error);
    if (grant.rules.some((rule) => ruleAllows(attrs, rule))) return { allowed: true, reason: `RBAC: allowed by ${grant.describe()}` };
  }
  return { allowed: false, reason: errors.length === 0 ? '' : `RBAC: ${errors.length === 1 ? errors[0] : `[${errors.join(', ')}]`}` };
}

/** What a user may do in a namespace (SelfSubjectRulesReview's status): every rule that applies, split by kind. */
export function rulesFor(source: RbacSource, user: UserInfo, namespace: string) {
  const resourceRules: Array<{ verbs: string[]; apiGroups: string[]; resources: string[]; resourceNames?: string[] }> = [];
  const nonResourceRules: Array<{ verbs: string[]; nonResourceURLs: string[] }> = [];
  const errors: string[] = [];
  for (const grant of grantsFor(source, user, namespace || undefined)) {
    if (grant.error) errors.push(grant.error);
    for (const rule of grant.rules) {
      if (rule.resources?.length) {
        resourceRules.push({ verbs: rule.verbs, apiGroups: rule.apiGroups ?? [], resources: rule.resources, ...(rule.resourceNames?.length ? { resourceNames: rule.resourceNames } : {}) });
      }
      if (rule.nonResourceURLs?.length) nonResourceRules.push({ verbs: rule.verbs, nonResourceURLs: rule.nonResourceURLs });
    }
  }
  return { resourceRules, nonResourceRules, incomplete: errors.length > 0, ...(errors.length ? { evaluationError: errors.join(', ') } : {}) };
}

/**
 * The text of a 403 (`forbiddenMessage` and `NewForbidden` in k8s.io/apiserver), e.g.
 * `deployments.apps "web" is forbidden: User "restricted" cannot patch resource "deployments" in
 * API group "apps" in the namespace "shop"`.
 */
export function forbiddenMessage(user: UserInfo, attrs: RequestAttributes, reason = ''): string {
  let text: string;
  let prefix: string;
  if (attrs.kind === 'nonResource') {
    text = `User "${user.name}" cannot ${attrs.verb} path "${attrs.path}"`;
    prefix = 'forbidden';
  } else {
    const resource = attrs.subresource ? `${attrs.resource}/${attrs.subresource}` : attrs.resource;
    const scope = attrs.namespace ? `in the namespace "${attrs.namespace}"` : 'at the cluster scope';
    text = `User "${user.name}" cannot ${attrs.verb} resource "${resource}" in API group "${attrs.group}" ${scope}`;
    const qualified = attrs.group ? `${attrs.resource}.${attrs.group}` : attrs.resource;
    prefix = attrs.name ? `${qualified} "${attrs.name}" is forbidden` : `${qualified} is forbidden`;
  }
  return `${prefix}: ${text}${reason ? `: ${reason}` : ''}`;
}

const BOOTSTRAP_LABELS = { 'kubernetes.io/bootstrapping': 'rbac-defaults' };
const BOOTSTRAP_ANNOTATIONS = { 'rbac.authorization.kubernetes.io/autoupdate': 'true' };

function clusterRole(name: string, rules: PolicyRule[]): KubeObject {
  return { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name, labels: BOOTSTRAP_LABELS, annotations: BOOTSTRAP_ANNOTATIONS }, rules };
}

function clusterRoleBinding(name: string, role: string, groups: string[]): KubeObject {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name, labels: BOOTSTRAP_LABELS, annotations: BOOTSTRAP_ANNOTATIONS },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role },
    subjects: groups.map((g) => ({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: g })),
  };
}

/**
 * The API server's default roles and bindings that the twin's clients meet (`bootstrappolicy`):
 * cluster-admin for system:masters, discovery and version for every authenticated user, the
 * health and version paths for everyone, and the self-reviews behind `kubectl auth can-i` and
 * `kubectl auth whoami`.
 */
export function bootstrapPolicy(): KubeObject[] {
  const publicInfo = ['/healthz', '/livez', '/readyz', '/version', '/version/'];
  return [
    clusterRole('cluster-admin', [
      { apiGroups: ['*'], resources: ['*'], verbs: ['*'] },
      { nonResourceURLs: ['*'], verbs: ['*'] },
    ]),
    clusterRole('system:discovery', [{ nonResourceURLs: ['/api', '/api/*', '/apis', '/apis/*', '/healthz', '/livez', '/openapi', '/openapi/*', '/readyz', '/version', '/version/'], verbs: ['get'] }]),
    clusterRole('system:public-info-viewer', [{ nonResourceURLs: publicInfo, verbs: ['get'] }]),
    clusterRole('system:basic-user', [
      { apiGroups: ['authorization.k8s.io'], resources: ['selfsubjectaccessreviews', 'selfsubjectrulesreviews'], verbs: ['create'] },
      { apiGroups: ['authentication.k8s.io'], resources: ['selfsubjectreviews'], verbs: ['create'] },
    ]),
    clusterRoleBinding('cluster-admin', 'cluster-admin', ['system:masters']),
    clusterRoleBinding('system:discovery', 'system:discovery', [AUTHENTICATED]),
    clusterRoleBinding('system:public-info-viewer', 'system:public-info-viewer', [AUTHENTICATED, UNAUTHENTICATED]),
    clusterRoleBinding('system:basic-user', 'system:basic-user', [AUTHENTICATED]),
  ];
}
