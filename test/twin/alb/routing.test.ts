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
    // Scale 0.1: the 30 s window is 3 real seconds, enough requests per model second on a busy machine.
    scene = await startAlbScene({ hosts: ['127.0.36.1', '127.0.36.2'], scale: 0.1 });
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
    // Batches of 10 through one LB node until 40 model s after it turned healthy, a tenth of a model
    // second apart: the 600-batch bound is then always past the 40 s (unpaced, a fast machine sent
    // all 600 by 16 model s and the 30–40 s window had no request).
    for (let batch = 0; batch < 600 && s.clock.now() / 1000 < start + 40; batch++) {
      const results = await Promise.all(Array.from({ length: 10 }, () => s.get('/', 'us-east-1a')));
      for (const r of results) expect(r.status).toBe(200);
      await s.clock.sleep(100);
    }
    expect(s.clock.now() / 1000).toBeGreaterThanOrEqual(start + 40);
    const rows = (from: number, to: number) => s.logs.filter((r) => r.lbNode === 'us-east-1a' && r.time - start >= from && r.time - start < to);
    const share = (from: number, to: number) => {
      const part = rows(from, to);
      return { n: part.length, share: part.filter((r) => r.target === fresh).length / part.length };
    };
    // Weight w = t / 30 next to two targets at 1: the new target's share is w / (2 + w) at the
    // moment of each request (smooth weighted round robin, no chance involved). Summed over the
    // window's own requests, however densely a busy machine sent them, that is what it must get.
    const window = rows(0, 30);
    const expected = window.reduce((sum, r) => {
      const w = (r.time - start) / 30;
      return sum + w / (2 + w);
    }, 0);
    const got = window.filter((r) => r.target === fresh).length;
    expect(window.length).toBeGreaterThan(100);
    expect(Math.abs(got - expected)).toBeLessThanOrEqual(Math.max(4, expected * 0.15));
    const first = share(0, 15);
    const second = share(15, 30);
    const after = share(30, 40);
    for (const part of [first, second, after]) expect(part.n).toBeGreaterThan(20);
    expect(first.share).toBeLessThan(second.share);
    expect(second.share).toBeLessThan(0.33);
    expect(after.share).toBeGreaterThan(0.29);
    expect(after.share).toBeLessThan(0.38);
  });

  it('least outstanding requests: a node avoids the target it has a slow request at; the other node does not', async () => {
    // Scale 0.1 and a 4 s (real) request: the node's picks below finish well before it does.
    scene = await startAlbScene({ hosts: ['127.0.36.4', '127.0.36.5', '127.0.36.6'], scale: 0.1 });
    const s = scene;
    s.twin.modifyTargetGroupAttributes(s.tg.arn, { 'load_balancing.algorithm.type': 'least_outstanding_requests' });
    const slow = s.get('/slow/4000', 'us-east-1a');
    const busy = () => s.refs.find((ref) => s.twin.targetActivity(s.tg.arn, ref)?.inFlight === 1);
    expect(await s.until(() => busy() !== undefined, 20_000)).toBe(true);
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

  it('weighted random: an even share over the targets, in a random order (never a fixed cycle)', async () => {
    scene = await startAlbScene({ hosts: ['127.0.36.7', '127.0.36.8', '127.0.36.9'] });
    const s = scene;
    s.twin.modifyTargetGroupAttributes(s.tg.arn, { 'load_balancing.algorithm.type': 'weighted_random' });
    const bodies: string[] = [];
    for (let i = 0; i < 300; i++) bodies.push((await s.get('/', 'us-east-1a')).body);
    const counts = ['127.0.36.7', '127.0.36.8', '127.0.36.9'].map((h) => bodies.filter((b) => b === h).length);
    // 100 each on average; the seeded draw stays within 4 standard deviations (≈ 8 each).
    for (const c of counts) expect(Math.abs(c - 100)).toBeLessThan(33);
    // Round robin never sends two requests of one node in a row to the same target; random does.
    expect(bodies.some((b, i) => i > 0 && b === bodies[i - 1])).toBe(true);
  });
});
