/** Labels and annotations of rollout-harness itself, shared by the harness and the twin. */

/** The namespace label that must be `true` before a run changes anything in the namespace. */
export const ALLOWED_LABEL = 'rollout-harness.io/allowed';
/** The marker every object the harness changes carries while a run has it changed: the run id. */
export const RUN_MARKER = 'rollout-harness.io/run';
/** On a node: the changes to undo (JSON list of `cordon` / `taint:<key>`), written before each change. */
export const UNDO_MARKER = 'rollout-harness.io/undo';
/** Beside the marker on the namespace and marked nodes: the live run's lease (JSON: holder, renew time, duration). */
export const LEASE_ANNOTATION = 'rollout-harness.io/lease';

/** A Kubernetes label selector (matchLabels and matchExpressions). */
export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: Array<{ key: string; operator: string; values?: string[] }>;
}

/** True when `labels` match the selector, as the API server decides it (a missing selector matches nothing, an empty one everything). */
export function selectorMatches(selector: LabelSelector | null | undefined, labels: Record<string, string> | undefined): boolean {
  if (!selector) return false;
  const l = labels ?? {};
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (l[k] !== v) return false;
  return (selector.matchExpressions ?? []).every((e) => {
    const v = l[e.key];
    if (e.operator === 'In') return v !== undefined && (e.values ?? []).includes(v);
    if (e.operator === 'NotIn') return v === undefined || !(e.values ?? []).includes(v);
    if (e.operator === 'Exists') return v !== undefined;
    if (e.operator === 'DoesNotExist') return v === undefined;
    return false;
  });
}
