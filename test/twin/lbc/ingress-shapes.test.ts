/**
 * The shapes real Ingresses have, on one shared twin: an IngressGroup of two Ingresses (one ALB,
 * bindings labelled by the group), a member whose load-balancer attributes conflict (refused with
 * the controller's own error), and a host rule behind HTTPS with port 80 redirecting (rules listed
 * by the aws CLI, routed by host over TLS verified against the twin CA).
 */
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import {
  DescribeListenersCommand,
  DescribeLoadBalancerAttributesCommand,
  DescribeLoadBalancersCommand,
  DescribeRulesCommand,
  DescribeTagsCommand,
  ElasticLoadBalancingV2Client,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pollUntil } from '../../../harness/disruptions/wait.ts';
import type { KubeObject } from '../../../harness/twin/kube/types.ts';
import { FAILED_BUILD_MODEL } from '../../../harness/twin/lbc/controller.ts';
import { startTwin, twinEnv, type Twin } from '../../../harness/twin/twin.ts';
import { requirement } from '../../helpers/requirement.ts';
import { testTwinConfig } from '../../helpers/twin.ts';

const A = 'alb.ingress.kubernetes.io/';
const HOST = 'shop.example.com';
const hasAws = await execa('aws', ['--version'], { reject: false }).then((r) => r.exitCode === 0, () => false);
const needsAws = requirement('the aws CLI', hasAws, 'apt-get install -y awscli; .ci/run installs it');

const backend = { service: { name: 'web', port: { number: 80 } } };
const ingress = (name: string, annotations: Record<string, string>, spec: Record<string, unknown>): KubeObject =>
  ({ apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name, namespace: 'shop', annotations }, spec: { ingressClassName: 'alb', ...spec } }) as KubeObject;

let twin: Twin;
let dir: string;
let elb: ElasticLoadBalancingV2Client;

/** One request to the loopback address with `host` as Host and `servername` (default: the host) as TLS server name, trusting the twin CA only. */
function send(url: string, host: string, reqPath = '/', servername = host): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const done = (res: http.IncomingMessage) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    };
    const common = { host: u.hostname, port: Number(u.port), path: reqPath, headers: { host }, agent: false as const };
    const req =
      u.protocol === 'https:'
        ? https.get({ ...common, servername, ca: caPem, rejectUnauthorized: true }, done)
        : http.get(common, done);
    req.on('error', reject);
  });
}
let caPem = '';

beforeAll(async () => {
  const config = await testTwinConfig({ timeScale: 0.05 });
  const objects = config.objects as KubeObject[];
  const original = objects.find((o) => o.kind === 'Ingress')!;
  const keep = objects.filter((o) => o.kind !== 'Ingress');
  const accessLogs = original.metadata.annotations![`${A}load-balancer-attributes`];
  config.objects = [
    ...keep,
    // Two members of group "edge": web has the default backend and the access-log attributes, grpc a path rule, ordered first.
    ingress('web', { [`${A}group.name`]: 'edge', [`${A}healthcheck-path`]: '/healthz', [`${A}load-balancer-attributes`]: accessLogs }, { defaultBackend: backend }),
    ingress('grpc', { [`${A}group.name`]: 'edge', [`${A}group.order`]: '-1', [`${A}healthcheck-path`]: '/healthz' }, { rules: [{ http: { paths: [{ path: '/grpc', pathType: 'Prefix', backend }] } }] }),
    // Only a host rule, HTTPS with port 80 redirecting.
    ingress(
      'secure',
      {
        [`${A}healthcheck-path`]: '/healthz',
        [`${A}listen-ports`]: '[{"HTTP":80},{"HTTPS":443}]',
        [`${A}ssl-redirect`]: '443',
        [`${A}certificate-arn`]: 'arn:aws:acm:us-east-1:123456789012:certificate/twin-shop',
      },
      { rules: [{ host: HOST, http: { paths: [{ path: '/', pathType: 'Prefix', backend }] } }] },
    ),
  ];
  dir = await mkdtemp(path.join(os.tmpdir(), 'rh-shapes-'));
  twin = await startTwin({ config, stateDir: dir });
  caPem = await readFile(twin.caFile, 'utf8');
  elb = new ElasticLoadBalancingV2Client({ region: twin.endpoints.region, endpoint: twin.endpoints.awsApiUrl, credentials: { accessKeyId: 'twin', secretAccessKey: 'twin' } });
  // Every group has reconciled once its bindings exist: 2 for edge (one per member), 1 for secure.
  const ready = await pollUntil(twin.clock, 60_000, new AbortController().signal, async () => twin.store.list('targetgroupbindings', { namespace: 'shop' }).items.length === 3);
  if (!ready) throw new Error(`Expected 3 TargetGroupBindings in shop, got ${twin.store.list('targetgroupbindings', { namespace: 'shop' }).items.length}`);
});

afterAll(async () => {
  elb?.destroy();
  await twin?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function loadBalancerOf(stack: string): Promise<string[]> {
  const lbs = (await elb.send(new DescribeLoadBalancersCommand({}))).LoadBalancers ?? [];
  const tags = (await elb.send(new DescribeTagsCommand({ ResourceArns: lbs.map((l) => l.LoadBalancerArn!) }))).TagDescriptions ?? [];
  return tags.filter((t) => t.Tags?.some((x) => x.Key === 'ingress.k8s.aws/stack' && x.Value === stack)).map((t) => t.ResourceArn!);
}

describe('an IngressGroup on the twin', () => {
  it('gives two Ingresses of one group.name one ALB, and labels their bindings ingress.k8s.aws/stack: <group>', async () => {
    expect(await loadBalancerOf('edge')).toHaveLength(1);
    expect(await loadBalancerOf('shop/secure')).toHaveLength(1);
    expect((await elb.send(new DescribeLoadBalancersCommand({}))).LoadBalancers).toHaveLength(2);
    const labels = twin.store.list('targetgroupbindings', { namespace: 'shop' }).items.map((b) => b.metadata.labels);
    expect(labels.filter((l) => l?.['ingress.k8s.aws/stack'] === 'edge')).toHaveLength(2);
    // Only the implicit group gets stack-namespace / stack-name.
    expect(labels.filter((l) => l?.['ingress.k8s.aws/stack-name'])).toEqual([{ 'ingress.k8s.aws/stack-namespace': 'shop', 'ingress.k8s.aws/stack-name': 'secure' }]);
    for (const name of ['web', 'grpc']) expect(twin.store.get('ingresses', 'shop', name)?.status?.loadBalancer?.ingress?.[0]?.hostname).toBe('127.0.0.1');
  });

  it('refuses a member whose load-balancer attributes conflict, with the controller error, and leaves the ALB as it was', async () => {
    const [edge] = await loadBalancerOf('edge');
    const before = (await elb.send(new DescribeListenersCommand({ LoadBalancerArn: edge }))).Listeners;
    twin.store.create('ingresses', ingress('logs-off', { [`${A}group.name`]: 'edge', [`${A}load-balancer-attributes`]: 'access_logs.s3.enabled=false' }, { rules: [{ http: { paths: [{ path: '/off', pathType: 'Exact', backend }] } }] }));
    // Members in the controller's order: grpc (order -1), then logs-off before web (same order, by name).
    const message = 'Failed build model due to conflicting attributes access_logs.s3.enabled: false | true';
    const warned = () =>
      twin.store.list('events', { namespace: 'shop' }).items.filter((e) => e.reason === FAILED_BUILD_MODEL && e.type === 'Warning' && e.message === message).map((e) => (e.involvedObject as { name: string }).name);
    const seen = await pollUntil(twin.clock, 30_000, new AbortController().signal, async () => warned().length >= 3);
    expect(seen, `events: ${JSON.stringify(twin.store.list('events', { namespace: 'shop' }).items.map((e) => [e.reason, e.message]))}`).toBe(true);
    expect(warned().sort()).toEqual(['grpc', 'logs-off', 'web']);
    const attributes = (await elb.send(new DescribeLoadBalancerAttributesCommand({ LoadBalancerArn: edge }))).Attributes ?? [];
    expect(attributes.find((a) => a.Key === 'access_logs.s3.enabled')?.Value).toBe('true');
    expect((await elb.send(new DescribeListenersCommand({ LoadBalancerArn: edge }))).Listeners).toEqual(before);
  });
});

describe('listener rules through the AWS SDK v3', () => {
  it('DescribeRules gives the group its rules in group order, then the default forward to the default backend', async () => {
    const [edge] = await loadBalancerOf('edge');
    const [listener] = (await elb.send(new DescribeListenersCommand({ LoadBalancerArn: edge }))).Listeners ?? [];
    expect([listener.Protocol, listener.DefaultActions?.[0].Type]).toEqual(['HTTP', 'forward']);
    const rules = (await elb.send(new DescribeRulesCommand({ ListenerArn: listener.ListenerArn }))).Rules ?? [];
    expect(rules.map((r) => [r.Priority, r.IsDefault, r.Conditions?.map((c) => [c.Field, c.PathPatternConfig?.Values ?? c.HostHeaderConfig?.Values])])).toEqual([
      // grpc's Prefix /grpc (order -1); web has only the default backend.
      ['1', false, [['path-pattern', ['/grpc', '/grpc/*']]]],
      ['default', true, []],
    ]);
    expect(rules[0].Actions?.[0].ForwardConfig?.TargetGroups?.[0].TargetGroupArn).toBe(rules[0].Actions?.[0].TargetGroupArn);
    expect(rules[1].Actions?.[0].TargetGroupArn).toBe(listener.DefaultActions?.[0].TargetGroupArn);
  });
});

describe.runIf(needsAws.run)('a host rule behind HTTPS with port 80 redirecting', () => {
  let listeners: Array<{ ListenerArn: string; Port: number; Protocol: string; Certificates?: Array<{ CertificateArn: string }>; DefaultActions: Array<Record<string, unknown>> }>;
  const aws = async (...args: string[]) =>
    JSON.parse(
      (
        await execa('aws', [...args, '--endpoint-url', twin.endpoints.awsApiUrl, '--output', 'json'], {
          env: { ...twinEnv(twin.endpoints), AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null', AWS_MAX_ATTEMPTS: '1' },
          timeout: 30_000,
        })
      ).stdout,
    );
  const url = (protocol: string) => {
    const l = listeners.find((x) => x.Protocol === protocol)!;
    return `${protocol.toLowerCase()}://127.0.0.1:${l.Port}`;
  };

  beforeAll(async () => {
    needsAws.check();
    const [lb] = await loadBalancerOf('shop/secure');
    listeners = (await aws('elbv2', 'describe-listeners', '--load-balancer-arn', lb)).Listeners;
  });

  it('aws elbv2 describe-listeners and describe-rules list the redirect, the certificate and the host rule', async () => {
    expect(listeners.map((l) => l.Protocol).sort()).toEqual(['HTTP', 'HTTPS']);
    const http80 = listeners.find((l) => l.Protocol === 'HTTP')!;
    expect(http80.DefaultActions).toEqual([
      { Type: 'redirect', Order: 1, RedirectConfig: { Protocol: 'HTTPS', Port: '443', Host: '#{host}', Path: '/#{path}', Query: '#{query}', StatusCode: 'HTTP_301' } },
    ]);
    const tls = listeners.find((l) => l.Protocol === 'HTTPS')!;
    expect(tls.Certificates).toEqual([{ CertificateArn: 'arn:aws:acm:us-east-1:123456789012:certificate/twin-shop' }]);
    const rules = (await aws('elbv2', 'describe-rules', '--listener-arn', tls.ListenerArn)).Rules;
    expect(rules.map((r: { Priority: string; IsDefault: boolean }) => [r.Priority, r.IsDefault])).toEqual([
      ['1', false],
      ['default', true],
    ]);
    expect(rules[0].Conditions).toEqual([
      { Field: 'host-header', Values: [HOST], HostHeaderConfig: { Values: [HOST] } },
      { Field: 'path-pattern', Values: ['/*'], PathPatternConfig: { Values: ['/*'] } },
    ]);
    expect(rules[0].Actions[0]).toMatchObject({ Type: 'forward', ForwardConfig: { TargetGroups: [{ Weight: 1 }] } });
    expect(rules[1].Actions).toEqual([{ Type: 'fixed-response', Order: 1, FixedResponseConfig: { StatusCode: '404', ContentType: 'text/plain' } }]);
    const byArn = (await aws('elbv2', 'describe-rules', '--rule-arns', rules[0].RuleArn)).Rules;
    expect(byArn.map((r: { RuleArn: string }) => r.RuleArn)).toEqual([rules[0].RuleArn]);
  });

  it('routes HTTPS with SNI and Host = the rule host to the pods, 404s a wrong host, and answers plain HTTP with the 301', async () => {
    const tls = url('HTTPS');
    // Targets turn healthy and each LB node picks them up after its registration lag.
    let last = { status: 0, body: '' };
    const reached = await pollUntil(twin.clock, 120_000, new AbortController().signal, async () => {
      last = await send(tls, HOST);
      return last.status === 200;
    });
    expect(reached, `last answer ${last.status} ${last.body}`).toBe(true);
    expect(JSON.parse(last.body).pod).toMatch(/^web-/);
    // The ALB routes by the Host header: SNI names the certificate's host, Host another.
    const wrong = await send(tls, 'other.example.com', '/', HOST);
    expect([wrong.status, wrong.headers['content-type'], wrong.body]).toEqual([404, 'text/plain', '']);
    const redirected = await send(url('HTTP'), HOST, '/cart?id=7');
    expect([redirected.status, redirected.headers.location]).toEqual([301, `https://${HOST}/cart?id=7`]);
    // The server name is checked against the twin CA's certificate: a name it does not carry fails.
    await expect(
      new Promise((resolve, reject) => {
        https.get({ host: '127.0.0.1', port: Number(new URL(tls).port), servername: 'nope.example.net', headers: { host: HOST }, ca: caPem, agent: false }, resolve).on('error', reject);
      }),
    ).rejects.toThrow(/altnames|does not match|ERR_TLS_CERT_ALTNAME_INVALID/);
  });
});
