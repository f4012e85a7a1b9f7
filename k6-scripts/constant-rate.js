/**
 * Constant arrival rate against the ALB, driven by environment variables (`-e NAME=value`):
 *
 *   TARGET             base URL, e.g. http://127.0.0.1:41234 (required)
 *   RATE               requests per second (may be fractional; default 10)
 *   DURATION           seconds of traffic (default 10)
 *   TIMEOUT            per-request timeout in seconds (default 30)
 *   MIX                JSON array of {path, weight} (default [{"path":"/","weight":1}])
 *   PRE_ALLOCATED_VUS  VUs started up front (default 10)
 *   MAX_VUS            VUs k6 may add when requests are slow (default 100)
 *   CELL               value of the `cell` tag on every request (default "none")
 *   USER_AGENT         User-Agent of every request (default: k6's own, `k6/<version> (https://k6.io/)`);
 *                      the harness sets `rollout-harness/<version> <run-id>/<cell-id>`, which the
 *                      ALB access log records, through the `userAgent` option (k6 v0.45 – v2.x)
 *   THRESHOLDS         optional JSON object of k6 thresholds; none by default
 *   HOSTS              optional JSON object for k6's `hosts` option, e.g. {"shop.example.test":"127.0.0.1"}:
 *                      TARGET names a listener rule's host, which k6 connects to at the load balancer's
 *                      IP and sends as Host and TLS server name (the name is never resolved)
 *   HOST_HEADER        optional Host header of every request (a rule's host, when the load balancer is
 *                      reached by its DNS name: k6 still sends the URL's host as TLS server name)
 *   INSECURE_SKIP_TLS_VERIFY  "true": accept any certificate (k6's `insecureSkipTLSVerify` option)
 *
 * Open model: iteration n starts at n / RATE whether or not earlier requests have answered, so a
 * hanging backend shows up as timeouts (or dropped_iterations when MAX_VUS runs out), never as a
 * silently lower rate. Each iteration sends exactly one request and follows no redirects, so one
 * `http_reqs` Point is one request. The send time (epoch ms) goes into the Point's metadata
 * (`sent_ms`): k6 stamps Points with the time the request *ended*, and a request that timed out
 * ended TIMEOUT seconds after it was sent.
 *
 * ES2015 only: k6 before its ES2020 runtime (roughly < v0.52) compiles scripts with an ES2015
 * preset, so object spread, optional chaining, `??` and the like are a SyntaxError (exit 107)
 * there. test/unit/traffic/k6/es2015.test.ts parses every script in k6-scripts/ to keep it so.
 */
import http from 'k6/http';
import exec from 'k6/execution';

function num(name, fallback) {
  const raw = __ENV[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) {
    throw new Error(`Expected ${name} to be a positive number, got "${raw}"`);
  }
  return value;
}

function json(name, fallback) {
  const raw = __ENV[name];
  if (raw === undefined || raw === '') return fallback;
  try {
    return JSON.parse(raw);
  } catch (error) {
    throw new Error(`Expected ${name} to be JSON, got "${raw}": ${error}`);
  }
}

const TARGET = String(__ENV.TARGET || '').replace(/\/$/, '');
if (!TARGET) throw new Error('Expected TARGET (base URL) to be set, got nothing');
const RATE = num('RATE', 10);
const DURATION = num('DURATION', 10);
const TIMEOUT = num('TIMEOUT', 30);
const PRE_ALLOCATED_VUS = Math.ceil(num('PRE_ALLOCATED_VUS', 10));
const MAX_VUS = Math.max(PRE_ALLOCATED_VUS, Math.ceil(num('MAX_VUS', 100)));
const CELL = __ENV.CELL || 'none';
const USER_AGENT = __ENV.USER_AGENT || '';
const MIX = json('MIX', [{ path: '/', weight: 1 }]);
const THRESHOLDS = json('THRESHOLDS', undefined);
const HOSTS = json('HOSTS', undefined);
const HOST_HEADER = __ENV.HOST_HEADER || '';
const INSECURE_SKIP_TLS_VERIFY = __ENV.INSECURE_SKIP_TLS_VERIFY === 'true';

if (!Array.isArray(MIX) || !MIX.length || MIX.some((m) => typeof m.path !== 'string' || !(m.weight > 0))) {
  throw new Error(`Expected MIX to be a non-empty array of {path, weight > 0}, got ${JSON.stringify(MIX)}`);
}

// k6's rate is an integer per timeUnit: a fractional rate (2.5/s) runs as 2500 per 1000 s.
const RATE_UNIT = Number.isInteger(RATE) ? 1 : 1000;

// Smooth weighted round robin, indexed by the test-wide iteration number: the same mix as the
// built-in driver, with no randomness.
const SEQUENCE = (() => {
  const total = MIX.reduce((s, m) => s + m.weight, 0);
  const current = MIX.map(() => 0);
  const period = Math.min(1000, Math.round(total * 100));
  const sequence = [];
  for (let i = 0; i < period; i++) {
    let best = 0;
    for (let j = 0; j < MIX.length; j++) {
      current[j] += MIX[j].weight;
      if (current[j] > current[best]) best = j;
    }
    current[best] -= total;
    sequence.push(MIX[best].path);
  }
  return sequence;
})();

export const options = {
  discardResponseBodies: true,
  // A 3xx is an answer of its own: following it would turn one iteration into two requests.
  maxRedirects: 0,
  scenarios: {
    traffic: {
      executor: 'constant-arrival-rate',
      rate: Math.round(RATE * RATE_UNIT),
      timeUnit: `${RATE_UNIT}s`,
      duration: `${DURATION}s`,
      preAllocatedVUs: PRE_ALLOCATED_VUS,
      maxVUs: MAX_VUS,
      // Let every request sent before the end finish (or time out) so accounting stays exact.
      gracefulStop: `${Math.ceil(TIMEOUT) + 1}s`,
    },
  },
};
// No object spread: k6 before its ES2020 runtime (< ~v0.52) compiles ES2015 only (see the header).
if (THRESHOLDS) options.thresholds = THRESHOLDS;
if (USER_AGENT) options.userAgent = USER_AGENT;
if (HOSTS) options.hosts = HOSTS;
if (INSECURE_SKIP_TLS_VERIFY) options.insecureSkipTLSVerify = true;

// The same params object for every request; headers only when a Host header is asked for.
const PARAMS = { timeout: `${TIMEOUT}s`, tags: { cell: CELL } };
if (HOST_HEADER) PARAMS.headers = { Host: HOST_HEADER };

/** One iteration = one GET of the next path in the mix. */
export default function () {
  const path = SEQUENCE[exec.scenario.iterationInTest % SEQUENCE.length];
  exec.vu.metrics.metadata.sent_ms = String(Date.now());
  http.get(`${TARGET}${path}`, PARAMS);
}
