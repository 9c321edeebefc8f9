// A deterministic clock for simulations: time moves only when the test advances it; timers fire in
// (time, creation) order, and after each one the promise chains it started run to completion before the
// next fires, so a run depends only on its seed.
import type { MembershipClock } from './membership.js';

interface SimTimer {
  readonly at: number;
  readonly seq: number;
  fn: (() => void) | undefined;
}

export class SimClock implements MembershipClock {
  #now = 0;
  #seq = 0;
  readonly #heap: SimTimer[] = [];
  readonly #wallBase: number;

  constructor(wallBase = 1_700_000_000_000) {
    this.#wallBase = wallBase;
  }

  now(): number {
    return this.#now;
  }

  wallNow(): number {
    return this.#wallBase + this.#now;
  }

  after(ms: number, fn: () => void): { cancel(): void } {
    const t: SimTimer = { at: this.#now + Math.max(0, ms), seq: this.#seq++, fn };
    this.#push(t);
    return { cancel: () => (t.fn = undefined) };
  }

  /** Timers not yet fired (cancelled ones included until they reach the top). */
  get pending(): number {
    return this.#heap.length;
  }

  /** Runs every timer due within `ms`, letting promise chains settle after each; then sets the time. */
  async advance(ms: number): Promise<void> {
    const until = this.#now + ms;
    await settle();
    for (;;) {
      const top = this.#heap[0];
      if (!top || top.at > until) break;
      this.#pop();
      if (!top.fn) continue;
      this.#now = top.at;
      const fn = top.fn;
      top.fn = undefined;
      fn();
      await settle();
    }
    this.#now = until;
  }

  /** Advances in steps of `stepMs` until `done()` or `maxMs` elapsed; returns the time it took, or undefined. */
  async runUntil(done: () => boolean, maxMs: number, stepMs = 100): Promise<number | undefined> {
    const start = this.#now;
    while (this.#now - start < maxMs) {
      if (done()) return this.#now - start;
      await this.advance(stepMs);
    }
    return done() ? this.#now - start : undefined;
  }

  #less(a: SimTimer, b: SimTimer): boolean {
    return a.at !== b.at ? a.at < b.at : a.seq < b.seq;
  }

  #push(t: SimTimer): void {
    const h = this.#heap;
    h.push(t);
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
