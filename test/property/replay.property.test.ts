// The replay window against a reference model: a Set of accepted counters plus the window rule
// (accept iff below the limit, not seen, and not more than `replayWindow` behind the greatest accepted).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ReplayFilter, replayWindow } from '../../src/noise/replay.js';

class Model {
  seen = new Set<number>();
  last = 0;
  validate(c: number, limit: number): boolean {
    if (c >= limit || this.seen.has(c)) return false;
    if (c <= this.last && this.last - c > replayWindow) return false;
    this.seen.add(c);
    if (c > this.last) this.last = c;
    return true;
  }
}

test('window size is 8192 bits minus one 64-bit block (RFC 6479 / wireguard-go)', () => {
  assert.equal(replayWindow, 8128);
});

test('ReplayFilter agrees with the model on random counter sequences', () => {
  // Counters cluster around a moving base so we exercise in-window, just-out-of-window and far jumps.
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
        const f = new ReplayFilter();
        const m = new Model();
        let base = 0;
        for (const s of steps) {
          const c = Math.max(0, base + s);
          base = Math.max(base, c);
          const checked = f.check(c, limit);
          const got = f.validate(c, limit);
          assert.equal(checked, got, `check/validate disagree at ${c}`);
          assert.equal(got, m.validate(c, limit), `counter ${c}`);
        }
      },
    ),
    { numRuns: 300 },
  );
});

test('a rejected counter never changes the window', () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: 20_000 }), { maxLength: 200 }), (cs) => {
      const f = new ReplayFilter();
      for (const c of cs) {
        const before = f.describe();
        if (!f.validate(c, 15_000)) assert.deepEqual(f.describe(), before);
      }
    }),
    { numRuns: 200 },
  );
});

test('counters at and beyond the limit, and non-safe integers, are refused', () => {
  const f = new ReplayFilter();
  assert.equal(f.validate(9, 10), true);
  assert.equal(f.validate(10, 10), false);
  assert.equal(f.validate(Number.MAX_SAFE_INTEGER + 1, Infinity), false);
  assert.equal(f.validate(-1, 10), false);
  assert.equal(f.validate(Number.MAX_SAFE_INTEGER, Infinity), true);
});
