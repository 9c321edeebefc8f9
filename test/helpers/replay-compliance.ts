// One replay-window suite for every implementation (the TypeScript ReplayFilter, the native rx thread's
// window): a reference model — a set of accepted counters plus the window rule — against random counter
// sequences, and the window's edges. test/property/replay-window.compliance.test.ts runs it on both.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { replayWindow } from '../../src/noise/replay.js';

/** A replay window as the receive path uses it: check() before opening, validate() after the tag verified. */
export interface ReplayWindowImpl {
  check(counter: number, limit: number): boolean;
  /** check() and, when it passes, records the counter. */
  validate(counter: number, limit: number): boolean;
}

/**
 * The reference model: accept iff below the limit, not seen, and not more than `replayWindow` behind the
 * greatest accepted.
 */
export class ReplayModel {
  readonly seen = new Set<number>();
  last = 0;
  validate(c: number, limit: number): boolean {
    if (c >= limit || this.seen.has(c)) return false;
    if (c <= this.last && this.last - c > replayWindow) return false;
    this.seen.add(c);
    if (c > this.last) this.last = c;
    // Forget what fell out of the window (keeps the model small over long runs).
    if (this.seen.size > 4 * replayWindow)
      for (const s of this.seen) if (this.last - s > replayWindow) this.seen.delete(s);
    return true;
  }
}

export function replayWindowSuite(name: string, make: () => ReplayWindowImpl, skip: string | false): void {
  test(`${name}: agrees with the model on random counter sequences`, { skip }, () => {
    // Counters cluster around a moving base: in-window, just-out-of-window and far jumps.
    const step = fc.oneof(
      fc.integer({ min: -9000, max: 9000 }),
      fc.integer({ min: -70, max: 70 }),
      fc.constantFrom(replayWindow, replayWindow + 1, -replayWindow, -replayWindow - 1, 64 * 128, 1_000_000),
    );
    fc.assert(
      fc.property(
        fc.array(step, { minLength: 1, maxLength: 300 }),
        fc.integer({ min: 1, max: 2_000_000 }),
        (steps, limit) => {
          const w = make();
          const m = new ReplayModel();
          let base = 0;
          for (const s of steps) {
            const c = Math.max(0, base + s);
            base = Math.max(base, c);
            const checked = w.check(c, limit);
            const got = w.validate(c, limit);
            assert.equal(checked, got, `check/validate disagree at ${c}`);
            assert.equal(got, m.validate(c, limit), `counter ${c}`);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  test(
    `${name}: the window is ${replayWindow} counters behind the greatest accepted, and the limit is exclusive`,
    { skip },
    () => {
      const w = make();
      const top = 3 * replayWindow + 5;
      assert.equal(w.validate(top, Infinity), true);
      assert.equal(w.check(top - replayWindow, Infinity), true, 'the oldest counter inside the window');
      assert.equal(w.check(top - replayWindow - 1, Infinity), false, 'one past it');
      assert.equal(w.validate(top, Infinity), false, 'a replay');
      assert.equal(w.validate(top + 1, top + 1), false, 'at the limit');
      assert.equal(w.validate(top + 1, top + 2), true, 'below it');
    },
  );
}
