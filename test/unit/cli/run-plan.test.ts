/** `plan SPEC --format json`: the same plan as the text, as data. */
import { describe, expect, it, vi } from 'vitest';
import { planCommand, TRAFFIC_FROM_LOAD_BALANCER } from '../../../harness/cli/run.ts';
import { describeRoute } from '../../../harness/orchestrator/traffic-address.ts';

async function printed(fn: () => Promise<number>): Promise<{ code: number; out: string }> {
  const lines: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => void lines.push(args.join(' ')));
  try {
    return { code: await fn(), out: lines.join('\n') };
  } finally {
    log.mockRestore();
  }
}

describe('plan --format json', () => {
  it('prints the target, the traffic and every cell with what it would change, as the text does', async () => {
    const json = await printed(() => planCommand('examples/specs/twin-nightly.yaml', { format: 'json' }));
    expect(json.code).toBe(0);
    const plan = JSON.parse(json.out);
    expect(plan).toMatchObject({
      spec: 'twin-nightly',
      target: { where: 'the local twin (started in-process)', namespace: 'shop', deployment: 'web' },
      traffic: { rate: 100, driver: 'builtin', warmupSeconds: 10, cooldownSeconds: 5 },
      counts: { configs: 1, disruptions: 2, repeats: 1 },
    });
    expect(plan.cells.map((c: { id: string }) => c.id)).toEqual(['rollout.gate-on.prestop-40.grace-60.dereg-30.r1', 'drain.gate-on.prestop-40.grace-60.dereg-30.r1']);
    const text = await printed(() => planCommand('examples/specs/twin-nightly.yaml'));
    for (const cell of plan.cells) {
      expect(cell.config).toEqual({ readinessGate: true, preStopSeconds: 40, terminationGracePeriodSeconds: 60, deregistrationDelaySeconds: 30 });
      expect(cell.changes.length).toBeGreaterThan(0);
      for (const line of cell.changes) expect(text.out).toContain(`    ${line}`);
      expect(text.out).toContain(`  ${cell.index + 1}. ${cell.id}: ${cell.disruption}`);
    }
    // A drain may first re-place the pods (every repetition starts with pods on its node); a rollout does not.
    expect(plan.cells[1].disruption).toMatch(/^first make sure the chosen node runs pods of the Deployment \(a restart rollout re-places them when it runs none; INVALID when no pod can go there\); cordon the node/);
    expect(plan.cells[0].disruption).not.toContain('first make sure');
    // Where traffic goes, and why: with no target.url, read from the load balancer when connecting.
    expect(plan.traffic.to).toBe(TRAFFIC_FROM_LOAD_BALANCER);
    expect(text.out).toContain(`Traffic to: ${TRAFFIC_FROM_LOAD_BALANCER}`);
  });
});

describe('describeRoute', () => {
  it('says the URL, the rule\'s host as Host and server name, and why', () => {
    expect(describeRoute({ url: 'https://127.0.0.1:41234', hostHeader: 'shop.example.test', servername: 'shop.example.test', source: 'load balancer k8s-shop, HTTPS listener on port 41234: rule 1 (host shop.example.test): forward to arn:tg' })).toBe(
      'https://127.0.0.1:41234, Host shop.example.test (and TLS server name) (load balancer k8s-shop, HTTPS listener on port 41234: rule 1 (host shop.example.test): forward to arn:tg)',
    );
    expect(describeRoute({ url: 'http://lb.example.test', source: 'target.url' })).toBe('http://lb.example.test (target.url)');
  });
});

describe('plan of examples/specs/twin-gateway.yaml', () => {
  it('runs each disruption once straight to the app and once through the gateway, its cells ending in gw', async () => {
    const json = await printed(() => planCommand('examples/specs/twin-gateway.yaml', { format: 'json' }));
    expect(json.code).toBe(0);
    const plan = JSON.parse(json.out);
    expect(plan.cells.map((c: { id: string }) => c.id).sort()).toEqual(
      ['rollout', 'spot'].flatMap((d) => [`${d}.gate-off.prestop-0.grace-30.dereg-300.r1`, `${d}.gate-off.prestop-0.grace-30.dereg-300.gw.r1`]).sort(),
    );
  });
});

describe('plan --shard', () => {
  it('shows the cells that shard runs, on its lane, and together the shards show every cell once', async () => {
    const parts = [];
    for (const i of [1, 2]) {
      const json = await printed(() => planCommand('examples/specs/twin-shards.yaml', { format: 'json', shard: { index: i, count: 2 } }));
      expect(json.code).toBe(0);
      parts.push(JSON.parse(json.out) as { shard: unknown; cells: Array<{ id: string }> });
    }
    expect(parts.map((p) => p.shard)).toEqual([{ index: 1, count: 2, of: 4 }, { index: 2, count: 2, of: 4 }]);
    expect(parts.map((p) => p.cells.length)).toEqual([2, 2]);
    const whole = JSON.parse((await printed(() => planCommand('examples/specs/twin-shards.yaml', { format: 'json' }))).out) as { cells: Array<{ id: string }> };
    expect(parts.flatMap((p) => p.cells.map((c) => c.id)).sort()).toEqual(whole.cells.map((c) => c.id).sort());
    const text = await printed(() => planCommand('examples/specs/twin-shards.yaml', { shard: { index: 2, count: 2 } }));
    expect(text.out).toContain('Shard 2/2: 2 of the 4 cells (2 configs × 2 disruptions × 1 repeats):');
  });
});
