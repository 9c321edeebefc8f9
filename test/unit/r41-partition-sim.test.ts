// R41 in the membership simulation (fake clock): 4 nodes split into halves, then healed. A partition
// shorter than the tombstone time (max(60 s, 6 × failure timeout)) heals within the 20 s window, and so
// does a longer one: after the tombstones expire, the reconnect sync still goes out (failed nodes stay
// candidates for an hour) and #reconcile's push addresses the peer by its failed record (before that fix,
// the push was addressed through the live table, which no longer held the peer, and nothing was sent).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimCluster } from '../../src/membership/sim-cluster.js';

async function partitionAndHeal(partitionS: number): Promise<{ during: string[]; healedAfterS: number | undefined }> {
  const c = new SimCluster({ seed: 41, options: { probeIntervalMs: 500, failureTimeoutMs: 5000 } });
  const names = ['n1', 'n2', 'n3', 'n4'];
  names.forEach((n, i) => c.add(n, i + 1, { bootstrap: i === 0 ? [] : [SimCluster.urlOf(1)] }));
  await c.clock.advance(10_000);
  assert.ok(c.converged(), 'converged before the partition');
  c.net.partition([SimCluster.urlOf(1), SimCluster.urlOf(2)], [SimCluster.urlOf(3), SimCluster.urlOf(4)]);
  await c.clock.advance(partitionS * 1000);
  const during = names.map((n) => [...c.view(n)].sort().join(','));
  c.net.heal();
  for (let s = 1; s <= 30; s++) {
    await c.clock.advance(1000);
    if (c.converged()) {
      await Promise.all(names.map((n) => c.nodes.get(n)!.membership.stop()));
      return { during, healedAfterS: s };
    }
  }
  await Promise.all(names.map((n) => c.nodes.get(n)!.membership.stop()));
  return { during, healedAfterS: undefined };
}

test('R41 (sim): a 30 s partition into halves heals ≤ 20 s after the network does', async () => {
  const r = await partitionAndHeal(30);
  assert.deepEqual(r.during, ['n2', 'n1', 'n4', 'n3'], 'each half declared the other dead');
  assert.ok(r.healedAfterS !== undefined && r.healedAfterS <= 20, `healed after ${r.healedAfterS} s`);
});

test('R41 (sim): a 70 s partition (past the tombstone time) heals ≤ 20 s after the network does', async () => {
  const r = await partitionAndHeal(70);
  assert.ok(r.healedAfterS !== undefined && r.healedAfterS <= 20, `healed after ${r.healedAfterS} s`);
});
