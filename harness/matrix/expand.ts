/** Expansion of a spec into cells: pure, no I/O. */
import { gatewayOf, topologyOf, type CellConfig, type Disruption, type Spec, type Topology } from './schema.ts';
import { axisIdPart, OPTIONAL_AXIS_NAMES, type OptionalAxis } from './axes.ts';

/** One cell: one combination of matrix values × one disruption × one repetition. */
export interface Cell {
  /** Stable and readable, e.g. `rollout.gate-on.prestop-15.grace-30.dereg-300.r1`. */
  id: string;
  index: number;
  config: CellConfig;
  disruption: Disruption;
  repeat: number;
}

const AXES = ['readinessGate', 'preStopSeconds', 'terminationGracePeriodSeconds', 'deregistrationDelaySeconds'] as const;

/** True when every key set in `partial` equals the config's value. */
export function matchesPartial(config: Partial<CellConfig>, partial: Partial<CellConfig>): boolean {
  return Object.entries(partial).every(([k, v]) => (k === 'axes' ? Object.entries(v as Record<string, string>).every(([n, x]) => config.axes?.[n] === x) : config[k as keyof CellConfig] === v));
}

/** A name part from free text: lower case, `[a-z0-9-]` only. */
function slug(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
}

/**
 * The disruption with its options, as it names cells and table columns: `rollout`, `drain`,
 * `drain-spot`, `drain-node-a1`, `spot`, `spot-karpenter`, `spot-notice60`, `spot-fis`, `spot-fis300`,
 * `rebalance-managed-nodegroup`, `node-replace-karpenter`. Options at their defaults (handler nth,
 * node, notice 120 s) are left out, so the common ids stay short; a handler always shows otherwise, so
 * cells with different handlers are different cells. Only `[a-z0-9-]`: ids are file names and go
 * unquoted into shells.
 */
export function disruptionLabel(d: Disruption): string {
  if (d.kind === 'rollout') return 'rollout';
  const node = d.node.startsWith('node:') ? `node-${d.node.slice(5)}` : d.node;
  const parts: string[] = [d.kind];
  if ('handler' in d && d.handler && d.handler !== 'nth') parts.push(d.handler);
  if (node !== (d.kind === 'drain' || d.kind === 'node-replace' ? 'most-pods' : 'spot')) parts.push(slug(node));
  // Through FIS the notice is FIS's own (2 minutes before the end): the duration names the cell instead.
  if (d.kind === 'spot' && d.via === 'fis') parts.push((d.durationBeforeInterruption ?? 120) === 120 ? 'fis' : `fis${d.durationBeforeInterruption}`);
  else if (d.kind === 'spot' && d.noticeSeconds !== 120) parts.push(`notice${d.noticeSeconds}`);
  return parts.join('-');
}

/**
 * The readable id of a config × disruption × repeat. The four built-in axes always name it; an
 * optional axis only when it is in `varying` (it takes more than one value in the run). The gateway
 * topology always does (`gw`, `gw-disrupt-gw` when the gateway is what is disrupted), the direct one
 * never, so a direct cell's id is the same with or without a `topology` axis.
 */
export function cellId(config: CellConfig, disruption: Disruption, repeat: number, varying: readonly string[] = [], gatewayDisrupted = false): string {
  const d = disruptionLabel(disruption);
  const optional = OPTIONAL_AXIS_NAMES.filter((a) => a !== 'topology' && varying.includes(a) && config[a] !== undefined).map((a) => axisIdPart(a, config[a]));
  if (config.topology === 'gateway') optional.push(gatewayDisrupted ? 'gw-disrupt-gw' : 'gw');
  // A generic axis: its name and the value's name (`keepalive-above-alb`).
  const generic = Object.entries(config.axes ?? {}).filter(([name]) => varying.includes(`axes.${name}`)).map(([name, value]) => `${slug(name)}-${value}`);
  return [d, config.readinessGate ? 'gate-on' : 'gate-off', `prestop-${config.preStopSeconds}`, `grace-${config.terminationGracePeriodSeconds}`, `dereg-${config.deregistrationDelaySeconds}`, ...optional, ...generic, `r${repeat}`].join('.');
}

/** The optional axes present in the matrix (varied or set to one value for every cell). */
export function optionalAxesOf(matrix: Spec['matrix']): OptionalAxis[] {
  return OPTIONAL_AXIS_NAMES.filter((a) => matrix[a] !== undefined);
}

/** The optional axes that take more than one value among the configs: those shown in cell ids and tables. */
export function varyingAxes(configs: readonly Partial<CellConfig>[]): OptionalAxis[] {
  return OPTIONAL_AXIS_NAMES.filter((a) => new Set(configs.map((c) => JSON.stringify(c[a] ?? null))).size > 1);
}

/** The generic axes (by name) that take more than one value among the configs. */
export function varyingGenericAxes(configs: readonly Partial<CellConfig>[]): string[] {
  const names = [...new Set(configs.flatMap((c) => Object.keys(c.axes ?? {})))];
  return names.filter((n) => new Set(configs.map((c) => c.axes?.[n] ?? '')).size > 1);
}

/** The distinct configs of the matrix: the product of the axes, plus includes, minus excludes. */
export function expandConfigs(matrix: Spec['matrix'], generic: Spec['axes'] = {}): CellConfig[] {
  const axes = [...AXES, ...optionalAxesOf(matrix)];
  let configs: CellConfig[] = [{} as CellConfig];
  for (const axis of axes) {
    const values = matrix[axis] as Array<CellConfig[typeof axis]>;
    configs = configs.flatMap((c) => values.map((v) => ({ ...c, [axis]: v })));
  }
  for (const [name, axis] of Object.entries(generic)) {
    configs = configs.flatMap((c) => Object.keys(axis.values).map((v) => ({ ...c, axes: { ...c.axes, [name]: v } })));
  }
  const firstGeneric = Object.keys(generic).length ? { axes: Object.fromEntries(Object.entries(generic).map(([name, axis]) => [name, Object.keys(axis.values)[0]])) } : {};
  for (const partial of matrix.include) {
    const base = { ...Object.fromEntries(axes.map((a) => [a, (matrix[a] as unknown[])[0]])), ...firstGeneric } as CellConfig;
    configs.push({ ...base, ...partial });
  }
  const seen = new Set<string>();
  return configs.filter((c) => {
    const key = JSON.stringify([...axes.map((a) => c[a] ?? null), c.axes ?? null]);
    if (seen.has(key) || matrix.exclude.some((x) => matchesPartial(c, x))) return false;
    seen.add(key);
    return true;
  });
}

/** The paths the spec's cells take, direct first. */
export function topologiesOf(spec: Pick<Spec, 'target' | 'matrix' | 'axes'>): Topology[] {
  const used = new Set(expandConfigs(spec.matrix, spec.axes).map((c) => topologyOf(spec, c)));
  return (['direct', 'gateway'] as const).filter((t) => used.has(t));
}

/**
 * Every cell of the spec, in run order: config-major, then disruption, then repetition. A gateway
 * target without a `topology` axis puts `topology: gateway` in each config (a direct one puts nothing).
 */
export function expandCells(spec: Spec): Cell[] {
  const cells: Cell[] = [];
  const configs = expandConfigs(spec.matrix, spec.axes).map((c): CellConfig => (c.topology === undefined && topologyOf(spec, c) === 'gateway' ? { ...c, topology: 'gateway' } : c));
  const varying = [...varyingAxes(configs), ...varyingGenericAxes(configs).map((n) => `axes.${n}`)];
  const gatewayDisrupted = gatewayOf(spec.target).disrupt === 'gateway';
  for (const config of configs) {
    for (const disruption of spec.disruptions) {
      for (let r = 1; r <= spec.repeat; r++) {
        cells.push({ id: cellId(config, disruption, r, varying, gatewayDisrupted), index: cells.length, config, disruption, repeat: r });
      }
    }
  }
  return cells;
}
