import { beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../../harness/core/clock.ts';
import { seededRandom, type Random } from '../../../../harness/core/random.ts';
import type { HealthProbe, ProbeResult } from '../../../../harness/twin/alb/health.ts';
import { NodeView, TargetGroupModel, type TargetEntry } from '../../../../harness/twin/alb/model.ts';
import type { AlbEvent, TargetGroupInfo } from '../../../../harness/twin/alb/types.ts';
import { parseTwinConfig, type LagDistribution } from '../../../../harness/twin/config.ts';

const fixed = (seconds: number): LagDistribution => ({ min: seconds, max: seconds, tailProbability: 0, tailMax: seconds });

/** A random whose every draw is `fraction` of the way through its range. */
const constant = (fraction: number): Random => ({
  seed: 0,
  next: () => fraction,
  between: (min, max) => min + (max - min) * fraction,
  int: (min, max) => min + Math.floor((max - min + 1) * fraction),
  fork: () => constant(fraction),
});

/**
 * A control plane with two LB nodes: node `a` propagates deregistration in 5 s, node `b` in 20 s.
 * Registration takes 2 s; the first check comes half an interval (7.5 s) later; each node routes
 * to a healthy target 1 s after it turned healthy. So a new target is healthy 9.5 s after
 * registration and routed to at 10.5 s.
 */
function setup(options: { newTargetPassingChecks?: 1 | 'healthyThreshold'; delaySeconds?: number } = {}) {
  const clock = new ManualClock(1_000_000);
  const alb = parseTwinConfig({
    alb: {
      newTargetPassingChecks: options.newTargetPassingChecks ?? 1,
      deregistrationDelaySeconds: options.delaySeconds ?? 30,
      registrationTime: fixed(2),
      registrationLag: fixed(1),
    },
  }).alb;
  const probed: string[] = [];
  // What each host answers to a health check; a timeout takes the check's timeout, as over the wire.
  const answers = new Map<string, ProbeResult>();
  const probe: HealthProbe = async ({ host }, timeoutMs) => {
    probed.push(host);
    const answer = answers.get(host) ?? { kind: 'status', status: 200 };
    if (answer.kind === 'timeout') await clock.sleep(timeoutMs);
    return answer;
  };
  const events: AlbEvent[] = [];
  const left: TargetEntry[] = [];
  const unroutable: string[] = [];
  const info: TargetGroupInfo = {
    arn: 'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/tg/0000000000000001',
    name: 'tg',
    protocol: 'HTTP',
    port: 8080,
    targetType: 'ip',
    vpcId: 'vpc-00000000000000001',
    loadBalancerArns: [],
    healthCheck: alb.healthCheck,
    tags: {},
  };
  const group = new TargetGroupModel(info, { clock, random: constant(0.5), alb, probe, emit: (e) => events.push(e), onLeft: (e) => left.push(e) });
  const random = seededRandom(5);
  const views = [
    ['a', 5],
    ['b', 20],
  ].map(
    ([name, lag]) =>
      new NodeView(String(name), info.arn, {
        clock,
        random: random.fork(String(name)),
        registrationLag: alb.registrationLag,
        deregistrationLag: fixed(Number(lag)),
        emit: (e) => events.push(e),
        onUnroutable: (e) => unroutable.push(`${String(name)}:${e.key}`),
      }),
  );
  group.attach('arn:lb', views);
  const [a, b] = views;
  const state = (id: string) => group.health([{ id, port: 8080 }])[0];
  const entry = (id: string) => group.targets.get(`${id}:8080`)!;
  /** Where `n` requests in a node go (null = 503). */
  const picks = (view: NodeView, n: number) =>
    Array.from({ length: n }, () => {
      const c = view.pick();
      return c.kind === 'none' ? null : c.entry.ref.id;
    });
  return { clock, answers, probed, events, left, unroutable, group, a, b, state, entry, picks };
}

type Setup = ReturnType<typeof setup>;

async function registerHealthy(s: Setup, ids: string[]): Promise<void> {
  s.group.register(ids.map((id) => ({ id, port: 8080 })));
  await s.clock.advance(10_500); // 2 s registration, the first check 7.5 s later, then the 1 s lag
}

describe('target state machine', () => {
  it('register → initial (RegistrationInProgress, no check) → InitialHealthChecking → healthy at the first passing check, on the interval schedule', async () => {
    const s = setup();
    s.group.register([{ id: '127.0.9.1', port: 8080 }]);
    expect(s.state('127.0.9.1')).toMatchObject({ state: 'initial', reason: 'Elb.RegistrationInProgress' });
    await s.clock.advance(1999);
    expect(s.state('127.0.9.1')).toMatchObject({ state: 'initial', reason: 'Elb.RegistrationInProgress' });
    expect(s.probed).toEqual([]);
    await s.clock.advance(1);
    expect(s.state('127.0.9.1')).toMatchObject({ state: 'initial', reason: 'Elb.InitialHealthChecking', description: 'Initial health checks in progress' });
    await s.clock.advance(7499);
    expect(s.probed).toEqual([]);
    expect(s.state('127.0.9.1').state).toBe('initial');
    await s.clock.advance(1);
    expect(s.probed).toEqual(['127.0.9.1']);
    expect(s.state('127.0.9.1').state).toBe('healthy');
    // Then every interval.
    await s.clock.advance(30_000);
    expect(s.probed).toHaveLength(3);
    expect(s.events.filter((e) => e.type === 'target-state').map((e) => e.type === 'target-state' && `${e.from}→${e.to}`)).toEqual([
      'unused→initial',
      'initial→healthy',
    ]);
  });

  it('registration time and the first check\'s phase are sampled: seeded, within [min, max] + one interval', async () => {
    const clock = new ManualClock(0);
    const alb = parseTwinConfig({ alb: { registrationTime: { min: 2, max: 8, tailProbability: 0, tailMax: 8 } } }).alb;
    const firstCheck = new Map<string, number>();
    const info = { arn: 'arn:tg3', name: 'tg3', protocol: 'HTTP' as const, port: 8080, targetType: 'ip' as const, vpcId: 'vpc-1', loadBalancerArns: ['arn:lb'], healthCheck: alb.healthCheck, tags: {} };
    const group = new TargetGroupModel(info, {
      clock,
      random: seededRandom(3),
      alb,
      probe: async ({ host }) => {
        if (!firstCheck.has(host)) firstCheck.set(host, clock.now());
        return { kind: 'status', status: 200 };
      },
      emit: () => undefined,
      onLeft: () => undefined,
    });
    group.register(Array.from({ length: 20 }, (_, i) => ({ id: `127.0.9.${i + 1}`, port: 8080 })));
    await clock.advance(2000 - 1);
    expect(firstCheck.size).toBe(0);
    await clock.advance(8000 + 15_000 + 1 - 2000);
    const checkedAt = [...firstCheck.values()];
    expect(checkedAt).toHaveLength(20);
    expect(Math.min(...checkedAt)).toBeGreaterThanOrEqual(2000);
    expect(Math.max(...checkedAt)).toBeLessThanOrEqual(23_000);
    // Spread over the window, not all at once.
    expect(Math.max(...checkedAt) - Math.min(...checkedAt)).toBeGreaterThan(5000);
    expect(group.health().every((h) => h.state === 'healthy')).toBe(true);
    group.close();
  });

  it('with newTargetPassingChecks = healthyThreshold, a new target waits for the second check one interval later', async () => {
    const s = setup({ newTargetPassingChecks: 'healthyThreshold' });
    s.group.register([{ id: '127.0.9.1', port: 8080 }]);
    await s.clock.advance(9500);
    expect(s.state('127.0.9.1')).toMatchObject({ state: 'initial', reason: 'Elb.InitialHealthChecking' });
    await s.clock.advance(14_999);
    expect(s.state('127.0.9.1').state).toBe('initial');
    await s.clock.advance(1);
    expect(s.state('127.0.9.1').state).toBe('healthy');
  });

  it('healthy → unhealthy after two failed checks (ResponseCodeMismatch) and back after two passes', async () => {
    const s = setup();
    await registerHealthy(s, ['127.0.9.1']);
    s.answers.set('127.0.9.1', { kind: 'status', status: 503 });
    await s.clock.advance(15_000);
    expect(s.state('127.0.9.1').state).toBe('healthy');
    await s.clock.advance(15_000);
    expect(s.state('127.0.9.1')).toMatchObject({
      state: 'unhealthy',
      reason: 'Target.ResponseCodeMismatch',
      description: 'Health checks failed with these codes: [503]',
    });
    s.answers.delete('127.0.9.1');
    await s.clock.advance(15_000);
    expect(s.state('127.0.9.1').state).toBe('unhealthy');
    await s.clock.advance(15_000);
    expect(s.state('127.0.9.1').state).toBe('healthy');
  });

  it('timeouts give Target.Timeout and refused connects Target.FailedHealthChecks', async () => {
    const s = setup();
    s.answers.set('127.0.9.1', { kind: 'timeout' });
    s.answers.set('127.0.9.2', { kind: 'error', detail: 'ECONNREFUSED' });
    s.group.register([
      { id: '127.0.9.1', port: 8080 },
      { id: '127.0.9.2', port: 8080 },
    ]);
    // Checks at 9.5 s and 24.5 s; a timeout ends 5 s after its check.
    await s.clock.advance(30_000);
    expect(s.state('127.0.9.1')).toMatchObject({ state: 'unhealthy', reason: 'Target.Timeout' });
    expect(s.state('127.0.9.2')).toMatchObject({ state: 'unhealthy', reason: 'Target.FailedHealthChecks' });
  });

  it('deregistering an idle target completes at once in the control plane; with an open connection it drains until the connection closes', async () => {
    const s = setup();
    await registerHealthy(s, ['127.0.9.1', '127.0.9.2']);
    s.group.deregister([{ id: '127.0.9.1', port: 8080 }]);
    expect(s.left.map((e) => e.key)).toEqual(['127.0.9.1:8080']);
    // The API still says draining while an LB node routes to it (node b: 20 s), then it is gone.
    expect(s.state('127.0.9.1')).toMatchObject({ state: 'draining', reason: 'Target.DeregistrationInProgress' });
    await s.clock.advance(19_999);
    expect(s.state('127.0.9.1').state).toBe('draining');
    await s.clock.advance(1);
    expect(s.state('127.0.9.1')).toMatchObject({ state: 'unused', reason: 'Target.NotRegistered' });
    expect(s.group.health().map((h) => h.target.id)).toEqual(['127.0.9.2']);

    s.group.connectionOpened(s.entry('127.0.9.2'));
    s.group.deregister([{ id: '127.0.9.2', port: 8080 }]);
    expect(s.state('127.0.9.2')).toMatchObject({ state: 'draining', reason: 'Target.DeregistrationInProgress' });
    await s.clock.advance(3000);
    expect(s.left).toHaveLength(1);
    s.group.connectionClosed(s.entry('127.0.9.2'));
    expect(s.left.map((e) => e.key)).toEqual(['127.0.9.1:8080', '127.0.9.2:8080']);
    await s.clock.advance(17_000);
    expect(s.state('127.0.9.2').state).toBe('unused');
  });

  it('re-registering a draining target brings it back to initial and then healthy', async () => {
    const s = setup();
    await registerHealthy(s, ['127.0.9.1']);
    s.group.requestStarted(s.entry('127.0.9.1'));
    s.group.deregister([{ id: '127.0.9.1', port: 8080 }]);
    expect(s.state('127.0.9.1').state).toBe('draining');
    s.group.register([{ id: '127.0.9.1', port: 8080 }]);
    expect(s.state('127.0.9.1')).toMatchObject({ state: 'initial', reason: 'Elb.RegistrationInProgress' });
    await s.clock.advance(9500);
    expect(s.state('127.0.9.1').state).toBe('healthy');
    // The old drain timer is gone: the target stays past the delay.
    await s.clock.advance(60_000);
    expect(s.state('127.0.9.1').state).toBe('healthy');
  });
});

describe('LB node views', () => {
  it('a draining target keeps getting requests in a node until that node’s lag has elapsed', async () => {
    const s = setup({ delaySeconds: 30 });
    await registerHealthy(s, ['127.0.9.1', '127.0.9.2']);
    s.group.connectionOpened(s.entry('127.0.9.1'));
    s.group.deregister([{ id: '127.0.9.1', port: 8080 }]);
    await s.clock.advance(4999);
    expect(s.picks(s.a, 4)).toContain('127.0.9.1');
    await s.clock.advance(1);
    expect(s.picks(s.a, 4)).toEqual(['127.0.9.2', '127.0.9.2', '127.0.9.2', '127.0.9.2']);
    expect(s.picks(s.b, 4)).toContain('127.0.9.1');
    expect(s.unroutable).toEqual(['a:127.0.9.1:8080']);
    await s.clock.advance(15_000);
    expect(s.picks(s.b, 4)).not.toContain('127.0.9.1');
    const routable = s.events.filter((e) => e.type === 'target-routable' && !e.routable);
    expect(routable.map((e) => e.type === 'target-routable' && [e.lbNode, e.time - 1_010.5])).toEqual([
      ['a', 5],
      ['b', 20],
    ]);
  });

  it('a target that drained early (nothing in flight, no connection) is still routed to by each node until that node’s lag has passed', async () => {
    const s = setup({ delaySeconds: 300 });
    await registerHealthy(s, ['127.0.9.1', '127.0.9.2']);
    s.group.deregister([{ id: '127.0.9.1', port: 8080 }]);
    // The control plane is done at once …
    expect(s.left.map((e) => e.key)).toEqual(['127.0.9.1:8080']);
    expect(s.left[0].state).toBe('unused');
    // … but neither node knows yet: both still route new requests to it, which they see as healthy.
    await s.clock.advance(4999);
    expect(s.picks(s.a, 4)).toContain('127.0.9.1');
    const choice = s.a.pick();
    const other = s.a.pick();
    const toOld = [choice, other].find((c) => c.kind === 'target' && c.entry.ref.id === '127.0.9.1');
    expect(toOld).toMatchObject({ viewState: 'healthy', failOpen: false });
    expect(toOld?.kind === 'target' && toOld.entry.state).toBe('unused');
    await s.clock.advance(1);
    expect(s.picks(s.a, 4)).toEqual(Array(4).fill('127.0.9.2'));
    expect(s.a.snapshot().map((r) => r.target)).toEqual(['127.0.9.2:8080']);
    expect(s.unroutable).toEqual(['a:127.0.9.1:8080']);
    await s.clock.advance(14_999);
    expect(s.picks(s.b, 4)).toContain('127.0.9.1');
    await s.clock.advance(1);
    expect(s.picks(s.b, 4)).toEqual(Array(4).fill('127.0.9.2'));
    expect(s.unroutable).toEqual(['a:127.0.9.1:8080', 'b:127.0.9.1:8080']);
    const routable = s.events.filter((e) => e.type === 'target-routable' && !e.routable);
    expect(routable.map((e) => e.type === 'target-routable' && [e.lbNode, e.time - 1_010.5])).toEqual([
      ['a', 5],
      ['b', 20],
    ]);
  });

  it('the deregistration delay bounds every node’s lag, early drain or not', async () => {
    const s = setup({ delaySeconds: 10 });
    await registerHealthy(s, ['127.0.9.1', '127.0.9.2']);
    s.group.deregister([{ id: '127.0.9.1', port: 8080 }]);
    expect(s.left.map((e) => e.key)).toEqual(['127.0.9.1:8080']);
    await s.clock.advance(9999);
    expect(s.picks(s.b, 4)).toContain('127.0.9.1');
    await s.clock.advance(1);
    expect(s.picks(s.b, 4)).toEqual(Array(4).fill('127.0.9.2'));
    expect(s.state('127.0.9.1').state).toBe('unused');
  });

  it('an unhealthy target keeps getting requests in each node until that node’s lag has passed', async () => {
    const s = setup();
    await registerHealthy(s, ['127.0.9.1', '127.0.9.2']);
    s.answers.set('127.0.9.1', { kind: 'status', status: 500 });
    // Checks at 24.5 s and 39.5 s after registration: unhealthy 29 s from now.
    await s.clock.advance(29_000);
    expect(s.state('127.0.9.1').state).toBe('unhealthy');
    await s.clock.advance(4999);
    expect(s.picks(s.a, 4)).toContain('127.0.9.1');
    await s.clock.advance(1);
    expect(s.picks(s.a, 4)).toEqual(Array(4).fill('127.0.9.2'));
    expect(s.picks(s.b, 4)).toContain('127.0.9.1');
  });

  it('never routes to a target after its deregistration delay elapsed, whatever the lag', async () => {
    const s = setup({ delaySeconds: 10 });
    await registerHealthy(s, ['127.0.9.1', '127.0.9.2']);
    s.group.requestStarted(s.entry('127.0.9.1'));
    s.group.deregister([{ id: '127.0.9.1', port: 8080 }]);
    await s.clock.advance(9999);
    expect(s.picks(s.b, 2)).toContain('127.0.9.1');
    await s.clock.advance(1);
    expect(s.state('127.0.9.1').state).toBe('unused');
    expect(s.left.map((e) => e.key)).toEqual(['127.0.9.1:8080']);
    expect(s.picks(s.b, 6)).toEqual(Array(6).fill('127.0.9.2'));
    expect(s.b.snapshot().map((r) => r.target)).toEqual(['127.0.9.2:8080']);
  });

  it('round robin cycles over the routable targets once their registration lag elapsed', async () => {
    const s = setup();
    s.group.register(['127.0.9.1', '127.0.9.2', '127.0.9.3'].map((id) => ({ id, port: 8080 })));
    await s.clock.advance(9500);
    expect(s.state('127.0.9.1').state).toBe('healthy');
    expect(s.picks(s.a, 1)).toEqual([null]);
    await s.clock.advance(999);
    expect(s.picks(s.a, 1)).toEqual([null]);
    await s.clock.advance(1);
    expect(s.picks(s.a, 6)).toEqual(['127.0.9.1', '127.0.9.2', '127.0.9.3', '127.0.9.1', '127.0.9.2', '127.0.9.3']);
  });

  it('fails open over unhealthy targets when every registered target is unhealthy', async () => {
    const s = setup();
    await registerHealthy(s, ['127.0.9.1', '127.0.9.2']);
    s.answers.set('127.0.9.1', { kind: 'status', status: 500 });
    s.answers.set('127.0.9.2', { kind: 'status', status: 500 });
    await s.clock.advance(30_000 + 5000);
    const choice = s.a.pick();
    expect(choice).toMatchObject({ kind: 'target', failOpen: true, viewState: 'unhealthy' });
    expect(new Set(s.picks(s.a, 4))).toEqual(new Set(['127.0.9.1', '127.0.9.2']));
  });

  it('answers none (503) with no targets, only initial targets, or only draining ones', async () => {
    const s = setup();
    expect(s.a.pick()).toEqual({ kind: 'none' });
    s.answers.set('127.0.9.1', { kind: 'timeout' });
    s.group.register([{ id: '127.0.9.1', port: 8080 }]);
    expect(s.a.pick()).toEqual({ kind: 'none' });
    s.answers.delete('127.0.9.1');
    await s.clock.advance(15_000 + 1000);
    expect(s.picks(s.a, 1)).toEqual(['127.0.9.1']);
    s.group.connectionOpened(s.entry('127.0.9.1'));
    s.group.deregister([{ id: '127.0.9.1', port: 8080 }]);
    await s.clock.advance(5000);
    expect(s.state('127.0.9.1').state).toBe('draining');
    expect(s.a.pick()).toEqual({ kind: 'none' });
  });

  it('an initial target next to an unhealthy one does not trigger fail-open', async () => {
    const s = setup();
    s.answers.set('127.0.9.1', { kind: 'status', status: 500 });
    s.answers.set('127.0.9.2', { kind: 'timeout' });
    s.group.register([{ id: '127.0.9.1', port: 8080 }]);
    await s.clock.advance(25_000);
    expect(s.state('127.0.9.1').state).toBe('unhealthy');
    s.group.register([{ id: '127.0.9.2', port: 8080 }]);
    expect(s.a.pick()).toEqual({ kind: 'none' });
  });
});

describe('target groups not in use', () => {
  let s: Setup;
  beforeEach(() => {
    s = setup();
  });
  it('report targets as unused/Target.NotInUse until a listener attaches, then start checking', async () => {
    const clock = s.clock;
    const info = { ...s.group.info, arn: 'arn:tg2', loadBalancerArns: [] };
    const alb = parseTwinConfig({}).alb;
    const lonely = new TargetGroupModel(info, { clock, random: seededRandom(1), alb, probe: async () => ({ kind: 'status', status: 200 }), emit: () => undefined, onLeft: () => undefined });
    lonely.register([{ id: '127.0.9.9', port: 8080 }]);
    expect(lonely.health()[0]).toMatchObject({ state: 'unused', reason: 'Target.NotInUse' });
    lonely.attach('arn:lb', []);
    expect(lonely.health()[0]).toMatchObject({ state: 'initial', reason: 'Elb.RegistrationInProgress' });
    // At most the registration time's maximum plus one interval.
    await clock.advance((alb.registrationTime.max + alb.healthCheck.intervalSeconds) * 1000);
    expect(lonely.health()[0].state).toBe('healthy');
    lonely.close();
  });
});

describe('health-check settings', () => {
  it('re-applying the same settings does not postpone checks; a new interval takes effect', async () => {
    const s = setup();
    await registerHealthy(s, ['127.0.9.1']);
    s.answers.set('127.0.9.1', { kind: 'status', status: 503 });
    // A controller re-applying identical settings every 10 s must not starve the 15 s checks.
    for (let i = 0; i < 3; i++) {
      await s.clock.advance(10_000);
      s.group.setHealthCheck({ ...s.group.info.healthCheck });
    }
    expect(s.state('127.0.9.1').state).toBe('unhealthy');
    s.answers.delete('127.0.9.1');
    s.group.setHealthCheck({ ...s.group.info.healthCheck, intervalSeconds: 5 });
    await s.clock.advance(10_000);
    expect(s.state('127.0.9.1').state).toBe('healthy');
  });
});

describe('slow start (ELB guide, "Slow start mode")', () => {
  const slow = (s: Setup, seconds: number) => (s.group.attributes['slow_start.duration_seconds'] = String(seconds));
  const share = (picks: Array<string | null>, id: string) => picks.filter((p) => p === id).length;

  it('a target that turns healthy next to a warm one ramps its share linearly over the window, then gets a full share', async () => {
    const s = setup();
    await registerHealthy(s, ['127.0.9.1', '127.0.9.2']);
    slow(s, 30);
    s.group.register([{ id: '127.0.9.3', port: 8080 }]);
    await s.clock.advance(9500);
    const enteredAt = s.clock.now();
    expect(s.entry('127.0.9.3').slowStart).toEqual({ from: enteredAt, until: enteredAt + 30_000 });
    // Routed 1 s later (the node's lag), with 1/30 of a share: weight w next to two at 1 → w / (2 + w).
    await s.clock.advance(1000);
    expect(share(s.picks(s.a, 610), '127.0.9.3')).toBeLessThanOrEqual(11); // 610 × (1/30) / (2 + 1/30) = 10
    await s.clock.advance(14_000); // half way: 0.5 / 2.5 = 20 %
    expect(share(s.picks(s.a, 500), '127.0.9.3')).toBe(100);
    await s.clock.advance(9000); // 80 %: 0.8 / 2.8
    expect(share(s.picks(s.a, 280), '127.0.9.3')).toBe(80);
    await s.clock.advance(6000); // the window ended: plain round robin, a full share
    expect(share(s.picks(s.a, 300), '127.0.9.3')).toBe(100);
  });

  it('targets registered together into an empty group do not enter slow start, nor do targets already healthy when it is turned on', async () => {
    const s = setup();
    slow(s, 30);
    await registerHealthy(s, ['127.0.9.1', '127.0.9.2']);
    expect(s.entry('127.0.9.1').slowStart).toBeUndefined();
    expect(s.entry('127.0.9.2').slowStart).toBeUndefined();
    expect(s.picks(s.a, 4)).toEqual(['127.0.9.1', '127.0.9.2', '127.0.9.1', '127.0.9.2']);
  });

  it('a new target next to only targets in slow start does not enter it', async () => {
    const s = setup();
    await registerHealthy(s, ['127.0.9.1']);
    slow(s, 30);
    s.answers.set('127.0.9.1', { kind: 'status', status: 500 });
    await s.clock.advance(30_000); // two failed checks: 127.0.9.1 is unhealthy
    expect(s.state('127.0.9.1').state).toBe('unhealthy');
    await registerHealthy(s, ['127.0.9.2']);
    expect(s.state('127.0.9.2').state).toBe('healthy');
    expect(s.entry('127.0.9.2').slowStart).toBeUndefined();
  });

  it('leaves slow start when it turns unhealthy, and enters it again when healthy; deregistration ends it', async () => {
    const s = setup();
    await registerHealthy(s, ['127.0.9.1']);
    slow(s, 900);
    await registerHealthy(s, ['127.0.9.2']);
    const first = s.entry('127.0.9.2').slowStart;
    expect(first).toBeDefined();
    s.answers.set('127.0.9.2', { kind: 'status', status: 500 });
    await s.clock.advance(30_000);
    expect(s.state('127.0.9.2').state).toBe('unhealthy');
    expect(s.entry('127.0.9.2').slowStart).toBeUndefined();
    s.answers.delete('127.0.9.2');
    await s.clock.advance(30_000);
    expect(s.state('127.0.9.2').state).toBe('healthy');
    expect(s.entry('127.0.9.2').slowStart!.from).toBeGreaterThan(first!.from);
    s.group.deregister([{ id: '127.0.9.2', port: 8080 }]);
    expect(s.entry('127.0.9.2')?.slowStart).toBeUndefined();
  });

  it('is not used with the other algorithms', async () => {
    const s = setup();
    await registerHealthy(s, ['127.0.9.1']);
    s.group.attributes['load_balancing.algorithm.type'] = 'least_outstanding_requests';
    slow(s, 30);
    await registerHealthy(s, ['127.0.9.2']);
    expect(s.entry('127.0.9.2').slowStart).toBeUndefined();
  });
});

describe('least outstanding requests and weighted random', () => {
  it('least outstanding requests: each node picks the target it has the fewest requests outstanding at; ties go round robin', async () => {
    const s = setup();
    await registerHealthy(s, ['127.0.9.1', '127.0.9.2', '127.0.9.3']);
    s.group.attributes['load_balancing.algorithm.type'] = 'least_outstanding_requests';
    expect(s.picks(s.a, 3)).toEqual(['127.0.9.1', '127.0.9.2', '127.0.9.3']);
    s.a.requestStarted(s.entry('127.0.9.1'));
    s.a.requestStarted(s.entry('127.0.9.1'));
    s.a.requestStarted(s.entry('127.0.9.2'));
    expect(s.picks(s.a, 3)).toEqual(['127.0.9.3', '127.0.9.3', '127.0.9.3']);
    s.a.requestStarted(s.entry('127.0.9.3'));
    expect(s.picks(s.a, 2)).toEqual(['127.0.9.2', '127.0.9.3']);
    // Node b has nothing outstanding: node a's requests do not count there.
    expect(s.picks(s.b, 3)).toEqual(['127.0.9.1', '127.0.9.2', '127.0.9.3']);
    s.a.requestFinished(s.entry('127.0.9.1'));
    s.a.requestFinished(s.entry('127.0.9.1'));
    expect(s.a.outstanding(s.entry('127.0.9.1'))).toBe(0);
    expect(s.picks(s.a, 2)).toEqual(['127.0.9.1', '127.0.9.1']);
  });

  it('weighted random: an even share in a random, seeded order', async () => {
    const s = setup();
    await registerHealthy(s, ['127.0.9.1', '127.0.9.2', '127.0.9.3']);
    s.group.attributes['load_balancing.algorithm.type'] = 'weighted_random';
    const picks = s.picks(s.a, 3000);
    const counts = ['127.0.9.1', '127.0.9.2', '127.0.9.3'].map((id) => picks.filter((p) => p === id).length);
    for (const c of counts) expect(c).toBeGreaterThan(900);
    // Not a fixed cycle: some target is picked twice in a row.
    expect(picks.some((p, i) => i > 0 && p === picks[i - 1])).toBe(true);
    expect(setupPicks()).toEqual(setupPicks());
    async function setupPicks() {
      const t = setup();
      await registerHealthy(t, ['127.0.9.1', '127.0.9.2', '127.0.9.3']);
      t.group.attributes['load_balancing.algorithm.type'] = 'weighted_random';
      return t.picks(t.a, 20);
    }
  });
});
