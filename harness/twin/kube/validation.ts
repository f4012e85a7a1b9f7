/**
 * The API server's field validation for the fields the harness changes: a pod template's
 * lifecycle handlers (the `sleep` action and its feature gates, by Kubernetes version) and a
 * Deployment's rolling-update strategy, replicas and minReadySeconds. Errors have the API
 * server's form: `Deployment.apps "web" is invalid: <field>: Invalid value: <v>: <detail>`, with
 * one cause per field in the Status details. The rules and texts follow
 * `pkg/apis/core/validation` and `pkg/apis/apps/validation` of Kubernetes (see the kube README).
 */
import { ApiError } from './store.ts';
import type { KubeObject, ResourceInfo } from './types.ts';

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** One field error, as `field.Error` renders it. */
interface FieldError {
  type: 'FieldValueInvalid' | 'FieldValueRequired' | 'FieldValueForbidden' | 'FieldValueDuplicate';
  field: string;
  /** The rendered error without the field: `Invalid value: 40: must be ...`. */
  message: string;
}

/** The minor version of a `1.N` Kubernetes version string. */
export function minorOf(version: string): number {
  const m = /^1\.(\d+)$/.exec(version);
  if (!m) throw new RangeError(`Expected a Kubernetes version like 1.31, got ${JSON.stringify(version)}`);
  return Number(m[1]);
}

function render(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(JSON.stringify(value) ?? value);
}

const invalid = (field: string, value: unknown, detail: string): FieldError => ({ type: 'FieldValueInvalid', field, message: `Invalid value: ${render(value)}: ${detail}` });
const required = (field: string, detail: string): FieldError => ({ type: 'FieldValueRequired', field, message: detail ? `Required value: ${detail}` : 'Required value' });
const forbidden = (field: string, detail: string): FieldError => ({ type: 'FieldValueForbidden', field, message: `Forbidden: ${detail}` });

const HANDLERS = ['exec', 'httpGet', 'tcpSocket', 'sleep'] as const;

/**
 * Before 1.30 the `PodLifecycleSleepAction` gate is off (alpha in 1.29, absent before): the API
 * server drops `sleep` from every handler before validating, so a hook that only sleeps is left
 * empty and refused with "must specify a handler type".
 */
function dropDisabledSleep(podSpec: Record<string, unknown>, minor: number): void {
  if (minor >= 30) return;
  for (const list of ['containers', 'initContainers']) {
    const containers = podSpec[list];
    if (!Array.isArray(containers)) continue;
    for (const c of containers) {
      if (!isObject(c) || !isObject(c.lifecycle)) continue;
      for (const hook of ['preStop', 'postStart']) {
        const handler = c.lifecycle[hook];
        if (isObject(handler)) delete handler.sleep;
      }
    }
  }
}

/**
 * `validateSleepAction`: 1.30-1.32 want 1 ≤ seconds ≤ grace (1.32 adds a hint at the zero-value
 * gate); from 1.33 (AllowPodLifecycleSleepActionZeroValue on by default) 0 ≤ seconds ≤ grace.
 */
function sleepErrors(sleep: unknown, grace: number, at: string, minor: number): FieldError[] {
  const seconds = isObject(sleep) ? sleep.seconds : undefined;
  if (typeof seconds !== 'number' || !Number.isInteger(seconds)) return [invalid(`${at}.seconds`, seconds, 'must be an integer')];
  if (minor >= 33) {
    return seconds < 0 || seconds > grace ? [invalid(at, seconds, `must be non-negative and less than terminationGracePeriodSeconds (${grace})`)] : [];
  }
  if (seconds > 0 && seconds <= grace) return [];
  const hint = minor === 32 ? '. Enable AllowPodLifecycleSleepActionZeroValue feature gate for zero sleep.' : '';
  return [invalid(at, seconds, `must be greater than 0 and less than terminationGracePeriodSeconds (${grace})${hint}`)];
}

function handlerErrors(handler: Record<string, unknown>, grace: number, at: string, minor: number): FieldError[] {
  const errors: FieldError[] = [];
  let count = 0;
  for (const kind of HANDLERS) {
    if (handler[kind] === undefined || handler[kind] === null) continue;
    if (count++ > 0) {
      errors.push(forbidden(`${at}.${kind}`, 'may not specify more than 1 handler type'));
      continue;
    }
    if (kind === 'sleep') errors.push(...sleepErrors(handler.sleep, grace, `${at}.sleep`, minor));
  }
  if (count === 0) errors.push(required(at, 'must specify a handler type'));
  return errors;
}

/** A pod spec's lifecycle handlers, after dropping the fields a disabled gate drops. */
function podSpecErrors(podSpec: unknown, at: string, minor: number): FieldError[] {
  if (!isObject(podSpec)) return [];
  const template = at !== 'spec';
  dropDisabledSleep(podSpec, minor);
  const graceValue = podSpec.terminationGracePeriodSeconds;
  const grace = typeof graceValue === 'number' ? graceValue : 30;
  const errors: FieldError[] = [];
  const names = new Set<unknown>();
  for (const list of ['containers', 'initContainers']) {
    const containers = podSpec[list];
    if (!Array.isArray(containers)) continue;
    containers.forEach((c, i) => {
      if (!isObject(c)) return;
      // A strategic-merge patch naming a container that is not there adds one: without an image
      // it is refused here, as the API server refuses it (a typo in a container name fails
      // loudly). Checked in templates only: bare pods are the controllers' and tests' business.
      if (template) {
        if (typeof c.name !== 'string' || c.name === '') errors.push(required(`${at}.${list}[${i}].name`, ''));
        else if (names.has(c.name)) errors.push({ type: 'FieldValueDuplicate', field: `${at}.${list}[${i}].name`, message: `Duplicate value: ${render(c.name)}` });
        names.add(c.name);
        if (typeof c.image !== 'string' || c.image === '') errors.push(required(`${at}.${list}[${i}].image`, ''));
      }
      if (!isObject(c.lifecycle)) return;
      for (const hook of ['postStart', 'preStop']) {
        const handler = c.lifecycle[hook];
        if (isObject(handler)) errors.push(...handlerErrors(handler, grace, `${at}.${list}[${i}].lifecycle.${hook}`, minor));
      }
    });
  }
  return errors;
}

function nonNegative(value: unknown, at: string): FieldError[] {
  if (value === undefined || value === null) return [];
  if (typeof value !== 'number' || !Number.isInteger(value)) return [invalid(at, value, 'must be an integer')];
  return value < 0 ? [invalid(at, value, 'must be greater than or equal to 0')] : [];
}

const PERCENT = /^[0-9]+%$/;

/** `ValidatePositiveIntOrPercent` and `IsNotMoreThan100Percent`. */
function intOrPercentErrors(value: unknown, at: string, notOver100: boolean): FieldError[] {
  if (value === undefined || value === null) return [];
  if (typeof value === 'string') {
    if (!PERCENT.test(value)) return [invalid(at, value, "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')")];
    if (notOver100 && Number(value.slice(0, -1)) > 100) return [invalid(at, value, 'must not be greater than 100%')];
    return [];
  }
  if (typeof value === 'number' && Number.isInteger(value)) return nonNegative(value, at);
  return [invalid(at, value, "must be an integer or percentage (e.g '5%')")];
}

const isZero = (v: unknown) => v === 0 || v === '0%';

/** `ValidateDeploymentSpec` for replicas, minReadySeconds and the rolling update. */
function deploymentErrors(spec: unknown, minor: number): FieldError[] {
  if (!isObject(spec)) return [];
  const errors = [...nonNegative(spec.replicas, 'spec.replicas'), ...nonNegative(spec.minReadySeconds, 'spec.minReadySeconds')];
  const strategy = isObject(spec.strategy) ? spec.strategy : {};
  const type = strategy.type ?? 'RollingUpdate';
  if (type === 'Recreate' && strategy.rollingUpdate !== undefined && strategy.rollingUpdate !== null) {
    errors.push(forbidden('spec.strategy.rollingUpdate', 'may not be specified when strategy `type` is \'Recreate\''));
  } else if (type !== 'Recreate' && type !== 'RollingUpdate') {
    errors.push({ type: 'FieldValueInvalid', field: 'spec.strategy.type', message: `Unsupported value: ${render(type)}: supported values: "Recreate", "RollingUpdate"` });
  } else if (type === 'RollingUpdate' && isObject(strategy.rollingUpdate)) {
    const { maxSurge, maxUnavailable } = strategy.rollingUpdate;
    const at = 'spec.strategy.rollingUpdate';
    errors.push(...intOrPercentErrors(maxUnavailable, `${at}.maxUnavailable`, true), ...intOrPercentErrors(maxSurge, `${at}.maxSurge`, false));
    // Left out, each defaults to 25 %: only two explicit zeros are refused.
    if (isZero(maxSurge) && isZero(maxUnavailable)) errors.push(invalid(`${at}.maxUnavailable`, maxUnavailable, 'may not be 0 when `maxSurge` is 0'));
  }
  const template = isObject(spec.template) ? spec.template : {};
  errors.push(...podSpecErrors(template.spec, 'spec.template.spec', minor));
  return errors;
}

/**
 * Validates (and, for a disabled gate, strips) an object about to be written; throws the API
 * server's 422 Invalid with every field error. Kinds other than pods, Deployments and
 * ReplicaSets pass unchanged.
 */
export function validateWrite(info: ResourceInfo, obj: KubeObject, kubernetesVersion: string): void {
  const minor = minorOf(kubernetesVersion);
  let errors: FieldError[];
  if (info.plural === 'pods') errors = podSpecErrors(obj.spec, 'spec', minor);
  else if (info.plural === 'deployments') errors = deploymentErrors(obj.spec, minor);
  else if (info.plural === 'replicasets') {
    const spec: Record<string, unknown> = isObject(obj.spec) ? obj.spec : {};
    const template = isObject(spec.template) ? spec.template : {};
    errors = [...nonNegative(spec.replicas, 'spec.replicas'), ...podSpecErrors(template.spec, 'spec.template.spec', minor)];
  } else return;
  if (errors.length === 0) return;
  const kind = info.group ? `${info.kind}.${info.group}` : info.kind;
  const lines = errors.map((e) => `${e.field}: ${e.message}`);
  const message = `${kind} "${obj.metadata.name}" is invalid: ${lines.length === 1 ? lines[0] : `[${lines.join(', ')}]`}`;
  throw new ApiError(422, 'Invalid', message, {
    name: obj.metadata.name,
    group: info.group,
    kind: info.kind,
    causes: errors.map((e) => ({ reason: e.type, message: e.message, field: e.field })),
  });
}
