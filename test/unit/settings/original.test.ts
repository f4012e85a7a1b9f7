/** The recorded originals are read back validated: a broken record is refused with the path of each problem. */
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../harness/core/errors.ts';
import { parseSpec } from '../../../harness/matrix/load.ts';
import { snapshotSettings } from '../../../harness/orchestrator/settings.ts';
import { parseOriginal } from '../../../harness/settings/original.ts';
import { world } from '../../helpers/settings-world.ts';

describe('parseOriginal', () => {
  it('takes back what snapshotSettings recorded, through JSON, unchanged', async () => {
    const w = world({ via: 'ingress', annotation: 'deregistration_delay.timeout_seconds=120' });
    const { spec } = parseSpec({
      matrix: { preStopSeconds: [5], terminationGracePeriodSeconds: [30], readinessGate: [true], deregistrationDelaySeconds: [30], maxSurge: ['25%', 2], slowStartSeconds: [30] },
      axes: { keepalive: { object: 'deployment', values: { a: { spec: { minReadySeconds: 3 } } } } },
      disruptions: ['rollout'],
    });
    const original = await snapshotSettings(w.target, spec);
    const stored = JSON.parse(JSON.stringify(original)) as unknown;
    expect(parseOriginal(stored, 'run.json')).toEqual(original);
  });

  it('refuses a broken record, naming each problem by its path', () => {
    const broken = { container: 'app', preStop: null, terminationGracePeriodSeconds: '30', gateLabel: null, delayVia: 'carrier-pigeon', deregistrationDelaySeconds: '300', axes: { maxSurge: {} } };
    try {
      parseOriginal(broken, 'results/r1/run.json');
      expect.unreachable('a broken record was accepted');
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).message).toMatch(/^results\/r1\/run\.json: the recorded original settings are not valid/);
      expect((error as ConfigError).issues).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/^original\.terminationGracePeriodSeconds: /),
          expect.stringMatching(/^original\.delayVia: .*carrier-pigeon/),
          expect.stringMatching(/^original\.changes: /),
          expect.stringMatching(/^original\.axes\.maxSurge: /),
        ]),
      );
    }
  });
});
