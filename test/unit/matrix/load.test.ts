import { describe, expect, it } from 'vitest';
import { errorsOf } from '../../helpers/spec-errors.ts';
import { expandCells } from '../../../harness/matrix/expand.ts';
import { parseSpec } from '../../../harness/matrix/load.ts';
import { k6OperatorOf } from '../../../harness/matrix/schema.ts';

const matrix = { preStopSeconds: [0, 15], terminationGracePeriodSeconds: [30], readinessGate: [false, true], deregistrationDelaySeconds: [300] };

describe('parseSpec', () => {
  it('fills defaults and normalizes disruptions', () => {
    const { spec, warnings } = parseSpec({ matrix, disruptions: ['rollout', { drain: { node: 'node:node-a1' } }, 'spot'] });
    expect(spec.target.namespace).toBe('shop');
    expect(spec.traffic).toMatchObject({ driver: 'auto', rate: 100, warmupSeconds: 10 });
    expect(spec.disruptions).toEqual([
      { kind: 'rollout' },
      { kind: 'drain', node: 'node:node-a1' },
      { kind: 'spot', handler: 'nth', node: 'spot', noticeSeconds: 120 },
    ]);
    expect(warnings).toEqual([]);
  });

  it('traffic.k6Operator: its defaults filled in for driver: k6-operator, a warning beside another driver, its errors with their paths', () => {
    const { spec, warnings } = parseSpec({ matrix, disruptions: ['rollout'], traffic: { driver: 'k6-operator', k6Operator: { parallelism: 3 } } });
    expect(k6OperatorOf(spec.traffic)).toEqual({ parallelism: 3, separate: false, runnerImage: 'grafana/k6:1.1.0', startSeconds: 300 });
    expect(k6OperatorOf({})).toMatchObject({ parallelism: 2, runnerImage: 'grafana/k6:1.1.0' });
    expect(warnings).toEqual([]);
    expect(parseSpec({ matrix, disruptions: ['rollout'], traffic: { driver: 'builtin', k6Operator: { parallelism: 3 } } }).warnings).toEqual(['traffic.k6Operator: ignored by driver builtin (it is for driver: k6-operator)']);
    expect(errorsOf({ matrix, disruptions: ['rollout'], traffic: { driver: 'k6-operator', k6Operator: { parallelism: 0, k6Version: 'latest', colour: 1 } } })).toEqual(
      expect.arrayContaining([expect.stringMatching(/^traffic\.k6Operator\.parallelism: /), expect.stringMatching(/^traffic\.k6Operator\.k6Version: expected a k6 release such as v1\.1\.0/), expect.stringMatching(/^traffic\.k6Operator: .*colour/)]),
    );
  });

  it('reports every schema error at once, each with its path', () => {
    const issues = errorsOf({
      matrix: { preStopSeconds: ['ten', -1], terminationGracePeriodSeconds: [], readinessGate: [true], deregistrationDelaySeconds: [4000] },
      disruptions: [],
      traffic: { rate: -5, colour: 'blue' },
    });
    expect(issues).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^matrix\.preStopSeconds\[0\]: .*number/),
        expect.stringMatching(/^matrix\.preStopSeconds\[1\]: expected seconds ≥ 0/),
        expect.stringMatching(/^matrix\.terminationGracePeriodSeconds: expected at least one value/),
        expect.stringMatching(/^matrix\.deregistrationDelaySeconds\[0\]: expected at most 3600 seconds/),
        expect.stringMatching(/^disruptions: expected at least one disruption/),
        expect.stringMatching(/^traffic\.rate: /),
        expect.stringMatching(/^traffic: .*colour/),
      ]),
    );
  });

  it('applies cross-field rules: errors for conflicts, warnings for short grace periods', () => {
    expect(errorsOf({ target: { twin: {}, context: 'staging' }, matrix, disruptions: ['rollout'] })).toContain(
      'target: expected either `twin` or `context` (a real cluster), got both',
    );
    expect(errorsOf({ target: { context: 'staging', ingress: 'web' }, matrix, disruptions: ['rollout'] })[0]).toMatch(/allowedContexts: must list the context "staging"/);
    expect(errorsOf({ matrix: { ...matrix, exclude: [{ readinessGate: true }, { readinessGate: false }] }, disruptions: ['rollout'] })).toContain(
      'matrix: no cell is left after `exclude`',
    );
    const { warnings } = parseSpec({
      matrix: { ...matrix, preStopSeconds: [40] },
      disruptions: ['rollout'],
      expect: [{ where: { preStopSeconds: 99 }, max5xx: 0 }],
    });
    expect(warnings).toEqual([
      expect.stringMatching(/terminationGracePeriodSeconds 30 < preStopSeconds 40/),
      'expect[0].where: matches no cell',
    ]);
  });
});

describe('expandCells', () => {
  it('is the product of the axes × disruptions × repeats, with include and exclude', () => {
    const { spec } = parseSpec({
      matrix: { ...matrix, include: [{ preStopSeconds: 60, terminationGracePeriodSeconds: 90, readinessGate: true }], exclude: [{ preStopSeconds: 15, readinessGate: false }] },
      disruptions: ['rollout', 'drain'],
      repeat: 2,
    });
    const cells = expandCells(spec);
    // 4 configs − 1 excluded + 1 included = 4; × 2 disruptions × 2 repeats.
    expect(cells).toHaveLength(16);
    expect(cells.map((c) => c.index)).toEqual([...Array(16).keys()]);
    expect(new Set(cells.map((c) => c.id)).size).toBe(16);
    expect(cells[0].id).toBe('rollout.gate-off.prestop-0.grace-30.dereg-300.r1');
    expect(cells.some((c) => c.config.preStopSeconds === 15 && !c.config.readinessGate)).toBe(false);
    expect(cells.filter((c) => c.config.preStopSeconds === 60)).toHaveLength(4);
  });
});

describe('parseSpec bounds and ids', () => {
  it('bounds every duration and size, saying the bound', () => {
    const issues = errorsOf({
      matrix: { ...matrix, preStopSeconds: [1e6, 1e20] },
      disruptions: [{ spot: { noticeSeconds: 7200 } }],
      traffic: { warmupSeconds: 1e9, timeoutSeconds: 1e9 },
      settleTimeoutSeconds: 1e9,
    });
    expect(issues).toEqual(
      expect.arrayContaining([
        'matrix.preStopSeconds[0]: expected at most 3600 seconds',
        expect.stringMatching(/^matrix\.preStopSeconds\[1\]: Too big/),
        'traffic.warmupSeconds: expected at most 3600 seconds',
        'traffic.timeoutSeconds: expected at most 3600 seconds per request',
        'disruptions[0].spot.noticeSeconds: expected at most 900 seconds',
        expect.stringMatching(/^settleTimeoutSeconds: .*86400/),
      ]),
    );
  });

  it('says which disruption forms exist when an entry is none of them, and points into the one it took', () => {
    const issues = errorsOf({ matrix, disruptions: ['reboot', { drain: { node: 5 } }] });
    expect(issues[0]).toBe('disruptions[0]: expected "rollout", "drain", "spot", "rebalance", { rollout: {} }, { drain: { node } }, { spot: { handler, node, noticeSeconds } }, { spot: { via: fis, node, durationBeforeInterruption } }, { rebalance: { handler, node } } or { node-replace: { handler, node } } (handler: "nth", "karpenter" or "managed-nodegroup"; node-replace: "karpenter" or "managed-nodegroup"), got "reboot"');
    expect(issues[1]).toMatch(/^disruptions\[1\]\.drain\.node: /);
  });

  it('rejects a spec whose cells would share an id, naming the entries', () => {
    expect(errorsOf({ matrix, disruptions: ['rollout', 'rollout'] })).toContain(
      'disruptions[0], disruptions[1]: the same disruption (rollout) twice would give cells with one id; list it once and use `repeat` to measure it again',
    );
    expect(errorsOf({ matrix, disruptions: ['drain', { drain: { node: 'most-pods' } }] })[0]).toMatch(/^disruptions\[0\], disruptions\[1\]: the same disruption \(drain\)/);
  });

  it('gives cells of differently chosen nodes their own ids', () => {
    const { spec } = parseSpec({ matrix: { ...matrix, preStopSeconds: [0], readinessGate: [true] }, disruptions: ['drain', { drain: { node: 'spot' } }, { drain: { node: 'node:node-a1' } }, 'spot', { spot: { noticeSeconds: 60 } }] });
    expect(expandCells(spec).map((c) => c.id.split('.')[0])).toEqual(['drain', 'drain-spot', 'drain-node-node-a1', 'spot', 'spot-notice60']);
  });

  it('needs max5xx or maxFailed in an expectation, and a run-directory-safe name', () => {
    expect(errorsOf({ matrix, disruptions: ['rollout'], expect: [{ where: {} }] })).toContain('expect[0]: expected max5xx, maxFailed or both');
    expect(errorsOf({ name: '../../etc', matrix, disruptions: ['rollout'] })[0]).toMatch(/^name: expected 1–64 letters/);
  });
});

describe('loadSpec', () => {
  it('rejects bytes that are not UTF-8', async () => {
    const { mkdtemp, writeFile, rm } = await import('node:fs/promises');
    const os = await import('node:os');
    const path = await import('node:path');
    const { loadSpec } = await import('../../../harness/matrix/load.ts');
    const dir = await mkdtemp(path.join(os.tmpdir(), 'rh-utf8-'));
    try {
      const file = path.join(dir, 'latin1.yaml');
      await writeFile(file, Buffer.concat([Buffer.from('name: caf'), Buffer.from([0xe9]), Buffer.from('\nmatrix: {}\n')]));
      await expect(loadSpec(file)).rejects.toThrow(`Invalid ${file}: expected UTF-8 text, got bytes that are not UTF-8`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
