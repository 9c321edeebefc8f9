// In-memory, fake-clock, seeded simulations of the membership protocol.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import type { Logger } from '../../src/base/log.js';
import { Metrics } from '../../src/metrics/registry.js';
import { SimCluster, type SimNode } from '../../src/membership/sim-cluster.js';

const FAILURE_TIMEOUT_MS = 10_000;

/** 20 nodes: n1 first, n2 and n3 through n1, the rest through one of n1..n3. */
function twentyNodes(c: SimCluster): void {
  c.add('n01', 1);
  c.add('n02', 2, { bootstrap: [SimCluster.urlOf(1)] });
  c.add('n03', 3, { bootstrap: [SimCluster.urlOf(1), SimCluster.urlOf(2)] });
  for (let i = 4; i <= 20; i++) {
    const via = [SimCluster.urlOf(1 + (i % 3))];
    if (i % 4 === 0) via.unshift('https://198.18.200.1:4567/'); // a bootstrap URL nobody answers
    c.add(`n${String(i).padStart(2, '0')}`, i, { bootstrap: via });
  }
}

function allKnowRecordOf(c: SimCluster, owner: SimNode): boolean {
  const want = JSON.stringify(owner.membership.self());
  return c
    .running()
    .filter((n) => n !== owner)
    .every((n) => JSON.stringify(n.membership.peers().find((r) => r.id === owner.name)) === want);
}

function warnCollector(): { lines: Record<string, unknown>[]; logger: (name: string) => Logger } {
  const lines: Record<string, unknown>[] = [];
  return {
    lines,
    logger: (name) =>
      pino({ level: 'warn', base: { node: name } }, { write: (s: string) => void lines.push(JSON.parse(s)) }) as Logger,
  };
}

test('20 nodes joining through 1-3 bootstrap nodes converge to full membership', async () => {
  const c = new SimCluster({ seed: 11 });
  twentyNodes(c);
  const took = await c.clock.runUntil(() => c.converged(), 30_000);
  assert.notEqual(took, undefined, 'did not converge within 30 s of simulated time');
  for (const n of c.running()) assert.ok(allKnowRecordOf(c, n), `not everyone has the current record of ${n.name}`);
  // It stays converged, with no node ever reported down.
  await c.clock.advance(30_000);
  assert.ok(c.converged());
  for (const n of c.running())
    assert.deepEqual(
      n.events.filter((e) => e.type === 'down'),
      [],
      n.name,
    );
  await c.stopAll();
});

for (const mode of ['timeout', 'refused'] as const) {
  test(`kill 2 (${mode}) → every survivor drops both within failureTimeoutMs`, async () => {
    const c = new SimCluster({ seed: 22 });
    twentyNodes(c);
    assert.notEqual(await c.clock.runUntil(() => c.converged(), 30_000), undefined);
    await c.clock.advance(5_000);
    const killedAt = c.clock.now();
    await c.kill('n05', mode);
    await c.kill('n17', mode);
    await c.clock.advance(FAILURE_TIMEOUT_MS);
    for (const n of c.running()) {
      const downs = n.events.filter((e) => e.type === 'down');
      assert.deepEqual(downs.map((e) => e.id).sort(), ['n05', 'n17'], `${n.name} downs`);
      for (const d of downs) {
        assert.equal(d.reason, 'failed');
        assert.ok(d.at - killedAt <= FAILURE_TIMEOUT_MS, `${n.name} dropped ${d.id} after ${d.at - killedAt} ms`);
      }
      const states = new Map(n.membership.members().map((m) => [m.id, m.state]));
      assert.equal(states.get('n05'), 'dead');
      assert.equal(states.get('n17'), 'dead');
    }
    assert.ok(c.converged());
    await c.stopAll();
  });
}

test('a restarted node (new epoch, new public key) replaces its old record everywhere', async () => {
  const c = new SimCluster({ seed: 33 });
  twentyNodes(c);
  assert.notEqual(await c.clock.runUntil(() => c.converged(), 30_000), undefined);
  const old = c.nodes.get('n07')!;
  await c.kill('n07');
  await c.clock.advance(3_000); // back before anyone has declared it dead
  const newKey = c.randomKey();
  const fresh = c.add('n07', 7, { bootstrap: [SimCluster.urlOf(2)], publicKey: newKey });
  assert.ok(fresh.record.epoch > old.record.epoch);
  const took = await c.clock.runUntil(() => allKnowRecordOf(c, fresh), 10_000);
  assert.notEqual(took, undefined, 'the new record did not reach everyone');
  for (const n of c.running()) {
    if (n === fresh) continue;
    const r = n.membership.peers().find((p) => p.id === 'n07')!;
    assert.equal(r.publicKey, newKey);
    assert.equal(r.epoch, fresh.record.epoch);
  }
  // Later gossip about the old instance never brings it back.
  await c.clock.advance(20_000);
  assert.ok(allKnowRecordOf(c, fresh));
  assert.ok(c.converged());
  await c.stopAll();
});

test('an overlay address claimed by a second node is refused on every node, with a warning and a metric', async () => {
  const warn = warnCollector();
  const metrics = new Map<string, Metrics>();
  const c = new SimCluster({
    seed: 44,
    logger: warn.logger,
    metrics: (name) => {
      const m = new Metrics();
      metrics.set(name, m);
      return m;
    },
  });
  twentyNodes(c);
  assert.notEqual(await c.clock.runUntil(() => c.converged(), 30_000), undefined);
  await c.clock.advance(1_000);
  // "intruder" claims n03's address (written differently: same host, other prefix length).
  c.add('intruder', 50, { bootstrap: [SimCluster.urlOf(9)], addresses: ['198.19.0.3/32'] });
  await c.clock.advance(15_000);
  for (const n of c.running()) {
    if (n.name === 'intruder') continue;
    assert.ok(!c.view(n.name).has('intruder'), `${n.name} admitted the intruder`);
    assert.ok(c.view(n.name).has('n03') || n.name === 'n03', `${n.name} lost n03`);
    assert.equal(await metrics.get(n.name)!.value('address_conflicts_total'), 1, `${n.name} metric`);
    const line = warn.lines.find((l) => l.node === n.name && l.refused === 'intruder');
    assert.ok(line, `${n.name} logged no warning`);
    assert.equal(line.address, '198.19.0.3');
    assert.equal(line.holder, 'n03');
    assert.match(String(line.msg), /198\.19\.0\.3.*intruder.*n03/);
  }
  // The intruder itself agrees that n03 keeps the address, and says so.
  assert.ok(c.view('intruder').has('n03'));
  assert.ok(warn.lines.some((l) => l.node === 'intruder' && l.refused === 'intruder'));
  await c.stopAll();
});

test('two nodes claiming one address at the same epoch: the lower id keeps it on every node', async () => {
  const c = new SimCluster({ seed: 55 });
  twentyNodes(c);
  assert.notEqual(await c.clock.runUntil(() => c.converged(), 30_000), undefined);
  const epoch = c.clock.wallNow();
  const addresses = ['198.19.9.9/16'];
  // They arrive from opposite sides, so nodes learn them in different orders.
  c.add('twin-b', 61, { bootstrap: [SimCluster.urlOf(4)], addresses, epoch });
  c.add('twin-a', 60, { bootstrap: [SimCluster.urlOf(15)], addresses, epoch });
  await c.clock.advance(15_000);
  for (const n of c.running()) {
    if (n.name.startsWith('twin')) continue;
    assert.ok(c.view(n.name).has('twin-a'), `${n.name} lacks twin-a`);
    assert.ok(!c.view(n.name).has('twin-b'), `${n.name} admitted twin-b`);
  }
  assert.ok(c.view('twin-b').has('twin-a'));
  assert.ok(!c.view('twin-a').has('twin-b'));
  await c.stopAll();
});

test('a partition long enough for both halves to declare the other dead heals when the network does', async () => {
  const c = new SimCluster({ seed: 66 });
  twentyNodes(c);
  assert.notEqual(await c.clock.runUntil(() => c.converged(), 30_000), undefined);
  const names = [...c.nodes.keys()];
  const left = names.slice(0, 10);
  const right = names.slice(10);
  c.net.partition(
    left.map((n) => c.nodes.get(n)!.url),
    right.map((n) => c.nodes.get(n)!.url),
  );
  await c.clock.advance(40_000);
  for (const n of left) assert.deepEqual([...c.view(n)].sort(), left.filter((x) => x !== n).sort(), n);
  for (const n of right) assert.deepEqual([...c.view(n)].sort(), right.filter((x) => x !== n).sort(), n);
  c.net.heal();
  const took = await c.clock.runUntil(() => c.converged(), 120_000);
  assert.notEqual(took, undefined, 'the halves did not merge');
  await c.stopAll();
});

test('a node that leaves gracefully is dropped everywhere as left, well before failure detection', async () => {
  const c = new SimCluster({ seed: 88 });
  twentyNodes(c);
  assert.notEqual(await c.clock.runUntil(() => c.converged(), 30_000), undefined);
  const n = c.nodes.get('n12')!;
  const stopped = n.membership.stop({ leave: true });
  await c.clock.advance(50);
  await stopped;
  n.alive = false;
  c.net.down(n.url);
  const leftAt = c.clock.now();
  const took = await c.clock.runUntil(() => c.running().every((m) => !c.view(m.name).has('n12')), 10_000, 50);
  assert.notEqual(took, undefined);
  assert.ok(took! < 3_000, `took ${took} ms`);
  for (const m of c.running()) {
    const d = m.events.find((e) => e.type === 'down' && e.id === 'n12');
    assert.equal(d?.reason, 'left', m.name);
    assert.ok(d.at >= leftAt - 50);
  }
  await c.stopAll();
});

async function scenario(seed: number): Promise<string> {
  const c = new SimCluster({ seed, loss: 0.02 });
  twentyNodes(c);
  await c.clock.advance(10_000);
  await c.kill('n08');
  await c.clock.advance(12_000);
  const log = [...c.nodes.values()].map(
    (n) => `${n.name}:${n.events.map((e) => `${e.at}/${e.type}/${e.id}`).join(',')}`,
  );
  await c.stopAll();
  return log.join('\n');
}

test('same seed → same run', async () => {
  const a = await scenario(77);
  const b = await scenario(77);
  assert.equal(a, b);
  assert.notEqual(await scenario(78), a, 'a different seed should give a different run');
});
