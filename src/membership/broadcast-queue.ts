// Transmit-limited broadcast queue (as in SWIM / memberlist): every update is piggybacked on outgoing
// messages until it has been sent `limit` times (λ·log n), least-sent first. A newer update about the same
// node replaces the queued one. Bounded: beyond `maxEntries` the most-sent entries are dropped first
// (they have had the most chances to spread already).
import type { Update } from './messages.js';

function subjectOf(u: Update): string {
  return u.t === 'alive' ? u.r.id : u.id;
}

export class BroadcastQueue {
  // buckets[k] holds updates sent k times so far, keyed by subject id (insertion order = age).
  readonly #buckets: Map<string, Update>[] = [];
  readonly #where = new Map<string, number>();
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
    const at = this.#where.get(id);
    if (at !== undefined) this.#buckets[at]!.delete(id);
    (this.#buckets[0] ??= new Map()).set(id, u);
    this.#where.set(id, 0);
    while (this.#where.size > this.#maxEntries) this.#dropMostSent();
  }

  /** Removes and returns nothing: forget any queued update about `id` (e.g. it was superseded elsewhere). */
  forget(id: string): void {
    const at = this.#where.get(id);
    if (at === undefined) return;
    this.#buckets[at]!.delete(id);
    this.#where.delete(id);
  }

  /**
   * Up to `max` updates to piggyback on one message, least-sent first; each taken counts as one
   * transmission and is retired once sent `limit` times.
   */
  take(max: number, limit: number): Update[] {
    const out: Update[] = [];
    const moved: [string, Update, number][] = [];
    for (let k = 0; k < this.#buckets.length && out.length < max; k++) {
      const bucket = this.#buckets[k];
      if (!bucket) continue;
      for (const [id, u] of bucket) {
        if (out.length >= max) break;
        out.push(u);
        bucket.delete(id);
        moved.push([id, u, k + 1]);
      }
    }
    for (const [id, u, k] of moved) {
      if (k >= limit) {
        this.#where.delete(id);
        continue;
      }
      (this.#buckets[k] ??= new Map()).set(id, u);
      this.#where.set(id, k);
    }
    return out;
  }

  #dropMostSent(): void {
    for (let k = this.#buckets.length - 1; k >= 0; k--) {
      const bucket = this.#buckets[k];
      const first = bucket?.keys().next();
      if (!bucket || !first || first.done) continue;
      bucket.delete(first.value);
      this.#where.delete(first.value);
      this.dropped++;
      return;
    }
  }
}
