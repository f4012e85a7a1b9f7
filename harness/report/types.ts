/** The result files' shapes (documented in results/README.md, JSON Schema in results/schema/). */
import type { TimelineEvent } from '../observe/timeline.ts';
import type { CellConfig, Disruption, Spec } from '../spec/schema.ts';

/** Version of the result files' format. */
export const RESULTS_SCHEMA_VERSION = 1;

/** One cell's measurement (`cells/<id>.json`). */
export interface CellResult {
  schemaVersion: number;
  id: string;
  index: number;
  disruption: Disruption;
  repeat: number;
  config: CellConfig;
  /** False when the cell cannot be trusted; `invalidReason` says why. Never read an invalid cell as 0 errors. */
  valid: boolean;
  invalidReason?: string;
  requests: {
    planned: number;
    sent: number;
    /** By HTTP status, e.g. {"200": 9800, "502": 12}. */
    byStatus: Record<string, number>;
    /** Requests that got no HTTP status (timeouts, resets), total. */
    networkErrors: number;
    networkErrorsByCode: Record<string, number>;
    /** sent / planned. */
    achieved: number;
  };
  /** Requests answered with a 5xx. */
  fiveXX: number;
  /** On the twin: 5xx by the twin's exact reason, e.g. {"502 connect-refused": 7}. */
  fiveXXByReason?: Record<string, number>;
  driver: string;
  disruptionOutcome: { completed: boolean; detail?: string; reason?: string };
  settled: boolean;
  /** Model seconds from cell start: traffic start, disruption start, settled, traffic stop. */
  marks: { trafficStart?: number; disruptionStart?: number; settled?: number; trafficStop?: number };
  /** Per second of traffic: model seconds since cell start, counts by status and network errors. */
  series: Array<{ t: number; byStatus: Record<string, number>; networkErrors: number }>;
  timeline: TimelineEvent[];
  /** The first failed requests (status ≥ 500 or network error): model seconds since cell start. */
  failures: Array<{ t: number; path: string; status?: number; error?: string }>;
  startedAt: string;
  /** Model seconds the cell took. */
  durationSeconds: number;
}

/** The run (`run.json`). */
export interface RunRecord {
  schemaVersion: number;
  runId: string;
  specFile: string;
  spec: Spec;
  target: { kind: 'twin' | 'cluster'; context?: string; namespace: string; deployment: string; targetGroupArn: string; timeScale?: number; seed?: number };
  driver: { name: string; reason: string };
  versions: { rolloutHarness: string; node: string; platform: string };
  startedAt: string;
  endedAt?: string;
  cells: Array<{ id: string; status: 'pending' | 'running' | 'done'; stage?: string }>;
  /** Settings as found before the run; restored at its end. */
  original?: unknown;
  restored?: string[];
  /** Why the run stopped early, if it did. */
  stoppedBy?: string;
}
