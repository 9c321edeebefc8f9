// A node that left gracefully is usually restarting. A seed (no bootstrap URLs) that restarts has nobody to
// tell, and everyone buried it: members sync with a departed node at 1, 2, 4… sync intervals after it left
// (departed.ts), so it is found again — the soak found a restarted seed cut off for minutes without this.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimCluster } from '../../src/membership/sim-cluster.js';
import { departedDue, departedTriesPerRound } from '../../src/membership/departed.js';
import type { NodeRecord } from '../../src/membership/record.js';

test('a seed that left and restarted (same key, new epoch) is found again within two sync intervals', async () => {
  const c = new SimCluster({ seed: 7, options: { probeIntervalMs: 1000, failureTimeoutMs: 6000 } });
  const names = ['n1', 'n2', 'n3', 'n4'];
  // n1 is the seed: it bootstraps from nobody.
  names.forEach((n, i) => c.add(n, i + 1, { bootstrap: i === 0 ? [] : [SimCluster.urlOf(1)] }));
  await c.clock.advance(10_000);
  assert.ok(c.converged(), 'converged at start');
  const old = c.nodes.get('n1')!;
  // The leave waits for its gossip (bounded by the request timeout) on the simulated clock.
  const stopping = old.membership.stop({ leave: true });
  await c.clock.advance(1000);
  await stopping;
  for (const n of ['n2', 'n3', 'n4']) assert.ok(!c.view(n).has('n1'), `${n} buried n1 (it left)`);
  c.add('n1', 1, { bootstrap: [], publicKey: old.record.publicKey });
  let foundAfterS: number | undefined;
  for (let s = 1; s <= 30 && foundAfterS === undefined; s++) {
    await c.clock.advance(1000);
    if (c.converged()) foundAfterS = s;
  }
  await c.stopAll();
  // Sync interval 5 s: the first round falls 5 s after the leave (4 s after the restart), the second 10 s.
  assert.ok(foundAfterS !== undefined && foundAfterS <= 10, `found again after ${foundAfterS} s`);
});

test('departedDue: rounds at 1, 2, 4… intervals after the leave, about 3 members each, none after a round passed', () => {
  const record = { id: 'x' } as NodeRecord;
  const departed = new Map([['x', { record, at: 0 }]]);
  const members = Array.from({ length: 300 }, (_, i) => `m${i}`);
  const triers = (from: number, to: number) =>
    members.filter((m) => departedDue(m, departed, members.length, from, to, 5000).length > 0).length;
  assert.equal(triers(0, 4999), 0, 'nothing before the first round');
  const rounds = [5000, 10_000, 20_000, 40_000].map((t) => triers(t - 1, t));
  for (const n of rounds) assert.ok(n >= 1 && n <= 4 * departedTriesPerRound, `${n} members tried in a round`);
  assert.equal(triers(10_001, 19_999), 0, 'nothing between rounds');
  // In a small mesh every member tries.
  assert.equal(departedDue('m1', departed, 3, 4999, 5000, 5000).length, 1);
});
