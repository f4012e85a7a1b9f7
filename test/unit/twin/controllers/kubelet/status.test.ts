import { describe, expect, it } from 'vitest';
import type { ContainerRuntime, PodRuntime } from '../../../../../harness/twin/controllers/kubelet/runtime.ts';
import { desiredStatus, portAnnotationOf, setCondition, terminatedRecord } from '../../../../../harness/twin/controllers/kubelet/status.ts';
import type { ContainerProcess } from '../../../../../harness/twin/runtime/types.ts';

const T1 = '2024-05-01T00:00:01Z';
const T2 = '2024-05-01T00:00:02Z';

function container(o: Partial<ContainerRuntime> = {}): ContainerRuntime {
  return { name: 'app', spec: { image: 'app:1' }, command: ['app'], env: {}, declaredPort: 8080, logs: [], gen: 1, restartCount: 0, ready: false, successes: 0, failures: 0, ...o };
}

function podRuntime(o: Partial<PodRuntime> = {}): PodRuntime {
  return {
    uid: 'u1',
    namespace: 'default',
    name: 'web',
    nodeName: 'node-a',
    pod: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web' } },
    state: 'running',
    containers: [container()],
    address: { host: '127.0.1.1', port: 8080 },
    owned: [],
    startTime: T1,
    abort: new AbortController(),
    syncQueued: false,
    ...o,
  };
}

const proc = (pid: number, running = true) => ({ pid, running }) as ContainerProcess;
const conditionOf = (status: { conditions: Array<{ type: string }> }, type: string) => status.conditions.find((c) => c.type === type);

describe('kubelet pod status (pure)', () => {
  it('moves lastTransitionTime only when the status of a condition changes', () => {
    const first = setCondition([], { type: 'Ready', status: 'False' }, T1);
    const same = setCondition(first, { type: 'Ready', status: 'False', reason: 'ContainersNotReady' }, T2);
    expect(same).toEqual([{ type: 'Ready', status: 'False', lastProbeTime: null, lastTransitionTime: T1, reason: 'ContainersNotReady' }]);
    expect(setCondition(same, { type: 'Ready', status: 'True' }, T2)[0].lastTransitionTime).toBe(T2);
  });

  it('keeps Ready False while a readiness gate is not True, and keeps the gate condition', () => {
    const rt = podRuntime({ containers: [container({ ready: true, proc: proc(7), startedAt: T1 })] });
    const gate = { type: 'target-health.elbv2.k8s.aws/tg', status: 'False' };
    const current = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web' }, spec: { readinessGates: [{ conditionType: gate.type }] }, status: { conditions: [gate] } };
    const status = desiredStatus(rt, current, T2);
    expect(status.phase).toBe('Running');
    expect(conditionOf(status, 'ContainersReady')).toMatchObject({ status: 'True' });
    expect(conditionOf(status, 'Ready')).toMatchObject({ status: 'False', reason: 'ReadinessGatesNotReady' });
    expect(conditionOf(status, gate.type)).toEqual(gate);
    expect(status.podIP).toBe('127.0.1.1');
    expect(status.containerStatuses[0]).toMatchObject({ containerID: 'twin://7', ready: true, started: true, state: { running: { startedAt: T1 } } });
  });

  it('reports a finished pod Succeeded only when every container exited 0', () => {
    const current = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web' }, spec: {} };
    const done = (exitCode: number) => container({ proc: proc(7, false), terminated: { exitCode, reason: exitCode ? 'Error' : 'Completed', finishedAt: T2 } });
    expect(desiredStatus(podRuntime({ state: 'finished', containers: [done(0)] }), current, T2).phase).toBe('Succeeded');
    const failed = desiredStatus(podRuntime({ state: 'finished', containers: [done(0), done(143)] }), current, T2);
    expect(failed.phase).toBe('Failed');
    expect(conditionOf(failed, 'Ready')).toMatchObject({ status: 'False', reason: 'PodCompleted' });
  });

  it('records a signal exit as 128 + the signal number', () => {
    expect(terminatedRecord(proc(7), { code: null, signal: 'SIGTERM' }, T1, T2)).toEqual({ exitCode: 143, signal: 15, reason: 'Error', startedAt: T1, finishedAt: T2, containerID: 'twin://7' });
    expect(terminatedRecord(proc(7), { code: 0, signal: null }, T1, T2)).toMatchObject({ exitCode: 0, reason: 'Completed' });
  });

  it('annotates the real port only when it differs from the declared one', () => {
    expect(portAnnotationOf(podRuntime())).toBeUndefined();
    expect(portAnnotationOf(podRuntime({ address: { host: '127.0.0.1', port: 40123 } }))).toBe('40123');
  });
});
