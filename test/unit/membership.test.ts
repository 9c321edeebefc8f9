// Membership building blocks: merge rules of the member table, the address-conflict view, the broadcast
// queue, the bucket digest, bootstrap URL expansion and backoff, and the core's refutation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { trustingAuth } from '../helpers/record-keys.js';
import { silentLogger } from '../../src/base/log.js';
import { BroadcastQueue } from '../../src/membership/broadcast-queue.js';
import { backoffMs, expandBootstrapUrls, sameUrl } from '../../src/membership/bootstrap.js';
import { MembershipCore } from '../../src/membership/core.js';
import { BucketDigest } from '../../src/membership/digest.js';
import { parseGossipRequest, parseReply, type Update } from '../../src/membership/messages.js';
import { addressKey, type NodeRecord } from '../../src/membership/record.js';
import { seededRng } from '../../src/membership/rng.js';
import { MemberTable } from '../../src/membership/table.js';
import { deriveTiming, suspicionTimeoutMs } from '../../src/membership/timing.js';

const rec = (id: string, over: Partial<NodeRecord> = {}): NodeRecord => ({
  id,
  epoch: 100,
  version: 0,
  publicKey: 'k',
  addresses: [`198.19.0.${id.length}/16`],
  endpoints: [],
  apiUrl: `https://198.18.0.1:4567/${id}`,
  methods: ['wireguard'],
  routes: [],
  ...over,
});
const hooks = { log: silentLogger(), metrics: undefined, auth: trustingAuth };
const alive = (r: NodeRecord): Update => ({ t: 'alive', r });
const suspect = (id: string, epoch: number, version: number): Update => ({ t: 'suspect', id, epoch, version, by: 'x' });
const dead = (id: string, epoch: number, version: number): Update => ({
  t: 'dead',
  id,
  epoch,
  version,
  by: 'x',
  reason: 'failed',
});

test('table: newer incarnations replace older ones; same incarnation never clears suspect or dead', () => {
  const t = new MemberTable(rec('self', { addresses: ['198.19.1.1/16'] }), hooks);
  assert.ok(t.apply(0, alive(rec('b', { addresses: ['198.19.0.2/16'] })), 10));
  assert.deepEqual(
    t.flush().map((e) => e.type),
    ['up'],
  );
  assert.equal(t.apply(1, alive(rec('b', { addresses: ['198.19.0.2/16'] })), 10), false, 'same record is no news');
  assert.ok(t.apply(1, suspect('b', 100, 0), 10));
  assert.equal(t.get('b')!.state, 'suspect');
  assert.equal(
    t.apply(2, alive(rec('b', { addresses: ['198.19.0.2/16'] })), 10),
    false,
    'same incarnation keeps suspect',
  );
  assert.ok(t.apply(2, alive(rec('b', { version: 1, addresses: ['198.19.0.2/16'] })), 10), 'refutation');
  assert.equal(t.get('b')!.state, 'alive');
  assert.deepEqual(
    t.flush().map((e) => e.type),
    ['update'],
  );
  assert.equal(t.apply(3, suspect('b', 100, 0), 10), false, 'older suspicion is ignored');
  assert.ok(t.apply(3, dead('b', 100, 1), 10));
  assert.deepEqual(t.flush(), [{ type: 'down', id: 'b', reason: 'failed' }]);
  assert.equal(
    t.apply(4, alive(rec('b', { version: 1, addresses: ['198.19.0.2/16'] })), 10),
    false,
    'no resurrection by stale gossip',
  );
  assert.ok(
    t.apply(4, alive(rec('b', { epoch: 200, addresses: ['198.19.0.2/16'] })), 10),
    'a restart (higher epoch) wins',
  );
  assert.deepEqual(
    t.flush().map((e) => e.type),
    ['up'],
  );
  assert.equal(
    t.apply(5, alive(rec('b', { epoch: 150, version: 9 })), 10),
    false,
    'an older epoch loses whatever its version',
  );
});

test('table: tombstones expire; a dead update for an unknown node still keeps its old record out', () => {
  const t = new MemberTable(rec('self'), hooks);
  t.apply(0, dead('ghost', 100, 3), 10);
  assert.equal(t.apply(1, alive(rec('ghost', { version: 3 })), 10), false);
  assert.ok(t.apply(1, alive(rec('ghost', { version: 4 })), 10));
  t.apply(2, dead('ghost', 100, 4), 10);
  t.expireTombstones(1_000_000, 60_000, 3_600_000);
  assert.equal(t.get('ghost'), undefined);
  assert.equal(t.failed().size, 1, 'still a reconnect candidate');
  t.expireTombstones(10_000_000, 60_000, 3_600_000);
  assert.equal(t.failed().size, 0);
});

test('table: address conflicts are decided by (epoch, id) whatever the arrival order', () => {
  const a = rec('alpha', { epoch: 5, addresses: ['fd00::1/64'] });
  const b = rec('beta', { epoch: 5, addresses: ['fd00:0::1/128'] });
  const c = rec('gamma', { epoch: 4, addresses: ['fd00::0:1/64'] });
  const views: string[][] = [];
  for (const order of [
    [a, b, c],
    [c, b, a],
    [b, a, c],
    [b, c, a],
  ]) {
    const t = new MemberTable(rec('self', { addresses: ['198.19.9.9/16'] }), hooks);
    for (const r of order) t.apply(0, alive(r), 10);
    t.flush();
    views.push([...t.entries()].filter((e) => e.admitted).map((e) => e.id));
  }
  for (const v of views) assert.deepEqual(v, ['gamma']);
  // When the holder dies, the next in line gets the address.
  const t = new MemberTable(rec('self'), hooks);
  for (const r of [a, b, c]) t.apply(0, alive(r), 10);
  t.flush();
  t.apply(1, dead('gamma', 4, 0), 10);
  const events = t.flush();
  assert.deepEqual(
    events.map((e) => `${e.type}:${'id' in e ? e.id : e.record.id}`),
    ['up:alpha', 'down:gamma'],
  );
});

test('addressKey canonicalises IPv6 and ignores the prefix length', () => {
  assert.equal(addressKey('fd00:0:0::1/64'), 'fd00::1');
  assert.equal(addressKey('FD00::1'), 'fd00::1');
  assert.equal(addressKey('198.19.0.1/16'), '198.19.0.1');
});

test('broadcast queue: least-sent first, retired after the limit, newer replaces older, bounded', () => {
  const q = new BroadcastQueue(3);
  q.enqueue(alive(rec('a')));
  q.enqueue(alive(rec('b')));
  assert.deepEqual(
    q.take(1, 2).map((u) => (u.t === 'alive' ? u.r.id : u.id)),
    ['a'],
  );
  assert.deepEqual(
    q.take(1, 2).map((u) => (u.t === 'alive' ? u.r.id : u.id)),
    ['b'],
  );
  assert.equal(q.take(10, 2).length, 2);
  assert.equal(q.size, 0, 'both sent twice: retired');
  q.enqueue(alive(rec('a')));
  q.enqueue(dead('a', 100, 0));
  assert.equal(q.size, 1);
  assert.equal(q.take(5, 5)[0]!.t, 'dead');
  for (const id of ['p', 'q', 'r', 's']) q.enqueue(alive(rec(id)));
  assert.equal(q.size, 3);
  assert.equal(q.dropped, 2, 'the most-sent entries go first');
});

test('bucket digest: order-independent, XOR removal, differing buckets found', () => {
  const d1 = new BucketDigest();
  const d2 = new BucketDigest();
  d1.toggle('a', 1, 0);
  d1.toggle('b', 1, 0);
  d2.toggle('b', 1, 0);
  d2.toggle('a', 1, 0);
  assert.deepEqual(d1.buckets(), d2.buckets());
  d2.toggle('a', 1, 0);
  d2.toggle('a', 1, 1);
  assert.equal(d1.differing(d2.buckets()).size, 1);
  d2.toggle('a', 1, 1);
  d2.toggle('a', 1, 0);
  assert.equal(d1.differing(d2.buckets()).size, 0);
});

test('bootstrap: DNS names expand to every address, IPs stay, failures contribute nothing', async () => {
  const resolve = async (h: string): Promise<string[]> => {
    if (h === 'tunmesh.ns.svc') return ['198.18.0.5', 'fd00::5'];
    throw new Error('NXDOMAIN');
  };
  assert.deepEqual(
    await expandBootstrapUrls(
      [
        'https://tunmesh.ns.svc:4567',
        'https://198.18.0.9:4567/',
        'https://[fd00::9]:4567',
        'https://gone.example:1',
        'not a url',
      ],
      resolve,
    ),
    ['https://198.18.0.5:4567/', 'https://[fd00::5]:4567/', 'https://198.18.0.9:4567/', 'https://[fd00::9]:4567/'],
  );
  assert.ok(sameUrl('https://198.18.0.1:4567', 'https://198.18.0.1:4567/'));
  assert.ok(!sameUrl('https://198.18.0.1:4567', 'https://198.18.0.2:4567'));
});

test('bootstrap backoff doubles within [min, max] with jitter', () => {
  const rng = seededRng(1);
  const delays = Array.from({ length: 12 }, (_, i) => backoffMs(i, 500, 30_000, rng));
  for (const [i, d] of delays.entries()) {
    assert.ok(d >= 500 && d <= 30_000, `${i}: ${d}`);
    assert.ok(d <= Math.min(30_000, 500 * 2 ** i), `${i}: ${d}`);
  }
  assert.ok(delays[11]! >= 15_000);
});

test('timing: the suspicion timeout leaves room for detection and spreading within failureTimeoutMs', () => {
  const d = deriveTiming({ probeIntervalMs: 1000, failureTimeoutMs: 10_000, gossipFanout: 3, requestTimeoutMs: 2000 });
  for (const n of [2, 20, 3000]) {
    const s = suspicionTimeoutMs(d, n);
    assert.ok(s >= 1000 && s < 10_000 - 4 * 1000 - d.directTimeoutMs - d.indirectTimeoutMs, `${n}: ${s}`);
  }
  assert.ok(suspicionTimeoutMs(d, 3000) <= suspicionTimeoutMs(d, 20));
  const tight = deriveTiming({ probeIntervalMs: 50, failureTimeoutMs: 300, gossipFanout: 1, requestTimeoutMs: 400 });
  assert.equal(suspicionTimeoutMs(tight, 100), 50);
});

test('core: a node suspected or declared dead at its own incarnation refutes with a higher version', () => {
  const d = deriveTiming({ probeIntervalMs: 1000, failureTimeoutMs: 10_000, gossipFanout: 3, requestTimeoutMs: 2000 });
  const core = new MembershipCore(rec('me'), d, seededRng(3), 0, hooks);
  core.mergeJoinReply(0, { type: 'join-reply', self: rec('seed'), members: [] });
  const acts = core.handleRequest(1, 1, { type: 'gossip', from: 'seed', updates: [suspect('me', 100, 0)] }, 'seed');
  assert.equal(core.self.version, 1);
  const reply = acts.find((a) => a.kind === 'reply');
  assert.ok(reply && reply.kind === 'reply' && reply.reply.type === 'ack');
  const refutation =
    reply.reply.type === 'ack' ? reply.reply.updates.find((u) => u.t === 'alive' && u.r.id === 'me') : undefined;
  assert.ok(refutation, 'the ack carries the refutation');
  core.handleRequest(2, 2, { type: 'gossip', from: 'seed', updates: [dead('me', 100, 1)] }, 'seed');
  assert.equal(core.self.version, 2);
  core.handleRequest(3, 3, { type: 'gossip', from: 'seed', updates: [dead('me', 99, 50)] }, 'seed');
  assert.equal(core.self.version, 2, 'an older instance of us is not us');
});

test('wire decoders refuse bad input without throwing', () => {
  for (const bad of [
    null,
    1,
    'x',
    {},
    { type: 'ping' },
    { type: 'ping', from: 'a b', updates: [] },
    { type: 'ping', from: 'a', updates: new Array(65).fill(dead('x', 1, 1)) },
  ])
    assert.equal(parseGossipRequest(bad), undefined);
  assert.ok(parseGossipRequest({ type: 'ping', from: 'a', updates: [dead('x', 1, 1)] }));
  assert.equal(parseReply({ type: 'ack', from: 'a' }), undefined);
  assert.ok(parseReply({ type: 'sync-reply', from: 'a', buckets: [1], digest: [['x', 1, 2, 0]] }));
});
