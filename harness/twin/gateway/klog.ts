/** The controller's own log lines, in klog's text format as ingress-nginx writes them to stderr. */

/** One klog line: `Lmmdd hh:mm:ss.uuuuuu <pid> <file:line>] "<message>" key="value"…`. */
export function klogLine(level: 'I' | 'W' | 'E', at: Date, pid: number, source: string, message: string, kv: Record<string, string | number> = {}): string {
  const p2 = (n: number) => String(n).padStart(2, '0');
  const stamp = `${p2(at.getUTCMonth() + 1)}${p2(at.getUTCDate())} ${p2(at.getUTCHours())}:${p2(at.getUTCMinutes())}:${p2(at.getUTCSeconds())}.${String(at.getUTCMilliseconds() * 1000).padStart(6, '0')}`;
  const pairs = Object.entries(kv).map(([k, v]) => ` ${k}=${typeof v === 'number' ? v : JSON.stringify(v)}`);
  return `${level}${stamp} ${String(pid).padStart(7)} ${source}] ${JSON.stringify(message)}${pairs.join('')}`;
}
