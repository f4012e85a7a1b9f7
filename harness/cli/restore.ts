/** `rollout-harness restore RUN`: put back what a run changed, from its record, and prove it. */
import path from 'node:path';
import { scaledClock } from '../core/clock.ts';
import { exitCodeOf } from '../core/errors.ts';
import { checkRunId, restoreCommand as retryCommand } from '../orchestrator/run-id.ts';
import { findRunDir, readRunRecord, runFileOf, writeRunRecord } from '../orchestrator/run-dir.ts';
import { laneSpec } from '../matrix/shards.ts';

/** Restores the run's original settings, removes its markers, reads everything back; 0 when verified, 3 when not. */
export async function restoreCommand(run: string, opts: { resultsDir: string }): Promise<number> {
  if (!run.includes(path.sep)) checkRunId(run, 'restore');
  // Validated: the record, its spec and its originals (a corrupt run.json is refused with the path of what is wrong).
  const dir = findRunDir(run, opts.resultsDir);
  const record = await readRunRecord(runFileOf(dir));
  const original = record.original;
  if (record.target.kind === 'twin') {
    console.log(`Run ${record.runId} ran on the in-process twin, which ended with it: nothing is left to restore.`);
    return exitCodeOf({ command: 'restore', differences: 0 });
  }
  if (!original) {
    console.log(`Run ${record.runId} recorded no original settings: it changed nothing.`);
    return exitCodeOf({ command: 'restore', differences: 0 });
  }
  const { connectTarget } = await import('./connect.ts');
  const { findMarkers, restoreSettings } = await import('../orchestrator/settings.ts');
  const { refuseLive, thisProcess } = await import('../orchestrator/lease.ts');
  // The region the run used, whatever the environment says now.
  const region = record.target.region ? { region: record.target.region, source: `${record.target.regionSource ?? 'unknown'}, recorded by the run` } : undefined;
  // A shard ran on its lane: restored there.
  const spec = record.shard ? laneSpec(record.spec, record.shard.index) : record.spec;
  const target = await connectTarget(spec, { resultsDir: dir, log: () => {}, region });
  try {
    // A run that still renews its lease is running: restoring under it would measure a config it no longer has.
    refuseLive((await findMarkers(target)).filter((m) => m.runId === record.runId), scaledClock(1).now(), thisProcess());
    const { done, kept, differences } = await restoreSettings(target, original, record.runId, (line) => console.error(line), { spec });
    record.restored = done;
    if (kept.length) record.restoreKept = kept;
    else delete record.restoreKept;
    if (differences.length) record.restoreDifferences = differences;
    else delete record.restoreDifferences;
    record.endedAt ??= new Date(scaledClock(1).now()).toISOString();
    record.stoppedBy ??= 'stopped without restoring; restored later by `rollout-harness restore`';
    await writeRunRecord(dir, record);
    if (differences.length) {
      console.error(`Still different from the originals:\n${differences.map((d) => `  - ${d}`).join('\n')}\nRetry with: ${retryCommand(path.basename(path.resolve(dir)), path.dirname(path.resolve(dir)))}`);
    }
    else console.log(`Restored run ${record.runId}: ${done.length ? done.join('; ') : 'nothing had to change'}; every setting verified against the record${kept.length ? ', but those changed since' : ''}.`);
    if (kept.length) console.log(`Changed since the run set them, and left as they are:\n${kept.map((k) => `  - ${k}`).join('\n')}`);
    return exitCodeOf({ command: 'restore', differences: differences.length });
  } finally {
    await target.close();
  }
}
