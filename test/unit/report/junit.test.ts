import { describe, expect, it } from 'vitest';
import { renderJunit } from '../../../harness/report/junit.ts';
import { cellResult } from '../../helpers/results.ts';

describe('renderJunit times', () => {
  // Two twin cells at time scale 0.05: 120 and 60 model seconds took 6.2 s and 3.1004 s of real time.
  const results = [
    cellResult({ gate: true, kind: 'rollout', durationSeconds: 120, realDurationSeconds: 6.2 }),
    cellResult({ gate: false, kind: 'drain', durationSeconds: 60, realDurationSeconds: 3.1004 }),
  ];

  it('gives each case its real seconds, and its model seconds as a property', () => {
    const xml = renderJunit('nightly', results, []);
    expect(xml).toContain('name="rollout.gate-on.prestop-0.grace-30.dereg-300.r1" time="6.200"><properties><property name="modelSeconds" value="120"/></properties>');
    expect(xml).toContain('name="drain.gate-off.prestop-0.grace-30.dereg-300.r1" time="3.100"><properties><property name="modelSeconds" value="60"/></properties>');
  });

  it('gives the suite the sum of the real seconds, so a dashboard adds up to the job', () => {
    const xml = renderJunit('nightly', results, []);
    expect(xml).toContain('<testsuite name="nightly" tests="2" failures="0" errors="0" time="9.300">');
    const caseTimes = [...xml.matchAll(/<testcase [^>]*time="([\d.]+)"/g)].map((m) => Number(m[1]));
    expect(caseTimes).toEqual([6.2, 3.1]);
  });

  it('falls back to model seconds for results written before real seconds were recorded', () => {
    const old = cellResult({ gate: true, kind: 'rollout', durationSeconds: 42 });
    expect(old.realDurationSeconds).toBeUndefined();
    expect(renderJunit('old', [old], [])).toContain('time="42.000"><properties><property name="modelSeconds" value="42"/>');
  });
});
