import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../../harness/core/clock.ts';
import { ApiError, ObjectStore } from '../../../../harness/twin/kube/store.ts';
import type { KubeObject, WatchEvent } from '../../../../harness/twin/kube/types.ts';

function pod(name: string, labels: Record<string, string> = {}, nodeName?: string): KubeObject {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'ns', labels }, spec: { nodeName, containers: [{ name: 'c', image: 'i' }] } };
}

function storeWithNamespace(): ObjectStore {
  const store = new ObjectStore(new ManualClock(Date.UTC(2026, 0, 1)));
  store.create('namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'ns' } });
  return store;
}

describe('ObjectStore', () => {
  it('fills server fields on create and refuses duplicates and missing namespaces', () => {
    const store = storeWithNamespace();
    const created = store.create('pods', pod('a'));
    expect(created.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(created.metadata.creationTimestamp).toBe('2026-01-01T00:00:00Z');
    expect(created.metadata.generation).toBe(1);
    expect(Number(created.metadata.resourceVersion)).toBeGreaterThan(0);
    expect(() => store.create('pods', pod('a'))).toThrow(expect.objectContaining({ code: 409, reason: 'AlreadyExists' }));
    expect(() => store.create('pods', { ...pod('b'), metadata: { name: 'b', namespace: 'nope' } })).toThrow(ApiError);
  });

  it('names objects from generateName', () => {
    const store = storeWithNamespace();
    const a = store.create('pods', { ...pod(''), metadata: { name: '', generateName: 'web-', namespace: 'ns' } });
    const b = store.create('pods', { ...pod(''), metadata: { name: '', generateName: 'web-', namespace: 'ns' } });
    expect(a.metadata.name).toMatch(/^web-[a-z0-9]{5}$/);
    expect(b.metadata.name).not.toBe(a.metadata.name);
  });

  it('lists by label and field selector', () => {
    const store = storeWithNamespace();
    store.create('pods', pod('a', { app: 'web', tier: 'fe' }, 'n1'));
    store.create('pods', pod('b', { app: 'web' }, 'n2'));
    store.create('pods', pod('c', { app: 'db' }));
    const names = (opts: Parameters<ObjectStore['list']>[1]) => store.list('pods', opts).items.map((p) => p.metadata.name);
    expect(names({ labelSelector: 'app=web' })).toEqual(['a', 'b']);
    expect(names({ labelSelector: 'app in (web,db),!tier' })).toEqual(['b', 'c']);
    expect(names({ labelSelector: 'app!=web' })).toEqual(['c']);
    expect(names({ fieldSelector: 'spec.nodeName=n2' })).toEqual(['b']);
    expect(names({ fieldSelector: 'spec.nodeName=' })).toEqual(['c']);
    expect(names({ fieldSelector: 'metadata.name!=a', labelSelector: 'app=web' })).toEqual(['b']);
  });

  it('bumps generation only when spec changes and detects conflicts', () => {
    const store = storeWithNamespace();
    const a = store.create('pods', pod('a'));
    const labelled = store.update('pods', { ...a, metadata: { ...a.metadata, labels: { x: '1' } } });
    expect(labelled.metadata.generation).toBe(1);
    const respec = store.update('pods', { ...labelled, spec: { ...labelled.spec, nodeName: 'n1' } });
    expect(respec.metadata.generation).toBe(2);
    expect(() => store.update('pods', a, { expectRv: a.metadata.resourceVersion })).toThrow(expect.objectContaining({ code: 409, reason: 'Conflict' }));
    const unchanged = store.update('pods', respec);
    expect(unchanged.metadata.resourceVersion).toBe(respec.metadata.resourceVersion);
  });

  it('deletes bound pods gracefully and other objects at once', () => {
    const store = storeWithNamespace();
    store.create('pods', pod('bound', {}, 'n1'));
    store.create('pods', pod('pending'));
    const deleting = store.delete('pods', 'ns', 'bound', { gracePeriodSeconds: 45 });
    expect(deleting.metadata.deletionTimestamp).toBeDefined();
    expect(deleting.metadata.deletionGracePeriodSeconds).toBe(45);
    expect(store.get('pods', 'ns', 'bound')).toBeDefined();
    // A second delete may shorten the grace period, never lengthen it.
    expect(store.delete('pods', 'ns', 'bound', { gracePeriodSeconds: 60 }).metadata.deletionGracePeriodSeconds).toBe(45);
    expect(store.delete('pods', 'ns', 'bound', { gracePeriodSeconds: 5 }).metadata.deletionGracePeriodSeconds).toBe(5);
    store.delete('pods', 'ns', 'pending');
    expect(store.get('pods', 'ns', 'pending')).toBeUndefined();
    expect(() => store.delete('pods', 'ns', 'pending')).toThrow(expect.objectContaining({ code: 404 }));
  });

  it('watches with replay from a resourceVersion and selector filtering', () => {
    const store = storeWithNamespace();
    const a = store.create('pods', pod('a', { app: 'web' }));
    const start = a.metadata.resourceVersion;
    store.create('pods', pod('b', { app: 'db' }));
    store.modify('pods', 'ns', 'a', (o) => void (o.metadata.labels = { app: 'web', v: '2' }));
    const seen: WatchEvent[] = [];
    const stop = store.watch('pods', { resourceVersion: start, labelSelector: 'app=web' }, (e) => seen.push(e));
    expect(seen.map((e) => `${e.type}:${e.object.metadata.name}`)).toEqual(['MODIFIED:a']);
    store.remove('pods', 'ns', 'a');
    expect(seen.map((e) => e.type)).toEqual(['MODIFIED', 'DELETED']);
    stop();
    store.create('pods', pod('c', { app: 'web' }));
    expect(seen).toHaveLength(2);
    expect(Object.isFrozen(seen[0].object)).toBe(true);
  });

  it('runs admission steps on create', () => {
    const store = storeWithNamespace();
    store.addAdmission('pods', (o) => {
      o.spec.readinessGates = [{ conditionType: 'x' }];
    });
    expect(store.create('pods', pod('a')).spec.readinessGates).toEqual([{ conditionType: 'x' }]);
  });
});
