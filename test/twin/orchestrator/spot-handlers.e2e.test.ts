/**
 * Issue 18's matrix on the twin, through `runMatrix` as `rollout-harness run` calls it: one spot
 * interruption played as aws-node-termination-handler, one as Karpenter, one as an EKS managed node
 * group, and one sent through the twin's AWS FIS to a Karpenter node, whose handler the twin plays.
 * The world runs Karpenter beside a managed node group and self-managed nodes (cluster.nodes[].handler),
 * the Deployment's pods on spot nodes only. Every cell is valid, each timeline has its handler's own
 * taint and order, the FIS cell names its experiment, and no FIS template is left after the run.
 */
import { execa } from 'execa';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectTarget } from '../../../harness/cli/connect.ts';
import { loadSpec } from '../../../harness/matrix/load.ts';
import { runMatrix, type RunOutcome } from '../../../harness/orchestrator/run.ts';
import type { Target } from '../../../harness/orchestrator/target.ts';
import type { CellResult } from '../../../harness/report/types.ts';
import { testTwinConfig } from '../../helpers/twin.ts';

let dir: string;
let outcome: RunOutcome;
let target: Target | undefined;
/** FIS templates the twin lists after the run (aws fis list-experiment-templates), before it stops. */
let templatesAfter: unknown[] = [];
/** The run's progress lines, for the messages of failed assertions. */
const lines: string[] = [];

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'rh-handlers-'));
  const config = await testTwinConfig({
    timeScale: 0.05,
    replicas: 4,
    podSpec: { nodeSelector: { 'eks.amazonaws.com/capacityType': 'SPOT' } },
    cluster: {
      nodeLaunchSeconds: 20,
      nodeNotReadySeconds: 10,
      nodes: [
        { name: 'node-a1', zone: 'us-east-1a', instanceType: 'm5.large', lifecycle: 'on-demand' },
        { name: 'node-n', zone: 'us-east-1a', instanceType: 'm5.large', lifecycle: 'spot' },
        { name: 'node-k', zone: 'us-east-1b', instanceType: 'm5.large', lifecycle: 'spot', handler: 'karpenter' },
        { name: 'node-m', zone: 'us-east-1a', instanceType: 'm5.large', lifecycle: 'spot', handler: 'managed-nodegroup' },
        { name: 'node-f', zone: 'us-east-1b', instanceType: 'm5.large', lifecycle: 'spot', handler: 'karpenter' },
      ],
    },
    noPdb: true,
  });
  await writeFile(path.join(dir, 'twin.yaml'), stringify(config));
  await writeFile(
    path.join(dir, 'spec.yaml'),
    stringify({
      name: 'handlers',
      target: { twin: { config: path.join(dir, 'twin.yaml') } },
      traffic: { driver: 'builtin', rate: 100, timeoutSeconds: 10, warmupSeconds: 5, cooldownSeconds: 5 },
      matrix: { readinessGate: [true], preStopSeconds: [10], terminationGracePeriodSeconds: [30], deregistrationDelaySeconds: [10] },
      disruptions: [
        // FIS first: its cell is the longest (FIS's 2 minutes at the least) and starts from the world's own placement.
        { spot: { via: 'fis', node: 'node:node-f' } },
        { spot: { handler: 'nth', node: 'node:node-n', noticeSeconds: 30 } },
        { spot: { handler: 'karpenter', node: 'node:node-k', noticeSeconds: 30 } },
        { spot: { handler: 'managed-nodegroup', node: 'node:node-m', noticeSeconds: 30 } },
      ],
    }),
  );
  const loaded = await loadSpec(path.join(dir, 'spec.yaml'));
  outcome = await runMatrix({
    loaded,
    // The twin stays up past the run so the test can ask its FIS API what is left; it stops in afterAll.
    connect: async (spec, options) => {
      target = await connectTarget(spec, options);
      return { ...target, close: async () => {} };
    },
    resultsDir: dir,
    runId: 'handlers',
    signal: new AbortController().signal,
    progress: { info: (l) => lines.push(l), cellStart: () => {}, stage: () => {}, traffic: () => {}, cellDone: () => {} },
  });
  const env = await readFile(path.join(target!.twin!.stateDir, 'env'), 'utf8');
  const endpoint = /^(?:export )?AWS_ENDPOINT_URL=(\S+)$/m.exec(env)?.[1]?.replace(/^['"]|['"]$/g, '');
  if (!endpoint) throw new Error(`Expected AWS_ENDPOINT_URL in the twin's env file, got:\n${env}`);
  const listed = await execa('aws', ['fis', 'list-experiment-templates', '--endpoint-url', endpoint, '--output', 'json'], {
    env: { AWS_ACCESS_KEY_ID: 'twin', AWS_SECRET_ACCESS_KEY: 'twin', AWS_DEFAULT_REGION: 'us-east-1', AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null', AWS_MAX_ATTEMPTS: '1' },
    timeout: 30_000,
  });
  templatesAfter = (JSON.parse(listed.stdout) as { experimentTemplates: unknown[] }).experimentTemplates;
}, 600_000);

afterAll(async () => {
  await target?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const cellOf = (id: string): CellResult => {
  const cell = outcome.results.find((r) => r.id.startsWith(`${id}.`));
  if (!cell) throw new Error(`Expected a cell ${id}, got ${outcome.results.map((r) => r.id).join(', ')}`);
  return cell;
};
/** The cell's disruption entries as `action detail`, in order. */
const steps = (c: CellResult) => c.timeline.filter((e) => e.type === 'disruption').map((e) => `${e.action} ${'detail' in e ? (e.detail ?? '') : ''}`);
const at = (c: CellResult, action: string) => c.timeline.findIndex((e) => e.type === 'disruption' && e.action === action);

describe('spot under each handler, and through FIS, in one matrix on the twin', () => {
  it('gives four valid cells', () => {
    expect(outcome.failure?.stack, lines.join('\n')).toBeUndefined();
    expect(outcome.unmeasured, lines.join('\n')).toEqual([]);
    expect(outcome.results.map((r) => r.id.split('.')[0])).toEqual(['spot-node-node-f-fis', 'spot-node-node-n-notice30', 'spot-karpenter-node-node-k-notice30', 'spot-managed-nodegroup-node-node-m-notice30']);
    for (const r of outcome.results) expect(r.valid, `${r.id}: ${r.invalidReason ?? ''}\n${steps(r).join('\n')}`).toBe(true);
  });

  it("shows each handler's taint and order: a replacement before the first eviction for Karpenter, none before the termination for NTH", () => {
    const nth = cellOf('spot-node-node-n-notice30');
    expect(steps(nth).some((s) => s.startsWith('taint node-n aws-node-termination-handler/spot-itn'))).toBe(true);
    expect(at(nth, 'replacement-launched')).toBe(-1);
    expect(at(nth, 'evicted')).toBeGreaterThan(at(nth, 'taint'));

    const karpenter = cellOf('spot-karpenter-node-node-k-notice30');
    expect(steps(karpenter).some((s) => s.startsWith('taint node-k karpenter.sh/disrupted:NoSchedule'))).toBe(true);
    // Karpenter's interruption is forceful: it launches the replacement at once and does not wait for it to be Ready.
    expect(at(karpenter, 'replacement-launched')).toBeGreaterThanOrEqual(0);
    expect(at(karpenter, 'replacement-launched')).toBeLessThan(at(karpenter, 'evicted'));

    const nodegroup = cellOf('spot-managed-nodegroup-node-node-m-notice30');
    expect(at(nodegroup, 'cordon')).toBeGreaterThanOrEqual(0);
    expect(at(nodegroup, 'evicted')).toBeGreaterThan(at(nodegroup, 'cordon'));
    expect(at(nodegroup, 'replacement-launched')).toBe(-1);
  });

  it("names the FIS experiment, shows what the twin's Karpenter did, and leaves no template", () => {
    const fis = cellOf('spot-node-node-f-fis');
    expect(steps(fis).find((s) => s.startsWith('fis-experiment'))).toMatch(/^fis-experiment EXP\w+ pending/);
    expect(steps(fis)).toContainEqual(expect.stringMatching(/^fis-experiment EXP\w+ completed/));
    expect(steps(fis).some((s) => s.startsWith('taint node-f karpenter.sh/disrupted:NoSchedule'))).toBe(true);
    expect(at(fis, 'node-joined')).toBeGreaterThanOrEqual(0);
    expect(fis.disruptionOutcome.onNode).toMatchObject({ node: 'node-f', replicas: 4 });
    expect(templatesAfter).toEqual([]);
  });
});
