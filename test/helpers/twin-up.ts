/** `rollout-harness twin up` as a child process for CLI tests: started, up, and its env file read. */
import { execa, type ResultPromise } from 'execa';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { projectRoot } from '../../harness/core/paths.ts';

/** The CLI entry point. */
export const BIN = path.join(projectRoot, 'bin/rollout-harness.js');

/** A running `twin up`: its process and the variables of its env file. */
export interface TwinUpProcess {
  child: ResultPromise;
  env: Record<string, string>;
}

/** Starts `twin up --state-dir stateDir` (plus `extraArgs`) and resolves once it says it is up (bounded: 30 s). */
export async function startTwinUp(stateDir: string, timeScale = 0.05, extraArgs: string[] = []): Promise<TwinUpProcess> {
  const child = execa(process.execPath, [BIN, 'twin', 'up', '--state-dir', stateDir, '--time-scale', String(timeScale), ...extraArgs], { reject: false, all: true, buffer: true });
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`twin up did not come up in 30 s:\n${output}`)), 30_000);
    child.all!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Press Ctrl-C to stop.')) {
        clearTimeout(timer);
        resolve();
      }
    });
    void child.then(() => {
      clearTimeout(timer);
      reject(new Error(`twin up exited early:\n${output}`));
    });
  });
  const text = await readFile(path.join(stateDir, 'env'), 'utf8');
  const env = Object.fromEntries([...text.matchAll(/^export (\w+)=(.*)$/gm)].map((m) => [m[1], m[2].replace(/^'|'$/g, '')]));
  return { child, env };
}

/** The default twin world as parsed, loosely typed: what the tests edit. */
export interface World {
  objects: Array<{ kind: string; metadata?: { name?: string; labels?: Record<string, string> }; spec?: { template?: { spec?: { terminationGracePeriodSeconds?: number; containers?: Array<{ env?: Array<{ name: string; value: string }> }> } } } }>;
  alb: Record<string, unknown>;
  [key: string]: unknown;
}

/**
 * Writes a copy of the default twin world whose app keeps idle connections 65 s (above the ALB's
 * 60 s idle timeout, as AWS advises), so tests that need a clean baseline see no keep-alive race;
 * `edit` changes it further before it is written.
 */
export async function writeQuietWorld(file: string, edit?: (world: World) => void): Promise<string> {
  const world = parse(await readFile(path.join(projectRoot, 'fixtures/twin/default.yaml'), 'utf8')) as World;
  for (const obj of world.objects) {
    // The app's Deployment only (the gateway's runs nginx, not the test app).
    const c = obj.kind === 'Deployment' && obj.metadata?.name === 'web' ? obj.spec?.template?.spec?.containers?.[0] : undefined;
    if (c) c.env = [...(c.env ?? []).filter((e) => e.name !== 'KEEPALIVE_TIMEOUT_MS'), { name: 'KEEPALIVE_TIMEOUT_MS', value: '65000' }];
  }
  edit?.(world);
  await writeFile(file, stringify(world));
  return file;
}

/** A spec's `target` for a running `twin up`, reached as staging is: kubeconfig context, endpoint overrides, the opted-in namespace. */
export function twinUpTarget(env: Record<string, string>): Record<string, unknown> {
  return {
    kubeconfig: env.KUBECONFIG,
    context: 'twin',
    allowedContexts: ['twin'],
    namespace: 'shop',
    deployment: 'web',
    ingress: 'web',
    // Every AWS client the harness builds goes to the twin: never a lookup of an AWS name.
    endpoints: { elbv2: env.AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2, ec2: env.AWS_ENDPOINT_URL_EC2, s3: env.AWS_ENDPOINT_URL_S3, cloudwatch: env.AWS_ENDPOINT_URL_CLOUDWATCH, sts: env.AWS_ENDPOINT_URL },
  };
}
