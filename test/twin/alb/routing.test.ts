import { afterEach, describe, expect, it } from 'vitest';
import { startAlbScene, type AlbScene } from '../../helpers/alb-scene.ts';
import { startTarget, type TestTarget } from '../../helpers/alb-target.ts';

// The target-group attributes that change routing, with real requests through the data plane.
let scene: AlbScene | undefined;
let extra: TestTarget | undefined;
afterEach(async () => {
  await scene?.close();
  await extra?.stop();
  scene = undefined;
  extra = undefined;
});

describe('ALB twin data plane: routing algorithms and slow start', () => {
  it('slow start: a target that turns healthy next to two warm ones gets a share that ramps linearly over the 30 s window', async () => {
    scene = await startAlbScene({ hosts: ['127.0.36.1', '127.0.36.2'] });
    const s = scene;
    s.twin.modifyTargetGroupAttributes(s.tg.arn, { 'slow_start.duration_seconds': '30' });
    extra = await startTarget('127.0.36.3');
    const fresh = `127.0.36.3:${extra.port}`;
    s.twin.registerTargets(s.tg.arn, [{ id: extra.host, port: extra.port }]);
    const routed = () => s.twin.nodeView(s.lb.arn, 'us-east-1a').some((r) => r.target === fresh && r.routable);
    expect(await s.until(routed, 60_000)).toBe(true);
    const healthy = s.events.find((e) => e.type === 'target-state' && e.to === 'healthy' && e.target.id === '127.0.36.3');
    expect(healthy).toBeDefined();
    const start = healthy!.time;
    // Batches of 10 through one LB node until 40 model s after it turned healthy (bounded in count too).
    for (let batch = 0; batch < 400 && s.clock.now() / 1000 < start + 40; batch++) {
      const results = await Promise.all(Array.from({ length: 10 }, () => s.get('/', 'us-east-1a')));
      for (const r of results) expect(r.status).toBe(200);
    }
    const share = (from: number, to: number) => {
      const rows = s.logs.filter((r) => r.lbNode === 'us-east-1a' && r.time - start >= from && r.time - start < to);
      return { n: rows.length, share: rows.filter((r) => r.target === fresh).length / rows.length };
    };
    // Weight w = t / 30 next to two targets at 1: a share of w / (2 + w); on average ≈ 11 % in
    // the first half of the window, ≈ 27 % in the second, then a third.
    const first = share(0, 15);
    const second = share(15, 30);
    const after = share(30, 40);
    for (const part of [first, second, after]) expect(part.n).toBeGreaterThan(50);
    expect(first.share).toBeLessThan(0.17);
    expect(second.share).toBeGreaterThan(0.2);
    expect(second.share).toBeLessThan(0.32);
    expect(after.share).toBeGreaterThan(0.3);
    expect(after.share).toBeLessThan(0.37);
  });

  it('least outstanding requests: a node avoids the target it has a slow request at; the other node does not', async () => {
    scene = await startAlbScene({ hosts: ['127.0.36.4', '127.0.36.5', '127.0.36.6'] });
    const s = scene;
    s.twin.modifyTargetGroupAttributes(s.tg.arn, { 'load_balancing.algorithm.type': 'least_outstanding_requests' });
    const slow = s.get('/slow/1500', 'us-east-1a');
    const busy = () => s.refs.find((ref) => s.twin.targetActivity(s.tg.arn, ref)?.inFlight === 1);
    expect(await s.until(() => busy() !== undefined, 10_000)).toBe(true);
    const slowHost = busy()!.id;
    const viaA: string[] = [];
    for (let i = 0; i < 9; i++) viaA.push((await s.get('/', 'us-east-1a')).body);
    expect(viaA).not.toContain(slowHost);
    expect(new Set(viaA).size).toBe(2);
    // Node b has nothing outstanding anywhere: ties go round robin, the busy target included.
    const viaB: string[] = [];
    for (let i = 0; i < 3; i++) viaB.push((await s.get('/', 'us-east-1b')).body);
    expect(new Set(viaB)).toEqual(new Set(['127.0.36.4', '127.0.36.5', '127.0.36.6']));
    expect((await slow).body).toBe(`slow ${slowHost}`);
  });
});
