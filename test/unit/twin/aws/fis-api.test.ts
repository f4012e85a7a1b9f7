/**
 * The twin's FIS API subset, called as the SDK and the CLI call it (method, path, JSON body), on a
 * manual clock: what it accepts, the ValidationException of everything else, and an experiment's
 * states with the interruption it sends to the node lifecycle.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../../harness/core/clock.ts';
import type { Ec2Instance } from '../../../../harness/twin/aws/ec2.ts';
import { createFisApi, parseIsoDuration } from '../../../../harness/twin/aws/fis-api.ts';

const SPOT = 'i-0000000000000000a';
const ON_DEMAND = 'i-0000000000000000b';
const STOPPED = 'i-0000000000000000c';
const arn = (id: string) => `arn:aws:ec2:us-east-1:123456789012:instance/${id}`;

function setup(accept = true) {
  const clock = new ManualClock(1_700_000_000_000);
  const instances: Ec2Instance[] = [
    { instanceId: SPOT, nodeName: 'node-s', zone: 'us-east-1a', instanceType: 'm5.large', lifecycle: 'spot', state: 'running', launchTime: new Date(0), tags: { pool: 'spot' } },
    { instanceId: ON_DEMAND, nodeName: 'node-o', zone: 'us-east-1a', instanceType: 'm5.large', lifecycle: 'on-demand', state: 'running', launchTime: new Date(0), tags: { pool: 'od' } },
    { instanceId: STOPPED, nodeName: 'node-t', zone: 'us-east-1b', instanceType: 'm5.large', lifecycle: 'spot', state: 'shutting-down', launchTime: new Date(0), tags: { pool: 'spot' } },
  ];
  const interrupted: Array<[string, number, number]> = [];
  const api = createFisApi({ clock, region: 'us-east-1', ec2: { instances: () => instances, terminate: () => {} }, spotInterruption: (id, ms) => (interrupted.push([id, ms, clock.now()]), accept) });
  const call = (method: string, url: string, body?: unknown) => {
    const r = api.handle(method, url, body === undefined ? '' : JSON.stringify(body), 'req-1');
    // The answers' JSON is read field by field in the assertions.
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    return { status: r.status, type: r.headers['x-amzn-errortype'], json: JSON.parse(r.body) as Record<string, any> };
  };
  return { clock, api, call, interrupted };
}

/** A template as the harness's adapter sends it, with `patch` laid over. */
function template(patch: Record<string, unknown> = {}) {
  return {
    clientToken: `t-${Math.random()}`,
    description: 'spot interruption',
    roleArn: 'arn:aws:iam::123456789012:role/fis',
    stopConditions: [{ source: 'none' }],
    targets: { SpotInstance: { resourceType: 'aws:ec2:spot-instance', resourceArns: [arn(SPOT)], selectionMode: 'ALL' } },
    actions: { interrupt: { actionId: 'aws:ec2:send-spot-instance-interruptions', parameters: { durationBeforeInterruption: 'PT2M' }, targets: { SpotInstances: 'SpotInstance' } } },
    tags: { 'rollout-harness.io/run': 'r1' },
    ...patch,
  };
}

describe('the twin FIS API', () => {
  it('reads ISO 8601 durations of hours, minutes and seconds', () => {
    expect([parseIsoDuration('PT2M'), parseIsoDuration('PT2M30S'), parseIsoDuration('PT150S'), parseIsoDuration('PT1H')]).toEqual([120_000, 150_000, 150_000, 3_600_000]);
    expect([parseIsoDuration('PT'), parseIsoDuration('2M'), parseIsoDuration('P1D')]).toEqual([undefined, undefined, undefined]);
  });

  it('refuses every other action, target type, stop condition and duration with a ValidationException that says what it serves', () => {
    const { call } = setup();
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ actions: { stop: { actionId: 'aws:ec2:stop-instances', targets: { Instances: 'SpotInstance' } } } }, 'serves "aws:ec2:send-spot-instance-interruptions" only, got "aws:ec2:stop-instances"'],
      [{ targets: { SpotInstance: { resourceType: 'aws:ec2:instance', resourceArns: [arn(SPOT)], selectionMode: 'ALL' } } }, 'serves "aws:ec2:spot-instance" only, got "aws:ec2:instance"'],
      [{ stopConditions: [{ source: 'aws:cloudwatch:alarm', value: 'arn:aws:cloudwatch:us-east-1:123456789012:alarm:a' }] }, 'serves the source "none" (no value) only'],
      [{ actions: { interrupt: { actionId: 'aws:ec2:send-spot-instance-interruptions', parameters: { durationBeforeInterruption: 'PT1M' }, targets: { SpotInstances: 'SpotInstance' } } } }, 'expected an ISO 8601 duration from PT2M to PT15M, got "PT1M"'],
      [{ targets: { SpotInstance: { resourceType: 'aws:ec2:spot-instance', selectionMode: 'ALL' } } }, 'expected resourceArns or resourceTags (one of them), got neither'],
      [{ roleArn: 'fis-role' }, 'Expected roleArn to be an IAM role ARN'],
    ];
    for (const [patch, message] of cases) {
      const r = call('POST', '/experimentTemplates', template(patch));
      expect([r.status, r.type]).toEqual([400, 'ValidationException']);
      expect(r.json.message).toContain(message);
    }
    expect(call('GET', '/experimentTemplates').json.experimentTemplates).toEqual([]);
  });

  it('runs an experiment pending → initiating → running → completed on the clock, interrupting the instance once with its duration', async () => {
    const { clock, call, interrupted } = setup();
    const created = call('POST', '/experimentTemplates', template({ actions: { interrupt: { actionId: 'aws:ec2:send-spot-instance-interruptions', parameters: { durationBeforeInterruption: 'PT5M' }, targets: { SpotInstances: 'SpotInstance' } } } }));
    expect(created.status).toBe(200);
    const id = created.json.experimentTemplate.id as string;
    expect(id).toMatch(/^EXT/);
    expect(created.json.experimentTemplate).toMatchObject({ arn: `arn:aws:fis:us-east-1:123456789012:experiment-template/${id}`, tags: { 'rollout-harness.io/run': 'r1' }, creationTime: 1_700_000_000 });
    const started = call('POST', '/experiments', { clientToken: 's1', experimentTemplateId: id, tags: { a: 'b' } });
    const exp = started.json.experiment.id as string;
    const status = () => call('GET', `/experiments/${exp}`).json.experiment.state.status;
    expect(status()).toBe('pending');
    await clock.advance(1000);
    expect(status()).toBe('initiating');
    expect(interrupted).toEqual([]);
    await clock.advance(1000);
    expect(status()).toBe('running');
    expect(interrupted).toEqual([[SPOT, 300_000, 1_700_000_002_000]]);
    await clock.advance(299_000);
    expect(status()).toBe('running');
    await clock.advance(1000);
    const done = call('GET', `/experiments/${exp}`).json.experiment;
    expect(done.state).toEqual({ status: 'completed', reason: 'Experiment completed.' });
    expect(done.actions.interrupt.state.status).toBe('completed');
    expect(done.endTime - done.startTime).toBe(301);
    expect(interrupted).toHaveLength(1);
  });

  it('fails the experiment with the reason when the instance is not spot, not running, unknown, or the lifecycle refuses it', async () => {
    const failed = async (target: Record<string, unknown>, accept = true) => {
      const { clock, call, interrupted } = setup(accept);
      const id = call('POST', '/experimentTemplates', template({ targets: { SpotInstance: { resourceType: 'aws:ec2:spot-instance', selectionMode: 'ALL', ...target } } })).json.experimentTemplate.id;
      const exp = call('POST', '/experiments', { clientToken: 's', experimentTemplateId: id }).json.experiment.id;
      await clock.advance(2000);
      return { state: call('GET', `/experiments/${exp}`).json.experiment.state, interrupted };
    };
    expect((await failed({ resourceArns: [arn(ON_DEMAND)] })).state).toEqual({ status: 'failed', reason: `Target resolution failed for SpotInstance: ${ON_DEMAND} is not a spot instance (on-demand)` });
    expect((await failed({ resourceArns: [arn(STOPPED)] })).state.reason).toContain(`${STOPPED} is not running (shutting-down)`);
    expect((await failed({ resourceArns: [arn('i-0000000000000000f')] })).state.reason).toContain('i-0000000000000000f does not exist');
    const refused = await failed({ resourceArns: [arn(SPOT)] }, false);
    expect(refused.state).toMatchObject({ status: 'failed' });
    expect(refused.interrupted.map((c) => c[0])).toEqual([SPOT]);
    // By tags, the running spot instance only (a filter on State.Name leaves the one shutting down out).
    const tagged = await failed({ resourceTags: { pool: 'spot' }, filters: [{ path: 'State.Name', values: ['running'] }] });
    expect(tagged.state.status).toBe('running');
    expect(tagged.interrupted.map((c) => c[0])).toEqual([SPOT]);
  });

  it('lists templates with their tags (paged), deletes them (404 after), tags them, and answers 404 for an unknown experiment', () => {
    const { call } = setup();
    const ids = [1, 2, 3].map(() => call('POST', '/experimentTemplates', template()).json.experimentTemplate.id as string);
    const page1 = call('GET', '/experimentTemplates?maxResults=2').json;
    expect(page1.experimentTemplates.map((t: { id: string }) => t.id)).toEqual(ids.slice(0, 2));
    expect(page1.experimentTemplates[0].tags).toEqual({ 'rollout-harness.io/run': 'r1' });
    expect(call('GET', `/experimentTemplates?maxResults=2&nextToken=${page1.nextToken}`).json.experimentTemplates.map((t: { id: string }) => t.id)).toEqual([ids[2]]);
    const templateArn = call('GET', `/experimentTemplates/${ids[0]}`).json.experimentTemplate.arn as string;
    expect(call('POST', `/tags/${encodeURIComponent(templateArn)}`, { tags: { owner: 'me' } }).status).toBe(200);
    expect(call('GET', `/tags/${encodeURIComponent(templateArn)}`).json.tags).toEqual({ 'rollout-harness.io/run': 'r1', owner: 'me' });
    expect(call('DELETE', `/experimentTemplates/${ids[0]}`).json.experimentTemplate.id).toBe(ids[0]);
    const again = call('DELETE', `/experimentTemplates/${ids[0]}`);
    expect([again.status, again.type, again.json.message]).toEqual([404, 'ResourceNotFoundException', `Experiment template not found: ${ids[0]}`]);
    expect(call('GET', '/experiments/EXPnope').status).toBe(404);
    expect(call('POST', '/experiments', { clientToken: 'x', experimentTemplateId: ids[0] }).type).toBe('ResourceNotFoundException');
  });

  it('makes one template of a retried create (the same clientToken)', () => {
    const { call } = setup();
    const body = template({ clientToken: 'same' });
    expect(call('POST', '/experimentTemplates', body).json.experimentTemplate.id).toBe(call('POST', '/experimentTemplates', body).json.experimentTemplate.id);
    expect(call('GET', '/experimentTemplates').json.experimentTemplates).toHaveLength(1);
  });
});
