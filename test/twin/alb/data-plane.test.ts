import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { startAlbScene, type AlbScene } from '../../helpers/alb-scene.ts';

let scene: AlbScene | undefined;
afterEach(async () => {
  await scene?.close();
  scene = undefined;
});

describe('ALB twin data plane: routing', () => {
  it('spreads requests evenly over three targets by round robin, over both LB nodes', async () => {
    scene = await startAlbScene({ hosts: ['127.0.31.1', '127.0.31.2', '127.0.31.3'] });
    const s = scene;
    const bodies: string[] = [];
    for (let batch = 0; batch < 30; batch++) {
      const results = await Promise.all(Array.from({ length: 10 }, () => s.get('/')));
      for (const r of results) {
        expect(r.status).toBe(200);
        bodies.push(r.body);
      }
    }
    const counts = ['127.0.31.1', '127.0.31.2', '127.0.31.3'].map((h) => bodies.filter((b) => b === h).length);
    expect(counts.reduce((a, b) => a + b)).toBe(300);
    expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(4);
    expect(new Set(s.logs.map((r) => r.lbNode))).toEqual(new Set(['us-east-1a', 'us-east-1b']));
  });

  it('forwards X-Forwarded-For/-Proto/-Port and an X-Amzn-Trace-Id, and logs a complete record', async () => {
    // An uneven time scale: real-time settings derived from it must still be valid.
    scene = await startAlbScene({ hosts: ['127.0.31.4'], scale: 0.033 });
    const r = await scene.get('/headers', 'us-east-1b');
    const headers = JSON.parse(r.body) as Record<string, string>;
    expect(headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(headers['x-forwarded-proto']).toBe('http');
    expect(headers['x-forwarded-port']).toBe('80');
    expect(headers['x-amzn-trace-id']).toMatch(/^Root=1-[0-9a-f]{8}-[0-9a-f]{24}$/);
    expect(headers['x-twin-lb-node']).toBeUndefined();
    const [rec] = scene.logsOf('/headers');
    expect(rec).toMatchObject({
      type: 'request',
      lbNode: 'us-east-1b',
      method: 'GET',
      target: `127.0.31.4:${scene.targets[0].port}`,
      targetState: 'healthy',
      targetControlState: 'healthy',
      elbStatus: 200,
      targetStatus: 200,
    });
    expect(rec.reason).toBeUndefined();
    expect(rec.time).toBeCloseTo(scene.clock.now() / 1000, -2);
    expect(rec.totalTime).toBeGreaterThanOrEqual(rec.targetProcessingTime);
  });

  it('answers 503 no-routable-targets when no target is registered, once the deregistration reached the LB nodes', async () => {
    scene = await startAlbScene({ hosts: ['127.0.31.5'] });
    scene.twin.deregisterTargets(scene.tg.arn, scene.refs);
    // Idle, so the control plane is done at once; each node learns of it after its own lag, and
    // until the last one has, the API still says draining.
    expect(scene.twin.describeTargetHealth(scene.tg.arn).map((t) => t.state)).toEqual(['draining']);
    const s = scene;
    const gone = () => ['us-east-1a', 'us-east-1b'].every((z) => s.twin.nodeView(s.lb.arn, z).every((row) => !row.routable));
    expect(await scene.until(gone, 70_000)).toBe(true);
    expect(scene.twin.describeTargetHealth(scene.tg.arn)).toEqual([]);
    const r = await scene.get('/');
    expect(r.status).toBe(503);
    expect(r.headers.server).toBe('awselb/2.0');
    expect(r.body).toContain('503 Service Temporarily Unavailable');
    expect(scene.logsOf('/').at(-1)).toMatchObject({ elbStatus: 503, targetStatus: null, target: '-', reason: 'no-routable-targets' });
  });
});

describe('ALB twin data plane: each failure gives its code and reason', () => {
  it('connect refused → 502 connect-refused', async () => {
    scene = await startAlbScene({ hosts: ['127.0.32.1'] });
    await scene.targets[0].stop();
    const r = await scene.get('/');
    expect(r.status).toBe(502);
    expect(r.body).toContain('502 Bad Gateway');
    expect(scene.logsOf('/').at(-1)).toMatchObject({ elbStatus: 502, targetStatus: null, reason: 'connect-refused' });
  });

  it('blackholed host → 504 connect-timeout after the 10 s (model) connect timeout', async () => {
    scene = await startAlbScene({ hosts: ['127.0.32.2'] });
    scene.network.blackhole('127.0.32.2');
    const r = await scene.get('/');
    expect(r.status).toBe(504);
    const rec = scene.logsOf('/').at(-1)!;
    expect(rec).toMatchObject({ elbStatus: 504, targetStatus: null, reason: 'connect-timeout' });
    expect(rec.totalTime).toBeGreaterThanOrEqual(9.9);
    expect(rec.totalTime).toBeLessThan(13);
  });

  it('target closes the connection while the request is outstanding → 502 closed-mid-request', async () => {
    scene = await startAlbScene({ hosts: ['127.0.32.3'] });
    // The first request through the LB opens a fresh connection, so this is no keep-alive race.
    const r = await scene.get('/close');
    expect(r.status).toBe(502);
    expect(scene.logsOf('/close')).toMatchObject([{ elbStatus: 502, targetStatus: null, reason: 'closed-mid-request' }]);
  });

  it('a request on a kept-alive connection the target closes at that moment → 502 keepalive-race', async () => {
    // The target closes idle connections after 200 ms; /pause freezes it across that instant,
    // so the next request lands on a connection the target is closing.
    scene = await startAlbScene({ hosts: ['127.0.32.4'], keepAliveMs: 200, zones: ['us-east-1a'] });
    const s = scene;
    let races = 0;
    for (let i = 0; i < 5; i++) {
      expect((await s.get('/pause/170-60')).status).toBe(200);
      await s.clock.sleep(s.clock.toModelMs(200));
      const r = await s.get('/after-pause');
      if (r.status === 502) races++;
    }
    const failed = s.logsOf('/after-pause').filter((r) => r.elbStatus !== 200);
    expect(races).toBeGreaterThanOrEqual(3);
    for (const rec of failed) expect(rec).toMatchObject({ elbStatus: 502, targetStatus: null, reason: 'keepalive-race' });
  });

  it('steady load on a target with a short keep-alive timeout produces keep-alive races, and nothing else', async () => {
    scene = await startAlbScene({ hosts: ['127.0.32.5'], keepAliveMs: 20 });
    const s = scene;
    const started = Date.now();
    const loops = Array.from({ length: 20 }, async () => {
      // Bounded: at most 100 requests per loop and 3 s.
      for (let i = 0; i < 100 && Date.now() - started < 3000; i++) {
        await s.get('/steady');
        if (s.logs.some((r) => r.reason === 'keepalive-race') && i > 10) break;
        await s.clock.sleep(s.clock.toModelMs(16 + (i % 5)));
      }
    });
    await Promise.all(loops);
    const records = s.logsOf('/steady');
    expect(records.filter((r) => r.reason === 'keepalive-race').length).toBeGreaterThanOrEqual(1);
    for (const rec of records) {
      if (rec.elbStatus !== 200) expect(rec).toMatchObject({ elbStatus: 502, reason: 'keepalive-race' });
    }
  });

  it('no response within the idle timeout → 504 idle-timeout', async () => {
    scene = await startAlbScene({ hosts: ['127.0.32.6'], alb: { idleTimeoutSeconds: 4 } });
    const r = await scene.get('/hang');
    expect(r.status).toBe(504);
    const rec = scene.logsOf('/hang')[0];
    expect(rec).toMatchObject({ elbStatus: 504, targetStatus: null, reason: 'idle-timeout' });
    expect(rec.totalTime).toBeGreaterThanOrEqual(3.9);
    expect(rec.totalTime).toBeLessThan(6);
  });

  it('deregistration delay elapsing with the request in flight → 502 delay-elapsed-in-flight', async () => {
    scene = await startAlbScene({ hosts: ['127.0.32.7', '127.0.32.8'] });
    const s = scene;
    s.twin.modifyTargetGroupAttributes(s.tg.arn, { 'deregistration_delay.timeout_seconds': '2' });
    const [first] = s.refs;
    // 2 s real = 40 s model: far longer than the 2 s delay, shorter than the 60 s idle timeout.
    const pending = Promise.all([s.get('/slow/2000', 'us-east-1a'), s.get('/slow/2000', 'us-east-1a')]);
    expect(await s.until(() => s.twin.targetActivity(s.tg.arn, first)?.inFlight === 1, 10_000)).toBe(true);
    const deregisteredAt = s.clock.now() / 1000;
    s.twin.deregisterTargets(s.tg.arn, [first]);
    const results = await pending;
    expect(results.map((r) => r.status).sort()).toEqual([200, 502]);
    const failed = s.logsOf('/slow/2000').find((r) => r.elbStatus === 502)!;
    expect(failed).toMatchObject({ target: `${first.id}:${first.port}`, targetStatus: null, reason: 'delay-elapsed-in-flight' });
    const left = s.events.find((e) => e.type === 'target-state' && e.to === 'unused' && e.target.id === first.id)!;
    expect(left.time - deregisteredAt).toBeGreaterThanOrEqual(1.9);
    expect(left.time - deregisteredAt).toBeLessThan(4);
  });

  it('draining completes early once no node routes to the target and it has no request or connection', async () => {
    const lag = { min: 1, max: 1, tailProbability: 0, tailMax: 1 };
    scene = await startAlbScene({ hosts: ['127.0.32.9', '127.0.32.10'], alb: { deregistrationLag: lag } });
    const s = scene;
    for (const node of ['us-east-1a', 'us-east-1b']) for (let i = 0; i < 4; i++) expect((await s.get('/', node)).status).toBe(200);
    const [first] = s.refs;
    expect(s.twin.targetActivity(s.tg.arn, first)?.openConnections).toBeGreaterThan(0);
    const deregisteredAt = s.clock.now() / 1000;
    s.twin.deregisterTargets(s.tg.arn, [first]);
    expect(s.twin.describeTargetHealth(s.tg.arn, [first])[0].state).toBe('draining');
    expect(await s.until(() => s.twin.describeTargetHealth(s.tg.arn, [first])[0].state === 'unused', 20_000)).toBe(true);
    const left = s.events.find((e) => e.type === 'target-state' && e.to === 'unused' && e.target.id === first.id)!;
    // The 300 s delay did not run out: the 1 s lag and closing the idle connections did it.
    expect(left.time - deregisteredAt).toBeGreaterThanOrEqual(0.9);
    expect(left.time - deregisteredAt).toBeLessThan(10);
    expect(s.events.filter((e) => e.type === 'target-routable' && !e.routable && e.target.id === first.id).map((e) => e.type === 'target-routable' && e.lbNode).sort()).toEqual(['us-east-1a', 'us-east-1b']);
  });

  it('target 5xx passes through with reason target-5xx', async () => {
    scene = await startAlbScene({ hosts: ['127.0.32.11'] });
    const r503 = await scene.get('/status/503');
    const r500 = await scene.get('/status/500');
    expect([r503.status, r503.body, r500.status, r500.body]).toEqual([503, 'status 503', 500, 'status 500']);
    expect(r503.headers.server).toBeUndefined();
    expect(scene.logsOf('/status/503')).toMatchObject([{ elbStatus: 503, targetStatus: 503, reason: 'target-5xx' }]);
    expect(scene.logsOf('/status/500')).toMatchObject([{ elbStatus: 500, targetStatus: 500, reason: 'target-5xx' }]);
  });

  it('a client that gives up first is logged as 460 (not a 5xx) and frees the in-flight slot', async () => {
    scene = await startAlbScene({ hosts: ['127.0.32.13'] });
    const s = scene;
    const controller = new AbortController();
    const pending = request(`${s.lb.listenerUrl}/hang`, { signal: controller.signal }).catch((err: Error) => err.name);
    expect(await s.until(() => s.twin.targetActivity(s.tg.arn, s.refs[0])?.inFlight === 1, 10_000)).toBe(true);
    controller.abort();
    expect(await pending).toBe('AbortError');
    expect(await s.until(() => s.logsOf('/hang').length === 1, 10_000)).toBe(true);
    expect(s.logsOf('/hang')[0]).toMatchObject({ elbStatus: 460, targetStatus: null, detail: 'client closed' });
    expect(s.logsOf('/hang')[0].reason).toBeUndefined();
    expect(s.twin.targetActivity(s.tg.arn, s.refs[0])?.inFlight).toBe(0);
  });

  it('malformed response → 502 malformed-response', async () => {
    scene = await startAlbScene({ hosts: ['127.0.32.12'] });
    const r = await scene.get('/malformed');
    expect(r.status).toBe(502);
    expect(scene.logsOf('/malformed')).toMatchObject([{ elbStatus: 502, targetStatus: null, reason: 'malformed-response' }]);
  });
});
