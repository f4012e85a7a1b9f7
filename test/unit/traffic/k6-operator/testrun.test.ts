/** The TestRun and ConfigMap of a cell's traffic on k6-operator, per k6 release of the runner image. */
import { describe, expect, it } from 'vitest';
import { RUN_MARKER } from '../../../../harness/core/labels.ts';
import { operatorArguments, RUN_LABEL, runnerK6Version, testRunName, testRunObjects } from '../../../../harness/traffic/k6-operator/testrun.ts';
import { parseK6Version } from '../../../../harness/traffic/k6/args.ts';
import type { TrafficPlan } from '../../../../harness/traffic/types.ts';

const plan: TrafficPlan = { url: 'http://127.0.0.1:8080', rate: 300, durationSeconds: 60, timeoutSeconds: 10, mix: [{ path: '/', weight: 1 }], userAgent: 'rollout-harness/0.1.0 nightly/rollout.gate-on.r1' };
const v = (text: string) => parseK6Version(`k6 ${text}`);
const operator = { parallelism: 3, separate: true, runnerImage: 'grafana/k6:1.1.0' };

describe('the TestRun per k6 release', () => {
  it("carries each release's own flags, never -q or --address (the operator adds both)", () => {
    expect(operatorArguments(v('v0.45.1'))).toBe('--no-summary --no-usage-report --out json=-');
    expect(operatorArguments(v('v1.0.0'))).toBe('--no-summary --no-usage-report --out json=-');
    expect(operatorArguments(v('v1.3.0'))).toBe('--summary-mode=disabled --no-usage-report --out json=-');
    expect(operatorArguments(v('v2.0.0'))).toBe('--summary-mode=disabled --no-usage-report --out json=-');
  });

  it('knows the runners’ release from the image tag, or from k6Version; refuses an image that does not say it', () => {
    expect(runnerK6Version({ runnerImage: 'grafana/k6:1.1.0' }).text).toBe('v1.1.0');
    expect(runnerK6Version({ runnerImage: 'registry.example:5000/mirror/k6:v0.48.0' }).text).toBe('v0.48.0');
    expect(runnerK6Version({ runnerImage: 'grafana/k6:2.0.0-rc1' }).text).toBe('v2.0.0-rc1');
    expect(runnerK6Version({ runnerImage: 'grafana/k6@sha256:abc', k6Version: '1.3.2' }).text).toBe('v1.3.2');
    expect(() => runnerK6Version({ runnerImage: 'grafana/k6:latest' })).toThrow(/runnerImage to carry a k6 release tag.*got grafana\/k6:latest/);
    expect(() => runnerK6Version({ runnerImage: 'registry.example:5000/k6' })).toThrow(/got registry\.example:5000\/k6/);
    // Older than the harness drives: refused with the release named.
    expect(() => testRunObjects(plan, { runId: 'r', cellId: 'c', namespace: 'shop', operator: { ...operator, runnerImage: 'grafana/k6:0.44.1' }, script: '' })).toThrow(/v0\.45 or newer.*v0\.44\.1/);
  });

  it('puts the script in a ConfigMap and its variables in the runners’ environment (the operator splits arguments on spaces)', () => {
    const { name, configMap, testRun } = testRunObjects(plan, { runId: 'nightly', cellId: 'rollout.gate-on.r1', namespace: 'shop', operator: { ...operator, nodeSelector: { pool: 'load' }, resources: { limits: { cpu: '2' } } }, script: 'export default function () {}', cell: 'rollout.gate-on.r1' });
    expect(name).toMatch(/^rh-[0-9a-f]{12}$/);
    expect(name).toBe(testRunName('nightly', 'rollout.gate-on.r1'));
    expect(testRunName('nightly', 'rollout.gate-on.r2')).not.toBe(name);
    expect(configMap.data['constant-rate.js']).toBe('export default function () {}');
    for (const o of [configMap, testRun]) {
      expect(o.metadata.labels[RUN_LABEL]).toBe('nightly');
      expect(o.metadata.annotations[RUN_MARKER]).toBe('nightly');
      expect(o.metadata.namespace).toBe('shop');
    }
    expect(testRun).toMatchObject({ apiVersion: 'k6.io/v1alpha1', kind: 'TestRun', spec: { parallelism: 3, separate: true, script: { configMap: { name, file: 'constant-rate.js' } }, arguments: '--no-summary --no-usage-report --out json=-' } });
    expect(testRun.spec.arguments).not.toMatch(/ {2}|^ | $/);
    const env = Object.fromEntries(testRun.spec.runner.env.map((e) => [e.name, e.value]));
    expect(env).toMatchObject({ TARGET: 'http://127.0.0.1:8080', RATE: '300', DURATION: '60', TIMEOUT: '10', CELL: 'rollout.gate-on.r1', USER_AGENT: plan.userAgent, K6_INCLUDE_SYSTEM_ENV_VARS: 'true' });
    expect(testRun.spec.runner).toMatchObject({ image: 'grafana/k6:1.1.0', nodeSelector: { pool: 'load' }, resources: { limits: { cpu: '2' } } });
    expect(() => testRunObjects(plan, { runId: 'r', cellId: 'c', namespace: 'shop', operator: { ...operator, parallelism: 0 }, script: '' })).toThrow(/parallelism to be a whole number ≥ 1, got 0/);
  });
});
