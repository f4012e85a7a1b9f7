/**
 * An ALB twin with one load balancer, a target group holding a real healthy target and a
 * refused one, an in-memory EC2 provider, the FIS API (its interruptions recorded) and the AWS API
 * server in front: the ground the SDK and CLI tests stand on. `close()` releases everything.
 */
import { scaledClock, type Clock } from '../../harness/core/clock.ts';
import { seededRandom } from '../../harness/core/random.ts';
import { createAlbTwin, type AlbTwin } from '../../harness/twin/alb/twin.ts';
import type { LoadBalancerInfo, TargetGroupInfo, TargetRef } from '../../harness/twin/alb/types.ts';
import type { Ec2Instance, Ec2Provider } from '../../harness/twin/aws/ec2.ts';
import { createFisApi, type FisApi } from '../../harness/twin/aws/fis-api.ts';
import { startAwsApiServer, type AwsApiServer } from '../../harness/twin/aws/server.ts';
import { parseTwinConfig } from '../../harness/twin/config.ts';
import { Network } from '../../harness/twin/network.ts';
import { startTarget, type TestTarget } from './alb-target.ts';

/** An in-memory EC2 provider: terminate moves an instance to shutting-down and records the call. */
export function memoryEc2(instances: Ec2Instance[]): Ec2Provider & { terminated: string[] } {
  const terminated: string[] = [];
  return {
    terminated,
    instances: () => instances.map((i) => ({ ...i })),
    terminate(id) {
      terminated.push(id);
      const instance = instances.find((i) => i.instanceId === id);
      if (instance) instance.state = 'shutting-down';
    },
  };
}

/** Everything the API tests use. */
export interface AwsApiFixture {
  clock: Clock;
  twin: AlbTwin;
  api: AwsApiServer;
  ec2: ReturnType<typeof memoryEc2>;
  fis: FisApi;
  /** The spot interruptions FIS sent: instance id and duration (model ms). */
  interruptions: Array<{ instanceId: string; durationMs: number }>;
  lb: LoadBalancerInfo;
  tg: TargetGroupInfo;
  healthy: TargetRef;
  refused: TargetRef;
  close(): Promise<void>;
}

/** Builds the fixture and waits until the healthy target is healthy and the refused one unhealthy. */
export async function startAwsApiFixture(loopbackPrefix: string): Promise<AwsApiFixture> {
  const clock = scaledClock(0.01);
  const twin = createAlbTwin({ clock, random: seededRandom(7), config: parseTwinConfig({}).alb, region: 'us-east-1', network: new Network() });
  let target: TestTarget | undefined;
  let api: AwsApiServer | undefined;
  let fis: FisApi | undefined;
  const close = async () => {
    fis?.close();
    await api?.close();
    await twin.close();
    await target?.stop();
  };
  try {
    target = await startTarget(`${loopbackPrefix}.1`);
    const lb = await twin.createLoadBalancer({ name: 'web', zones: ['us-east-1a', 'us-east-1b'], tags: { 'elbv2.k8s.aws/cluster': 'twin' } });
    const tg = twin.createTargetGroup({ name: 'web-tg', port: 8080, healthCheck: { intervalSeconds: 5 }, tags: { 'ingress.k8s.aws/stack': 'default/web' } });
    await twin.createListener({ loadBalancerArn: lb.arn, port: 80, defaultTargetGroupArn: tg.arn });
    const healthy = { id: target.host, port: target.port };
    // Nothing listens there: connects are refused.
    const refused = { id: `${loopbackPrefix}.99`, port: target.port };
    twin.registerTargets(tg.arn, [
      { ...healthy, availabilityZone: 'us-east-1a' },
      { ...refused, availabilityZone: 'us-east-1b' },
    ]);
    for (let i = 0; i < 200; i++) {
      const states = twin.describeTargetHealth(tg.arn).map((h) => h.state);
      if (states.join() === 'healthy,unhealthy') break;
      await clock.sleep(1000);
    }
    const ec2 = memoryEc2([
      { instanceId: 'i-0a1b2c3d4e5f60001', nodeName: 'node-a1', zone: 'us-east-1a', instanceType: 'm5.large', lifecycle: 'on-demand', state: 'running', launchTime: new Date('2025-01-01T00:00:00Z'), tags: { 'eks:nodegroup-name': 'ng-a' } },
      { instanceId: 'i-0a1b2c3d4e5f60002', nodeName: 'node-b2', zone: 'us-east-1b', instanceType: 'm5.xlarge', lifecycle: 'spot', state: 'running', launchTime: new Date('2025-01-01T00:01:00Z'), tags: { 'eks:nodegroup-name': 'ng-spot' } },
      { instanceId: 'i-0a1b2c3d4e5f60003', nodeName: 'node-old', zone: 'us-east-1b', instanceType: 'm5.large', lifecycle: 'spot', state: 'terminated', launchTime: new Date('2024-12-31T00:00:00Z') },
    ]);
    const interruptions: AwsApiFixture['interruptions'] = [];
    fis = createFisApi({ clock, region: 'us-east-1', ec2, spotInterruption: (instanceId, durationMs) => (interruptions.push({ instanceId, durationMs }), true) });
    api = await startAwsApiServer({ alb: twin, ec2, region: 'us-east-1', fis });
    return { clock, twin, api, ec2, fis, interruptions, lb, tg, healthy, refused, close };
  } catch (err) {
    await close();
    throw err;
  }
}
