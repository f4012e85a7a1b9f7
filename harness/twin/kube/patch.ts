/**
 * The three patch formats of the Kubernetes API: JSON patch (RFC 6902), JSON merge patch
 * (RFC 7386) and strategic merge patch for the fields the twin's objects use. Pure functions on
 * JSON values; the input is never mutated. A patch that does not apply is a value, not an error.
 */

/** The patch formats, by their Content-Type. */
export const patchContentTypes = {
  'application/json-patch+json': 'json',
  'application/merge-patch+json': 'merge',
  'application/strategic-merge-patch+json': 'strategic',
} as const;

/** A patch format the twin applies. */
export type PatchType = (typeof patchContentTypes)[keyof typeof patchContentTypes];

/** The patched document, or why the patch did not apply (400 malformed patch, 422 does not apply). */
export type PatchOutcome = { ok: true; value: unknown } | { ok: false; code: 400 | 422; message: string };

/**
 * Merge keys of lists that strategic merge patch merges element by element, by field name, as in
 * the Kubernetes API types (`patchMergeKey`). `ports` means container ports (containerPort) or
 * service ports (port), decided by the elements. Every other list of objects is replaced whole,
 * as the real API does (taints, tolerations and readinessGates have no merge key there).
 */
export const strategicMergeKeys: Record<string, string> = {
  containers: 'name',
  initContainers: 'name',
  ephemeralContainers: 'name',
  env: 'name',
  volumes: 'name',
  volumeMounts: 'mountPath',
  volumeDevices: 'devicePath',
  imagePullSecrets: 'name',
  hostAliases: 'ip',
  conditions: 'type',
  addresses: 'type',
  ownerReferences: 'uid',
  topologySpreadConstraints: 'topologyKey',
  ports: 'containerPort',
};

/** Lists of scalars that strategic merge patch merges as sets (`patchStrategy:"merge"`). */
export const strategicMergeSets: ReadonlySet<string> = new Set(['finalizers']);

/** The patch type for a Content-Type header value (parameters ignored), or undefined. */
export function patchTypeOf(contentType: string | undefined): PatchType | undefined {
  const bare = (contentType ?? '').split(';')[0].trim().toLowerCase();
  return (patchContentTypes as Record<string, PatchType>)[bare];
}

/** Applies a patch of the given type to `doc`. */
export function applyPatch(type: PatchType, doc: unknown, patch: unknown): PatchOutcome {
  switch (type) {
    case 'json':
      return applyJsonPatch(doc, patch);
    case 'merge':
      return { ok: true, value: applyMergePatch(doc, patch) };
    case 'strategic':
      return applyStrategicMergePatch(doc, patch);
  }
}

/** Thrown inside this module only, turned into a PatchOutcome at the boundary. */
class PatchFailure extends Error {
  constructor(
    readonly code: 400 | 422,
    message: string,
  ) {
    super(message);
  }
}

function outcome(fn: () => unknown): PatchOutcome {
  try {
    return { ok: true, value: fn() };
  } catch (error) {
    if (error instanceof PatchFailure) return { ok: false, code: error.code, message: error.message };
    throw error;
  }
}

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Deep equality of JSON values (key order does not matter). */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((v, i) => jsonEqual(v, b[i]));
  }
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && jsonEqual(a[k], b[k]));
  }
  return false;
}

// ---------------------------------------------------------------- JSON patch (RFC 6902)

function parsePointer(pointer: unknown): string[] {
  if (typeof pointer !== 'string') throw new PatchFailure(400, `expected a JSON pointer string, got ${JSON.stringify(pointer)}`);
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw new PatchFailure(400, `expected a JSON pointer starting with "/", got ${JSON.stringify(pointer)}`);
  return pointer
    .slice(1)
    .split('/')
    .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function arrayIndex(arr: unknown[], token: string, pointer: string, forInsert: boolean): number {
  if (forInsert && token === '-') return arr.length;
  if (!/^(0|[1-9][0-9]*)$/.test(token)) throw new PatchFailure(422, `expected an array index at ${pointer}, got ${JSON.stringify(token)}`);
  const index = Number(token);
  if (index > arr.length || (!forInsert && index === arr.length)) {
    throw new PatchFailure(422, `array index ${index} out of bounds (length ${arr.length}) at ${pointer}`);
  }
  return index;
}

/** The container of the last token, walking `tokens` from `root`. */
function parentOf(root: unknown, tokens: string[], pointer: string): unknown {
  let cur = root;
  for (const token of tokens.slice(0, -1)) {
    if (Array.isArray(cur)) cur = cur[arrayIndex(cur, token, pointer, false)];
    else if (isObject(cur) && Object.hasOwn(cur, token)) cur = cur[token];
    else throw new PatchFailure(422, `doc is missing path: ${pointer}`);
  }
  return cur;
}

function getAt(root: unknown, pointer: string): unknown {
  const tokens = parsePointer(pointer);
  if (tokens.length === 0) return root;
  const parent = parentOf(root, tokens, pointer);
  const last = tokens[tokens.length - 1];
  if (Array.isArray(parent)) return parent[arrayIndex(parent, last, pointer, false)];
  if (isObject(parent) && Object.hasOwn(parent, last)) return parent[last];
  throw new PatchFailure(422, `doc is missing path: ${pointer}`);
}

/** Returns the new root (an op on "" replaces the whole document). */
function addAt(root: unknown, pointer: string, value: unknown, replace: boolean): unknown {
  const tokens = parsePointer(pointer);
  if (tokens.length === 0) return value;
  const parent = parentOf(root, tokens, pointer);
  const last = tokens[tokens.length - 1];
  if (Array.isArray(parent)) {
    const index = arrayIndex(parent, last, pointer, !replace);
    if (replace) parent[index] = value;
    else parent.splice(index, 0, value);
  } else if (isObject(parent)) {
    if (replace && !Object.hasOwn(parent, last)) throw new PatchFailure(422, `replace operation does not apply: doc is missing key: ${pointer}`);
    parent[last] = value;
  } else throw new PatchFailure(422, `doc is missing path: ${pointer}`);
  return root;
}

function removeAt(root: unknown, pointer: string): unknown {
  const tokens = parsePointer(pointer);
  if (tokens.length === 0) throw new PatchFailure(422, 'remove operation cannot remove the whole document');
  const parent = parentOf(root, tokens, pointer);
  const last = tokens[tokens.length - 1];
  if (Array.isArray(parent)) return parent.splice(arrayIndex(parent, last, pointer, false), 1)[0];
  if (isObject(parent) && Object.hasOwn(parent, last)) {
    const value = parent[last];
    delete parent[last];
    return value;
  }
  throw new PatchFailure(422, `remove operation does not apply: doc is missing path: ${pointer}`);
}

/** Applies an RFC 6902 JSON patch (an array of operations); a failed `test` is a 422. */
export function applyJsonPatch(doc: unknown, ops: unknown): PatchOutcome {
  return outcome(() => {
    if (!Array.isArray(ops)) throw new PatchFailure(400, `expected a JSON patch (an array of operations), got ${typeof ops}`);
    let root = structuredClone(doc);
    ops.forEach((op: unknown, i) => {
      if (!isObject(op)) throw new PatchFailure(400, `operation ${i}: expected an object, got ${JSON.stringify(op)}`);
      const path = op.path as string;
      const needValue = () => {
        if (!Object.hasOwn(op, 'value')) throw new PatchFailure(400, `operation ${i} (${String(op.op)}): missing value`);
        return structuredClone(op.value);
      };
      switch (op.op) {
        case 'add':
          root = addAt(root, path, needValue(), false);
          break;
        case 'replace':
          root = addAt(root, path, needValue(), true);
          break;
        case 'remove':
          removeAt(root, path);
          break;
        case 'move': {
          const from = op.from as string;
          if (typeof path === 'string' && typeof from === 'string' && path.startsWith(`${from}/`)) {
            throw new PatchFailure(422, `move operation cannot move ${from} into its own child ${path}`);
          }
          const value = from === path ? getAt(root, from) : removeAt(root, from);
          if (from !== path) root = addAt(root, path, value, false);
          break;
        }
        case 'copy':
          root = addAt(root, path, structuredClone(getAt(root, op.from as string)), false);
          break;
        case 'test': {
          const actual = getAt(root, path);
          if (!jsonEqual(actual, op.value)) {
            throw new PatchFailure(422, `testing value ${path} failed: expected ${JSON.stringify(op.value)}, got ${JSON.stringify(actual)}`);
          }
          break;
        }
        default:
          throw new PatchFailure(400, `operation ${i}: expected op add|remove|replace|move|copy|test, got ${JSON.stringify(op.op)}`);
      }
    });
    return root;
  });
}

// ---------------------------------------------------------------- merge patch (RFC 7386)

/** Applies an RFC 7386 merge patch: objects merge recursively, null deletes, anything else replaces. */
export function applyMergePatch(doc: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return structuredClone(patch);
  const result: JsonObject = isObject(doc) ? structuredClone(doc) : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete result[k];
    else result[k] = applyMergePatch(result[k], v);
  }
  return result;
}

// ---------------------------------------------------------------- strategic merge patch

const DELETE = Symbol('delete');

/** Applies a strategic merge patch with the merge keys above and the `$patch` directives. */
export function applyStrategicMergePatch(doc: unknown, patch: unknown): PatchOutcome {
  return outcome(() => {
    if (!isObject(patch)) throw new PatchFailure(400, `expected a strategic merge patch object, got ${Array.isArray(patch) ? 'an array' : typeof patch}`);
    const result = mergeObject(doc, patch, '');
    return result === DELETE ? {} : result;
  });
}

/** Removes directive keys from a value that is inserted as-is. */
function stripDirectives(value: unknown): unknown {
  if (Array.isArray(value)) return value.filter((v) => !(isObject(v) && v.$patch !== undefined && Object.keys(v).length === 1)).map(stripDirectives);
  if (!isObject(value)) return value;
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(value)) {
    if (k.startsWith('$')) continue;
    if (v === null) continue;
    out[k] = stripDirectives(v);
  }
  return out;
}

function mergeObject(original: unknown, patch: JsonObject, path: string): unknown {
  const directive = patch.$patch;
  if (directive === 'delete') return DELETE;
  if (directive === 'replace') return stripDirectives(patch);
  if (directive !== undefined && directive !== 'merge') {
    throw new PatchFailure(422, `${path || '.'}: expected $patch delete|replace|merge, got ${JSON.stringify(directive)}`);
  }
  const result: JsonObject = isObject(original) ? structuredClone(original) : {};
  const deferred: Array<[string, unknown]> = [];
  for (const [k, v] of Object.entries(patch)) {
    if (k === '$patch' || k === '$retainKeys' || k.startsWith('$setElementOrder/')) continue;
    if (k.startsWith('$deleteFromPrimitiveList/')) {
      deferred.push([k.slice('$deleteFromPrimitiveList/'.length), v]);
      continue;
    }
    const at = `${path}.${k}`;
    if (v === null) delete result[k];
    else if (Array.isArray(v)) result[k] = mergeList(k, result[k], v, at);
    else if (isObject(v)) {
      const merged = mergeObject(result[k], v, at);
      if (merged === DELETE) delete result[k];
      else result[k] = merged;
    } else result[k] = v;
  }
  for (const [field, values] of deferred) {
    if (!Array.isArray(values)) throw new PatchFailure(400, `${path}.$deleteFromPrimitiveList/${field}: expected a list, got ${JSON.stringify(values)}`);
    const current = result[field];
    if (Array.isArray(current)) result[field] = current.filter((item) => !values.some((d) => jsonEqual(d, item)));
  }
  return result;
}

function mergeKeyOf(field: string, items: unknown[]): string | undefined {
  const key = strategicMergeKeys[field];
  if (field === 'ports') {
    // Container ports merge by containerPort, service ports by port.
    return items.some((p) => isObject(p) && p.containerPort !== undefined) ? 'containerPort' : 'port';
  }
  return key;
}

function mergeList(field: string, original: unknown, patch: unknown[], path: string): unknown[] {
  const replaceMarker = patch.findIndex((p) => isObject(p) && p.$patch === 'replace' && Object.keys(p).length === 1);
  if (replaceMarker >= 0) return stripDirectives(patch.filter((_, i) => i !== replaceMarker)) as unknown[];
  const current = Array.isArray(original) ? structuredClone(original) : [];
  if (strategicMergeSets.has(field)) {
    const out = [...current];
    for (const v of patch) if (!out.some((c) => jsonEqual(c, v))) out.push(v);
    return out;
  }
  const mergeKey = mergeKeyOf(field, [...current, ...patch]);
  if (!mergeKey || !patch.every(isObject)) return stripDirectives(patch) as unknown[];
  let out = current;
  for (const item of patch as JsonObject[]) {
    const keyValue = item[mergeKey];
    if (keyValue === undefined) {
      throw new PatchFailure(422, `${path}: expected every element to carry the merge key "${mergeKey}", got ${JSON.stringify(item)}`);
    }
    const index = out.findIndex((el) => isObject(el) && jsonEqual(el[mergeKey], keyValue));
    if (item.$patch === 'delete') {
      out = out.filter((el) => !(isObject(el) && jsonEqual(el[mergeKey], keyValue)));
      continue;
    }
    if (index >= 0) {
      const merged = mergeObject(out[index], item, `${path}[${mergeKey}=${JSON.stringify(keyValue)}]`);
      if (merged === DELETE) out.splice(index, 1);
      else out[index] = merged;
    } else out.push(stripDirectives(item));
  }
  return out;
}
