// The noise layer may not import metrics (layering), so it names its drop reasons itself; this keeps
// them a subset of the one metrics table, at compile time and at run time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dropReasons, type DropReason } from '../../src/metrics/table.js';
import { wgDropReasons, type WgDropReason } from '../../src/noise/actions.js';
import type { WireDropReason } from '../../src/wire/wireguard.js';

// Compile-time: both unions are assignable to DropReason.
const asDropReason = (r: WgDropReason | WireDropReason): DropReason => r;

test('every WgDevice drop reason is in the metrics drop-reason table', () => {
  for (const r of wgDropReasons) assert.ok(Object.hasOwn(dropReasons, asDropReason(r)), r);
});
