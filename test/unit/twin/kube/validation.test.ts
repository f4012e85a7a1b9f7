import { describe, expect, it } from 'vitest';
import { loadTwinConfig, parseTwinConfig } from '../../../../harness/twin/config.ts';
import { versionInfo } from '../../../../harness/twin/kube/discovery.ts';
import { resources } from '../../../../harness/twin/kube/resources.ts';
import { ApiError } from '../../../../harness/twin/kube/store.ts';
import type { KubeObject } from '../../../../harness/twin/kube/types.ts';
import { minorOf, validateWrite } from '../../../../harness/twin/kube/validation.ts';

function deployment(spec: Record<string, unknown> = {}, podSpec: Record<string, unknown> = {}): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'default' },
    spec: { replicas: 2, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'app', image: 'x' }], ...podSpec } }, ...spec },
  };
}

const preStop = (handler: Record<string, unknown>, grace?: number) => ({
  ...(grace === undefined ? {} : { terminationGracePeriodSeconds: grace }),
  containers: [{ name: 'app', image: 'x', lifecycle: { preStop: handler } }],
});

/** The 422 the write gets, or null when it passes. */
function errorOf(obj: KubeObject, version = '1.31', plural = 'deployments'): ApiError | null {
  try {
    validateWrite(resources[plural], obj, version);
    return null;
  } catch (error) {
    if (error instanceof ApiError) return error;
    throw error;
  }
}

describe('field validation of writes (the API server’s rules and texts)', () => {
  it('preStop sleep: accepted from 1.30; below, the gate drops it and the empty hook is refused', () => {
    expect(errorOf(deployment({}, preStop({ sleep: { seconds: 10 } })))).toBeNull();
    expect(errorOf(deployment({}, preStop({ sleep: { seconds: 10 } })), '1.30')).toBeNull();
    const old = errorOf(deployment({}, preStop({ sleep: { seconds: 10 } })), '1.29');
    expect(old?.code).toBe(422);
    expect(old?.reason).toBe('Invalid');
    expect(old?.message).toBe('Deployment.apps "web" is invalid: spec.template.spec.containers[0].lifecycle.preStop: Required value: must specify a handler type');
    expect(old?.details).toMatchObject({ name: 'web', group: 'apps', kind: 'Deployment', causes: [{ reason: 'FieldValueRequired', field: 'spec.template.spec.containers[0].lifecycle.preStop' }] });
    // An exec hook beside it survives the drop: only the sleep is lost, as on a real 1.29 server.
    const both = deployment({}, preStop({ sleep: { seconds: 10 }, exec: { command: ['true'] } }));
    expect(errorOf(both, '1.29')).toBeNull();
    expect(both.spec.template.spec.containers[0].lifecycle.preStop).toEqual({ exec: { command: ['true'] } });
    const pod: KubeObject = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'default' }, spec: preStop({ sleep: { seconds: 5 } }) };
    expect(errorOf(pod, '1.28', 'pods')?.message).toBe('Pod "p" is invalid: spec.containers[0].lifecycle.preStop: Required value: must specify a handler type');
  });

  it('preStop sleep: longer than the grace period, zero or negative is refused (zero allowed from 1.33)', () => {
    expect(errorOf(deployment({}, preStop({ sleep: { seconds: 40 } })))?.message).toBe(
      'Deployment.apps "web" is invalid: spec.template.spec.containers[0].lifecycle.preStop.sleep: Invalid value: 40: must be greater than 0 and less than terminationGracePeriodSeconds (30)',
    );
    expect(errorOf(deployment({}, preStop({ sleep: { seconds: 40 } }, 45)))).toBeNull();
    expect(errorOf(deployment({}, preStop({ sleep: { seconds: 30 } })))).toBeNull();
    expect(errorOf(deployment({}, preStop({ sleep: { seconds: -1 } })))?.message).toContain('preStop.sleep: Invalid value: -1: must be greater than 0');
    expect(errorOf(deployment({}, preStop({ sleep: { seconds: 0 } })), '1.32')?.message).toContain('Enable AllowPodLifecycleSleepActionZeroValue feature gate for zero sleep.');
    expect(errorOf(deployment({}, preStop({ sleep: { seconds: 0 } })), '1.33')).toBeNull();
    expect(errorOf(deployment({}, preStop({ sleep: { seconds: -1 } })), '1.34')?.message).toContain('must be non-negative and less than terminationGracePeriodSeconds (30)');
    expect(errorOf(deployment({}, preStop({ sleep: { seconds: 5 }, exec: { command: ['true'] } })))?.message).toContain('lifecycle.preStop.sleep: Forbidden: may not specify more than 1 handler type');
  });

  it('rolling update: int or percent, unavailable ≤ 100 %, not both zero; replicas and minReadySeconds ≥ 0; every error at once', () => {
    const ru = (rollingUpdate: Record<string, unknown>) => deployment({ strategy: { type: 'RollingUpdate', rollingUpdate } });
    expect(errorOf(ru({ maxSurge: '25%', maxUnavailable: 0 }))).toBeNull();
    expect(errorOf(ru({ maxSurge: 3, maxUnavailable: '100%' }))).toBeNull();
    expect(errorOf(ru({ maxSurge: 'lots' }))?.message).toBe(
      'Deployment.apps "web" is invalid: spec.strategy.rollingUpdate.maxSurge: Invalid value: "lots": a valid percent string must be a numeric string followed by an ending \'%\' (e.g. \'1%\',  or \'93%\', regex used for validation is \'[0-9]+%\')',
    );
    expect(errorOf(ru({ maxUnavailable: '120%' }))?.message).toContain('maxUnavailable: Invalid value: "120%": must not be greater than 100%');
    expect(errorOf(ru({ maxSurge: 0, maxUnavailable: '0%' }))?.message).toContain('maxUnavailable: Invalid value: "0%": may not be 0 when `maxSurge` is 0');
    expect(errorOf(ru({ maxSurge: -1 }))?.message).toContain('maxSurge: Invalid value: -1: must be greater than or equal to 0');
    const many = errorOf(deployment({ replicas: -1, minReadySeconds: -5, strategy: { type: 'Recreate', rollingUpdate: {} } }));
    expect(many?.message).toMatch(/^Deployment\.apps "web" is invalid: \[spec\.replicas: .*, spec\.minReadySeconds: .*, spec\.strategy\.rollingUpdate: Forbidden: .*\]$/);
    expect((many?.details as { causes: unknown[] }).causes).toHaveLength(3);
    expect(errorOf({ apiVersion: 'v1', kind: 'Service', metadata: { name: 's' }, spec: { replicas: -1 } }, '1.31', 'services')).toBeNull();
  });

  it('a template container needs a name and an image, and names are unique (a patch naming a missing container adds one without an image)', () => {
    const d = deployment({}, { containers: [{ name: 'app', image: 'x' }, { name: 'ap', env: [{ name: 'K', value: '1' }] }, { name: 'app', image: 'y' }] });
    const error = errorOf(d);
    expect(error?.message).toBe('Deployment.apps "web" is invalid: [spec.template.spec.containers[1].image: Required value, spec.template.spec.containers[2].name: Duplicate value: "app"]');
  });

  it('takes the version from the twin config (default 1.31, the default world says so too) and answers it on /version', async () => {
    expect(parseTwinConfig({}).cluster.kubernetesVersion).toBe('1.31');
    expect((await loadTwinConfig()).cluster.kubernetesVersion).toBe('1.31');
    expect(() => parseTwinConfig({ cluster: { kubernetesVersion: 'v1.29' } })).toThrow(/Invalid twin config/);
    expect(versionInfo('1.29')).toMatchObject({ major: '1', minor: '29', gitVersion: 'v1.29.0-twin' });
  });

  it('reads 1.N versions only', () => {
    expect(minorOf('1.29')).toBe(29);
    expect(() => minorOf('v1.29.3')).toThrow(/Expected a Kubernetes version like 1.31, got "v1.29.3"/);
  });
});
