// The member table: one entry per known node, the merge rules that make it converge (a CRDT keyed by
// (epoch, version) with alive < suspect < dead at the same incarnation), the admitted view derived from it
// (live records that win all their overlay addresses), and the events that diff that view.
//
// Merge rules for an update about node X with incarnation (e, v), against what we hold (E):
//  - alive(record): replaces E when (e, v) > E; same incarnation never clears suspect or dead, so stale
//    gossip cannot resurrect a tombstone. Only the owner raises v (refutation) and a restart raises e.
//  - suspect: marks a live E suspect when (e, v) >= E; the owner refutes by raising v.
//  - dead: marks E dead when (e, v) >= E; the tombstone stays for tombstoneMs.
import type { Logger } from '../base/log.js';
import type { Metrics } from '../metrics/registry.js';
import { AddressClaims } from './address-claims.js';
import { BucketDigest, bucketOf } from './digest.js';
import type { DeathReason, DigestEntry, Update } from './messages.js';
import { compareIncarnation, type NodeRecord } from './record.js';

export type MemberState = 'alive' | 'suspect' | 'dead';
export type DownReason = DeathReason | 'address-conflict';

export type MembershipEvent =
  | { readonly type: 'up'; readonly record: NodeRecord }
  | { readonly type: 'update'; readonly record: NodeRecord }
  | { readonly type: 'down'; readonly id: string; readonly reason: DownReason };

export interface Entry {
  readonly id: string;
  epoch: number;
  version: number;
  /** Undefined only for a tombstone learned from a `dead` update about a node we never knew. */
  record: NodeRecord | undefined;
  state: MemberState;
  /** Monotonic ms of the last sign of life (a reply, a request, or a newer record). */
  lastSeen: number;
  suspectDeadline: number;
  deathReason: DeathReason;
  deadAt: number;
  /**
   * Dead by this node's own verdict (its suspicion timed out, its own check of the old holder failed),
   * not only by hearsay: deaths are not signed, so only an own verdict lets a new key take the name.
   */
  ownVerdict: boolean;
  /** In the view: live and holding all its addresses. */
  admitted: boolean;
  emitted: string | undefined;
  refusedLogged: string | undefined;
}

export interface TableHooks {
  readonly log: Logger;
  readonly metrics: Metrics | undefined;
}

const isLive = (e: Entry): boolean => e.state !== 'dead' && e.record !== undefined;
const incarnationKey = (e: { epoch: number; version: number }): string => `${e.epoch}:${e.version}`;

export class MemberTable {
  #self: NodeRecord;
  readonly #entries = new Map<string, Entry>();
  readonly #live: string[] = [];
  readonly #liveIndex = new Map<string, number>();
  readonly #suspects = new Set<string>();
  /** Dead ids in order of death (monotonic), for cheap expiry. */
  readonly #tombstones = new Map<string, number>();
  /** Nodes that failed (not left), kept longer than tombstones so we can try to reconnect after a partition. */
  readonly #failed = new Map<string, { record: NodeRecord; at: number }>();
  static readonly failedMax = 256;
  /** Nodes that left, while their tombstone lasts: they may be restarting (departed.ts). */
  readonly #left = new Map<string, { record: NodeRecord; at: number }>();
  readonly #claims = new AddressClaims();
  readonly #digest = new BucketDigest();
  readonly #dirty = new Set<string>();
  #events: MembershipEvent[] = [];
  #selfConflictLogged: string | undefined;
  readonly #hooks: TableHooks;

  constructor(self: NodeRecord, hooks: TableHooks) {
    this.#self = self;
    this.#hooks = hooks;
    this.#digest.toggle(self.id, self.epoch, self.version);
    this.#claims.set(self.id, self);
  }

  get self(): NodeRecord {
    return this.#self;
  }

  setSelf(record: NodeRecord): void {
    this.#digest.toggle(this.#self.id, this.#self.epoch, this.#self.version);
    this.#self = record;
    this.#digest.toggle(record.id, record.epoch, record.version);
    this.#markClaims(record.id, record);
  }

  get(id: string): Entry | undefined {
    return this.#entries.get(id);
  }

  /** Ids of live (alive or suspect) nodes other than self; do not hold across mutations. */
  liveIds(): readonly string[] {
    return this.#live;
  }

  get liveCount(): number {
    return this.#live.length;
  }

  suspects(): ReadonlySet<string> {
    return this.#suspects;
  }

  entries(): IterableIterator<Entry> {
    return this.#entries.values();
  }

  /** Our own check found the dead holder's instance gone: its name may take a new key (core.ts). */
  confirmDead(id: string): void {
    const e = this.#entries.get(id);
    if (e?.state === 'dead') e.ownVerdict = true;
  }

  markSeen(id: string, now: number): void {
    const e = this.#entries.get(id);
    if (e && isLive(e)) e.lastSeen = now;
  }

  /** Applies an update about another node; true if it changed our table (and so should be passed on). */
  apply(now: number, u: Update, suspectDeadline: number): boolean {
    if (u.t === 'alive') return this.#applyAlive(now, u.r);
    const e = this.#entries.get(u.id);
    if (u.t === 'suspect') {
      if (!e || e.state !== 'alive' || compareIncarnation(u, e) < 0) return false;
      this.#mutate(e, () => {
        e.state = 'suspect';
        e.suspectDeadline = suspectDeadline;
      });
      return true;
    }
    if (!e) {
      // A tombstone for a node we never knew keeps late gossip of its old record out.
      const t = this.#newEntry(u.id, u.epoch, u.version, undefined, now);
      this.#entries.set(u.id, t);
      this.#bury(t, u.reason, now);
      return false;
    }
    if (compareIncarnation(u, e) < 0) return false;
    e.ownVerdict = false;
    if (e.state === 'dead') {
      e.epoch = u.epoch;
      e.version = u.version;
      return false;
    }
    this.#mutate(e, () => {
      e.epoch = u.epoch;
      e.version = u.version;
      this.#bury(e, u.reason, now);
    });
    return true;
  }

  /** Our own failure detector's verdicts. */
  suspect(id: string, deadline: number): Update | undefined {
    const e = this.#entries.get(id);
    if (!e || e.state !== 'alive') return undefined;
    this.#mutate(e, () => {
      e.state = 'suspect';
      e.suspectDeadline = deadline;
    });
    return { t: 'suspect', id, epoch: e.epoch, version: e.version, by: this.#self.id };
  }

  declareDead(id: string, now: number, reason: DeathReason): Update | undefined {
    const e = this.#entries.get(id);
    if (!e || !isLive(e)) return undefined;
    this.#mutate(e, () => this.#bury(e, reason, now));
    e.ownVerdict = true;
    return { t: 'dead', id, epoch: e.epoch, version: e.version, by: this.#self.id, reason };
  }

  /** Suspects whose suspicion timed out. */
  expiredSuspects(now: number): string[] {
    const out: string[] = [];
    for (const id of this.#suspects) if (this.#entries.get(id)!.suspectDeadline <= now) out.push(id);
    return out;
  }

  nextSuspectDeadline(): number {
    let t = Infinity;
    for (const id of this.#suspects) t = Math.min(t, this.#entries.get(id)!.suspectDeadline);
    return t;
  }

  /** Records of nodes that failed within the reconnect window, oldest first. */
  failed(): ReadonlyMap<string, { readonly record: NodeRecord; readonly at: number }> {
    return this.#failed;
  }

  /** Records of nodes that left, while their tombstones last, oldest first. */
  left(): ReadonlyMap<string, { readonly record: NodeRecord; readonly at: number }> {
    return this.#left;
  }

  /** Forgets tombstones older than `ttlMs` and failed nodes older than `failedTtlMs`. */
  expireTombstones(now: number, ttlMs: number, failedTtlMs: number): void {
    for (const [id, f] of this.#failed) {
      if (f.at + failedTtlMs > now) break;
      this.#failed.delete(id);
    }
    for (const [id, deadAt] of this.#tombstones) {
      if (deadAt + ttlMs > now) break;
      this.#tombstones.delete(id);
      this.#entries.delete(id);
      this.#left.delete(id);
    }
  }

  /** The update that describes our current knowledge of `id` (for anti-entropy pushes). */
  updateFor(id: string): Update | undefined {
    if (id === this.#self.id) return { t: 'alive', r: this.#self };
    const e = this.#entries.get(id);
    if (!e) return undefined;
    if (e.state === 'dead')
      return { t: 'dead', id, epoch: e.epoch, version: e.version, by: this.#self.id, reason: e.deathReason };
    return e.record && { t: 'alive', r: e.record };
  }

  digestBuckets(): string[] {
    return this.#digest.buckets();
  }

  differingBuckets(other: readonly string[]): Set<number> {
    return this.#digest.differing(other);
  }

  /** Digest entries (self, live and tombstones) in the given buckets, at most `max`. */
  digestIn(buckets: ReadonlySet<number>, max: number): DigestEntry[] {
    const out: DigestEntry[] = [];
    const s = this.#self;
    if (buckets.has(bucketOf(s.id))) out.push([s.id, s.epoch, s.version, 0]);
    for (const e of this.#entries.values()) {
      if (out.length >= max) break;
      if (buckets.has(bucketOf(e.id))) out.push([e.id, e.epoch, e.version, e.state === 'dead' ? 1 : 0]);
    }
    return out;
  }

  /** Recomputes the view for everything touched since the last call and returns the resulting events. */
  flush(): MembershipEvent[] {
    if (this.#dirty.size > 0) this.#recomputeView();
    const out = this.#events;
    this.#events = [];
    return out;
  }

  #applyAlive(now: number, r: NodeRecord): boolean {
    const e = this.#entries.get(r.id);
    if (!e) {
      const n = this.#newEntry(r.id, r.epoch, r.version, r, now);
      this.#entries.set(r.id, n);
      this.#mutate(n, () => undefined, false);
      return true;
    }
    if (compareIncarnation(r, e) <= 0) return false;
    this.#mutate(e, () => {
      e.record = r;
      e.epoch = r.epoch;
      e.version = r.version;
      e.state = 'alive';
      e.ownVerdict = false;
      e.lastSeen = now;
      this.#tombstones.delete(e.id);
      this.#failed.delete(e.id);
      this.#left.delete(e.id);
    });
    return true;
  }

  #newEntry(id: string, epoch: number, version: number, record: NodeRecord | undefined, now: number): Entry {
    return {
      id,
      epoch,
      version,
      record,
      state: 'alive',
      lastSeen: now,
      suspectDeadline: 0,
      deathReason: 'failed',
      deadAt: 0,
      ownVerdict: false,
      admitted: false,
      emitted: undefined,
      refusedLogged: undefined,
    };
  }

  #bury(e: Entry, reason: DeathReason, now: number): void {
    if (reason === 'failed' && e.record) {
      this.#failed.delete(e.id);
      this.#failed.set(e.id, { record: e.record, at: now });
      if (this.#failed.size > MemberTable.failedMax) this.#failed.delete(this.#failed.keys().next().value!);
    }
    if (reason === 'left' && e.record) {
      this.#left.delete(e.id);
      this.#left.set(e.id, { record: e.record, at: now });
      if (this.#left.size > MemberTable.failedMax) this.#left.delete(this.#left.keys().next().value!);
    }
    e.state = 'dead';
    e.deathReason = reason;
    e.deadAt = now;
    this.#tombstones.delete(e.id);
    this.#tombstones.set(e.id, now);
  }

  /** Every change to an entry goes through here so the live list, digest and claims follow it. */
  #mutate(e: Entry, change: () => void, wasTracked = true): void {
    if (wasTracked && isLive(e)) this.#untrack(e);
    change();
    if (isLive(e)) this.#track(e);
    if (e.state === 'suspect') this.#suspects.add(e.id);
    else this.#suspects.delete(e.id);
    this.#markClaims(e.id, isLive(e) ? e.record : undefined);
  }

  #track(e: Entry): void {
    this.#digest.toggle(e.id, e.epoch, e.version);
    this.#liveIndex.set(e.id, this.#live.length);
    this.#live.push(e.id);
  }

  #untrack(e: Entry): void {
    this.#digest.toggle(e.id, e.epoch, e.version);
    const i = this.#liveIndex.get(e.id)!;
    const last = this.#live.pop()!;
    if (last !== e.id) {
      this.#live[i] = last;
      this.#liveIndex.set(last, i);
    }
    this.#liveIndex.delete(e.id);
  }

  #markClaims(id: string, record: NodeRecord | undefined): void {
    this.#dirty.add(id);
    for (const address of this.#claims.set(id, record))
      for (const h of this.#claims.holders(address)) this.#dirty.add(h);
  }

  #recordOf = (id: string): NodeRecord | undefined => {
    if (id === this.#self.id) return this.#self;
    const e = this.#entries.get(id);
    return e && isLive(e) ? e.record : undefined;
  };

  #recomputeView(): void {
    const dirty = [...this.#dirty].sort();
    this.#dirty.clear();
    for (const id of dirty) {
      if (id === this.#self.id) {
        this.#checkSelf();
        continue;
      }
      const e = this.#entries.get(id);
      if (!e) continue;
      const conflicts = isLive(e) ? this.#claims.conflictsOf(e.record!, this.#recordOf) : [];
      const admit = isLive(e) && conflicts.length === 0;
      if (admit) {
        const key = incarnationKey(e);
        if (!e.admitted) this.#events.push({ type: 'up', record: e.record! });
        else if (e.emitted !== key) this.#events.push({ type: 'update', record: e.record! });
        e.emitted = key;
        e.refusedLogged = undefined;
      } else {
        if (e.admitted)
          this.#events.push({ type: 'down', id, reason: e.state === 'dead' ? e.deathReason : 'address-conflict' });
        e.emitted = undefined;
        if (conflicts.length > 0 && e.refusedLogged !== incarnationKey(e)) {
          e.refusedLogged = incarnationKey(e);
          this.#hooks.metrics?.inc('address_conflicts_total');
          for (const c of conflicts)
            this.#hooks.log.warn(
              { address: c.address, holder: c.holder, refused: id },
              `overlay address ${c.address} claimed by ${id} is already held by ${c.holder}; refusing ${id}`,
            );
        }
      }
      e.admitted = admit;
    }
  }

  #checkSelf(): void {
    const conflicts = this.#claims.conflictsOf(this.#self, this.#recordOf);
    const key = incarnationKey(this.#self) + conflicts.map((c) => c.holder).join(',');
    if (conflicts.length === 0 || this.#selfConflictLogged === key) return;
    this.#selfConflictLogged = key;
    this.#hooks.metrics?.inc('address_conflicts_total');
    for (const c of conflicts)
      this.#hooks.log.warn(
        { address: c.address, holder: c.holder, refused: this.#self.id },
        `overlay address ${c.address} of this node (${this.#self.id}) is already held by ${c.holder}; the mesh refuses this node`,
      );
  }
}
