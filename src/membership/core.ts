// Sans-I/O SWIM core. Inputs are calls with the current time (monotonic ms); randomness comes from the
// Rng given at construction; outputs are Actions (send a message, answer a request) and membership
// events. The driver (membership.ts) performs the sends and feeds replies and failures back by token.
//
// Protocol (SWIM with memberlist's refinements):
//  - every probeIntervalMs probe one member, round-robin over a shuffled list; no ack within
//    directTimeoutMs → ask gossipFanout others to probe it (ping-req); no ack from any → suspect it;
//  - a suspect that does not refute within suspicionTimeoutMs(n) is declared dead; the owner refutes by
//    raising its version; a dead record stays as a tombstone for tombstoneMs;
//  - updates ride on every ping, ack and ping-req, and on gossip rounds (every gossipIntervalMs to
//    gossipFanout random members, only while there is something to spread), each passed on λ·log n times;
//  - every syncIntervalMs push-pull anti-entropy with one random member: 64 bucket hashes, then digests of
//    the differing buckets, then the newer records each way;
//  - join: the joiner's record in, our record and a random sample of at most joinReplyRecords live records
//    out (a join storm through a few bootstrap nodes must not cost each of them n records per join); the
//    joiner then learns the rest by anti-entropy;
//  - anti-entropy is adaptive: a node whose table changed through a join reply or an anti-entropy exchange
//    syncs again one gossip interval later (with another random member) instead of syncIntervalMs later,
//    so bulk state spreads as a push-pull epidemic, 512 records per exchange, in O(log n) rounds, and a
//    quiet mesh syncs rarely. Alive records learned that way are not gossiped again (they are old news
//    spreading by anti-entropy already); suspicions and deaths are.
//  - records are self-signed (record-auth.ts): an alive record is verified before it is applied or
//    relayed; one whose epoch is far in the future is refused; a new signing key for a name we hold live
//    needs the held key's statement (`prev`, a live rotation), else it waits (pendingRecords) until the
//    held instance is dead by our own verdict. A death we only heard of is checked first: we ping the
//    held record's URL naming its epoch, and only an answer from another instance (or none) confirms it.
import { records as recordLimits } from '../base/constants.js';
import type { Logger } from '../base/log.js';
import type { Metrics } from '../metrics/registry.js';
import { BroadcastQueue } from './broadcast-queue.js';
import {
  limits,
  type DigestEntry,
  type GossipRequest,
  type JoinReply,
  type Peer,
  type Reply,
  type Request,
  type Update,
} from './messages.js';
import { isOutboundOnly, outboundTiming, staleOutboundMembers } from './reachability.js';
import { departedDue } from './departed.js';
import { compareIncarnation, maxRotationLinks, type NodeRecord } from './record.js';
import type { RecordAuth, RefusalReason } from './record-auth.js';
import { sample, shuffle, type Rng } from './rng.js';
import { Suspicions, type SuspicionBounds } from './suspicion.js';
import { boundedSyncAnswer } from './sync-reply.js';
import { MemberTable, type MembershipEvent, type MemberState } from './table.js';
import {
  retransmitLimit,
  suspicionConfirmations,
  suspicionMinMs,
  suspicionTimeoutMs,
  type DerivedTiming,
} from './timing.js';

export type Action =
  | {
      readonly kind: 'send';
      readonly token: number;
      readonly to: Peer;
      readonly msg: Request;
      readonly timeoutMs: number;
    }
  | { readonly kind: 'reply'; readonly requestId: number; readonly reply: Reply }
  | { readonly kind: 'event'; readonly event: MembershipEvent };

export interface MemberInfo {
  readonly id: string;
  readonly state: MemberState;
  /** Monotonic ms of the last sign of life. */
  readonly lastSeen: number;
  /** False when the record lost an overlay address conflict. */
  readonly admitted: boolean;
  readonly record: NodeRecord | undefined;
}

type Pending =
  | { kind: 'probe'; target: string; probe: Probe }
  | { kind: 'relay'; target: string; requestId: number }
  | { kind: 'gossip'; target: string }
  | { kind: 'sync'; target: string }
  | { kind: 'push'; target: string }
  /** Which instance answers at a held record's URL (key continuity): `epoch` is the held one's. */
  | { kind: 'verify'; target: string; epoch: number };

const expectedReply: Record<Pending['kind'], readonly Reply['type'][]> = {
  probe: ['ack', 'nack'],
  relay: ['ack'],
  gossip: ['ack'],
  sync: ['sync-reply'],
  push: ['push-reply'],
  verify: ['ack', 'nack'],
};

interface Probe {
  readonly target: string;
  phase: 'direct' | 'indirect';
  outstanding: number;
  done: boolean;
}

export class MembershipCore {
  readonly table: MemberTable;
  readonly #t: DerivedTiming;
  readonly #rng: Rng;
  readonly #queue = new BroadcastQueue();
  readonly #suspicions = new Suspicions();
  readonly #pending = new Map<number, Pending>();
  readonly #probing = new Set<string>();
  #probeOrder: string[] = [];
  #probeIndex = 0;
  #nextToken = 1;
  #nextProbeAt: number;
  #nextGossipAt: number;
  #nextSyncAt: number;
  #nextGcAt: number;
  #nextReconnectAt: number;
  #lastGcAt: number;
  /** Outbound-only members (reachability.ts): our heartbeat if we are one, the staleness check of others. */
  #nextHeartbeatAt: number;
  #nextStaleCheckAt: number;
  #leaving = false;
  #out: Action[] = [];
  readonly #log: Logger;
  readonly #metrics: Metrics | undefined;
  #auth: RecordAuth;
  readonly #wallNow: () => number;
  /** Records refused for a new key, by id, until the held instance is known dead (then applied). */
  readonly #pendingRecords = new Map<string, NodeRecord>();
  /** Ids whose held instance we are checking (one verify ping at a time). */
  readonly #verifying = new Set<string>();
  /** When each id's holder was last checked (bounded like pendingRecords). */
  readonly #checkedAt = new Map<string, number>();
  /** Rate-limited warnings: when each kind was last logged and how many were suppressed since. */
  readonly #warnings = new Map<string, { at: number; suppressed: number }>();

  constructor(
    self: NodeRecord,
    timing: DerivedTiming,
    rng: Rng,
    now: number,
    hooks: {
      log: Logger;
      metrics?: Metrics | undefined;
      /** Signs this node's record and verifies others' (record-auth.ts). */
      auth: RecordAuth;
      /** Wall-clock ms, for refusing epochs far in the future (epochs are wall-clock start times). */
      wallNow?: () => number;
    },
  ) {
    this.#t = timing;
    this.#rng = rng;
    this.#log = hooks.log;
    this.#metrics = hooks.metrics;
    this.#auth = hooks.auth;
    this.#wallNow = hooks.wallNow ?? Date.now;
    this.table = new MemberTable(hooks.auth.sign(self), { log: hooks.log, metrics: hooks.metrics });
    // Random phases so that nodes started together do not probe in lockstep.
    this.#nextProbeAt = now + rng() * timing.probeIntervalMs;
    this.#nextGossipAt = now + rng() * timing.gossipIntervalMs;
    this.#nextSyncAt = now + timing.syncIntervalMs * (0.5 + rng());
    this.#nextGcAt = now + timing.probeIntervalMs;
    this.#lastGcAt = now;
    this.#nextReconnectAt = now + timing.reconnectIntervalMs * (0.5 + rng());
    // (No rng draw here: seeded simulations keep their sequences.)
    this.#nextHeartbeatAt = now + outboundTiming(timing, 1).heartbeatMs / 2;
    this.#nextStaleCheckAt = now + timing.probeIntervalMs;
  }

  get self(): NodeRecord {
    return this.table.self;
  }

  /** Suspicion timeouts for the current mesh size: the long one shrinks with independent confirmations. */
  get suspicionBounds(): SuspicionBounds {
    const n = this.table.liveCount + 1;
    const minMs = suspicionMinMs(this.#t);
    const maxMs = Math.max(minMs, suspicionTimeoutMs(this.#t, n));
    // Too few members to ever confirm: the whole budget, as before Lifeguard (a small mesh has time).
    if (n - 2 < suspicionConfirmations) return { minMs: maxMs, maxMs, k: 0 };
    return { minMs, maxMs, k: suspicionConfirmations };
  }

  /** When `tick` next has work to do. */
  nextWakeAt(): number {
    return Math.min(
      this.#nextProbeAt,
      this.#queue.size > 0 ? this.#nextGossipAt : Infinity,
      this.#nextSyncAt,
      this.#nextGcAt,
      this.#nextReconnectAt,
      isOutboundOnly(this.self) ? this.#nextHeartbeatAt : Infinity,
      this.#nextStaleCheckAt,
      this.table.nextSuspectDeadline(),
    );
  }

  tick(now: number): Action[] {
    for (const id of this.table.expiredSuspects(now)) {
      const u = this.table.declareDead(id, now, 'failed');
      if (u) {
        this.#log.info({ peer: id }, `declaring ${id} dead: suspicion not refuted`);
        this.#queue.enqueue(u);
        this.#adoptPending(now, id);
      }
    }
    if (now >= this.#nextStaleCheckAt || (isOutboundOnly(this.self) && now >= this.#nextHeartbeatAt))
      this.#outboundTick(now);
    if (now >= this.#nextGcAt) {
      this.#nextGcAt = now + this.#t.probeIntervalMs;
      this.table.expireTombstones(now, this.#t.tombstoneMs, this.#t.reconnectTimeoutMs);
      const members = this.table.liveIds().length + 1;
      for (const r of departedDue(
        this.self.id,
        this.table.left(),
        members,
        this.#lastGcAt,
        now,
        this.#t.syncIntervalMs,
      ))
        if (!isOutboundOnly(r)) this.#sync(r.id, r);
      this.#lastGcAt = now;
      this.#suspicions.prune((id, epoch, version) => {
        const e = this.table.get(id);
        return e?.state === 'suspect' && e.epoch === epoch && e.version === version;
      });
    }
    if (now >= this.#nextReconnectAt) {
      this.#nextReconnectAt = now + this.#t.reconnectIntervalMs * (0.5 + this.#rng());
      this.#reconnect();
    }
    if (now >= this.#nextProbeAt) {
      this.#nextProbeAt = Math.max(this.#nextProbeAt + this.#t.probeIntervalMs, now + 1);
      const target = this.#nextProbeTarget();
      if (target) this.#startProbe(target);
    }
    if (now >= this.#nextGossipAt) {
      this.#nextGossipAt = now + this.#t.gossipIntervalMs;
      if (this.#queue.size > 0) for (const id of this.#randomMembers(this.#t.gossipFanout)) this.#sendGossip(id);
    }
    if (now >= this.#nextSyncAt) {
      this.#nextSyncAt = now + this.#t.syncIntervalMs * (0.5 + this.#rng());
      const [id] = this.#randomMembers(1);
      if (id) this.#sync(id);
    }
    return this.#drain();
  }

  /** The join request to send to a bootstrap URL. */
  joinRequest(): Request {
    return { type: 'join', record: this.self };
  }

  /** Merges a bootstrap node's join reply: its record and every live record it knows. */
  mergeJoinReply(now: number, reply: JoinReply): Action[] {
    // The mesh knows these records already: learn them without spreading them again.
    this.#applyAll(
      now,
      [reply.self, ...reply.members].map((r) => ({ t: 'alive', r }) as const),
      false,
    );
    // The reply was a sample: fetch the rest by anti-entropy right away.
    this.#syncSoon(now, 0);
    this.table.markSeen(reply.self.id, now);
    // Announce ourselves beyond the bootstrap node without waiting for it to spread our record.
    this.#queue.enqueue({ t: 'alive', r: this.self });
    return this.#drain();
  }

  /** An authenticated incoming request; `from` is the authenticated sender. Replies come out as actions. */
  handleRequest(now: number, requestId: number, msg: Request, from: string): Action[] {
    if (msg.type === 'join') {
      if (msg.record.id !== from) return this.#drain();
      this.#applyAll(now, [{ t: 'alive', r: msg.record }]);
      this.table.markSeen(from, now);
      const members: NodeRecord[] = [];
      for (const id of sample(this.#rng, this.table.liveIds(), limits.joinReplyRecords, (x) => x === from)) {
        const r = this.table.get(id)?.record;
        if (r) members.push(r);
      }
      this.#reply(requestId, { type: 'join-reply', self: this.self, members });
      return this.#drain();
    }
    this.table.markSeen(from, now);
    switch (msg.type) {
      case 'ping':
      case 'gossip':
        // A check of which instance answers here (verify): another epoch is not the one the asker holds.
        if (msg.type === 'ping' && msg.epoch !== undefined && msg.epoch !== this.self.epoch) {
          this.#reply(requestId, this.#ack('nack', from));
          break;
        }
        this.#applyAll(now, msg.updates);
        this.#reply(requestId, this.#ack('ack', from));
        break;
      case 'ping-req': {
        this.#applyAll(now, msg.updates);
        const target = this.table.get(msg.target);
        if (!target?.record || target.state === 'dead' || msg.target === this.self.id) {
          this.#reply(requestId, this.#ack('nack', from));
        } else {
          this.#send(
            { kind: 'relay', target: msg.target, requestId },
            msg.target,
            this.#ping(),
            this.#t.directTimeoutMs,
          );
        }
        break;
      }
      case 'sync': {
        const differing = this.table.differingBuckets(msg.buckets);
        // We differ: one of us is behind, and our next exchange (with someone else) should come soon.
        if (differing.size > 0) this.#syncSoon(now);
        const { buckets, digest } = boundedSyncAnswer(this.table, differing, this.#rng);
        this.#reply(requestId, { type: 'sync-reply', from: this.self.id, buckets, digest });
        break;
      }
      case 'push': {
        if (this.#applyAll(now, msg.updates, 'failures') > 0) this.#syncSoon(now);
        const updates: Update[] = [];
        for (const id of msg.want) {
          const u = this.table.updateFor(id);
          if (u) updates.push(u);
        }
        this.#reply(requestId, { type: 'push-reply', from: this.self.id, updates });
        break;
      }
    }
    return this.#drain();
  }

  handleReply(now: number, token: number, reply: Reply): Action[] {
    const p = this.#pending.get(token);
    if (!p) return [];
    this.#pending.delete(token);
    // A reply from someone else than asked, or of the wrong kind, counts as no reply.
    if (!('from' in reply) || reply.from !== p.target || !expectedReply[p.kind].includes(reply.type))
      return this.handleFailure(now, token, p);
    if ('updates' in reply) {
      const learned = this.#applyAll(now, reply.updates, p.kind === 'push' ? 'failures' : 'all');
      if (p.kind === 'push' && learned > 0) this.#syncSoon(now);
    }
    switch (p.kind) {
      case 'probe':
        if (reply.type === 'ack') {
          this.table.markSeen(p.probe.target, now);
          this.#finishProbe(now, p.probe, true);
        } else if (!p.probe.done) {
          if (p.probe.phase === 'direct') this.#goIndirect(now, p.probe);
          else this.#indirectFailed(now, p.probe);
        }
        break;
      case 'relay':
        if (reply.type === 'ack') this.table.markSeen(p.target, now);
        this.#reply(p.requestId, this.#ack(reply.type === 'ack' ? 'ack' : 'nack', undefined));
        break;
      case 'gossip':
      case 'push':
        this.table.markSeen(p.target, now);
        break;
      case 'sync':
        this.table.markSeen(p.target, now);
        if (reply.type === 'sync-reply') this.#reconcile(now, p.target, reply.buckets, reply.digest);
        break;
      case 'verify':
        if (reply.type === 'ack') this.#holderAnswered(p.target, p.epoch);
        else this.#holderGone(now, p.target, p.epoch);
        break;
    }
    return this.#drain();
  }

  handleFailure(now: number, token: number, known?: Pending): Action[] {
    const p = known ?? this.#pending.get(token);
    if (!p) return [];
    this.#pending.delete(token);
    switch (p.kind) {
      case 'probe':
        if (p.probe.done) break;
        if (p.probe.phase === 'direct') this.#goIndirect(now, p.probe);
        else this.#indirectFailed(now, p.probe);
        break;
      case 'relay':
        this.#reply(p.requestId, this.#ack('nack', undefined));
        break;
      case 'verify':
        this.#holderGone(now, p.target, p.epoch);
        break;
      case 'gossip': {
        // A gossip is a ping with updates: its failure was the direct probe, so ask others at once. A
        // suspect too: if they cannot reach it either, that is an independent confirmation (suspicion.ts).
        const state = this.table.get(p.target)?.state;
        if (!this.#probing.has(p.target) && state !== undefined && state !== 'dead' && this.#contactable(p.target)) {
          const probe: Probe = { target: p.target, phase: 'direct', outstanding: 0, done: false };
          this.#probing.add(p.target);
          this.#goIndirect(now, probe);
        }
        break;
      }
      default:
        // A member that failed a sync or push request gets probed now rather than on its turn.
        if (!this.#probing.has(p.target) && this.table.get(p.target)?.state === 'alive' && this.#contactable(p.target))
          this.#startProbe(p.target);
    }
    return this.#drain();
  }

  /** The owner changed its record (endpoints, routes...): a new version, spread like any update. */
  updateSelf(patch: Partial<Omit<NodeRecord, 'id' | 'epoch' | 'version'>>): Action[] {
    this.#bumpSelf(this.self.version + 1, patch);
    return this.#drain();
  }

  /**
   * Publishes a change of this node's record and pushes it at once to every live member that takes
   * requests, instead of waiting for gossip rounds: for changes peers must act on quickly (a rotated
   * static key: until a peer installs the new record its handshakes with this node fail). The update
   * also stays queued for ordinary dissemination (members that take no inbound requests get it there).
   */
  updateSelfNow(patch: Partial<Omit<NodeRecord, 'id' | 'epoch' | 'version'>>): Action[] {
    this.#bumpSelf(this.self.version + 1, patch);
    const u: Update = { t: 'alive', r: this.self };
    for (const id of this.table.liveIds()) {
      if (id === this.self.id || !this.#contactable(id)) continue;
      this.#send(
        { kind: 'gossip', target: id },
        id,
        { type: 'gossip', from: this.self.id, updates: [u] },
        this.#t.directTimeoutMs,
      );
    }
    return this.#drain();
  }

  /**
   * A live key rotation: from now on records are signed by `auth`, and the record carries the old key's
   * statement that `auth.sigKey` is this node's key in this epoch (with up to maxRotationLinks−1 earlier
   * ones, for a member that missed a rotation), so members holding an older key accept it. Pushed at once.
   */
  rotateIdentity(auth: RecordAuth, patch: Partial<Omit<NodeRecord, 'id' | 'epoch' | 'version'>>): Action[] {
    const self = this.self;
    const link = this.#auth.vouch(self.id, auth.sigKey, self.epoch);
    const prev = [link, ...(self.prev ?? [])].slice(0, maxRotationLinks);
    this.#auth = auth;
    return this.updateSelfNow({ ...patch, prev });
  }

  /** Graceful leave: tell a few members we are gone; they spread it. Returns the sends to make. */
  leave(): Action[] {
    this.#leaving = true;
    const self = this.self;
    const u: Update = {
      t: 'dead',
      id: self.id,
      epoch: self.epoch,
      version: self.version + 1,
      by: self.id,
      reason: 'left',
    };
    for (const id of this.#randomMembers(Math.max(2, this.#t.gossipFanout)))
      this.#send(
        { kind: 'gossip', target: id },
        id,
        { type: 'gossip', from: self.id, updates: [u] },
        this.#t.requestTimeoutMs,
      );
    return this.#drain();
  }

  members(): MemberInfo[] {
    const out: MemberInfo[] = [];
    for (const e of this.table.entries())
      out.push({ id: e.id, state: e.state, lastSeen: e.lastSeen, admitted: e.admitted, record: e.record });
    return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  // --- probing ---

  #nextProbeTarget(): string | undefined {
    for (let guard = 0; guard < 2; guard++) {
      while (this.#probeIndex < this.#probeOrder.length) {
        const id = this.#probeOrder[this.#probeIndex++]!;
        const e = this.table.get(id);
        if (e?.record && e.state !== 'dead' && !this.#probing.has(id) && !isOutboundOnly(e.record)) return id;
      }
      this.#probeOrder = shuffle(this.#rng, [...this.table.liveIds()]);
      this.#probeIndex = 0;
    }
    return undefined;
  }

  #startProbe(target: string): void {
    const probe: Probe = { target, phase: 'direct', outstanding: 1, done: false };
    this.#probing.add(target);
    this.#send({ kind: 'probe', target, probe }, target, this.#ping(), this.#t.directTimeoutMs);
  }

  #goIndirect(now: number, probe: Probe): void {
    const helpers = this.#randomMembers(this.#t.gossipFanout, (id) => id === probe.target);
    if (helpers.length === 0) return this.#finishProbe(now, probe, false);
    probe.phase = 'indirect';
    probe.outstanding = helpers.length;
    for (const h of helpers) {
      const msg: Request = { type: 'ping-req', from: this.self.id, target: probe.target, updates: this.#piggyback() };
      this.#send({ kind: 'probe', target: h, probe }, h, msg, this.#t.indirectTimeoutMs);
    }
  }

  #indirectFailed(now: number, probe: Probe): void {
    if (--probe.outstanding <= 0) this.#finishProbe(now, probe, false);
  }

  #finishProbe(now: number, probe: Probe, ok: boolean): void {
    if (probe.done) return;
    probe.done = true;
    this.#probing.delete(probe.target);
    if (ok) return;
    const e = this.table.get(probe.target);
    if (e?.state === 'suspect') {
      // Suspected already (by someone else): our own failed probe is an independent confirmation.
      this.#confirm({ t: 'suspect', id: e.id, epoch: e.epoch, version: e.version, by: this.self.id }, true);
      return;
    }
    if (e?.state !== 'alive') return;
    const deadline = this.#suspicions.start(e.id, e.epoch, e.version, this.self.id, now, this.suspicionBounds);
    const u = this.table.suspect(probe.target, deadline);
    if (!u) return;
    this.#log.debug({ peer: probe.target }, `suspecting ${probe.target}: no ack`);
    this.#queue.enqueue(u);
    // Tell the suspect directly too: if it is alive after all its reply carries the refutation.
    this.#sendGossip(probe.target);
  }

  // --- members that take no inbound connections (reachability.ts) ---

  #outboundTick(now: number): void {
    const t = outboundTiming(this.#t, this.table.liveCount + 1);
    if (isOutboundOnly(this.self) && now >= this.#nextHeartbeatAt) {
      this.#nextHeartbeatAt = now + t.heartbeatMs;
      this.#bumpSelf(this.self.version + 1, {});
    }
    if (now < this.#nextStaleCheckAt) return;
    this.#nextStaleCheckAt = now + this.#t.probeIntervalMs;
    const live = this.table.liveIds().map((id) => this.table.get(id)!);
    for (const id of staleOutboundMembers(live, now, t.staleMs)) {
      const u = this.table.declareDead(id, now, 'failed');
      if (!u) continue;
      this.#log.info({ peer: id }, `declaring ${id} dead: outbound-only node, no heartbeat for ${t.staleMs} ms`);
      this.#queue.enqueue(u);
      this.#adoptPending(now, id);
    }
  }

  #contactable(id: string): boolean {
    return !isOutboundOnly(this.table.get(id)?.record);
  }

  // --- dissemination ---

  /**
   * Merges updates; those that taught us something are passed on by gossip: all of them, only suspicions
   * and deaths (`failures`), or none. Returns how many taught us something.
   */
  #applyAll(now: number, updates: readonly Update[], spread: 'all' | 'failures' | false = 'all'): number {
    const bounds = this.suspicionBounds;
    const deadline = now + (bounds.k === 0 ? bounds.minMs : bounds.maxMs);
    let learned = 0;
    for (const u of updates) {
      const id = u.t === 'alive' ? u.r.id : u.id;
      if ((u.t === 'alive' ? u.r.epoch : u.epoch) > this.#wallNow() + recordLimits.maxFutureEpochMs) {
        this.#refuse(now, 'future_epoch', id);
        continue;
      }
      if (id === this.self.id) {
        this.#aboutSelf(now, u);
        continue;
      }
      if (u.t !== 'alive') {
        const held = this.table.get(id);
        if (held && u.epoch === held.epoch && u.version - held.version > recordLimits.maxVersionLead) {
          this.#refuse(now, 'implausible_version', id);
          continue;
        }
      }
      if (u.t === 'alive') {
        const why = this.#refusal(now, u.r);
        if (why === 'stale') continue;
        if (why !== undefined) {
          this.#refuse(now, why, id);
          continue;
        }
      }
      if (this.table.apply(now, u, deadline)) {
        learned++;
        if (u.t === 'suspect') {
          const e = this.table.get(id)!;
          e.suspectDeadline = this.#suspicions.start(id, e.epoch, e.version, u.by, now, bounds);
        }
        if (spread === 'all' || (spread === 'failures' && u.t !== 'alive')) this.#queue.enqueue(u);
        // A death we only heard of: check it, so that a record waiting for this name can be applied.
        const waiting = u.t === 'dead' ? this.#pendingRecords.get(id) : undefined;
        if (waiting) this.#contest(now, this.table.get(id)!, waiting);
      } else if (u.t === 'suspect') this.#confirm(u, spread !== false);
    }
    return learned;
  }

  // --- self-signed records (record-auth.ts) ---

  /**
   * Why an alive record about another node must not be applied, or undefined when it may. `stale`: not
   * newer than what we hold (the table would ignore it; no need to verify it).
   */
  #refusal(now: number, r: NodeRecord): RefusalReason | 'stale' | undefined {
    const e = this.table.get(r.id);
    if (e && compareIncarnation(r, e) <= 0) return 'stale';
    const v = this.#auth.verify(r);
    if (v !== 'ok') return v;
    const held = e?.record;
    if (!e || !held || held.sigKey === r.sigKey) return undefined;
    // A live rotation: the held key vouches for the new one.
    if (held.sigKey !== undefined && this.#auth.continues(r, held.sigKey)) return undefined;
    // A restart with a new key: the old instance must be dead, and not only by hearsay (deaths are not
    // signed). An outbound-only holder cannot be checked: the mesh's verdict is all there is.
    if (e.state === 'dead' && (e.ownVerdict || isOutboundOnly(held))) return undefined;
    this.#contest(now, e, r);
    return 'key_change';
  }

  #refuse(now: number, reason: RefusalReason, id: string): void {
    this.#metrics?.inc('membership_records_refused_total', { reason });
    this.#log.debug({ peer: id, reason }, `refused a record of ${id} (${reason})`);
    if (reason === 'key_change')
      this.#warn(
        now,
        'key_change',
        { peer: id },
        `refused a new key for ${id}: the node holding its name is not known dead`,
      );
  }

  /**
   * A record with a new key waits for its name; meanwhile we check, by a ping naming the held epoch to the
   * held record's URL, whether the held instance is still there. A restarted node answers at the same URL,
   * but with another epoch, so it cannot keep its predecessor alive.
   */
  #contest(now: number, e: { id: string; epoch: number; record: NodeRecord | undefined }, r: NodeRecord): void {
    const waiting = this.#pendingRecords.get(r.id);
    if (!waiting || compareIncarnation(r, waiting) > 0) {
      this.#pendingRecords.delete(r.id);
      this.#pendingRecords.set(r.id, r);
      if (this.#pendingRecords.size > recordLimits.pendingRecordsMax)
        this.#pendingRecords.delete(this.#pendingRecords.keys().next().value!);
    }
    if (!e.record || this.#verifying.has(e.id) || isOutboundOnly(e.record)) return;
    // At most one check per id per probe period, however many records want the name.
    const last = this.#checkedAt.get(e.id);
    if (last !== undefined && now - last < this.#t.probeIntervalMs) return;
    this.#checkedAt.delete(e.id);
    this.#checkedAt.set(e.id, now);
    if (this.#checkedAt.size > recordLimits.pendingRecordsMax)
      this.#checkedAt.delete(this.#checkedAt.keys().next().value!);
    this.#verifying.add(e.id);
    const msg: Request = { type: 'ping', from: this.self.id, updates: [], epoch: e.epoch };
    this.#send({ kind: 'verify', target: e.id, epoch: e.epoch }, e.id, msg, this.#t.directTimeoutMs, e.record);
  }

  /** The held instance answered: it is alive, and the record that wanted its name stays refused. */
  #holderAnswered(id: string, epoch: number): void {
    this.#verifying.delete(id);
    if (this.table.get(id)?.epoch === epoch) this.#pendingRecords.delete(id);
  }

  /** Nobody, or another instance, answered for the held one: suspect it, or confirm its death. */
  #holderGone(now: number, id: string, epoch: number): void {
    this.#verifying.delete(id);
    const e = this.table.get(id);
    if (!e || e.epoch !== epoch || e.state === 'dead') {
      if (e?.state === 'dead') this.table.confirmDead(id);
      this.#adoptPending(now, id);
      return;
    }
    if (e.state !== 'alive') return;
    // Suspicion, not a verdict: one failed ping is not proof, and a live holder refutes it.
    const deadline = this.#suspicions.start(e.id, e.epoch, e.version, this.self.id, now, this.suspicionBounds);
    const u = this.table.suspect(id, deadline);
    if (!u) return;
    this.#log.debug({ peer: id }, `suspecting ${id}: another instance answers for it`);
    this.#queue.enqueue(u);
  }

  /** The holder of a name is dead by our own verdict: the record that waited for the name gets its turn. */
  #adoptPending(now: number, id: string): void {
    const r = this.#pendingRecords.get(id);
    if (!r) return;
    this.#pendingRecords.delete(id);
    this.#applyAll(now, [{ t: 'alive', r }]);
  }

  /** At most one warning of a kind per conflictWarnIntervalMs; the next one says how many were left out. */
  #warn(now: number, kind: string, fields: Record<string, unknown>, msg: string): void {
    const w = this.#warnings.get(kind);
    if (w && now - w.at < recordLimits.conflictWarnIntervalMs) {
      w.suppressed++;
      return;
    }
    const suppressed = w?.suppressed ?? 0;
    this.#log.warn(
      { ...fields, ...(suppressed > 0 && { suppressed }) },
      suppressed > 0 ? `${msg} (and ${suppressed} more like it since the last warning)` : msg,
    );
    this.#warnings.set(kind, { at: now, suppressed: 0 });
  }

  /** Another member suspects what we suspect: the deadline moves closer, and a new confirmation spreads. */
  #confirm(u: Extract<Update, { t: 'suspect' }>, spread: boolean): void {
    const e = this.table.get(u.id);
    if (e?.state !== 'suspect') return;
    const deadline = this.#suspicions.confirm(u.id, u.epoch, u.version, u.by);
    if (deadline === undefined) return;
    e.suspectDeadline = Math.min(e.suspectDeadline, deadline);
    if (spread) this.#queue.enqueue(u);
  }

  /** Anti-entropy again within `inMs` (default one gossip interval), if not due sooner anyway. */
  #syncSoon(now: number, inMs = this.#t.gossipIntervalMs): void {
    this.#nextSyncAt = Math.min(this.#nextSyncAt, now + inMs);
  }

  /** Someone says something about us: refute suspicion or death by outbidding it. */
  #aboutSelf(now: number, u: Update): void {
    const self = this.self;
    const inc = u.t === 'alive' ? u.r : u;
    if (inc.epoch > self.epoch) {
      if (u.t !== 'alive') return; // unsigned; a real newer instance's record will come too
      // Records are signed: a newer epoch under our own key is a second instance of this node (a copied
      // config and key); under another key it is an impostor, refused like any record that fails a check.
      if (u.r.sigKey === self.sigKey && this.#auth.verify(u.r) === 'ok')
        this.#warn(
          now,
          'instance',
          { epoch: inc.epoch },
          `another instance named ${self.id} with a newer epoch and this node's key is in the mesh`,
        );
      else {
        this.#metrics?.inc('membership_records_refused_total', {
          reason: u.r.sigKey === self.sigKey ? 'bad_signature' : 'key_change',
        });
        this.#warn(
          now,
          'impostor',
          { epoch: inc.epoch },
          `refused a record naming this node (${self.id}) that this node did not sign`,
        );
      }
      return;
    }
    if (inc.epoch < self.epoch || this.#leaving) return;
    if (u.t === 'alive' ? inc.version > self.version : inc.version >= self.version) {
      if (u.t !== 'alive') this.#log.info({ by: u.by }, `refuting ${u.t} of this node`);
      // A declaration at a version no bump can outbid (members holding our record refuse it, but one that
      // does not may take it): start a new incarnation under the same key instead of staying dead.
      if (inc.version >= Number.MAX_SAFE_INTEGER) this.#reincarnate();
      else this.#bumpSelf(inc.version + 1, {});
    }
  }

  #reincarnate(): void {
    const self = this.self;
    const epoch = Math.max(this.#wallNow(), self.epoch + 1);
    this.#log.warn({ epoch }, 'declared dead at a version that cannot be refuted: starting a new incarnation');
    const next = this.#auth.sign({ ...self, epoch, version: 0 });
    this.table.setSelf(next);
    this.#queue.enqueue({ t: 'alive', r: next });
  }

  #bumpSelf(version: number, patch: Partial<NodeRecord>): void {
    const next = this.#auth.sign({ ...this.self, ...patch, id: this.self.id, epoch: this.self.epoch, version });
    this.table.setSelf(next);
    this.#queue.enqueue({ t: 'alive', r: next });
  }

  #piggyback(): Update[] {
    return this.#queue.take(limits.updatesPerMessage, retransmitLimit(this.#t, this.table.liveCount + 1));
  }

  #ping(): Request {
    return { type: 'ping', from: this.self.id, updates: this.#piggyback() };
  }

  #ack(type: 'ack' | 'nack', to: string | undefined): Reply {
    const updates = this.#piggyback();
    // A sender we hold suspect or dead learns it at once, so it can refute.
    const e = to === undefined ? undefined : this.table.get(to);
    if (e && e.state !== 'alive' && updates.length < limits.updatesPerMessage) {
      const u = this.table.updateFor(e.id);
      if (u && u.t !== 'alive') updates.push(u);
      else if (e.state === 'suspect')
        updates.push({ t: 'suspect', id: e.id, epoch: e.epoch, version: e.version, by: this.self.id });
    }
    return { type, from: this.self.id, updates };
  }

  #sendGossip(id: string): void {
    const msg: GossipRequest = { type: 'gossip', from: this.self.id, updates: this.#piggyback() };
    if (msg.updates.length > 0) this.#send({ kind: 'gossip', target: id }, id, msg, this.#t.directTimeoutMs);
  }

  /** Anti-entropy, second half: compare the peer's digest of the differing buckets with ours. */
  #reconcile(now: number, peer: string, bucketList: readonly number[], digest: readonly DigestEntry[]): void {
    const buckets = new Set(bucketList);
    const push: Update[] = [];
    const want: string[] = [];
    const seen = new Set<string>();
    for (const [id, epoch, version, dead] of digest) {
      seen.add(id);
      if (id === this.self.id) {
        // The peer holds us dead (refute by outbidding it) or holds an older record of us.
        if (dead) this.#aboutSelf(now, { t: 'dead', id, epoch, version, by: peer, reason: 'failed' });
        if (dead || compareIncarnation({ epoch, version }, this.self) < 0) push.push({ t: 'alive', r: this.self });
        continue;
      }
      const e = this.table.get(id);
      const c = e ? compareIncarnation({ epoch, version }, e) : 1;
      const theirsDead = dead === 1;
      const oursDead = e?.state === 'dead';
      if (c > 0 || (c === 0 && theirsDead && !oursDead)) {
        if (want.length < limits.wantPerPush) want.push(id);
      } else if (c < 0 || (c === 0 && oursDead && !theirsDead)) {
        const u = this.table.updateFor(id);
        if (u && push.length < limits.wantPerPush) push.push(u);
      }
    }
    // Live records in the differing buckets that the peer does not have at all.
    for (const [id, , , dead] of this.table.digestIn(buckets, limits.digestEntries)) {
      if (push.length >= limits.wantPerPush) break;
      if (dead || seen.has(id)) continue;
      const u = this.table.updateFor(id);
      if (u) push.push(u);
    }
    if (push.length || want.length) this.#syncSoon(now);
    if (push.length || want.length)
      this.#send(
        { kind: 'push', target: peer },
        peer,
        { type: 'push', from: this.self.id, updates: push, want },
        this.#t.requestTimeoutMs,
        // The peer may be one we reconnected to after its tombstone expired: it has no live entry.
        this.table.get(peer)?.record ?? this.table.failed().get(peer)?.record,
      );
  }

  #sync(id: string, record?: NodeRecord): void {
    const msg: Request = { type: 'sync', from: this.self.id, buckets: this.table.digestBuckets() };
    this.#send({ kind: 'sync', target: id }, id, msg, this.#t.requestTimeoutMs, record);
  }

  /** Anti-entropy with one random failed node: if it is back (a partition healed), the two sides merge. */
  #reconnect(): void {
    const failed = [...this.table.failed().values()];
    if (failed.length === 0) return;
    const { record } = failed[Math.min(failed.length - 1, Math.floor(this.#rng() * failed.length))]!;
    if (!isOutboundOnly(record)) this.#sync(record.id, record);
  }

  // --- plumbing ---

  /** Up to k random live members we can send to (outbound-only ones cannot be contacted). */
  #randomMembers(k: number, exclude: (id: string) => boolean = () => false): string[] {
    return sample(this.#rng, this.table.liveIds(), k, (id) => exclude(id) || !this.#contactable(id));
  }

  #send(p: Pending, to: string, msg: Request, timeoutMs: number, known?: NodeRecord): void {
    const record = known ?? this.table.get(to)?.record;
    if (!record) return;
    const token = this.#nextToken++;
    this.#pending.set(token, p);
    this.#out.push({ kind: 'send', token, to: record, msg, timeoutMs });
  }

  #reply(requestId: number, reply: Reply): void {
    this.#out.push({ kind: 'reply', requestId, reply });
  }

  #drain(): Action[] {
    for (const event of this.table.flush()) this.#out.push({ kind: 'event', event });
    const out = this.#out;
    this.#out = [];
    return out;
  }
}
