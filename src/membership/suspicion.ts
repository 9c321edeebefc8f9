// Lifeguard-style suspicion (Dadgar et al., "Lifeguard: Local Health Awareness for More Accurate Failure
// Detection", as in memberlist's suspicion.go): a suspicion starts with the long timeout and shrinks as
// other members independently suspect the same incarnation, down to the short one after `k` confirmations:
//
//   timeout(c) = max(min, max − (max − min) · log(c + 1) / log(k + 1))
//
// A node that really died is probed (and gossiped to) by many members, so confirmations come fast and it is
// declared dead after about `min`; a live node that one slow prober suspected gets no confirmations and
// keeps the whole `max` to refute. Only the first `k` confirmations count and only they are passed on, so a
// suspicion costs at most k + 1 gossiped updates whatever the mesh size.

export interface SuspicionBounds {
  readonly minMs: number;
  readonly maxMs: number;
  /** Confirmations after which the timeout is `minMs`; 0 means `minMs` at once. */
  readonly k: number;
}

/** The timeout of a suspicion with `c` independent confirmations (beyond the first suspicion). */
export function suspicionTimeout(b: SuspicionBounds, c: number): number {
  if (b.k < 1 || b.maxMs <= b.minMs) return b.minMs;
  const frac = Math.log(Math.min(c, b.k) + 1) / Math.log(b.k + 1);
  return Math.max(b.minMs, Math.round(b.maxMs - (b.maxMs - b.minMs) * frac));
}

interface Suspicion {
  readonly epoch: number;
  readonly version: number;
  readonly start: number;
  readonly bounds: SuspicionBounds;
  readonly by: Set<string>;
}

/** Open suspicions of one node's table: who suspected which incarnation, and since when. */
export class Suspicions {
  readonly #open = new Map<string, Suspicion>();

  get size(): number {
    return this.#open.size;
  }

  /** A new suspicion of (id, epoch, version), first raised by `by`; returns its deadline. */
  start(id: string, epoch: number, version: number, by: string, now: number, bounds: SuspicionBounds): number {
    this.#open.set(id, { epoch, version, start: now, bounds, by: new Set([by]) });
    return now + suspicionTimeout(bounds, 0);
  }

  /**
   * `by` suspects the same incarnation too. Returns the new (earlier) deadline when this was a new
   * confirmation that counts (so it is worth passing on), undefined otherwise.
   */
  confirm(id: string, epoch: number, version: number, by: string): number | undefined {
    const s = this.#open.get(id);
    if (!s || s.epoch !== epoch || s.version !== version || s.by.has(by)) return undefined;
    if (s.by.size > s.bounds.k) return undefined;
    s.by.add(by);
    return s.start + suspicionTimeout(s.bounds, s.by.size - 1);
  }

  has(id: string): boolean {
    return this.#open.has(id);
  }

  end(id: string): void {
    this.#open.delete(id);
  }

  /** Drops suspicions that `stillSuspect` says are over (refuted or declared dead), so the map stays small. */
  prune(stillSuspect: (id: string, epoch: number, version: number) => boolean): void {
    for (const [id, s] of this.#open) if (!stillSuspect(id, s.epoch, s.version)) this.#open.delete(id);
  }
}
