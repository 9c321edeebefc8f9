// Join replies are a bounded random sample (a join storm must not cost a bootstrap node n records per
// join), and a node whose table changed through anti-entropy syncs again soon rather than syncIntervalMs later.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { trustingAuth } from '../helpers/record-keys.js';
import { silentLogger } from '../../src/base/log.js';
import { MembershipCore, type Action } from '../../src/membership/core.js';
import { limits, type JoinReply } from '../../src/membership/messages.js';
import type { NodeRecord } from '../../src/membership/record.js';
import { seededRng } from '../../src/membership/rng.js';
import { deriveTiming } from '../../src/membership/timing.js';

const timing = deriveTiming({
  probeIntervalMs: 1000,
  failureTimeoutMs: 10_000,
  gossipFanout: 3,
  requestTimeoutMs: 2000,
});

function record(i: number): NodeRecord {
  return {
    id: `n${i}`,
    epoch: 1,
    version: 0,
    publicKey: Buffer.alloc(32, i & 255).toString('base64'),
    addresses: [`198.19.${(i >> 8) & 255}.${i & 255}/16`],
    endpoints: [`198.18.${(i >> 8) & 255}.${i & 255}:51820`],
    apiUrl: `https://198.18.${(i >> 8) & 255}.${i & 255}:4567/`,
    methods: ['wireguard'],
    routes: [],
  };
}

const core = (i: number): MembershipCore =>
  new MembershipCore(record(i), timing, seededRng(i), 0, { log: silentLogger(), auth: trustingAuth });

function joinReply(actions: Action[]): JoinReply {
  const r = actions.find((a) => a.kind === 'reply');
  assert.ok(r && r.kind === 'reply' && r.reply.type === 'join-reply');
  return r.reply;
}

test(`a bootstrap node answers each join with at most ${limits.joinReplyRecords} records, a fresh sample`, () => {
  const boot = core(0);
  const total = limits.joinReplyRecords * 3;
  for (let i = 1; i <= total; i++) boot.handleRequest(10, i, { type: 'join', record: record(i) }, `n${i}`);
  assert.equal(boot.table.liveCount, total);
  const a = joinReply(boot.handleRequest(20, 9001, { type: 'join', record: record(9001) }, 'n9001'));
  const b = joinReply(boot.handleRequest(20, 9002, { type: 'join', record: record(9002) }, 'n9002'));
  assert.equal(a.members.length, limits.joinReplyRecords);
  assert.equal(b.members.length, limits.joinReplyRecords);
  assert.ok(!a.members.some((r) => r.id === 'n9001'), 'the joiner itself is not in its reply');
  assert.notDeepEqual(
    a.members.map((r) => r.id),
    b.members.map((r) => r.id),
    'two joiners should get different samples',
  );
  // A small mesh still answers with its whole state.
  const small = core(0);
  for (let i = 1; i <= 10; i++) small.handleRequest(10, i, { type: 'join', record: record(i) }, `n${i}`);
  assert.equal(joinReply(small.handleRequest(20, 99, { type: 'join', record: record(99) }, 'n99')).members.length, 10);
});

test('a joiner syncs right after the join reply, and again soon while anti-entropy teaches it something', () => {
  const joiner = core(1);
  const members = Array.from({ length: 5 }, (_, i) => record(i + 10));
  joiner.mergeJoinReply(100, { type: 'join-reply', self: record(2), members });
  assert.equal(joiner.nextWakeAt() <= 100, true, 'sync not scheduled at once');
  const sync = joiner.tick(100).find((a) => a.kind === 'send' && a.msg.type === 'sync');
  assert.ok(sync && sync.kind === 'send');
  // The peer differs in some buckets and holds records we lack: we want them, and sync again soon.
  const peerRecords = Array.from({ length: 20 }, (_, i) => record(i + 100));
  const digest = peerRecords.map((r) => [r.id, r.epoch, r.version, 0] as const);
  const buckets = Array.from({ length: limits.syncBuckets }, (_, i) => i);
  const push = joiner
    .handleReply(150, sync.token, { type: 'sync-reply', from: (sync.to as NodeRecord).id, buckets, digest })
    .find((a) => a.kind === 'send' && a.msg.type === 'push');
  assert.ok(push && push.kind === 'send' && push.msg.type === 'push');
  assert.equal(push.msg.want.length, 20);
  joiner.handleReply(200, push.token, {
    type: 'push-reply',
    from: (push.to as NodeRecord).id,
    updates: peerRecords.map((r) => ({ t: 'alive', r })),
  });
  assert.equal(joiner.table.liveCount, 1 + 5 + 20);
  const soon = 200 + timing.gossipIntervalMs;
  const kinds = joiner.tick(soon).flatMap((a) => (a.kind === 'send' ? [a.msg.type] : []));
  assert.ok(kinds.includes('sync'), `no sync within a gossip interval (sent: ${kinds.join(', ')})`);
});
