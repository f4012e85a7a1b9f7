/**
 * The twin's object store: every Kubernetes object, one global resourceVersion, a bounded event
 * history per resource so that watches can resume from a resourceVersion, and watch fan-out.
 * Controllers use it in-process; the HTTP API (`server.ts`) serves it on the wire.
 * Objects handed out are copies: mutate through `update` or `modify` only.
 */
import { randomUUID } from 'node:crypto';
import type { Clock } from '../../core/clock.ts';
import { fieldValue, parseSelector } from './selectors.ts';
import type { KubeObject, WatchEvent } from './types.ts';
import { apiVersionOf, resources } from './resources.ts';

/** An API error with its HTTP status and Kubernetes reason. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly code: number,
    readonly reason: 'NotFound' | 'AlreadyExists' | 'Conflict' | 'Gone' | 'Invalid' | 'BadRequest' | 'TooManyRequests' | 'MethodNotAllowed' | 'InternalError',
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

/** Which objects a list or watch selects. */
export interface ListOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
}

/** Options of a watch. */
export interface WatchOptions extends ListOptions {
  /** Replay events after this resourceVersion ('' or '0' = start from now). */
  resourceVersion?: string;
}

/** A store event as delivered to in-process watchers (the object is a shared frozen copy). */
export type StoreListener = (event: WatchEvent) => void;

interface Watcher {
  plural: string;
  matches: (obj: KubeObject) => boolean;
  listener: StoreListener;
}

const HISTORY = 10_000;

function key(namespace: string | undefined, name: string): string {
  return namespace ? `${namespace}/${name}` : name;
}

function copy<T>(value: T): T {
  return structuredClone(value);
}

/** RFC 3339 with second precision, as the API writes timestamps. */
export function timestamp(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/** Builds a matcher from list options. */
export function objectMatcher(opts: ListOptions): (obj: KubeObject) => boolean {
  const labels = parseSelector(opts.labelSelector);
  const fields = parseSelector(opts.fieldSelector);
  return (obj) =>
    (!opts.namespace || obj.metadata.namespace === opts.namespace) &&
    labels((k) => obj.metadata.labels?.[k]) &&
    fields((k) => fieldValue(obj, k));
}

/** The store of every object the twin knows. */
export class ObjectStore {
  #rv = 1;
  #objects = new Map<string, Map<string, KubeObject>>();
  #history = new Map<string, Array<{ rv: number; event: WatchEvent }>>();
  #watchers = new Set<Watcher>();
  #nameSeq = 0;
  #admission = new Map<string, Array<(obj: KubeObject) => void>>();

  constructor(readonly clock: Clock) {
    for (const plural of Object.keys(resources)) {
      this.#objects.set(plural, new Map());
      this.#history.set(plural, []);
    }
  }

  /**
   * Adds a mutating admission step for creates of `plural` (e.g. the readiness-gate webhook).
   * It runs on every create, whether it comes over HTTP or from a controller.
   */
  addAdmission(plural: string, mutate: (obj: KubeObject) => void): void {
    const list = this.#admission.get(plural) ?? [];
    list.push(mutate);
    this.#admission.set(plural, list);
  }

  /** The current resourceVersion. */
  get resourceVersion(): string {
    return String(this.#rv);
  }

  #table(plural: string): Map<string, KubeObject> {
    const table = this.#objects.get(plural);
    if (!table) throw new ApiError(404, 'NotFound', `the server could not find the requested resource (${plural})`);
    return table;
  }

  /** One object, or undefined. */
  get(plural: string, namespace: string | undefined, name: string): KubeObject | undefined {
    const obj = this.#table(plural).get(key(namespace, name));
    return obj && copy(obj);
  }

  /** One object, or a 404 ApiError. */
  require(plural: string, namespace: string | undefined, name: string): KubeObject {
    const obj = this.get(plural, namespace, name);
    if (!obj) throw notFound(plural, name);
    return obj;
  }

  /** Objects matching the options, sorted by namespace/name, with the list's resourceVersion. */
  list(plural: string, opts: ListOptions = {}): { items: KubeObject[]; resourceVersion: string } {
    const matches = objectMatcher(opts);
    const items = [...this.#table(plural).entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, obj]) => obj)
      .filter(matches)
      .map(copy);
    return { items, resourceVersion: this.resourceVersion };
  }

  /**
   * Creates an object; fills uid, resourceVersion, creationTimestamp, generation, generateName.
   * `validate` runs after admission (the API server's order); a dry run stops before storing:
   * no resourceVersion, no event.
   */
  create(plural: string, input: KubeObject, opts: { dryRun?: boolean; validate?: (obj: KubeObject) => void } = {}): KubeObject {
    const info = resources[plural];
    const table = this.#table(plural);
    const obj = copy(input);
    obj.apiVersion ??= apiVersionOf(info);
    obj.kind ??= info.kind;
    obj.metadata ??= { name: '' };
    if (!obj.metadata.name && obj.metadata.generateName) {
      obj.metadata.name = `${obj.metadata.generateName}${suffix(++this.#nameSeq)}`;
    }
    if (!obj.metadata.name) throw new ApiError(422, 'Invalid', `${info.kind} is invalid: metadata.name: Required value`);
    if (info.namespaced) {
      if (!obj.metadata.namespace) throw new ApiError(422, 'Invalid', `${info.kind} is invalid: metadata.namespace: Required value`);
      if (plural !== 'events' && !this.#table('namespaces').has(obj.metadata.namespace)) {
        throw new ApiError(404, 'NotFound', `namespaces "${obj.metadata.namespace}" not found`);
      }
    } else delete obj.metadata.namespace;
    for (const mutate of this.#admission.get(plural) ?? []) mutate(obj);
    opts.validate?.(obj);
    const k = key(obj.metadata.namespace, obj.metadata.name);
    if (table.has(k)) throw new ApiError(409, 'AlreadyExists', `${plural} "${obj.metadata.name}" already exists`);
    obj.metadata.uid = randomUUID();
    obj.metadata.creationTimestamp = timestamp(this.clock.now());
    if (obj.spec !== undefined) obj.metadata.generation = 1;
    delete obj.metadata.deletionTimestamp;
    if (opts.dryRun) return obj;
    obj.metadata.resourceVersion = String(++this.#rv);
    table.set(k, obj);
    this.#emit(plural, 'ADDED', obj);
    return copy(obj);
  }

  /**
   * Replaces an object. With `expectRv`, fails with 409 Conflict when the stored
   * resourceVersion differs. Bumps generation when spec changed. A dry run answers the object
   * that would be stored (with the stored resourceVersion) and stores nothing.
   */
  update(plural: string, input: KubeObject, opts: { expectRv?: string; dryRun?: boolean } = {}): KubeObject {
    const table = this.#table(plural);
    const k = key(input.metadata.namespace, input.metadata.name);
    const current = table.get(k);
    if (!current) throw notFound(plural, input.metadata.name);
    if (opts.expectRv && opts.expectRv !== current.metadata.resourceVersion) {
      throw new ApiError(409, 'Conflict', `Operation cannot be fulfilled on ${plural} "${input.metadata.name}": the object has been modified; please apply your changes to the latest version and try again`);
    }
    const obj = copy(input);
    obj.apiVersion = current.apiVersion;
    obj.kind = current.kind;
    // Immutable metadata stays as stored.
    obj.metadata.uid = current.metadata.uid;
    obj.metadata.creationTimestamp = current.metadata.creationTimestamp;
    obj.metadata.namespace = current.metadata.namespace;
    if (current.metadata.deletionTimestamp) {
      obj.metadata.deletionTimestamp = current.metadata.deletionTimestamp;
      obj.metadata.deletionGracePeriodSeconds = current.metadata.deletionGracePeriodSeconds;
    }
    if (!info(plural).namespaced) delete obj.metadata.namespace;
    obj.metadata.generation = current.metadata.generation;
    if (obj.spec !== undefined && JSON.stringify(obj.spec) !== JSON.stringify(current.spec)) {
      obj.metadata.generation = (current.metadata.generation ?? 0) + 1;
    }
    if (JSON.stringify(stripRv(obj)) === JSON.stringify(stripRv(current))) return copy(current);
    if (opts.dryRun) {
      obj.metadata.resourceVersion = current.metadata.resourceVersion;
      return obj;
    }
    obj.metadata.resourceVersion = String(++this.#rv);
    // An object being deleted whose last finalizer is gone is removed.
    if (obj.metadata.deletionTimestamp && (obj.metadata.finalizers?.length ?? 0) === 0 && plural !== 'pods') {
      table.delete(k);
      this.#emit(plural, 'DELETED', obj);
      return copy(obj);
    }
    table.set(k, obj);
    this.#emit(plural, 'MODIFIED', obj);
    return copy(obj);
  }

  /**
   * Read-modify-write: `fn` gets a copy to change in place (or returns a replacement).
   * Returns the stored result, or undefined when the object does not exist.
   */
  modify(plural: string, namespace: string | undefined, name: string, fn: (obj: KubeObject) => KubeObject | void): KubeObject | undefined {
    const current = this.get(plural, namespace, name);
    if (!current) return undefined;
    const next = fn(current) ?? current;
    return this.update(plural, next);
  }

  /**
   * Deletes as the API does: a pod bound to a node, or an object with finalizers, gets a
   * deletionTimestamp (its kubelet or owner removes it later); anything else goes at once. A dry
   * run answers the same object and changes nothing.
   */
  delete(plural: string, namespace: string | undefined, name: string, opts: { gracePeriodSeconds?: number; dryRun?: boolean } = {}): KubeObject {
    const current = this.require(plural, namespace, name);
    const isBoundPod = plural === 'pods' && Boolean(current.spec?.nodeName) && !['Succeeded', 'Failed'].includes(current.status?.phase);
    const grace = plural === 'pods' ? (opts.gracePeriodSeconds ?? current.spec?.terminationGracePeriodSeconds ?? 30) : 0;
    if ((isBoundPod && grace > 0) || (current.metadata.finalizers?.length ?? 0) > 0) {
      if (current.metadata.deletionTimestamp) {
        // A second delete may only shorten the grace period.
        if (isBoundPod && grace < (current.metadata.deletionGracePeriodSeconds ?? Infinity)) {
          return this.#forceUpdate(plural, current, (o) => {
            o.metadata.deletionGracePeriodSeconds = grace;
          }, opts.dryRun);
        }
        return current;
      }
      return this.#forceUpdate(plural, current, (o) => {
        o.metadata.deletionTimestamp = timestamp(this.clock.now());
        o.metadata.deletionGracePeriodSeconds = isBoundPod ? grace : 0;
      }, opts.dryRun);
    }
    if (opts.dryRun) return current;
    return this.remove(plural, namespace, name) ?? current;
  }

  /** Removes an object at once (a kubelet finishing a pod's termination, garbage collection). */
  remove(plural: string, namespace: string | undefined, name: string): KubeObject | undefined {
    const table = this.#table(plural);
    const k = key(namespace, name);
    const current = table.get(k);
    if (!current) return undefined;
    table.delete(k);
    const gone = copy(current);
    gone.metadata.resourceVersion = String(++this.#rv);
    this.#emit(plural, 'DELETED', gone);
    return copy(gone);
  }

  /**
   * Watches a resource. With a resourceVersion, first replays the events after it from the
   * history (410 Gone when it is older than the history). Returns the function that stops it.
   */
  watch(plural: string, opts: WatchOptions, listener: StoreListener): () => void {
    this.#table(plural);
    const matches = objectMatcher(opts);
    const from = Number(opts.resourceVersion || 0);
    if (from > 0) {
      const history = this.#history.get(plural)!;
      const oldest = history.length ? history[0].rv : this.#rv + 1;
      if (from < oldest - 1 && history.length >= HISTORY) {
        throw new ApiError(410, 'Gone', `too old resource version: ${from} (${oldest - 1})`);
      }
      for (const { rv, event } of history) if (rv > from && matches(event.object)) listener(event);
    }
    const watcher: Watcher = { plural, matches, listener };
    this.#watchers.add(watcher);
    return () => void this.#watchers.delete(watcher);
  }

  #forceUpdate(plural: string, current: KubeObject, fn: (o: KubeObject) => void, dryRun = false): KubeObject {
    const obj = copy(current);
    fn(obj);
    if (dryRun) return obj;
    obj.metadata.resourceVersion = String(++this.#rv);
    this.#table(plural).set(key(obj.metadata.namespace, obj.metadata.name), obj);
    this.#emit(plural, 'MODIFIED', obj);
    return copy(obj);
  }

  #emit(plural: string, type: WatchEvent['type'], obj: KubeObject): void {
    const event: WatchEvent = { type, object: deepFreeze(copy(obj)) };
    const history = this.#history.get(plural)!;
    history.push({ rv: this.#rv, event });
    if (history.length > HISTORY) history.splice(0, history.length - HISTORY);
    for (const w of this.#watchers) {
      if (w.plural !== plural || !w.matches(obj)) continue;
      try {
        w.listener(event);
      } catch (error) {
        // A failing listener must not break the store or the other watchers.
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }
}

function info(plural: string) {
  return resources[plural];
}

function stripRv(obj: KubeObject): KubeObject {
  return { ...obj, metadata: { ...obj.metadata, resourceVersion: undefined } };
}

function notFound(plural: string, name: string): ApiError {
  const i = info(plural);
  return new ApiError(404, 'NotFound', `${plural}${i?.group ? `.${i.group}` : ''} "${name}" not found`, { name, group: i?.group, kind: plural });
}

const ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';
/** A 5-character name suffix like the API server's, deterministic from a counter. */
function suffix(n: number): string {
  let x = ((Math.imul(n, 2654435761) >>> 0) ^ 0x5bd1e995) >>> 0;
  let out = '';
  for (let i = 0; i < 5; i++) {
    out += ALPHABET[x % ALPHABET.length];
    x = Math.floor(x / ALPHABET.length) + 7 * i;
  }
  return out;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
