// Crypto-key routing exists twice — src/dataplane/allowed-ips.ts (a trie) and fp::Routes
// (native/src/fastpath_routes.h, a hash map per prefix length) on the native threads — and both must give
// the same answers: the same suite runs on each. The native half is skipped (and says so) when the addon is
// not built.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AllowedIps } from '../../src/dataplane/allowed-ips.js';
import { loadFastPath } from '../../src/dataplane/native-addon.js';
import { allowedIpsSuite } from '../helpers/allowed-ips-compliance.js';

const addon = loadFastPath();
const noAddon = addon === undefined && 'native addon not built (run npm install)';

allowedIpsSuite(
  'TypeScript AllowedIps',
  () => {
    const t = new AllowedIps<number>();
    return {
      insert: (addr, prefixLength, value) => t.insert({ addr, prefixLength }, value),
      removeValue: (value) => t.removeValue(value),
      lookup: (addr) => t.lookup(addr),
      size: () => t.entries().length,
    };
  },
  false,
);

allowedIpsSuite(
  'native fp::Routes',
  () => {
    const t = new addon!.PrefixTable();
    return {
      insert: (addr, prefixLength, value) => t.insert(addr, prefixLength, value),
      removeValue: (value) => t.removePeer(value),
      lookup: (addr) => t.lookup(addr),
      size: () => t.size(),
    };
  },
  noAddon,
);

test('native PrefixTable refuses malformed addresses, prefix lengths and peers', { skip: noAddon }, () => {
  const t = new addon!.PrefixTable();
  const v4 = Uint8Array.of(198, 19, 0, 1);
  assert.throws(() => t.insert(new Uint8Array(5), 8, 1), TypeError);
  assert.throws(() => t.insert(v4, 33, 1), TypeError);
  assert.throws(() => t.insert(v4, -1, 1), TypeError);
  assert.throws(() => t.insert(v4, 32, 2 ** 32), TypeError);
  assert.throws(() => t.insert(Array.from(v4) as unknown as Uint8Array, 32, 1), TypeError);
  assert.throws(() => t.lookup(new Uint8Array(3)), TypeError);
  assert.throws(() => t.removePeer(-1), TypeError);
  assert.equal(t.size(), 0, 'nothing was inserted');
  t.insert(v4, 32, 7);
  assert.equal(t.lookup(v4), 7);
  assert.equal(t.lookup(new Uint8Array(16)), undefined);
});
