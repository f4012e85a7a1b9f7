/**
 * The control-plane model: target groups with their targets' state machine, health checks and
 * deregistration delay, and each LB node's lagging view of a target group (round robin,
 * fail-open). No HTTP here except through the injected health probe.
 */
import type { Clock, Timer } from '../../core/clock.ts';
import type { Random } from '../../core/random.ts';
import type { HealthCheckConfig, LagDistribution, TwinConfig } from '../config.ts';
import { classifyProbe, healthStep, reasonDescriptions, type HealthProbe, type Thresholds } from './health.ts';
import { sampleLagMs } from './lag.ts';
import { parseMatcher } from './matcher.ts';
import type { AlbEvent, TargetGroupInfo, TargetHealth, TargetRef, TargetState } from './types.ts';

/** One registered target of one target group, shared by the control plane and the data plane. */
export interface TargetEntry {
  /** `ip:port`. */
  readonly key: string;
  readonly ref: TargetRef;
  readonly group: TargetGroupModel;
  availabilityZone?: string;
  state: TargetState;
  reason?: string;
  description?: string;
  passes: number;
  failures: number;
  /** False once the target has left the group (deregistration finished): never routed again. */
  inGroup: boolean;
  /** Requests the data plane has sent to the target and not yet finished. */
  inFlight: number;
  /** Connections the LB nodes hold open to the target. */
  openConnections: number;
  /** Aborts the in-flight requests when the deregistration delay elapses. */
  readonly inFlightAborts: Set<() => void>;
  /** The next health check, or the end of Elb.RegistrationInProgress. */
  checkTimer?: Timer;
  checking: boolean;
  drainTimer?: Timer;
  /** Model ms of the last deregistration (start of draining). */
  deregisteredAt?: number;
  /** Why the target left the group: the delay elapsed, it drained early, or it was never in use. */
  leftBy?: 'delay' | 'drained' | 'unused';
  /** Bumped on every (re)registration and state change that stops checks, so late results are ignored. */
  epoch: number;
  /** Model ms the target entered slow start mode and the ms it leaves it (set only while in slow start). */
  slowStart?: { from: number; until: number };
  /** The RegisterTargets call that (re)registered the target: targets registered together do not warm each other. */
  registration?: number;
}

/** The routing algorithms of an ALB target group (`load_balancing.algorithm.type`). */
export type RoutingAlgorithm = 'round_robin' | 'least_outstanding_requests' | 'weighted_random';

/**
 * A target's share of requests relative to a target not in slow start, at model ms `now`: 1, or
 * the fraction of its slow start window that has passed (the ELB guide: the load balancer
 * "linearly increases the number of requests that it can send to a target in slow start mode").
 */
export function slowStartWeight(entry: TargetEntry, now: number): number {
  const s = entry.slowStart;
  if (!s || now >= s.until) return 1;
  return Math.max(0, (now - s.from) / (s.until - s.from));
}

/** What a target group needs from the twin around it. */
export interface GroupContext {
  clock: Clock;
  /** Registration times and the phase of the first health check. */
  random: Random;
  alb: TwinConfig['alb'];
  probe: HealthProbe;
  emit(event: AlbEvent): void;
  /** The target has left the group: abort its in-flight requests, drop its connections. */
  onLeft(entry: TargetEntry): void;
}

const CHECKED: ReadonlySet<TargetState> = new Set(['initial', 'healthy', 'unhealthy']);

/** The default attributes of an HTTP target group with IP targets, as ELBv2 reports them. */
export function defaultTargetGroupAttributes(alb: TwinConfig['alb']): Record<string, string> {
  return {
    'deregistration_delay.timeout_seconds': String(alb.deregistrationDelaySeconds),
    'stickiness.enabled': 'false',
    'stickiness.type': 'lb_cookie',
    'stickiness.lb_cookie.duration_seconds': '86400',
    'slow_start.duration_seconds': String(alb.slowStartSeconds),
    'load_balancing.algorithm.type': 'round_robin',
    'load_balancing.algorithm.anomaly_mitigation': 'off',
    'load_balancing.cross_zone.enabled': 'use_load_balancer_configuration',
  };
}

/** A target group: its targets, their state machine and health checks, and the LB node views that route to it. */
export class TargetGroupModel {
  readonly targets = new Map<string, TargetEntry>();
  readonly views = new Set<NodeView>();
  /** Targets that drained early while an LB node still routes to them: still listed as draining. */
  readonly #lingering = new Map<string, TargetEntry>();
  attributes: Record<string, string>;
  #matches: (status: number) => boolean;
  #closed = false;
  #registrations = 0;

  constructor(
    readonly info: TargetGroupInfo,
    private readonly ctx: GroupContext,
  ) {
    this.attributes = defaultTargetGroupAttributes(ctx.alb);
    const m = parseMatcher(info.healthCheck.matcher);
    if (!m.ok) throw new Error(`Target group ${info.name}: ${m.error}`);
    this.#matches = m.matches;
  }

  /** True when a load balancer's listener forwards to the group (otherwise targets are unused/Target.NotInUse). */
  get inUse(): boolean {
    return this.info.loadBalancerArns.length > 0;
  }

  /** Registers targets: new ones (and draining ones again) start in initial/Elb.RegistrationInProgress. */
  register(targets: Array<TargetRef & { availabilityZone?: string }>): void {
    const registration = ++this.#registrations;
    for (const ref of targets) {
      const key = `${ref.id}:${ref.port}`;
      const existing = this.targets.get(key);
      if (existing && existing.state !== 'draining') {
        if (ref.availabilityZone) existing.availabilityZone = ref.availabilityZone;
        continue; // Registering a registered target is a no-op, as in ELBv2.
      }
      const entry: TargetEntry = existing ?? {
        key,
        ref: { id: ref.id, port: ref.port },
        group: this,
        availabilityZone: ref.availabilityZone,
        state: 'unused',
        passes: 0,
        failures: 0,
        inGroup: true,
        inFlight: 0,
        openConnections: 0,
        inFlightAborts: new Set(),
        checking: false,
        epoch: 0,
      };
      if (ref.availabilityZone) entry.availabilityZone = ref.availabilityZone;
      entry.registration = registration;
      entry.drainTimer?.cancel();
      entry.drainTimer = undefined;
      this.targets.set(key, entry);
      this.#admit(entry);
    }
  }

  /** Deregisters targets: draining until the delay elapses, or at once when nothing is in flight or connected. */
  deregister(targets: TargetRef[]): void {
    for (const ref of targets) {
      const entry = this.targets.get(`${ref.id}:${ref.port}`);
      if (!entry || entry.state === 'draining') continue;
      this.#stopChecks(entry);
      if (entry.state === 'unused') {
        // Never in use: nothing to drain.
        this.#leave(entry, 'unused');
        continue;
      }
      entry.deregisteredAt = this.ctx.clock.now();
      this.#setState(entry, 'draining', 'Target.DeregistrationInProgress');
      entry.drainTimer = this.ctx.clock.setTimeout(() => this.#leave(entry, 'delay'), this.deregistrationDelayMs);
      this.#maybeFinishDrain(entry);
    }
  }

  /** The deregistration delay in model ms (the group's attribute). */
  get deregistrationDelayMs(): number {
    return Number(this.attributes['deregistration_delay.timeout_seconds']) * 1000;
  }

  /** DescribeTargetHealth rows: every registered target, or the asked ones (unused when not registered). */
  health(targets?: TargetRef[]): TargetHealth[] {
    const lingering = [...this.#lingering.values()].filter((e) => !this.targets.has(e.key));
    const rows = targets
      ? targets.map((ref) => this.targets.get(`${ref.id}:${ref.port}`) ?? this.#lingering.get(`${ref.id}:${ref.port}`) ?? ref)
      : [...this.targets.values(), ...lingering];
    return rows.map((row) => {
      if (!('key' in row)) {
        return {
          target: { id: row.id, port: row.port },
          state: 'unused' as const,
          reason: 'Target.NotRegistered',
          description: reasonDescriptions['Target.NotRegistered'],
        };
      }
      if (!row.inGroup) {
        // Drained early, but an LB node still routes to it: the API still says draining.
        return {
          target: { ...row.ref },
          availabilityZone: row.availabilityZone,
          state: 'draining' as const,
          reason: 'Target.DeregistrationInProgress',
          description: reasonDescriptions['Target.DeregistrationInProgress'],
        };
      }
      return {
        target: { ...row.ref },
        availabilityZone: row.availabilityZone,
        state: row.state,
        reason: row.reason,
        description: row.description,
      };
    });
  }

  /** Applies a validated health-check configuration; checks continue on the new interval. */
  setHealthCheck(healthCheck: HealthCheckConfig): void {
    const m = parseMatcher(healthCheck.matcher);
    if (!m.ok) throw new Error(`Target group ${this.info.name}: ${m.error}`);
    const intervalChanged = healthCheck.intervalSeconds !== this.info.healthCheck.intervalSeconds;
    this.info.healthCheck = healthCheck;
    this.#matches = m.matches;
    // Controllers re-apply the same settings on every reconcile: that must not postpone checks.
    if (!intervalChanged) return;
    for (const entry of this.targets.values()) {
      if (entry.checkTimer && entry.reason !== 'Elb.RegistrationInProgress') this.#scheduleCheck(entry, healthCheck.intervalSeconds * 1000);
    }
  }

  /** A load balancer's listener now forwards here: its node views start, targets not in use start checking. */
  attach(loadBalancerArn: string, views: NodeView[]): void {
    if (!this.info.loadBalancerArns.includes(loadBalancerArn)) this.info.loadBalancerArns.push(loadBalancerArn);
    for (const view of views) {
      this.views.add(view);
      view.sync(this.targets.values());
    }
    for (const entry of this.targets.values()) if (entry.state === 'unused') this.#admit(entry);
  }

  /** The data plane sent a request to the target. */
  requestStarted(entry: TargetEntry): void {
    entry.inFlight++;
  }

  /** A request to the target finished (answered, failed or aborted). */
  requestFinished(entry: TargetEntry): void {
    entry.inFlight--;
    this.#maybeFinishDrain(entry);
  }

  /** An LB node opened a connection to the target. */
  connectionOpened(entry: TargetEntry): void {
    entry.openConnections++;
  }

  /** A connection from an LB node to the target closed. */
  connectionClosed(entry: TargetEntry): void {
    entry.openConnections--;
    this.#maybeFinishDrain(entry);
  }

  /** An LB node stopped routing to a target that had left the group: once none does, it is gone from the API too. */
  viewDropped(entry: TargetEntry): void {
    if (this.#lingering.get(entry.key) !== entry) return;
    if (![...this.views].some((v) => v.isRoutable(entry))) this.#lingering.delete(entry.key);
  }

  /** Stops every timer of the group. */
  close(): void {
    this.#closed = true;
    this.#lingering.clear();
    for (const entry of this.targets.values()) {
      this.#stopChecks(entry);
      entry.drainTimer?.cancel();
    }
    for (const view of this.views) view.close();
  }

  #thresholds(): Thresholds {
    const hc = this.info.healthCheck;
    return {
      newTargetPassingChecks: this.ctx.alb.newTargetPassingChecks === 1 ? 1 : hc.healthyThreshold,
      healthyThreshold: hc.healthyThreshold,
      unhealthyThreshold: hc.unhealthyThreshold,
    };
  }

  /**
   * Starts a (re)registered target when the group is in use (else unused/NotInUse): registration
   * takes a sampled time, then the checks run on the group's interval schedule, the first one at
   * a random point of the first interval (the nodes' schedule does not start at registration).
   */
  #admit(entry: TargetEntry): void {
    entry.epoch++;
    entry.passes = 0;
    entry.failures = 0;
    entry.deregisteredAt = undefined;
    if (!this.inUse) {
      this.#setState(entry, 'unused', 'Target.NotInUse');
      return;
    }
    this.#setState(entry, 'initial', 'Elb.RegistrationInProgress');
    this.#stopChecks(entry);
    const registrationMs = sampleLagMs(this.ctx.random, this.ctx.alb.registrationTime);
    const epoch = entry.epoch;
    entry.checkTimer = this.ctx.clock.setTimeout(() => {
      if (epoch !== entry.epoch || this.#closed) return;
      this.#setState(entry, 'initial', 'Elb.InitialHealthChecking');
      const intervalMs = this.info.healthCheck.intervalSeconds * 1000;
      this.#scheduleCheck(entry, this.ctx.random.between(0, intervalMs));
    }, registrationMs);
  }

  /** The next check in `firstMs`, then one every interval. */
  #scheduleCheck(entry: TargetEntry, firstMs: number): void {
    entry.checkTimer?.cancel();
    const tick = () => {
      entry.checkTimer = this.ctx.clock.setTimeout(tick, this.info.healthCheck.intervalSeconds * 1000);
      void this.#check(entry);
    };
    entry.checkTimer = this.ctx.clock.setTimeout(tick, firstMs);
  }

  #stopChecks(entry: TargetEntry): void {
    entry.checkTimer?.cancel();
    entry.checkTimer = undefined;
    entry.checking = false;
    entry.epoch++;
  }

  async #check(entry: TargetEntry): Promise<void> {
    if (entry.checking || !CHECKED.has(entry.state) || this.#closed) return;
    entry.checking = true;
    const epoch = entry.epoch;
    const hc = this.info.healthCheck;
    const port = hc.port === 'traffic-port' ? entry.ref.port : hc.port;
    const result = await this.ctx.probe({ host: entry.ref.id, port, path: hc.path }, hc.timeoutSeconds * 1000);
    if (epoch !== entry.epoch || this.#closed || !CHECKED.has(entry.state)) return;
    entry.checking = false;
    const failure = classifyProbe(result, this.#matches);
    const next = healthStep(
      { state: entry.state as 'initial' | 'healthy' | 'unhealthy', passes: entry.passes, failures: entry.failures, reason: entry.reason, description: entry.description },
      failure,
      this.#thresholds(),
    );
    entry.passes = next.passes;
    entry.failures = next.failures;
    this.#setState(entry, next.state, next.reason, next.description);
  }

  /** The group's routing algorithm. */
  get algorithm(): RoutingAlgorithm {
    return this.attributes['load_balancing.algorithm.type'] as RoutingAlgorithm;
  }

  /**
   * The ELB guide, "Slow start mode": a target enters slow start when the group considers it
   * healthy, and only when at least one other healthy target is not in slow start; targets
   * registered by one call into an empty group do not (so a peer from the same call does not
   * count), nor do targets already healthy when slow start is turned on. Round robin only: the
   * guide rules it out for the other two algorithms, and `modifyTargetGroupAttributes` refuses
   * the combination.
   */
  #maybeEnterSlowStart(entry: TargetEntry): void {
    const durationMs = Number(this.attributes['slow_start.duration_seconds']) * 1000;
    if (!(durationMs > 0) || this.algorithm !== 'round_robin') return;
    const now = this.ctx.clock.now();
    const warm = (t: TargetEntry) => t.inGroup && t.state === 'healthy' && (!t.slowStart || now >= t.slowStart.until);
    const warmPeer = [...this.targets.values()].some((t) => t !== entry && t.registration !== entry.registration && warm(t));
    if (warmPeer) entry.slowStart = { from: now, until: now + durationMs };
  }

  #maybeFinishDrain(entry: TargetEntry): void {
    if (entry.state === 'draining' && entry.inGroup && entry.inFlight <= 0 && entry.openConnections <= 0) this.#leave(entry, 'drained');
  }

  #leave(entry: TargetEntry, by: 'delay' | 'drained' | 'unused'): void {
    if (!entry.inGroup) return;
    entry.leftBy = by;
    entry.drainTimer?.cancel();
    entry.drainTimer = undefined;
    this.#stopChecks(entry);
    entry.inGroup = false;
    if (this.targets.get(entry.key) === entry) this.targets.delete(entry.key);
    this.#setState(entry, 'unused', 'Target.NotRegistered');
    if (by === 'drained' && [...this.views].some((v) => v.isRoutable(entry))) this.#lingering.set(entry.key, entry);
    this.ctx.onLeft(entry);
  }

  #setState(entry: TargetEntry, to: TargetState, reason?: string, description?: string): void {
    const from = entry.state;
    entry.state = to;
    entry.reason = reason;
    entry.description = description ?? (reason ? reasonDescriptions[reason] : undefined);
    if (from === to) return;
    // A target leaves slow start when it turns unhealthy or is deregistered, and enters it (again) when it turns healthy.
    entry.slowStart = undefined;
    if (to === 'healthy') this.#maybeEnterSlowStart(entry);
    this.ctx.emit({
      type: 'target-state',
      time: this.ctx.clock.now() / 1000,
      targetGroupArn: this.info.arn,
      target: { ...entry.ref },
      from,
      to,
      ...(reason ? { reason } : {}),
    });
    for (const view of this.views) view.update(entry);
  }
}

interface ViewEntry {
  /** The state this node believes the target is in. */
  state: TargetState;
  routable: boolean;
  pending?: Timer;
  pendingRoutable?: boolean;
  pendingState?: TargetState;
}

/** What an LB node chose for one request. */
export type RouteChoice =
  | { kind: 'target'; entry: TargetEntry; viewState: TargetState; failOpen: boolean }
  | { kind: 'none' };

/** What a node view needs from around it. */
export interface ViewContext {
  clock: Clock;
  random: Random;
  registrationLag: LagDistribution;
  deregistrationLag: LagDistribution;
  emit(event: AlbEvent): void;
  /** The node no longer routes new requests to the target: its idle connections can go. */
  onUnroutable(entry: TargetEntry): void;
}

/**
 * One LB node's view of one target group. A target becomes routable here a sampled
 * registration lag after it turned healthy, and stops being routable a sampled deregistration
 * lag after it turned draining or unhealthy. The lag of a deregistration counts from the
 * deregistration and ends at the latest when the deregistration delay does: a target that
 * drained early (the control plane's state) keeps getting new requests here until this node's
 * lag has passed, while a target whose delay elapsed is gone at once.
 */
export class NodeView {
  #entries = new Map<TargetEntry, ViewEntry>();
  #routable: TargetEntry[] = [];
  #failOpen: TargetEntry[] = [];
  #rr = 0;
  /** Requests this node has in progress per target (least outstanding requests). */
  readonly #outstanding = new Map<TargetEntry, number>();
  /** Credits of the smooth weighted round robin, while a target is in slow start. */
  readonly #credits = new Map<TargetEntry, number>();
  /** Weighted random's draws, apart from the lags' so choosing the algorithm does not change them. */
  readonly #routingRandom: Random;

  constructor(
    readonly lbNode: string,
    readonly targetGroupArn: string,
    private readonly ctx: ViewContext,
  ) {
    this.#routingRandom = ctx.random.fork('routing');
  }

  /** Takes the group's current targets as they are, without lag (the view starts now). */
  sync(entries: Iterable<TargetEntry>): void {
    for (const entry of entries) {
      if (!entry.inGroup || this.#entries.has(entry)) continue;
      this.#entries.set(entry, { state: entry.state, routable: entry.state === 'healthy' });
    }
    this.#rebuild();
  }

  /** The control-plane state of `entry` changed: propagate it to this view after the node's lag. */
  update(entry: TargetEntry): void {
    let v = this.#entries.get(entry);
    if (!entry.inGroup) {
      if (!v) return;
      // Drained early: this node has not heard of the deregistration yet and routes on until its lag ends.
      if (entry.leftBy === 'drained' && v.routable && v.pending && v.pendingRoutable === false) return;
      v.pending?.cancel();
      this.#entries.delete(entry);
      this.#rebuild();
      if (v.routable) this.#emitRoutable(entry, false);
      return;
    }
    if (!v) {
      v = { state: entry.state, routable: false };
      this.#entries.set(entry, v);
    }
    const want = entry.state === 'healthy';
    if (v.pending && v.pendingRoutable === want) {
      // The propagation already under way ends in the same routability: keep its lag.
      v.pendingState = entry.state;
      return;
    }
    v.pending?.cancel();
    v.pending = undefined;
    if (want === v.routable) {
      v.state = entry.state;
      this.#rebuild();
      return;
    }
    let lagMs = sampleLagMs(this.ctx.random, want ? this.ctx.registrationLag : this.ctx.deregistrationLag);
    if (entry.state === 'draining' && entry.deregisteredAt !== undefined) {
      // No node routes a new request to a target once its deregistration delay has elapsed.
      const untilDelayMs = entry.deregisteredAt + entry.group.deregistrationDelayMs - this.ctx.clock.now();
      lagMs = Math.max(0, Math.min(lagMs, untilDelayMs));
    }
    const view = v;
    view.pendingRoutable = want;
    view.pendingState = entry.state;
    view.pending = this.ctx.clock.setTimeout(() => {
      view.pending = undefined;
      view.state = view.pendingState ?? entry.state;
      view.routable = want;
      if (!entry.inGroup) this.#entries.delete(entry);
      this.#rebuild();
      this.#emitRoutable(entry, want);
      if (!want) this.ctx.onUnroutable(entry);
      if (!entry.inGroup) entry.group.viewDropped(entry);
    }, lagMs);
  }

  /**
   * Picks a target by the group's algorithm over the routable targets; fail open over unhealthy
   * ones; none → the caller answers 503. Round robin weighs targets in slow start by their ramp.
   */
  pick(): RouteChoice {
    let list = this.#routable;
    let failOpen = false;
    if (list.length === 0) {
      list = this.#failOpen;
      failOpen = true;
      if (list.length === 0) return { kind: 'none' };
    }
    const entry = this.#choose(list, list[0].group.algorithm);
    return { kind: 'target', entry, viewState: this.#entries.get(entry)!.state, failOpen };
  }

  /** This node sent a request to `entry` (least outstanding requests counts them per node). */
  requestStarted(entry: TargetEntry): void {
    this.#outstanding.set(entry, (this.#outstanding.get(entry) ?? 0) + 1);
  }

  /** A request this node sent to `entry` finished. */
  requestFinished(entry: TargetEntry): void {
    const n = (this.#outstanding.get(entry) ?? 0) - 1;
    if (n > 0) this.#outstanding.set(entry, n);
    else this.#outstanding.delete(entry);
  }

  /** Requests this node has outstanding at `entry`. */
  outstanding(entry: TargetEntry): number {
    return this.#outstanding.get(entry) ?? 0;
  }

  #choose(list: TargetEntry[], algorithm: RoutingAlgorithm): TargetEntry {
    if (algorithm === 'weighted_random') {
      // "Routes requests evenly across healthy targets in the target group, in a random order."
      return list[Math.min(list.length - 1, Math.floor(this.#routingRandom.next() * list.length))];
    }
    if (this.#rr >= list.length) this.#rr = 0;
    if (algorithm === 'least_outstanding_requests') {
      // The fewest requests this node has in progress at the target; ties (undocumented) go round
      // robin, starting after the last pick, so idle targets share the load evenly.
      let best = -1;
      for (let i = 0; i < list.length; i++) {
        const at = (this.#rr + i) % list.length;
        if (best < 0 || this.outstanding(list[at]) < this.outstanding(list[best])) best = at;
      }
      this.#rr = best + 1;
      return list[best];
    }
    const now = this.ctx.clock.now();
    if (list.some((e) => slowStartWeight(e, now) < 1)) return this.#chooseWeighted(list, now);
    this.#credits.clear();
    return list[this.#rr++];
  }

  /**
   * Smooth weighted round robin (each pick adds every target's weight to its credit and takes the
   * target with the most, which then pays the total): a target's share follows its weight exactly,
   * so a target in slow start gets a share that grows linearly with its window.
   */
  #chooseWeighted(list: TargetEntry[], now: number): TargetEntry {
    let total = 0;
    let best = list[0];
    let bestCredit = -Infinity;
    for (const e of list) {
      const w = slowStartWeight(e, now);
      total += w;
      const credit = (this.#credits.get(e) ?? 0) + w;
      this.#credits.set(e, credit);
      if (credit > bestCredit) {
        best = e;
        bestCredit = credit;
      }
    }
    this.#credits.set(best, bestCredit - total);
    return best;
  }

  /** True when this node routes new requests to `entry` (not counting fail-open). */
  isRoutable(entry: TargetEntry): boolean {
    return this.#entries.get(entry)?.routable === true;
  }

  /** The view as rows, for tests and diagnostics. */
  snapshot(): Array<{ target: string; state: TargetState; routable: boolean }> {
    return [...this.#entries].map(([e, v]) => ({ target: e.key, state: v.state, routable: v.routable }));
  }

  /** Cancels pending propagations. */
  close(): void {
    for (const v of this.#entries.values()) v.pending?.cancel();
  }

  #rebuild(): void {
    const routable: TargetEntry[] = [];
    const unhealthy: TargetEntry[] = [];
    let others = 0;
    // Targets that left the group early stay here, routable, until this node's lag has passed.
    for (const [entry, v] of this.#entries) {
      if (v.routable) routable.push(entry);
      else if (v.state === 'unhealthy') unhealthy.push(entry);
      else if (v.state !== 'draining') others++;
    }
    this.#routable = routable;
    for (const e of this.#credits.keys()) if (!routable.includes(e)) this.#credits.delete(e);
    // Fail open only when every registered, non-draining target is unhealthy (ELBv2: "only unhealthy targets").
    this.#failOpen = routable.length === 0 && others === 0 ? unhealthy : [];
  }

  #emitRoutable(entry: TargetEntry, routable: boolean): void {
    this.ctx.emit({
      type: 'target-routable',
      time: this.ctx.clock.now() / 1000,
      targetGroupArn: this.targetGroupArn,
      target: { ...entry.ref },
      lbNode: this.lbNode,
      routable,
    });
  }
}
