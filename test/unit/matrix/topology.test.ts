/** `target.topology` and the `topology` axis: defaults, errors with their paths, and cell ids (a direct cell's unchanged). */
import { describe, expect, it } from 'vitest';
import { errorsOf } from '../../helpers/spec-errors.ts';
import { expandCells, topologiesOf } from '../../../harness/matrix/expand.ts';
import { parseSpec } from '../../../harness/matrix/load.ts';
import { DEFAULT_GATEWAY, gatewayOf, topologyOf } from '../../../harness/matrix/schema.ts';
import { GATEWAY_DEPLOYMENT, GATEWAY_INGRESS, GATEWAY_NAMESPACE, REPLICAS_WHEN_USED_ANNOTATION } from '../../../harness/twin/gateway/index.ts';
import { REPLICAS_WHEN_USED } from '../../../harness/orchestrator/topology.ts';

const matrix = { preStopSeconds: [0], terminationGracePeriodSeconds: [30], readinessGate: [false], deregistrationDelaySeconds: [30] };

describe('target.topology', () => {
  it('is direct when absent: the spec, its configs and its ids exactly as before', () => {
    const { spec } = parseSpec({ matrix, disruptions: ['rollout', 'spot'] });
    expect(spec.target.topology).toBeUndefined();
    expect(topologiesOf(spec)).toEqual(['direct']);
    const cells = expandCells(spec);
    expect(cells.map((c) => c.id)).toEqual(['rollout.gate-off.prestop-0.grace-30.dereg-30.r1', 'spot.gate-off.prestop-0.grace-30.dereg-30.r1']);
    expect(cells.every((c) => !('topology' in c.config))).toBe(true);
  });

  it('takes `gateway` alone as the twin\'s default world\'s gateway, with the app disrupted', () => {
    const { spec } = parseSpec({ target: { topology: 'gateway' }, matrix, disruptions: ['rollout'] });
    expect(gatewayOf(spec.target)).toEqual({ namespace: 'ingress-nginx', deployment: 'ingress-nginx-controller', ingress: 'gateway', disrupt: 'app' });
    const [cell] = expandCells(spec);
    expect(cell.id).toBe('rollout.gate-off.prestop-0.grace-30.dereg-30.gw.r1');
    expect(cell.config.topology).toBe('gateway');
    expect(topologiesOf(spec)).toEqual(['gateway']);
  });

  it('names the gateway in full, its disrupted cells told apart in the id', () => {
    const { spec } = parseSpec({ target: { topology: { gateway: { namespace: 'istio-ingress', deployment: 'istio-ingressgateway', ingress: 'mesh', disrupt: 'gateway' } } }, matrix, disruptions: ['rollout'] });
    expect(gatewayOf(spec.target)).toEqual({ namespace: 'istio-ingress', deployment: 'istio-ingressgateway', ingress: 'mesh', disrupt: 'gateway' });
    expect(expandCells(spec)[0].id).toBe('rollout.gate-off.prestop-0.grace-30.dereg-30.gw-disrupt-gw.r1');
  });

  it('uses the same names as the twin\'s world', () => {
    expect(DEFAULT_GATEWAY).toEqual({ namespace: GATEWAY_NAMESPACE, deployment: GATEWAY_DEPLOYMENT, ingress: GATEWAY_INGRESS });
    expect(REPLICAS_WHEN_USED).toBe(REPLICAS_WHEN_USED_ANNOTATION);
  });

  it('reports bad input with its path, what was expected and what came', () => {
    expect(errorsOf({ target: { topology: 'mesh' }, matrix, disruptions: ['rollout'] })).toEqual([
      'target.topology: expected "direct", "gateway" or { gateway: { namespace, deployment, ingress, targetGroupBinding, url, disrupt } }, got "mesh"',
    ]);
    expect(errorsOf({ target: { topology: { gateway: { disrupt: 'db' } } }, matrix, disruptions: ['rollout'] })).toEqual(['target.topology.gateway.disrupt: expected "app" (the app\'s Deployment) or "gateway" (the gateway\'s), got "db"']);
    expect(errorsOf({ target: { topology: { gateway: { namespace: '' } } }, matrix, disruptions: ['rollout'] })).toEqual([expect.stringMatching(/^target\.topology\.gateway\.namespace: /)]);
    expect(errorsOf({ matrix: { ...matrix, topology: ['direct', 'tunnel'] }, disruptions: ['rollout'] })).toEqual(['matrix.topology[1]: expected "direct", "gateway", got "tunnel"']);
  });
});

describe('the topology axis', () => {
  it('puts both paths in the matrix: a direct cell keeps its id, a gateway cell gets `gw`', () => {
    const { spec } = parseSpec({ matrix: { ...matrix, topology: ['direct', 'gateway'] }, disruptions: ['rollout'] });
    expect(topologiesOf(spec)).toEqual(['direct', 'gateway']);
    expect(expandCells(spec).map((c) => [c.id, topologyOf(spec, c.config)])).toEqual([
      ['rollout.gate-off.prestop-0.grace-30.dereg-30.r1', 'direct'],
      ['rollout.gate-off.prestop-0.grace-30.dereg-30.gw.r1', 'gateway'],
    ]);
  });

  it('can be matched by expect.where and excluded', () => {
    const { spec, warnings } = parseSpec({ matrix: { ...matrix, topology: ['direct', 'gateway'], exclude: [{ topology: 'direct' }] }, disruptions: ['rollout'], expect: [{ where: { topology: 'gateway' }, max5xx: 0 }] });
    expect(expandCells(spec).map((c) => c.id)).toEqual(['rollout.gate-off.prestop-0.grace-30.dereg-30.gw.r1']);
    expect(topologiesOf(spec)).toEqual(['gateway']);
    expect(warnings).toEqual([]);
  });

  it('warns before the run of gated cells behind a gateway, which will be INVALID', () => {
    const gated = parseSpec({ matrix: { ...matrix, readinessGate: [false, true], topology: ['direct', 'gateway'] }, disruptions: ['rollout'] });
    expect(gated.warnings).toEqual([expect.stringMatching(/^matrix: cells with readinessGate true through the gateway \(disrupt: app\) will be INVALID "not tested"/)]);
    const excluded = parseSpec({ matrix: { ...matrix, readinessGate: [false, true], topology: ['direct', 'gateway'], exclude: [{ topology: 'gateway', readinessGate: true }] }, disruptions: ['rollout'] });
    expect(excluded.warnings).toEqual([]);
    expect(parseSpec({ target: { topology: { gateway: { disrupt: 'gateway' } } }, matrix: { ...matrix, readinessGate: [true] }, disruptions: ['rollout'] }).warnings).toEqual([]);
  });

  it('refuses disrupt: gateway beside direct cells, which have no gateway to disrupt', () => {
    expect(errorsOf({ target: { topology: { gateway: { disrupt: 'gateway' } } }, matrix: { ...matrix, topology: ['direct', 'gateway'] }, disruptions: ['rollout'] })).toEqual([
      'target.topology.gateway.disrupt: expected "app" when cells also take the direct path (which has no gateway to disrupt), got "gateway"; run the gateway\'s disruptions in a spec of their own',
    ]);
  });

  it('needs the gateway named on a real cluster', () => {
    const cluster = { context: 'staging', allowedContexts: ['staging'], ingress: 'web' };
    expect(errorsOf({ target: cluster, matrix: { ...matrix, topology: ['direct', 'gateway'] }, disruptions: ['rollout'] })).toEqual([
      'target.topology: a real cluster needs its gateway named, expected { gateway: { namespace, deployment, ingress } }, got "direct" (with a matrix.topology of ["direct","gateway"])',
    ]);
    expect(errorsOf({ target: { ...cluster, topology: { gateway: { namespace: 'ingress-nginx' } } }, matrix, disruptions: ['rollout'] })).toEqual([
      "target.topology.gateway: a real cluster needs `ingress` or `targetGroupBinding` (the gateway's target group), got neither",
    ]);
    const { spec } = parseSpec({ target: { ...cluster, topology: { gateway: { namespace: 'ingress-nginx', ingress: 'gateway' } } }, matrix, disruptions: ['rollout'] });
    expect(gatewayOf(spec.target).ingress).toBe('gateway');
  });

  it('refuses a gateway that is the app itself', () => {
    expect(errorsOf({ target: { topology: { gateway: { namespace: 'shop', deployment: 'web' } } }, matrix, disruptions: ['rollout'] })).toEqual(["target.topology.gateway: expected a Deployment other than the app's (shop/web), got the same"]);
  });
});
