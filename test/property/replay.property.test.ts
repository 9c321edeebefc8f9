// Properties of the TypeScript replay window beyond the model check, which both engines share in
// replay-window.compliance.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ReplayFilter, replayWindow } from '../../src/noise/replay.js';

test('window size is 8192 bits minus one 64-bit block (RFC 6479 / wireguard-go)', () => {
  assert.equal(replayWindow, 8128);
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
