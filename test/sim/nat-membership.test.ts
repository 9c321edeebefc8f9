// Membership with nodes behind a NAT (reach: 'outbound'): nobody can send to them, they send to everyone.
// In-memory network with a fake clock: a NATed node stays alive for as long as it runs, nobody wastes
// requests on it, and once it stops it is declared dead everywhere within failureTimeoutMs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimCluster } from '../../src/membership/sim-cluster.js';

const FAILURE_TIMEOUT_MS = 10_000;

/** p01..p08 public (p02..p08 through p01), nat1 and nat2 behind NATs joining through p02 / p03. */
function mixed(c: SimCluster, natFlag = true): void {
  c.add('p01', 1);
  for (let i = 2; i <= 8; i++) c.add(`p0${i}`, i, { bootstrap: [SimCluster.urlOf(1)] });
  c.add('nat1', 101, { bootstrap: [SimCluster.urlOf(2)], outboundOnly: natFlag });
  c.add('nat2', 102, { bootstrap: [SimCluster.urlOf(3)], outboundOnly: natFlag });
  if (!natFlag) {
    // The network still blocks them; only their records do not say so.
    c.net.behindNat(SimCluster.urlOf(101));
    c.net.behindNat(SimCluster.urlOf(102));
  }
}

test('nodes behind a NAT stay alive everywhere for 60 s, and nobody sends requests to them', async () => {
  const c = new SimCluster({ seed: 71 });
  mixed(c);
  assert.notEqual(await c.clock.runUntil(() => c.converged(), 30_000), undefined, 'did not converge');
  await c.clock.advance(60_000);
  assert.ok(c.converged(), 'still converged after 60 s');
  for (const n of c.running())
    assert.deepEqual(
      n.events.filter((e) => e.type === 'down').map((e) => e.id),
      [],
      `${n.name} saw a node go down`,
    );
  assert.equal(c.net.natBlocked.get(SimCluster.urlOf(101)) ?? 0, 0, 'requests sent to nat1');
  assert.equal(c.net.natBlocked.get(SimCluster.urlOf(102)) ?? 0, 0, 'requests sent to nat2');
  // Both NATed nodes know each other (through the public ones) and see each other's current record.
  const nat2 = c.nodes
    .get('nat2')!
    .membership.peers()
    .find((r) => r.id === 'nat1');
  assert.equal(nat2?.reach, 'outbound');
  await c.stopAll();
});

test('a node behind a NAT that stops is declared dead everywhere within failureTimeoutMs', async () => {
  const c = new SimCluster({ seed: 72, loss: 0.02 });
  mixed(c);
  assert.notEqual(await c.clock.runUntil(() => c.converged(), 30_000), undefined, 'did not converge');
  await c.clock.advance(20_000);
  const killedAt = c.clock.now();
  await c.kill('nat1');
  await c.clock.advance(FAILURE_TIMEOUT_MS);
  const took: number[] = [];
  for (const n of c.running()) {
    const downs = n.events.filter((e) => e.type === 'down');
    assert.deepEqual(
      downs.map((e) => e.id),
      ['nat1'],
      `${n.name} downs`,
    );
    assert.equal(downs[0]!.reason, 'failed');
    took.push(downs[0]!.at - killedAt);
    assert.ok(downs[0]!.at - killedAt <= FAILURE_TIMEOUT_MS, `${n.name} after ${downs[0]!.at - killedAt} ms`);
  }
  console.log(
    `# NATed node declared dead after ${Math.min(...took)}..${Math.max(...took)} ms (timeout ${FAILURE_TIMEOUT_MS})`,
  );
  // nat2 is unaffected.
  assert.ok(c.converged());
  await c.stopAll();
});

test('without reach: outbound in its record, members keep probing a node behind a NAT and suspect it', async () => {
  const c = new SimCluster({ seed: 73 });
  mixed(c, false);
  let suspected = 0;
  let downs = 0;
  for (let t = 0; t < 600; t++) {
    await c.clock.advance(100);
    for (const n of c.running())
      if (n.membership.members().find((m) => m.id === 'nat1')?.state === 'suspect') suspected++;
  }
  for (const n of c.running()) downs += n.events.filter((e) => e.type === 'down' && e.id === 'nat1').length;
  const blocked = c.net.natBlocked.get(SimCluster.urlOf(101)) ?? 0;
  console.log(
    `# without the flag, in 60 s: ${blocked} requests to nat1 timed out, ${suspected} node-samples held it suspect, ${downs} down events`,
  );
  assert.ok(blocked > 100, `requests to nat1: ${blocked}`);
  assert.ok(suspected > 0, 'nobody ever suspected nat1');
  await c.stopAll();
});
