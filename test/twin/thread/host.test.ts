/**
 * The twin in its own worker thread, as `run` starts it: the host's clock reads the thread's model
 * time, the endpoints answer, `stop` ends the pods and the thread, and a failed start comes back as
 * the error class the exit-code table knows.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { getPriority } from 'node:os';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { exitCodeFor, ExitCode } from '../../../harness/core/errors.ts';
import { CLAIM_PORT, canBind } from '../../../harness/twin/runtime/addresses.ts';
import { startTwinThread, type TwinThread } from '../../../harness/twin/thread/host.ts';
import { TWIN_THREAD_NICENESS } from '../../../harness/twin/thread/priority.ts';
import { testTwinConfig } from '../../helpers/twin.ts';

const dirs: string[] = [];
const twins: TwinThread[] = [];
afterAll(async () => {
  for (const t of twins) await t.stop();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
}, 60_000);

async function stateDir(): Promise<string> {
  const d = await mkdtemp(path.join(os.tmpdir(), 'rh-thread-'));
  dirs.push(d);
  return d;
}

describe('startTwinThread', () => {
  it('serves the twin from its thread on the host clock, and stop ends the pods', async () => {
    const twin = await startTwinThread({ config: await testTwinConfig({ timeScale: 0.05 }), stateDir: await stateDir() });
    twins.push(twin);
    const res = await fetch(`${twin.endpoints.kubeApiUrl}/api/v1/namespaces/shop/pods`, { headers: { authorization: `Bearer ${twin.endpoints.kubeToken}` } });
    const pods = (await res.json()) as { items: Array<{ metadata: { creationTimestamp: string }; status: { podIP?: string } }> };
    expect(pods.items.length).toBeGreaterThan(0);
    // Written on the thread's clock, read on the host's: one model time (timestamps are whole seconds).
    const created = Date.parse(pods.items[0].metadata.creationTimestamp);
    expect(created).toBeLessThanOrEqual(twin.clock.now());
    expect(twin.clock.now() - created).toBeLessThan(twin.clock.toModelMs(30_000));
    const alb = await fetch(twin.endpoints.albUrl);
    expect(alb.status).toBeLessThan(600);
    await alb.arrayBuffer();
    // Root (CI, containers) may raise a priority: one thread of this process, the twin's, runs
    // TWIN_THREAD_NICENESS below the rest; anyone else cannot, and every thread stays as it was.
    const nices = readdirSync('/proc/self/task').map((tid) => Number(readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(') ')[1].split(' ')[16]));
    const raised = nices.filter((n) => n === Math.max(-20, getPriority() + TWIN_THREAD_NICENESS));
    expect(raised).toHaveLength(process.getuid?.() === 0 ? 1 : 0);
    const ips = pods.items.map((p) => p.status.podIP).filter(Boolean) as string[];
    expect(ips.length).toBeGreaterThan(0);
    // The twin holds its pods' address blocks against other twins on the machine while it runs…
    const claims = [...new Set(ips.map((ip) => ip.replace(/\.\d+$/, '.0')))];
    for (const claim of claims) expect(await canBind(claim, CLAIM_PORT), claim).toBe(false);
    await twin.stop();
    // Nothing answers any more: not the API, not a pod.
    await expect(fetch(`${twin.endpoints.kubeApiUrl}/api/v1/namespaces`)).rejects.toThrow();
    for (const ip of ips) await expect(fetch(`http://${ip}:8080/`)).rejects.toThrow();
    // …and they are free once it stopped (its thread's sockets end with it; startTwin's own stop is in addresses.test.ts).
    for (const claim of claims) expect(await canBind(claim, CLAIM_PORT), claim).toBe(true);
    expect(twin.stalls(0, Number.MAX_SAFE_INTEGER)).toEqual(expect.any(Array));
  }, 60_000);

  it('brings a failed start back as the error class the exit codes know, and leaves no thread', async () => {
    const config = await testTwinConfig({ timeScale: 0.05 });
    config.objects.push({ apiVersion: 'v1', kind: 'Widget', metadata: { name: 'w', namespace: 'shop' } });
    const failed = await startTwinThread({ config, stateDir: await stateDir() }).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(failed?.message).toMatch(/object of kind Widget, which the twin does not serve/);
    expect(failed?.name).toBe('EnvironmentError');
    expect(exitCodeFor(failed)).toBe(ExitCode.environment);
  }, 60_000);
});
