// A clock that moves only when told to: the one fake clock of the project (platform/memory's FakeClock and
// membership's SimClock are this class). Timers fire in (due time, creation order), so a run with the same
// inputs is the same run. `advance` fires timers synchronously; `advanceSettled` also lets the promise
// chains each timer started run to completion before the next fires, for code that awaits (the membership
// simulation). Structurally it is platform's Clock (base may not import platform).

interface Entry {
  readonly due: number;
  readonly seq: number;
  fn: (() => void) | undefined; // undefined once cancelled or fired
}

export class ManualClock {
  #now: number;
  readonly #wallStartMs: number;
  #seq = 0;
  #live = 0;
  readonly #heap: Entry[] = [];

  constructor(opts: { startMs?: number; wallStartMs?: number } = {}) {
    this.#now = opts.startMs ?? 0;
    this.#wallStartMs = opts.wallStartMs ?? Date.UTC(2030, 0, 1);
  }

  now(): number {
    return this.#now;
  }

  wallNow(): number {
    return this.#wallStartMs + this.#now;
  }

  after(ms: number, fn: () => void): { cancel(): void } {
    const entry: Entry = { due: this.#now + Math.max(0, ms), seq: this.#seq++, fn };
    this.#push(entry);
    this.#live++;
    return {
      cancel: () => {
        if (entry.fn) {
          entry.fn = undefined;
          this.#live--;
        }
      },
    };
  }

  /** Timers not yet fired or cancelled. */
  get pendingTimers(): number {
    return this.#live;
  }

  /** Due time of the earliest pending timer, if any. */
  nextDue(): number | undefined {
    this.#dropCancelledTop();
    return this.#heap[0]?.due;
  }

  /**
   * Moves time forward by `ms`, firing every timer that falls due on the way (including timers those
   * timers set), each with now() equal to its due time.
   */
  advance(ms: number): void {
    this.#advanceSync(ms);
  }

  /** As `advance`, but after each timer (and before the first) lets queued promise reactions run. */
  async advanceSettled(ms: number): Promise<void> {
    const target = this.#now + Math.max(0, ms);
    await settle();
    while (this.#fireNext(target)) await settle();
    this.#now = target;
  }

  /** Advances (settling) in steps of `stepMs` until `done()` or `maxMs` elapsed; the time it took, or undefined. */
  async runUntil(done: () => boolean, maxMs: number, stepMs = 100): Promise<number | undefined> {
    const start = this.#now;
    while (this.#now - start < maxMs) {
      if (done()) return this.#now - start;
      await this.advanceSettled(stepMs);
    }
    return done() ? this.#now - start : undefined;
  }

  /** Advances until no timer is pending or `maxMs` has passed; returns the time advanced. */
  runUntilIdle(maxMs: number): number {
    const start = this.#now;
    for (;;) {
      const due = this.nextDue();
      if (due === undefined || due > start + maxMs) break;
      this.#advanceSync(due - this.#now);
    }
    return this.#now - start;
  }

  #advanceSync(ms: number): void {
    const target = this.#now + Math.max(0, ms);
    while (this.#fireNext(target));
    this.#now = target;
  }

  /** Fires the earliest pending timer due by `target`; false when there is none. */
  #fireNext(target: number): boolean {
    this.#dropCancelledTop();
    const top = this.#heap[0];
    if (!top || top.due > target) return false;
    this.#pop();
    const fn = top.fn!;
    top.fn = undefined;
    this.#live--;
    this.#now = top.due;
    fn();
    return true;
  }

  #dropCancelledTop(): void {
    while (this.#heap.length > 0 && this.#heap[0]!.fn === undefined) this.#pop();
  }

  #less(a: Entry, b: Entry): boolean {
    return a.due < b.due || (a.due === b.due && a.seq < b.seq);
  }

  #push(e: Entry): void {
    const h = this.#heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.#less(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  #pop(): void {
    const h = this.#heap;
    const last = h.pop()!;
    if (h.length === 0) return;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && this.#less(h[l]!, h[m]!)) m = l;
      if (r < h.length && this.#less(h[r]!, h[m]!)) m = r;
      if (m === i) break;
      [h[i], h[m]] = [h[m]!, h[i]!];
      i = m;
    }
  }
}

/** Lets every queued promise reaction run (a macrotask boundary drains the microtask queue). */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
