/** `rollout-harness twin up`: run the twin in the foreground until a signal. */
import path from 'node:path';
import { shellQuote } from '../orchestrator/run-id.ts';
import { loadTwinConfig, defaultConfigPath } from '../twin/config.ts';
import { startTwin, twinEnv } from '../twin/twin.ts';

/** Flags of `twin up`. */
export interface TwinUpOptions {
  config?: string;
  timeScale?: number;
  seed?: number;
  stateDir: string;
}

/** Starts the twin, prints how to reach it, waits for SIGINT/SIGTERM, stops everything. */
export async function twinUp(opts: TwinUpOptions): Promise<number> {
  const config = await loadTwinConfig(opts.config ?? defaultConfigPath, { timeScale: opts.timeScale, seed: opts.seed });
  const stateDir = path.resolve(opts.stateDir);
  const twin = await startTwin({ config, stateDir, log: (line) => process.env.ROLLOUT_HARNESS_DEBUG && console.error(line) });
  const e = twin.endpoints;
  console.log(`Local twin is up (time scale ${config.timeScale}, seed ${config.seed}).`);
  console.log(`  Kubernetes API  ${e.kubeApiSecureUrl} (the kubeconfig's; also ${e.kubeApiUrl})`);
  console.log(`  ELBv2 + EC2 API ${e.awsApiUrl} (also S3 and CloudWatch)`);
  console.log(`  ALB listener    ${e.albUrl}`);
  console.log(`  access log      ${e.accessLogFile} (ground truth: explain.groundTruth of a spec)`);
  // Every kubeconfig context: the admin's, and one per user of the world (RBAC from its objects).
  console.log(`  contexts        twin (system:masters)${Object.entries(e.userContexts).map(([user, ctx]) => `, ${ctx} (user ${user})`).join('')}`);
  if (config.timeScale !== 1) {
    console.log(`  clock           model time runs ${(1 / config.timeScale).toFixed(3).replace(/\.?0+$/, '')}× real time: its ALB log and Kubernetes times run ahead of`);
    console.log('                  this machine\'s, so a run reaching it by context cannot explain 5xx from its logs (use --time-scale 1)');
  }
  console.log('');
  for (const [k, v] of Object.entries(twinEnv(e))) console.log(`${k}=${v}`);
  console.log('');
  console.log(`Point kubectl and the aws CLI at it:  source ${shellQuote(e.envFile)}`);
  console.log('Press Ctrl-C to stop.');
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  console.log(`\n${signal}: stopping the twin…`);
  await twin.stop();
  console.log('Stopped; no pod process is left.');
  return 0;
}
