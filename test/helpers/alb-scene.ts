/**
 * A running ALB twin in front of real target processes, on a scaled clock: the stage of the
 * data-plane tests. `close()` stops the twin, the HTTP client and every target process.
 */
import { Agent, request } from 'undici';
import { scaledClock, type Clock } from '../../harness/core/clock.ts';
import { seededRandom } from '../../harness/core/random.ts';
import { createAlbTwin, type AlbTwin } from '../../harness/twin/alb/twin.ts';
import type { AccessLogRecord, AlbEvent, LoadBalancerInfo, TargetGroupInfo, TargetRef } from '../../harness/twin/alb/types.ts';
import { parseTwinConfig } from '../../harness/twin/config.ts';
import { Network } from '../../harness/twin/network.ts';
import { startTarget, type TestTarget } from './alb-target.ts';

/** The scene's parts. */
export interface AlbScene {
  clock: Clock;
  network: Network;
  twin: AlbTwin;
  lb: LoadBalancerInfo;
  tg: TargetGroupInfo;
  targets: TestTarget[];
  refs: TargetRef[];
  logs: AccessLogRecord[];
  events: AlbEvent[];
  /** GET (or another method) through the ALB; `node` forces an LB node. */
  get(path: string, node?: string): Promise<{ status: number; body: string; headers: Record<string, string | string[] | undefined> }>;
  /** Polls `check` every model second until it holds or `modelMs` passed; false on timeout. */
  until(check: () => boolean, modelMs: number): Promise<boolean>;
  /** The access-log records of a path. */
  logsOf(path: string): AccessLogRecord[];
  close(): Promise<void>;
}

/** Starts targets on `hosts` (keep-alive close after `keepAliveMs` real ms), an ALB twin, and waits until every node routes to all. */
export async function startAlbScene(options: {
  hosts: string[];
  keepAliveMs?: number;
  zones?: string[];
  alb?: Record<string, unknown>;
  scale?: number;
}): Promise<AlbScene> {
  const clock = scaledClock(options.scale ?? 0.05);
  const network = new Network();
  const logs: AccessLogRecord[] = [];
  const events: AlbEvent[] = [];
  const config = parseTwinConfig({ alb: { registrationLag: { min: 0, max: 0.5, tailProbability: 0, tailMax: 0.5 }, ...options.alb } }).alb;
  const twin = createAlbTwin({ clock, random: seededRandom(42), config, region: 'us-east-1', network, accessLog: (r) => logs.push(r) });
  twin.on((e) => events.push(e));
  const agent = new Agent({ connections: 32, keepAliveTimeout: 10_000 });
  const targets: TestTarget[] = [];
  const close = async () => {
    await agent.close().catch(() => undefined);
    await twin.close();
    await Promise.all(targets.map((t) => t.stop()));
  };
  try {
    targets.push(...(await Promise.all(options.hosts.map((h) => startTarget(h, options.keepAliveMs ?? 5000)))));
    const zones = options.zones ?? ['us-east-1a', 'us-east-1b'];
    const lb = await twin.createLoadBalancer({ name: 'scene', zones });
    const tg = twin.createTargetGroup({ name: 'scene-tg', port: 8080 });
    await twin.createListener({ loadBalancerArn: lb.arn, port: 80, defaultTargetGroupArn: tg.arn });
    const refs = targets.map((t) => ({ id: t.host, port: t.port }));
    twin.registerTargets(tg.arn, refs);
    const until = async (check: () => boolean, modelMs: number) => {
      const end = clock.now() + modelMs;
      while (!check()) {
        if (clock.now() > end) return false;
        await clock.sleep(Math.min(1000, modelMs / 10));
      }
      return true;
    };
    const allRoutable = () => zones.every((z) => twin.nodeView(lb.arn, z).filter((r) => r.routable).length === refs.length);
    if (!(await until(allRoutable, 60_000))) throw new Error(`Expected every LB node to route to ${refs.length} targets, got ${JSON.stringify(twin.describeTargetHealth(tg.arn))}`);
    const get = async (path: string, node?: string) => {
      const res = await request(`${lb.listenerUrl}${path}`, { dispatcher: agent, headers: node ? { 'x-twin-lb-node': node } : {} });
      return { status: res.statusCode, body: await res.body.text(), headers: res.headers };
    };
    const logsOf = (path: string) => logs.filter((r) => r.path === path);
    return { clock, network, twin, lb, tg, targets, refs, logs, events, get, until, logsOf, close };
  } catch (err) {
    await close();
    throw err;
  }
}
