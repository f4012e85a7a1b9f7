/**
 * The region chain, one step at a time: each step wins over the ones after it and yields to the
 * ones before. The profile step reads a temporary AWS_CONFIG_FILE; nothing here calls AWS.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveRegion } from '../../../harness/platform/aws-region.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'rh-region-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let files = 0;
/** A shared config file with these contents. */
function configFile(text: string): string {
  const file = path.join(dir, `config-${files++}`);
  writeFileSync(file, text);
  return file;
}

const profiles = configFile('[default]\nregion = eu-central-1\n\n[profile ci]\nregion = ap-southeast-2\noutput = json\n\n[profile bare]\noutput = json\n');
const noFile = path.join(dir, 'absent');

describe('resolveRegion', () => {
  it('1. takes the spec\'s target.region over everything else', async () => {
    const env = { AWS_REGION: 'us-west-2', AWS_DEFAULT_REGION: 'sa-east-1', AWS_PROFILE: 'ci', AWS_CONFIG_FILE: profiles };
    expect(await resolveRegion('eu-west-1', env)).toEqual({ region: 'eu-west-1', source: 'target.region' });
  });

  it('2. then AWS_REGION, over AWS_DEFAULT_REGION and the profile', async () => {
    const env = { AWS_REGION: 'us-west-2', AWS_DEFAULT_REGION: 'sa-east-1', AWS_PROFILE: 'ci', AWS_CONFIG_FILE: profiles };
    expect(await resolveRegion(undefined, env)).toEqual({ region: 'us-west-2', source: 'AWS_REGION' });
  });

  it('3. then AWS_DEFAULT_REGION, over the profile; an empty AWS_REGION (an unset CI variable) names nothing', async () => {
    const env = { AWS_REGION: '', AWS_DEFAULT_REGION: 'sa-east-1', AWS_PROFILE: 'ci', AWS_CONFIG_FILE: profiles };
    expect(await resolveRegion(undefined, env)).toEqual({ region: 'sa-east-1', source: 'AWS_DEFAULT_REGION' });
  });

  it('4. then the region of AWS_PROFILE in AWS_CONFIG_FILE ([profile NAME])', async () => {
    expect(await resolveRegion(undefined, { AWS_PROFILE: 'ci', AWS_CONFIG_FILE: profiles })).toEqual({ region: 'ap-southeast-2', source: `profile ci in ${profiles}` });
  });

  it('4. without AWS_PROFILE, the region of [default]', async () => {
    expect(await resolveRegion(undefined, { AWS_CONFIG_FILE: profiles })).toEqual({ region: 'eu-central-1', source: `profile default in ${profiles}` });
  });

  it('5. else us-east-1, saying why: a profile without a region, a profile not in the file, no file', async () => {
    expect(await resolveRegion(undefined, { AWS_PROFILE: 'bare', AWS_CONFIG_FILE: profiles })).toEqual({
      region: 'us-east-1',
      source: `default: no target.region, AWS_REGION or AWS_DEFAULT_REGION, and profile bare in ${profiles} has no region`,
    });
    expect((await resolveRegion(undefined, { AWS_PROFILE: 'nope', AWS_CONFIG_FILE: profiles })).source).toMatch(/and no profile nope in .*config-0$/);
    expect(await resolveRegion(undefined, { AWS_CONFIG_FILE: noFile })).toEqual({
      region: 'us-east-1',
      source: `default: no target.region, AWS_REGION or AWS_DEFAULT_REGION, and no profile default in ${noFile}`,
    });
  });

  it('reads the file again each time (a changed file is not served from a cache)', async () => {
    const file = configFile('[default]\nregion = eu-north-1\n');
    expect((await resolveRegion(undefined, { AWS_CONFIG_FILE: file })).region).toBe('eu-north-1');
    writeFileSync(file, '[default]\nregion = me-south-1\n');
    expect((await resolveRegion(undefined, { AWS_CONFIG_FILE: file })).region).toBe('me-south-1');
  });
});
