/**
 * Loading a spec: YAML → schema (every error with its dot-path) → cross-field rules (errors and
 * warnings). Nothing here touches a cluster.
 */
import { readFile } from 'node:fs/promises';
import { parseDocument } from 'yaml';
import { ConfigError } from '../core/errors.ts';
import { formatIssues } from '../core/errors.ts';
import { disruptionLabel, expandCells, expandConfigs, matchesPartial, topologiesOf } from './expand.ts';
import { gatewayOf, specSchema, topologyOf, type Spec } from './schema.ts';
import { laneErrors } from './shards.ts';

/** A validated spec with the warnings the rules raised. */
export interface LoadedSpec {
  spec: Spec;
  warnings: string[];
  source: string;
}

/** Cross-field rules: errors stop the run, warnings are printed. */
export function checkRules(spec: Spec): { errors: string[]; warnings: string[] } {
  const errors: string[] = [];
  const warnings: string[] = [];
  const t = spec.target;
  if (t.twin && t.context) errors.push('target: expected either `twin` or `context` (a real cluster), got both');
  if (!t.twin && t.context) {
    if (!t.ingress && !t.targetGroupBinding) errors.push('target: a real cluster needs `ingress` or `targetGroupBinding`');
    if (!t.allowedContexts?.includes(t.context)) {
      errors.push(`target.allowedContexts: must list the context "${t.context}" (a run changes the cluster only where the spec allows it)`);
    }
  }
  errors.push(...laneErrors(spec));
  // FIS assumes a role of the user's account to interrupt the instance; the twin's FIS takes any.
  for (const [i, d] of spec.disruptions.entries()) {
    if (d.kind === 'spot' && d.via === 'fis' && t.context && !t.fisRoleArn) errors.push(`disruptions[${i}]: spot via fis needs target.fisRoleArn, the role AWS FIS assumes (README: Spot interruptions through AWS FIS)`);
    // The experiment is followed within the settle bound: it must fit, with FIS's start-up and the drain after it.
    if (d.kind === 'spot' && d.via === 'fis' && (d.durationBeforeInterruption ?? 120) + 60 > spec.settleTimeoutSeconds) {
      errors.push(`disruptions[${i}]: durationBeforeInterruption ${d.durationBeforeInterruption ?? 120} s needs settleTimeoutSeconds of at least ${(d.durationBeforeInterruption ?? 120) + 60}, got ${spec.settleTimeoutSeconds}`);
    }
  }
  if (t.ingress && t.targetGroupBinding) errors.push('target: expected `ingress` or `targetGroupBinding`, got both');
  errors.push(...topologyErrors(spec));
  // A gate behind a gateway gates nothing the cell disrupts (harness/orchestrator/cell.ts): say so before the run, not after.
  if (gatewayOf(t).disrupt === 'app' && expandConfigs(spec.matrix, spec.axes).some((c) => c.readinessGate && topologyOf(spec, c) === 'gateway')) {
    warnings.push('matrix: cells with readinessGate true through the gateway (disrupt: app) will be INVALID "not tested" (the gate acts on the ALB\'s targets, the gateway\'s pods); leave them out with exclude: [{ topology: gateway, readinessGate: true }]');
  }
  if (!t.context && (t.kubeconfig || t.endpoints.elbv2 || t.endpoints.ec2)) {
    warnings.push('target: kubeconfig and endpoints are ignored on the twin (no `context` given)');
  }
  if (spec.explain.groundTruth && !t.context) warnings.push("explain.groundTruth: ignored on the embedded twin, which scores against its own ground truth");
  if (spec.traffic.script && spec.traffic.driver === 'builtin') warnings.push('traffic.script: ignored by the built-in driver');
  if (spec.traffic.k6Operator && spec.traffic.driver !== 'k6-operator') warnings.push(`traffic.k6Operator: ignored by driver ${spec.traffic.driver} (it is for driver: k6-operator)`);
  if (spec.configure.deregistrationDelayVia === 'api' && t.ingress && !t.targetGroupBinding) {
    warnings.push('configure.deregistrationDelayVia: the controller reconciles an Ingress-managed target group and may revert ModifyTargetGroupAttributes');
  }
  const configs = expandConfigs(spec.matrix, spec.axes);
  if (configs.length === 0) errors.push('matrix: no cell is left after `exclude`');
  for (const [i, partial] of spec.matrix.exclude.entries()) {
    if (!configs.length) break;
    if (Object.keys(partial).length === 0) errors.push(`matrix.exclude[${i}]: an empty entry excludes every cell`);
  }
  const short = new Map<string, string>();
  for (const c of configs) {
    if (c.terminationGracePeriodSeconds < c.preStopSeconds) {
      short.set(
        `${c.preStopSeconds}/${c.terminationGracePeriodSeconds}`,
        `matrix: terminationGracePeriodSeconds ${c.terminationGracePeriodSeconds} < preStopSeconds ${c.preStopSeconds}: the kubelet cuts preStop short (2 s extension, then SIGKILL); intended?`,
      );
    }
  }
  warnings.push(...short.values());
  const byLabel = new Map<string, number[]>();
  spec.disruptions.forEach((d, i) => byLabel.set(disruptionLabel(d), [...(byLabel.get(disruptionLabel(d)) ?? []), i]));
  for (const [label, entries] of byLabel) {
    if (entries.length < 2) continue;
    errors.push(`${entries.map((i) => `disruptions[${i}]`).join(', ')}: the same disruption (${label}) twice would give cells with one id; list it once and use \`repeat\` to measure it again`);
  }
  for (const [i, rule] of spec.expect.entries()) {
    const { disruption, ...partial } = rule.where;
    const hit = configs.some((c) => matchesPartial(c, partial)) && (!disruption || spec.disruptions.some((d) => d.kind === disruption));
    if (!hit) warnings.push(`expect[${i}].where: matches no cell`);
  }
  return { errors, warnings };
}

/** The topology's cross-field rules: what a gateway path needs, and a disrupted gateway only where every cell goes through it. */
function topologyErrors(spec: Spec): string[] {
  const t = spec.target;
  const used = topologiesOf(spec);
  if (!used.includes('gateway')) return [];
  const errors: string[] = [];
  const gateway = gatewayOf(t);
  if (t.context && typeof t.topology !== 'object') {
    errors.push(`target.topology: a real cluster needs its gateway named, expected { gateway: { namespace, deployment, ingress } }, got ${JSON.stringify(t.topology ?? 'direct')} (with a matrix.topology of ${JSON.stringify(spec.matrix.topology ?? [])})`);
  } else if (t.context && !gateway.ingress && !gateway.targetGroupBinding) errors.push('target.topology.gateway: a real cluster needs `ingress` or `targetGroupBinding` (the gateway\'s target group), got neither');
  if (gateway.ingress && gateway.targetGroupBinding && typeof t.topology === 'object' && t.topology.gateway.ingress) errors.push('target.topology.gateway: expected `ingress` or `targetGroupBinding`, got both');
  // One Deployment is disrupted per run: a direct cell has no gateway to disrupt.
  if (gateway.disrupt === 'gateway' && used.includes('direct')) errors.push('target.topology.gateway.disrupt: expected "app" when cells also take the direct path (which has no gateway to disrupt), got "gateway"; run the gateway\'s disruptions in a spec of their own');
  if (gateway.namespace === t.namespace && gateway.deployment === t.deployment) errors.push(`target.topology.gateway: expected a Deployment other than the app's (${t.namespace}/${t.deployment}), got the same`);
  return errors;
}

/** Validates a parsed spec object. */
export function parseSpec(input: unknown, source = 'spec'): LoadedSpec {
  const result = specSchema.safeParse(input ?? {});
  if (!result.success) throw new ConfigError(`Invalid ${source}`, formatIssues(result.error));
  const { errors, warnings } = checkRules(result.data);
  if (errors.length) throw new ConfigError(`Invalid ${source}`, errors);
  return { spec: result.data, warnings, source };
}

/**
 * The spec as a run records it (run.json `spec`: after defaults, each disruption as `{ kind, ... }`),
 * validated: the disruptions put back in their written form and the whole parsed again by the spec
 * schema and its rules. `where` names the record; every error has its path under `spec`.
 */
export function parseRecordedSpec(value: unknown, where: string): Spec {
  const written = (d: unknown) => {
    if (typeof d !== 'object' || d === null || typeof (d as { kind?: unknown }).kind !== 'string') return d;
    const { kind, ...rest } = d as { kind: string };
    return { [kind]: rest };
  };
  const input = typeof value === 'object' && value !== null && Array.isArray((value as { disruptions?: unknown }).disruptions) ? { ...value, disruptions: (value as { disruptions: unknown[] }).disruptions.map(written) } : value;
  const parsed = specSchema.safeParse(input);
  const issues = parsed.success ? checkRules(parsed.data).errors : formatIssues(parsed.error);
  if (!parsed.success || issues.length) throw new ConfigError(`${where}: the recorded spec is not valid`, issues.map((line) => `spec.${line}`));
  return parsed.data;
}

/** Reads and validates a spec file. */
export async function loadSpec(file: string): Promise<LoadedSpec> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (cause) {
    throw new ConfigError(`Cannot read spec ${file}: ${(cause as Error).message}`, [], { cause });
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (cause) {
    throw new ConfigError(`Invalid ${file}: expected UTF-8 text, got bytes that are not UTF-8`, [], { cause });
  }
  const doc = parseDocument(text);
  if (doc.errors.length) throw new ConfigError(`Invalid YAML in ${file}`, doc.errors.map((e) => e.message));
  const loaded = parseSpec(doc.toJS(), file);
  if (expandCells(loaded.spec).length > 500) loaded.warnings.push(`${expandCells(loaded.spec).length} cells: a long run`);
  return loaded;
}
