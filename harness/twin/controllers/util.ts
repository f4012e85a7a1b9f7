/**
 * Shared pieces of the twin's cluster controllers: the keyed work queue every controller runs on
 * (coalescing, delayed requeue, all through the injected clock), watch wiring, and the pod and
 * owner helpers the Kubernetes controllers share (IsPodReady, IsPodAvailable, controllerRef, ...).
 */
import type { Clock, Timer } from '../../core/clock.ts';
import { hashString } from '../../core/random.ts';
import type { ObjectStore } from '../kube/store.ts';
import type { KubeObject, ObjectMeta, WatchEvent } from '../kube/types.ts';

/** Where a controller writes diagnostic lines. */
export type Log = (line: string) => void;

/** What every controller needs. */
export interface ControllerDeps {
  store: ObjectStore;
  clock: Clock;
  log?: Log;
}

/** A running controller. */
export interface Controller {
  stop(): void;
}

/** A controller's handler: reconciles one key; may return model ms after which to look again. */
export type Reconcile = (key: string) => number | void;

/** Retry delay after a handler threw (a bug or a broken store): slow enough not to spin. */
const ERROR_RETRY_MS = 1_000;

/**
 * A keyed work queue as client-go's: adding a key that is already queued is a no-op, the keys
 * added while a batch runs form the next batch, and `addAfter` keeps only the earliest wake-up
 * per key. Batches run on a zero-delay clock timer, so a ManualClock's `advance(0)` settles a
 * whole cascade of controllers deterministically.
 */
export class WorkQueue {
  readonly #clock: Clock;
  readonly #reconcile: Reconcile;
  readonly #log: Log;
  readonly #name: string;
  #queued = new Set<string>();
  #batch: Timer | undefined;
  #delayed = new Map<string, { at: number; timer: Timer }>();
  #stopped = false;

  constructor(name: string, clock: Clock, reconcile: Reconcile, log: Log = () => {}) {
    this.#name = name;
    this.#clock = clock;
    this.#reconcile = reconcile;
    this.#log = log;
  }

  /** Queues `key` for the next batch. */
  add(key: string): void {
    if (this.#stopped) return;
    this.#queued.add(key);
    this.#batch ??= this.#clock.setTimeout(() => this.#run(), 0);
  }

  /** Queues `key` after `ms` model milliseconds (an earlier pending wake-up wins). */
  addAfter(key: string, ms: number): void {
    if (this.#stopped) return;
    if (ms <= 0) return this.add(key);
    const at = this.#clock.now() + ms;
    const existing = this.#delayed.get(key);
    if (existing && existing.at <= at) return;
    existing?.timer.cancel();
    const timer = this.#clock.setTimeout(() => {
      this.#delayed.delete(key);
      this.add(key);
    }, ms);
    this.#delayed.set(key, { at, timer });
  }

  /** Stops the queue: pending and delayed keys are dropped. */
  stop(): void {
    this.#stopped = true;
    this.#batch?.cancel();
    for (const { timer } of this.#delayed.values()) timer.cancel();
    this.#delayed.clear();
    this.#queued.clear();
  }

  #run(): void {
    this.#batch = undefined;
    const keys = [...this.#queued];
    this.#queued.clear();
    for (const key of keys) {
      if (this.#stopped) return;
      try {
        const after = this.#reconcile(key);
        if (typeof after === 'number' && Number.isFinite(after)) this.addAfter(key, Math.max(1, after));
      } catch (error) {
        this.#log(`${this.#name}: reconciling ${key} failed, retrying in ${ERROR_RETRY_MS} ms: ${(error as Error)?.stack ?? String(error)}`);
        this.addAfter(key, ERROR_RETRY_MS);
      }
    }
  }
}

/** Watches several resources; returns one function that stops every watch. */
export function watchAll(store: ObjectStore, handlers: Record<string, (event: WatchEvent) => void>): () => void {
  const stops = Object.entries(handlers).map(([plural, handler]) => store.watch(plural, {}, handler));
  return () => {
    for (const stop of stops) stop();
  };
}

/** `namespace/name` (or `name` for cluster-scoped objects), the key controllers queue. */
export function keyOf(meta: Pick<ObjectMeta, 'namespace' | 'name'>): string {
  return meta.namespace ? `${meta.namespace}/${meta.name}` : meta.name;
}

/** Splits a key made by `keyOf`. */
export function splitKey(key: string): { namespace: string | undefined; name: string } {
  const slash = key.indexOf('/');
  return slash < 0 ? { namespace: undefined, name: key } : { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}

/** The owner reference with controller=true, if any. */
export function controllerRef(obj: KubeObject): NonNullable<ObjectMeta['ownerReferences']>[number] | undefined {
  return obj.metadata.ownerReferences?.find((ref) => ref.controller === true);
}

/** A controller owner reference pointing at `owner`. */
export function newControllerRef(owner: KubeObject): NonNullable<ObjectMeta['ownerReferences']>[number] {
  return { apiVersion: owner.apiVersion, kind: owner.kind, name: owner.metadata.name, uid: owner.metadata.uid!, controller: true, blockOwnerDeletion: true };
}

/** Model ms of an RFC 3339 timestamp, or undefined. */
export function parseTime(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

/** A pod condition of the given type. */
export function podCondition(pod: KubeObject, type: string): { type: string; status: string; lastTransitionTime?: string; reason?: string; message?: string } | undefined {
  return (pod.status?.conditions as Array<{ type: string; status: string }> | undefined)?.find((c) => c.type === type);
}

/** IsPodReady: the Ready condition is True. */
export function isPodReady(pod: KubeObject): boolean {
  return podCondition(pod, 'Ready')?.status === 'True';
}

/**
 * IsPodAvailable: Ready, and for `minReadySeconds` > 0 Ready since more than that long ago
 * (the API's lastTransitionTime has second precision, as in Kubernetes).
 */
export function isPodAvailable(pod: KubeObject, minReadySeconds: number, now: number): boolean {
  if (!isPodReady(pod)) return false;
  if (!minReadySeconds) return true;
  const since = parseTime(podCondition(pod, 'Ready')?.lastTransitionTime);
  return since !== undefined && since + minReadySeconds * 1000 < now;
}

/**
 * Model ms until a Ready pod that is not yet available becomes available (for a requeue), or
 * undefined when it is not Ready or already available.
 */
export function msUntilAvailable(pod: KubeObject, minReadySeconds: number, now: number): number | undefined {
  if (!minReadySeconds || !isPodReady(pod) || isPodAvailable(pod, minReadySeconds, now)) return undefined;
  const since = parseTime(podCondition(pod, 'Ready')?.lastTransitionTime);
  if (since === undefined) return undefined;
  return since + minReadySeconds * 1000 - now + 1;
}

/** A pod that counts toward its controller: not terminating and not finished. */
export function isPodActive(pod: KubeObject): boolean {
  return !pod.metadata.deletionTimestamp && pod.status?.phase !== 'Succeeded' && pod.status?.phase !== 'Failed';
}

/** A pod whose containers have ended (Succeeded or Failed). */
export function isPodTerminal(pod: KubeObject): boolean {
  return pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';
}

/** An int-or-percent value (`3`, `"25%"`), as intstr.IntOrString. */
export type IntOrPercent = number | string;

/**
 * GetScaledValueFromIntOrPercent: an int as is, `"N%"` of `total` rounded up or down.
 * Returns an error string for anything else, so the caller can report it.
 */
export function scaledValue(value: IntOrPercent, total: number, roundUp: boolean): number | { error: string } {
  if (typeof value === 'number') {
    return Number.isInteger(value) ? value : { error: `expected an integer or a percentage, got ${value}` };
  }
  const m = /^(\d+)%$/.exec(value.trim());
  if (!m) {
    if (/^\d+$/.test(value.trim())) return Number(value.trim());
    return { error: `expected an integer or a percentage like "25%", got ${JSON.stringify(value)}` };
  }
  const exact = (Number(m[1]) * total) / 100;
  return roundUp ? Math.ceil(exact) : Math.floor(exact);
}

/** JSON with object keys sorted, so equal values always give equal text. */
export function stableJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>)
        .filter(([, v]) => v !== undefined)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([k, v]) => [k, sortKeys(v)]),
    );
  }
  return value;
}

/** Deep equality of JSON values, ignoring key order and undefined fields. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  return stableJson(a) === stableJson(b);
}

const SAFE_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

/**
 * rand.SafeEncodeString of the decimal FNV-1a hash of `text`: the short, vowel-free strings
 * Kubernetes uses for pod-template-hash.
 */
export function safeHash(text: string): string {
  return [...String(hashString(text))].map((ch) => SAFE_ALPHABET[ch.charCodeAt(0) % SAFE_ALPHABET.length]).join('');
}

/** Sorts by creationTimestamp, then name (the API's timestamps have second precision). */
export function byCreation(a: KubeObject, b: KubeObject): number {
  const ta = parseTime(a.metadata.creationTimestamp) ?? 0;
  const tb = parseTime(b.metadata.creationTimestamp) ?? 0;
  return ta - tb || (a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0);
}

/** Writes `status` (and anything `extra` changes) only when it differs from what is stored. */
export function writeStatus(
  store: ObjectStore,
  plural: string,
  obj: KubeObject,
  status: unknown,
  extra?: (o: KubeObject) => void,
): KubeObject | undefined {
  return store.modify(plural, obj.metadata.namespace, obj.metadata.name, (current) => {
    if (current.metadata.uid !== obj.metadata.uid) return current;
    const next = structuredClone(current);
    next.status = status;
    extra?.(next);
    if (jsonEqual(next.status, current.status) && jsonEqual(next.metadata, current.metadata)) return current;
    return next;
  });
}
