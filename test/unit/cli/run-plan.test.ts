/** `plan SPEC --format json`: the same plan as the text, as data. */
import { describe, expect, it, vi } from 'vitest';
import { planCommand } from '../../../harness/cli/run.ts';

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
  });
});
