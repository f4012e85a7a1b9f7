/**
 * The AWS FIS API subset the twin serves (REST-JSON, signing name `fis`, as botocore's fis
 * 2020-12-01 model and @aws-sdk/client-fis send it): CreateExperimentTemplate, GetExperimentTemplate,
 * ListExperimentTemplates, DeleteExperimentTemplate, StartExperiment, GetExperiment, ListExperiments,
 * TagResource and ListTagsForResource. One action only: `aws:ec2:send-spot-instance-interruptions`
 * on targets of type `aws:ec2:spot-instance` (by resourceArns or resourceTags), with the stop
 * condition `none`; anything else is FIS's ValidationException with what was expected. An experiment
 * runs on the twin's clock: pending → initiating → running (the interruption goes to the node
 * lifecycle through `spotInterruption`) → completed at the end of `durationBeforeInterruption`, or
 * failed with the reason (an instance not spot, not running, unknown).
 * Source: the FIS actions reference, https://docs.aws.amazon.com/fis/latest/userguide/fis-actions-reference.html#send-spot-instance-interruptions
 */
import type { Clock, Timer } from '../../core/clock.ts';
import { TWIN_ACCOUNT_ID } from '../alb/ids.ts';
import type { Ec2Instance, Ec2Provider } from './ec2.ts';

/** The one action and target type the twin runs. */
export const SPOT_INTERRUPTION_ACTION = 'aws:ec2:send-spot-instance-interruptions';
export const SPOT_INSTANCE_TARGET = 'aws:ec2:spot-instance';
/** The action's target key, as the FIS actions reference names it. */
const ACTION_TARGET_KEY = 'SpotInstances';

/** Model ms an experiment spends pending and initiating before its actions run (the twin's choice: FIS takes seconds). */
export const FIS_PENDING_MS = 1000;
export const FIS_INITIATING_MS = 1000;
/** durationBeforeInterruption bounds (PT2M..PT15M) and default. */
const MIN_DURATION_MS = 120_000;
const MAX_DURATION_MS = 900_000;

/** What the FIS API needs of the rest of the twin. */
export interface FisDeps {
  clock: Clock;
  region: string;
  /** The instances targets resolve against (the EC2 API's). */
  ec2: Ec2Provider;
  /**
   * Sends the interruption to the node lifecycle (harness/twin/controllers/nodes.ts): a rebalance
   * recommendation first when durationMs > 120 000, the notice 2 minutes before the end, the
   * instance terminated at the end. False when the instance is unknown, not spot, or not running.
   */
  spotInterruption(instanceId: string, durationMs: number): boolean;
}

/** One answer, REST-JSON. */
export interface FisResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** The FIS API: answers requests, and cancels its experiments' timers on close. */
export interface FisApi {
  handle(method: string, url: string, body: string, requestId: string): FisResponse;
  /** The templates' ids (for the twin's own checks). */
  templateIds(): string[];
  close(): void;
}

/** FIS's error types and their HTTP statuses (the model's `error.httpStatusCode`). */
const ERRORS = { ValidationException: 400, ResourceNotFoundException: 404, ConflictException: 409 } as const;

class FisError extends Error {
  constructor(
    readonly type: keyof typeof ERRORS,
    message: string,
  ) {
    super(message);
  }
}

type Json = Record<string, unknown>;

interface Target {
  resourceType: string;
  resourceArns?: string[];
  resourceTags?: Record<string, string>;
  filters?: Array<{ path: string; values: string[] }>;
  selectionMode: string;
}

interface Action {
  actionId: string;
  description?: string;
  parameters: Record<string, string>;
  targets: Record<string, string>;
  durationMs: number;
}

interface Template {
  id: string;
  arn: string;
  description: string;
  roleArn: string;
  targets: Record<string, Target>;
  actions: Record<string, Action>;
  stopConditions: Array<{ source: string; value?: string }>;
  tags: Record<string, string>;
  creationTime: number;
  lastUpdateTime: number;
}

type Status = 'pending' | 'initiating' | 'running' | 'completed' | 'failed';

interface Experiment {
  id: string;
  arn: string;
  template: Template;
  state: { status: Status; reason: string };
  actions: Record<string, { state: { status: Status | 'pending'; reason: string }; startTime?: number; endTime?: number }>;
  tags: Record<string, string>;
  creationTime: number;
  startTime?: number;
  endTime?: number;
  timers: Timer[];
}

/** `PT2M`, `PT150S`, `PT2M30S`, `PT1H` → ms; undefined when not an ISO 8601 duration of hours, minutes and seconds. */
export function parseIsoDuration(text: string): number | undefined {
  const m = /^PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?$/.exec(text);
  if (!m || text === 'PT') return undefined;
  return ((Number(m[1] ?? 0) * 60 + Number(m[2] ?? 0)) * 60 + Number(m[3] ?? 0)) * 1000;
}

const str = (v: unknown): v is string => typeof v === 'string' && v.length > 0;
const obj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

function stringMap(v: unknown, where: string): Record<string, string> {
  if (v === undefined) return {};
  if (!obj(v) || !Object.values(v).every((x) => typeof x === 'string')) throw new FisError('ValidationException', `Expected ${where} to be a map of strings, got ${JSON.stringify(v)}`);
  return v as Record<string, string>;
}

/** The instance id in `arn:<partition>:ec2:<region>:<account>:instance/<id>`. */
function instanceOfArn(arn: string): string | undefined {
  return /^arn:[^:]+:ec2:[^:]*:\d*:instance\/(i-[0-9a-f]+)$/.exec(arn)?.[1];
}

function parseTarget(name: string, raw: unknown): Target {
  const where = `targets.${name}`;
  if (!obj(raw)) throw new FisError('ValidationException', `Expected ${where} to be an object, got ${JSON.stringify(raw)}`);
  if (raw.resourceType !== SPOT_INSTANCE_TARGET) {
    throw new FisError('ValidationException', `${where}.resourceType: the rollout-harness twin's FIS serves "${SPOT_INSTANCE_TARGET}" only, got ${JSON.stringify(raw.resourceType ?? null)}`);
  }
  const arns = raw.resourceArns === undefined ? undefined : raw.resourceArns;
  if (arns !== undefined && (!Array.isArray(arns) || !arns.every(str))) throw new FisError('ValidationException', `Expected ${where}.resourceArns to be a list of ARNs, got ${JSON.stringify(arns)}`);
  for (const arn of (arns as string[] | undefined) ?? []) {
    if (!instanceOfArn(arn)) throw new FisError('ValidationException', `${where}.resourceArns: expected an EC2 instance ARN (arn:aws:ec2:<region>:<account>:instance/i-…), got "${arn}"`);
  }
  const tags = raw.resourceTags === undefined ? undefined : stringMap(raw.resourceTags, `${where}.resourceTags`);
  const hasArns = !!(arns as string[] | undefined)?.length;
  const hasTags = !!tags && Object.keys(tags).length > 0;
  if (hasArns === hasTags) throw new FisError('ValidationException', `${where}: expected resourceArns or resourceTags (one of them), got ${hasArns ? 'both' : 'neither'}`);
  const mode = raw.selectionMode;
  if (!str(mode) || !/^(ALL|COUNT\(\d+\)|PERCENT\(\d+\))$/.test(mode)) throw new FisError('ValidationException', `${where}.selectionMode: expected ALL, COUNT(n) or PERCENT(n), got ${JSON.stringify(mode ?? null)}`);
  const filters = raw.filters === undefined ? [] : raw.filters;
  if (!Array.isArray(filters)) throw new FisError('ValidationException', `Expected ${where}.filters to be a list, got ${JSON.stringify(filters)}`);
  const parsed = filters.map((f: unknown, i) => {
    if (!obj(f) || !str(f.path) || !Array.isArray(f.values) || !f.values.every((x) => typeof x === 'string')) throw new FisError('ValidationException', `Expected ${where}.filters[${i}] to be { path, values: [strings] }, got ${JSON.stringify(f)}`);
    if (!FILTER_PATHS[f.path]) throw new FisError('ValidationException', `${where}.filters[${i}].path: the rollout-harness twin filters on ${Object.keys(FILTER_PATHS).join(', ')}, got "${f.path}"`);
    return { path: f.path, values: f.values as string[] };
  });
  return { resourceType: SPOT_INSTANCE_TARGET, ...(hasArns ? { resourceArns: arns as string[] } : {}), ...(hasTags ? { resourceTags: tags } : {}), ...(parsed.length ? { filters: parsed } : {}), selectionMode: mode };
}

/** The DescribeInstances paths a target filter may name, and the instance's value there. */
const FILTER_PATHS: Record<string, (i: Ec2Instance) => string> = {
  'State.Name': (i) => i.state,
  'Placement.AvailabilityZone': (i) => i.zone,
  InstanceType: (i) => i.instanceType,
};

function parseAction(name: string, raw: unknown, targets: Record<string, Target>): Action {
  const where = `actions.${name}`;
  if (!obj(raw)) throw new FisError('ValidationException', `Expected ${where} to be an object, got ${JSON.stringify(raw)}`);
  if (raw.actionId !== SPOT_INTERRUPTION_ACTION) {
    throw new FisError('ValidationException', `${where}.actionId: the rollout-harness twin's FIS serves "${SPOT_INTERRUPTION_ACTION}" only, got ${JSON.stringify(raw.actionId ?? null)}`);
  }
  if (raw.startAfter !== undefined && !(Array.isArray(raw.startAfter) && raw.startAfter.length === 0)) throw new FisError('ValidationException', `${where}.startAfter: the rollout-harness twin runs one action, at the start; got ${JSON.stringify(raw.startAfter)}`);
  const parameters = stringMap(raw.parameters, `${where}.parameters`);
  for (const key of Object.keys(parameters)) {
    if (key !== 'durationBeforeInterruption') throw new FisError('ValidationException', `${where}.parameters: ${SPOT_INTERRUPTION_ACTION} takes durationBeforeInterruption only, got "${key}"`);
  }
  const text = parameters.durationBeforeInterruption ?? 'PT2M';
  const durationMs = parseIsoDuration(text);
  if (durationMs === undefined || durationMs < MIN_DURATION_MS || durationMs > MAX_DURATION_MS) {
    throw new FisError('ValidationException', `${where}.parameters.durationBeforeInterruption: expected an ISO 8601 duration from PT2M to PT15M, got "${text}"`);
  }
  const actionTargets = stringMap(raw.targets, `${where}.targets`);
  const keys = Object.keys(actionTargets);
  if (keys.length !== 1 || keys[0] !== ACTION_TARGET_KEY) throw new FisError('ValidationException', `${where}.targets: expected { "${ACTION_TARGET_KEY}": <target name> }, got ${JSON.stringify(actionTargets)}`);
  if (!targets[actionTargets[ACTION_TARGET_KEY]]) throw new FisError('ValidationException', `${where}.targets.${ACTION_TARGET_KEY}: no target named "${actionTargets[ACTION_TARGET_KEY]}" in the template (targets: ${Object.keys(targets).join(', ') || 'none'})`);
  return { actionId: SPOT_INTERRUPTION_ACTION, ...(str(raw.description) ? { description: raw.description } : {}), parameters: { durationBeforeInterruption: text }, targets: actionTargets, durationMs };
}

/** Creates the FIS API over the twin's instances and node lifecycle. */
export function createFisApi(deps: FisDeps): FisApi {
  const templates = new Map<string, Template>();
  const experiments = new Map<string, Experiment>();
  const byClientToken = new Map<string, string>();
  let next = 0;
  const arnPrefix = `arn:aws:fis:${deps.region}:${TWIN_ACCOUNT_ID}`;
  const seconds = (ms: number) => ms / 1000;
  // FIS ids: a prefix (EXT templates, EXP experiments) and alphanumerics.
  const newId = (prefix: 'EXT' | 'EXP') => `${prefix}twin${(++next).toString(36).padStart(10, '0')}`;

  const templateJson = (t: Template) => ({
    id: t.id,
    arn: t.arn,
    description: t.description,
    targets: t.targets,
    actions: Object.fromEntries(Object.entries(t.actions).map(([k, a]) => [k, { actionId: a.actionId, ...(a.description ? { description: a.description } : {}), parameters: a.parameters, targets: a.targets }])),
    stopConditions: t.stopConditions,
    creationTime: seconds(t.creationTime),
    lastUpdateTime: seconds(t.lastUpdateTime),
    roleArn: t.roleArn,
    tags: t.tags,
  });

  const experimentJson = (e: Experiment) => ({
    id: e.id,
    arn: e.arn,
    experimentTemplateId: e.template.id,
    roleArn: e.template.roleArn,
    state: e.state,
    targets: e.template.targets,
    actions: Object.fromEntries(
      Object.entries(e.template.actions).map(([k, a]) => {
        const s = e.actions[k];
        return [k, { actionId: a.actionId, parameters: a.parameters, targets: a.targets, state: s.state, ...(s.startTime ? { startTime: seconds(s.startTime) } : {}), ...(s.endTime ? { endTime: seconds(s.endTime) } : {}) }];
      }),
    ),
    stopConditions: e.template.stopConditions,
    creationTime: seconds(e.creationTime),
    ...(e.startTime ? { startTime: seconds(e.startTime) } : {}),
    ...(e.endTime ? { endTime: seconds(e.endTime) } : {}),
    tags: e.tags,
  });

  /** The instances a target resolves to now (selection applied in id order: the twin is deterministic). */
  function resolve(target: Target): { instances: Ec2Instance[]; missing: string[] } {
    const all = deps.ec2.instances();
    let chosen: Ec2Instance[];
    const missing: string[] = [];
    if (target.resourceArns) {
      chosen = [];
      for (const arn of target.resourceArns) {
        const id = instanceOfArn(arn)!;
        const found = all.find((i) => i.instanceId === id);
        if (found) chosen.push(found);
        else missing.push(id);
      }
    } else {
      chosen = all.filter((i) => Object.entries(target.resourceTags ?? {}).every(([k, v]) => i.tags?.[k] === v) && i.state !== 'terminated');
    }
    for (const f of target.filters ?? []) chosen = chosen.filter((i) => f.values.includes(FILTER_PATHS[f.path](i)));
    chosen.sort((a, b) => a.instanceId.localeCompare(b.instanceId));
    const count = /^COUNT\((\d+)\)$/.exec(target.selectionMode);
    const percent = /^PERCENT\((\d+)\)$/.exec(target.selectionMode);
    if (count) chosen = chosen.slice(0, Number(count[1]));
    else if (percent) chosen = chosen.slice(0, Math.ceil((chosen.length * Number(percent[1])) / 100));
    return { instances: chosen, missing };
  }

  function finish(e: Experiment, status: 'completed' | 'failed', reason: string): void {
    const now = deps.clock.now();
    e.state = { status, reason };
    e.endTime = now;
    for (const s of Object.values(e.actions)) {
      if (s.state.status === 'completed' || s.state.status === 'failed') continue;
      s.state = { status, reason: status === 'completed' ? 'Action was completed.' : reason };
      s.endTime = now;
    }
  }

  /** Runs an experiment's one action: resolves the target, checks each instance, interrupts them. */
  function run(e: Experiment): void {
    e.state = { status: 'running', reason: 'Experiment is running.' };
    const [name, action] = Object.entries(e.template.actions)[0];
    const target = e.template.targets[action.targets[ACTION_TARGET_KEY]];
    const { instances, missing } = resolve(target);
    const problems = [
      ...missing.map((id) => `${id} does not exist`),
      ...instances.filter((i) => i.lifecycle !== 'spot').map((i) => `${i.instanceId} is not a spot instance (${i.lifecycle})`),
      ...instances.filter((i) => i.lifecycle === 'spot' && i.state !== 'running').map((i) => `${i.instanceId} is not running (${i.state})`),
    ];
    if (problems.length) return finish(e, 'failed', `Target resolution failed for ${action.targets[ACTION_TARGET_KEY]}: ${problems.join('; ')}`);
    if (!instances.length) return finish(e, 'failed', `Target resolution returned empty set for ${action.targets[ACTION_TARGET_KEY]}`);
    const refused = instances.filter((i) => !deps.spotInterruption(i.instanceId, action.durationMs)).map((i) => i.instanceId);
    if (refused.length) return finish(e, 'failed', `Unable to send the spot interruption to ${refused.join(', ')}: not a running spot instance`);
    const s = e.actions[name];
    s.state = { status: 'running', reason: 'Action is running.' };
    s.startTime = deps.clock.now();
    e.timers.push(deps.clock.setTimeout(() => finish(e, 'completed', 'Experiment completed.'), action.durationMs));
  }

  function createTemplate(input: Json): Template {
    if (!str(input.clientToken)) throw new FisError('ValidationException', 'Expected clientToken, got none');
    const same = byClientToken.get(input.clientToken);
    if (same && templates.has(same)) return templates.get(same)!;
    if (!str(input.description)) throw new FisError('ValidationException', 'Expected description (1 to 512 characters), got none');
    if (!str(input.roleArn) || !/^arn:[^:]+:iam::\d{12}:role\/.+$/.test(input.roleArn)) throw new FisError('ValidationException', `Expected roleArn to be an IAM role ARN (arn:aws:iam::<account>:role/<name>), got ${JSON.stringify(input.roleArn ?? null)}`);
    const stops = input.stopConditions;
    if (!Array.isArray(stops) || !stops.length) throw new FisError('ValidationException', 'Expected stopConditions (the twin serves [{ "source": "none" }]), got none');
    for (const [i, s] of stops.entries()) {
      if (!obj(s) || s.source !== 'none' || s.value !== undefined) throw new FisError('ValidationException', `stopConditions[${i}]: the rollout-harness twin's FIS serves the source "none" (no value) only, got ${JSON.stringify(s)}`);
    }
    if (!obj(input.targets) || !Object.keys(input.targets).length) throw new FisError('ValidationException', 'Expected targets with one aws:ec2:spot-instance target, got none');
    const targets = Object.fromEntries(Object.entries(input.targets).map(([name, raw]) => [name, parseTarget(name, raw)]));
    if (!obj(input.actions) || Object.keys(input.actions).length !== 1) {
      throw new FisError('ValidationException', `Expected actions with one ${SPOT_INTERRUPTION_ACTION} action, got ${obj(input.actions) ? Object.keys(input.actions).length : 'none'}`);
    }
    const actions = Object.fromEntries(Object.entries(input.actions).map(([name, raw]) => [name, parseAction(name, raw, targets)]));
    const unused = Object.keys(targets).filter((t) => !Object.values(actions).some((a) => a.targets[ACTION_TARGET_KEY] === t));
    if (unused.length) throw new FisError('ValidationException', `targets: ${unused.join(', ')} not used by any action`);
    const id = newId('EXT');
    const now = deps.clock.now();
    const t: Template = { id, arn: `${arnPrefix}:experiment-template/${id}`, description: input.description, roleArn: input.roleArn, targets, actions, stopConditions: [{ source: 'none' }], tags: stringMap(input.tags, 'tags'), creationTime: now, lastUpdateTime: now };
    templates.set(id, t);
    byClientToken.set(input.clientToken, id);
    return t;
  }

  function startExperiment(input: Json): Experiment {
    if (!str(input.clientToken)) throw new FisError('ValidationException', 'Expected clientToken, got none');
    const id = input.experimentTemplateId;
    if (!str(id)) throw new FisError('ValidationException', 'Expected experimentTemplateId, got none');
    const template = templates.get(id);
    if (!template) throw new FisError('ResourceNotFoundException', `Experiment template not found: ${id}`);
    const expId = newId('EXP');
    const now = deps.clock.now();
    const e: Experiment = {
      id: expId,
      arn: `${arnPrefix}:experiment/${expId}`,
      template,
      state: { status: 'pending', reason: 'Experiment is pending.' },
      actions: Object.fromEntries(Object.keys(template.actions).map((k) => [k, { state: { status: 'pending' as const, reason: 'Action is pending.' } }])),
      tags: stringMap(input.tags, 'tags'),
      creationTime: now,
      timers: [],
    };
    experiments.set(expId, e);
    e.timers.push(
      deps.clock.setTimeout(() => {
        e.state = { status: 'initiating', reason: 'Experiment is initiating.' };
        e.startTime = deps.clock.now();
        e.timers.push(deps.clock.setTimeout(() => run(e), FIS_INITIATING_MS));
      }, FIS_PENDING_MS),
    );
    return e;
  }

  const templateOf = (id: string) => {
    const t = templates.get(decodeURIComponent(id));
    if (!t) throw new FisError('ResourceNotFoundException', `Experiment template not found: ${decodeURIComponent(id)}`);
    return t;
  };

  /** The resource an ARN names (a template or an experiment) for the tag operations. */
  const taggable = (arn: string): { tags: Record<string, string> } => {
    const id = /:(?:experiment-template|experiment)\/([^/]+)$/.exec(arn)?.[1] ?? '';
    const found = arn.includes(':experiment-template/') ? templates.get(id) : experiments.get(id);
    if (!found || found.arn !== arn) throw new FisError('ResourceNotFoundException', `Resource not found: ${arn}`);
    return found;
  };

  function route(method: string, path: string, query: URLSearchParams, input: Json): unknown {
    if (path === '/experimentTemplates' && method === 'POST') return { experimentTemplate: templateJson(createTemplate(input)) };
    if (path === '/experimentTemplates' && method === 'GET') {
      const max = query.has('maxResults') ? Number(query.get('maxResults')) : 100;
      if (!Number.isInteger(max) || max < 1 || max > 100) throw new FisError('ValidationException', `Expected maxResults from 1 to 100, got "${query.get('maxResults')}"`);
      const all = [...templates.values()];
      const from = query.has('nextToken') ? all.findIndex((t) => t.id === query.get('nextToken')) : 0;
      if (from < 0) throw new FisError('ValidationException', `Invalid nextToken "${query.get('nextToken')}"`);
      const page = all.slice(from, from + max);
      const more = all[from + max];
      return { experimentTemplates: page.map((t) => ({ id: t.id, arn: t.arn, description: t.description, creationTime: seconds(t.creationTime), lastUpdateTime: seconds(t.lastUpdateTime), tags: t.tags })), ...(more ? { nextToken: more.id } : {}) };
    }
    const template = /^\/experimentTemplates\/([^/]+)$/.exec(path);
    if (template && method === 'GET') return { experimentTemplate: templateJson(templateOf(template[1])) };
    if (template && method === 'DELETE') {
      const t = templateOf(template[1]);
      templates.delete(t.id);
      return { experimentTemplate: templateJson(t) };
    }
    if (path === '/experiments' && method === 'POST') return { experiment: experimentJson(startExperiment(input)) };
    if (path === '/experiments' && method === 'GET') {
      const wanted = query.get('experimentTemplateId');
      return {
        experiments: [...experiments.values()]
          .filter((e) => !wanted || e.template.id === wanted)
          .map((e) => ({ id: e.id, arn: e.arn, experimentTemplateId: e.template.id, state: e.state, creationTime: seconds(e.creationTime), tags: e.tags })),
      };
    }
    const experiment = /^\/experiments\/([^/]+)$/.exec(path);
    if (experiment && method === 'GET') {
      const e = experiments.get(decodeURIComponent(experiment[1]));
      if (!e) throw new FisError('ResourceNotFoundException', `Experiment not found: ${decodeURIComponent(experiment[1])}`);
      return { experiment: experimentJson(e) };
    }
    const tags = /^\/tags\/(.+)$/.exec(path);
    if (tags && method === 'POST') {
      const resource = taggable(decodeURIComponent(tags[1]));
      Object.assign(resource.tags, stringMap(input.tags, 'tags'));
      return {};
    }
    if (tags && method === 'GET') return { tags: taggable(decodeURIComponent(tags[1])).tags };
    throw new FisError(
      'ValidationException',
      `The rollout-harness twin's FIS serves CreateExperimentTemplate, GetExperimentTemplate, ListExperimentTemplates, DeleteExperimentTemplate, StartExperiment, GetExperiment, ListExperiments, TagResource and ListTagsForResource; got ${method} ${path}`,
    );
  }

  return {
    handle(method, url, body, requestId) {
      const headers = { 'content-type': 'application/json', 'x-amzn-requestid': requestId };
      const parsed = new URL(url, 'http://twin.invalid');
      try {
        let input: Json = {};
        if (body) {
          try {
            input = JSON.parse(body) as Json;
          } catch {
            throw new FisError('ValidationException', `Expected a JSON request body, got ${JSON.stringify(body.slice(0, 40))}`);
          }
          if (!obj(input)) throw new FisError('ValidationException', 'Expected a JSON object as the request body');
        }
        return { status: 200, headers, body: JSON.stringify(route(method, parsed.pathname, parsed.searchParams, input)) };
      } catch (err) {
        if (!(err instanceof FisError)) throw err;
        return { status: ERRORS[err.type], headers: { ...headers, 'x-amzn-errortype': err.type }, body: JSON.stringify({ message: err.message }) };
      }
    },
    templateIds: () => [...templates.keys()],
    close() {
      for (const e of experiments.values()) for (const t of e.timers) t.cancel();
    },
  };
}
