import { describe, expect, it } from 'vitest';
import { applyJsonPatch, applyMergePatch, applyPatch, applyStrategicMergePatch, patchTypeOf } from '../../../../harness/twin/kube/patch.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- patched documents are inspected field by field
type Loose = Record<string, any>;

function ok(outcome: ReturnType<typeof applyJsonPatch>): unknown {
  if (!outcome.ok) throw new Error(`expected the patch to apply, got ${outcome.code}: ${outcome.message}`);
  return outcome.value;
}

describe('patchTypeOf', () => {
  it('maps the three patch content types and ignores parameters', () => {
    expect(patchTypeOf('application/json-patch+json')).toBe('json');
    expect(patchTypeOf('application/merge-patch+json; charset=utf-8')).toBe('merge');
    expect(patchTypeOf('application/strategic-merge-patch+json')).toBe('strategic');
    expect(patchTypeOf('application/apply-patch+yaml')).toBeUndefined();
    expect(patchTypeOf(undefined)).toBeUndefined();
  });
});

describe('JSON patch (RFC 6902)', () => {
  const doc = { metadata: { name: 'web', labels: { app: 'web', 'a/b': 'x' } }, spec: { replicas: 2, args: ['a', 'b'] } };

  it('applies add, remove, replace, move and copy in order', () => {
    const out = ok(
      applyJsonPatch(doc, [
        { op: 'add', path: '/spec/args/-', value: 'c' },
        { op: 'add', path: '/spec/args/0', value: 'first' },
        { op: 'replace', path: '/spec/replicas', value: 5 },
        { op: 'remove', path: '/metadata/labels/a~1b' },
        { op: 'copy', from: '/metadata/name', path: '/metadata/labels/copied' },
        { op: 'move', from: '/spec/args', path: '/spec/command' },
      ]),
    );
    expect(out).toEqual({
      metadata: { name: 'web', labels: { app: 'web', copied: 'web' } },
      spec: { replicas: 5, command: ['first', 'a', 'b', 'c'] },
    });
  });

  it('does not mutate its input', () => {
    const before = structuredClone(doc);
    ok(applyJsonPatch(doc, [{ op: 'replace', path: '/spec/replicas', value: 9 }]));
    expect(doc).toEqual(before);
  });

  it('passes a test op that matches and fails one that does not with 422', () => {
    expect(ok(applyJsonPatch(doc, [{ op: 'test', path: '/spec/replicas', value: 2 }, { op: 'replace', path: '/spec/replicas', value: 3 }]))).toMatchObject({ spec: { replicas: 3 } });
    const failed = applyJsonPatch(doc, [{ op: 'test', path: '/spec/replicas', value: 7 }, { op: 'replace', path: '/spec/replicas', value: 3 }]);
    expect(failed).toMatchObject({ ok: false, code: 422 });
    expect(!failed.ok && failed.message).toContain('/spec/replicas');
  });

  it('answers 422 for a path that does not exist and 400 for a malformed patch', () => {
    expect(applyJsonPatch(doc, [{ op: 'replace', path: '/spec/missing', value: 1 }])).toMatchObject({ ok: false, code: 422 });
    expect(applyJsonPatch(doc, [{ op: 'remove', path: '/nope/deeper' }])).toMatchObject({ ok: false, code: 422 });
    expect(applyJsonPatch(doc, [{ op: 'add', path: '/spec/args/9', value: 'x' }])).toMatchObject({ ok: false, code: 422 });
    expect(applyJsonPatch(doc, { op: 'add' })).toMatchObject({ ok: false, code: 400 });
    expect(applyJsonPatch(doc, [{ op: 'frobnicate', path: '/x' }])).toMatchObject({ ok: false, code: 400 });
    expect(applyJsonPatch(doc, [{ op: 'add', path: '/x' }])).toMatchObject({ ok: false, code: 400 });
  });
});

describe('JSON merge patch (RFC 7386)', () => {
  it('merges objects, deletes nulls and replaces arrays', () => {
    const doc = { metadata: { labels: { a: '1', b: '2' } }, spec: { list: [1, 2, 3], keep: true } };
    const out = applyMergePatch(doc, { metadata: { labels: { a: null, c: '3' } }, spec: { list: [9] } });
    expect(out).toEqual({ metadata: { labels: { b: '2', c: '3' } }, spec: { list: [9], keep: true } });
    expect(doc.metadata.labels).toEqual({ a: '1', b: '2' });
  });

  it('replaces the whole document with a non-object patch', () => {
    expect(applyMergePatch({ a: 1 }, [1])).toEqual([1]);
  });
});

describe('strategic merge patch', () => {
  const pod = {
    metadata: {
      name: 'web-1',
      finalizers: ['a'],
      ownerReferences: [{ uid: 'u1', kind: 'ReplicaSet', name: 'rs1' }],
    },
    spec: {
      containers: [
        { name: 'app', image: 'app:1', env: [{ name: 'A', value: '1' }, { name: 'B', value: '2' }], ports: [{ containerPort: 8080, name: 'http' }] },
        { name: 'sidecar', image: 'side:1', args: ['x', 'y'] },
      ],
      tolerations: [{ key: 'k1', operator: 'Exists' }],
      volumes: [{ name: 'data', emptyDir: {} }],
    },
    status: { conditions: [{ type: 'Ready', status: 'False' }, { type: 'PodScheduled', status: 'True' }] },
  };

  it('merges containers and env by name, keeping the elements the patch does not name', () => {
    const out = ok(
      applyStrategicMergePatch(pod, {
        spec: { containers: [{ name: 'app', image: 'app:2', env: [{ name: 'B', value: 'two' }, { name: 'C', value: '3' }] }] },
      }),
    ) as typeof pod;
    expect(out.spec.containers.map((c) => [c.name, c.image])).toEqual([
      ['app', 'app:2'],
      ['sidecar', 'side:1'],
    ]);
    expect(out.spec.containers[0].env).toEqual([
      { name: 'A', value: '1' },
      { name: 'B', value: 'two' },
      { name: 'C', value: '3' },
    ]);
    expect(out.spec.containers[0].ports).toEqual([{ containerPort: 8080, name: 'http' }]);
  });

  it('deletes a keyed element with $patch: delete and a field with null', () => {
    const out = ok(
      applyStrategicMergePatch(pod, {
        spec: { containers: [{ name: 'sidecar', $patch: 'delete' }, { name: 'app', env: [{ name: 'A', $patch: 'delete' }] }], volumes: null },
      }),
    ) as typeof pod;
    expect(out.spec.containers.map((c) => c.name)).toEqual(['app']);
    expect(out.spec.containers[0].env).toEqual([{ name: 'B', value: '2' }]);
    expect(out.spec).not.toHaveProperty('volumes');
  });

  it('replaces a map with $patch: replace and a list with a {$patch: replace} element', () => {
    const out = ok(
      applyStrategicMergePatch(pod, {
        metadata: { ownerReferences: [{ $patch: 'replace' }, { uid: 'u9', kind: 'ReplicaSet', name: 'rs9' }] },
        status: { $patch: 'replace', phase: 'Running' },
      }),
    ) as Loose;
    expect(out.metadata.ownerReferences).toEqual([{ uid: 'u9', kind: 'ReplicaSet', name: 'rs9' }]);
    expect(out.status).toEqual({ phase: 'Running' });
  });

  it('merges conditions by type and ownerReferences by uid', () => {
    const out = ok(
      applyStrategicMergePatch(pod, {
        metadata: { ownerReferences: [{ uid: 'u2', kind: 'Deployment', name: 'd' }] },
        status: { conditions: [{ type: 'Ready', status: 'True' }, { type: 'target-health.elbv2.k8s.aws/tg', status: 'True' }] },
      }),
    ) as Loose;
    expect(out.status.conditions).toEqual([
      { type: 'Ready', status: 'True' },
      { type: 'PodScheduled', status: 'True' },
      { type: 'target-health.elbv2.k8s.aws/tg', status: 'True' },
    ]);
    expect(out.metadata.ownerReferences.map((o: { uid: string }) => o.uid)).toEqual(['u1', 'u2']);
  });

  it('replaces lists without a merge key (tolerations, args) as the real API does', () => {
    const out = ok(
      applyStrategicMergePatch(pod, { spec: { tolerations: [{ key: 'k2', operator: 'Exists' }], containers: [{ name: 'sidecar', args: ['z'] }] } }),
    ) as typeof pod;
    expect(out.spec.tolerations).toEqual([{ key: 'k2', operator: 'Exists' }]);
    expect(out.spec.containers[1].args).toEqual(['z']);
  });

  it('merges service ports by port and finalizers as a set, honouring $deleteFromPrimitiveList', () => {
    const svc = { spec: { ports: [{ port: 80, targetPort: 8080 }, { port: 443, targetPort: 8443 }] }, metadata: { finalizers: ['a', 'b'] } };
    const out = ok(
      applyStrategicMergePatch(svc, {
        spec: { ports: [{ port: 80, targetPort: 9090 }], '$setElementOrder/ports': [{ port: 80 }, { port: 443 }] },
        metadata: { finalizers: ['c', 'a'], '$deleteFromPrimitiveList/finalizers': ['b'] },
      }),
    ) as Loose;
    expect(out.spec.ports).toEqual([
      { port: 80, targetPort: 9090 },
      { port: 443, targetPort: 8443 },
    ]);
    expect(out.metadata.finalizers).toEqual(['a', 'c']);
  });

  it('does not mutate its input and rejects a patch that is not an object', () => {
    const before = structuredClone(pod);
    ok(applyStrategicMergePatch(pod, { spec: { containers: [{ name: 'app', image: 'x' }] } }));
    expect(pod).toEqual(before);
    expect(applyStrategicMergePatch(pod, [1])).toMatchObject({ ok: false, code: 400 });
    expect(applyStrategicMergePatch(pod, { spec: { containers: [{ image: 'no-name' }] } })).toMatchObject({ ok: false, code: 422 });
  });

  it('is reachable through applyPatch by type', () => {
    expect(ok(applyPatch('strategic', { spec: { unschedulable: true } }, { spec: { unschedulable: null } }))).toEqual({ spec: {} });
    expect(ok(applyPatch('merge', { a: 1 }, { b: 2 }))).toEqual({ a: 1, b: 2 });
    expect(applyPatch('json', { a: 1 }, [{ op: 'test', path: '/a', value: 2 }])).toMatchObject({ ok: false, code: 422 });
  });
});
