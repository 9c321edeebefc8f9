// The membership driver: runs the sans-I/O core against a transport and a clock, answers the control
// server's membership requests, bootstraps (and re-bootstraps when every member is gone), and turns the
// core's events into `up` / `update` / `down` events for the daemon.
import { EventEmitter } from 'node:events';
import { TunmeshError } from '../base/errors.js';
import { silentLogger, type Logger } from '../base/log.js';
import type { Metrics } from '../metrics/registry.js';
import { backoffMs, expandBootstrapUrls, sameUrl, systemResolver, type Resolver } from './bootstrap.js';
import { MembershipCore, type Action } from './core.js';
import type { GossipRequest, JoinReply, MembershipHandler, MembershipTransport, Reply, Request } from './messages.js';
import type { NodeRecord } from './record.js';
import type { RecordAuth } from './record-auth.js';
import { cryptoRng, shuffle, type Rng } from './rng.js';
import type { DownReason, MemberState, MembershipEvent } from './table.js';
import { deriveTiming, type MembershipTiming } from './timing.js';

/** Structurally the same as platform's Clock, so the daemon passes that one. */
export interface MembershipClock {
  now(): number;
  wallNow(): number;
  after(ms: number, fn: () => void): { cancel(): void };
}

export interface MembershipOptions extends MembershipTiming {
  readonly bootstrapRetryMinMs: number;
  readonly bootstrapRetryMaxMs: number;
  /** Tuning with sensible defaults derived from probeIntervalMs / failureTimeoutMs (see timing.ts). */
  readonly gossipIntervalMs?: number;
  readonly syncIntervalMs?: number;
  readonly tombstoneMs?: number;
  readonly retransmitMult?: number;
  readonly reconnectIntervalMs?: number;
  readonly reconnectTimeoutMs?: number;
}

export interface MembershipDeps {
  /** This node's record; epoch = start time of this instance (wall ms), version usually 0. */
  readonly self: NodeRecord;
  /** Signs this node's record and verifies others' (record-auth.ts: recordAuth(privateKey)). */
  readonly auth: RecordAuth;
  readonly options: MembershipOptions;
  readonly transport: MembershipTransport;
  readonly clock: MembershipClock;
  /** Bootstrap API URLs; a DNS name is resolved to all its addresses and each is tried. */
  readonly bootstrap?: readonly string[];
  readonly rng?: Rng;
  readonly resolve?: Resolver;
  readonly logger?: Logger;
  readonly metrics?: Metrics;
}

export interface MemberStatus {
  readonly id: string;
  readonly state: MemberState;
  /** Wall-clock ms of the last sign of life. */
  readonly lastSeen: number;
  /** False when the record lost an overlay address conflict (it is then not a peer). */
  readonly admitted: boolean;
  readonly record: NodeRecord | undefined;
}

export interface MembershipHealth {
  /** Joined through a bootstrap node, or has members, or has nothing to bootstrap from. */
  readonly joined: boolean;
  readonly bootstrapping: boolean;
  readonly running: boolean;
  readonly members: number;
}

export interface MembershipEvents {
  up: [record: NodeRecord];
  update: [record: NodeRecord];
  down: [id: string, reason: DownReason];
}

export class Membership extends EventEmitter<MembershipEvents> implements MembershipHandler {
  readonly #core: MembershipCore;
  readonly #deps: MembershipDeps;
  readonly #rng: Rng;
  readonly #log: Logger;
  readonly #replies = new Map<number, { resolve: (r: Reply) => void }>();
  readonly #inflight = new Set<Promise<void>>();
  #nextRequestId = 1;
  #timer: { cancel(): void } | undefined;
  #timerAt = Infinity;
  #running = false;
  #joined: boolean;
  #bootstrapping = false;
  #bootstrapAttempt = 0;
  #bootstrapTimer: { cancel(): void } | undefined;

  constructor(deps: MembershipDeps) {
    super();
    this.#deps = deps;
    this.#rng = deps.rng ?? cryptoRng();
    this.#log = deps.logger ?? silentLogger();
    const timing = deriveTiming(deps.options, {
      ...(deps.options.gossipIntervalMs !== undefined && { gossipIntervalMs: deps.options.gossipIntervalMs }),
      ...(deps.options.syncIntervalMs !== undefined && { syncIntervalMs: deps.options.syncIntervalMs }),
      ...(deps.options.tombstoneMs !== undefined && { tombstoneMs: deps.options.tombstoneMs }),
      ...(deps.options.retransmitMult !== undefined && { retransmitMult: deps.options.retransmitMult }),
      ...(deps.options.reconnectIntervalMs !== undefined && { reconnectIntervalMs: deps.options.reconnectIntervalMs }),
      ...(deps.options.reconnectTimeoutMs !== undefined && { reconnectTimeoutMs: deps.options.reconnectTimeoutMs }),
    });
    this.#core = new MembershipCore(deps.self, timing, this.#rng, deps.clock.now(), {
      log: this.#log,
      metrics: deps.metrics,
      auth: deps.auth,
      wallNow: () => deps.clock.wallNow(),
    });
    this.#joined = (deps.bootstrap ?? []).length === 0;
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#reschedule();
    this.#maybeBootstrap();
  }

  /** Stops timers; with `leave`, first tells a few members this node is leaving (bounded by the request timeout). */
  async stop(opts: { leave?: boolean } = {}): Promise<void> {
    if (!this.#running) return;
    if (opts.leave) {
      this.#run(this.#core.leave());
      await Promise.allSettled([...this.#inflight]);
    }
    this.#running = false;
    this.#timer?.cancel();
    this.#timer = undefined;
    this.#bootstrapTimer?.cancel();
    this.#bootstrapTimer = undefined;
    for (const { resolve } of this.#replies.values()) resolve({ type: 'nack', from: this.#core.self.id, updates: [] });
    this.#replies.clear();
  }

  // --- MembershipHandler (called by the control server for authenticated requests) ---

  self(): NodeRecord {
    return this.#core.self;
  }

  handleJoin(record: NodeRecord, from: string): Promise<JoinReply> {
    if (record.id !== from) throw new TunmeshError('API_BAD_REQUEST', 'join record id differs from the sender');
    if (from === this.#core.self.id) throw new TunmeshError('API_BAD_REQUEST', 'join from this node itself');
    return this.#request({ type: 'join', record }, from) as Promise<JoinReply>;
  }

  handleGossip(msg: GossipRequest, from: string): Promise<Reply> {
    if (msg.from !== from)
      throw new TunmeshError('API_BAD_REQUEST', 'message sender differs from the authenticated one');
    return this.#request(msg, from);
  }

  // --- for the daemon ---

  /** Publishes a change of this node's record (new endpoints, routes, ...). */
  updateSelf(patch: Partial<Omit<NodeRecord, 'id' | 'epoch' | 'version'>>): void {
    this.#run(this.#core.updateSelf(patch));
  }

  /** Like updateSelf, and pushed to every live member at once (core.updateSelfNow). */
  updateSelfNow(patch: Partial<Omit<NodeRecord, 'id' | 'epoch' | 'version'>>): void {
    this.#run(this.#core.updateSelfNow(patch));
  }

  /** A live key rotation: records signed by `auth` from now on, vouched for by the old key (core.ts). */
  rotateIdentity(auth: RecordAuth, patch: Partial<Omit<NodeRecord, 'id' | 'epoch' | 'version'>>): void {
    this.#run(this.#core.rotateIdentity(auth, patch));
  }

  /** Every known node but this one, with state and last sign of life; for `tunmesh status`. */
  members(): MemberStatus[] {
    const now = this.#deps.clock.now();
    const wall = this.#deps.clock.wallNow();
    return this.#core.members().map((m) => ({ ...m, lastSeen: wall - (now - m.lastSeen) }));
  }

  /** Records of the admitted members (the peers the data plane should have). */
  peers(): NodeRecord[] {
    return this.#core
      .members()
      .filter((m) => m.admitted && m.record)
      .map((m) => m.record!);
  }

  health(): MembershipHealth {
    return {
      joined: this.#joined,
      bootstrapping: this.#bootstrapping,
      running: this.#running,
      members: this.#core.table.liveCount,
    };
  }

  // --- driving the core ---

  #request(msg: Request, from: string): Promise<Reply> {
    if (!this.#running) return Promise.reject(new TunmeshError('INTERNAL', 'membership is not running'));
    this.#count(msg.type, 'in');
    const requestId = this.#nextRequestId++;
    const reply = new Promise<Reply>((resolve) => this.#replies.set(requestId, { resolve }));
    this.#run(this.#core.handleRequest(this.#deps.clock.now(), requestId, msg, from));
    return reply;
  }

  #run(actions: Action[]): void {
    for (const a of actions) {
      if (a.kind === 'send') this.#send(a.token, a);
      else if (a.kind === 'reply') {
        const r = this.#replies.get(a.requestId);
        this.#replies.delete(a.requestId);
        r?.resolve(a.reply);
      } else this.#emitEvent(a.event);
    }
    if (this.#running) {
      this.#reschedule();
      if (this.#core.table.liveCount === 0) this.#maybeBootstrap();
    }
  }

  #send(token: number, a: Extract<Action, { kind: 'send' }>): void {
    this.#count(a.msg.type, 'out');
    const p = this.#deps.transport.send(a.to, a.msg, a.timeoutMs).then(
      (reply) => {
        if (this.#running) this.#run(this.#core.handleReply(this.#deps.clock.now(), token, reply));
      },
      () => {
        if (this.#running) this.#run(this.#core.handleFailure(this.#deps.clock.now(), token));
      },
    );
    this.#inflight.add(p);
    void p.finally(() => this.#inflight.delete(p));
  }

  #emitEvent(e: MembershipEvent): void {
    this.#deps.metrics?.inc('membership_events_total', { event: e.type });
    if (e.type === 'up') {
      this.#log.info({ peer: e.record.id, epoch: e.record.epoch }, `node ${e.record.id} joined`);
      this.emit('up', e.record);
    } else if (e.type === 'update') {
      this.#log.debug(
        { peer: e.record.id, epoch: e.record.epoch, version: e.record.version },
        `node ${e.record.id} updated`,
      );
      this.emit('update', e.record);
    } else {
      this.#log.info({ peer: e.id, reason: e.reason }, `node ${e.id} down (${e.reason})`);
      this.emit('down', e.id, e.reason);
    }
  }

  #reschedule(): void {
    const at = this.#core.nextWakeAt();
    if (this.#timer && this.#timerAt <= at) return;
    this.#timer?.cancel();
    const now = this.#deps.clock.now();
    this.#timerAt = at;
    this.#timer = this.#deps.clock.after(Math.max(0, at - now), () => {
      this.#timer = undefined;
      this.#timerAt = Infinity;
      if (!this.#running) return;
      this.#run(this.#core.tick(this.#deps.clock.now()));
      this.#updateGauges();
    });
  }

  #updateGauges(): void {
    const m = this.#deps.metrics;
    if (!m) return;
    const counts = { alive: 0, suspect: 0, dead: 0 };
    for (const e of this.#core.table.entries()) counts[e.state]++;
    for (const [state, n] of Object.entries(counts)) m.set('peers', { state }, n);
  }

  #count(type: string, direction: 'in' | 'out'): void {
    this.#deps.metrics?.inc('membership_messages_total', { type, direction });
  }

  // --- bootstrap ---

  #maybeBootstrap(): void {
    const urls = this.#deps.bootstrap ?? [];
    if (!this.#running || this.#bootstrapping || urls.length === 0) return;
    this.#bootstrapping = true;
    this.#bootstrapAttempt = 0;
    if (this.#joined) this.#log.warn('no members left; bootstrapping again');
    this.#scheduleBootstrap(0);
  }

  #scheduleBootstrap(delayMs: number): void {
    this.#bootstrapTimer = this.#deps.clock.after(delayMs, () => {
      this.#bootstrapTimer = undefined;
      void this.#bootstrapOnce().then((ok) => {
        if (!this.#running) return;
        // Only a successful join ends bootstrapping: having members (someone joined us) is not enough,
        // or two halves that bootstrapped through each other's unreachable seeds would stay apart.
        if (ok) {
          this.#bootstrapping = false;
          this.#joined = true;
          return;
        }
        const o = this.#deps.options;
        const delay = backoffMs(this.#bootstrapAttempt++, o.bootstrapRetryMinMs, o.bootstrapRetryMaxMs, this.#rng);
        this.#log.debug({ retryInMs: delay }, 'bootstrap failed on every URL; retrying');
        this.#scheduleBootstrap(delay);
      });
    });
  }

  async #bootstrapOnce(): Promise<boolean> {
    const self = this.#core.self;
    const expanded = await expandBootstrapUrls(this.#deps.bootstrap ?? [], this.#deps.resolve ?? systemResolver);
    const urls = shuffle(
      this.#rng,
      expanded.filter((u) => !sameUrl(u, self.apiUrl)),
    );
    for (const url of urls) {
      if (!this.#running) return false;
      try {
        this.#count('join', 'out');
        const reply = await this.#deps.transport.send(
          url,
          this.#core.joinRequest(),
          this.#deps.options.requestTimeoutMs,
        );
        if (reply.type !== 'join-reply' || reply.self.id === self.id) continue;
        if (!this.#running) return false;
        this.#log.info({ via: reply.self.id, url, members: reply.members.length + 1 }, 'joined the mesh');
        this.#run(this.#core.mergeJoinReply(this.#deps.clock.now(), reply));
        return true;
      } catch (err) {
        this.#log.debug({ url, err: (err as Error).message }, 'bootstrap URL failed');
      }
    }
    return false;
  }
}
