/** Labels and annotations of rollout-harness itself, shared by the harness and the twin. */

/** The namespace label that must be `true` before a run changes anything in the namespace. */
export const ALLOWED_LABEL = 'rollout-harness.io/allowed';
/** The marker every object the harness changes carries while a run has it changed: the run id. */
export const RUN_MARKER = 'rollout-harness.io/run';
/** On a node: the changes to undo (JSON list of `cordon` / `taint:<key>`), written before each change. */
export const UNDO_MARKER = 'rollout-harness.io/undo';
/** Beside the marker on the namespace and marked nodes: the live run's lease (JSON: holder, renew time, duration). */
export const LEASE_ANNOTATION = 'rollout-harness.io/lease';
