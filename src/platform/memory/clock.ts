// A clock that moves only when told to. Timers fire in (due time, creation order), so a simulation run
// with the same inputs is the same run.
import type { Clock, Timer } from '../ports.js';

interface Entry {
  due: number;
  seq: number;
  fn: (() => void) | undefined; // undefined once cancelled or fired
}

export class FakeClock implements Clock {
  private nowMs: number;
  private readonly wallStartMs: number;
  private seq = 0;
  private live = 0;
  private readonly heap: Entry[] = [];

  constructor(opts: { startMs?: number; wallStartMs?: number } = {}) {
    this.nowMs = opts.startMs ?? 0;
    this.wallStartMs = opts.wallStartMs ?? Date.UTC(2030, 0, 1);
  }

  now(): number {
    return this.nowMs;
  }

  wallNow(): number {
    return this.wallStartMs + this.nowMs;
  }

  after(ms: number, fn: () => void): Timer {
    const entry: Entry = { due: this.nowMs + Math.max(0, ms), seq: this.seq++, fn };
    this.push(entry);
    this.live++;
    return {
      cancel: () => {
        if (entry.fn) {
          entry.fn = undefined;
          this.live--;
        }
      },
    };
  }

  /** Timers not yet fired or cancelled. */
  get pendingTimers(): number {
    return this.live;
  }

  /** Due time of the earliest pending timer, if any. */
  nextDue(): number | undefined {
    this.dropCancelledTop();
    return this.heap[0]?.due;
  }

  /**
   * Moves time forward by `ms`, firing every timer that falls due on the way (including timers those
   * timers set), each with now() equal to its due time.
   */
  advance(ms: number): void {
    const target = this.nowMs + Math.max(0, ms);
    for (;;) {
      this.dropCancelledTop();
      const top = this.heap[0];
      if (!top || top.due > target) break;
      this.pop();
      const fn = top.fn;
      top.fn = undefined;
      this.live--;
      this.nowMs = top.due;
      fn?.();
    }
    this.nowMs = target;
  }

  /** Advances until no timer is pending or `maxMs` has passed; returns the time advanced. */
  runUntilIdle(maxMs: number): number {
    const start = this.nowMs;
    for (;;) {
      const due = this.nextDue();
      if (due === undefined || due > start + maxMs) break;
      this.advance(due - this.nowMs);
    }
    return this.nowMs - start;
  }

  private dropCancelledTop(): void {
    while (this.heap.length > 0 && this.heap[0]!.fn === undefined) this.pop();
  }

  private less(a: Entry, b: Entry): boolean {
    return a.due < b.due || (a.due === b.due && a.seq < b.seq);
  }

  private push(e: Entry): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  private pop(): void {
    const h = this.heap;
    const last = h.pop()!;
    if (h.length === 0) return;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && this.less(h[l]!, h[m]!)) m = l;
      if (r < h.length && this.less(h[r]!, h[m]!)) m = r;
      if (m === i) break;
      [h[i], h[m]] = [h[m]!, h[i]!];
      i = m;
    }
  }
}
