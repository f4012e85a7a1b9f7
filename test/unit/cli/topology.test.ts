/** `target.topology` at the composition root and in `plan`: the twin's gateway refused without nginx before anything starts; both Deployments planned. */
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { connectTarget, connectTopology, refuseGatewayWithoutNginx } from '../../../harness/cli/connect.ts';
import { planCommand } from '../../../harness/cli/run.ts';
import { EnvironmentError, ExitCode, exitCodeOf, SafetyError } from '../../../harness/core/errors.ts';
import type { Elbv2Port, KObject, KubernetesPort } from '../../../harness/platform/ports.ts';
import { parseSpec } from '../../../harness/matrix/load.ts';

const matrix = { preStopSeconds: [0], terminationGracePeriodSeconds: [30], readinessGate: [false], deregistrationDelaySeconds: [30] };
const missing = async () => ({ ok: false as const, message: 'expected an nginx executable on PATH or in /usr/sbin (the gateway\'s pods run it), got none; install it with: apt-get install nginx' });

let dir: string | undefined;
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('a spec through the twin\'s gateway on a machine without nginx', () => {
  it('is refused before the twin starts, naming the package, with the environment exit code', async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'rh-topology-'));
    const { spec } = parseSpec({ matrix: { ...matrix, topology: ['direct', 'gateway'] }, disruptions: ['rollout'] });
    const error = await connectTarget(spec, { resultsDir: dir, log: () => {}, nginxAvailable: missing }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EnvironmentError);
    expect((error as Error).message).toBe(
      "The spec's cells go through the twin's gateway (topology: gateway), whose pods run nginx: expected an nginx executable on PATH or in /usr/sbin (the gateway's pods run it), got none; install it with: apt-get install nginx; nothing was started",
    );
    expect(exitCodeOf({ command: 'error', error })).toBe(ExitCode.environment);
    // Nothing started: the twin writes its state there first.
    expect(existsSync(path.join(dir, 'twin'))).toBe(false);
  });

  it('does not ask for nginx when no cell takes the gateway', async () => {
    const check = vi.fn(missing);
    await refuseGatewayWithoutNginx(parseSpec({ matrix, disruptions: ['rollout'] }).spec, check);
    await refuseGatewayWithoutNginx(parseSpec({ target: { topology: 'gateway' }, matrix: { ...matrix, topology: ['direct'] }, disruptions: ['rollout'] }).spec, check);
    expect(check).not.toHaveBeenCalled();
    await expect(refuseGatewayWithoutNginx(parseSpec({ target: { topology: 'gateway' }, matrix, disruptions: ['rollout'] }).spec, check)).rejects.toThrow(/apt-get install nginx/);
  });
});

describe('plan with both topologies', () => {
  it('shows both Deployments, and what each cell changes on which', async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'rh-topology-'));
    const file = path.join(dir, 'spec.yaml');
    await writeFile(file, JSON.stringify({ name: 'topo', matrix: { ...matrix, readinessGate: [false, true], topology: ['direct', 'gateway'] }, disruptions: ['rollout'] }));
    const lines: string[] = [];
    const log = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => void lines.push(args.join(' ')));
    let plan;
    try {
      expect(await planCommand(file, { format: 'json' })).toBe(0);
      plan = JSON.parse(lines.join('\n'));
    } finally {
      log.mockRestore();
    }
    expect(plan.gateway).toEqual({ namespace: 'ingress-nginx', deployment: 'ingress-nginx-controller', ingress: 'gateway', disrupt: 'app' });
    expect(plan.beforeFirstGatewayCell).toMatch(/^deployment ingress-nginx\/ingress-nginx-controller: when at 0 replicas with the annotation rollout-harness.io\/replicas-when-used, scaled to that count/);
    const byId = Object.fromEntries(plan.cells.map((c: { id: string; changes: string[]; disruption: string }) => [c.id, c]));
    expect(byId['rollout.gate-off.prestop-0.grace-30.dereg-30.r1'].changes).toContain('ingress shop/web: annotation alb.ingress.kubernetes.io/target-group-attributes with deregistration_delay.timeout_seconds=30');
    expect(byId['rollout.gate-off.prestop-0.grace-30.dereg-30.gw.r1'].changes).toEqual([
      'deployment shop/web: preStop=none, terminationGracePeriodSeconds=30',
      'namespace shop: label elbv2.k8s.aws/pod-readiness-gate-inject=(removed)',
      'ingress ingress-nginx/gateway: annotation alb.ingress.kubernetes.io/target-group-attributes with deregistration_delay.timeout_seconds=30',
      'roll out so every pod carries these settings, then wait until every target is healthy',
    ]);
    expect(byId['rollout.gate-off.prestop-0.grace-30.dereg-30.gw.r1'].disruption).toMatch(/^restart deployment shop\/web /);
    expect(byId['rollout.gate-on.prestop-0.grace-30.dereg-30.gw.r1'].changes).toEqual([expect.stringMatching(/^not run \(INVALID "not tested"\): the readiness gate acts on the ALB's targets/)]);
  });

  it('with disrupt: gateway, plans the pod settings and the rollout on the gateway\'s Deployment', async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'rh-topology-'));
    const file = path.join(dir, 'spec.yaml');
    await writeFile(file, JSON.stringify({ name: 'topo', target: { topology: { gateway: { disrupt: 'gateway' } } }, matrix: { ...matrix, preStopSeconds: [25] }, disruptions: ['rollout'] }));
    const lines: string[] = [];
    const log = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => void lines.push(args.join(' ')));
    try {
      expect(await planCommand(file, { format: 'json' })).toBe(0);
    } finally {
      log.mockRestore();
    }
    const [cell] = JSON.parse(lines.join('\n')).cells;
    expect(cell.id).toBe('rollout.gate-off.prestop-25.grace-30.dereg-30.gw-disrupt-gw.r1');
    expect(cell.changes[0]).toBe('deployment ingress-nginx/ingress-nginx-controller: preStop={"exec":{"command":["sleep","25"]}}, terminationGracePeriodSeconds=30');
    expect(cell.changes).toContain('namespace ingress-nginx: label elbv2.k8s.aws/pod-readiness-gate-inject=(removed)');
    expect(cell.disruption).toMatch(/^restart deployment ingress-nginx\/ingress-nginx-controller /);
  });
});

describe('connectTopology: each path the cells take', () => {
  /** A namespace's Deployment, Service and `alb` Ingress, and the TargetGroupBinding the controller made for it. */
  const objects = (ns: string, name: string, ingress: string, labels: Record<string, string>) => ({
    deployment: { metadata: { namespace: ns, name }, spec: { selector: { matchLabels: labels }, template: { metadata: { labels } } } } as KObject,
    service: { metadata: { namespace: ns, name }, spec: { selector: labels } } as KObject,
    ingress: { metadata: { namespace: ns, name: ingress }, spec: { defaultBackend: { service: { name, port: { number: 80 } } } } } as KObject,
    binding: { metadata: { namespace: ns, name: `k8s-${ns}-${ingress}`, labels: { 'ingress.k8s.aws/stack-namespace': ns, 'ingress.k8s.aws/stack-name': ingress } }, spec: { serviceRef: { name, port: 80 }, targetGroupARN: `arn:tg/${ingress}` } } as KObject,
  });
  const app = objects('shop', 'web', 'web', { app: 'web' });
  const gw = objects('ingress-nginx', 'ingress-nginx-controller', 'gateway', { 'app.kubernetes.io/name': 'ingress-nginx' });
  const byNs: Record<string, typeof app> = { shop: app, 'ingress-nginx': gw };
  const k8s = {
    listTargetGroupBindings: async (ns: string) => [byNs[ns].binding],
    getIngress: async (ns: string) => byNs[ns].ingress,
    getService: async (ns: string) => byNs[ns].service,
    getDeployment: async (ns: string) => byNs[ns].deployment,
  } as unknown as KubernetesPort;
  const elbv2 = { targetGroupTags: async () => ({}) } as unknown as Elbv2Port;
  const noLookup = async (host: string) => {
    throw new Error(`no lookup expected, got one for ${host}`);
  };
  const specOf = (topology: unknown) =>
    parseSpec({ target: { url: 'http://127.0.0.1:8001', topology: { gateway: { url: 'http://127.0.0.1:8002' } } }, matrix: { ...matrix, topology }, disruptions: ['rollout'] }).spec;

  it('finds the app\'s binding and the gateway\'s, each in its namespace, with its own traffic address', async () => {
    const spec = specOf(['direct', 'gateway']);
    const topology = await connectTopology(k8s, elbv2, spec, { names: { ...spec.target, ingress: 'web' }, deployment: app.deployment }, noLookup, 'on the twin');
    expect(topology).toEqual({
      app: { namespace: 'shop', deployment: 'web', labelSelector: 'app=web' },
      direct: { namespace: 'shop', ingress: 'web', bindingName: 'k8s-shop-web', targetGroupArn: 'arn:tg/web', delayVia: 'ingress', url: 'http://127.0.0.1:8001', urlSource: 'target.url', hostHeader: undefined, servername: undefined },
      gateway: {
        namespace: 'ingress-nginx',
        ingress: 'gateway',
        bindingName: 'k8s-ingress-nginx-gateway',
        targetGroupArn: 'arn:tg/gateway',
        delayVia: 'ingress',
        url: 'http://127.0.0.1:8002',
        urlSource: 'target.url',
        hostHeader: undefined,
        servername: undefined,
        gateway: { namespace: 'ingress-nginx', deployment: 'ingress-nginx-controller', labelSelector: 'app.kubernetes.io/name=ingress-nginx' },
        disrupt: 'app',
      },
    });
  });

  it('connects only the paths the cells take', async () => {
    const spec = specOf(['gateway']);
    const topology = await connectTopology(k8s, elbv2, spec, { names: { ...spec.target, ingress: 'web' }, deployment: app.deployment }, noLookup, 'on the twin');
    expect(topology.direct).toBeUndefined();
    expect(topology.gateway?.targetGroupArn).toBe('arn:tg/gateway');
  });

  it('asks whether the gateway\'s namespace may be changed before reading it (a real cluster\'s opt-in label)', async () => {
    const spec = specOf(['direct', 'gateway']);
    const refuse = async (ns: string) => {
      throw new SafetyError(`Namespace ${ns} (the gateway's) does not carry the label rollout-harness.io/allowed=true`);
    };
    await expect(connectTopology(k8s, elbv2, spec, { names: { ...spec.target, ingress: 'web' }, deployment: app.deployment }, noLookup, 'in context staging', refuse)).rejects.toThrow(SafetyError);
  });
});
