/**
 * Trying to break a run, through the real CLI against a standalone `twin up` reached like staging
 * (kubeconfig context, endpoint overrides, no `target.url`): where traffic goes and restore proven,
 * false zeros, a frozen target, and a target that dies mid-run. Leftovers of killed runs, leases,
 * preconditions and flags are in faults-leftovers.test.ts (a twin of its own, so the two run side by side).
 */
import type { ResultPromise } from 'execa';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { faultsTwinOfFile } from '../../helpers/cli-faults.ts';

let run: ResultPromise | undefined;
const twin = faultsTwinOfFile('rh-faults-');
const { results, specFile, cli, runJson, delay, markers, waitForCheckpoint } = twin;

describe('traffic goes where the ALB is, and restore is proven', () => {
  it('finds the listener through DescribeLoadBalancers, keeps a user cordon, and puts the delay back though the Ingress had no annotation', async () => {
    expect(await delay()).toBe('300');
    // The user's own cordon, before the run, of a node the drain does not touch (a drain of a node
    // cordoned before the run evicts nothing once the rollout moved the pods away: INVALID).
    await twin.f().k8s.setNodeUnschedulable('node-b1', true);
    try {
      const spec = await specFile('where', { disruptions: ['rollout', { drain: { node: 'node:node-a1' } }] });
      run = cli(['run', spec, '--results-dir', results(), '--run-id', 'where']);
      const r = await run;
      expect(r.exitCode, String(r.all)).toBe(0);
      expect(r.stderr).toMatch(/traffic to http:\/\/127\.0\.0\.1:\d+ \(load balancer [\w-]+, HTTP listener on port \d+: its default action forwards to the target group\)/);
      const record = runJson('where');
      expect(record.target.url).toBe(twin.f().env.ROLLOUT_HARNESS_ALB_URL);
      expect(record.restoreDifferences).toBeUndefined();
      for (const c of record.cells) {
        const cell = JSON.parse(readFileSync(path.join(results(), 'where', 'cells', `${c.id}.json`), 'utf8'));
        expect(cell.valid, cell.invalidReason).toBe(true);
        expect(cell.requests.byStatus['200']).toBeGreaterThan(100);
      }
      // The cell set the delay to 30 through the annotation; the controller does not revert a removed
      // attribute, so restore set it back through the API, and read it back.
      expect(await delay()).toBe('300');
      expect(record.restored).toContain('target group: deregistration_delay.timeout_seconds set back to 300 through ModifyTargetGroupAttributes');
      expect((await twin.f().k8s.getNode('node-b1')).spec?.unschedulable).toBe(true);
      expect((await twin.f().k8s.getNode('node-a1')).spec?.unschedulable ?? false).toBe(false);
      expect(await markers()).toEqual([]);
    } finally {
      await twin.f().k8s.setNodeUnschedulable('node-b1', false);
    }
  }, 240_000);
});

describe('no zero without evidence', () => {
  it('makes a cell whose every request got no answer INVALID: exit 4, and 1 under an expectation', async () => {
    const cheap = { traffic: { warmupSeconds: 2, cooldownSeconds: 1 } };
    const spec = await specFile('refused', { ...cheap, target: { url: 'http://127.0.0.1:9' } });
    run = cli(['run', spec, '--results-dir', results(), '--run-id', 'refused']);
    const r = await run;
    expect(r.exitCode, String(r.all)).toBe(4);
    expect(r.stdout).toMatch(/\| off +\| 20 +\| 40 +\| 30 +\| INVALID \[1\] +\|/);
    expect(r.stdout).toMatch(/\[1\] rollout\.gate-off\.prestop-20\.grace-40\.dereg-30\.r1: no healthy baseline: \d+ of \d+ warm-up requests got a 2xx/);
    expect(r.stdout).toMatch(/traffic failed wholesale: none of the \d+ requests got an HTTP answer/);
    expect(readFileSync(path.join(results(), 'refused', 'junit.xml'), 'utf8')).toContain('tests="1" failures="1"');
    // Each warm-up failed before anything was disrupted: two were abandoned, the third is the verdict's.
    const refusedCell = JSON.parse(readFileSync(path.join(results(), 'refused', 'cells', `${runJson('refused').cells[0].id}.json`), 'utf8'));
    expect(refusedCell.warmupsAbandoned).toHaveLength(2);
    for (const w of refusedCell.warmupsAbandoned) expect(w.networkErrors, JSON.stringify(w)).toBe(w.sent);
    expect(refusedCell.invalidReason).toContain('in the last of 3 warm-ups (each with fresh traffic)');
    expect(r.stderr).toMatch(/warm-up 1 of at most 3 abandoned before any disruption: \d+ of the \d+ requests of its second half failed/);

    const withRule = await specFile('refused-rule', { traffic: { ...cheap.traffic, warmupAttempts: 1 }, target: { url: 'http://127.0.0.1:9' }, expect: [{ where: {}, max5xx: 0 }] });
    run = cli(['run', withRule, '--results-dir', results(), '--run-id', 'refused-rule']);
    const ruled = await run;
    expect(ruled.exitCode, String(ruled.all)).toBe(1);
    expect(ruled.stdout).toContain('is invalid (no healthy baseline');
    expect(ruled.stdout).not.toContain('Every expectation held');
  }, 240_000);
});

describe('a warm-up that fails before anything is disrupted', () => {
  it('is abandoned and warmed up again with fresh traffic: the cell is valid and counts only its own traffic', async () => {
    // A target whose first 300 requests fail (a data plane still converging): at 100 req/s the first
    // 4 s warm-up's second half fails, the next warm-up's traffic finds it healthy.
    let seen = 0;
    const agents = new Map<string, { requests: number; failed: number }>();
    const server = http.createServer((req, res) => {
      seen += 1;
      const a = agents.get(String(req.headers['user-agent'])) ?? { requests: 0, failed: 0 };
      agents.set(String(req.headers['user-agent']), { requests: a.requests + 1, failed: a.failed + (seen <= 300 ? 1 : 0) });
      res.writeHead(seen <= 300 ? 502 : 200, { 'content-type': 'text/plain', connection: 'keep-alive' });
      res.end(seen <= 300 ? 'converging' : 'ok');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const spec = await specFile('rewarm', { target: { url }, traffic: { warmupSeconds: 4, cooldownSeconds: 1 } });
      run = cli(['run', spec, '--results-dir', results(), '--run-id', 'rewarm']);
      const r = await run;
      expect(r.exitCode, String(r.all)).toBe(0);
      const cell = JSON.parse(readFileSync(path.join(results(), 'rewarm', 'cells', `${runJson('rewarm').cells[0].id}.json`), 'utf8'));
      expect(cell.valid, cell.invalidReason).toBe(true);
      expect(cell.warmupsAbandoned, `${JSON.stringify(cell.requests)} ${seen}\n${r.stderr}`).toHaveLength(1);
      const [first] = cell.warmupsAbandoned;
      expect(first.fiveXX).toBeGreaterThan(0);
      // Every request the server saw is in the abandoned warm-up or the cell; the 502s only in the former.
      expect(first.sent + cell.requests.sent - cell.requests.cutAtStop.count).toBeLessThanOrEqual(seen);
      expect(first.sent + cell.requests.sent).toBeGreaterThanOrEqual(seen);
      expect(first.fiveXX).toBe(Math.min(300, first.sent));
      expect(cell.fiveXX).toBe(0);
      // The abandoned warm-up's traffic and the counted traffic carry User-Agents of their own (…/<cell>, …/<cell>.w2).
      const id = runJson('rewarm').cells[0].id;
      const byAgent = [...agents].map(([ua, n]) => [ua.replace(/^rollout-harness\/\S+ /, ''), n.failed > 0] as const).sort();
      expect(byAgent).toEqual([[`rewarm/${id}`, true], [`rewarm/${id}.w2`, false]]);
      expect(r.stdout).toMatch(/\| off +\| 20 +\| 40 +\| 30 +\| 0 +\|/);
    } finally {
      await new Promise((resolve) => server.close(resolve));
      server.closeAllConnections();
    }
  }, 240_000);
});

describe('a target that stops answering for a while', () => {
  it('counts the requests that timed out as failed: never a quiet 0, and maxFailed catches them', async () => {
    const spec = await specFile('frozen', { traffic: { timeoutSeconds: 1 }, expect: [{ where: {}, maxFailed: 0 }] });
    run = cli(['run', spec, '--results-dir', results(), '--run-id', 'frozen']);
    await waitForCheckpoint('frozen', (r) => ['disrupt', 'settle'].includes(r.cells[0]?.stage ?? ''));
    // Freeze the whole twin (API and ALB) for 3 real seconds.
    process.kill(twin.f().twin.pid!, 'SIGSTOP');
    await new Promise((r) => setTimeout(r, 3000));
    process.kill(twin.f().twin.pid!, 'SIGCONT');
    const r = await run;
    expect(r.exitCode, String(r.all)).toBe(1);
    const row = String(r.stdout).split('\n').find((l) => l.startsWith('| off'));
    expect(row).not.toMatch(/\| 0 +\|$/);
    expect(r.stdout).toMatch(/net×\d+|INVALID/);
    expect(r.stdout).toContain('expect[0]: rollout.gate-off.prestop-20.grace-40.dereg-30.r1');
  }, 180_000);
});

describe('the target dies mid-run', () => {
  it('keeps the half-measured cell as INVALID with why, writes report and JUnit, exits 3 promptly', async () => {
    const spec = await specFile('dies', { disruptions: ['rollout', 'drain'] });
    run = cli(['run', spec, '--results-dir', results(), '--run-id', 'dies']);
    await waitForCheckpoint('dies', (r) => r.cells[0]?.status === 'done' && ['settle', 'cooldown'].includes(r.cells[1]?.stage ?? ''));
    twin.f().twin.kill('SIGKILL');
    await twin.f().twin;
    const started = Date.now();
    const r = await run;
    expect(r.exitCode, String(r.all)).toBe(3);
    expect(Date.now() - started).toBeLessThan(90_000);
    expect(r.stdout).toMatch(/INVALID \[1\]/);
    expect(r.stderr).toContain('the run stopped:');
    const record = runJson('dies');
    expect(record.cells.map((c: { status: string }) => c.status)).toEqual(['done', 'failed']);
    const half = JSON.parse(readFileSync(path.join(results(), 'dies', 'cells', `${record.cells[1].id}.json`), 'utf8'));
    expect(half.valid).toBe(false);
    expect(half.invalidReason).toMatch(/^the cell failed at stage (settle|cooldown|collect): /);
    expect(readFileSync(path.join(results(), 'dies', 'junit.xml'), 'utf8')).toContain('tests="2" failures="1"');
    expect(readFileSync(path.join(results(), 'dies', 'report.md'), 'utf8')).toContain('INVALID [1]');
    expect(readFileSync(path.join(results(), 'dies', 'report.html'), 'utf8')).toMatch(/<td class="invalid"><a [^>]*>INVALID<\/a><\/td>/);
  }, 240_000);
});
