/**
 * The AWS region of a run against a cluster, first found wins: the spec's `target.region`,
 * `AWS_REGION`, `AWS_DEFAULT_REGION` (the AWS CLI's; the JS SDK alone ignores it), the `region` of
 * the profile (`AWS_PROFILE`, else `default`) in the shared config file (`AWS_CONFIG_FILE`, else
 * ~/.aws/config) read by the SDK's own loader, then us-east-1. Which one gave it goes into run.json.
 */
import { loadSharedConfigFiles } from '@smithy/core/config';

/** The region when nothing names one. */
export const DEFAULT_REGION = 'us-east-1';

/** A region and where it came from. */
export interface ResolvedRegion {
  region: string;
  /** `target.region`, `AWS_REGION`, `AWS_DEFAULT_REGION`, `profile NAME in FILE`, or `default (…)`. */
  source: string;
}

/** Resolves the region (reads the shared config file only when neither the spec nor the environment names one). */
export async function resolveRegion(specRegion: string | undefined, env: Record<string, string | undefined>): Promise<ResolvedRegion> {
  if (specRegion?.trim()) return { region: specRegion.trim(), source: 'target.region' };
  // An empty variable (a CI variable that is not set) names nothing.
  for (const name of ['AWS_REGION', 'AWS_DEFAULT_REGION'] as const) {
    const value = env[name]?.trim();
    if (value) return { region: value, source: name };
  }
  const profile = env.AWS_PROFILE?.trim() || 'default';
  const configFile = env.AWS_CONFIG_FILE?.trim() || undefined;
  // The SDK's loader: `[default]` and `[profile NAME]` sections, `~/` expanded, a missing file read as empty.
  const { configFile: profiles } = await loadSharedConfigFiles({ ...(configFile ? { configFilepath: configFile } : {}), ignoreCache: true });
  const where = configFile ?? '~/.aws/config';
  const region = profiles[profile]?.region?.trim();
  if (region) return { region, source: `profile ${profile} in ${where}` };
  const why = profiles[profile] ? `profile ${profile} in ${where} has no region` : `no profile ${profile} in ${where}`;
  return { region: DEFAULT_REGION, source: `default: no target.region, AWS_REGION or AWS_DEFAULT_REGION, and ${why}` };
}
