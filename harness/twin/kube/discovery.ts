/**
 * The discovery documents of the twin's Kubernetes API (/version, /api, /apis, /api/v1,
 * /apis/<group>/<version>), built from the resource registry. Only the legacy (unaggregated)
 * documents are served; clients that ask for aggregated discovery also accept these.
 */
import { resources } from './resources.ts';
import type { ResourceInfo } from './types.ts';

/** What /version answers for a `1.N` Kubernetes version (the twin config's `cluster.kubernetesVersion`). */
export function versionInfo(version: string) {
  const [major, minor] = version.split('.');
  return { ...twinVersion, major, minor, gitVersion: `v${major}.${minor}.0-twin` };
}

/** What /version answers by default (1.31). */
export const twinVersion = {
  major: '1',
  minor: '31',
  gitVersion: 'v1.31.0-twin',
  gitCommit: '0000000000000000000000000000000000000000',
  gitTreeState: 'clean',
  buildDate: '2024-08-13T00:00:00Z',
  goVersion: 'go1.22.5',
  compiler: 'gc',
  platform: 'linux/amd64',
};

/** How each subresource is described in an APIResourceList (its own group/version/kind and verbs). */
const subresourceInfo: Record<string, { group: string; version: string; kind?: string; verbs: string[] }> = {
  status: { group: '', version: '', verbs: ['get', 'patch', 'update'] },
  eviction: { group: 'policy', version: 'v1', kind: 'Eviction', verbs: ['create'] },
  scale: { group: 'autoscaling', version: 'v1', kind: 'Scale', verbs: ['get', 'patch', 'update'] },
  log: { group: '', version: '', verbs: ['get'] },
};

/** Resources listed in the "all" category, as kubectl get all expects. */
const inCategoryAll = new Set(['pods', 'services', 'deployments', 'replicasets']);

/** The served group/versions, core first. */
export function groupVersions(): Array<{ group: string; version: string }> {
  const seen = new Map<string, { group: string; version: string }>();
  for (const info of Object.values(resources)) seen.set(`${info.group}/${info.version}`, { group: info.group, version: info.version });
  return [...seen.values()];
}

/** The resources of one group/version. */
export function resourcesOf(group: string, version: string): ResourceInfo[] {
  return Object.values(resources).filter((info) => info.group === group && info.version === version);
}

/** GET /api: the core group's versions. */
export function apiVersions(serverAddress: string) {
  return {
    kind: 'APIVersions',
    versions: ['v1'],
    serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }],
  };
}

/** One named group as it appears in /apis and /apis/<group>. */
export function apiGroup(group: string) {
  const versions = groupVersions()
    .filter((gv) => gv.group === group)
    .map((gv) => ({ groupVersion: `${group}/${gv.version}`, version: gv.version }));
  if (!group || versions.length === 0) return undefined;
  return { kind: 'APIGroup', apiVersion: 'v1', name: group, versions, preferredVersion: versions[0] };
}

/** GET /apis: every named group. */
export function apiGroupList() {
  const names = [...new Set(groupVersions().map((gv) => gv.group))].filter(Boolean);
  return {
    kind: 'APIGroupList',
    apiVersion: 'v1',
    groups: names.map((name) => {
      const { kind: _kind, apiVersion: _apiVersion, ...group } = apiGroup(name)!;
      return group;
    }),
  };
}

/** GET /api/v1 or /apis/<group>/<version>: the resources and subresources, or undefined. */
export function apiResourceList(group: string, version: string) {
  const infos = resourcesOf(group, version);
  if (infos.length === 0) return undefined;
  const list: Array<Record<string, unknown>> = [];
  for (const info of infos) {
    list.push({
      name: info.plural,
      singularName: info.singular,
      namespaced: info.namespaced,
      kind: info.kind,
      verbs: info.verbs,
      ...(info.shortNames ? { shortNames: info.shortNames } : {}),
      ...(inCategoryAll.has(info.plural) ? { categories: ['all'] } : {}),
    });
    for (const sub of info.subresources ?? []) {
      const s = subresourceInfo[sub];
      if (!s) continue;
      list.push({
        name: `${info.plural}/${sub}`,
        singularName: '',
        namespaced: info.namespaced,
        ...(s.group ? { group: s.group, version: s.version } : {}),
        kind: s.kind ?? info.kind,
        verbs: s.verbs,
      });
    }
  }
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: group ? `${group}/${version}` : version,
    resources: list,
  };
}

/** The paths of one resource: its collection and its item, namespaced or not. */
function resourcePaths(info: ResourceInfo): { collection: string; item: string } {
  const base = info.group ? `/apis/${info.group}/${info.version}` : `/api/${info.version}`;
  const scope = info.namespaced ? '/namespaces/{namespace}' : '';
  return { collection: `${base}${scope}/${info.plural}`, item: `${base}${scope}/${info.plural}/{name}` };
}

function openApiPath(group: string, version: string): string {
  return group ? `apis/${group}/${version}` : `api/${version}`;
}

/**
 * GET /openapi/v3: the index of per-group/version documents. kubectl reads it to learn that the
 * server validates fields itself (`fieldValidation`), so `kubectl apply/create -f` work without
 * a full schema.
 */
export function openApiV3Index() {
  return {
    paths: Object.fromEntries(
      groupVersions().map(({ group, version }) => [openApiPath(group, version), { serverRelativeURL: `/openapi/v3/${openApiPath(group, version)}?hash=twin` }]),
    ),
  };
}

/**
 * GET /openapi/v3/api/v1 or /openapi/v3/apis/<group>/<version>: operations only (no schemas),
 * each tagged with its group/version/kind and the query parameters the twin accepts.
 */
export function openApiV3Document(group: string, version: string) {
  const infos = resourcesOf(group, version);
  if (infos.length === 0) return undefined;
  const param = (name: string) => ({ name, in: 'query', schema: { type: 'string' }, uniqueItems: true });
  const op = (info: ResourceInfo, action: string) => ({
    operationId: `${action}${info.kind}`,
    parameters: [param('dryRun'), param('fieldManager'), param('fieldValidation')],
    responses: { '200': { description: 'OK' } },
    'x-kubernetes-action': action,
    'x-kubernetes-group-version-kind': { group, version, kind: info.kind },
  });
  const paths: Record<string, unknown> = {};
  for (const info of infos) {
    const p = resourcePaths(info);
    paths[p.collection] = { post: op(info, 'post'), get: { ...op(info, 'list'), parameters: [] } };
    paths[p.item] = { get: { ...op(info, 'get'), parameters: [] }, put: op(info, 'put'), patch: op(info, 'patch'), delete: op(info, 'delete') };
  }
  return {
    openapi: '3.0.0',
    info: { title: 'Kubernetes', version: 'v1.31.0-twin' },
    paths,
    components: { schemas: {} },
  };
}
