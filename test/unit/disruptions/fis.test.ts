/**
 * `spot: { via: fis }` against stand-in ports on a manual clock: Kubernetes and EC2 in memory, and
 * FIS a port over the twin's FIS API (harness/twin/aws/fis-api.ts) called in-process, whose
 * interruption plays what the cluster's handler and EC2 do (the node's pods gone at the end). What
 * the runner creates (the template tagged with the run's marker, recorded first), how it follows the
 * experiment, and restore and resume deleting the templates of the run and no other.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../harness/core/clock.ts';
import { RUN_MARKER } from '../../../harness/core/labels.ts';
import { fisSpot, instanceArnOf, isoDuration } from '../../../harness/disruptions/fis.ts';
import type { ClusterChange, DisruptionContext, DisruptionOutcome } from '../../../harness/disruptions/types.ts';
import { disruptionLabel } from '../../../harness/matrix/expand.ts';
import { parseSpec } from '../../../harness/matrix/load.ts';
import { Timeline } from '../../../harness/observe/timeline.ts';
import { runDirOf, writeRunRecord } from '../../../harness/orchestrator/run-dir.ts';
import { runMatrix } from '../../../harness/orchestrator/run.ts';
import { restoreSettings, snapshotSettings, undoClusterChanges } from '../../../harness/orchestrator/settings.ts';
import type { Target } from '../../../harness/orchestrator/target.ts';
import { RESULTS_SCHEMA_VERSION } from '../../../harness/report/types.ts';
import type { Ec2Port, FisPort, KObject, KubernetesPort } from '../../../harness/platform/ports.ts';
import { createFisApi, type FisApi } from '../../../harness/twin/aws/fis-api.ts';
import type { Ec2Instance } from '../../../harness/twin/aws/ec2.ts';
import { world } from '../../helpers/settings-world.ts';

const SPOT_ID = 'i-0000000000000005a';
const ROLE = 'arn:aws:iam::210987654321:role/fis';

/** A FisPort over the twin's FIS API, in-process: the same requests the SDK adapter sends. */
function fisPortOver(api: FisApi): FisPort & { calls: string[] } {
  const calls: string[] = [];
  const call = (method: string, url: string, body?: unknown) => {
    calls.push(`${method} ${url.split('?')[0]}`);
    const r = api.handle(method, url, body === undefined ? '' : JSON.stringify(body), 'req');
    const json = JSON.parse(r.body);
    if (r.status !== 200) throw Object.assign(new Error(json.message), { name: r.headers['x-amzn-errortype'] });
    return json;
  };
  const state = (e: { id: string; state: { status: string; reason?: string } }) => ({ id: e.id, status: e.state.status, ...(e.state.reason ? { reason: e.state.reason } : {}) });
  return {
    calls,
    createSpotInterruptionTemplate: async (t) =>
      call('POST', '/experimentTemplates', {
        clientToken: t.clientToken,
        description: t.description,
        roleArn: t.roleArn,
        stopConditions: [{ source: 'none' }],
        targets: { SpotInstance: { resourceType: 'aws:ec2:spot-instance', resourceArns: [t.instanceArn], selectionMode: 'ALL' } },
        actions: { interrupt: { actionId: 'aws:ec2:send-spot-instance-interruptions', parameters: { durationBeforeInterruption: t.durationBeforeInterruption }, targets: { SpotInstances: 'SpotInstance' } } },
        tags: t.tags,
      }).experimentTemplate.id,
    startExperiment: async (id, clientToken, tags) => state(call('POST', '/experiments', { experimentTemplateId: id, clientToken, tags }).experiment),
    getExperiment: async (id) => state(call('GET', `/experiments/${id}`).experiment),
    deleteTemplate: async (id) => {
      try {
        call('DELETE', `/experimentTemplates/${id}`);
        return true;
      } catch (error) {
        if ((error as Error).name === 'ResourceNotFoundException') return false;
        throw error;
      }
    },
    listTemplatesByTag: async (key, value) => call('GET', '/experimentTemplates').experimentTemplates.filter((t: { tags: Record<string, string> }) => t.tags[key] === value).map((t: { id: string }) => t.id),
  };
}

/** A template of some run, made directly through the API (what a killed run, or another one, left). */
async function leftover(fis: FisPort, runId: string): Promise<string> {
  return fis.createSpotInterruptionTemplate({ instanceArn: `arn:aws:ec2:us-east-1:210987654321:instance/${SPOT_ID}`, durationBeforeInterruption: 'PT2M', roleArn: ROLE, description: 'left', tags: { [RUN_MARKER]: runId }, clientToken: `${runId}-left` });
}

const pod = (name: string, node: string): KObject => ({ metadata: { name, namespace: 'shop', uid: `uid-${name}`, labels: { app: 'web' } }, spec: { nodeName: node } });

/** Two web pods on the spot node, one elsewhere; FIS's interruption removes the spot node's pods at its end (`accept` false: the lifecycle refuses it). */
function cluster(opts: { lifecycle?: 'spot' | 'on-demand'; accept?: boolean } = {}) {
  const clock = new ManualClock(1_700_000_000_000);
  let pods = [pod('web-1', 'node-s1'), pod('web-2', 'node-s1'), pod('web-3', 'node-o1')];
  const nodes: KObject[] = [
    { metadata: { name: 'node-s1', labels: { 'karpenter.sh/capacity-type': 'spot' } }, spec: { providerID: `aws:///us-east-1a/${SPOT_ID}` } },
    { metadata: { name: 'node-o1', labels: {} }, spec: { providerID: 'aws:///us-east-1b/i-0000000000000000b' } },
  ];
  const k8s = {
    listPods: async () => pods.map((p) => structuredClone(p)),
    listNodes: async () => structuredClone(nodes),
    getNode: async (name: string) => structuredClone(nodes.find((n) => n.metadata?.name === name)!),
    getDeployment: async () => ({ metadata: { name: 'web', namespace: 'shop' }, spec: { replicas: 3 } }),
  } as unknown as KubernetesPort;
  const ec2 = { describeInstance: async (id: string) => ({ instanceId: id, state: 'running', lifecycle: opts.lifecycle ?? 'spot', zone: 'us-east-1a' }) } as unknown as Ec2Port;
  const instances: Ec2Instance[] = [{ instanceId: SPOT_ID, nodeName: 'node-s1', zone: 'us-east-1a', instanceType: 'm5.large', lifecycle: 'spot', state: 'running', launchTime: new Date(0) }];
  const interruptions: Array<{ instanceId: string; durationMs: number; at: number }> = [];
  const api = createFisApi({
    clock,
    region: 'us-east-1',
    ec2: { instances: () => instances, terminate: () => {} },
    spotInterruption: (instanceId, durationMs) => {
      interruptions.push({ instanceId, durationMs, at: clock.now() });
      if (opts.accept === false) return false;
      // The cluster's handler drains the node and EC2 ends it: its pods are gone by the end.
      clock.setTimeout(() => (pods = pods.filter((p) => p.spec?.nodeName !== 'node-s1')), durationMs);
      return true;
    },
  });
  const fis = fisPortOver(api);
  const changes: ClusterChange[] = [];
  const templatesWhenRecorded: string[][] = [];
  const timeline = new Timeline(clock);
  const ctx: DisruptionContext = {
    k8s,
    ec2,
    clock,
    timeline,
    namespace: 'shop',
    deployment: 'web',
    labelSelector: 'app=web',
    boundMs: 900_000,
    signal: new AbortController().signal,
    recordChange: async (change) => {
      templatesWhenRecorded.push(api.templateIds());
      changes.push(change);
    },
    fis: { port: fis, roleArn: ROLE, region: 'us-east-1' },
    runId: 'r1',
    // Through FIS the cluster's handler adds capacity, never the harness.
    capacity: { launchReplacement: () => Promise.reject(new Error('Expected no launch from the harness for an FIS interruption, got one')) },
  };
  return { ctx, clock, api, fis, changes, templatesWhenRecorded, interruptions, timeline };
}

/** Runs the disruption to its end on the manual clock (bounded). */
async function runToEnd(clock: ManualClock, running: Promise<DisruptionOutcome>): Promise<DisruptionOutcome> {
  let outcome: DisruptionOutcome | undefined;
  void running.then((o) => (outcome = o));
  for (let i = 0; i < 2000 && !outcome; i++) await clock.advance(1000);
  if (!outcome) throw new Error('Expected the disruption to end within 2000 model seconds, it did not');
  return outcome;
}

describe('spot via fis: the runner', () => {
  it('records the template before creating it, tags it with the run marker, starts and follows the experiment, and counts the pods it ended', async () => {
    const { ctx, clock, api, fis, changes, templatesWhenRecorded, interruptions, timeline } = cluster();
    const outcome = await runToEnd(clock, fisSpot.run({ kind: 'spot', node: 'spot', durationBeforeInterruption: 300 }, ctx));
    expect(changes).toEqual([{ kind: 'fis-template', runId: 'r1' }]);
    expect(templatesWhenRecorded).toEqual([[]]);
    const [templateId] = api.templateIds();
    const template = JSON.parse(api.handle('GET', `/experimentTemplates/${templateId}`, '', 'x').body).experimentTemplate;
    expect(template.tags).toEqual({ [RUN_MARKER]: 'r1' });
    expect(template.roleArn).toBe(ROLE);
    expect(template.targets.SpotInstance.resourceArns).toEqual([`arn:aws:ec2:us-east-1:210987654321:instance/${SPOT_ID}`]);
    expect(template.actions.interrupt.parameters).toEqual({ durationBeforeInterruption: 'PT5M' });
    expect(interruptions.map(({ instanceId, durationMs }) => ({ instanceId, durationMs }))).toEqual([{ instanceId: SPOT_ID, durationMs: 300_000 }]);
    const states = timeline.events.filter((e) => e.type === 'disruption' && e.action === 'fis-experiment').map((e) => (e as { detail: string }).detail.replace(/^(\S+) (\w+).*$/, '$1 $2'));
    const exp = states[0].split(' ')[0];
    expect(exp).toMatch(/^EXP/);
    // Polled every 5 s: the second of initiating falls between two polls.
    expect(states).toEqual([`${exp} pending`, `${exp} running`, `${exp} completed`]);
    // Polled every 5 model seconds, not more.
    const gets = fis.calls.filter((c) => c.startsWith('GET /experiments/')).length;
    expect(gets).toBeGreaterThanOrEqual(60);
    expect(gets).toBeLessThanOrEqual(62);
    expect(outcome).toEqual({ completed: true, detail: `FIS experiment ${exp} completed; the FIS experiment ${exp} on node-s1 ended 2 pod(s) of web`, actedOn: { pods: 2, needed: 1, summary: `the FIS experiment ${exp} on node-s1 ended 2 pod(s) of web` }, onNode: { node: 'node-s1', podsOnNode: 2, replicas: 3 } });
    // The cell's restore deletes it.
    const w = world({ via: 'api' });
    const done = await undoClusterChanges({ ...w.target, fis: ctx.fis }, changes, 'r1');
    expect(done).toEqual([`FIS experiment template ${templateId}: deleted`]);
    expect(api.templateIds()).toEqual([]);
    expect(changes).toEqual([]);
  });

  it('reports a failed experiment with FIS\'s reason; the template is still recorded for restore', async () => {
    const { ctx, clock, api, changes } = cluster({ accept: false });
    const outcome = await runToEnd(clock, fisSpot.run({ kind: 'spot', node: 'spot' }, ctx));
    expect(outcome.completed).toBe(false);
    expect(outcome.completed === false && outcome.reason).toMatch(/^the FIS experiment EXP\w+ ended failed: Unable to send the spot interruption to i-0000000000000005a: not a running spot instance$/);
    expect(outcome.completed === false && outcome.actedOn?.pods).toBe(0);
    expect(api.templateIds()).toHaveLength(1);
    expect(changes).toEqual([{ kind: 'fis-template', runId: 'r1' }]);
  });

  it('refuses an on-demand node before it creates anything, and says what is missing without a role or FIS', async () => {
    const { ctx, api, changes } = cluster({ lifecycle: 'on-demand' });
    expect(await fisSpot.run({ kind: 'spot', node: 'node:node-s1' }, ctx)).toEqual({ completed: false, reason: `node node-s1: its instance ${SPOT_ID} is on-demand; FIS interrupts spot instances only`, onNode: { node: 'node-s1', podsOnNode: 2, replicas: 3 } });
    expect(await fisSpot.run({ kind: 'spot', node: 'spot' }, { ...ctx, fis: { ...ctx.fis!, roleArn: undefined } })).toEqual({ completed: false, reason: 'spot via fis: expected target.fisRoleArn (the role FIS assumes), got none' });
    expect(await fisSpot.run({ kind: 'spot', node: 'spot' }, { ...ctx, fis: undefined })).toEqual({ completed: false, reason: 'spot via fis: not connected to AWS FIS' });
    expect(api.templateIds()).toEqual([]);
    expect(changes).toEqual([]);
  });
});

describe('spot via fis: restore and resume', () => {
  it('resume (restore of the recorded changes before measuring) deletes the template a killed run left, and not another run\'s', async () => {
    const { fis, api } = cluster();
    const mine = await leftover(fis, 'r1');
    const theirs = await leftover(fis, 'r2');
    const w = world({ via: 'api' });
    const target = { ...w.target, fis: { port: fis, roleArn: ROLE, region: 'us-east-1' } };
    const original = await snapshotSettings(target);
    original.changes.push({ kind: 'fis-template', runId: 'r1' });
    const spec = parseSpec({ matrix: { preStopSeconds: [5], terminationGracePeriodSeconds: [30], readinessGate: [false], deregistrationDelaySeconds: [300] }, disruptions: [{ spot: { via: 'fis' } }] }).spec;
    const restored = await restoreSettings(target, original, 'r1', () => {}, { spec });
    expect(restored.done).toContain(`FIS experiment template ${mine}: deleted`);
    expect(restored.differences).toEqual([]);
    expect(api.templateIds()).toEqual([theirs]);
  });

  it('run --resume after a kill deletes the killed run\'s template before it checks or measures anything', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'rh-fis-resume-'));
    try {
      const { fis, api } = cluster();
      const { spec } = parseSpec({
        target: { context: 'staging', allowedContexts: ['staging'], ingress: 'web', fisRoleArn: ROLE },
        traffic: { driver: 'builtin' },
        matrix: { preStopSeconds: [5], terminationGracePeriodSeconds: [30], readinessGate: [false], deregistrationDelaySeconds: [300] },
        disruptions: [{ spot: { via: 'fis' } }],
      });
      const w = world({ via: 'api' });
      const original = await snapshotSettings(w.target, spec);
      // What a run killed between its record and the create's answer leaves: the change recorded, the template tagged.
      original.changes.push({ kind: 'fis-template', runId: 'r1' });
      const left = await leftover(fis, 'r1');
      await writeRunRecord(runDirOf(dir, 'r1'), {
        schemaVersion: RESULTS_SCHEMA_VERSION,
        runId: 'r1',
        specFile: '/specs/fis.yaml',
        spec,
        target: { kind: 'cluster', context: 'staging', namespace: 'shop', deployment: 'web', targetGroupArn: 'arn:tg', region: 'us-east-1' },
        driver: { name: 'builtin', reason: 'chosen' },
        versions: { rolloutHarness: '0.0.0', node: 'v20', platform: 'linux-x64' },
        startedAt: '2026-01-01T00:00:00Z',
        cells: [{ id: 'spot-fis.gate-off.prestop-5.grace-30.dereg-300.r1', status: 'running' }],
        original,
      });
      // The first thing after leftovers are settled is the preconditions check: it stops the run there, noting what FIS holds.
      const atPreconditions: string[][] = [];
      const k8s = new Proxy(w.target.k8s, {
        get: (o, name) =>
          name === 'listEvents'
            ? async () => {
                atPreconditions.push(api.templateIds());
                throw new Error('stopped at the preconditions');
              }
            : Reflect.get(o, name),
      });
      const target = { ...w.target, k8s, kind: 'cluster', region: 'us-east-1', regionSource: 'test', url: 'http://127.0.0.1:9', urlSource: 'test', fis: { port: fis, roleArn: ROLE, region: 'us-east-1' }, close: async () => {} } as Target;
      const lines: string[] = [];
      const resumed = runMatrix({
        loaded: { spec, warnings: [], source: '/specs/fis.yaml' },
        resultsDir: dir,
        resume: 'r1',
        signal: new AbortController().signal,
        progress: { info: (line: string) => lines.push(line), cellStart: () => {}, stage: () => {}, traffic: () => {}, cellDone: () => {} },
        connect: async () => target,
      });
      await expect(resumed).rejects.toThrow('stopped at the preconditions');
      expect(atPreconditions).toEqual([[]]);
      expect(lines).toEqual(expect.arrayContaining(['Undoing what the stopped run r1 left changed before measuring …', `FIS experiment template ${left}: deleted`]));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a change recorded before a create that never happened deletes nothing and restores cleanly; without FIS it says what is left', async () => {
    const { fis } = cluster();
    const w = world({ via: 'api' });
    expect(await undoClusterChanges({ ...w.target, fis: { port: fis, region: 'us-east-1' } }, [{ kind: 'fis-template', runId: 'r1' }], 'r1')).toEqual([]);
    const kept: string[] = [];
    expect(await undoClusterChanges(w.target, [{ kind: 'fis-template', runId: 'r1' }], 'r1', kept)).toEqual([]);
    expect(kept).toEqual([`FIS experiment templates tagged ${RUN_MARKER}=r1: not connected to FIS, left as they are (delete them with aws fis delete-experiment-template)`]);
  });
});

describe('spot via fis: the spec', () => {
  const base = { matrix: { preStopSeconds: [5], terminationGracePeriodSeconds: [30], readinessGate: [false], deregistrationDelaySeconds: [300] } };

  it('names its cells spot-fis (spot-fisN for another duration), and leaves a harness-played spot as it was', () => {
    const { spec } = parseSpec({ ...base, disruptions: ['spot', { spot: { via: 'fis' } }, { spot: { via: 'fis', durationBeforeInterruption: 300 } }] });
    expect(spec.disruptions).toEqual([
      { kind: 'spot', handler: 'nth', node: 'spot', noticeSeconds: 120 },
      { kind: 'spot', node: 'spot', noticeSeconds: 120, via: 'fis', durationBeforeInterruption: 120 },
      { kind: 'spot', node: 'spot', noticeSeconds: 120, via: 'fis', durationBeforeInterruption: 300 },
    ]);
    expect(spec.disruptions.map(disruptionLabel)).toEqual(['spot', 'spot-fis', 'spot-fis300']);
    // FIS's interruption is answered by the cluster's own handler: the harness plays none, so none is named.
    expect(() => parseSpec({ ...base, disruptions: [{ spot: { via: 'fis', handler: 'karpenter' } }] })).toThrow(/disruptions\[0\]\.spot\.handler: expected no handler with via: fis/);
    expect(() => parseSpec({ ...base, disruptions: [{ spot: { durationBeforeInterruption: 300 } }] })).toThrow(/disruptions\[0\]\.spot\.durationBeforeInterruption: expected durationBeforeInterruption only with via: fis/);
  });

  it('takes durationBeforeInterruption from 120 to 900 seconds, and needs target.fisRoleArn against a cluster', () => {
    expect(() => parseSpec({ ...base, disruptions: [{ spot: { via: 'fis', durationBeforeInterruption: 60 } }] })).toThrow(/expected at least 120 seconds \(FIS: PT2M\)/);
    expect(() => parseSpec({ ...base, disruptions: [{ spot: { via: 'fis', durationBeforeInterruption: 901 } }] })).toThrow(/expected at most 900 seconds \(FIS: PT15M\)/);
    const cluster = { context: 'staging', allowedContexts: ['staging'], ingress: 'web' };
    expect(() => parseSpec({ ...base, target: cluster, disruptions: [{ spot: { via: 'fis' } }] })).toThrow('disruptions[0]: spot via fis needs target.fisRoleArn, the role AWS FIS assumes (README: Spot interruptions through AWS FIS)');
    expect(() => parseSpec({ ...base, settleTimeoutSeconds: 300, disruptions: [{ spot: { via: 'fis', durationBeforeInterruption: 300 } }] })).toThrow('disruptions[0]: durationBeforeInterruption 300 s needs settleTimeoutSeconds of at least 360, got 300');
    expect(parseSpec({ ...base, target: { ...cluster, fisRoleArn: ROLE }, disruptions: [{ spot: { via: 'fis' } }] }).spec.target.fisRoleArn).toBe(ROLE);
  });

  it('writes durations as FIS takes them and the instance ARN in the role\'s account', () => {
    expect([120, 150, 900, 130].map(isoDuration)).toEqual(['PT2M', 'PT2M30S', 'PT15M', 'PT2M10S']);
    expect(instanceArnOf('arn:aws-us-gov:iam::111122223333:role/x', 'us-gov-west-1', 'i-0abc')).toBe('arn:aws-us-gov:ec2:us-gov-west-1:111122223333:instance/i-0abc');
    expect(instanceArnOf('fis-role', 'us-east-1', 'i-0abc')).toBeUndefined();
  });
});
