/**
 * What the CLI fault tests share: one standalone `twin up` per file, reached as staging is (kubeconfig
 * context, endpoint overrides, no `target.url`), specs written against it, the CLI run as a user runs
 * it, and readers for what a run leaves behind (run.json, markers, the target group's delay).
 */
import { execa, type ResultPromise } from 'execa';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll } from 'vitest';
import { scaledClock } from '../../harness/core/clock.ts';
import { RUN_MARKER } from '../../harness/core/labels.ts';
import { createElbv2Adapter } from '../../harness/platform/elbv2/adapter.ts';
import { createKubernetesAdapter, loadKubeConfig } from '../../harness/platform/kubernetes/adapter.ts';
import type { Elbv2Port, KubernetesPort } from '../../harness/platform/ports.ts';
import { endAndRemove } from './processes.ts';
import { BIN, startTwinUp, twinUpTarget, writeQuietWorld, type World } from './twin-up.ts';

/** The target group attribute the runs set and restore. */
export const DELAY = 'deregistration_delay.timeout_seconds';

/** A file's standalone twin and the CLI runs against it. */
export interface FaultsTwin {
  dir: string;
  twin: ResultPromise;
  /** The run in progress (ended with the twin at the end of the file). */
  run: ResultPromise | undefined;
  env: Record<string, string>;
  k8s: KubernetesPort;
  elbv2: Elbv2Port;
  tgArn: string;
  results(): string;
  /** A spec against the standalone twin, as against staging: no `url`, so traffic goes where the ALB is. */
  specFile(name: string, over?: Record<string, unknown>): Promise<string>;
  /** The CLI, as a user runs it; sets `run` to the started command. */
  cli(args: string[], timeout?: number, extraEnv?: Record<string, string>): ResultPromise;
  /** The run's record, as JSON (a test reads any field of it). */
  runJson(id: string): ReturnType<typeof JSON.parse>;
  delay(): Promise<string | undefined>;
  /** `name=run` for every object still carrying a run marker. */
  markers(): Promise<string[]>;
  /** Waits (bounded) until the run's checkpoint shows `ok(record)`, then returns. */
  waitForCheckpoint(id: string, ok: (record: { cells: Array<{ status: string; stage?: string }> }) => boolean): Promise<void>;
  stop(): Promise<void>;
}

/** Starts a quiet `twin up` at time scale 0.05 under a new temporary directory (`prefix`); `edit` changes its world first. */
export async function startFaultsTwin(prefix: string, edit?: (world: World) => void): Promise<FaultsTwin> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  const world = await writeQuietWorld(path.join(dir, 'world.yaml'), edit);
  const { child, env } = await startTwinUp(path.join(dir, 'twin'), 0.05, ['--config', world]);
  const k8s = createKubernetesAdapter(loadKubeConfig(env.KUBECONFIG, 'twin'), scaledClock(1));
  const elbv2 = createElbv2Adapter({ region: 'us-east-1', endpoint: env.AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2, credentials: { accessKeyId: 'twin', secretAccessKey: 'twin' } });
  const tgArn = (await k8s.listTargetGroupBindings('shop'))[0].spec.targetGroupARN;
  const results = () => path.join(dir, 'results');
  const t: FaultsTwin = {
    dir,
    twin: child,
    run: undefined,
    env,
    k8s,
    elbv2,
    tgArn,
    results,
    async specFile(name, over = {}) {
      const file = path.join(dir, `${name}.yaml`);
      await writeFile(
        file,
        stringify({
          name,
          target: { ...twinUpTarget(env), ...((over.target as object) ?? {}) },
          traffic: { driver: 'builtin', rate: 100, warmupSeconds: 3, cooldownSeconds: 2, timeoutSeconds: 10, ...((over.traffic as object) ?? {}) },
          // Gate off: the gate is not what these tests are about, and a gated rollout waits on ALB health checks.
          matrix: over.matrix ?? { readinessGate: [false], preStopSeconds: [20], terminationGracePeriodSeconds: [40], deregistrationDelaySeconds: [30] },
          disruptions: over.disruptions ?? ['rollout'],
          ...(over.expect ? { expect: over.expect } : {}),
          // These tests are about faults and restore; explaining 5xx over `twin up` has its own test (test/twin/explain/).
          explain: over.explain ?? { enabled: false },
        }),
      );
      return file;
    },
    cli(args, timeout = 240_000, extraEnv = {}) {
      t.run = execa(process.execPath, [BIN, ...args], {
        reject: false,
        all: true,
        timeout,
        // Credentials for the endpoint overrides come from the default chain (env), as in staging.
        env: { ...process.env, AWS_ACCESS_KEY_ID: 'twin', AWS_SECRET_ACCESS_KEY: 'twin', AWS_REGION: 'us-east-1', ...extraEnv },
      });
      return t.run;
    },
    runJson: (id) => JSON.parse(readFileSync(path.join(results(), id, 'run.json'), 'utf8')),
    delay: async () => (await elbv2.getAttributes(tgArn))[DELAY],
    async markers() {
      const objects = [await k8s.getNamespace('shop'), await k8s.getDeployment('shop', 'web'), await k8s.getIngress('shop', 'web'), ...(await k8s.listNodes())];
      return objects.filter((o) => o.metadata?.annotations?.[RUN_MARKER]).map((o) => `${o.metadata?.name}=${o.metadata?.annotations?.[RUN_MARKER]}`);
    },
    async waitForCheckpoint(id, ok) {
      const deadline = Date.now() + 120_000;
      for (;;) {
        const file = path.join(results(), id, 'run.json');
        if (existsSync(file)) {
          try {
            if (ok(t.runJson(id))) return;
          } catch {
            // a checkpoint being replaced: read it again
          }
        }
        if (Date.now() > deadline || t.run?.exitCode !== null) throw new Error(`the run never reached the point:\n${(await t.run)?.all}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    stop: () => endAndRemove([t.run, t.twin], dir),
  };
  return t;
}

/**
 * Starts the file's twin before its tests and ends it after them; returns the twin (once started)
 * and the short forms the tests call.
 */
export function faultsTwinOfFile(prefix: string, edit?: (world: World) => void) {
  let twin: FaultsTwin | undefined;
  beforeAll(async () => {
    twin = await startFaultsTwin(prefix, edit);
  }, 60_000);
  afterAll(() => twin?.stop(), 60_000);
  const f = (): FaultsTwin => {
    if (!twin) throw new Error('the twin of this file did not start (see beforeAll)');
    return twin;
  };
  return {
    f,
    results: () => f().results(),
    specFile: (name: string, over?: Record<string, unknown>) => f().specFile(name, over),
    cli: (args: string[], timeout?: number) => f().cli(args, timeout),
    runJson: (id: string) => f().runJson(id),
    delay: () => f().delay(),
    markers: () => f().markers(),
    waitForCheckpoint: ((id, ok) => f().waitForCheckpoint(id, ok)) as FaultsTwin['waitForCheckpoint'],
  };
}
