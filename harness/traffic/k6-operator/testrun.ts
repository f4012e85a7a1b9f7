/**
 * A cell's traffic as grafana/k6-operator runs it: a ConfigMap with the script and a TestRun
 * (`k6.io/v1alpha1`) with N runners. The operator starts an initializer, N runner Jobs (each
 * `k6 run --quiet --execution-segment=… --execution-segment-sequence=… <arguments> <script>
 * --address=0.0.0.0:6565 --paused --tag instance_id=<i> --tag testrun_name=<name>`, i from 1;
 * pkg/resources/jobs/runner.go) and a starter that resumes them together; `.status.stage` goes
 * initialization → initialized → created → started → stopped/finished (or error).
 *
 * What the TestRun carries, and why:
 * - `arguments`: only the release's own run flags (k6RunFlags: `--no-summary` before v1.3,
 *   `--summary-mode=disabled` from v1.3, `--no-usage-report`, `--out json=-`), never `--address`
 *   or `-q` (the operator adds both). The operator splits `arguments` on spaces (pkg/types/k6cli.go),
 *   so no value with a space can go there: the script's variables (the User-Agent has a space) go in
 *   the runners' environment, with `K6_INCLUDE_SYSTEM_ENV_VARS=true` so every release's `__ENV`
 *   reads them (the initializer's `k6 archive` does not by default).
 * - Each runner's NDJSON is its pod's log, read per pod: the runner a request came from is known
 *   from the stream (and the operator's own `instance_id` tag), whatever the output's tags say.
 * - `runner.image`: pinned. The operator's default is `grafana/k6:latest` (k6-operator #603), which
 *   brings a new major release unasked; the harness builds each release's flags, so it must know
 *   the release: from the image's tag, or `traffic.k6Operator.k6Version` for a digest or a custom tag.
 */
import { createHash } from 'node:crypto';
import { ConfigError } from '../../core/errors.ts';
import { RUN_MARKER } from '../../core/labels.ts';
import { buildK6Args, k6RunFlags, parseK6Version, type K6Version } from '../k6/args.ts';
import type { TrafficPlan } from '../types.ts';

/** The TestRun resource. */
export const TESTRUN = { group: 'k6.io', version: 'v1alpha1', plural: 'testruns', kind: 'TestRun' } as const;
/** The CRD that must exist in the cluster. */
export const TESTRUN_CRD = 'testruns.k6.io';
/** The label that marks every object of the harness's TestRuns (value: the run id), for listing and restore. */
export const RUN_LABEL = 'rollout-harness.io/run-id';
/** The key of the script in the ConfigMap (the operator mounts it at /test/<key>). */
export const SCRIPT_KEY = 'constant-rate.js';

/** `traffic.k6Operator` of a spec. */
export interface K6OperatorSpec {
  /** Runners (TestRun `parallelism`). */
  parallelism: number;
  /** One runner per node (TestRun `separate`: a required pod anti-affinity on the hostname). */
  separate: boolean;
  /** Where the TestRun and its ConfigMap go (default: the target's namespace). */
  namespace?: string;
  runnerImage: string;
  /** The runners' k6 release when the image tag does not say it (`v1.1.0`). */
  k6Version?: string;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  nodeSelector?: Record<string, string>;
}

/** The k6 release the runners run: the image tag's (`grafana/k6:1.1.0`, `…:v0.48.0`), else `k6Version`; throws when neither says it. */
export function runnerK6Version(spec: Pick<K6OperatorSpec, 'runnerImage' | 'k6Version'>): K6Version {
  if (spec.k6Version) return parseK6Version(`k6 ${spec.k6Version.startsWith('v') ? spec.k6Version : `v${spec.k6Version}`}`);
  const tag = /^[^@]+:v?(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?)$/.exec(spec.runnerImage.replace(/^.*\//, 'x/'))?.[1];
  if (!tag) {
    throw new ConfigError(
      `Expected traffic.k6Operator.runnerImage to carry a k6 release tag (e.g. grafana/k6:1.1.0) or traffic.k6Operator.k6Version to name the release, got ${spec.runnerImage}: the harness builds each release's own flags, and an image like grafana/k6:latest changes release unasked`,
    );
  }
  return parseK6Version(`k6 v${tag}`);
}

/** The TestRun's `arguments` for this release: its run flags without `-q` and `--address` (the operator adds both). */
export function operatorArguments(version: K6Version): string {
  const flags = k6RunFlags(version);
  const out: string[] = [];
  for (let i = 0; i < flags.length; i++) {
    if (flags[i] === '-q') continue;
    if (flags[i] === '--address') {
      i++;
      continue;
    }
    out.push(flags[i]);
  }
  return out.join(' ');
}

/** A DNS-1035 name for the cell's TestRun (its runner Jobs are `<name>-<i>`, their pods' hostnames the same). */
export function testRunName(runId: string, cellId: string): string {
  return `rh-${createHash('sha256').update(`${runId}/${cellId}`).digest('hex').slice(0, 12)}`;
}

/** What the objects need besides the plan. */
export interface TestRunInput {
  runId: string;
  cellId: string;
  namespace: string;
  operator: K6OperatorSpec;
  /** The script's text (k6-scripts/constant-rate.js). */
  script: string;
  /** Value of the `cell` tag on every request. */
  cell?: string;
}

/** The ConfigMap and TestRun of one cell's traffic, both labelled and annotated with the run. */
export function testRunObjects(plan: TrafficPlan, input: TestRunInput) {
  const version = runnerK6Version(input.operator);
  if (!Number.isInteger(input.operator.parallelism) || input.operator.parallelism < 1) {
    throw new ConfigError(`Expected traffic.k6Operator.parallelism to be a whole number ≥ 1, got ${input.operator.parallelism}`);
  }
  // The plan's variables as the local k6 driver passes them (`-e K=V`), here as the runners' environment.
  const invocation = buildK6Args(plan, { version, script: `/test/${SCRIPT_KEY}`, cell: input.cell });
  const vars: Array<{ name: string; value: string }> = [];
  for (let i = 0; i < invocation.args.length; i++) {
    if (invocation.args[i] !== '-e') continue;
    const kv = invocation.args[++i];
    const eq = kv.indexOf('=');
    vars.push({ name: kv.slice(0, eq), value: kv.slice(eq + 1) });
  }
  if (plan.tls?.caFile) {
    throw new ConfigError('Expected no traffic CA file with driver: k6-operator (a local file does not reach the runner pods); trust the certificate through the runner image, or set traffic.insecureSkipTLSVerify');
  }
  const name = testRunName(input.runId, input.cellId);
  const metadata = {
    name,
    namespace: input.namespace,
    labels: { [RUN_LABEL]: input.runId, 'app.kubernetes.io/managed-by': 'rollout-harness' },
    annotations: { [RUN_MARKER]: input.runId, 'rollout-harness.io/cell': input.cellId },
  };
  const configMap = { apiVersion: 'v1', kind: 'ConfigMap', metadata, data: { [SCRIPT_KEY]: input.script } };
  const testRun = {
    apiVersion: `${TESTRUN.group}/${TESTRUN.version}`,
    kind: TESTRUN.kind,
    metadata,
    spec: {
      parallelism: input.operator.parallelism,
      separate: input.operator.separate,
      script: { configMap: { name, file: SCRIPT_KEY } },
      arguments: operatorArguments(version),
      runner: {
        image: input.operator.runnerImage,
        metadata: { labels: { [RUN_LABEL]: input.runId } },
        env: [...vars, { name: 'K6_INCLUDE_SYSTEM_ENV_VARS', value: 'true' }, { name: 'K6_NO_USAGE_REPORT', value: 'true' }],
        ...(input.operator.resources ? { resources: input.operator.resources } : {}),
        ...(input.operator.nodeSelector ? { nodeSelector: input.operator.nodeSelector } : {}),
      },
    },
  };
  return { name, version, configMap, testRun };
}
