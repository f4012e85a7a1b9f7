/**
 * core/v1 Events, as client-go's event recorder writes them: one Event per distinct
 * (object, type, reason, message, source), named `<object>.<hex>`; a repeat bumps `count` and
 * `lastTimestamp` instead of creating another (the recorder's event correlator).
 */
import type { Clock } from '../../core/clock.ts';
import { timestamp, type ObjectStore } from '../kube/store.ts';
import type { KubeObject } from '../kube/types.ts';

/** Normal or Warning, as the API knows them. */
export type EventType = 'Normal' | 'Warning';

/** The object an event is about. */
export interface InvolvedObject {
  apiVersion?: string;
  kind: string;
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
}

/** Per store: correlation key → event name, so repeats update the same Event. */
const seen = new WeakMap<ObjectStore, Map<string, string>>();
let sequence = 0;

/** The involvedObject reference of a stored object. */
export function referenceTo(obj: KubeObject): InvolvedObject {
  return {
    apiVersion: obj.apiVersion,
    kind: obj.kind,
    name: obj.metadata.name,
    namespace: obj.metadata.namespace,
    uid: obj.metadata.uid,
    resourceVersion: obj.metadata.resourceVersion,
  };
}

/**
 * Records an Event about `involved` (a stored object or a reference) from `component`
 * (e.g. `deployment-controller`). Returns the Event as stored.
 */
export function recordEvent(
  store: ObjectStore,
  clock: Clock,
  involved: KubeObject | InvolvedObject,
  type: EventType,
  reason: string,
  message: string,
  component = 'twin',
  /** The Event's `action` (what was done), set when it is first recorded. */
  action?: string,
): KubeObject {
  const ref = 'metadata' in involved ? referenceTo(involved as KubeObject) : (involved as InvolvedObject);
  // Events about cluster-scoped objects (nodes) live in "default", as the recorder puts them.
  const namespace = ref.namespace || 'default';
  const now = timestamp(clock.now());
  const correlation = JSON.stringify([ref.kind, namespace, ref.name, ref.uid ?? '', type, reason, message, component]);
  let names = seen.get(store);
  if (!names) seen.set(store, (names = new Map()));
  const existing = names.get(correlation);
  if (existing) {
    const updated = store.modify('events', namespace, existing, (event) => {
      event.count = ((event.count as number | undefined) ?? 1) + 1;
      event.lastTimestamp = now;
    });
    if (updated) return updated;
  }
  // UnixNano in hex, as the recorder names events; the sequence keeps same-millisecond names apart.
  const nanos = BigInt(Math.floor(clock.now())) * 1_000_000n + BigInt(sequence++ % 1_000_000);
  const event: KubeObject = {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: `${ref.name}.${nanos.toString(16)}`, namespace },
    involvedObject: Object.fromEntries(Object.entries(ref).filter(([, v]) => v !== undefined)),
    reason,
    message,
    type,
    count: 1,
    firstTimestamp: now,
    lastTimestamp: now,
    source: { component },
    reportingComponent: component,
    reportingInstance: component,
    ...(action ? { action } : {}),
  };
  const created = store.create('events', event);
  names.set(correlation, created.metadata.name);
  return created;
}
