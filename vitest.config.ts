import { BaseSequencer, type TestSpecification } from 'vitest/node';
import { defineConfig } from 'vitest/config';
import { PREBUNDLED } from './test/prebundled.ts';

/**
 * The twin tests whose counts depend on the twin keeping its model time under load (access-log
 * windows, ground-truth agreement, slow requests against the grace period): they run first, two at a
 * time, before the rest. With three workers for everything they failed now and then on two cores.
 */
// The nightly workflow runs the CLI end to end and asserts every cell valid: a twin starved by three other twin files stalls (its cells INVALID).
// The readiness-gate and LBC #1064 fidelity comparisons and the demo's exact round robin failed in CI beside three other twin files (a slower machine than this one).
const timingSensitive = [
  'test/twin/explain/explain.e2e.test.ts',
  'test/twin/twin.behaviours.test.ts',
  'test/twin/orchestrator/run.e2e.test.ts',
  'test/examples/workflows.test.ts',
  'test/twin/fidelity/readiness-gate.test.ts',
  'test/twin/fidelity/lbc-1064.test.ts',
  'test/twin/cli/twin-demo.test.ts',
  // Three k6 stand-in processes beside the twin: starved by three other twin files, they fall behind their schedule (the cell rightly INVALID).
  'test/twin/cli/k6-operator.e2e.test.ts',
  'test/twin/traffic/k6-operator.test.ts',
];

/**
 * Every file of 14 s or more of the rest, longest first (measured: `npm test` here, 2 cores), started
 * first in its group so that none is left to run alone at the end. Vitest orders the others by its
 * cache of past durations, which a clean clone (CI) does not have: by size, which left long files
 * for the end.
 */
const longest = [
  // timing: not longest first. With run.e2e (200 req/s through its embedded twin) started beside
  // twin.behaviours (300 req/s), and the type check running too, a gated rollout of twin.behaviours
  // lost 809 requests to 503 in a CI run: the timing group keeps the order it passed in before.
  'test/twin/twin.behaviours.test.ts', // 107 s
  'test/twin/cli/k6-operator.e2e.test.ts', // 60 s
  'test/twin/traffic/k6-operator.test.ts', // 22 s
  // rest
  'test/twin/explain/staging-path.test.ts', // 153 s
  'test/twin/cli/faults.test.ts', // 148 s
  'test/twin/cli/faults-leftovers.test.ts', // 115 s
  'test/twin/cli/run-interrupt.test.ts', // 85 s
  'test/twin/fidelity/gateway.test.ts', // 75 s
  'test/twin/orchestrator/cell.traffic-killed.test.ts', // 57 s
  'test/twin/fidelity/lbc-2106.test.ts', // 50 s
  'test/twin/cli/ingress-shapes.e2e.test.ts', // 49 s
  'test/twin/explain/cross-check-drop.test.ts', // 47 s
  'test/twin/cli/deploy.e2e.test.ts', // 46 s
  'test/twin/fidelity/mobility-spot.test.ts', // 43 s
  'test/twin/spot-replacement.test.ts', // 39 s
  'test/twin/orchestrator/placement.test.ts', // 38 s
  'test/twin/orchestrator/spot-handlers.e2e.test.ts', // 32 s
  'test/twin/kube/server.kubectl.test.ts', // 28 s
  'test/browser/report.test.ts', // 26 s
  'test/twin/alb/access-logs.test.ts', // 25 s
  'test/twin/traffic/k6/driver.test.ts', // 25 s
  'test/twin/orchestrator/topology.e2e.test.ts', // 25 s
  'test/twin/alb/data-plane.test.ts', // 24 s
  'test/twin/cli/shards.e2e.test.ts', // 23 s
  'test/twin/fidelity/monotaro.test.ts', // 21 s
  'test/twin/aws/server.cli.test.ts', // 21 s
  'test/twin/alb/routing.test.ts', // 17 s
  'test/twin/kube/server.rbac.test.ts', // 14 s
  'test/twin/cli/twin-up.test.ts', // 14 s
  'test/twin/gateway/gateway.test.ts', // 14 s
];

/** Vitest's order (group, project, cached durations), with the longest files first within each project. */
class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (f: TestSpecification) => {
      const i = longest.findIndex((l) => f.moduleId.endsWith(l));
      return i < 0 ? longest.length : i;
    };
    const position = new Map(sorted.map((f, i) => [f, i]));
    return [...sorted].sort((a, b) => (a.project === b.project ? rank(a) - rank(b) : 0) || position.get(a)! - position.get(b)!);
  }
}

const shared = { pool: 'forks' as const, testTimeout: 60_000, hookTimeout: 60_000, deps: { optimizer: { ssr: { enabled: true, include: PREBUNDLED } } } };

/** The unit tier: no twin, each test in a second or two. */
const unit = ['test/unit/**/*.test.ts'];

export default defineConfig({
  test: {
    sequence: { sequencer: LongestFirst },
    projects: [
      // First, alone: the pure unit tier in threads sharing their modules (not a fresh import per
      // file): 39 s and 44 CPU-s here, against 99 s and 107 CPU-s as forks.
      { test: { ...shared, pool: 'threads', isolate: false, name: 'unit', include: unit, maxWorkers: 3, sequence: { groupOrder: 0 } } },
      { test: { ...shared, name: 'timing', include: timingSensitive, maxWorkers: 2, sequence: { groupOrder: 1 } } },
      // The rest mostly waits on the model clock: three workers keep two cores busy (the suite took
      // 724 s with two workers for everything, 524 s with three).
      // With them the staging code path (test/twin/explain/staging-path.test.ts): three minutes at
      // time scale 1 that mostly wait, where a pause of the busy machine is a tenth of a model second.
      { test: { ...shared, name: 'rest', include: ['test/**/*.test.ts'], exclude: [...timingSensitive, ...unit], maxWorkers: 3, sequence: { groupOrder: 2 } } },
    ],
  },
});
