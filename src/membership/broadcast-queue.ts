// Transmit-limited broadcast queue (as in SWIM / memberlist): every update is piggybacked on outgoing
// messages until it has been sent `limit` times (λ·log n), least-sent first. A newer update about the same
// node replaces the queued one. Bounded: beyond `maxEntries` the most-sent entries are dropped first
// (they have had the most chances to spread already).
//
// Each send-count level is a FIFO array with lazy removal (a replaced or dropped item is only marked), so
// taking k updates costs O(k) even after thousands of updates went through; a Map deleted from its front
// would make every iteration skip the holes and cost O(queue) in a join storm.
import type { Update } from './messages.js';

function subjectOf(u: Update): string {
  return u.t === 'alive' ? u.r.id : u.id;
}

interface Item {
  readonly id: string;
  readonly u: Update;
  live: boolean;
}

class Level {
  items: Item[] = [];
  head = 0;
  push(item: Item): void {
    this.items.push(item);
  }
  /** Oldest live item, removed; undefined when empty. */
  shift(): Item | undefined {
    while (this.head < this.items.length) {
      const item = this.items[this.head++]!;
      if (item.live) {
        this.#compact();
        return item;
      }
    }
    this.#compact();
    return undefined;
  }
  #compact(): void {
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
}

export class BroadcastQueue {
  // levels[k] holds updates sent k times so far, oldest first.
  readonly #levels: Level[] = [];
  readonly #where = new Map<string, { item: Item; level: number }>();
  readonly #maxEntries: number;
  dropped = 0;

  constructor(maxEntries = 50_000) {
    this.#maxEntries = maxEntries;
  }

  get size(): number {
    return this.#where.size;
  }

  enqueue(u: Update): void {
    const id = subjectOf(u);
    this.forget(id);
    this.#put({ id, u, live: true }, 0);
    while (this.#where.size > this.#maxEntries) this.#dropMostSent();
  }

  /** Forgets any queued update about `id` (e.g. it was superseded elsewhere). */
  forget(id: string): void {
    const at = this.#where.get(id);
    if (at === undefined) return;
    at.item.live = false;
    this.#where.delete(id);
  }

  /**
   * Up to `max` updates to piggyback on one message, least-sent first; each taken counts as one
   * transmission and is retired once sent `limit` times.
   */
  take(max: number, limit: number): Update[] {
    const out: Update[] = [];
    const moved: [Item, number][] = [];
    for (let k = 0; k < this.#levels.length && out.length < max; k++) {
      const level = this.#levels[k];
      if (!level) continue;
      while (out.length < max) {
        const item = level.shift();
        if (!item) break;
        out.push(item.u);
        moved.push([item, k + 1]);
      }
    }
    for (const [item, k] of moved) {
      if (k >= limit) {
        item.live = false;
        this.#where.delete(item.id);
      } else this.#put(item, k);
    }
    return out;
  }

  #put(item: Item, level: number): void {
    (this.#levels[level] ??= new Level()).push(item);
    this.#where.set(item.id, { item, level });
  }

  #dropMostSent(): void {
    for (let k = this.#levels.length - 1; k >= 0; k--) {
      const item = this.#levels[k]?.shift();
      if (!item) continue;
      item.live = false;
      this.#where.delete(item.id);
      this.dropped++;
      return;
    }
  }
}
