// The replay window exists twice — src/noise/replay.ts for the JS engine and the slow path, fp::Replay
// (native/src/fastpath.h) on the native rx thread — and both must follow one rule: the same suite runs
// on each. The native half is skipped (and says so) when the addon is not built.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReplayFilter } from '../../src/noise/replay.js';
import { loadFastPath } from '../../src/dataplane/native-addon.js';
import { replayWindowSuite } from '../helpers/replay-compliance.js';

const addon = loadFastPath();
const noAddon = addon === undefined && 'native addon not built (run npm install)';

replayWindowSuite('TypeScript ReplayFilter', () => new ReplayFilter(), false);

replayWindowSuite(
  'native fp::Replay',
  () => {
    const w = new addon!.ReplayWindow();
    return {
      check: (c, limit) => w.check(c, limit),
      // As the rx thread: Check before opening, Mark once the tag verified.
      validate: (c, limit) => {
        if (!w.check(c, limit)) return false;
        w.mark(c);
        return true;
      },
    };
  },
  noAddon,
);

test('native ReplayWindow refuses counters that are not safe non-negative integers', { skip: noAddon }, () => {
  const w = new addon!.ReplayWindow();
  for (const bad of [-1, 1.5, NaN, Infinity, 2 ** 53, '7' as unknown as number]) {
    assert.throws(() => w.check(bad, 10), TypeError, String(bad));
    assert.throws(() => w.mark(bad), TypeError, String(bad));
  }
  assert.throws(() => w.check(1, -1), TypeError);
  assert.equal(w.check(1, Infinity), true, 'Infinity is no limit');
});
