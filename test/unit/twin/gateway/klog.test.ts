import { describe, expect, it } from 'vitest';
import { klogLine } from '../../../../harness/twin/gateway/klog.ts';

describe("the controller's klog lines", () => {
  it('write level, month-day, time to the microsecond, pid, source, the quoted message and key=value pairs', () => {
    const at = new Date(Date.UTC(2026, 11, 3, 15, 4, 5, 67));
    expect(klogLine('I', at, 4242, 'controller.go:213', 'Backend successfully reloaded', { upstreams: 'shop-web-80=127.0.1.1:8080', pid: 7 })).toBe(
      'I1203 15:04:05.067000    4242 controller.go:213] "Backend successfully reloaded" upstreams="shop-web-80=127.0.1.1:8080" pid=7',
    );
    expect(klogLine('E', at, 1, 'main.go:60', 'say "no"')).toBe('E1203 15:04:05.067000       1 main.go:60] "say \\"no\\""');
  });
});
