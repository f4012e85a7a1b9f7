import { describe, expect, it } from 'vitest';
import { loadTwinConfig, parseTwinConfig } from '../../../harness/twin/config.ts';
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

describe('twin config: users', () => {
  it('defaults to none and takes names with groups', () => {
    expect(parseTwinConfig({}).users).toEqual([]);
    expect(parseTwinConfig({ users: [{ name: 'restricted' }, { name: 'ci', groups: ['readers'] }] }).users).toEqual([
      { name: 'restricted', groups: [] },
      { name: 'ci', groups: ['readers'] },
    ]);
  });

  it('refuses a bad name, system:masters and a name twice, with the path', () => {
    expect(() => parseTwinConfig({ users: [{ name: 'Not OK' }] })).toThrow(/users\[0\]\.name: expected a lowercase name/);
    expect(() => parseTwinConfig({ users: [{ name: 'x', groups: ['system:masters'] }] })).toThrow(/users\[0\]\.groups\[0\]: expected a group other than system:masters/);
    expect(() => parseTwinConfig({ users: [{ name: 'x' }, { name: 'x' }] })).toThrow(/users: expected distinct user names/);
  });

  it('gives the default world the user restricted', async () => {
    expect((await loadTwinConfig()).users).toEqual([{ name: 'restricted', groups: [] }]);
  });
});
