// A hashed timer wheel for the per-peer timers (timers.ts), so that WgDevice.tick costs about the number of
// peers with a timer falling due, not the number of peers: a mesh node with thousands of configured (mostly
// idle) peers would otherwise walk all of them every 100 ms.
//
// Each peer sits in at most one live slot, that of its earliest deadline (slots of `granularityMs`).
// Writing a deadline earlier than the one the peer is slotted for moves it to an earlier slot (the old
// entry goes stale and is skipped); a later deadline changes nothing until the slot comes round. When a
// slot comes, its peers have their timers fired (firePeerTimers checks each deadline, so a visit is never
// early) and are slotted again for their next deadline. Packets waiting with no handshake in flight and a
// pending first persistent keepalive are retried every tick, as the old walk did.
//
// The deadlines are seen through accessors (PeerTimers is written by timers.ts and outbound.ts as plain
// fields), so no writer has to know about the wheel.
import { Peer, type PeerTimers } from './peer.js';
import type { Now } from './actions.js';

type Key = keyof PeerTimers;
/** WheelTimers.slot while its peer's timers fire. */
const visiting = -2;
const removed = -1;
const keys: readonly Key[] = [
  'retransmitHandshake',
  'sendKeepalive',
  'newHandshake',
  'zeroKeyMaterial',
  'persistentKeepalive',
];

/** A peer's deadlines that tell the wheel when they move earlier. */
class WheelTimers implements PeerTimers {
  /** Slot the peer is filed under (Infinity: none; -1: removed; -2: firing now). */
  slot = Infinity;
  #retransmitHandshake: Now | undefined;
  #sendKeepalive: Now | undefined;
  #newHandshake: Now | undefined;
  #zeroKeyMaterial: Now | undefined;
  #persistentKeepalive: Now | undefined;

  constructor(
    private readonly wheel: TimerWheel,
    private readonly peer: Peer,
  ) {}

  get retransmitHandshake(): Now | undefined {
    return this.#retransmitHandshake;
  }
  set retransmitHandshake(at: Now | undefined) {
    this.#retransmitHandshake = at;
    if (at !== undefined) this.wheel.schedule(this.peer, this, at);
  }
  get sendKeepalive(): Now | undefined {
    return this.#sendKeepalive;
  }
  set sendKeepalive(at: Now | undefined) {
    this.#sendKeepalive = at;
    if (at !== undefined) this.wheel.schedule(this.peer, this, at);
  }
  get newHandshake(): Now | undefined {
    return this.#newHandshake;
  }
  set newHandshake(at: Now | undefined) {
    this.#newHandshake = at;
    if (at !== undefined) this.wheel.schedule(this.peer, this, at);
  }
  get zeroKeyMaterial(): Now | undefined {
    return this.#zeroKeyMaterial;
  }
  set zeroKeyMaterial(at: Now | undefined) {
    this.#zeroKeyMaterial = at;
    if (at !== undefined) this.wheel.schedule(this.peer, this, at);
  }
  get persistentKeepalive(): Now | undefined {
    return this.#persistentKeepalive;
  }
  set persistentKeepalive(at: Now | undefined) {
    this.#persistentKeepalive = at;
    if (at !== undefined) this.wheel.schedule(this.peer, this, at);
  }

  /** The earliest pending deadline, or undefined. */
  earliest(): Now | undefined {
    let min: Now | undefined;
    for (const k of keys) {
      const at = this[k];
      if (at !== undefined && (min === undefined || at < min)) min = at;
    }
    return min;
  }
}

/** A Peer whose timers live on a wheel. */
class WheelPeer extends Peer {
  override readonly timers: WheelTimers;
  constructor(wheel: TimerWheel, ...args: ConstructorParameters<typeof Peer>) {
    super(...args);
    this.timers = new WheelTimers(wheel, this);
  }
}

/** The deadlines of a peer as plain data (for snapshots: the wheel's accessors do not spread). */
export function timerValues(t: PeerTimers): PeerTimers {
  return {
    retransmitHandshake: t.retransmitHandshake,
    sendKeepalive: t.sendKeepalive,
    newHandshake: t.newHandshake,
    zeroKeyMaterial: t.zeroKeyMaterial,
    persistentKeepalive: t.persistentKeepalive,
  };
}

export class TimerWheel {
  readonly #granularityMs: number;
  readonly #slots = new Map<number, Peer[]>();
  /** Every slot up to this one has been visited. */
  #doneSlot = -Infinity;

  constructor(granularityMs = 10) {
    this.#granularityMs = granularityMs;
  }

  /** A new peer (same arguments as Peer's constructor) whose timers this wheel runs. */
  createPeer(...args: ConstructorParameters<typeof Peer>): Peer {
    return new WheelPeer(this, ...args);
  }

  /** Something besides a deadline may need the next tick (staged packets, a first keepalive). */
  touch(peer: Peer): void {
    if (needsNextTick(peer)) this.#file(peer, this.#doneSlot + 1);
  }

  /** The peer is gone: its slot entries are skipped from now on. */
  forget(peer: Peer): void {
    const t = peer.timers;
    if (t instanceof WheelTimers) t.slot = removed;
  }

  /** Peers filed in a slot (for tests and metrics). */
  get scheduled(): number {
    const live = new Set<Peer>();
    for (const [slot, peers] of this.#slots)
      for (const p of peers) if ((p.timers as WheelTimers).slot === slot) live.add(p);
    return live.size;
  }

  /** @internal called by a peer's timers when a deadline is set. */
  schedule(peer: Peer, t: WheelTimers, at: Now): void {
    if (t.slot < 0) return;
    const slot = Math.max(Math.floor(at / this.#granularityMs), this.#doneSlot + 1);
    if (slot < t.slot) this.#file(peer, slot);
  }

  /** Visits (in slot order) every peer with a deadline at or before `now`'s slot, then files each again. */
  advance(now: Now, visit: (peer: Peer) => void): void {
    const nowSlot = Math.floor(now / this.#granularityMs);
    if (nowSlot <= this.#doneSlot) return;
    let due: number[];
    if (nowSlot - this.#doneSlot <= 64) {
      due = [];
      for (let s = this.#doneSlot + 1; s <= nowSlot; s++) if (this.#slots.has(s)) due.push(s);
    } else {
      // A long pause (or the first tick): every filed slot is after #doneSlot, so the due ones are these.
      due = [...this.#slots.keys()].filter((s) => s <= nowSlot).sort((a, b) => a - b);
    }
    this.#doneSlot = nowSlot;
    const visited: Peer[] = [];
    for (const s of due) {
      const peers = this.#slots.get(s)!;
      this.#slots.delete(s);
      for (const peer of peers) {
        const t = peer.timers as WheelTimers;
        if (t.slot !== s) continue; // stale: moved earlier, visited already, or removed
        t.slot = visiting; // while firing, deadlines it sets do not refile it
        visit(peer);
        visited.push(peer);
      }
    }
    for (const peer of visited) {
      const t = peer.timers as WheelTimers;
      if (t.slot !== visiting) continue; // removed while firing
      t.slot = Infinity;
      const at = t.earliest();
      if (needsNextTick(peer)) this.#file(peer, nowSlot + 1);
      else if (at !== undefined) this.#file(peer, Math.max(Math.floor(at / this.#granularityMs), nowSlot + 1));
    }
  }

  #file(peer: Peer, slot: number): void {
    const t = peer.timers as WheelTimers;
    if (t.slot < 0 || slot >= t.slot) return;
    t.slot = slot;
    let list = this.#slots.get(slot);
    if (list === undefined) this.#slots.set(slot, (list = []));
    list.push(peer);
  }
}

/** What firePeerTimers retries on every tick, besides deadlines. */
function needsNextTick(peer: Peer): boolean {
  return peer.keepaliveOnNextTick || (peer.staged.length > 0 && peer.timers.retransmitHandshake === undefined);
}
