import { describe, expect, it } from 'vitest';
import { parseTwinConfig } from '../../../harness/twin/config.ts';
import { DEFAULT_LOG_LIMITS } from '../../../harness/twin/runtime/logs.ts';

describe('twin config: cluster.podLogs', () => {
  it('defaults to the kubelet’s log limits and takes others', () => {
    expect(parseTwinConfig({}).cluster.podLogs).toEqual(DEFAULT_LOG_LIMITS);
    expect(parseTwinConfig({ cluster: { podLogs: { maxLines: 10 } } }).cluster.podLogs).toEqual({ maxLines: 10, maxBytes: DEFAULT_LOG_LIMITS.maxBytes });
  });

  it('refuses a limit below 1 with its path', () => {
    expect(() => parseTwinConfig({ cluster: { podLogs: { maxBytes: 0 } } })).toThrow(/cluster\.podLogs\.maxBytes/);
  });
});
