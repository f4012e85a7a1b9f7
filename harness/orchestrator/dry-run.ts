/**
 * `plan --server-dry-run`: every change of every config sent to the cluster with `dryRun=All`, so
 * that an admission webhook, a quota or a bad patch is found before the night. The API server
 * validates and admits each write and stores nothing; ELBv2 has no dry run, so target-group
 * attributes set through the API are only checked against the spec's ranges (their Ingress
 * annotation, when that is the channel, is dry-run like any write). Afterwards every setting is
 * read back: a server that stored a dry-run write is reported, not trusted, and the setting put back.
 */
import { expandCells } from '../matrix/expand.ts';
import { topologyOf, type Spec } from '../matrix/schema.ts';
import { settingsOf, sideOf, stateOf } from '../settings/registry.ts';
import { applySettings, originalsOf, snapshotPaths } from './settings.ts';
import type { Target } from './target.ts';
import { viewOf } from './topology.ts';

/** What the dry run found: a write the cluster refused (per config, naming its cells), or a dry-run write it stored. */
export type DryRunFinding = { kind: 'refused'; cells: string[]; message: string } | { kind: 'stored'; message: string };

/** Sends each config's changes with dryRun=All; returns what was refused, and any setting found changed afterwards. */
export async function serverDryRun(t: Target, spec: Spec): Promise<DryRunFinding[]> {
  if (!t.k8s.dryRun) throw new Error('the Kubernetes port has no dry run (expected the API adapter)');
  const k8s = t.k8s.dryRun();
  // ELBv2 has no dry run: attribute writes are left out (the spec's schema checked their ranges).
  const elbv2 = { ...t.elbv2, modifyAttributes: async (arn: string) => t.elbv2.getAttributes(arn) };
  // Each config on its path's view (harness/orchestrator/topology.ts), its ALB side dry too.
  const dryView = (config: (typeof cells)[number]['config']): Target => {
    const view = t.topology ? viewOf(t, topologyOf(spec, config)) : t;
    return { ...view, k8s, elbv2, ...(view.albSide ? { albSide: { ...view.albSide, k8s, elbv2 } } : {}) };
  };
  const original = await snapshotPaths(t, spec);
  const byConfig = new Map<string, { config: (typeof cells)[number]['config']; ids: string[] }>();
  const cells = expandCells(spec);
  for (const cell of cells) {
    const key = JSON.stringify(cell.config);
    byConfig.set(key, { config: cell.config, ids: [...(byConfig.get(key)?.ids ?? []), cell.id] });
  }
  const findings: DryRunFinding[] = [];
  for (const { config, ids } of byConfig.values()) {
    try {
      await applySettings(dryView(config), spec, config, () => {}, originalsOf(original, topologyOf(spec, config)));
    } catch (error) {
      findings.push({ kind: 'refused', cells: ids, message: (error as Error).message });
    }
  }
  const views = t.topology ? [...new Set(cells.map((c) => topologyOf(spec, c.config)))].map((p) => ({ view: viewOf(t, p), o: originalsOf(original, p) })) : [{ view: t, o: original }];
  for (const { view, o } of views) {
    for (const entry of settingsOf(spec)) {
      const side = sideOf(entry, view);
      const state = await stateOf(entry, side, o, {});
      if (!state || state.atOriginal) continue;
      // Put back what such a server kept (this command promises to change nothing).
      const done = await entry.restore(side, o, new AbortController().signal);
      findings.push({ kind: 'stored', message: `${entry.name(side)} is ${state.now} after the dry run, was ${state.was}: the API server stored a dry-run write${done.length ? ` (${done.join('; ')})` : ''}` });
    }
  }
  return findings;
}
