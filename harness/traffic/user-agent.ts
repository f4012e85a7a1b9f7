/**
 * The User-Agent of the harness's traffic: `rollout-harness/<version> <run-id>/<cell-id>`. The ALB
 * writes it into every access-log entry, which is how a cell's entries are picked out of a busy
 * load balancer's log (see harness/explain/).
 */

/** The User-Agent for one cell of one run. */
export function userAgentFor(version: string, runId: string, cellId: string): string {
  for (const [name, value] of [['version', version], ['run id', runId], ['cell id', cellId]] as const) {
    // A space or a quote would make the entry ambiguous to pick out (the log quotes the field).
    if (!value || /[\s"\\]/.test(value)) throw new RangeError(`Expected the ${name} to be non-empty without spaces, quotes or backslashes, got ${JSON.stringify(value)}`);
  }
  return `rollout-harness/${version} ${runId}/${cellId}`;
}

/** The run and cell a harness User-Agent names, or undefined for any other User-Agent. */
export function parseUserAgent(userAgent: string | null | undefined): { version: string; runId: string; cellId: string } | undefined {
  const m = /^rollout-harness\/(\S+) ([^\s/]+)\/(\S+)$/.exec(userAgent ?? '');
  return m ? { version: m[1], runId: m[2], cellId: m[3] } : undefined;
}

/**
 * The cell id a cell's counted traffic carries in its User-Agent: the cell's id, or `<id>.w<N>` when
 * the cell warmed up N times (earlier warm-ups were abandoned before the disruption, their traffic
 * under their own `.w<k>`, so an access log's entries of the counted traffic are told from theirs).
 */
export function trafficCellId(cellId: string, warmup: number): string {
  return warmup <= 1 ? cellId : `${cellId}.w${warmup}`;
}

/** The User-Agent of a cell result's counted traffic (see trafficCellId). */
export function cellUserAgent(version: string, runId: string, cell: { id: string; warmupsAbandoned?: readonly unknown[] }): string {
  return userAgentFor(version, runId, trafficCellId(cell.id, (cell.warmupsAbandoned?.length ?? 0) + 1));
}
